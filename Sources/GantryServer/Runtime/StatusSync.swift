import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Keeps every catalog deployment's `status` and `lastDeployedAt` in step with the Kubernetes Deployment of
/// the same name in its environment's namespace (docs/api.md §6).
///
/// A space this replica watches (`SpaceWatches`) is read from its cache: a namespace is synced when its watch reports a
/// change (at once, not at the next pass), when its catalog digest changed, or while a rollout in it is under way; a
/// pass makes no cluster call for it. Any other space — watches off, not yet listed, or broken — is polled: one LIST of
/// each namespace's Deployments per pass, spaces a few at a time, a space that fails retried with exponential backoff and
/// its failure logged when it starts and when it ends, not on every pass. With watches on, a replica syncs only the
/// spaces it holds the lease of, so two deployers never sync one space twice.
final class StatusSync: Service, Sendable {
    struct SpaceKey: Hashable, Sendable { var org: String; var space: String }
    struct Backoff: Sendable { var failures: Int; var retryAt: ContinuousClock.Instant }

    let runtime: any RuntimeRepository
    let connector: ClusterConnector
    let watches: SpaceWatches?
    let interval: Duration
    let maximumBackoff: Duration
    let concurrentSpaces: Int
    /// Seconds a new pod may wait in an image-pull or crash loop before its revision fails.
    let rolloutFailureAfter: TimeInterval
    let logger: Logger
    /// Opens once migrations have run: the first pass must not read tables that do not exist yet.
    let ready: AsyncLatch
    let backoff = Mutex<[SpaceKey: Backoff]>([:])
    /// Per watched space, each namespace's catalog digest at the last pass.
    let digests = Mutex<[SpaceKey: [String: String]]>([:])
    /// Per watched space, the namespaces with a rollout under way: synced on every pass, since a rollout can fail by time alone.
    let hot = Mutex<[SpaceKey: Set<String>]>([:])

