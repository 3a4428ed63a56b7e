import Foundation

// The Kubernetes objects Gantry reads, holding only the fields it uses. Each is read by a hand-written
// `KubeDecodable` initializer right below it, with Codable's leniency: missing (or null) optional fields are
// nil, as Kubernetes omits zero values, and other fields are ignored.

public struct KubeList<Item: KubeDecodable> {
    public struct ListMeta: Sendable, Equatable {
        public var `continue`: String?
        public var resourceVersion: String?
    }
    public var items: [Item]?
    public var metadata: ListMeta?
}

extension KubeList: Sendable where Item: Sendable {}
extension KubeList: Equatable where Item: Equatable {}

extension KubeList: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        items = try json.decodeIfPresent("items")
        metadata = try json.decodeIfPresent("metadata")
    }
}

extension KubeList.ListMeta: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        `continue` = try json.decodeIfPresent("continue")
        resourceVersion = try json.decodeIfPresent("resourceVersion")
    }
}

public struct KubeStatus: Sendable, Equatable {
    public var kind: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
}

extension KubeStatus: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        kind = try json.decodeIfPresent("kind")
        message = try json.decodeIfPresent("message")
        reason = try json.decodeIfPresent("reason")
        code = try json.decodeIfPresent("code")
    }
}

/// Encodable too: it is part of the Namespace Gantry creates.
public struct ObjectMeta: Encodable, Sendable, Equatable {
    public var name: String
    public var namespace: String?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?

    public init(name: String, labels: [String: String]? = nil) {
        self.name = name
        self.labels = labels
    }
}

extension ObjectMeta: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        name = try json.decode("name")
        namespace = try json.decodeIfPresent("namespace")
        generation = try json.decodeIfPresent("generation")
        creationTimestamp = try json.decodeIfPresent("creationTimestamp")
        deletionTimestamp = try json.decodeIfPresent("deletionTimestamp")
        labels = try json.decodeIfPresent("labels")
        annotations = try json.decodeIfPresent("annotations")
    }
}

public struct Condition: Sendable, Equatable {
    public var type: String
    public var status: String
    public var reason: String?
}

extension Condition: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        type = try json.decode("type")
        status = try json.decode("status")
        reason = try json.decodeIfPresent("reason")
    }
}

/// Encodable too: Gantry creates namespaces.
public struct KubeNamespace: Encodable, Sendable, Equatable {
    public struct Status: Encodable, Sendable, Equatable { public var phase: String? }
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var status: Status?

    public init(name: String, labels: [String: String]) {
        apiVersion = "v1"
        kind = "Namespace"
        metadata = ObjectMeta(name: name, labels: labels)
    }
}

extension KubeNamespace: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        apiVersion = try json.decodeIfPresent("apiVersion")
        kind = try json.decodeIfPresent("kind")
        metadata = try json.decode("metadata")
        status = try json.decodeIfPresent("status")
    }
}

extension KubeNamespace.Status: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        phase = try json.decodeIfPresent("phase")
    }
}

public struct KubeDeployment: Sendable, Equatable {
    public struct Spec: Sendable, Equatable {
        public var replicas: Int?
        public var paused: Bool?
    }
    public struct Status: Sendable, Equatable {
        public var observedGeneration: Int64?
        public var replicas: Int?
        public var updatedReplicas: Int?
        public var readyReplicas: Int?
        public var availableReplicas: Int?
        public var conditions: [Condition]?
    }
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?
}

extension KubeDeployment: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        metadata = try json.decode("metadata")
        spec = try json.decodeIfPresent("spec")
        status = try json.decodeIfPresent("status")
    }
}

extension KubeDeployment.Spec: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        replicas = try json.decodeIfPresent("replicas")
        paused = try json.decodeIfPresent("paused")
    }
}

extension KubeDeployment.Status: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        observedGeneration = try json.decodeIfPresent("observedGeneration")
        replicas = try json.decodeIfPresent("replicas")
        updatedReplicas = try json.decodeIfPresent("updatedReplicas")
        readyReplicas = try json.decodeIfPresent("readyReplicas")
        availableReplicas = try json.decodeIfPresent("availableReplicas")
        conditions = try json.decodeIfPresent("conditions")
    }
}

public struct KubePod: Sendable, Equatable {
    public struct Container: Sendable, Hashable {
        public struct Resources: Sendable, Hashable { public var requests: [String: QuantityText]? }
        public var name: String?
        public var resources: Resources?
        public var restartPolicy: String?
    }
    /// Hashable: replicas share one, so what is computed from a spec can be computed once per distinct spec.
    public struct Spec: Sendable, Hashable {
        public var initContainers: [Container]?
        public var containers: [Container]?
        public var overhead: [String: QuantityText]?
    }
    public struct Status: Sendable, Equatable { public var phase: String? }
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?
}

extension KubePod: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        metadata = try json.decode("metadata")
        spec = try json.decodeIfPresent("spec")
        status = try json.decodeIfPresent("status")
    }
}

extension KubePod.Container: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        name = try json.decodeIfPresent("name")
        resources = try json.decodeIfPresent("resources")
        restartPolicy = try json.decodeIfPresent("restartPolicy")
    }
}

extension KubePod.Container.Resources: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        requests = try json.decodeIfPresent("requests")
    }
}

extension KubePod.Spec: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        initContainers = try json.decodeIfPresent("initContainers")
        containers = try json.decodeIfPresent("containers")
        overhead = try json.decodeIfPresent("overhead")
    }
}

extension KubePod.Status: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        phase = try json.decodeIfPresent("phase")
    }
}

/// A quantity as JSON carries it: normally a string, but a bare number is accepted too.
public struct QuantityText: Sendable, Hashable {
    public var text: String
}

extension QuantityText: KubeDecodable {
    /// A number is spelled as Codable spelled it: a whole number as an integer (`1.0` is "1"), else as `Double`
    /// prints it ("1.5", "1e+20").
    public init(json: JSONView) throws(JSONError) {
        switch json.kind {
        case .string: text = try json.string
        case .number: text = if let integer = try? json.int64 { String(integer) } else { String(try json.double) }
        default: throw json.mismatch("a quantity (a string or a number)")
        }
    }
}

public struct KubeIngressClass: Sendable, Equatable {
    public struct Spec: Sendable, Equatable { public var controller: String? }
    public var metadata: ObjectMeta
    public var spec: Spec?
}

extension KubeIngressClass: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        metadata = try json.decode("metadata")
        spec = try json.decodeIfPresent("spec")
    }
}

extension KubeIngressClass.Spec: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        controller = try json.decodeIfPresent("controller")
    }
}

/// A cert-manager Issuer or ClusterIssuer.
public struct KubeIssuer: Sendable, Equatable {
    public struct Status: Sendable, Equatable { public var conditions: [Condition]? }
    public var metadata: ObjectMeta
    public var status: Status?
}

extension KubeIssuer: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        metadata = try json.decode("metadata")
        status = try json.decodeIfPresent("status")
    }
}

extension KubeIssuer.Status: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        conditions = try json.decodeIfPresent("conditions")
    }
}

public struct APIGroupList: Sendable, Equatable {
    public struct Group: Sendable, Equatable { public var name: String }
    public var groups: [Group]?
}

extension APIGroupList: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        groups = try json.decodeIfPresent("groups")
    }
}

extension APIGroupList.Group: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        name = try json.decode("name")
    }
}
