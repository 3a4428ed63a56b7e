import Foundation
import NIOCore
import Testing
@testable import GantryCore
@testable import KubeClient

/// Opt-in: the client against a real cluster, when `GANTRY_TEST_KUBECONFIG` names a kubeconfig file with inline
/// credentials (and `GANTRY_TEST_NAMESPACE` a namespace, default `default`). Read-only. Off in CI, which is offline.
@Suite("Live cluster (opt-in)", .enabled(if: ProcessInfo.processInfo.environment["GANTRY_TEST_KUBECONFIG"] != nil))
struct LiveClusterTests {
    @Test("Namespaces, Deployments and pods of a real cluster decode, and every pod request is a quantity")
    func readsRealCluster() async throws {
        let environment = ProcessInfo.processInfo.environment
        let yaml = try String(contentsOfFile: environment["GANTRY_TEST_KUBECONFIG"]!, encoding: .utf8)
        let namespace = environment["GANTRY_TEST_NAMESPACE"] ?? "default"
        let http = KubernetesClient.makeHTTPClient()
        let client = try KubernetesClient(http: http, connection: ClusterConnection(kubeconfig: try Kubeconfig.parse(yaml, context: nil)))
        let deadline = NIODeadline.now() + .seconds(30)
        let namespaces = try await client.list("/api/v1/namespaces", of: KubeNamespace.self, deadline: deadline)
        #expect(namespaces.contains { $0.metadata.name == namespace })
        let deployments = try await client.list("/apis/apps/v1/namespaces/\(namespace)/deployments", of: KubeDeployment.self, deadline: deadline)
        _ = deployments.map(DeploymentHealth.init)
        let pods = try await client.list("/api/v1/namespaces/\(namespace)/pods", of: KubePod.self, deadline: deadline)
        for pod in pods {
            for container in (pod.spec?.containers ?? []) + (pod.spec?.initContainers ?? []) {
                for value in (container.resources?.requests ?? [:]).values { #expect(throws: Never.self) { try Quantity(parsing: value.text) } }
            }
        }
        try await http.shutdown()
    }
}
