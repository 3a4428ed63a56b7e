import Foundation

public struct Environment: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var name: String
    public var spaceID: String
    public var namespace: String
    public var registryIntegrationID: String?
    public var registryURL: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var createdBy: String
    public var version: Int

    public init(id: String, projectID: String, name: String, spaceID: String, namespace: String, registryIntegrationID: String?,
                registryURL: String?, createdAt: Date, updatedAt: Date, createdBy: String, version: Int) {
        self.id = id; self.projectID = projectID; self.name = name; self.spaceID = spaceID; self.namespace = namespace
        self.registryIntegrationID = registryIntegrationID; self.registryURL = registryURL; self.createdAt = createdAt
        self.updatedAt = updatedAt; self.createdBy = createdBy; self.version = version
    }
}

/// A field of a PATCH body that may be absent (leave alone), null (clear) or a value (set).
public enum PatchField<Value: Sendable & Equatable>: Sendable, Equatable {
    case absent
    case clear
    case set(Value)

    public func applied(to current: Value?) -> Value? {
        switch self {
        case .absent: current
        case .clear: nil
        case .set(let value): value
        }
    }
}

public struct NewEnvironment: Sendable {
    public var name: String
    public var spaceID: String
    public var namespace: String
    public var registryIntegrationID: String?
    public var registryURL: String?
    public init(name: String, spaceID: String, namespace: String, registryIntegrationID: String?, registryURL: String?) {
        self.name = name; self.spaceID = spaceID; self.namespace = namespace
        self.registryIntegrationID = registryIntegrationID; self.registryURL = registryURL
    }
}

public struct EnvironmentPatch: Sendable {
    public var name: String?
    public var spaceID: String?
    public var namespace: String?
    public var registryIntegrationID: PatchField<String>
    public var registryURL: PatchField<String>
    public init(name: String? = nil, spaceID: String? = nil, namespace: String? = nil,
                registryIntegrationID: PatchField<String> = .absent, registryURL: PatchField<String> = .absent) {
        self.name = name; self.spaceID = spaceID; self.namespace = namespace
        self.registryIntegrationID = registryIntegrationID; self.registryURL = registryURL
    }
}

extension Environment {
    /// The fields an audit entry may show.
    public var auditFields: [String: JSONValue] {
        ["name": .string(name), "spaceId": .string(spaceID), "namespace": .string(namespace),
         "registryIntegrationId": JSONValue(registryIntegrationID), "registryUrl": JSONValue(registryURL)]
    }
}

extension Environment {
    /// Where access checks place this environment and everything in it.
    public var target: Target { .environment(id, project: projectID) }
}
