import Foundation
import Logging
import NIOCore
import Synchronization

/// A cache of one collection kept current by LIST then WATCH, like client-go's reflector and store.
///
/// `run()` lists the collection, replaces the store with what it read, and watches from the list's
/// resourceVersion, applying each change as it comes. A watch the server ends (its timeout) is resumed
/// from the last resourceVersion seen, without a LIST; only a 410 Expired (the cluster no longer has the
/// history to resume from) or a failure lists again. Failures back off exponentially with jitter; the store
/// keeps its last contents meanwhile (readers see stale data, not none) and `state` says `.failing`.
///
/// Reads (`items(in:)`, `allItems()`, …) take a lock and may come from any task. `onChange` is called on the
/// task running `run()`, after the store has changed and outside its lock: it must be quick and must not wait
/// on the reflector.
public final class Reflector<Item: KubeDecodable & Sendable>: Sendable {
    public enum State: Sendable, Equatable {
        case starting
        case synced
        case failing(String)
    }

    let client: KubernetesClient
    let path: String
    let query: [(String, String)]
    let key: @Sendable (Item) -> String?
    let namespace: @Sendable (Item) -> String?
    let onChange: @Sendable (_ namespaces: Set<String>) -> Void
    let minimumBackoff: Duration
    let maximumBackoff: Duration
    let watchTimeoutSeconds: Int
    let listGate: ListGate?
    let logger: Logger
    let store = Mutex(Store())

    /// - key: identifies an item in the store (e.g. "namespace/name"); nil leaves the item out (a filter).
    /// - namespace: the item's namespace, for `items(in:)` and change notices; nil (cluster-scoped) counts as "".
    /// - onChange: the namespaces whose items appeared, changed or went, after each LIST and each applied event.
    /// - listGate: shared by reflectors that should not all list at once.
    public init(client: KubernetesClient, path: String, query: [(String, String)] = [],
                key: @escaping @Sendable (Item) -> String?,
                namespace: @escaping @Sendable (Item) -> String?,
                onChange: @escaping @Sendable (_ namespaces: Set<String>) -> Void = { _ in },
                listGate: ListGate? = nil, minimumBackoff: Duration = .milliseconds(500), maximumBackoff: Duration = .seconds(30),
                watchTimeoutSeconds: Int = 300, logger: Logger) {
        self.client = client
        self.path = path
        self.query = query
        self.key = key
        self.namespace = namespace
        self.onChange = onChange
        self.minimumBackoff = minimumBackoff
        self.maximumBackoff = max(maximumBackoff, minimumBackoff)
        self.watchTimeoutSeconds = max(watchTimeoutSeconds, 1)
        self.listGate = listGate
        self.logger = logger
    }

    // MARK: - Reading

    public var state: State { store.withLock { $0.state } }

    public func items(in namespace: String) -> [Item] {
        store.withLock { store in store.contents.byNamespace[namespace].map { Array($0.values) } ?? [] }
    }

    public func allItems() -> [Item] {
        store.withLock { store in store.contents.byNamespace.values.flatMap(\.values) }
    }

    public var count: Int { store.withLock { $0.contents.locations.count } }

    /// Watch events applied (bookmarks not counted) since the reflector started.
    public var eventsReceived: Int { store.withLock { $0.eventsReceived } }

    /// LIST calls made (the first, re-lists, and failed attempts), for metrics and tests.
    public var lists: Int { store.withLock { $0.lists } }

    public var lastEventAt: ContinuousClock.Instant? { store.withLock { $0.lastEventAt } }

    /// `count`, `eventsReceived` and `lists` read together, under one lock (metrics read them for every reflector).
    public var figures: Figures {
        store.withLock { Figures(objects: $0.contents.locations.count, events: $0.eventsReceived, lists: $0.lists) }
    }

