import Foundation
import GantryCore
import SQLKit

/// An environment whose pull secret carries a minted login, and what the deployer needs to write it again.
public struct PullSecretTarget: Sendable {
    public var organizationID: String
    public var projectID: String
    public var environmentID: String
    public var namespace: String
    public var spaceID: String
    public var registry: RegistryAccess?
    /// The secret is shared by the environment's live deployments; with none left it is not renewed.
    public var liveDeployments: Int
}

/// When each environment's `gantry-registry` must be written again (docs/api.md §7 "What is applied": a minted login
/// is renewed before it expires). Renewals are leased like deploy jobs: a replica that dies mid-renewal loses nothing
/// and two replicas never renew one secret at once.
public protocol PullSecretRenewalRepository: Sendable {
    /// The environment's secret must be renewed at `at`; nil forgets it (a login that does not expire, or no secret).
    func schedule(environmentID: String, at: Date?) async throws
    /// Leases the environment whose renewal is due soonest, or returns nil when none is due.
    func claimDue(owner: String, now: Date, leaseFor: TimeInterval) async throws -> String?
    /// The environment as the secret is written from it, or nil when it was deleted.
    func target(environmentID: String) async throws -> PullSecretTarget?
}

public struct SQLPullSecretRenewalRepository: PullSecretRenewalRepository {
    let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public func schedule(environmentID: String, at: Date?) async throws {
        guard let at else {
            try await database.transaction { sql in
                try await sql.raw("DELETE FROM pull_secret_renewals WHERE environment_id = \(bind: environmentID)").run()
            }
            return
        }
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO pull_secret_renewals (environment_id, org_id, renew_at)
                SELECT id, org_id, \(bind: Timestamp.micros(at)) FROM environments WHERE id = \(bind: environmentID)
                ON CONFLICT (environment_id) DO UPDATE SET renew_at = excluded.renew_at, lease_owner = NULL, lease_until = NULL
                """).run()
        }
    }

    public func claimDue(owner: String, now: Date, leaseFor: TimeInterval) async throws -> String? {
        let at = Timestamp.micros(now)
        let skipLocked: SQLQueryString = database.kind == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return try await database.transaction { sql in
            guard let environmentID = try await sql.raw("""
                SELECT environment_id FROM pull_secret_renewals
                WHERE renew_at <= \(bind: at) AND (lease_until IS NULL OR lease_until < \(bind: at))
                ORDER BY renew_at LIMIT 1
                """ + skipLocked).first(decodingColumn: "environment_id", as: String.self) else { return nil }
            try await sql.raw("""
                UPDATE pull_secret_renewals SET lease_owner = \(bind: owner), lease_until = \(bind: at + Int64(leaseFor * 1_000_000))
                WHERE environment_id = \(bind: environmentID)
                """).run()
            return environmentID
        }
    }

    public func target(environmentID: String) async throws -> PullSecretTarget? {
        struct Row: Decodable {
            var orgId: String; var projectId: String; var namespace: String; var spaceId: String; var liveDeployments: Int
        }
        return try await database.read { sql in
            guard let found = try await sql.raw("""
                SELECT e.org_id, e.project_id, e.namespace, e.space_id, \(unsafeRaw: RegistryAccess.columns),
                    (SELECT COUNT(*) FROM deployments d WHERE d.environment_id = e.id AND d.deleted_at IS NULL) AS live_deployments
                FROM environments e \(unsafeRaw: RegistryAccess.joins)
                WHERE e.id = \(bind: environmentID) AND e.deleted_at IS NULL
                """).first() else { return nil }
            let row = try found.decode(model: Row.self, keyDecodingStrategy: ColumnNames.fromProperties)
            return PullSecretTarget(organizationID: row.orgId, projectID: row.projectId, environmentID: environmentID, namespace: row.namespace,
                                    spaceID: row.spaceId, registry: try RegistryAccess.decode(found), liveDeployments: row.liveDeployments)
        }
    }
}
