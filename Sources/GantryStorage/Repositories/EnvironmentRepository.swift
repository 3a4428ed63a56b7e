import Foundation
import GantryCore
import SQLKit

public protocol EnvironmentRepository: Sendable {
    func create(in projectID: String, _ new: NewEnvironment, by caller: Caller, requiring policy: String) async throws -> Environment
    func list(in projectID: String, _ query: ListQuery, for caller: Caller) async throws -> Page<Environment>
    /// An environment by ID; with `projectID`, only when it belongs to that project.
    func get(_ id: String, in projectID: String?, for caller: Caller, requiring policy: String) async throws -> Environment
    func update(_ id: String, in projectID: String, _ patch: EnvironmentPatch, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Environment
    func delete(_ id: String, in projectID: String, ifMatch: Int?, dryRun: Bool, by caller: Caller, requiring policy: String) async throws -> DeletionPreview
    /// Every environment the caller sees, across projects (docs/api.md §8 `GET /environments`).
    func listAll(_ query: ListQuery, _ filter: EnvironmentFilter, for caller: Caller) async throws -> Page<Environment>
    /// A copy of the environment and the chosen deployments in one transaction (docs/api.md §8). `policy` is checked on
    /// the project, `deployPolicy` too when the copies are deployed; `reseal(sealed, sourceDeploymentID, copyID)` binds
    /// a copy's sealed secret variables to the copy.
    func clone(_ sourceID: String, _ request: CloneRequest, reseal: @Sendable (String, String, String) throws -> String,
               by caller: Caller, requiring policy: String, deployPolicy: String) async throws -> Environment
}

/// An `environments` row as stored; live only while its project is.
struct EnvironmentRow: VersionedRow {
    static let resource = "environment"
    static let table = "environments"
    static let alias = "e"
    static let columns = """
        e.id, e.project_id, e.name, e.space_id, e.namespace, e.registry_integration_id, e.registry_url, e.created_by, e.created_at,
        e.updated_at, e.version, e.cloned_from_id, e.expires_at
        """
    static let liveParents = (joins: " JOIN projects p ON p.id = e.project_id", conditions: " AND p.deleted_at IS NULL")

    /// For routes nested under a project: the environment only when it belongs to that project.
    static func inProject(_ projectID: String?) -> SQLQueryString {
        projectID.map { " AND e.project_id = \(bind: $0)" } ?? ""
    }

    var id: String
    var projectId: String
    var name: String
    var spaceId: String
    var namespace: String
    var registryIntegrationId: String?
    var registryUrl: String?
    var createdBy: String
    var createdAt: Int64
    var updatedAt: Int64
    var version: Int
    var clonedFromId: String?
    var expiresAt: Int64?

    var environment: Environment {
        var environment = Environment(
            id: id, projectID: projectId, name: name, spaceID: spaceId, namespace: namespace, registryIntegrationID: registryIntegrationId,
            registryURL: registryUrl, createdAt: Timestamp.date(createdAt), updatedAt: Timestamp.date(updatedAt), createdBy: createdBy,
            version: version
        )
        environment.clonedFromID = clonedFromId
        environment.expiresAt = expiresAt.map(Timestamp.date)
        return environment
    }
}

public struct SQLEnvironmentRepository: EnvironmentRepository, AuditedRepository {

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    static func nameTaken(_ name: String) -> AppError {
        .conflict(field: "name", "An environment named '\(name)' already exists in this project (names ignore case).")
    }

    static func namespaceTaken(_ namespace: String) -> AppError {
        .conflict(field: "namespace", "Namespace '\(namespace)' on this space is already bound to another live environment.")
    }

    static func uniqueConflict(name: String, namespace: String) -> (String) -> AppError {
        { index in index.contains("namespace") ? namespaceTaken(namespace) : nameTaken(name) }
    }

