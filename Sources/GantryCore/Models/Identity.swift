import Foundation

public struct Organization: Sendable, Equatable {
    public var id: String
    public var name: String
    public init(id: String, name: String) { self.id = id; self.name = name }
}

public struct User: Sendable, Equatable {
    public var id: String
    public var email: String
    public var name: String
    public init(id: String, email: String, name: String) { self.id = id; self.email = email; self.name = name }
}

public struct Assignment: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var roleID: String
    public var scope: String
    /// `oidc` when single sign-on made it from the identity provider's groups; nil when made by hand.
    public var source: String?
    public init(id: String, userID: String, roleID: String, scope: String, source: String? = nil) {
        self.id = id; self.userID = userID; self.roleID = roleID; self.scope = scope; self.source = source
    }
}

/// A personal access token's metadata; the secret itself exists only in the create response.
public struct TokenInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    public init(id: String, name: String, createdAt: Date, expiresAt: Date?, lastUsedAt: Date?, revokedAt: Date?) {
        self.id = id; self.name = name; self.createdAt = createdAt; self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt; self.revokedAt = revokedAt
    }
}

/// Built-in role IDs (docs/api.md §3).
public enum BuiltInRole {
    public static let admin = "role_admin"
    public static let developer = "role_developer"
    public static let viewer = "role_viewer"
}

/// A role: a named set of policies. Built-in roles have fixed IDs and cannot be changed.
public struct Role: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var policies: [String]
    public var builtIn: Bool
    public var version: Int
    public init(id: String, name: String, description: String, policies: [String], builtIn: Bool, version: Int) {
        self.id = id; self.name = name; self.description = description; self.policies = policies
        self.builtIn = builtIn; self.version = version
    }

    public var auditFields: [String: JSONValue] {
        ["name": .string(name), "description": .string(description), "policies": .array(policies.map(JSONValue.string))]
    }
}

public struct RoleDraft: Sendable {
    public var name: String
    public var description: String
    public var policies: [String]
    public init(name: String, description: String, policies: [String]) {
        self.name = name; self.description = description; self.policies = policies
    }
}
