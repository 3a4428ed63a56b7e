@testable import KubeClient

/// The Kubernetes types as they were read before `KubeDecodable`: Foundation's `JSONDecoder` over synthesized
/// `Decodable` (copied from KubeObjects.swift as it stood), kept only as the reference the new decoder is
/// compared with. `current` maps each onto today's type, field by field.
enum Legacy {
    struct KubeList<Item: Decodable>: Decodable {
        struct ListMeta: Decodable {
            var `continue`: String?
            var resourceVersion: String?
        }
        var items: [Item]?
        var metadata: ListMeta?
    }

    struct KubeStatus: Decodable {
        var kind: String?
        var message: String?
        var reason: String?
        var code: Int?
    }

    struct ObjectMeta: Decodable {
        var name: String
        var namespace: String?
        var generation: Int64?
        var creationTimestamp: String?
        var deletionTimestamp: String?
        var labels: [String: String]?
        var annotations: [String: String]?
    }

    struct Condition: Decodable {
        var type: String
        var status: String
        var reason: String?
    }

    struct KubeNamespace: Decodable {
        struct Status: Decodable { var phase: String? }
        var apiVersion: String?
        var kind: String?
        var metadata: ObjectMeta
        var status: Status?
    }

    struct KubeDeployment: Decodable {
        struct Spec: Decodable {
            var replicas: Int?
            var paused: Bool?
        }
        struct Status: Decodable {
            var observedGeneration: Int64?
            var replicas: Int?
            var updatedReplicas: Int?
            var readyReplicas: Int?
            var availableReplicas: Int?
            var conditions: [Condition]?
        }
        var metadata: ObjectMeta
        var spec: Spec?
        var status: Status?
    }

    struct KubePod: Decodable {
        struct Container: Decodable {
            struct Resources: Decodable { var requests: [String: QuantityText]? }
            var name: String?
            var resources: Resources?
            var restartPolicy: String?
        }
        struct Spec: Decodable {
            var initContainers: [Container]?
            var containers: [Container]?
            var overhead: [String: QuantityText]?
        }
        struct Status: Decodable { var phase: String? }
        var metadata: ObjectMeta
        var spec: Spec?
        var status: Status?
    }

    struct QuantityText: Decodable {
        var text: String
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self.text = text; return }
            if let number = try? container.decode(Int64.self) { self.text = String(number); return }
            self.text = String(try container.decode(Double.self))
        }
    }

    struct KubeIngressClass: Decodable {
        struct Spec: Decodable { var controller: String? }
        var metadata: ObjectMeta
        var spec: Spec?
    }

    struct KubeIssuer: Decodable {
        struct Status: Decodable { var conditions: [Condition]? }
        var metadata: ObjectMeta
        var status: Status?
    }

    struct APIGroupList: Decodable {
        struct Group: Decodable { var name: String }
        var groups: [Group]?
    }
}

/// A legacy value and the type it became.
protocol LegacyMirror: Decodable {
    associatedtype Current: KubeDecodable & Equatable
    var current: Current { get }
}

extension Legacy.KubeList: LegacyMirror where Item: LegacyMirror {
    var current: KubeList<Item.Current> {
        KubeList(items: items?.map(\.current), metadata: metadata.map { .init(continue: $0.continue, resourceVersion: $0.resourceVersion) })
    }
}

extension Legacy.KubeStatus: LegacyMirror {
    var current: KubeStatus { KubeStatus(kind: kind, message: message, reason: reason, code: code) }
}

extension Legacy.ObjectMeta: LegacyMirror {
    var current: ObjectMeta {
        var meta = ObjectMeta(name: name, labels: labels)
        meta.namespace = namespace
        meta.generation = generation
        meta.creationTimestamp = creationTimestamp
        meta.deletionTimestamp = deletionTimestamp
        meta.annotations = annotations
        return meta
    }
}

extension Legacy.Condition: LegacyMirror {
    var current: Condition { Condition(type: type, status: status, reason: reason) }
}

extension Legacy.KubeNamespace: LegacyMirror {
    var current: KubeNamespace {
        var namespace = KubeNamespace(name: metadata.name, labels: [:])
        namespace.apiVersion = apiVersion
        namespace.kind = kind
        namespace.metadata = metadata.current
        namespace.status = status.map { KubeNamespace.Status(phase: $0.phase) }
        return namespace
    }
}

extension Legacy.KubeDeployment: LegacyMirror {
    var current: KubeDeployment {
        KubeDeployment(
            metadata: metadata.current,
            spec: spec.map { .init(replicas: $0.replicas, paused: $0.paused) },
            status: status.map {
                .init(observedGeneration: $0.observedGeneration, replicas: $0.replicas, updatedReplicas: $0.updatedReplicas,
                      readyReplicas: $0.readyReplicas, availableReplicas: $0.availableReplicas, conditions: $0.conditions?.map(\.current))
            }
        )
    }
}

extension Legacy.KubePod.Container {
    var current: KubePod.Container {
        .init(name: name, resources: resources.map { .init(requests: $0.requests?.mapValues(\.current)) }, restartPolicy: restartPolicy)
    }
}

extension Legacy.KubePod: LegacyMirror {
    var current: KubePod {
        KubePod(
            metadata: metadata.current,
            spec: spec.map {
                .init(initContainers: $0.initContainers?.map(\.current), containers: $0.containers?.map(\.current),
                      overhead: $0.overhead?.mapValues(\.current))
            },
            status: status.map { .init(phase: $0.phase) }
        )
    }
}

extension Legacy.QuantityText: LegacyMirror {
    var current: QuantityText { QuantityText(text: text) }
}

extension Legacy.KubeIngressClass: LegacyMirror {
    var current: KubeIngressClass { KubeIngressClass(metadata: metadata.current, spec: spec.map { .init(controller: $0.controller) }) }
}

extension Legacy.KubeIssuer: LegacyMirror {
    var current: KubeIssuer { KubeIssuer(metadata: metadata.current, status: status.map { .init(conditions: $0.conditions?.map(\.current)) }) }
}

extension Legacy.APIGroupList: LegacyMirror {
    var current: APIGroupList { APIGroupList(groups: groups?.map { .init(name: $0.name) }) }
}