    public func create(in projectID: String, _ new: NewEnvironment, by caller: Caller, requiring policy: String) async throws -> Environment {
        let now = Timestamp.now()
        let environment = Environment(
            id: ids.make(.environment), projectID: projectID, name: new.name, spaceID: new.spaceID, namespace: new.namespace,
            registryIntegrationID: new.registryIntegrationID, registryURL: new.registryURL, createdAt: Timestamp.date(now),
            updatedAt: Timestamp.date(now), createdBy: caller.email, version: 1
        )
        let org = caller.organizationID
        try caller.permissions.authorize(policy, on: .project(projectID), resource: "project")
        return try await database.transaction { sql in
            // FOR SHARE on the parent: a concurrent project delete waits for this insert, then sees it and refuses.
            _ = try await ProjectRow.fetchLive(projectID, org: org, lock: RowLocking(.share, of: ProjectRow.alias), on: sql)
            try await Self.checkReferences(spaceID: new.spaceID, integrationID: new.registryIntegrationID, org: org, on: sql)
            try await Self.ensureUnique(environment, excluding: nil, org: org, on: sql)
            try await mappingUniqueViolation(Self.uniqueConflict(name: new.name, namespace: new.namespace)) {
                try await sql.raw("""
                    INSERT INTO environments (id, org_id, project_id, name, name_key, space_id, namespace, registry_integration_id,
                        registry_url, created_by, created_at, updated_at, version)
                    VALUES (\(bind: environment.id), \(bind: org), \(bind: projectID), \(bind: new.name), \(bind: Rules.nameKey(new.name)),
                        \(bind: new.spaceID), \(bind: new.namespace), \(bind: new.registryIntegrationID), \(bind: new.registryURL),
                        \(bind: caller.email), \(bind: now), \(bind: now), 1)
                    """).run()
            }
            try await record(Self.event("created", environment, changes: Changes.created(environment.auditFields)), by: caller, on: sql)
            return environment
        }
    }

    public func list(in projectID: String, _ query: ListQuery, for caller: Caller) async throws -> Page<Environment> {
        let page = SQLFragments.page(query.page, column: "e.id")
        guard caller.permissions.sees(.project(projectID)) else { throw AppError.notFound("project") }
        let rows = try await database.read { sql in
            _ = try await ProjectRow.fetchLive(projectID, org: caller.organizationID, lock: nil, on: sql)
            return try await sql.raw("""
                SELECT \(unsafeRaw: EnvironmentRow.columns) FROM environments e
                WHERE e.project_id = \(bind: projectID) AND e.org_id = \(bind: caller.organizationID) AND e.deleted_at IS NULL
                """ + SQLFragments.visible(caller.permissions.visibleEnvironments(in: projectID), column: "e.id")
                + SQLFragments.nameFilter(query, column: "e.name_key") + page.filter + page.tail).all(EnvironmentRow.self)
        }
        return Page(rows: rows.map(\.environment), limit: query.page.limit, key: \.id)
    }

    public func get(_ id: String, in projectID: String?, for caller: Caller, requiring policy: String) async throws -> Environment {
        let environment = try await database.read { sql in
            try await EnvironmentRow.fetchLive(id, org: caller.organizationID, filter: EnvironmentRow.inProject(projectID), lock: nil, on: sql).environment
        }
        try caller.permissions.authorize(policy, on: environment.target, resource: "environment")
        return environment
    }

