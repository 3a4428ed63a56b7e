import KubeClient
import NIOCore
import Prometheus

/// How the deployer reads a namespace's state for rollout tracking, drift and events. Today each read is a LIST
/// against the cluster; a watch-based cache can take its place without the deploy logic changing.
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
        return try await client.list("/api/v1/namespaces/\(namespace)/pods", query: [("labelSelector", "app.kubernetes.io/managed-by=gantry")],
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
