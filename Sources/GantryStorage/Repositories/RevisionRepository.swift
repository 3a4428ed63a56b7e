import Foundation
import GantryCore
import SQLKit

/// Revisions as the API sees them (docs/api.md §7): making one (deploy, rollback), reading them, and Gantry's own
/// timeline. The deployer's side of the same rows is `DeployQueue`.
public protocol RevisionRepository: Sendable {
    /// Makes the next revision of a deployment and queues it; `policy` is checked on the deployment.
    func deploy(_ deploymentID: String, _ request: GantryCore.DeployRequest, by caller: Caller, requiring policy: String) async throws -> Revision
    /// The specs an environment deploy would freeze now (for preflight, which asks the cluster outside any transaction).
    func pendingSpecs(in environmentID: String, for caller: Caller, requiring policy: String) async throws -> [DeploySpec]
    /// One revision for each live deployment of the environment with pending changes, in one transaction.
    func deployPending(in environmentID: String, by caller: Caller, requiring policy: String) async throws -> [Revision]
    func list(_ deploymentID: String, _ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<Revision>
    func get(_ deploymentID: String, number: Int, for caller: Caller, requiring policy: String) async throws -> Revision
    /// Gantry's own events of the deployment, newest first.
    func events(_ deploymentID: String, for caller: Caller, requiring policy: String) async throws -> [DeploymentEvent]
}

/// A `revisions` row as stored.
struct RevisionRow: Decodable {
    static let columns = """
        r.id, r.deployment_id, r.number, r.spec, r.status, r.message, r.rollback_of, r.created_by, r.created_at, r.applied_at, r.finished_at
        """
    var id: String
    var deploymentId: String
    var number: Int
    var spec: String
    var status: String
    var message: String?
    var rollbackOf: Int?
    var createdBy: String
    var createdAt: Int64
    var appliedAt: Int64?
    var finishedAt: Int64?

    var revision: Revision {
        get throws {
            Revision(id: id, deploymentID: deploymentId, number: number, spec: try DeploySpec.decode(spec),
                     status: RevisionStatus(rawValue: status) ?? .failed, message: message, rollbackOf: rollbackOf, createdBy: createdBy,
                     createdAt: Timestamp.date(createdAt), appliedAt: appliedAt.map(Timestamp.date), finishedAt: finishedAt.map(Timestamp.date))
        }
    }
}

public struct SQLRevisionRepository: RevisionRepository, AuditedRepository {
    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    public func deploy(_ deploymentID: String, _ request: GantryCore.DeployRequest, by caller: Caller, requiring policy: String) async throws -> Revision {
        try await database.transaction { sql in
            let deployment = try await SQLDeploymentRepository.fetchLive(deploymentID, org: caller.organizationID, lock: RowLocking(.update, of: "d"), on: sql)
            try caller.permissions.authorize(policy, on: deployment.target, resource: "deployment")
            let injected = try await InjectedEnv.resolve(environment: deployment.environmentID, on: sql)[deployment.id] ?? []
            return try await makeRevisions([(deployment, request, injected)], by: caller, on: sql)[0]
        }
    }

    public func pendingSpecs(in environmentID: String, for caller: Caller, requiring policy: String) async throws -> [DeploySpec] {
        try await database.read { sql in
            try await pending(in: environmentID, for: caller, requiring: policy, lock: nil, on: sql).map { $0.deployment.spec(injectedEnv: $0.injected) }
        }
    }

    public func deployPending(in environmentID: String, by caller: Caller, requiring policy: String) async throws -> [Revision] {
        try await database.transaction { sql in
            let pending = try await pending(in: environmentID, for: caller, requiring: policy, lock: RowLocking(.update, of: "d"), on: sql)
            // Bounded batches keep every statement under the databases' limits on bound parameters.
            var revisions: [Revision] = []
            for start in stride(from: 0, to: pending.count, by: 500) {
                let batch = pending[start..<min(start + 500, pending.count)].map { ($0.deployment, GantryCore.DeployRequest(), $0.injected) }
                revisions += try await makeRevisions(batch, by: caller, on: sql)
            }
            return revisions
        }
    }

