import Foundation

// Lenient Decodables holding only the fields Gantry reads. Missing fields decode as nil, as Kubernetes
// omits zero values.

public struct KubeList<Item: Decodable>: Decodable {
    public struct ListMeta: Decodable {
        public var `continue`: String?
        public var resourceVersion: String?
    }
    public var items: [Item]?
    public var metadata: ListMeta?
}

public struct KubeStatus: Decodable, Sendable {
    public var kind: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
}

public struct ObjectMeta: Codable, Sendable, Equatable {
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

public struct Condition: Decodable, Sendable, Equatable {
    public var type: String
    public var status: String
    public var reason: String?
}

public struct KubeNamespace: Codable, Sendable {
    public struct Status: Codable, Sendable { public var phase: String? }
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

public struct KubeDeployment: Decodable, Sendable {
    public struct Spec: Decodable, Sendable {
        public var replicas: Int?
        public var paused: Bool?
    }
    public struct Status: Decodable, Sendable {
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

public struct KubePod: Decodable, Sendable {
    public struct Container: Decodable, Sendable {
        public struct Resources: Decodable, Sendable { public var requests: [String: QuantityText]? }
        public var name: String?
        public var resources: Resources?
        public var restartPolicy: String?
    }
    public struct Spec: Decodable, Sendable {
        public var initContainers: [Container]?
        public var containers: [Container]?
        public var overhead: [String: QuantityText]?
    }
    public struct Status: Decodable, Sendable { public var phase: String? }
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?
}

/// A quantity as JSON carries it: normally a string, but a bare number is accepted too.
public struct QuantityText: Decodable, Sendable, Equatable {
    public var text: String
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) { self.text = text; return }
        if let number = try? container.decode(Int64.self) { self.text = String(number); return }
        self.text = String(try container.decode(Double.self))
    }
}

public struct KubeIngressClass: Decodable, Sendable {
    public struct Spec: Decodable, Sendable { public var controller: String? }
    public var metadata: ObjectMeta
    public var spec: Spec?
}

/// A cert-manager Issuer or ClusterIssuer.
public struct KubeIssuer: Decodable, Sendable {
    public struct Status: Decodable, Sendable { public var conditions: [Condition]? }
    public var metadata: ObjectMeta
    public var status: Status?
}

public struct APIGroupList: Decodable, Sendable {
    public struct Group: Decodable, Sendable { public var name: String }
    public var groups: [Group]?
}
