import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore

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

/// One space's cluster as the deployer last saw it, kept current by watches (docs/api.md §6, "Watching clusters"):
/// the Namespaces, Deployments and Pods of the environments' namespaces on it, nothing else. Each collection is
/// watched cluster-wide (three watches per cluster, not three per namespace) and what lies outside Gantry's
/// namespaces is dropped as it arrives, so a big shared cluster costs bandwidth but not memory. Only the fields
/// Gantry reads are kept (`KubeRollout`, `CachedPod`, names), never whole objects.
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

    init(space: SyncSpace, spaceName: String, namespaces: Set<String>, client: KubernetesClient, watchTimeoutSeconds: Int = 300,
         listGate: ListGate? = nil, onChange: @escaping @Sendable (SyncSpace, Set<String>) -> Void, logger: Logger) {
        self.space = space
        self.spaceName = spaceName
        self.namespaces = namespaces
        self.client = client
        self.started = .now
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
        }
    }

    /// Every watch listed and watching: reads may come from the cache.
    var isHealthy: Bool {
        namespaceObjects.state == .synced && deployments.state == .synced && pods.state == .synced
    }

    var objectCount: Int { namespaceObjects.count + deployments.count + pods.count }
    var eventsReceived: Int { namespaceObjects.eventsReceived + deployments.eventsReceived + pods.eventsReceived }
    var lists: Int { namespaceObjects.lists + deployments.lists + pods.lists }

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
