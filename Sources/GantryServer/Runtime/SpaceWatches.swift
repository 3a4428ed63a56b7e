import Foundation
import GantryStorage
import KubeClient
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// Shares the spaces out between the deployer replicas and keeps a watch-fed `SpaceCache` for each space this replica
/// holds (docs/api.md §6, "Watching clusters"). Every `round` seconds it renews its leases through
/// `SpaceLeaseRepository.balance` (so a replica that dies loses its spaces to the others once `leaseFor` passes), starts
/// caches for spaces it gained or whose namespaces changed, stops those it lost, and remakes a cache that has been
/// failing for a while with fresh credentials (a minted cloud token may have expired under a long watch).
final class SpaceWatches: Service, Sendable {
    struct Running: Sendable {
        var cache: SpaceCache
        var task: Task<Void, Never>
    }

    let runtime: any RuntimeRepository
    let leases: any SpaceLeaseRepository
    let connector: ClusterConnector
    let changes: ClusterChanges
    let owner: String
    let round: Duration
    let leaseFor: TimeInterval
    /// A cache unhealthy for this long is made again from fresh credentials.
    let remakeAfter: Duration
    let watchTimeoutSeconds: Int
    let clock: @Sendable () -> Date
    let ready: AsyncLatch
    let metrics: WatchMetrics
    let logger: Logger
    /// At most 8 LISTs at once over every cache (a cold start on 500 clusters is 1,500 of them).
    let listGate = ListGate(permits: 8)
    let running = Mutex<[String: Running]>([:])
    /// The spaces this replica holds after the last round, with their namespaces as that round read them; empty before
    /// the first.
    let held = Mutex<[SyncSpace: Set<String>]>([:])
    /// Spaces whose cache was unhealthy at the last round, for logging a change of health once.
    let unhealthy = Mutex<Set<String>>([])

