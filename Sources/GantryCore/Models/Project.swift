import Foundation

public struct Project: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var createdAt: Date
    public var updatedAt: Date
    public var createdBy: String
    public var version: Int
    public var deletedAt: Date?

    public init(id: String, name: String, description: String, createdAt: Date, updatedAt: Date, createdBy: String, version: Int, deletedAt: Date? = nil) {
        self.id = id; self.name = name; self.description = description; self.createdAt = createdAt
        self.updatedAt = updatedAt; self.createdBy = createdBy; self.version = version; self.deletedAt = deletedAt
    }
}

public struct ProjectPatch: Sendable {
    public var name: String?
    public var description: String?
    public init(name: String? = nil, description: String? = nil) { self.name = name; self.description = description }
}

/// What a delete would remove or be blocked by; `?dryRun=true` answers with it.
public struct DeletionPreview: Sendable, Equatable {
    public var environmentCount: Int
    public var deploymentCount: Int
    public var environmentIDs: [String]
    public var deletable: Bool { environmentCount == 0 && deploymentCount == 0 }

    public init(environmentCount: Int, deploymentCount: Int, environmentIDs: [String] = []) {
        self.environmentCount = environmentCount; self.deploymentCount = deploymentCount; self.environmentIDs = environmentIDs
    }
}

public enum DeploymentStatus: String, Sendable, CaseIterable, Codable {
    case pending, deploying, running, degraded, failed, stopped, unknown
}

/// One dashboard card of `GET /projects/stats`.
public struct ProjectStats: Sendable, Equatable {
    public var projectID: String
    public var name: String
    public var environmentCount: Int
    public var serviceCount: Int
    public var statusBuckets: [DeploymentStatus: Int]
    public var lastDeployAt: Date?

    public init(projectID: String, name: String, environmentCount: Int = 0, serviceCount: Int = 0,
                statusBuckets: [DeploymentStatus: Int] = [:], lastDeployAt: Date? = nil) {
        self.projectID = projectID; self.name = name; self.environmentCount = environmentCount
        self.serviceCount = serviceCount; self.statusBuckets = statusBuckets; self.lastDeployAt = lastDeployAt
    }
}

extension Project {
    /// The fields an audit entry may show.
    public var auditFields: [String: JSONValue] { ["name": .string(name), "description": .string(description)] }
}
