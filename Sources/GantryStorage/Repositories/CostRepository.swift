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
        struct Priced: Decodable { var id: String; var name: String; var pricing: String? }
        struct Group: Decodable { var environmentId: String; var cpuRequest: String?; var memoryRequest: String?; var replicas: Int; var deployments: Int }
        let org = caller.organizationID
        let visible = SQLFragments.visible(caller.permissions.visibleEnvironments(in: projectID), column: "e.id")
        // Two statements, a row per environment and a row per distinct request size in each: the deployments are read from
        // the `deployments_environment_requests` index and added up by the database, so 2,000 deployments of a few
        // sizes come back as a few hundred rows.
        let (environments, groups) = try await database.read { sql in
            _ = try await ProjectRow.fetchLive(projectID, org: org, lock: nil, on: sql)
            let environments = try await sql.raw("""
                SELECT e.id, e.name, s.pricing FROM environments e JOIN spaces s ON s.id = e.space_id
                WHERE e.project_id = \(bind: projectID) AND e.org_id = \(bind: org) AND e.deleted_at IS NULL
                """ + visible + " ORDER BY e.id").all(Priced.self)
            let groups = try await sql.raw("""
                SELECT d.environment_id, d.cpu_request, d.memory_request, CAST(SUM(d.replicas) AS BIGINT) AS replicas, COUNT(*) AS deployments
                FROM deployments d
                WHERE d.deleted_at IS NULL AND d.environment_id IN (
                    SELECT e.id FROM environments e
                    WHERE e.project_id = \(bind: projectID) AND e.org_id = \(bind: org) AND e.deleted_at IS NULL
                """ + visible + ") GROUP BY d.environment_id, d.cpu_request, d.memory_request").all(Group.self)
            return (environments, groups)
        }
        var byEnvironment: [String: [CatalogCost.RequestGroup]] = [:]
        for group in groups {
            byEnvironment[group.environmentId, default: []].append(
                .init(cpuRequest: group.cpuRequest, memoryRequest: group.memoryRequest, replicas: group.replicas, deployments: group.deployments))
        }
        // A space's prices are one JSON text: read once per distinct text, not once per environment.
        var pricing: [String: SpacePricing?] = [:]
        return environments.map { environment in
            let prices = environment.pricing.flatMap { text in
                pricing[text] ?? { let read = SpacePricing(stored: text); pricing[text] = read; return read }()
            }
            return .init(environmentID: environment.id, name: environment.name, pricing: prices, groups: byEnvironment[environment.id] ?? [])
        }
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
