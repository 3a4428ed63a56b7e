import Foundation
import KubeClient
import NIOCore

/// docs/api.md §6 `GET /environments/{envID}/cluster-discovery`: IngressClasses and cert-manager, never cached.
enum ClusterDiscoveryService {
    struct IngressController: Sendable, Equatable { var className, controller, vendor: String; var isDefault: Bool }
    struct Issuer: Sendable, Equatable { var name, kind: String; var ready: Bool }
    struct Discovery: Sendable { var ingressControllers: [IngressController]; var certManagerInstalled: Bool; var issuers: [Issuer]; var observedAt: Date }

    static let certManagerGroup = "cert-manager.io"

    static func discover(namespace: String, client: KubernetesClient, deadline: NIODeadline) async throws(KubeError) -> Discovery {
        async let groupsCall = Result { () async throws(KubeError) -> APIGroupList in
            try await client.get("/apis", as: APIGroupList.self, deadline: deadline)
        }
        async let classesCall = Result { () async throws(KubeError) -> [KubeIngressClass] in
            try await client.list("/apis/networking.k8s.io/v1/ingressclasses", of: KubeIngressClass.self, deadline: deadline)
        }
        let installed = (try await groupsCall.get().groups ?? []).contains { $0.name == certManagerGroup }
        let controllers = try await classesCall.get().map { ingressClass in
            let controller = ingressClass.spec?.controller ?? ""
            return IngressController(
                className: ingressClass.metadata.name, controller: controller, vendor: IngressVendor.of(controller),
                isDefault: ingressClass.metadata.annotations?["ingressclass.kubernetes.io/is-default-class"] == "true"
            )
        }
        var issuers: [Issuer] = []
        if installed {
            async let clusterIssuersCall = Result { () async throws(KubeError) -> [KubeIssuer] in
                try await client.list("/apis/cert-manager.io/v1/clusterissuers", of: KubeIssuer.self, deadline: deadline)
            }
            async let issuersCall = Result { () async throws(KubeError) -> [KubeIssuer] in
                try await client.list("/apis/cert-manager.io/v1/namespaces/\(namespace)/issuers", of: KubeIssuer.self, deadline: deadline)
            }
            issuers = try await clusterIssuersCall.get().map { issuer($0, kind: "ClusterIssuer") }
                + (try await issuersCall.get()).map { issuer($0, kind: "Issuer") }
        }
        return Discovery(ingressControllers: controllers, certManagerInstalled: installed, issuers: issuers, observedAt: Date())
    }

    static func issuer(_ object: KubeIssuer, kind: String) -> Issuer {
        Issuer(name: object.metadata.name, kind: kind, ready: object.status?.conditions?.first { $0.type == "Ready" }?.status == "True")
    }
}
