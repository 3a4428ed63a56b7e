import Foundation
import GantryCore
import SQLKit

/// One durable unit of deployer work: apply a revision, or tear a deleted deployment down.
public struct DeployJob: Sendable, Equatable {
    public enum Kind: String, Sendable { case apply, teardown }
    public var id: String
    public var organizationID: String
    public var deploymentID: String
    public var revisionID: String?
    public var kind: Kind
    public var attempts: Int
    public var firstFailureAt: Date?
}

/// Everything the deployer needs to run a job, read in one go.
public struct DeployTarget: Sendable {
    public var owner: ManifestOwner
    public var spaceID: String
    public var spaceName: String
    public var revision: Revision?
    public var sealedSecretEnv: String?
    /// What the current revision applied (`Kind/name`), for pruning.
    public var previouslyApplied: [String]
    public var registry: RegistryAccess?
    /// The environment still has other live deployments (its pull secret stays on teardown).
    public var environmentHasOtherDeployments: Bool
}

/// The deployer's side of revisions: leasing jobs, recording what a job did, and Gantry's timeline events.
public protocol DeployQueueRepository: Sendable {
    /// Leases the next due job, or nil. A job runs only once every earlier job of its deployment is done, and is
    /// leased by one process at a time; a lease that ran out (its holder died) is taken over.
    func claim(owner: String, now: Date, leaseFor: TimeInterval) async throws -> DeployJob?
    /// Extends a lease the owner still holds; false when it lost it.
    func renew(_ job: DeployJob, owner: String, until: Date) async throws -> Bool
    func target(of job: DeployJob) async throws -> DeployTarget
    /// The revision is being applied (no-op unless it is queued).
    func markApplying(_ job: DeployJob) async throws -> Bool
    /// The cluster accepted every object: the revision becomes current, and the job ends.
    func finishApplied(_ job: DeployJob, revision: Int, spec: DeploySpec, applied: [String], now: Date) async throws
    /// The revision fails (a refusal, a namespace owned by someone else, a cluster gone for too long); the job ends.
    func finishFailed(_ job: DeployJob, message: String, now: Date) async throws
    /// The job ends without doing anything (its revision was superseded, or its deployment is gone).
    func finishSkipped(_ job: DeployJob) async throws
    /// The job runs again at `retryAt`; the first failure's time is kept for the give-up rule.
    func retry(_ job: DeployJob, error: String, now: Date, retryAt: Date) async throws
    /// The teardown finished: audited `deployment.torn_down` with a system actor.
    func finishTeardown(_ job: DeployJob, now: Date) async throws
}

public struct DeployQueue: DeployQueueRepository {
    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    struct JobRow: Decodable {
        var id: String
        var orgId: String
        var deploymentId: String
        var revisionId: String?
        var kind: String
        var attempts: Int
        var firstFailureAt: Int64?

        var job: DeployJob {
            DeployJob(id: id, organizationID: orgId, deploymentID: deploymentId, revisionID: revisionId, kind: DeployJob.Kind(rawValue: kind) ?? .apply,
                      attempts: attempts, firstFailureAt: firstFailureAt.map(Timestamp.date))
        }
    }

    public func claim(owner: String, now: Date, leaseFor: TimeInterval) async throws -> DeployJob? {
        let at = Timestamp.micros(now)
        // PostgreSQL: replicas skip each other's candidate rows instead of queueing behind them. SQLite's one writer serializes claims.
        let skipLocked: SQLQueryString = database.kind == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return try await database.transaction { sql in
            guard var row = try await sql.raw("""
                SELECT j.id, j.org_id, j.deployment_id, j.revision_id, j.kind, j.attempts, j.first_failure_at FROM deploy_jobs j
                WHERE j.done = FALSE AND j.run_after <= \(bind: at) AND (j.lease_until IS NULL OR j.lease_until < \(bind: at))
                    AND NOT EXISTS (SELECT 1 FROM deploy_jobs k WHERE k.deployment_id = j.deployment_id AND k.done = FALSE AND k.id < j.id)
                ORDER BY j.run_after, j.id LIMIT 1
                """ + skipLocked).first(JobRow.self) else { return nil }
            row.attempts += 1
            try await sql.raw("""
                UPDATE deploy_jobs SET lease_owner = \(bind: owner), lease_until = \(bind: at + Int64(leaseFor * 1_000_000)),
                    attempts = \(bind: row.attempts)
                WHERE id = \(bind: row.id)
                """).run()
            return row.job
        }
    }