    init(runtime: any RuntimeRepository, leases: any SpaceLeaseRepository, connector: ClusterConnector, changes: ClusterChanges,
         round: Duration = .seconds(5), leaseFor: TimeInterval = 15, remakeAfter: Duration = .seconds(30), watchTimeoutSeconds: Int = 300,
         clock: @escaping @Sendable () -> Date = { Date() }, ready: AsyncLatch, metrics: PrometheusCollectorRegistry?, logger: Logger) {
        self.runtime = runtime
        self.leases = leases
        self.connector = connector
        self.changes = changes
        self.owner = leaseOwner("watch")
        self.round = round
        self.leaseFor = leaseFor
        self.remakeAfter = remakeAfter
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.clock = clock
        self.ready = ready
        self.metrics = WatchMetrics(registry: metrics)
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.ready.wait()
            await withDiscardingTaskGroup { group in
                // `/metrics` each second: a cache turns healthy within a second of its lists, not at the next round. The
                // counts, which walk every watch of every cache, each fifth second.
                group.addTask {
                    var second = 0
                    while !Task.isCancelled {
                        self.report(counting: second % 5 == 0)
                        second += 1
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                while !Task.isCancelled {
                    do {
                        try await self.balance()
                    } catch {
                        self.logger.warning("space watches could not renew their leases", metadata: ["error": "\(String(describing: type(of: error)))"])
                    }
                    try? await Task.sleep(for: self.round)
                }
                group.cancelAll()
            }
        }
        stopAll()
        try? await leases.release(owner: owner)
    }

    /// One round: leases renewed and balanced, caches started and stopped to match.
    func balance() async throws {
        let spaces = try await runtime.syncSpaceNamespaces()
        let byID = Dictionary(spaces.keys.map { ($0.spaceID, $0) }) { first, _ in first }
        let mine = try await leases.balance(owner: owner, wanted: Set(byID.keys), now: clock(), leaseFor: leaseFor)
        let stale = running.withLock { running -> [Running] in
            var stale: [Running] = []
            for (spaceID, entry) in running {
                let lost = !mine.contains(spaceID) || byID[spaceID].flatMap { spaces[$0] } != entry.cache.namespaces
                // Waiting for its first lists is not failing; failing for a while is.
                let failing = entry.cache.problem != nil && ContinuousClock.now - entry.cache.started > remakeAfter
                if lost || failing {
                    stale.append(entry)
                    running[spaceID] = nil
                }
            }
            return stale
        }
        for entry in stale {
            entry.task.cancel()
            if !mine.contains(entry.cache.space.spaceID) { metrics.forget(space: entry.cache.space.spaceID) }
        }
        for spaceID in mine.sorted() where running.withLock({ $0[spaceID] == nil }) {
            guard let space = byID[spaceID], let namespaces = spaces[space] else { continue }
            await start(space, namespaces: namespaces)
        }
        // Status sync takes a space up once its cache is started, so it waits for the cache's lists instead of listing too.
        held.withLock { $0 = spaces.filter { mine.contains($0.key.spaceID) } }
    }

    func start(_ space: SyncSpace, namespaces: Set<String>) async {
        let client: KubernetesClient, name: String
        do {
            (client, name) = try await connector.client(forSpace: space.spaceID, org: space.organizationID)
        } catch {
            // Status sync polls the space meanwhile and reports why it cannot; the next round tries again.
            return
        }
        let changes = self.changes
        let cache = SpaceCache(space: space, spaceName: name, namespaces: namespaces, client: client, watchTimeoutSeconds: watchTimeoutSeconds, listGate: listGate,
                               onChange: { space, namespaces in changes.note(space, namespaces: namespaces) }, logger: logger)
        let task = Task { await cache.run() }
        running.withLock { $0[space.spaceID] = Running(cache: cache, task: task) }
    }

    func stopAll() {
        let all = running.withLock { running in
            defer { running = [:] }
            return Array(running.values)
        }
        for entry in all { entry.task.cancel() }
    }

    /// The space's cache when this replica watches it and every watch is listed and current; nil means read the cluster.
    func cache(forSpace spaceID: String) -> SpaceCache? {
        guard case .healthy(let cache) = watch(ofSpace: spaceID) else { return nil }
        return cache
    }

    enum Watch {
        case healthy(SpaceCache)
        /// Listing (or waiting its turn to), with no failure yet.
        case starting
        /// Not watched here, or its watches fail: read the cluster.
        case broken
    }

    func watch(ofSpace spaceID: String) -> Watch {
        guard let cache = running.withLock({ $0[spaceID]?.cache }) else { return .broken }
        if cache.isHealthy { return .healthy(cache) }
        return cache.problem == nil ? .starting : .broken
    }

    /// The spaces status sync on this replica owns, with their namespaces: none until the first round has started their
    /// caches. Status sync reads them here rather than from the catalog again: a round every few seconds has just read them.
    func heldSpaces() -> [SyncSpace: Set<String>] {
        held.withLock { $0 }
    }

    func report(counting: Bool = true) {
        let caches = running.withLock { $0.values.map(\.cache) }
        metrics.leased.set(Int64(held.withLock(\.count)) as Int64)
        for cache in caches {
            let spaceID = cache.space.spaceID
            let healthy = cache.isHealthy
            metrics.update(space: spaceID, healthy: healthy, figures: counting ? cache.figures : nil)
            let changed = unhealthy.withLock { set -> Bool in
                healthy ? set.remove(spaceID) != nil : set.insert(spaceID).inserted
            }
            guard changed else { continue }
            if healthy {
                logger.info("watching the space's cluster", metadata: ["space_id": "\(spaceID)", "objects": "\(cache.figures.objects)"])
            } else if let problem = cache.problem {
                logger.warning("the space's watches are broken; status sync lists its cluster meanwhile",
                               metadata: ["space_id": "\(spaceID)", "reason": "\(problem)"])
            }
        }
    }
}
