import GantryCore
import KubeClient

/// What refuses a deploy before anything is queued (docs/api.md §7 "Preflight"): an image no runtime can pull
/// and, when the cluster could be read, an ingress class or TLS issuer it does not have. A cluster that cannot be
/// reached fails nothing: the revision is queued and its job retries.
enum Preflight {
    struct Check: Equatable {
        var check: String
        var message: String
    }

    static func checks(_ specs: [DeploySpec], discovery: ClusterDiscoveryService.Discovery?) -> [Check] {
        var checks: [Check] = []
        func fail(_ check: String, _ message: String) { checks.append(Check(check: check, message: message)) }
        for spec in specs {
            if spec.image.trimmingCharacters(in: .whitespaces).isEmpty {
                fail("image", "The deployment has no image; set one before deploying.")
            } else if !Rules.isImageReference(spec.image) {
                fail("image", "'\(spec.image)' is not a valid image reference (expected [registry/]repository[:tag][@digest], lowercase repository).")
            }
        }
        guard let discovery else { return checks }
        let classes = discovery.ingressControllers.map(\.className)
        let issuers = discovery.issuers.filter { $0.kind == "ClusterIssuer" }
        for ingress in specs.compactMap(\.ingress) {
            if !classes.contains(ingress.className) {
                let known = classes.isEmpty ? "it has none" : "it has \(classes.sorted().joined(separator: ", "))"
                fail("ingress.className", "IngressClass '\(ingress.className)' does not exist on the cluster; \(known).")
            }
            guard let issuer = ingress.tlsIssuer else { continue }
            if !discovery.certManagerInstalled {
                fail("ingress.tlsIssuer", "cert-manager is not installed on the cluster, so '\(issuer)' cannot issue a certificate.")
            } else if let match = issuers.first(where: { $0.name == issuer }) {
                if !match.ready { fail("ingress.tlsIssuer", "ClusterIssuer '\(issuer)' exists but is not Ready.") }
            } else {
                fail("ingress.tlsIssuer", "ClusterIssuer '\(issuer)' does not exist on the cluster.")
            }
        }
        return checks
    }
}

extension Deployer {
    /// The environment's ingress classes and issuers, or nil when its cluster cannot be read now.
    func discoveryIfReachable(_ environment: Environment, org: String) async -> ClusterDiscoveryService.Discovery? {
        try? await discovery(of: environment, org: org)
    }
}