    /// The environment's live deployments with pending changes and their connection variables, in creation order:
    /// one read of the rows and one of the connections, however many deployments the environment holds.
    func pending(in environmentID: String, for caller: Caller, requiring policy: String, lock: RowLocking?,
                 on sql: any SQLDatabase) async throws -> [(deployment: Deployment, injected: [EnvVar])] {
        let environment = try await EnvironmentRow.fetchLive(environmentID, org: caller.organizationID,
                                                             lock: lock == nil ? nil : RowLocking(.share, of: EnvironmentRow.alias), on: sql).environment
        try caller.permissions.authorize(policy, on: environment.target, resource: "environment")
        let locking: SQLQueryString = lock.map { "\($0)" } ?? ""
        let rows = try await sql.raw("""
            SELECT \(unsafeRaw: DeploymentRow.columns) FROM deployments d
            WHERE d.environment_id = \(bind: environmentID) AND d.deleted_at IS NULL ORDER BY d.id
            """ + locking).all(DeploymentRow.self)
        let injected = try await InjectedEnv.resolve(environment: environmentID, on: sql)
        return try rows.compactMap { row in
            let deployment = try row.deployment(injectedEnv: injected[row.id] ?? [])
            return deployment.pendingChanges ? (deployment, injected[row.id] ?? []) : nil
        }
    }

    /// The one way revisions are made: each catalog row first takes its request's values (an image, or revision n's
    /// spec for a rollback), then the spec is frozen with the connection variables of this moment, queued revisions
    /// are superseded, and the job is queued, with one audit entry per revision. A batch costs a fixed number of
    /// statements, not a number per deployment: an environment deploy of 200 deployments answers in one round of them.
    func makeRevisions(_ requests: [(deployment: Deployment, request: GantryCore.DeployRequest, injected: [EnvVar])], by caller: Caller,
                       on sql: any SQLDatabase) async throws -> [Revision] {
        guard !requests.isEmpty else { return [] }
        let now = Timestamp.now()
        let org = caller.organizationID
        let deploymentIDs = requests.map(\.deployment.id)
        struct Stored: Decodable { var id: String; var sealedSecretEnv: String?; var lastNumber: Int? }
        let stored = Dictionary(uniqueKeysWithValues: try await sql.raw("""
            SELECT d.id, d.sealed_secret_env, (SELECT MAX(r.number) FROM revisions r WHERE r.deployment_id = d.id) AS last_number
            FROM deployments d WHERE d.id IN (\(binds: deploymentIDs))
            """).all(Stored.self).map { ($0.id, $0) })

        var made: [(revision: Revision, sealedSecrets: String?, event: AuditEvent)] = []
        for (deployment, request, injected) in requests {
            var updated = deployment
            var sealedSecrets = stored[deployment.id]?.sealedSecretEnv
            if let number = request.rollbackTo {
                struct Target: Decodable { var spec: String; var sealedSecretEnv: String? }
                guard let target = try await sql.raw("""
                    SELECT spec, sealed_secret_env FROM revisions WHERE deployment_id = \(bind: deployment.id) AND number = \(bind: number)
                    """).first(Target.self) else {
                    throw AppError(.notFound, "This deployment has no revision \(number).")
                }
                let spec = try DeploySpec.decode(target.spec)
                updated.image = spec.image
                updated.replicas = spec.replicas
                updated.port = spec.port
                updated.resources = spec.resources
                updated.env = spec.env
                updated.ingress = spec.ingress
                updated.healthCheck = spec.healthCheck
                updated.secretEnvNames = spec.secretEnvNames
                if target.sealedSecretEnv != sealedSecrets { updated.secretEnvVersion += 1 }
                sealedSecrets = target.sealedSecretEnv
            }
            if let image = request.image { updated.image = image }
            if updated.spec(injectedEnv: []) != deployment.spec(injectedEnv: []) {
                updated.version += 1
                try await sql.raw("""
                    UPDATE deployments SET image = \(bind: updated.image), replicas = \(bind: updated.replicas), port = \(bind: updated.port),
                        cpu_request = \(bind: updated.resources?.cpuRequest), memory_request = \(bind: updated.resources?.memoryRequest),
                        cpu_milli = \(bind: updated.resources?.scheduled?.cpuMilli), memory_bytes = \(bind: updated.resources?.scheduled?.memoryBytes),
                        env = \(bind: try JSONColumn.encode(updated.env)), secret_env_names = \(bind: try JSONColumn.encode(updated.secretEnvNames)),
                        sealed_secret_env = \(bind: sealedSecrets), secret_env_version = \(bind: updated.secretEnvVersion),
                        ingress = \(bind: try updated.ingress.map(JSONColumn.encode)), health_check = \(bind: try updated.healthCheck.map(JSONColumn.encode)),
                        updated_at = \(bind: now), version = \(bind: updated.version)
                    WHERE id = \(bind: deployment.id)
                    """).run()
            }
            let number = (stored[deployment.id]?.lastNumber ?? 0) + 1
            let revision = Revision(
                id: ids.make(.revision), deploymentID: deployment.id, number: number, spec: updated.spec(injectedEnv: injected), status: .queued,
                message: nil, rollbackOf: request.rollbackTo, createdBy: caller.email, createdAt: Timestamp.date(now), appliedAt: nil, finishedAt: nil
            )
            var changes = Changes.diff(deployment.auditFields, updated.auditFields)
            if updated.secretEnvVersion != deployment.secretEnvVersion { changes["secretEnv"] = Changes.replacedSecret }
            changes["revision"] = .object(["from": JSONValue(deployment.currentRevision), "to": .int(number)])
            if let rollbackOf = request.rollbackTo { changes["rollbackOf"] = .object(["from": .null, "to": .int(rollbackOf)]) }
            made.append((revision, sealedSecrets, SQLDeploymentRepository.event(request.rollbackTo == nil ? "deployed" : "rolled_back", updated, changes: changes)))
        }

        // A newer deploy wins over revisions not yet applied.
        let newNumbers = Dictionary(made.map { ($0.revision.deploymentID, $0.revision.number) }) { max($0, $1) }
        try await DeployQueue.supersedeUnapplied(deploymentIDs, message: { "Superseded by revision \(newNumbers[$0] ?? 0) before it was applied." },
                                                 event: { "Revision \($1) was superseded by revision \(newNumbers[$0] ?? 0) before it was applied." },
                                                 org: org, ids: ids, now: now, on: sql)
        try await mappingUniqueViolation({ _ in AppError(.conflict, "Another deploy of this deployment was made at the same moment; try again.") }) {
            var insert = sql.insert(into: "revisions")
                .columns("id", "org_id", "deployment_id", "number", "spec", "sealed_secret_env", "status", "rollback_of", "created_by", "created_at")
            for (revision, sealedSecrets, _) in made {
                insert = insert.values(SQLBind(revision.id), SQLBind(org), SQLBind(revision.deploymentID), SQLBind(revision.number),
                                       SQLBind(revision.spec.canonicalJSON), SQLBind(sealedSecrets), SQLBind("queued"), SQLBind(revision.rollbackOf),
                                       SQLBind(caller.email), SQLBind(now))
            }
            try await insert.run()
        }
        try await DeployQueue.enqueue(made.map { .init(kind: "apply", deploymentID: $0.revision.deploymentID, revisionID: $0.revision.id) },
                                      org: org, ids: ids, now: now, on: sql)
        try await DeployQueue.recordEvents(made.map { made in
            let verb = made.revision.rollbackOf.map { "queued as a rollback to revision \($0)" } ?? "queued"
            return .init(deploymentID: made.revision.deploymentID, reason: "RevisionQueued",
                         message: "Revision \(made.revision.number) \(verb) by \(caller.email).", object: "Revision/\(made.revision.number)")
        }, org: org, ids: ids, now: now, on: sql)
        try await AuditTrail.record(made.map(\.event), by: caller, ids: ids, on: sql)
        return made.map(\.revision)
    }