    public func renew(_ job: DeployJob, owner: String, until: Date) async throws -> Bool {
        try await database.transaction { sql in
            let held = try await sql.raw("""
                SELECT id FROM deploy_jobs WHERE id = \(bind: job.id) AND lease_owner = \(bind: owner) AND done = FALSE
                """).first() != nil
            if held {
                try await sql.raw("UPDATE deploy_jobs SET lease_until = \(bind: Timestamp.micros(until)) WHERE id = \(bind: job.id)").run()
            }
            return held
        }
    }

    public func target(of job: DeployJob) async throws -> DeployTarget {
        struct Row: Decodable {
            var name: String; var projectId: String; var environmentId: String; var namespace: String; var spaceId: String; var spaceName: String
            var currentRevision: Int?
        }
        return try await database.read { sql in
            // Teardown runs after the soft delete, so this read does not ask for live rows.
            guard let found = try await sql.raw("""
                SELECT d.name, d.project_id, d.environment_id, e.namespace, e.space_id, s.name AS space_name, d.current_revision,
                    \(unsafeRaw: RegistryAccess.columns)
                FROM deployments d JOIN environments e ON e.id = d.environment_id JOIN spaces s ON s.id = e.space_id
                    \(unsafeRaw: RegistryAccess.joins)
                WHERE d.id = \(bind: job.deploymentID)
                """).first() else { throw AppError.notFound("deployment") }
            let row = try found.decode(model: Row.self, keyDecodingStrategy: ColumnNames.fromProperties)
            var revision: Revision?
            var sealedSecretEnv: String?
            if let revisionID = job.revisionID, let found = try await sql.raw("""
                SELECT \(unsafeRaw: RevisionRow.columns), r.sealed_secret_env FROM revisions r WHERE r.id = \(bind: revisionID)
                """).first() {
                revision = try found.decode(model: RevisionRow.self, keyDecodingStrategy: ColumnNames.fromProperties).revision
                sealedSecretEnv = try found.decode(column: "sealed_secret_env", as: String?.self)
            }
            let previouslyApplied = try await sql.raw("""
                SELECT applied_objects FROM revisions WHERE deployment_id = \(bind: job.deploymentID) AND number = \(bind: row.currentRevision ?? 0)
                """).first(decodingColumn: "applied_objects", as: String?.self).flatMap { $0 }
            let others = try await sql.raw("""
                SELECT COUNT(*) AS n FROM deployments WHERE environment_id = \(bind: row.environmentId) AND deleted_at IS NULL AND id <> \(bind: job.deploymentID)
                """).first(decodingColumn: "n", as: Int.self) ?? 0
            return DeployTarget(
                owner: ManifestOwner(name: row.name, projectID: row.projectId, environmentID: row.environmentId, deploymentID: job.deploymentID,
                                     namespace: row.namespace),
                spaceID: row.spaceId, spaceName: row.spaceName, revision: revision, sealedSecretEnv: sealedSecretEnv,
                previouslyApplied: try previouslyApplied.map { try JSONColumn.decode([String].self, from: $0) } ?? [],
                registry: try RegistryAccess.decode(found),
                environmentHasOtherDeployments: others > 0
            )
        }
    }

    public func markApplying(_ job: DeployJob) async throws -> Bool {
        guard let revisionID = job.revisionID else { return false }
        return try await database.transaction { sql in
            let queued = try await sql.raw("SELECT status FROM revisions WHERE id = \(bind: revisionID)")
                .first(decodingColumn: "status", as: String.self)
            guard queued == "queued" || queued == "applying" else { return false }
            try await sql.raw("UPDATE revisions SET status = 'applying' WHERE id = \(bind: revisionID)").run()
            return true
        }
    }