    init(runtime: any RuntimeRepository, connector: ClusterConnector, watches: SpaceWatches? = nil, interval: Duration,
         maximumBackoff: Duration = .seconds(900), concurrentSpaces: Int = 4, rolloutFailureAfter: TimeInterval = 120,
         ready: AsyncLatch, logger: Logger) {
        self.rolloutFailureAfter = rolloutFailureAfter
        self.ready = ready
        self.runtime = runtime
        self.connector = connector
        self.watches = watches
        self.interval = interval
        self.maximumBackoff = maximumBackoff
        self.concurrentSpaces = concurrentSpaces
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.ready.wait()
            var nextPass = ContinuousClock.now
            while !Task.isCancelled {
                if ContinuousClock.now >= nextPass {
                    do {
                        try await self.syncOnce()
                    } catch {
                        self.logger.warning("status sync could not read the catalog", metadata: ["error": "\(String(describing: type(of: error)))"])
                    }
                    nextPass = .now + self.interval
                } else {
                    await self.syncChanges()
                }
                if let changes = self.watches?.changes {
                    await changes.wait(upTo: nextPass - .now)
                } else {
                    try? await Task.sleep(until: nextPass)
                }
            }
        }
    }

    /// One pass over every space whose backoff has elapsed (and, with watches, that this replica holds).
    func syncOnce(now: ContinuousClock.Instant = .now) async throws {
        let changed = watches?.changes.take().changes ?? [:]
        // With watches, the spaces this replica holds as their last round read them; else every space with work.
        let spaces = if let watches { watches.heldSpaces() } else { try await runtime.syncSpaceNamespaces() }
        let due = spaces
            .map { space, namespaces in (SpaceKey(org: space.organizationID, space: space.spaceID), space, namespaces.sorted()) }
            .filter { key, _, _ in backoff.withLock { $0[key].map { $0.retryAt <= now } ?? true } }
        await forEach(due) { key, space, namespaces in
            switch self.watches?.watch(ofSpace: key.space) {
            case .healthy(let cache):
                await self.syncWatched(key, cache: cache, changed: changed[space] ?? [])
            case .starting:
                // Its first lists are under way and will report every namespace: listing it here too would double a
                // cold start's work.
                break
            case .broken, nil:
                await self.sync(key, namespaces: namespaces, now: now)
            }
        }
    }

    /// The namespaces the watches reported since the last look, on the spaces whose caches are healthy.
    func syncChanges() async {
        guard let watches else { return }
        let (changed, since) = watches.changes.take()
        let work = changed.compactMap { space, namespaces -> (SpaceKey, SpaceCache, Set<String>)? in
            guard let cache = watches.cache(forSpace: space.spaceID) else { return nil }
            return (SpaceKey(org: space.organizationID, space: space.spaceID), cache, namespaces)
        }
        guard !work.isEmpty else { return }
        await forEach(work) { key, cache, namespaces in
            await self.syncWatched(key, cache: cache, changed: namespaces)
        }
        if let since { watches.metrics.lag.set(Double((ContinuousClock.now - since) / .milliseconds(1)) / 1000) }
    }

    func forEach<Item: Sendable>(_ items: [Item], _ body: @escaping @Sendable (Item) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for item in items {
                if running >= concurrentSpaces { await group.next(); running -= 1 }
                group.addTask { await body(item) }
                running += 1
            }
        }
    }

    /// A watched space: only what changed (in the cluster or the catalog) or has a rollout under way is read again.
    /// The catalog digests are read with every batch, so the next pass compares the catalog with what this one saw.
    func syncWatched(_ key: SpaceKey, cache: SpaceCache, changed: Set<String>) async {
        var namespaces = changed.union(hot.withLock { $0[key] ?? [] })
        do {
            let current = try await runtime.syncNamespaceDigests(space: key.space, org: key.org)
            let previous = digests.withLock { digests in
                defer { digests[key] = current }
                return digests[key]
            }
            // Without earlier digests every namespace is read: at a cold start the cache's first lists reported them
            // all in this same batch anyway, so nothing is read twice.
            if let previous {
                for (namespace, digest) in current where previous[namespace] != digest { namespaces.insert(namespace) }
            } else {
                namespaces.formUnion(current.keys)
            }
            let cached = CachedClusterState(cache: cache, budget: .seconds(10))
            // A namespace the cache does not cover yet (its environment's first deployment) is listed until the cache is
            // made again with it, at the watches' next round.
            let listed = PollingClusterState(client: cache.client, budget: .seconds(10), counter: watches?.metrics.lists)
            // A batch that covers much of the space (a cold start, a wide change) reads its deployments in one query.
            let known: [String: [SyncTarget]]? = namespaces.count > 1 && namespaces.count * 4 >= current.count
                ? Dictionary(grouping: try await runtime.syncTargets(space: key.space, org: key.org, namespace: nil), by: \.namespace)
                : nil
            var stillHot: Set<String> = []
            // The space's statuses in one transaction: a cold start writes 500 transactions for 50,000 deployments, not 10,000.
            var observed: [ObservedStatus] = []
            for namespace in namespaces.sorted() {
                let state: any ClusterStateReader = cache.namespaces.contains(namespace) ? cached : listed
                if try await syncNamespace(key, namespace: namespace, targets: known.map { $0[namespace] ?? [] }, state: state,
                                           space: cache.spaceName, observed: &observed) {
                    stillHot.insert(namespace)
                }
            }
            try await runtime.recordObserved(observed)
            let underway = hot.withLock { hot in
                hot[key] = (hot[key] ?? []).subtracting(namespaces).union(stillHot)
                return hot[key]!
            }
            // The deploy timeline of a rollout under way reads its namespace's Events from the cache.
            cache.watchEvents(in: underway)
        } catch {
            // The catalog could not be read or written: forget the digests so the next pass reads every namespace again.
            digests.withLock { $0[key] = nil }
            logger.warning("status sync could not read the catalog", metadata: ["space_id": "\(key.space)", "error": "\(String(describing: type(of: error)))"])
        }
    }

    /// Compares one namespace's catalog deployments with the cluster's: adds the statuses that differ to `observed`
    /// (the caller writes them, a namespace or a space at a time) and records drift and rollouts. Returns whether a
    /// rollout in it is still under way.
    /// - targets: the namespace's deployments when the caller read them with others; nil reads them.
    func syncNamespace(_ key: SpaceKey, namespace: String, targets known: [SyncTarget]? = nil, state: any ClusterStateReader, space: String,
                       observed: inout [ObservedStatus]) async throws -> Bool {
        let targets: [SyncTarget]
        if let known { targets = known } else { targets = try await runtime.syncTargets(space: key.space, org: key.org, namespace: namespace) }
        guard !targets.isEmpty else { return false }
        let live: [KubeRollout]
        do {
            live = try await state.deployments(in: namespace)
        } catch {
            throw ClusterConnector.appError(error, space: space)
        }
        let byName = Dictionary(live.map { ($0.metadata.name, $0) }) { first, _ in first }
        // Most deployments look the same pass after pass: those cost no write.
        observed += targets.compactMap { target -> ObservedStatus? in
            let observation = Self.observe(byName[target.name]?.deployment)
            let newRevision = observation.completedRevision.map { $0 != target.observedRevision } ?? false
            guard observation.status != target.status || newRevision else { return nil }
            return ObservedStatus(target, status: observation.status, revision: observation.completedRevision, deployedAt: newRevision ? Date() : nil)
        }
        var pods: [KubePodState]?
        var underway = false
        for target in targets {
            let rollout = byName[target.name]
            guard let rollout, let spec = target.revisionSpec, let number = target.currentRevision,
                  rollout.metadata.annotations?[Manifests.revisionAnnotation] == String(number) else { continue }
            try await trackDrift(target, live: rollout, spec: spec)
            guard target.revisionStatus == .applied else { continue }
            underway = true
            if pods == nil {
                do { pods = try await state.pods(in: namespace) } catch { throw ClusterConnector.appError(error, space: space) }
            }
            try await trackRollout(target, live: rollout, pods: pods ?? [], revision: number)
        }
        return underway
    }

    /// A space read from its cluster: one LIST of Deployments per namespace (and of pods where a rollout is under way).
    func sync(_ key: SpaceKey, namespaces: [String], now: ContinuousClock.Instant) async {
        do {
            let (client, space) = try await connector.client(forSpace: key.space, org: key.org)
            let state = PollingClusterState(client: client, budget: .seconds(10), counter: watches?.metrics.lists)
            for namespace in namespaces {
                var observed: [ObservedStatus] = []
                _ = try await syncNamespace(key, namespace: namespace, state: state, space: space, observed: &observed)
                try await runtime.recordObserved(observed)
            }
            let recovered = backoff.withLock { $0.removeValue(forKey: key) != nil }
            if recovered { logger.info("status sync reaches the space again", metadata: ["space_id": "\(key.space)"]) }
        } catch {
            // A deployer shutting down cancels its calls: that says nothing about the cluster.
            if Task.isCancelled { return }
            await markUnknown(key)
            let failures = backoff.withLock { state -> Int in
                let failures = (state[key]?.failures ?? 0) + 1
                let delay = min(maximumBackoff, interval * (1 << min(failures, 16)))
                state[key] = Backoff(failures: failures, retryAt: now + delay)
                return failures
            }
            if failures == 1 {
                let message = (error as? AppError)?.message ?? "the catalog could not be read"
                logger.warning("status sync cannot reach a space; backing off", metadata: ["space_id": "\(key.space)", "reason": "\(message)"])
            }
        }
    }

    /// Credentials refused or cluster unreachable: the truth is unknown until the space answers again.
    /// The whole space in one read and one transaction.
    func markUnknown(_ key: SpaceKey) async {
        let targets = (try? await runtime.syncTargets(space: key.space, org: key.org, namespace: nil)) ?? []
        _ = try? await runtime.recordObserved(targets.filter { $0.status != .unknown }.map {
            ObservedStatus($0, status: .unknown, revision: nil, deployedAt: nil)
        })
    }

    /// docs/api.md §6's mapping, and the revision whose rollout is complete (for `lastDeployedAt`).
    static func observe(_ deployment: KubeDeployment?) -> (status: DeploymentStatus, completedRevision: String?) {
        guard let deployment else { return (.pending, nil) }
        let revision = deployment.metadata.annotations?["deployment.kubernetes.io/revision"]
        switch DeploymentHealth(deployment) {
        case .scaledToZero: return (.stopped, nil)
        case .failed: return (.failed, nil)
        case .running: return (.running, revision)
        case .degraded: return (.degraded, revision)
        case .inProgress: return (.deploying, nil)
        }
    }

    // MARK: - Revisions (docs/api.md §7)

    /// Waiting reasons that mean the new pods will not start by themselves.
    static let troubleReasons: Set<String> = ["ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError"]

    /// Ends the current revision when its rollout completes or fails; a pod stuck in an image-pull or crash loop
    /// fails it after `rolloutFailureAfter`, naming the reason and the container's message.
    func trackRollout(_ target: SyncTarget, live: KubeRollout, pods: [KubePodState], revision: Int) async throws {
        switch DeploymentHealth(live.deployment) {
        case .running where live.deployment.rolloutFinished, .scaledToZero:
            try await runtime.recordRollout(target, succeeded: true, message: nil, now: Date())
            return
        case .running:
            break
        case .failed:
            let conditions = live.status?.conditions ?? []
            let reason = conditions.first { $0.type == "ReplicaFailure" && $0.status == "True" }.map { _ in "ReplicaFailure" } ?? "ProgressDeadlineExceeded"
            let message = reason == "ReplicaFailure"
                ? "ReplicaFailure: the cluster could not create the new pods (quota, admission or security policy); see the events."
                : "ProgressDeadlineExceeded: the new pods did not become available within the Deployment's progress deadline."
            try await runtime.recordRollout(target, succeeded: false, message: message, now: Date())
            return
        case .degraded, .inProgress:
            break
        }
        let trouble = pods
            .filter { $0.metadata.labels?[Manifests.deploymentIDLabel] == target.deploymentID
                && $0.metadata.labels?[Manifests.revisionAnnotation] == String(revision) }
            .flatMap(\.waiting)
            .first { Self.troubleReasons.contains($0.reason) }
        guard let trouble else {
            if target.troubleSince != nil { try await runtime.recordTrouble(target, since: nil) }
            return
        }
        guard let since = target.troubleSince else {
            try await runtime.recordTrouble(target, since: Date())
            if rolloutFailureAfter > 0 { return }
            return try await failRollout(target, trouble)
        }
        if Date().timeIntervalSince(since) >= rolloutFailureAfter { try await failRollout(target, trouble) }
    }

    func failRollout(_ target: SyncTarget, _ trouble: KubePodState.Waiting) async throws {
        let detail = trouble.message.map { ": \($0)" } ?? ""
        try await runtime.recordRollout(target, succeeded: false, message: "\(trouble.reason)\(detail)", now: Date())
    }

    /// `drift` when the live Deployment's image, replicas, requests or variables no longer match the current revision.
    func trackDrift(_ target: SyncTarget, live: KubeRollout, spec: DeploySpec) async throws {
        let fields = Self.driftFields(live: live, spec: spec, name: target.name)
        if fields.isEmpty {
            if target.drift != nil { try await runtime.recordDrift(target, drift: nil) }
        } else if target.drift?.fields != fields {
            try await runtime.recordDrift(target, drift: Drift(fields: fields, detectedAt: Date()))
        }
    }

    static func driftFields(live: KubeRollout, spec: DeploySpec, name: String) -> [String] {
        guard let container = live.containers.first(where: { $0.name == name }) ?? live.containers.first else { return ["image"] }
        var fields: [String] = []
        if container.image != spec.image { fields.append("image") }
        if (live.replicas ?? 1) != spec.replicas { fields.append("replicas") }
        func same(_ live: QuantityText?, _ wanted: String?) -> Bool {
            guard let live, let wanted else { return live == nil && wanted == nil }
            guard let a = try? Quantity(parsing: live.text), let b = try? Quantity(parsing: wanted) else { return live.text == wanted }
            return a == b
        }
        if !same(container.requests?["cpu"], spec.resources?.cpuRequest) { fields.append("cpuRequest") }
        if !same(container.requests?["memory"], spec.resources?.memoryRequest) { fields.append("memoryRequest") }
        // By name: a variable's value is what drifts; the API server keeps the list's order, but merging managers may not.
        let liveEnv = Dictionary((container.env ?? []).compactMap { variable in variable.value.map { (variable.name, $0) } }) { first, _ in first }
        let wantedEnv = Dictionary((spec.env + spec.injectedEnv).map { ($0.name, $0.value) }) { first, _ in first }
        if liveEnv != wantedEnv { fields.append("env") }
        return fields
    }
}
