import Foundation

public enum CloudProvider: String, Sendable, CaseIterable {
    case aws, gcp, azure
}

public struct CloudAccount: Sendable, Equatable {
    public var id: String
    public var name: String
    public var provider: CloudProvider
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int
    public init(id: String, name: String, provider: CloudProvider, createdAt: Date, updatedAt: Date, version: Int) {
        self.id = id; self.name = name; self.provider = provider; self.createdAt = createdAt; self.updatedAt = updatedAt; self.version = version
    }
}

/// The credential fields each provider requires (docs/api.md §4); values never leave the sealed blob.
public enum CloudCredentialRules {
    public static func required(for provider: CloudProvider) -> [String] {
        switch provider {
        case .aws: ["accessKeyId", "secretAccessKey"]
        case .gcp: ["serviceAccountJson"]
        case .azure: ["tenantId", "clientId", "clientSecret", "subscriptionId"]
        }
    }

    public static func allowed(for provider: CloudProvider) -> Set<String> {
        switch provider {
        case .aws: ["accessKeyId", "secretAccessKey", "sessionToken", "roleArn"]
        case .gcp: ["serviceAccountJson"]
        case .azure: ["tenantId", "clientId", "clientSecret", "subscriptionId"]
        }
    }

    /// Checks a credentials object; messages name fields, never values.
    public static func validate(_ credentials: [String: String], provider: CloudProvider, into validator: inout Validator) {
        for field in required(for: provider) where (credentials[field] ?? "").isEmpty {
            validator.fail("credentials.\(field)", "is required for provider \(provider.rawValue)")
        }
        for field in credentials.keys.sorted() where !allowed(for: provider).contains(field) {
            validator.fail("credentials.\(field)", "is not a credential field of provider \(provider.rawValue)")
        }
    }
}

extension CloudAccount {
    /// The fields an audit entry may show: never the credentials, only that they were replaced.
    public var auditFields: [String: JSONValue] { ["name": .string(name), "provider": .string(provider.rawValue)] }
}