    public func finishApplied(_ job: DeployJob, revision number: Int, spec: DeploySpec, applied: [String], now: Date) async throws {
        let at = Timestamp.micros(now)
        try await database.transaction { [ids] sql in
            guard let revisionID = job.revisionID else { return }
            let status = try await sql.raw("SELECT status FROM revisions WHERE id = \(bind: revisionID)").first(decodingColumn: "status", as: String.self)
            try await Self.close(job, on: sql)
            // Superseded while it was being applied: the newer revision's job, queued behind this one, applies next.
            guard status == "applying" || status == "queued" else { return }
            let earlier = try await sql.raw("""
                SELECT number FROM revisions WHERE deployment_id = \(bind: job.deploymentID) AND status = 'applied' AND number < \(bind: number)
                """).all(decodingColumn: "number", as: Int.self)
            try await sql.raw("""
                UPDATE revisions SET status = 'superseded', finished_at = \(bind: at),
                    message = \(bind: "Superseded by revision \(number) before its rollout finished.")
                WHERE deployment_id = \(bind: job.deploymentID) AND status = 'applied' AND number < \(bind: number)
                """).run()
            try await sql.raw("""
                UPDATE revisions SET status = 'applied', applied_at = \(bind: at), applied_objects = \(bind: try JSONColumn.encode(applied)), message = NULL
                WHERE id = \(bind: revisionID)
                """).run()
            try await sql.raw("""
                UPDATE deployments SET current_revision = \(bind: number), current_spec = \(bind: spec.canonicalJSON), drift = NULL
                WHERE id = \(bind: job.deploymentID)
                """).run()
            for old in earlier {
                try await Self.recordEvent(job.deploymentID, org: job.organizationID, reason: "RevisionSuperseded",
                                           message: "Revision \(old) was superseded by revision \(number) before its rollout finished.",
                                           object: "Revision/\(old)", warning: false, ids: ids, now: at, on: sql)
            }
            try await Self.recordEvent(job.deploymentID, org: job.organizationID, reason: "RevisionApplied",
                                       message: "Revision \(number) was applied: the cluster accepted \(applied.joined(separator: ", ")).",
                                       object: "Revision/\(number)", warning: false, ids: ids, now: at, on: sql)
        }
    }

    public func finishFailed(_ job: DeployJob, message: String, now: Date) async throws {
        let at = Timestamp.micros(now)
        try await database.transaction { [ids] sql in
            try await Self.close(job, error: message, on: sql)
            guard let revisionID = job.revisionID else { return }
            struct Row: Decodable { var number: Int; var status: String; var createdBy: String }
            guard let revision = try await sql.raw("SELECT number, status, created_by FROM revisions WHERE id = \(bind: revisionID)").first(Row.self),
                  revision.status == "queued" || revision.status == "applying" else { return }
            try await sql.raw("""
                UPDATE revisions SET status = 'failed', message = \(bind: message), finished_at = \(bind: at) WHERE id = \(bind: revisionID)
                """).run()
            try await Self.recordEvent(job.deploymentID, org: job.organizationID, reason: "RevisionFailed",
                                       message: "Revision \(revision.number) failed: \(message)", object: "Revision/\(revision.number)",
                                       warning: true, ids: ids, now: at, on: sql)
            try await Self.auditRevision("failed", number: revision.number, message: message, deploymentID: job.deploymentID, org: job.organizationID,
                                         ids: ids, now: at, on: sql)
        }
    }

    public func finishSkipped(_ job: DeployJob) async throws {
        try await database.transaction { sql in try await Self.close(job, on: sql) }
    }

    public func retry(_ job: DeployJob, error: String, now: Date, retryAt: Date) async throws {
        let firstFailure = Timestamp.micros(job.firstFailureAt ?? now)
        try await database.transaction { [ids] sql in
            try await sql.raw("""
                UPDATE deploy_jobs SET lease_owner = NULL, lease_until = NULL, run_after = \(bind: Timestamp.micros(retryAt)),
                    first_failure_at = \(bind: firstFailure), last_error = \(bind: error)
                WHERE id = \(bind: job.id)
                """).run()
            // The timeline says once that the deployer is waiting for the cluster, not at every attempt.
            guard job.firstFailureAt == nil else { return }
            var number: Int?
            if let revisionID = job.revisionID {
                number = try await sql.raw("SELECT number FROM revisions WHERE id = \(bind: revisionID)").first(decodingColumn: "number", as: Int.self)
            }
            try await Self.recordEvent(job.deploymentID, org: job.organizationID, reason: "Retrying",
                                       message: "\(error) The deployer retries with backoff for up to 10 minutes.",
                                       object: number.map { "Revision/\($0)" } ?? "Deployment", warning: true, ids: ids,
                                       now: Timestamp.micros(now), on: sql)
        }
    }

