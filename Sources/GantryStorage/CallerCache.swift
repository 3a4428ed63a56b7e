import GantryCore
import SQLKit
import Synchronization

/// Callers resolved from tokens, kept between requests so that authenticating costs no query.
///
/// Entries are dropped whenever access may have changed: at once for a change made through this process
/// (`accessTransaction`), at once for a change made by another replica sharing PostgreSQL (a trigger
/// NOTIFYs, `PostgresBackend` LISTENs), and after `lifetime` at the latest, which bounds what cannot be
/// signalled: a second process writing the same SQLite file. While PostgreSQL's listener is not
/// connected the cache is bypassed (`isTrusted` is false), so a lost notification never keeps a revoked
/// token alive. Only successful lookups are kept: unknown tokens always reach the database.
public final class CallerCache: Sendable {
    struct Entry: Sendable {
        var caller: Caller
        var tokenExpiresAt: Int64?
        var loadedAt: Int64
        var lastUsedAt: Int64
    }

    struct State {
        var entries: [String: Entry] = [:]
        /// Bumped by every invalidation: a lookup that started before one must not store what it read.
        var generation: UInt64 = 0
        var isTrusted: Bool
    }

    /// Microseconds an entry is served before the database is asked again.
    public let lifetime: Int64
    let capacity: Int
    private let state: Mutex<State>

    public init(lifetime: Int64 = 5_000_000, capacity: Int = 10_000, trusted: Bool) {
        self.lifetime = lifetime
        self.capacity = capacity
        state = Mutex(State(isTrusted: trusted))
    }

    /// The caller a token hash resolved to, if it was resolved less than `lifetime` ago and has not expired.
    func lookup(_ hash: String, now: Int64) -> Entry? {
        state.withLock { state in
            guard state.isTrusted, let entry = state.entries[hash] else { return nil }
            if now - entry.loadedAt >= lifetime || entry.tokenExpiresAt.map({ $0 <= now }) == true {
                state.entries[hash] = nil
                return nil
            }
            return entry
        }
    }

    /// The generation to hand back to `store` after reading the database.
    func generation() -> UInt64 { state.withLock { $0.generation } }

    /// Keeps `entry` unless access changed since `generation` was taken (the read may predate the change).
    func store(_ hash: String, _ entry: Entry, readAt generation: UInt64) {
        state.withLock { state in
            guard state.isTrusted, state.generation == generation else { return }
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[hash] = entry
        }
    }

    func markUsed(_ hash: String, at now: Int64) {
        state.withLock { $0.entries[hash]?.lastUsedAt = now }
    }

    /// Drops every entry: some token, user, role or assignment changed.
    public func invalidateAll() {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
        }
    }

    /// Whether entries may be served at all; dropping trust also drops every entry.
    public func setTrusted(_ trusted: Bool) {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
            state.isTrusted = trusted
        }
    }

    public var isTrusted: Bool { state.withLock { $0.isTrusted } }
    public var count: Int { state.withLock { $0.entries.count } }
}

extension Database {
    /// A transaction that may change who can do what (tokens, users, roles, assignments): this process's
    /// cached callers are dropped once it has ended, committed or not.
    func accessTransaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        defer { callers.invalidateAll() }
        return try await transaction(work)
    }
}
