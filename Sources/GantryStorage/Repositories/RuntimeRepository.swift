import Foundation
import GantryCore
import SQLKit

/// What the deployer reads to reach a space's cluster. The sealed blobs open only with the deployer's key.
public struct SpaceCredentials: Sendable {
    public var spaceID: String
    public var name: String
    public var provider: SpaceProvider
    public var config: SpaceConfig
    public var sealedKubeconfig: String?
    public var cloudAccountID: String?
    public var sealedCloudCredentials: String?
}

/// One catalog deployment as status sync needs it.
public struct SyncTarget: Sendable, Equatable {
    public var organizationID: String
    public var deploymentID: String
    public var name: String
    public var projectID: String
    public var environmentID: String
    public var spaceID: String
    public var namespace: String
    public var status: DeploymentStatus
    public var observedRevision: String?
    /// The current revision (docs/api.md §7), when there is one: its number, status, spec and how long its pods have been in trouble.
    public var currentRevision: Int?
    public var revisionStatus: RevisionStatus?
    public var revisionSpec: DeploySpec?
    public var troubleSince: Date?
    public var drift: Drift?
}

/// What status sync saw of one deployment: its status, the revision whose rollout is complete, and when it first saw it.
public struct ObservedStatus: Sendable {
    public var target: SyncTarget
    public var status: DeploymentStatus
    public var revision: String?
    public var deployedAt: Date?

    public init(_ target: SyncTarget, status: DeploymentStatus, revision: String?, deployedAt: Date?) {
        self.target = target
        self.status = status
        self.revision = revision
        self.deployedAt = deployedAt
    }
}

public struct SyncSpace: Sendable, Hashable {
    public var organizationID: String
    public var spaceID: String

    public init(organizationID: String, spaceID: String) {
        self.organizationID = organizationID
        self.spaceID = spaceID
    }
}

/// The deployer's reads and the observed state it writes (docs/api.md §6).
public protocol RuntimeRepository: Sendable {
    func credentials(forSpace spaceID: String, org: String) async throws -> SpaceCredentials
    /// Namespace → live environment bound to it, on one space.
    func namespaceBindings(space spaceID: String, org: String) async throws -> [String: String]
    /// Every space with live deployments to sync and its namespaces that hold them, in one read (a space-watches round,
    /// or a status-sync pass when clusters are not watched).
    func syncSpaceNamespaces() async throws -> [SyncSpace: Set<String>]
    /// The same namespaces of one space, each with a digest of its live deployments' catalog state (how many, their
    /// versions and current revisions): a watched space re-reads a namespace whose cluster did not change only when
    /// this does.
    func syncNamespaceDigests(space spaceID: String, org: String) async throws -> [String: String]
    /// The live deployments of one namespace, or with `namespace` nil of the whole space (a batch that covers much of it:
    /// one read instead of one per namespace). Never the whole catalog at once.
    func syncTargets(space spaceID: String, org: String, namespace: String?) async throws -> [SyncTarget]
    /// Writes observed statuses (not a client change: `version` stays), all in one transaction — a namespace or a
    /// space at a time, so a cold start over 50,000 deployments is not 50,000 transactions; each change of status is
    /// audited with a `system` actor. Returns how many statuses changed.
    @discardableResult
    func recordObserved(_ observations: [ObservedStatus]) async throws -> Int
    /// The current revision's rollout finished: `succeeded` (and `lastDeployedAt`), or `failed` with a message a person can act on.
    func recordRollout(_ target: SyncTarget, succeeded: Bool, message: String?, now: Date) async throws
    /// When the current revision's new pods were first seen waiting in an image-pull or crash loop; nil clears it.
    func recordTrouble(_ target: SyncTarget, since: Date?) async throws
    /// Sets (audited `deployment.drift_detected`) or clears the deployment's drift.
    func recordDrift(_ target: SyncTarget, drift: Drift?) async throws
}