    public func finishTeardown(_ job: DeployJob, now: Date) async throws {
        let at = Timestamp.micros(now)
        try await database.transaction { [ids] sql in
            try await Self.close(job, on: sql)
            struct Row: Decodable { var name: String; var projectId: String; var environmentId: String }
            guard let row = try await sql.raw("SELECT name, project_id, environment_id FROM deployments WHERE id = \(bind: job.deploymentID)")
                .first(Row.self) else { return }
            try await Self.recordEvent(job.deploymentID, org: job.organizationID, reason: "TornDown",
                                       message: "Every object labelled with this deployment was deleted from the cluster.",
                                       object: "Deployment/\(row.name)", warning: false, ids: ids, now: at, on: sql)
            try await AuditTrail.record(
                AuditEvent("torn_down", "deployment", job.deploymentID, projectID: row.projectId, environmentID: row.environmentId,
                           deploymentID: job.deploymentID, changes: [:]),
                actor: .system, org: job.organizationID, requestID: nil, ids: ids, on: sql
            )
        }
    }

    // MARK: - Shared with the API side

    /// A job to queue: apply a revision, or tear a deployment down.
    struct NewJob {
        var kind: String
        var deploymentID: String
        var revisionID: String?
    }

    /// Queues `jobs` with one statement.
    static func enqueue(_ jobs: [NewJob], org: String, ids: IDGenerator, now: Int64, on sql: any SQLDatabase) async throws {
        guard !jobs.isEmpty else { return }
        var insert = sql.insert(into: "deploy_jobs").columns("id", "org_id", "deployment_id", "revision_id", "kind", "run_after", "created_at")
        for job in jobs {
            insert = insert.values(SQLBind(ids.make(.job)), SQLBind(org), SQLBind(job.deploymentID), SQLBind(job.revisionID), SQLBind(job.kind),
                                   SQLBind(now), SQLBind(now))
        }
        try await insert.run()
    }

    /// A job ends: done, its lease given back, and why it failed when it did.
    static func close(_ job: DeployJob, error: String? = nil, on sql: any SQLDatabase) async throws {
        let failure: SQLQueryString = error.map { ", last_error = \(bind: $0)" } ?? ""
        try await sql.raw("UPDATE deploy_jobs SET done = TRUE, lease_owner = NULL, lease_until = NULL" + failure + " WHERE id = \(bind: job.id)").run()
    }

    /// The revisions of `deploymentIDs` not yet applied end `superseded` with `message(deploymentID)` (each noted on
    /// the timeline as `event(deploymentID, number)` says). Their jobs still run, in order, but only to finish: they run
    /// now, not after a backoff.
    static func supersedeUnapplied(_ deploymentIDs: [String], message: (String) -> String, event: (String, Int) -> String, org: String,
                                   ids: IDGenerator, now: Int64, on sql: any SQLDatabase) async throws {
        struct Row: Decodable { var deploymentId: String; var number: Int }
        let superseded = try await sql.raw("""
            SELECT deployment_id, number FROM revisions WHERE deployment_id IN (\(binds: deploymentIDs)) AND status IN ('queued', 'applying')
            ORDER BY deployment_id, number
            """).all(Row.self)
        guard !superseded.isEmpty else { return }
        let affected = Array(Set(superseded.map(\.deploymentId))).sorted()
        for deploymentID in affected {
            try await sql.raw("""
                UPDATE revisions SET status = 'superseded', finished_at = \(bind: now), message = \(bind: message(deploymentID))
                WHERE deployment_id = \(bind: deploymentID) AND status IN ('queued', 'applying')
                """).run()
        }
        try await sql.raw("UPDATE deploy_jobs SET run_after = \(bind: now) WHERE deployment_id IN (\(binds: affected)) AND done = FALSE").run()
        try await recordEvents(superseded.map {
            NewEvent(deploymentID: $0.deploymentId, reason: "RevisionSuperseded", message: event($0.deploymentId, $0.number), object: "Revision/\($0.number)")
        }, org: org, ids: ids, now: now, on: sql)
    }

