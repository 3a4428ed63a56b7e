import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore
import Synchronization

/// The labels and annotations the deployer reads; the cache keeps no others (a `last-applied-configuration`
/// annotation alone can be larger than everything else Gantry keeps of an object).
enum CachedMetadata {
    static let labels: Set<String> = [Manifests.managedByLabel, Manifests.deploymentIDLabel, Manifests.environmentIDLabel, Manifests.revisionAnnotation]
    static let annotations: Set<String> = ["deployment.kubernetes.io/revision", Manifests.revisionAnnotation]

    static func slim(_ metadata: ObjectMeta) -> ObjectMeta {
        var slim = ObjectMeta(name: metadata.name, labels: metadata.labels?.filter { labels.contains($0.key) })
        slim.namespace = metadata.namespace
        slim.generation = metadata.generation
        slim.deletionTimestamp = metadata.deletionTimestamp
        slim.annotations = metadata.annotations?.filter { annotations.contains($0.key) }
        return slim
    }
}

/// A Deployment as status sync, rollout tracking, drift and stats read it, with slim metadata.
struct CachedRollout: Sendable, Equatable, KubeDecodable {
    var rollout: KubeRollout

    init(json: JSONView) throws(JSONError) {
        rollout = try KubeRollout(json: json)
        rollout.metadata = CachedMetadata.slim(rollout.metadata)
    }
}

/// A pod as both readers of pods need it: rollout tracking (waiting reasons) and stats and cost (requests, phase).
/// Read once from the same JSON, so the cache holds one slim copy per pod.
struct CachedPod: Sendable, Equatable, KubeDecodable {
    var state: KubePodState
    var pod: KubePod

    init(json: JSONView) throws(JSONError) {
        state = try KubePodState(json: json)
        pod = try KubePod(json: json)
        state.metadata = CachedMetadata.slim(state.metadata)
        pod.metadata = state.metadata
    }
}

/// An IngressClass as cluster discovery reads it: name, controller and the default-class annotation.
struct CachedIngressClass: Sendable, Equatable, KubeDecodable {
    static let defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
    var ingressClass: KubeIngressClass

    init(json: JSONView) throws(JSONError) {
        ingressClass = try KubeIngressClass(json: json)
        var slim = ObjectMeta(name: ingressClass.metadata.name)
        slim.annotations = ingressClass.metadata.annotations?.filter { $0.key == Self.defaultClassAnnotation }
        ingressClass.metadata = slim
    }
}

/// A core v1 Event as the deploy timeline reads it, keyed by its own name.
struct CachedEvent: Sendable, Equatable, KubeDecodable {
    var name: String
    var namespace: String?
    var event: KubeEvent

    init(json: JSONView) throws(JSONError) {
        let metadata: ObjectMeta = try json.decode("metadata")
        name = metadata.name
        namespace = metadata.namespace
        event = try KubeEvent(json: json)
    }
}

/// One space's cluster as the deployer last saw it, kept current by watches (docs/api.md §6, "Watching clusters"):
/// the Namespaces, Deployments and Pods of the environments' namespaces on it, the cluster's IngressClasses, and the
/// Events of namespaces with a rollout under way; nothing else. Namespaces, Deployments and Pods are watched
/// cluster-wide (three watches per cluster, not three per namespace) and what lies outside Gantry's namespaces is
/// dropped as it arrives, so a big shared cluster costs bandwidth but not memory. Only the fields Gantry reads are
/// kept (`KubeRollout`, `CachedPod`, names), never whole objects.
///
/// ReplicaSets are not watched: Gantry's pods carry their deployment and revision labels, so rollout tracking never
/// needs the ReplicaSet between a Deployment and its pods, and a cache of them would hold one object per kept revision
/// for no reader.
final class SpaceCache: Sendable {
    let space: SyncSpace
    /// The space's name, for errors.
    let spaceName: String
    /// The environments' namespaces on the space when the cache was made; a change makes a new cache.
    let namespaces: Set<String>
    let client: KubernetesClient
    let started: ContinuousClock.Instant
    let namespaceObjects: Reflector<KubeObjectName>
    let deployments: Reflector<CachedRollout>
    let pods: Reflector<CachedPod>
    /// For cluster discovery. Not part of `isHealthy`: credentials that may not read a cluster-scoped kind still let
    /// status sync and stats use the cache; discovery then lists.
    let ingressClasses: Reflector<CachedIngressClass>
    let listGate: ListGate?
    let watchTimeoutSeconds: Int
    let logger: Logger
    /// Per namespace with a rollout under way, a watch of its Events for the deploy timeline; nil once the cache stopped.
    let eventWatches = Mutex<[String: EventWatch]?>([:])

    struct EventWatch: Sendable {
        var events: Reflector<CachedEvent>
        var task: Task<Void, Never>
    }

