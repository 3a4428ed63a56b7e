import Foundation

/// Cluster access per key (one per cluster credential), reused until `refreshMargin` before it expires.
///
/// Concurrent requests for a key that is missing or stale share one mint: cloud token endpoints rate-limit,
/// and a burst of deploys to one cluster should cost one token, not one each. A failed mint is not cached;
/// the next request tries again.
public actor TokenCache<Key: Hashable & Sendable> {
    private enum Entry {
        case ready(ClusterAccess)
        case minting(id: UInt64, task: Task<ClusterAccess, any Error>)
    }

    /// How long before `expiresAt` an access stops being served, so a request never leaves with a token
    /// that expires on its way to the cluster.
    public let refreshMargin: TimeInterval
    private let clock: @Sendable () -> Date
    private var entries: [Key: Entry] = [:]
    private var nextMintID: UInt64 = 0

    public init(refreshMargin: TimeInterval = 60, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.refreshMargin = refreshMargin
        self.clock = clock
    }

    /// The cached access for `key`, or the result of `mint` (shared with every concurrent caller).
    ///
    /// The mint runs in its own task: a caller that is cancelled stops waiting, but the mint goes on for the others.
    public func access(for key: Key, mint: @escaping @Sendable () async throws -> ClusterAccess) async throws -> ClusterAccess {
        switch entries[key] {
        case let .ready(access) where clock() < access.expiresAt.addingTimeInterval(-refreshMargin):
            return access
        case let .minting(_, task):
            return try await task.value
        case .ready, nil:
            nextMintID += 1
            let id = nextMintID
            let task = Task { try await mint() }
            entries[key] = .minting(id: id, task: task)
            do {
                let access = try await task.value
                finish(key, id: id, with: access)
                return access
            } catch {
                finish(key, id: id, with: nil)
                throw error
            }
        }
    }

    /// Forgets `key`, e.g. after the cluster refused its token.
    public func invalidate(_ key: Key) {
        entries[key] = nil
    }

    /// Records a mint's outcome unless the entry was invalidated or replaced while it ran.
    private func finish(_ key: Key, id: UInt64, with access: ClusterAccess?) {
        guard case let .minting(current, _) = entries[key], current == id else { return }
        entries[key] = access.map(Entry.ready)
    }
}