    /// Deleting a deployment: what was queued for it will never be applied, and what was applied comes down.
    static func queueTeardown(of deployment: Deployment, org: String, ids: IDGenerator, now: Int64, on sql: any SQLDatabase) async throws {
        try await supersedeUnapplied([deployment.id], message: { _ in "The deployment was deleted before this revision was applied." },
                                     event: { "Revision \($1) will not be applied: the deployment was deleted." },
                                     org: org, ids: ids, now: now, on: sql)
        try await enqueue([NewJob(kind: "teardown", deploymentID: deployment.id, revisionID: nil)], org: org, ids: ids, now: now, on: sql)
    }

    /// A line of Gantry's own timeline for a deployment.
    struct NewEvent {
        var deploymentID: String
        var reason: String
        var message: String
        var object: String
        var warning = false
    }

    static func recordEvent(_ deploymentID: String, org: String, reason: String, message: String, object: String, warning: Bool,
                            ids: IDGenerator, now: Int64, on sql: any SQLDatabase) async throws {
        try await recordEvents([NewEvent(deploymentID: deploymentID, reason: reason, message: message, object: object, warning: warning)],
                               org: org, ids: ids, now: now, on: sql)
    }

    /// Records `events` with one statement.
    static func recordEvents(_ events: [NewEvent], org: String, ids: IDGenerator, now: Int64, on sql: any SQLDatabase) async throws {
        guard !events.isEmpty else { return }
        var insert = sql.insert(into: "deployment_events").columns("id", "org_id", "deployment_id", "at", "warning", "reason", "message", "object")
        for event in events {
            insert = insert.values(SQLBind(ids.make(.event)), SQLBind(org), SQLBind(event.deploymentID), SQLBind(now), SQLBind(event.warning),
                                   SQLBind(event.reason), SQLBind(event.message), SQLBind(event.object))
        }
        try await insert.run()
    }

    static func events(_ deploymentID: String, on sql: any SQLDatabase) async throws -> [DeploymentEvent] {
        struct Row: Decodable { var at: Int64; var warning: Bool; var reason: String; var message: String; var object: String }
        return try await sql.raw("""
            SELECT at, warning, reason, message, object FROM deployment_events WHERE deployment_id = \(bind: deploymentID)
            ORDER BY at DESC, id DESC LIMIT 500
            """).all(Row.self).map {
            DeploymentEvent(time: Timestamp.date($0.at), source: .gantry, warning: $0.warning, reason: $0.reason, message: $0.message, object: $0.object)
        }
    }

    /// `revision.succeeded` / `revision.failed`, written by the deployer (system actor).
    static func auditRevision(_ verb: String, number: Int, message: String?, deploymentID: String, org: String, ids: IDGenerator,
                              now: Int64, on sql: any SQLDatabase) async throws {
        struct Row: Decodable { var id: String; var projectId: String; var environmentId: String }
        guard let row = try await sql.raw("""
            SELECT r.id, d.project_id, d.environment_id FROM revisions r JOIN deployments d ON d.id = r.deployment_id
            WHERE r.deployment_id = \(bind: deploymentID) AND r.number = \(bind: number)
            """).first(Row.self) else { return }
        var changes: [String: JSONValue] = ["status": .object(["from": .string("applied"), "to": .string(verb)]), "number": .object(["from": .null, "to": .int(number)])]
        if let message { changes["message"] = .object(["from": .null, "to": .string(message)]) }
        try await AuditTrail.record(
            AuditEvent(verb, "revision", row.id, projectID: row.projectId, environmentID: row.environmentId, deploymentID: deploymentID, changes: changes),
            actor: .system, org: org, requestID: nil, ids: ids, on: sql
        )
    }
}

