import Foundation

/// The resources the fake serves, as discovery and the routes see them.
struct ResourceType: Sendable {
    var plural: String
    var kind: String
    var group: String
    var version: String
    var namespaced: Bool
    var verbs: [String]
    /// Only served while the scenario says cert-manager is installed.
    var certManager = false
    /// Writable with server-side apply.
    var appliable = false

    var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `/api/v1` or `/apis/{group}/{version}`.
    var prefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }
    /// `deployments.apps`, as the API server names a resource in its messages.
    var qualified: String { group.isEmpty ? plural : "\(plural).\(group)" }

    static let readOnly = ["get", "list", "watch"]
    static let writable = ["create", "delete", "get", "list", "patch", "update", "watch"]

    static let all: [ResourceType] = [
        .init(plural: "namespaces", kind: "Namespace", group: "", version: "v1", namespaced: false, verbs: writable, appliable: true),
        .init(plural: "pods", kind: "Pod", group: "", version: "v1", namespaced: true, verbs: ["delete", "get", "list", "watch"]),
        .init(plural: "services", kind: "Service", group: "", version: "v1", namespaced: true, verbs: writable, appliable: true),
        .init(plural: "secrets", kind: "Secret", group: "", version: "v1", namespaced: true, verbs: writable, appliable: true),
        .init(plural: "events", kind: "Event", group: "", version: "v1", namespaced: true, verbs: readOnly),
        .init(plural: "deployments", kind: "Deployment", group: "apps", version: "v1", namespaced: true, verbs: writable, appliable: true),
        .init(plural: "replicasets", kind: "ReplicaSet", group: "apps", version: "v1", namespaced: true, verbs: ["delete", "get", "list", "watch"]),
        .init(plural: "ingresses", kind: "Ingress", group: "networking.k8s.io", version: "v1", namespaced: true, verbs: writable, appliable: true),
        .init(plural: "ingressclasses", kind: "IngressClass", group: "networking.k8s.io", version: "v1", namespaced: false, verbs: readOnly),
        .init(plural: "events", kind: "Event", group: "events.k8s.io", version: "v1", namespaced: true, verbs: readOnly),
        .init(plural: "clusterissuers", kind: "ClusterIssuer", group: "cert-manager.io", version: "v1", namespaced: false, verbs: readOnly, certManager: true),
        .init(plural: "issuers", kind: "Issuer", group: "cert-manager.io", version: "v1", namespaced: true, verbs: readOnly, certManager: true),
    ]

    static func find(group: String, version: String, plural: String) -> ResourceType? {
        all.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    /// The core type for a plural, as the test hooks name resources.
    static func named(_ plural: String) -> ResourceType? { all.first { $0.plural == plural } }

    static func kind(_ kind: String) -> ResourceType? { all.first { $0.kind == kind } }
}

/// What a request path names: a resource collection, or one object in it.
struct ResourcePath {
    var type: ResourceType
    var namespace: String?
    var name: String?

    /// `/api/v1[/namespaces/{ns}]/{plural}[/{name}]` and the `/apis/{group}/{version}` equivalents; nil for anything else.
    init?(_ parts: [String]) {
        var rest: ArraySlice<String>
        let group: String, version: String
        if parts.first == "api", parts.count >= 3 {
            group = ""; version = parts[1]; rest = parts.dropFirst(2)
        } else if parts.first == "apis", parts.count >= 4 {
            group = parts[1]; version = parts[2]; rest = parts.dropFirst(3)
        } else {
            return nil
        }
        var namespace: String?
        // `namespaces/{ns}/{plural}…` is a namespaced collection; `namespaces[/{name}]` the Namespace resource itself.
        if rest.first == "namespaces", rest.count >= 3 {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let plural = rest.first, rest.count <= 2, let type = ResourceType.find(group: group, version: version, plural: plural) else { return nil }
        if namespace != nil, !type.namespaced { return nil }
        self.type = type
        self.namespace = namespace
        self.name = rest.count == 2 ? rest.last : nil
    }
}

/// Where objects live in the scenario: namespaces and cluster-scoped types in their own arrays, the rest by namespace.
extension FakeKubeAPIServer.Scenario {

    func items(_ plural: String, namespace: String?) -> [KubeFixtures.Object] {
        switch plural {
        case "namespaces": return namespaces
        case "ingressclasses": return ingressClasses
        case "clusterissuers": return clusterIssuers
        default:
            guard let byNamespace = namespaced[plural] else { return [] }
            if let namespace { return byNamespace[namespace] ?? [] }
            // All namespaces, in namespace order, so the answer is stable.
            return byNamespace.keys.sorted().flatMap { byNamespace[$0] ?? [] }
        }
    }

    func find(_ plural: String, namespace: String?, name: String) -> KubeFixtures.Object? {
        items(plural, namespace: namespace).first { FakeKubeAPIServer.name($0) == name }
    }

    /// Replaces the object of that name, or appends it; nil removes it.
    mutating func store(_ plural: String, namespace: String?, name: String, _ object: KubeFixtures.Object?) {
        func put(_ array: inout [KubeFixtures.Object]) {
            if let index = array.firstIndex(where: { FakeKubeAPIServer.name($0) == name }) {
                if let object { array[index] = object } else { array.remove(at: index) }
            } else if let object {
                array.append(object)
            }
        }
        switch plural {
        case "namespaces": put(&namespaces)
        case "ingressclasses": put(&ingressClasses)
        case "clusterissuers": put(&clusterIssuers)
        default: put(&namespaced[plural, default: [:]][namespace ?? "", default: []])
        }
    }
}