    /// Returns once the store has been filled from a LIST at least once, or when the calling task is cancelled.
    public func waitUntilSynced() async {
        let waiter = store.withLock { store in
            store.nextWaiter += 1
            return store.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = store.withLock { store in
                    if store.hasSynced || Task.isCancelled { return true }
                    store.syncWaiters[waiter] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            store.withLock { $0.syncWaiters.removeValue(forKey: waiter) }?.resume()
        }
    }

    // MARK: - Running

    /// Lists and watches until the calling task is cancelled. Call it once; the cache is its task's alone to write.
    public func run() async {
        var backoff = Backoff(minimum: minimumBackoff, maximum: maximumBackoff)
        // nil: the store must be (re)filled from a LIST before watching.
        var resourceVersion: String?
        while !Task.isCancelled {
            var listed = false
            var progress: WatchProgress?
            do throws(KubeError) {
                if resourceVersion == nil {
                    resourceVersion = try await relist()
                    listed = true
                }
                progress = WatchProgress(resourceVersion: resourceVersion!)
                try await watchOnce(&progress!)
                if Task.isCancelled { return }
                // A watch that closes at once with nothing in it would otherwise be reopened in a tight loop.
                guard progress!.events > 0 || ContinuousClock.now - progress!.startedAt >= .seconds(1) else {
                    throw KubeError.server(status: 200, reason: nil, message: "the watch on \(path) closed at once")
                }
                resourceVersion = progress!.resourceVersion
                backoff.reset()
            } catch where error.isExpired {
                if Task.isCancelled { return }
                // The cluster no longer has the changes after our version: list again. A watch from a LIST's own
                // version should never expire before its first event; if it does, pause rather than list in a loop.
                logger.debug("the watch's resourceVersion expired; listing again", metadata: ["path": "\(path)"])
                resourceVersion = nil
                if listed, (progress?.events ?? 0) == 0 {
                    if !(await pause(backoff.next())) { return }
                } else {
                    backoff.reset()
                }
            } catch {
                if Task.isCancelled { return }
                let message = error.summary
                logger.info("watching the cluster failed; listing again after a pause", metadata: ["path": "\(path)", "error": "\(message)"])
                store.withLock { $0.state = .failing(message) }
                resourceVersion = nil
                if !(await pause(backoff.next())) { return }
            }
        }
    }

    /// Sleeps; false when the task was cancelled meanwhile.
    func pause(_ duration: Duration) async -> Bool {
        do {
            try await Task.sleep(for: duration)
            return true
        } catch {
            return false
        }
    }

    /// Replaces the store with a fresh LIST and returns the list's resourceVersion.
    func relist() async throws(KubeError) -> String {
        let list = { () async throws(KubeError) -> KubeListSnapshot<Tracked<Item>> in
            self.store.withLock { $0.lists += 1 }
            return try await self.client.listSnapshot(self.path, query: self.query, of: Tracked<Item>.self, deadline: .now() + .seconds(30))
        }
        let snapshot = if let listGate { try await listGate.withPermit(list) } else { try await list() }
        var fresh = Store.Contents()
        for tracked in snapshot.items {
            guard let key = key(tracked.item) else { continue }
            fresh.insert(tracked, key: key, namespace: namespace(tracked.item) ?? "")
        }
        let (changed, waiters) = store.withLock { store in
            let changed = store.contents.namespacesDiffering(from: fresh)
            store.contents = fresh
            store.state = .synced
            store.hasSynced = true
            let waiters = Array(store.syncWaiters.values)
            store.syncWaiters.removeAll()
            return (changed, waiters)
        }
        // Notices first: a caller woken by waitUntilSynced finds them delivered.
        if !changed.isEmpty { onChange(changed) }
        for waiter in waiters { waiter.resume() }
        return snapshot.resourceVersion
    }

    /// What one watch got through: where to resume, and whether it delivered anything.
    struct WatchProgress {
        var resourceVersion: String
        var events = 0
        let startedAt = ContinuousClock.now
    }

    /// Applies one watch's events until the server ends it; throws when it fails.
    func watchOnce(_ progress: inout WatchProgress) async throws(KubeError) {
        // Spread reconnects of many reflectors over time, as client-go does.
        let timeout = watchTimeoutSeconds + Int.random(in: 0...max(watchTimeoutSeconds / 4, 0))
        let events = client.watch(path, query: query, resourceVersion: progress.resourceVersion, timeoutSeconds: timeout, of: Tracked<Item>.self)
        do {
            for try await event in events {
                progress.events += 1
                if !event.resourceVersion.isEmpty { progress.resourceVersion = event.resourceVersion }
                guard event.kind != .bookmark, let tracked = event.object else { continue }
                apply(event.kind, tracked)
            }
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError.unreachable("the watch on \(path) failed (\(String(describing: type(of: error))))")
        }
    }

    func apply(_ kind: WatchEvent<Tracked<Item>>.Kind, _ tracked: Tracked<Item>) {
        let key = kind == .deleted ? nil : key(tracked.item)
        let itemNamespace = namespace(tracked.item) ?? ""
        let changed: Set<String> = store.withLock { store in
            store.eventsReceived += 1
            store.lastEventAt = .now
            // An item the key leaves out now (say, a label changed) goes like a deleted one.
            var changed = store.contents.remove(identity: tracked.identity)
            if let key {
                store.contents.insert(tracked, key: key, namespace: itemNamespace)
                changed.insert(itemNamespace)
            }
            return changed
        }
        if !changed.isEmpty { onChange(changed) }
    }
}

extension Reflector {
    /// The store and the counters, behind one lock.
    struct Store {
        /// Items by namespace then key, and where each object (by namespace/name) is kept.
        struct Contents {
            struct Location: Equatable {
                var namespace: String
                var key: String
                var resourceVersion: String
            }

