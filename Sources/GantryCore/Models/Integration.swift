import Foundation

public enum IntegrationKind: String, Sendable, CaseIterable {
    case ecr, gar, acr, dockerhub, ghcr, generic

    /// Cloud registries can authenticate through a cloud account instead of a username and password.
    public var acceptsCloudAccount: Bool { self == .ecr || self == .gar || self == .acr }
}

public struct Integration: Sendable, Equatable {
    public var id: String
    public var name: String
    public var kind: IntegrationKind
    public var registry: String
    public var cloudAccountID: String?
    public var hasCredentials: Bool
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int
    public init(id: String, name: String, kind: IntegrationKind, registry: String, cloudAccountID: String?, hasCredentials: Bool,
                createdAt: Date, updatedAt: Date, version: Int) {
        self.id = id; self.name = name; self.kind = kind; self.registry = registry; self.cloudAccountID = cloudAccountID
        self.hasCredentials = hasCredentials; self.createdAt = createdAt; self.updatedAt = updatedAt; self.version = version
    }
}

public struct IntegrationPatch: Sendable {
    public var name: String?
    public var registry: String?
    public var cloudAccountID: PatchField<String>
    public var sealedCredentials: String?
    public init(name: String? = nil, registry: String? = nil, cloudAccountID: PatchField<String> = .absent, sealedCredentials: String? = nil) {
        self.name = name; self.registry = registry; self.cloudAccountID = cloudAccountID; self.sealedCredentials = sealedCredentials
    }
}

extension Integration {
    /// The fields an audit entry may show: never the credentials, only whether there are some.
    public var auditFields: [String: JSONValue] {
        ["name": .string(name), "kind": .string(kind.rawValue), "registry": .string(registry),
         "cloudAccountId": JSONValue(cloudAccountID), "hasCredentials": .bool(hasCredentials)]
    }
}
