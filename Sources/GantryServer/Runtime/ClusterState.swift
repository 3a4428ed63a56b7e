import GantryCore
import KubeClient
import NIOCore
import Prometheus

/// How the deployer reads a namespace's state for rollout tracking, drift and events: from a watched space's cache
/// (`CachedClusterState`), or one LIST per question (`PollingClusterState`) for a space that is not watched.
protocol ClusterStateReader: Sendable {
    func deployments(in namespace: String) async throws(KubeError) -> [KubeRollout]
    /// Pods made by Gantry in the namespace.
    func pods(in namespace: String) async throws(KubeError) -> [KubePodState]
    /// Every Event of the namespace, from `events.k8s.io/v1`, else core `v1`.
    func events(in namespace: String) async throws(KubeError) -> [KubeEvent]
}

/// Reads straight from the cluster, one LIST per question.
struct PollingClusterState: ClusterStateReader {
    let client: KubernetesClient
    let budget: TimeAmount
    /// Counts the LISTs for `/metrics` (status sync's fallback for spaces that are not watched).
    var counter: Counter? = nil

    func deployments(in namespace: String) async throws(KubeError) -> [KubeRollout] {
        counter?.increment()
        return try await client.list("/apis/apps/v1/namespaces/\(namespace)/deployments", of: KubeRollout.self, deadline: .now() + budget)
    }

    func pods(in namespace: String) async throws(KubeError) -> [KubePodState] {
        counter?.increment()
        return try await client.list("/api/v1/namespaces/\(namespace)/pods", query: [("labelSelector", "\(Manifests.managedByLabel)=\(Manifests.managedBy)")],
                              of: KubePodState.self, deadline: .now() + budget)
    }

    func events(in namespace: String) async throws(KubeError) -> [KubeEvent] {
        do {
            return try await client.list("/apis/events.k8s.io/v1/namespaces/\(namespace)/events", of: KubeEvent.self, deadline: .now() + budget)
        } catch .notFound {
            return try await client.list("/api/v1/namespaces/\(namespace)/events", of: KubeEvent.self, deadline: .now() + budget)
        }
    }
}

/// Rollout tracking and drift read a watched space from its cache; so does the deploy timeline while the namespace has a
/// rollout under way (its Events are watched then), and lists them otherwise.
struct CachedClusterState: ClusterStateReader {
    let cache: SpaceCache
    let budget: TimeAmount

    func deployments(in namespace: String) async throws(KubeError) -> [KubeRollout] {
        cache.deployments.items(in: namespace).map(\.rollout)
    }

    func pods(in namespace: String) async throws(KubeError) -> [KubePodState] {
        cache.pods.items(in: namespace).map(\.state).filter { $0.metadata.labels?[Manifests.managedByLabel] == Manifests.managedBy }
    }

    func events(in namespace: String) async throws(KubeError) -> [KubeEvent] {
        if let watched = cache.events(in: namespace) { return watched }
        return try await PollingClusterState(client: cache.client, budget: budget).events(in: namespace)
    }
}