    public func list(_ deploymentID: String, _ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<Revision> {
        // The cursor was checked to hold a revision number when the page request was parsed.
        let after = page.after.flatMap { Int($0) }
        let rows = try await database.read { sql in
            let deployment = try await SQLDeploymentRepository.fetchLive(deploymentID, org: caller.organizationID, lock: nil, on: sql)
            try caller.permissions.authorize(policy, on: deployment.target, resource: "deployment")
            let before: SQLQueryString = after.map { " AND r.number < \(bind: $0)" } ?? ""
            return try await sql.raw("""
                SELECT \(unsafeRaw: RevisionRow.columns) FROM revisions r WHERE r.deployment_id = \(bind: deploymentID)
                """ + before + " ORDER BY r.number DESC LIMIT \(literal: page.limit + 1)").all(RevisionRow.self)
        }
        let revisions = try rows.map { try $0.revision }
        return Page(rows: revisions, limit: page.limit, key: { String($0.number) })
    }

    public func get(_ deploymentID: String, number: Int, for caller: Caller, requiring policy: String) async throws -> Revision {
        try await database.read { sql in
            let deployment = try await SQLDeploymentRepository.fetchLive(deploymentID, org: caller.organizationID, lock: nil, on: sql)
            try caller.permissions.authorize(policy, on: deployment.target, resource: "deployment")
            guard let row = try await sql.raw("""
                SELECT \(unsafeRaw: RevisionRow.columns) FROM revisions r WHERE r.deployment_id = \(bind: deploymentID) AND r.number = \(bind: number)
                """).first(RevisionRow.self) else {
                throw AppError(.notFound, "This deployment has no revision \(number).")
            }
            return try row.revision
        }
    }

    public func events(_ deploymentID: String, for caller: Caller, requiring policy: String) async throws -> [DeploymentEvent] {
        try await database.read { sql in
            let deployment = try await SQLDeploymentRepository.fetchLive(deploymentID, org: caller.organizationID, lock: nil, on: sql)
            try caller.permissions.authorize(policy, on: deployment.target, resource: "deployment")
            return try await DeployQueue.events(deploymentID, on: sql)
        }
    }
}