public struct SQLRuntimeRepository: RuntimeRepository {
    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    public func credentials(forSpace spaceID: String, org: String) async throws -> SpaceCredentials {
        struct Row: Decodable {
            var id: String
            var name: String
            var provider: String
            var config: String
            var sealedKubeconfig: String?
            var cloudAccountId: String?
            var sealedCredentials: String?
        }
        return try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT s.id, s.name, s.provider, s.config, s.sealed_kubeconfig, s.cloud_account_id, c.sealed_credentials
                FROM spaces s LEFT JOIN cloud_accounts c ON c.id = s.cloud_account_id AND c.deleted_at IS NULL
                WHERE s.id = \(bind: spaceID) AND s.org_id = \(bind: org) AND s.deleted_at IS NULL
                """).first(Row.self) else { throw AppError(.notFound, "No such deployment space in your organization.") }
            return SpaceCredentials(
                spaceID: row.id, name: row.name, provider: SpaceProvider(rawValue: row.provider) ?? .kubeconfig,
                config: try JSONColumn.decode(SpaceConfig.self, from: row.config), sealedKubeconfig: row.sealedKubeconfig,
                cloudAccountID: row.cloudAccountId, sealedCloudCredentials: row.sealedCredentials
            )
        }
    }

    public func namespaceBindings(space spaceID: String, org: String) async throws -> [String: String] {
        struct Row: Decodable { var id: String; var namespace: String }
        return try await database.read { sql in
            let rows = try await sql.raw("""
                SELECT id, namespace FROM environments WHERE space_id = \(bind: spaceID) AND org_id = \(bind: org) AND deleted_at IS NULL
                """).all(Row.self)
            return Dictionary(rows.map { ($0.namespace, $0.id) }) { first, _ in first }
        }
    }

    /// For an environment `e`: it holds a live deployment of a live project, so status sync has work there.
    static let hasLiveDeployment = """
        EXISTS (SELECT 1 FROM deployments d JOIN projects p ON p.id = d.project_id
                WHERE d.environment_id = e.id AND d.deleted_at IS NULL AND p.deleted_at IS NULL)
        """

    public func syncSpaceNamespaces() async throws -> [SyncSpace: Set<String>] {
        // A row per space with its namespaces joined (a namespace is a DNS label: no commas), read by hand: this runs every
        // few seconds, and 10,000 rows decoded through `Decodable` were a third of an idle deployer's CPU (bench/scale.sh).
        let joined = database.kind == .postgres ? "string_agg(e.namespace, ',')" : "group_concat(e.namespace, ',')"
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT e.org_id, e.space_id, \(unsafeRaw: joined) AS namespaces FROM environments e
                WHERE e.deleted_at IS NULL AND \(unsafeRaw: Self.hasLiveDeployment)
                GROUP BY e.org_id, e.space_id
                """).all()
        }
        var spaces: [SyncSpace: Set<String>] = [:]
        for row in rows {
            let space = SyncSpace(organizationID: try row.decode(column: "org_id", as: String.self), spaceID: try row.decode(column: "space_id", as: String.self))
            spaces[space] = Set(try row.decode(column: "namespaces", as: String.self).split(separator: ",").map(String.init))
        }
        return spaces
    }

    public func syncNamespaceDigests(space spaceID: String, org: String) async throws -> [String: String] {
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT e.namespace, COUNT(*) AS deployments, CAST(SUM(d.version) AS BIGINT) AS versions,
                    CAST(SUM(COALESCE(d.current_revision, 0)) AS BIGINT) AS revisions
                FROM environments e JOIN deployments d ON d.environment_id = e.id AND d.deleted_at IS NULL
                    JOIN projects p ON p.id = d.project_id AND p.deleted_at IS NULL
                WHERE e.org_id = \(bind: org) AND e.space_id = \(bind: spaceID) AND e.deleted_at IS NULL
                GROUP BY e.namespace
                """).all()
        }
        // By hand, as above: every watched space, every pass.
        var digests: [String: String] = [:]
        for row in rows {
            let deployments = try row.decode(column: "deployments", as: Int64.self), versions = try row.decode(column: "versions", as: Int64.self)
            digests[try row.decode(column: "namespace", as: String.self)] = "\(deployments)/\(versions)/\(try row.decode(column: "revisions", as: Int64.self))"
        }
        return digests
    }

    public func syncTargets(space spaceID: String, org: String, namespace: String?) async throws -> [SyncTarget] {
        struct Row: Decodable {
            var orgId: String
            var id: String
            var name: String
            var projectId: String
            var environmentId: String
            var spaceId: String
            var namespace: String
            var status: String
            var observedRevision: String?
            var currentRevision: Int?
            var drift: String?
            var revisionStatus: String?
            var revisionSpec: String?
            var troubleSince: Int64?
        }
        let inNamespace: SQLQueryString = namespace.map { " AND e.namespace = \(bind: $0)" } ?? ""
        return try await database.read { sql in
            try await sql.raw("""
                SELECT d.org_id, d.id, d.name, d.project_id, d.environment_id, e.space_id, e.namespace, d.status, d.observed_revision,
                    d.current_revision, d.drift, r.status AS revision_status, r.spec AS revision_spec, r.trouble_since
                FROM environments e JOIN deployments d ON d.environment_id = e.id JOIN projects p ON p.id = d.project_id
                    LEFT JOIN revisions r ON r.deployment_id = d.id AND r.number = d.current_revision
                WHERE e.org_id = \(bind: org) AND e.space_id = \(bind: spaceID)\(inNamespace)
                    AND d.deleted_at IS NULL AND e.deleted_at IS NULL AND p.deleted_at IS NULL
                ORDER BY e.namespace, d.id
                """).all(Row.self).map { row in
                SyncTarget(
                    organizationID: row.orgId, deploymentID: row.id, name: row.name, projectID: row.projectId, environmentID: row.environmentId,
                    spaceID: row.spaceId, namespace: row.namespace, status: DeploymentStatus(rawValue: row.status) ?? .unknown,
                    observedRevision: row.observedRevision, currentRevision: row.currentRevision,
                    revisionStatus: row.revisionStatus.flatMap(RevisionStatus.init(rawValue:)), revisionSpec: try row.revisionSpec.map(DeploySpec.decode),
                    troubleSince: row.troubleSince.map(Timestamp.date), drift: try row.drift.map { try JSONColumn.decode(Drift.self, from: $0) }
                )
            }
        }
    }

    public func recordObserved(_ observations: [ObservedStatus]) async throws -> Int {
        guard !observations.isEmpty else { return 0 }
        return try await database.transaction { [ids] sql in
            // The audit entries go in together at the end: the chain's head is locked and moved once per organization.
            var entries: [String: [AuditEvent]] = [:]
            // A few statements per 500 deployments, not two per deployment: a cold start on 50,000 deployments made
            // 100,000 round trips to PostgreSQL (bench/scale.sh).
            for start in stride(from: 0, to: observations.count, by: Self.observedBatch) {
                let batch = observations[start..<min(start + Self.observedBatch, observations.count)]
                for (org, event) in try await Self.write(batch, on: sql) { entries[org, default: []].append(event) }
            }
            for (org, events) in entries.sorted(by: { $0.key < $1.key }) {
                try await AuditTrail.record(events, actor: .system, org: org, requestID: nil, ids: ids, on: sql)
            }
            return entries.values.reduce(0) { $0 + $1.count }
        }
    }

    /// Deployments read and written per statement (4 values a row stays far below either database's limit on binds).
    static let observedBatch = 500

    /// A batch of observations, each compared with its row read under lock: the rows that changed are updated in one
    /// statement, and a changed status gives an audit entry (with its organization). A deployment deleted meanwhile is skipped.
    static func write(_ batch: ArraySlice<ObservedStatus>, on sql: any SQLDatabase) async throws -> [(String, AuditEvent)] {
        struct Observed { var status: String; var lastDeployedAt: Int64?; var observedRevision: String? }
        let rows = try await sql.raw("""
            SELECT id, status, last_deployed_at, observed_revision FROM deployments
            WHERE id IN (\(binds: batch.map(\.target.deploymentID))) AND deleted_at IS NULL\(RowLocking(.update, of: "deployments"))
            """).all()
        var stored: [String: Observed] = [:]
        for row in rows {
            stored[try row.decode(column: "id", as: String.self)] = Observed(
                status: try row.decode(column: "status", as: String.self), lastDeployedAt: try row.decode(column: "last_deployed_at", as: Int64?.self),
                observedRevision: try row.decode(column: "observed_revision", as: String?.self))
        }
        var events: [(String, AuditEvent)] = []
        var changed: [String: Observed] = [:]
        for observation in batch {
            let target = observation.target
            guard let row = stored[target.deploymentID] else { continue }
            let status = observation.status
            let before = DeploymentStatus(rawValue: row.status) ?? .unknown
            let newRevision = observation.revision ?? row.observedRevision
            let newLastDeployed = observation.deployedAt.map(Timestamp.micros) ?? row.lastDeployedAt
            guard before != status || newRevision != row.observedRevision || newLastDeployed != row.lastDeployedAt else { continue }
            let now = Observed(status: status.rawValue, lastDeployedAt: newLastDeployed, observedRevision: newRevision)
            stored[target.deploymentID] = now
            changed[target.deploymentID] = now
            guard before != status else { continue }
            events.append((target.organizationID, AuditEvent(
                "status_changed", "deployment", target.deploymentID, projectID: target.projectID, environmentID: target.environmentID,
                deploymentID: target.deploymentID, changes: ["status": .object(["from": .string(before.rawValue), "to": .string(status.rawValue)])])))
        }
        guard !changed.isEmpty else { return events }
        // Typed by CAST: PostgreSQL reads an untyped parameter in VALUES as text, and a NULL has no type at all.
        let values = changed.map { id, row -> SQLQueryString in
            "(\(bind: id), \(bind: row.status), CAST(\(bind: row.observedRevision) AS TEXT), CAST(\(bind: row.lastDeployedAt) AS BIGINT))"
        }
        try await sql.raw("""
            WITH observed (id, status, observed_revision, last_deployed_at) AS (VALUES \(values.joined(separator: ", ")))
            UPDATE deployments SET status = observed.status, observed_revision = observed.observed_revision,
                last_deployed_at = observed.last_deployed_at
            FROM observed WHERE deployments.id = observed.id
            """).run()
        return events
    }

    public func recordRollout(_ target: SyncTarget, succeeded: Bool, message: String?, now: Date) async throws {
        guard let number = target.currentRevision else { return }
        let at = Timestamp.micros(now)
        try await database.transaction { [ids] sql in
            // Only an applied revision's rollout ends here; one that ended meanwhile is never edited again.
            let status = try await sql.raw("""
                SELECT status FROM revisions WHERE deployment_id = \(bind: target.deploymentID) AND number = \(bind: number)\(RowLocking(.update, of: "revisions"))
                """).first(decodingColumn: "status", as: String.self)
            guard status == RevisionStatus.applied.rawValue else { return }
            let verb = succeeded ? "succeeded" : "failed"
            try await sql.raw("""
                UPDATE revisions SET status = \(bind: verb), message = \(bind: message), finished_at = \(bind: at)
                WHERE deployment_id = \(bind: target.deploymentID) AND number = \(bind: number)
                """).run()
            if succeeded {
                try await sql.raw("UPDATE deployments SET last_deployed_at = \(bind: at) WHERE id = \(bind: target.deploymentID)").run()
            }
            try await DeployQueue.recordEvent(
                target.deploymentID, org: target.organizationID, reason: succeeded ? "RevisionSucceeded" : "RevisionFailed",
                message: succeeded ? "Revision \(number) rolled out: every replica is updated and available."
                    : "Revision \(number) failed: \(message ?? "the rollout did not complete")",
                object: "Revision/\(number)", warning: !succeeded, ids: ids, now: at, on: sql)
            try await DeployQueue.auditRevision(verb, number: number, message: message, deploymentID: target.deploymentID,
                                                org: target.organizationID, ids: ids, now: at, on: sql)
        }
    }

    public func recordTrouble(_ target: SyncTarget, since: Date?) async throws {
        guard let number = target.currentRevision else { return }
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE revisions SET trouble_since = \(bind: since.map(Timestamp.micros))
                WHERE deployment_id = \(bind: target.deploymentID) AND number = \(bind: number) AND status = 'applied'
                """).run()
        }
    }

    public func recordDrift(_ target: SyncTarget, drift: Drift?) async throws {
        try await database.transaction { [ids] sql in
            try await sql.raw("""
                UPDATE deployments SET drift = \(bind: try drift.map(JSONColumn.encode)) WHERE id = \(bind: target.deploymentID)
                """).run()
            guard let drift else { return }
            let at = Timestamp.micros(drift.detectedAt)
            try await DeployQueue.recordEvent(
                target.deploymentID, org: target.organizationID, reason: "DriftDetected",
                message: "The live Deployment no longer matches revision \(target.currentRevision ?? 0): \(drift.fields.joined(separator: ", ")) changed in the cluster. Deploy again to restore it.",
                object: "Deployment/\(target.name)", warning: true, ids: ids, now: at, on: sql)
            try await AuditTrail.record(
                AuditEvent("drift_detected", "deployment", target.deploymentID, projectID: target.projectID, environmentID: target.environmentID,
                           deploymentID: target.deploymentID, changes: ["drift": .object(["from": .null, "to": .array(drift.fields.map(JSONValue.string))])]),
                actor: .system, org: target.organizationID, requestID: nil, ids: ids, on: sql
            )
        }
    }
}
