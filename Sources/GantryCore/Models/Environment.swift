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
    /// The environment this one was cloned from (docs/api.md §8).
    public var clonedFromID: String?
    /// When the deployer tears this environment down and deletes it.
    public var expiresAt: Date?

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
    public var expiresAt: PatchField<Date>
    public init(name: String? = nil, spaceID: String? = nil, namespace: String? = nil,
                registryIntegrationID: PatchField<String> = .absent, registryURL: PatchField<String> = .absent,
                expiresAt: PatchField<Date> = .absent) {
        self.name = name; self.spaceID = spaceID; self.namespace = namespace
        self.registryIntegrationID = registryIntegrationID; self.registryURL = registryURL; self.expiresAt = expiresAt
    }
}

extension Environment {
    /// The fields an audit entry may show.
    public var auditFields: [String: JSONValue] {
        ["name": .string(name), "spaceId": .string(spaceID), "namespace": .string(namespace),
         "registryIntegrationId": JSONValue(registryIntegrationID), "registryUrl": JSONValue(registryURL),
         "expiresAt": JSONValue(expiresAt)]
    }
}

extension Environment {
    /// Where access checks place this environment and everything in it.
    public var target: Target { .environment(id, project: projectID) }
}

/// `POST /environments/{envID}/clone` (docs/api.md §8), checked for shape; storage checks it against the source.
public struct CloneRequest: Sendable {
    public struct Override: Sendable, Equatable {
        public var image: String?
        public var replicas: Int?
        public init(image: String?, replicas: Int?) { self.image = image; self.replicas = replicas }
    }

    public var name: String
    public var namespace: String
    /// nil: the source's space.
    public var spaceID: String?
    public var expiresAt: Date?
    /// nil: every live deployment of the source.
    public var deploymentIDs: [String]?
    /// By deployment name.
    public var overrides: [String: Override]
    public var deploy: Bool

    public init(name: String, namespace: String, spaceID: String?, expiresAt: Date?, deploymentIDs: [String]?,
                overrides: [String: Override], deploy: Bool) {
        self.name = name; self.namespace = namespace; self.spaceID = spaceID; self.expiresAt = expiresAt
        self.deploymentIDs = deploymentIDs; self.overrides = overrides; self.deploy = deploy
    }
}

/// Filters of `GET /environments` across projects.
public struct EnvironmentFilter: Sendable {
    public var projectID: String?
    public var spaceID: String?
    /// Only environments whose `expiresAt` is at most this late.
    public var expiringBefore: Date?
    public init(projectID: String? = nil, spaceID: String? = nil, expiringBefore: Date? = nil) {
        self.projectID = projectID; self.spaceID = spaceID; self.expiringBefore = expiringBefore
    }
}

extension IngressSpec {
    /// A clone's host: `<environment name>-` before its first label (after a `*.` wildcard), so `shop.example.com`
    /// becomes `pr-42-shop.example.com` and stays in the same DNS zone. The name is made a DNS label first (lowercase,
    /// other characters as `-`) and shortened so the label keeps to 63 characters.
    public func prefixingHost(with environmentName: String) -> IngressSpec {
        let wildcard = host.hasPrefix("*.") ? "*." : ""
        let name = host.dropFirst(wildcard.count)
        let firstLabel = name.prefix { $0 != "." }
        var prefix = ""
        for character in environmentName.lowercased() {
            if character.isASCII, character.isLetter || character.isNumber {
                prefix.append(character)
            } else if !prefix.isEmpty, prefix.last != "-" {
                prefix.append("-")
            }
        }
        prefix = String(prefix.prefix(max(1, 62 - firstLabel.count)))
        while prefix.hasSuffix("-") { prefix.removeLast() }
        if prefix.isEmpty { prefix = "preview" }
        var copy = self
        copy.host = wildcard + String((prefix + "-" + firstLabel).prefix(63)) + name.dropFirst(firstLabel.count)
        return copy
    }
}
