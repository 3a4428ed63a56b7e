import Foundation

public enum SpaceProvider: String, Sendable, CaseIterable {
    case kubeconfig, aws, gcp, azure
}

public enum SpaceStatus: String, Sendable, CaseIterable {
    case active, unreachable, revoked
}

/// Non-secret provider settings of a space.
public struct SpaceConfig: Sendable, Equatable, Codable {
    public var context: String?
    public var clusterName: String?
    public var region: String?
    public var resourceGroup: String?
    public var subscriptionId: String?
    public var projectId: String?
    public init(context: String? = nil, clusterName: String? = nil, region: String? = nil, resourceGroup: String? = nil,
                subscriptionId: String? = nil, projectId: String? = nil) {
        self.context = context; self.clusterName = clusterName; self.region = region
        self.resourceGroup = resourceGroup; self.subscriptionId = subscriptionId; self.projectId = projectId
    }
}

public struct Space: Sendable, Equatable {
    public var id: String
    public var name: String
    public var provider: SpaceProvider
    public var cloudAccountID: String?
    public var config: SpaceConfig
    public var server: String?
    public var status: SpaceStatus
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int
    /// Prices for cost estimates (docs/api.md §8); nil when none are set.
    public var pricing: SpacePricing?
    public init(id: String, name: String, provider: SpaceProvider, cloudAccountID: String?, config: SpaceConfig, server: String?,
                status: SpaceStatus, createdAt: Date, updatedAt: Date, version: Int, pricing: SpacePricing? = nil) {
        self.id = id; self.name = name; self.provider = provider; self.cloudAccountID = cloudAccountID; self.config = config
        self.server = server; self.status = status; self.createdAt = createdAt; self.updatedAt = updatedAt; self.version = version
        self.pricing = pricing
    }
}

/// A space ready to store: its kubeconfig, if any, already sealed.
public struct NewSpace: Sendable {
    public var name: String
    public var provider: SpaceProvider
    public var cloudAccountID: String?
    public var config: SpaceConfig
    public var server: String?
    public var sealedKubeconfig: String?
    public var pricing: SpacePricing?
    public init(name: String, provider: SpaceProvider, cloudAccountID: String?, config: SpaceConfig, server: String?, sealedKubeconfig: String?,
                pricing: SpacePricing? = nil) {
        self.name = name; self.provider = provider; self.cloudAccountID = cloudAccountID; self.config = config
        self.server = server; self.sealedKubeconfig = sealedKubeconfig; self.pricing = pricing
    }
}

public struct SpacePatch: Sendable {
    public var name: String?
    public var config: SpaceConfig?
    public var server: String?
    public var sealedKubeconfig: String?
    public var pricing: PatchField<SpacePricing>
    public init(name: String? = nil, config: SpaceConfig? = nil, server: String? = nil, sealedKubeconfig: String? = nil,
                pricing: PatchField<SpacePricing> = .absent) {
        self.name = name; self.config = config; self.server = server; self.sealedKubeconfig = sealedKubeconfig; self.pricing = pricing
    }
}

extension Space {
    /// The fields an audit entry may show: never the kubeconfig, only that it was replaced.
    public var auditFields: [String: JSONValue] {
        var config: [String: JSONValue] = [:]
        for (key, value) in [("context", self.config.context), ("clusterName", self.config.clusterName), ("region", self.config.region),
                             ("resourceGroup", self.config.resourceGroup), ("subscriptionId", self.config.subscriptionId),
                             ("projectId", self.config.projectId)] {
            if let value { config[key] = .string(value) }
        }
        return ["name": .string(name), "provider": .string(provider.rawValue), "cloudAccountId": JSONValue(cloudAccountID),
                "config": .object(config), "server": JSONValue(server), "pricing": pricing?.auditValue ?? .null]
    }
}