    public func update(_ id: String, in projectID: String, _ patch: EnvironmentPatch, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Environment {
        let org = caller.organizationID
        return try await database.transaction { sql in
            var environment = try await EnvironmentRow.fetchLive(
                id, org: org, filter: EnvironmentRow.inProject(projectID), lock: RowLocking(.update, of: EnvironmentRow.alias), on: sql
            ).environment
            try caller.permissions.authorize(policy, on: environment.target, resource: "environment")
            try checkVersion(ifMatch, current: environment.version)
            let before = environment
            let moves = (patch.spaceID.map { $0 != environment.spaceID } ?? false) || (patch.namespace.map { $0 != environment.namespace } ?? false)
            if moves {
                let deployments = try await Self.liveDeploymentCount(id, on: sql)
                if deployments > 0 {
                    throw hasChildren(
                        "Environment '\(environment.name)' has \(deployments) live deployment(s); its space and namespace cannot change until they are deleted.",
                        ["deploymentCount": .int(deployments)]
                    )
                }
            }
            environment.name = patch.name ?? environment.name
            environment.spaceID = patch.spaceID ?? environment.spaceID
            environment.namespace = patch.namespace ?? environment.namespace
            environment.registryIntegrationID = patch.registryIntegrationID.applied(to: environment.registryIntegrationID)
            environment.registryURL = patch.registryURL.applied(to: environment.registryURL)
            environment.expiresAt = patch.expiresAt.applied(to: environment.expiresAt)
            try await Self.checkReferences(
                spaceID: patch.spaceID, integrationID: patch.registryIntegrationID == .absent ? nil : environment.registryIntegrationID,
                org: org, on: sql
            )
            try await Self.ensureUnique(environment, excluding: id, org: org, on: sql)
            let now = Timestamp.now()
            environment.version += 1
            environment.updatedAt = Timestamp.date(now)
            try await mappingUniqueViolation(Self.uniqueConflict(name: environment.name, namespace: environment.namespace)) {
                try await sql.raw("""
                    UPDATE environments SET name = \(bind: environment.name), name_key = \(bind: Rules.nameKey(environment.name)),
                        space_id = \(bind: environment.spaceID), namespace = \(bind: environment.namespace),
                        registry_integration_id = \(bind: environment.registryIntegrationID), registry_url = \(bind: environment.registryURL),
                        expires_at = \(bind: environment.expiresAt.map(Timestamp.micros)), updated_at = \(bind: now),
                        version = \(bind: environment.version)
                    WHERE id = \(bind: id)
                    """).run()
            }
            try await record(Self.event("updated", environment, changes: Changes.diff(before.auditFields, environment.auditFields)), by: caller, on: sql)
            return environment
        }
    }

    public func delete(_ id: String, in projectID: String, ifMatch: Int?, dryRun: Bool, by caller: Caller, requiring policy: String) async throws -> DeletionPreview {
        try await database.transaction { sql in
            let environment = try await EnvironmentRow.fetchLive(
                id, org: caller.organizationID, filter: EnvironmentRow.inProject(projectID), lock: RowLocking(.update, of: EnvironmentRow.alias), on: sql
            ).environment
            try caller.permissions.authorize(policy, on: environment.target, resource: "environment")
            try checkVersion(ifMatch, current: environment.version)
            let deployments = try await Self.liveDeploymentCount(id, on: sql)
            let preview = DeletionPreview(environmentCount: 0, deploymentCount: deployments)
            if dryRun { return preview }
            guard deployments == 0 else {
                throw hasChildren(
                    "Environment '\(environment.name)' still has \(deployments) live deployment(s); delete them first.",
                    ["deploymentCount": .int(deployments)]
                )
            }
            let now = Timestamp.now()
            try await sql.raw("UPDATE environments SET deleted_at = \(bind: now) WHERE id = \(bind: id)").run()
            try await record(Self.event("deleted", environment, changes: Changes.deleted(at: now)), by: caller, on: sql)
            return preview
        }
    }

    // MARK: - Rules and rows

    static func event(_ verb: String, _ environment: Environment, changes: [String: JSONValue]) -> AuditEvent {
        AuditEvent(verb, "environment", environment.id, projectID: environment.projectID, environmentID: environment.id, changes: changes)
    }

    static func liveDeploymentCount(_ environmentID: String, on sql: any SQLDatabase) async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM deployments WHERE environment_id = \(bind: environmentID) AND deleted_at IS NULL")
            .first(decodingColumn: "n", as: Int.self) ?? 0
    }

    /// A referenced space or integration must be live in the caller's organization; no read grant on it is needed.
    static func checkReferences(spaceID: String?, integrationID: String?, org: String, on sql: any SQLDatabase) async throws {
        var validator = Validator()
        if let spaceID {
            let found = try await sql.raw("""
                SELECT id FROM spaces WHERE id = \(bind: spaceID) AND org_id = \(bind: org) AND deleted_at IS NULL\(RowLocking(.share, of: "spaces"))
                """).first()
            if found == nil { validator.fail("spaceId", "no live deployment space \(spaceID) exists in this organization") }
        }
        if let integrationID {
            let found = try await sql.raw("""
                SELECT id FROM integrations WHERE id = \(bind: integrationID) AND org_id = \(bind: org) AND deleted_at IS NULL\(RowLocking(.share, of: "integrations"))
                """).first()
            if found == nil { validator.fail("registryIntegrationId", "no live registry integration \(integrationID) exists in this organization") }
        }
        try validator.check()
    }

    static func ensureUnique(_ environment: Environment, excluding id: String?, org: String, on sql: any SQLDatabase) async throws {
        let sameName = try await sql.raw("""
            SELECT id FROM environments WHERE project_id = \(bind: environment.projectID) AND name_key = \(bind: Rules.nameKey(environment.name))
            AND deleted_at IS NULL
            """).first(decodingColumn: "id", as: String.self)
        if let sameName, sameName != id { throw nameTaken(environment.name) }
        let sameNamespace = try await sql.raw("""
            SELECT id FROM environments WHERE org_id = \(bind: org) AND space_id = \(bind: environment.spaceID)
            AND namespace = \(bind: environment.namespace) AND deleted_at IS NULL
            """).first(decodingColumn: "id", as: String.self)
        if let sameNamespace, sameNamespace != id { throw namespaceTaken(environment.namespace) }
    }
}