            var byNamespace: [String: [String: Item]] = [:]
            /// By the object's own namespace/name, which the key need not be: a deleted object or one the key
            /// now leaves out is found by it.
            var locations: [String: Location] = [:]

            mutating func insert(_ tracked: Tracked<Item>, key: String, namespace: String) {
                if let previous = locations[tracked.identity] { _ = remove(identity: tracked.identity, previous) }
                byNamespace[namespace, default: [:]][key] = tracked.item
                locations[tracked.identity] = Location(namespace: namespace, key: key, resourceVersion: tracked.resourceVersion)
            }

            /// Removes the object; the namespace it was in, if it was kept.
            mutating func remove(identity: String) -> Set<String> {
                guard let location = locations[identity] else { return [] }
                return remove(identity: identity, location)
            }

            private mutating func remove(identity: String, _ location: Location) -> Set<String> {
                locations[identity] = nil
                byNamespace[location.namespace]?[location.key] = nil
                if byNamespace[location.namespace]?.isEmpty == true { byNamespace[location.namespace] = nil }
                return [location.namespace]
            }

            /// The namespaces where `other` holds other objects or other versions of them.
            func namespacesDiffering(from other: Contents) -> Set<String> {
                var changed: Set<String> = []
                for (identity, location) in locations where other.locations[identity] != location { changed.insert(location.namespace) }
                for (identity, location) in other.locations where locations[identity] != location { changed.insert(location.namespace) }
                return changed
            }
        }

        var contents = Contents()
        var state = State.starting
        var hasSynced = false
        var syncWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
        var eventsReceived = 0
        var lists = 0
        var lastEventAt: ContinuousClock.Instant?
    }

    /// Exponential backoff from `minimum` to `maximum`, each wait drawn from [d/2, d] (never under `minimum`) so that reflectors
    /// failing together do not retry together.
    struct Backoff {
        let minimum: Duration
        let maximum: Duration
        var current: Duration

        init(minimum: Duration, maximum: Duration) {
            self.minimum = minimum
            self.maximum = maximum
            current = minimum
        }

        mutating func next() -> Duration {
            let wait = max(minimum, current * Double.random(in: 0.5...1.0))
            current = min(maximum, current * 2)
            return wait
        }

        mutating func reset() { current = minimum }
    }
}

/// An item with what the store needs to track it whatever the caller's key says: the object's namespace/name
/// and resourceVersion (to tell a changed object from the same one in a new LIST).
struct Tracked<Item: KubeDecodable & Sendable>: KubeDecodable, Sendable {
    var item: Item
    var identity: String
    var resourceVersion: String

    init(json: JSONView) throws(JSONError) {
        item = try Item(json: json)
        let metadata = try json.child("metadata")
        let name: String = try metadata?.decodeIfPresent("name") ?? ""
        let namespace: String = try metadata?.decodeIfPresent("namespace") ?? ""
        identity = namespace + "/" + name
        resourceVersion = try metadata?.decodeIfPresent("resourceVersion") ?? ""
    }
}

/// What a reflector holds and has done, for metrics; figures of several reflectors add up.
public struct Figures: Sendable, Equatable {
    public var objects = 0
    public var events = 0
    public var lists = 0

    public init(objects: Int = 0, events: Int = 0, lists: Int = 0) {
        self.objects = objects
        self.events = events
        self.lists = lists
    }

    public static func + (lhs: Figures, rhs: Figures) -> Figures {
        Figures(objects: lhs.objects + rhs.objects, events: lhs.events + rhs.events, lists: lhs.lists + rhs.lists)
    }
}

/// Bounds how many reflectors list at once: a deployer starting on 500 clusters lists a few at a time instead of
/// holding 1,500 answers in memory together and timing them out on a busy API server. First come, first served; a
/// cancelled waiter leaves the queue.
public final class ListGate: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    public init(permits: Int) {
        state = Mutex(State(available: max(permits, 1)))
    }

    public func withPermit<T>(_ body: () async throws(KubeError) -> T) async throws(KubeError) -> T {
        guard await acquire() else { throw KubeError.timeout }
        defer { release() }
        return try await body()
    }

    /// True once a permit is held; false when the task was cancelled while waiting.
    private func acquire() async -> Bool {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool? in
                    if Task.isCancelled { return false }
                    if state.available > 0 {
                        state.available -= 1
                        return true
                    }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: false)
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume(returning: true)
    }
}