    init(space: SyncSpace, spaceName: String, namespaces: Set<String>, client: KubernetesClient, watchTimeoutSeconds: Int = 300,
         listGate: ListGate? = nil, onChange: @escaping @Sendable (SyncSpace, Set<String>) -> Void, logger: Logger) {
        self.space = space
        self.spaceName = spaceName
        self.namespaces = namespaces
        self.client = client
        self.started = .now
        self.listGate = listGate
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.logger = logger
        // The keys keep only `namespaces`, so every change reported is in one of them.
        let notify: @Sendable (Set<String>) -> Void = { onChange(space, $0) }
        namespaceObjects = Reflector(client: client, path: "/api/v1/namespaces",
                                     key: { namespaces.contains($0.metadata.name) ? $0.metadata.name : nil },
                                     namespace: { $0.metadata.name }, onChange: notify, listGate: listGate, watchTimeoutSeconds: watchTimeoutSeconds,
                                     logger: logger)
        deployments = Reflector(client: client, path: "/apis/apps/v1/deployments", key: Self.key(in: namespaces),
                                namespace: { $0.rollout.metadata.namespace }, onChange: notify, listGate: listGate,
                                watchTimeoutSeconds: watchTimeoutSeconds, logger: logger)
        pods = Reflector(client: client, path: "/api/v1/pods", key: Self.key(in: namespaces), namespace: { $0.state.metadata.namespace },
                         onChange: notify, listGate: listGate, watchTimeoutSeconds: watchTimeoutSeconds, logger: logger)
        ingressClasses = Reflector(client: client, path: "/apis/networking.k8s.io/v1/ingressclasses", key: { $0.ingressClass.metadata.name },
                                   namespace: { _ in nil }, listGate: listGate, watchTimeoutSeconds: watchTimeoutSeconds, logger: logger)
    }

    static func key<Item>(in namespaces: Set<String>) -> @Sendable (Item) -> String? where Item: HasObjectMeta {
        { item in
            guard let namespace = item.objectMeta.namespace, namespaces.contains(namespace) else { return nil }
            return namespace + "/" + item.objectMeta.name
        }
    }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.namespaceObjects.run() }
            group.addTask { await self.deployments.run() }
            group.addTask { await self.pods.run() }
            group.addTask { await self.ingressClasses.run() }
        }
        for watch in eventWatches.withLock({ watches in
            defer { watches = nil }
            return watches.map { Array($0.values) } ?? []
        }) {
            watch.task.cancel()
        }
    }

    /// Watches the Events of exactly `namespaces` (those with a rollout under way), starting and stopping watches to match.
    func watchEvents(in namespaces: Set<String>) {
        let stopped = eventWatches.withLock { watches -> [EventWatch] in
            guard var current = watches else { return [] }
            defer { watches = current }
            var stopped: [EventWatch] = []
            for namespace in current.keys where !namespaces.contains(namespace) {
                stopped.append(current.removeValue(forKey: namespace)!)
            }
            for namespace in namespaces.intersection(self.namespaces) where current[namespace] == nil {
                // Core v1 Events: every cluster serves them, and they are the same objects as events.k8s.io/v1's.
                let events = Reflector<CachedEvent>(client: client, path: "/api/v1/namespaces/\(namespace)/events",
                                                    key: { $0.name }, namespace: { $0.namespace }, listGate: listGate,
                                                    watchTimeoutSeconds: watchTimeoutSeconds, logger: logger)
                current[namespace] = EventWatch(events: events, task: Task { await events.run() })
            }
            return stopped
        }
        for watch in stopped { watch.task.cancel() }
    }

    /// The namespace's Events when they are watched and listed; nil means list them.
    func events(in namespace: String) -> [KubeEvent]? {
        guard let events = eventWatches.withLock({ $0?[namespace]?.events }), events.state == .synced else { return nil }
        return events.items(in: namespace).map(\.event)
    }

    var eventWatchCount: Int { eventWatches.withLock { $0?.count ?? 0 } }

    /// Every watch listed and watching: reads may come from the cache.
    var isHealthy: Bool {
        namespaceObjects.state == .synced && deployments.state == .synced && pods.state == .synced
    }

    var eventReflectors: [Reflector<CachedEvent>] { eventWatches.withLock { $0.map { $0.values.map(\.events) } ?? [] } }
    var objectCount: Int {
        namespaceObjects.count + deployments.count + pods.count + ingressClasses.count + eventReflectors.reduce(0) { $0 + $1.count }
    }
    var eventsReceived: Int {
        namespaceObjects.eventsReceived + deployments.eventsReceived + pods.eventsReceived + ingressClasses.eventsReceived
            + eventReflectors.reduce(0) { $0 + $1.eventsReceived }
    }
    var lists: Int { namespaceObjects.lists + deployments.lists + pods.lists + ingressClasses.lists + eventReflectors.reduce(0) { $0 + $1.lists } }

    /// Why the cache is not healthy, for the log.
    var problem: String? {
        if case .failing(let message) = namespaceObjects.state { return message }
        if case .failing(let message) = deployments.state { return message }
        if case .failing(let message) = pods.state { return message }
        return nil
    }

    // MARK: - Reads

    /// Runs a read of the cache; a cluster error (a pod request that is not a quantity) becomes docs/api.md §6's, naming the space.
    func reading<T>(_ read: (SpaceCache) throws(KubeError) -> T) throws -> T {
        do { return try read(self) } catch { throw ClusterConnector.appError(error, space: spaceName) }
    }

    /// The cluster's IngressClasses once listed and watched; nil means list them.
    var watchedIngressClasses: [KubeIngressClass]? {
        ingressClasses.state == .synced ? ingressClasses.allItems().map(\.ingressClass) : nil
    }

    func namespaceExists(_ namespace: String) -> Bool { !namespaceObjects.items(in: namespace).isEmpty }

    /// Pods of the namespace that hold their requests: neither Succeeded nor Failed.
    func livePods(in namespace: String) -> [KubePod] {
        pods.items(in: namespace).map(\.pod).filter(EnvironmentStatsService.holdsRequests)
    }
}

protocol HasObjectMeta { var objectMeta: ObjectMeta { get } }
extension CachedRollout: HasObjectMeta { var objectMeta: ObjectMeta { rollout.metadata } }
extension CachedPod: HasObjectMeta { var objectMeta: ObjectMeta { state.metadata } }
