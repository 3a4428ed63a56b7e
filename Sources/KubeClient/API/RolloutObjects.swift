/// What the deploy engine reads back from a cluster: a Deployment's template (for drift), its pods'
/// waiting reasons (for rollout failures), Events (for the timeline), and bare object names (for teardown).
/// Separate from the stats types so the stats path decodes no more than it needs.

/// A Deployment with its pod template's first-level container fields.
public struct KubeRollout: Sendable, Equatable {
    public struct Container: Sendable, Equatable {
        public struct EnvVar: Sendable, Equatable { public var name: String; public var value: String? }
        public var name: String?
        public var image: String?
        public var env: [EnvVar]?
        public var requests: [String: QuantityText]?
    }
    public var metadata: ObjectMeta
    public var replicas: Int?
    public var containers: [Container]
    public var status: KubeDeployment.Status?

    /// The Deployment as the status classifier reads it.
    public var deployment: KubeDeployment {
        KubeDeployment(metadata: metadata, spec: KubeDeployment.Spec(replicas: replicas, paused: paused), status: status)
    }
    var paused: Bool?
}

extension KubeRollout: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        metadata = try json.decode("metadata")
        status = try json.decodeIfPresent("status")
        let spec = try json.child("spec")
        replicas = try spec?.decodeIfPresent("replicas")
        paused = try spec?.decodeIfPresent("paused")
        containers = try spec?.child("template")?.child("spec")?.decodeIfPresent("containers") ?? []
    }
}

extension KubeRollout.Container: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        name = try json.decodeIfPresent("name")
        image = try json.decodeIfPresent("image")
        env = try json.decodeIfPresent("env")
        requests = try json.child("resources")?.decodeIfPresent("requests")
    }
}

extension KubeRollout.Container.EnvVar: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        name = try json.decode("name")
        value = try json.decodeIfPresent("value")
    }
}

/// A pod's containers that wait, and why.
public struct KubePodState: Sendable, Equatable {
    public struct Waiting: Sendable, Equatable {
        public var container: String
        public var reason: String
        public var message: String?
    }
    public var metadata: ObjectMeta
    public var phase: String?
    public var waiting: [Waiting]
}

extension KubePodState: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        metadata = try json.decode("metadata")
        let status = try json.child("status")
        phase = try status?.decodeIfPresent("phase")
        var waiting: [Waiting] = []
        for key in ["initContainerStatuses", "containerStatuses"] {
            guard let statuses = try status?.child(key) else { continue }
            for entry in try statuses.elements {
                guard let state = try entry.child("state")?.child("waiting") else { continue }
                let reason: String? = try state.decodeIfPresent("reason")
                waiting.append(Waiting(container: try entry.decodeIfPresent("name") ?? "", reason: reason ?? "Waiting",
                                       message: try state.decodeIfPresent("message")))
            }
        }
        self.waiting = waiting
    }
}

/// An Event, read from `events.k8s.io/v1` or core `v1` (the same objects, two shapes).
public struct KubeEvent: Sendable, Equatable {
    public var kind: String
    public var name: String
    public var type: String
    public var reason: String
    public var message: String
    public var count: Int
    /// RFC 3339, as the cluster wrote it.
    public var time: String?
}

extension KubeEvent: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        // events.k8s.io/v1 says `regarding` and `note`; core v1 says `involvedObject` and `message`.
        let modern = try json.child("regarding")
        let involved = try json.child("involvedObject")
        let regarding = modern ?? involved
        kind = try regarding?.decodeIfPresent("kind") ?? ""
        name = try regarding?.decodeIfPresent("name") ?? ""
        type = try json.decodeIfPresent("type") ?? "Normal"
        reason = try json.decodeIfPresent("reason") ?? ""
        let note: String? = try json.decodeIfPresent("note")
        let legacyMessage: String? = try json.decodeIfPresent("message")
        message = note ?? legacyMessage ?? ""
        let series: Int? = try json.child("series")?.decodeIfPresent("count")
        let deprecated: Int? = try json.decodeIfPresent("deprecatedCount")
        let legacy: Int? = try json.decodeIfPresent("count")
        count = max(series ?? deprecated ?? legacy ?? 1, 1)
        let candidates: [String?] = [
            try json.child("series")?.decodeIfPresent("lastObservedTime"), try json.decodeIfPresent("deprecatedLastTimestamp"),
            try json.decodeIfPresent("lastTimestamp"), try json.decodeIfPresent("eventTime"), try json.decodeIfPresent("firstTimestamp"),
            try json.child("metadata")?.decodeIfPresent("creationTimestamp"),
        ]
        time = candidates.lazy.compactMap { $0 }.first
    }
}

/// Any object, by name: enough to delete what a label selector finds.
public struct KubeObjectName: Sendable, Equatable {
    public var metadata: ObjectMeta
}

extension KubeObjectName: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        metadata = try json.decode("metadata")
    }
}

extension JSONView {
    /// The member `key` when it is present and not null.
    func child(_ key: String) throws(JSONError) -> JSONView? {
        guard let value = try self[key], !value.isNull else { return nil }
        return value
    }
}
