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
/// the Namespaces, Deployments and Pods of the environments' namespaces on it, and on demand the cluster's IngressClasses
/// (once cluster discovery asked) and the Events of namespaces with a rollout under way; nothing else. Namespaces, Deployments and Pods are watched
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
    let listGate: ListGate?
    let watchTimeoutSeconds: Int
    let logger: Logger
    /// Watches started when first needed, stopped with the cache.
    let onDemand = Mutex(OnDemand())

    /// A collection watched only once something reads it: each open watch is a connection to the cluster (~180 KB with
    /// TLS), too much to hold at 500 clusters for a few IngressClasses nobody asked about.
    struct OnDemand: Sendable {
        var stopped = false
        /// The cluster's IngressClasses, from the first cluster discovery of the space on. Not part of `isHealthy`:
        /// credentials that may not read a cluster-scoped kind still let status sync and stats use the cache.
        var ingressClasses: OnDemandWatch<CachedIngressClass>?
        /// Per namespace with a rollout under way, its Events for the deploy timeline.
        var events: [String: OnDemandWatch<CachedEvent>] = [:]

        var tasks: [Task<Void, Never>] { (ingressClasses.map { [$0.task] } ?? []) + events.values.map(\.task) }
        var figures: [Figures] { (ingressClasses.map { [$0.reflector.figures] } ?? []) + events.values.map(\.reflector.figures) }
    }

    struct OnDemandWatch<Item: KubeDecodable & Sendable>: Sendable {
        var reflector: Reflector<Item>
        var task: Task<Void, Never>

        init(_ reflector: Reflector<Item>) {
            self.reflector = reflector
            task = Task { await reflector.run() }
        }
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
    }

    static func key<Item>(in namespaces: Set<String>) -> @Sendable (Item) -> String? where Item: HasObjectMeta & Sendable {
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
        }
        for task in onDemand.withLock({ state in
            state.stopped = true
            return state.tasks
        }) {
            task.cancel()
        }
    }

    /// Watches the Events of exactly `namespaces` (those with a rollout under way), starting and stopping watches to match.
    func watchEvents(in namespaces: Set<String>) {
        let stopped = onDemand.withLock { state -> [Task<Void, Never>] in
            guard !state.stopped else { return [] }
            var stopped: [Task<Void, Never>] = []
            for namespace in state.events.keys where !namespaces.contains(namespace) {
                stopped.append(state.events.removeValue(forKey: namespace)!.task)
            }
            for namespace in namespaces.intersection(self.namespaces) where state.events[namespace] == nil {
                // Core v1 Events: every cluster serves them, and they are the same objects as events.k8s.io/v1's.
                state.events[namespace] = onDemandWatch("/api/v1/namespaces/\(namespace)/events", key: { $0.name }, namespace: { $0.namespace })
            }
            return stopped
        }
        for task in stopped { task.cancel() }
    }

    /// The namespace's Events when they are watched and listed; nil means list them.
    func events(in namespace: String) -> [KubeEvent]? {
        guard let events = onDemand.withLock({ $0.events[namespace]?.reflector }), events.state == .synced else { return nil }
        return events.items(in: namespace).map(\.event)
    }

    /// The cluster's IngressClasses once watched and listed. The first ask starts the watch and answers nil: list them.
    func ingressClassesWatchingFromNowOn() -> [KubeIngressClass]? {
        let reflector = onDemand.withLock { state -> Reflector<CachedIngressClass>? in
            if let watch = state.ingressClasses { return watch.reflector }
            guard !state.stopped else { return nil }
            state.ingressClasses = onDemandWatch("/apis/networking.k8s.io/v1/ingressclasses", key: { $0.ingressClass.metadata.name }, namespace: { _ in nil })
            return nil
        }
        guard let reflector, reflector.state == .synced else { return nil }
        return reflector.allItems().map(\.ingressClass)
    }

    /// An on-demand watch of `path`, running from now on, through the cache's list gate.
    func onDemandWatch<Item>(_ path: String, key: @escaping @Sendable (Item) -> String?, namespace: @escaping @Sendable (Item) -> String?) -> OnDemandWatch<Item> {
        OnDemandWatch(Reflector(client: client, path: path, key: key, namespace: namespace, listGate: listGate, watchTimeoutSeconds: watchTimeoutSeconds,
                        logger: logger))
    }

    /// Namespaces, Deployments and Pods listed and watching: reads may come from the cache.
    var isHealthy: Bool {
        namespaceObjects.state == .synced && deployments.state == .synced && pods.state == .synced
    }

    /// Objects held, watch events applied and LISTs made, over every watch of the cache, for `/metrics`.
    var figures: Figures {
        ([namespaceObjects.figures, deployments.figures, pods.figures] + onDemand.withLock(\.figures)).reduce(Figures(), +)
    }

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

    func namespaceExists(_ namespace: String) -> Bool { !namespaceObjects.items(in: namespace).isEmpty }

    /// Pods of the namespace that hold their requests: neither Succeeded nor Failed.
    func livePods(in namespace: String) -> [KubePod] {
        pods.items(in: namespace).map(\.pod).filter(EnvironmentStatsService.holdsRequests)
    }
}

protocol HasObjectMeta { var objectMeta: ObjectMeta { get } }
extension CachedRollout: HasObjectMeta { var objectMeta: ObjectMeta { rollout.metadata } }
extension CachedPod: HasObjectMeta { var objectMeta: ObjectMeta { state.metadata } }
