import Foundation
import GantryCore
import SQLKit
import Synchronization

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
    /// Spaces' prices by their stored text: decoding the JSON took ~30 µs, on every estimate.
    let prices = PricingCache()

    public init(database: any Database) {
        self.database = database
    }

    public func catalogRequests(ofProject projectID: String, for caller: Caller, requiring policy: String) async throws -> [CatalogCost.EnvironmentRequests] {
        try caller.permissions.authorize(policy, on: .project(projectID), resource: "project")
        let org = caller.organizationID
        // A row per environment: its deployments' totals are kept by triggers in `environment_requests` (migration 0010).
        let rows = try await database.read { sql in
            let rows = try await sql.raw("""
                SELECT e.id, e.name, s.pricing, r.cpu_milli, r.memory_bytes, r.without_requests
                FROM environments e JOIN projects p ON p.id = e.project_id AND p.deleted_at IS NULL
                    JOIN spaces s ON s.id = e.space_id JOIN environment_requests r ON r.environment_id = e.id
                WHERE e.project_id = \(bind: projectID) AND e.org_id = \(bind: org) AND e.deleted_at IS NULL
                """ + SQLFragments.visible(caller.permissions.visibleEnvironments(in: projectID), column: "e.id") + " ORDER BY e.id").all()
            // No row: an empty project, or none at all (404).
            if rows.isEmpty { _ = try await ProjectRow.fetchLive(projectID, org: org, lock: nil, on: sql) }
            return rows
        }
        // Read by hand, not through a Decodable row: SQLKit's decoder (its snake-case keys then) was a third of a
        // 50-environment answer (perf, bench/preview.sh).
        return try rows.map { row in
            .init(
                environmentID: try row.string("id"), name: try row.string("name"),
                pricing: try row.decode(column: "pricing", as: String?.self).flatMap(prices.pricing(stored:)),
                requested: RequestedCapacity(cpuMilli: Int128(try row.decode(column: "cpu_milli", as: Double.self)),
                                             memoryBytes: Int128(try row.decode(column: "memory_bytes", as: Double.self))),
                deploymentsWithoutRequests: try row.decode(column: "without_requests", as: Int.self)
            )
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
            return (pricing.flatMap(prices.pricing(stored:)), Dictionary(uniqueKeysWithValues: names.map { ($0.id, $0.name) }))
        }
    }
}

/// Decoded prices by their stored text. A text never changes meaning, so entries never go stale; the cache is emptied
/// when it holds more texts than an installation has priced spaces.
final class PricingCache: Sendable {
    static let capacity = 1024
    private let byText = Mutex<[String: SpacePricing]>([:])

    func pricing(stored text: String) -> SpacePricing? {
        if let known = byText.withLock({ $0[text] }) { return known }
        guard let pricing = SpacePricing(stored: text) else { return nil }
        byText.withLock { cache in
            if cache.count >= Self.capacity { cache.removeAll() }
            cache[text] = pricing
        }
        return pricing
    }
}
