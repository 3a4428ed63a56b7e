import Foundation
import GantryCore
import SQLKit

/// An environment whose `expiresAt` has passed, as the deployer tears it down.
public struct ExpiringEnvironment: Sendable, Equatable {
    public var organizationID: String
    public var projectID: String
    public var environmentID: String
    public var name: String
    public var namespace: String
    public var spaceID: String
    public var expiresAt: Date
    /// When tearing it down first failed; nil while it has not.
    public var failingSince: Date?
}

/// The expiry of preview environments (docs/api.md §8), leased like deploy jobs: the state is the environment row
/// itself (`expires_at`, `expiry_lease_*`), so a deployer killed mid-expiry loses nothing (the lease runs out and the
/// next pass takes it over), two deployers never expire one environment at once, and the last step — soft-deleting
/// and auditing — happens once, whoever gets there.
public protocol EnvironmentExpiryRepository: Sendable {
    /// Leases the live environment that expired first and is not leased, or returns nil when none is due. The
    /// revisions of its deployments not yet applied are superseded, so no deploy starts while it is torn down.
    func claimDue(owner: String, now: Date, leaseFor: TimeInterval) async throws -> ExpiringEnvironment?
    /// Keeps the lease while the teardown runs; false when it was lost.
    func renew(_ environmentID: String, owner: String, until: Date) async throws -> Bool
    /// The teardown failed: try again at `retryAt`, remembering when failures began.
    func retry(_ environmentID: String, now: Date, retryAt: Date) async throws
    /// Soft-deletes the environment, its deployments and their connections, and writes `environment.expired` (system
    /// actor) with `outcome` as its changes; false (and nothing written) when it is already gone or no longer expired.
    func finish(_ environment: ExpiringEnvironment, outcome: [String: JSONValue], now: Date) async throws -> Bool
}

public struct SQLEnvironmentExpiryRepository: EnvironmentExpiryRepository {
    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    struct Row: Decodable {
        var id: String; var orgId: String; var projectId: String; var name: String; var namespace: String; var spaceId: String
        var expiresAt: Int64; var expiryFailingSince: Int64?
    }

    public func claimDue(owner: String, now: Date, leaseFor: TimeInterval) async throws -> ExpiringEnvironment? {
        let at = Timestamp.micros(now)
        let due: SQLQueryString = """
            SELECT e.id, e.org_id, e.project_id, e.name, e.namespace, e.space_id, e.expires_at, e.expiry_failing_since
            FROM environments e JOIN projects p ON p.id = e.project_id AND p.deleted_at IS NULL
            WHERE e.deleted_at IS NULL AND e.expires_at IS NOT NULL AND e.expires_at <= \(bind: at)
                AND (e.expiry_lease_until IS NULL OR e.expiry_lease_until < \(bind: at))
            ORDER BY e.expires_at LIMIT 1
            """
        // Looked for every pass: a read first, so an idle deployer does not take SQLite's one writer every second.
        guard try await database.read({ sql in try await sql.raw(due).first(decodingColumn: "id", as: String.self) }) != nil else { return nil }
        let skipLocked: SQLQueryString = database.kind == .postgres ? " FOR UPDATE OF e SKIP LOCKED" : ""
        return try await database.transaction { [ids] sql in
            guard let row = try await sql.raw(due + skipLocked).first(Row.self) else { return nil }
            try await sql.raw("""
                UPDATE environments SET expiry_lease_owner = \(bind: owner), expiry_lease_until = \(bind: at + Int64(leaseFor * 1_000_000))
                WHERE id = \(bind: row.id)
                """).run()
            let deployments = try await sql.raw("""
                SELECT id FROM deployments WHERE environment_id = \(bind: row.id) AND deleted_at IS NULL
                """).all(decodingColumn: "id", as: String.self)
            if !deployments.isEmpty {
                try await DeployQueue.supersedeUnapplied(
                    deployments, message: { _ in "The environment expired before this revision was applied." },
                    event: { "Revision \($1) will not be applied: the environment expired." }, org: row.orgId, ids: ids, now: at, on: sql
                )
            }
            return ExpiringEnvironment(
                organizationID: row.orgId, projectID: row.projectId, environmentID: row.id, name: row.name, namespace: row.namespace,
                spaceID: row.spaceId, expiresAt: Timestamp.date(row.expiresAt), failingSince: row.expiryFailingSince.map(Timestamp.date)
            )
        }
    }

    public func renew(_ environmentID: String, owner: String, until: Date) async throws -> Bool {
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE environments SET expiry_lease_until = \(bind: Timestamp.micros(until))
                WHERE id = \(bind: environmentID) AND expiry_lease_owner = \(bind: owner) AND deleted_at IS NULL
                RETURNING id
                """).first() != nil
        }
    }

    public func retry(_ environmentID: String, now: Date, retryAt: Date) async throws {
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE environments SET expiry_lease_owner = NULL, expiry_lease_until = \(bind: Timestamp.micros(retryAt)),
                    expiry_failing_since = COALESCE(expiry_failing_since, \(bind: Timestamp.micros(now)))
                WHERE id = \(bind: environmentID)
                """).run()
        }
    }

    public func finish(_ environment: ExpiringEnvironment, outcome: [String: JSONValue], now: Date) async throws -> Bool {
        let at = Timestamp.micros(now)
        let id = environment.environmentID
        return try await database.transaction { [ids] sql in
            // The row itself decides: whoever soft-deletes it writes the one audit entry.
            guard try await sql.raw("""
                UPDATE environments SET deleted_at = \(bind: at), expiry_lease_owner = NULL, expiry_lease_until = NULL
                WHERE id = \(bind: id) AND deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at <= \(bind: at)
                RETURNING id
                """).first() != nil else { return false }
            let deployments = try await sql.raw("""
                SELECT id FROM deployments WHERE environment_id = \(bind: id) AND deleted_at IS NULL
                """).all(decodingColumn: "id", as: String.self)
            try await sql.raw("""
                UPDATE connections SET deleted_at = \(bind: at) WHERE environment_id = \(bind: id) AND deleted_at IS NULL
                """).run()
            try await sql.raw("UPDATE deployments SET deleted_at = \(bind: at) WHERE environment_id = \(bind: id) AND deleted_at IS NULL").run()
            if !deployments.isEmpty {
                // Whatever was still queued for them is moot: the objects are gone with the environment.
                try await sql.raw("""
                    UPDATE deploy_jobs SET done = TRUE, lease_owner = NULL, lease_until = NULL
                    WHERE deployment_id IN (\(binds: deployments)) AND done = FALSE
                    """).run()
            }
            try await sql.raw("DELETE FROM pull_secret_renewals WHERE environment_id = \(bind: id)").run()
            var changes = outcome
            changes["expiresAt"] = .object(["from": JSONValue(environment.expiresAt), "to": .null])
            changes["deployments"] = .object(["from": .int(deployments.count), "to": .int(0)])
            try await AuditTrail.record(
                AuditEvent("expired", "environment", id, projectID: environment.projectID, environmentID: id, changes: changes),
                actor: .system, org: environment.organizationID, requestID: nil, ids: ids, on: sql
            )
            return true
        }
    }
}
