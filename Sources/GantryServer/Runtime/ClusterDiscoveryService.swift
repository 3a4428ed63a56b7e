import Foundation
import GantryCore
import KubeClient
import NIOCore

/// docs/api.md §6 `GET /environments/{envID}/cluster-discovery`: IngressClasses (from the space's cache when this
/// replica watches it) and cert-manager (always asked of the cluster).
enum ClusterDiscoveryService {
    struct IngressController: Sendable, Equatable { var className, controller, vendor: String; var isDefault: Bool }
    struct Issuer: Sendable, Equatable { var name, kind: String; var ready: Bool }
    struct Discovery: Sendable { var ingressControllers: [IngressController]; var certManagerInstalled: Bool; var issuers: [Issuer]; var observedAt: Date }

    static let certManagerGroup = "cert-manager.io"

    /// - watchedClasses: the IngressClasses from a watched space's cache; nil lists them.
    static func discover(namespace: String, client: KubernetesClient, watchedClasses: [KubeIngressClass]? = nil,
                         deadline: NIODeadline) async throws(KubeError) -> Discovery {
        async let groupsCall = Result { () async throws(KubeError) -> APIGroupList in
            try await client.get("/apis", as: APIGroupList.self, deadline: deadline)
        }
        async let classesCall = Result { () async throws(KubeError) -> [KubeIngressClass] in
            if let watchedClasses { return watchedClasses }
            return try await client.list("/apis/networking.k8s.io/v1/ingressclasses", of: KubeIngressClass.self, deadline: deadline)
        }
        let installed = (try await groupsCall.get().groups ?? []).contains { $0.name == certManagerGroup }
        let controllers = try await classesCall.get().map { ingressClass in
            let controller = ingressClass.spec?.controller ?? ""
            return IngressController(
                className: ingressClass.metadata.name, controller: controller, vendor: IngressVendor.of(controller),
                isDefault: ingressClass.metadata.annotations?[CachedIngressClass.defaultClassAnnotation] == "true"
            )
        }
        // The default class first, then by name: the same order whether the classes came from the cache or a LIST.
        .sorted { ($0.isDefault ? 0 : 1, $0.className) < ($1.isDefault ? 0 : 1, $1.className) }
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

extension Deployer {
    /// The environment's cluster discovery, its IngressClasses from the space's cache when this replica watches it (the
    /// space's first discovery lists them and starts their watch).
    func discovery(of environment: Environment, org: String) async throws -> ClusterDiscoveryService.Discovery {
        let watchedClasses = watches?.cache(forSpace: environment.spaceID)?.ingressClassesWatchingFromNowOn()
        return try await onCluster(space: environment.spaceID, org: org) { client, deadline throws(KubeError) in
            try await ClusterDiscoveryService.discover(namespace: environment.namespace, client: client, watchedClasses: watchedClasses, deadline: deadline)
        }
    }
}
