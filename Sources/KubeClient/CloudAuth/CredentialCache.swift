import Foundation

/// A credential that stops working at a known time: cluster access, a registry login.
public protocol ExpiringCredential: Sendable {
    var expiresAt: Date { get }
}

extension ClusterAccess: ExpiringCredential {}
extension RegistryLogin: ExpiringCredential {}

/// Cluster access per key (one per cluster credential).
public typealias TokenCache<Key: Hashable & Sendable> = CredentialCache<Key, ClusterAccess>
/// Registry logins per key (one per integration and the account credentials they came from).
public typealias RegistryLoginCache<Key: Hashable & Sendable> = CredentialCache<Key, RegistryLogin>

/// Credentials per key, reused until `refreshMargin` before they expire.
///
/// Concurrent requests for a key that is missing or stale share one mint: cloud token endpoints rate-limit,
/// and a burst of deploys to one cluster should cost one token, not one each. A failed mint is not cached;
/// the next request tries again.
public actor CredentialCache<Key: Hashable & Sendable, Value: ExpiringCredential> {
    private enum Entry {
        case ready(Value)
        case minting(id: UInt64, task: Task<Value, any Error>)
    }

    /// How long before `expiresAt` a credential stops being served, so a request never leaves with one that
    /// expires on its way (or, for a pull secret, soon after it is written).
    public let refreshMargin: TimeInterval
    private let clock: @Sendable () -> Date
    private var entries: [Key: Entry] = [:]
    private var nextMintID: UInt64 = 0

    public init(refreshMargin: TimeInterval = 60, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.refreshMargin = refreshMargin
        self.clock = clock
    }

    /// The cached credential for `key`, or the result of `mint` (shared with every concurrent caller).
    ///
    /// The mint runs in its own task: a caller that is cancelled stops waiting, but the mint goes on for the others.
    public func value(for key: Key, mint: @escaping @Sendable () async throws -> Value) async throws -> Value {
        switch entries[key] {
        case let .ready(value) where clock() < value.expiresAt.addingTimeInterval(-refreshMargin):
            return value
        case let .minting(_, task):
            return try await task.value
        case .ready, nil:
            nextMintID += 1
            let id = nextMintID
            let task = Task { try await mint() }
            entries[key] = .minting(id: id, task: task)
            do {
                let value = try await task.value
                finish(key, id: id, with: value)
                return value
            } catch {
                finish(key, id: id, with: nil)
                throw error
            }
        }
    }

    /// Forgets `key`, e.g. after the cluster or registry refused its credential.
    public func invalidate(_ key: Key) {
        entries[key] = nil
    }

    /// Records a mint's outcome unless the entry was invalidated or replaced while it ran.
    private func finish(_ key: Key, id: UInt64, with value: Value?) {
        guard case let .minting(current, _) = entries[key], current == id else { return }
        entries[key] = value.map(Entry.ready)
    }
}

extension CredentialCache where Value == ClusterAccess {
    public func access(for key: Key, mint: @escaping @Sendable () async throws -> ClusterAccess) async throws -> ClusterAccess {
        try await value(for: key, mint: mint)
    }
}

extension CredentialCache where Value == RegistryLogin {
    public func login(for key: Key, mint: @escaping @Sendable () async throws -> RegistryLogin) async throws -> RegistryLogin {
        try await value(for: key, mint: mint)
    }
}
