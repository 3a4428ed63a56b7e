import Foundation
import GantryCore
import SQLKit

/// What cost estimates read from the catalog (docs/api.md §8).
public protocol CostRepository: Sendable {
    /// The project's visible environments with their spaces' prices and their live deployments' requests; `policy` is
    /// checked on the project.
    func catalogRequests(ofProject projectID: String, for caller: Caller, requiring policy: String) async throws -> [CatalogCost.EnvironmentRequests]
    /// The environment's space's prices (nil when it has none) and its live deployments' names by ID, for the live estimate.
    func pricing(ofEnvironment environmentID: String, org: String) async throws -> (pricing: SpacePricing?, deploymentNames: [String: String])
}

public struct SQLCostRepository: CostRepository {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public func catalogRequests(ofProject projectID: String, for caller: Caller, requiring policy: String) async throws -> [CatalogCost.EnvironmentRequests] {
        try caller.permissions.authorize(policy, on: .project(projectID), resource: "project")
        struct Row: Decodable {
            var id: String; var name: String; var pricing: String?
            var cpuRequest: String?; var memoryRequest: String?; var replicas: Int?; var deployments: Int
        }
        // One statement: deployments grouped by their requests, read from the `deployments_environment_requests` index, so
        // a project of 2,000 deployments yields a row per distinct request per environment, not a row per deployment.
        let rows = try await database.read { sql in
            _ = try await ProjectRow.fetchLive(projectID, org: caller.organizationID, lock: nil, on: sql)
            return try await sql.raw("""
                SELECT e.id, e.name, s.pricing, d.cpu_request, d.memory_request, CAST(SUM(d.replicas) AS BIGINT) AS replicas, COUNT(d.id) AS deployments
                FROM environments e JOIN spaces s ON s.id = e.space_id
                LEFT JOIN deployments d ON d.environment_id = e.id AND d.deleted_at IS NULL
                WHERE e.project_id = \(bind: projectID) AND e.org_id = \(bind: caller.organizationID) AND e.deleted_at IS NULL
                """ + SQLFragments.visible(caller.permissions.visibleEnvironments(in: projectID), column: "e.id") + """
                 GROUP BY e.id, e.name, s.pricing, d.cpu_request, d.memory_request ORDER BY e.id
                """).all(Row.self)
        }
        var environments: [CatalogCost.EnvironmentRequests] = []
        for row in rows {
            if environments.last?.environmentID != row.id {
                environments.append(.init(environmentID: row.id, name: row.name, pricing: SpacePricing(stored: row.pricing), groups: []))
            }
            if row.deployments > 0 {
                environments[environments.count - 1].groups.append(
                    .init(cpuRequest: row.cpuRequest, memoryRequest: row.memoryRequest, replicas: row.replicas ?? 0, deployments: row.deployments))
            }
        }
        return environments
    }

    public func pricing(ofEnvironment environmentID: String, org: String) async throws -> (pricing: SpacePricing?, deploymentNames: [String: String]) {
        struct Named: Decodable { var id: String; var name: String }
        return try await database.read { sql in
            let pricing = try await sql.raw("""
                SELECT s.pricing FROM environments e JOIN spaces s ON s.id = e.space_id
                WHERE e.id = \(bind: environmentID) AND e.org_id = \(bind: org)
                """).first(decodingColumn: "pricing", as: String?.self) ?? nil
            let names = try await sql.raw("""
                SELECT id, name FROM deployments WHERE environment_id = \(bind: environmentID) AND deleted_at IS NULL
                """).all(Named.self)
            return (SpacePricing(stored: pricing), Dictionary(uniqueKeysWithValues: names.map { ($0.id, $0.name) }))
        }
    }
}
