import Foundation
import KubeTestServer
import Testing
@testable import KubeClient

/// docs/api.md §6's running/failed rules and the vendor map, one case per rule.
@Suite("Deployment health and ingress vendors")
struct DeploymentHealthTests {
    static func decode(_ object: KubeFixtures.Object) throws -> KubeDeployment {
        try KubeDeployment(decoding: JSONSerialization.data(withJSONObject: object))
    }

    @Test("Rollout complete with every replica ready and Available=True is running")
    func running() throws {
        #expect(DeploymentHealth(try Self.decode(KubeFixtures.deployment("web", namespace: "a", replicas: 3))) == .running)
    }

    @Test("Progressing=False with ProgressDeadlineExceeded is failed, even while old pods keep it available")
    func deadline() throws {
        let deployment = KubeFixtures.deployment("web", namespace: "a", replicas: 2, conditions: [
            KubeFixtures.condition("Available", "True", reason: "MinimumReplicasAvailable"),
            KubeFixtures.condition("Progressing", "False", reason: "ProgressDeadlineExceeded"),
        ])
        #expect(DeploymentHealth(try Self.decode(deployment)) == .failed)
    }

    @Test("ReplicaFailure=True is failed")
    func replicaFailure() throws {
        let deployment = KubeFixtures.deployment("web", namespace: "a", replicas: 2, ready: 0, conditions: [
            KubeFixtures.condition("ReplicaFailure", "True", reason: "FailedCreate"),
        ])
        #expect(DeploymentHealth(try Self.decode(deployment)) == .failed)
    }

    @Test("Scaled to zero, paused, mid-rollout and an unseen generation are neither running nor failed")
    func neither() throws {
        #expect(DeploymentHealth(try Self.decode(KubeFixtures.deployment("a", namespace: "a", replicas: 0))) == .scaledToZero)
        #expect(DeploymentHealth(try Self.decode(KubeFixtures.deployment("b", namespace: "a", replicas: 2, paused: true))) == .inProgress)
        let rolling = KubeFixtures.deployment("c", namespace: "a", replicas: 3, updated: 1, ready: 3, conditions: [
            KubeFixtures.condition("Available", "True", reason: "MinimumReplicasAvailable"),
            KubeFixtures.condition("Progressing", "True", reason: "ReplicaSetUpdated"),
        ])
        #expect(DeploymentHealth(try Self.decode(rolling)) == .inProgress)
        let unseen = KubeFixtures.deployment("d", namespace: "a", replicas: 2, generation: 5, observedGeneration: 4)
        #expect(DeploymentHealth(try Self.decode(unseen)) == .inProgress)
    }

    @Test("Rollout complete but fewer ready replicas than desired is degraded")
    func degraded() throws {
        let deployment = KubeFixtures.deployment("web", namespace: "a", replicas: 3, ready: 2, conditions: [
            KubeFixtures.condition("Available", "True", reason: "MinimumReplicasAvailable"),
            KubeFixtures.condition("Progressing", "True", reason: "NewReplicaSetAvailable"),
        ])
        #expect(DeploymentHealth(try Self.decode(deployment)) == .degraded)
    }

    @Test("Controllers map to the contract's vendors, exactly or as a prefix followed by /", arguments: [
        ("k8s.io/ingress-nginx", "nginx"), ("nginx.org/ingress-controller", "nginx"), ("traefik.io/ingress-controller", "traefik"),
        ("haproxy.org/ingress-controller/haproxy", "haproxy"), ("haproxy-ingress.github.io/controller", "haproxy"),
        ("projectcontour.io/ingress-controller", "contour"), ("istio.io/ingress-controller", "istio"),
        ("ingress-controllers.konghq.com/kong", "kong"), ("ingress.k8s.aws/alb", "aws-alb"), ("k8s.io/ingress-gce", "gce"),
        ("azure/application-gateway", "azure-agic"), ("cilium.io/ingress-controller", "other"), ("k8s.io/ingress-nginxx", "other"),
    ])
    func vendors(_ controller: String, _ vendor: String) {
        #expect(IngressVendor.of(controller) == vendor)
    }
}
