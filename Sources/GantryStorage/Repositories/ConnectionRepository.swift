import Foundation
import GantryCore
import SQLKit

public protocol ConnectionRepository: Sendable {
    func create(in environmentID: String, from: String, to: String, sourceHint: ConnectionSource, injectedVar: String?,
                by caller: Caller, requiring policy: String) async throws -> Connection
    func list(in environmentID: String, _ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<Connection>
    func delete(_ id: String, by caller: Caller, requiring policy: String) async throws
    /// Turns a suggestion into a manual connection.
    func accept(_ id: String, by caller: Caller, requiring policy: String) async throws -> Connection
}

/// A `connections` row as stored, with its environment's project for the access check; live only while its
/// environment and project are.
struct ConnectionRow: LiveRow {
    static let resource = "connection"
    static let table = "connections"
    static let alias = "c"
    static let columns = "c.id, c.environment_id, c.from_deployment_id, c.to_deployment_id, c.source_hint, c.injected_var, c.created_at, e.project_id"
    static let liveParents = (
        joins: " JOIN environments e ON e.id = c.environment_id JOIN projects p ON p.id = e.project_id",
        conditions: " AND e.deleted_at IS NULL AND p.deleted_at IS NULL"
    )

    var id: String
    var environmentId: String
    var fromDeploymentId: String
    var toDeploymentId: String
    var sourceHint: String
    var injectedVar: String?
    var createdAt: Int64
    var projectId: String

    var connection: Connection {
        Connection(id: id, environmentID: environmentId, fromDeploymentID: fromDeploymentId, toDeploymentID: toDeploymentId,
                   sourceHint: ConnectionSource(rawValue: sourceHint) ?? .manual, injectedVar: injectedVar, createdAt: Timestamp.date(createdAt))
    }
}

public struct SQLConnectionRepository: ConnectionRepository, AuditedRepository {

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    static let pairTaken = AppError.conflict(field: "toDeploymentId", "These two deployments are already connected in this direction.")

    public func create(in environmentID: String, from: String, to: String, sourceHint: ConnectionSource, injectedVar: String?,
                       by caller: Caller, requiring policy: String) async throws -> Connection {
        let org = caller.organizationID
        return try await database.transaction { sql in
            let environment = try await EnvironmentRow.fetchLive(environmentID, org: org, lock: RowLocking(.share, of: EnvironmentRow.alias), on: sql).environment
            try caller.permissions.authorize(policy, on: environment.target, resource: "environment")
            var validator = Validator()
            if from == to { validator.fail("toDeploymentId", "must differ from fromDeploymentId: a deployment cannot connect to itself") }
            for (field, id) in [("fromDeploymentId", from), ("toDeploymentId", to)] {
                let found = try await sql.raw("""
                    SELECT id FROM deployments WHERE id = \(bind: id) AND environment_id = \(bind: environmentID) AND deleted_at IS NULL\(RowLocking(.share, of: "deployments"))
                    """).first()
                if found == nil { validator.fail(field, "no live deployment \(id) exists in this environment") }
            }
            try validator.check()
            let existing = try await sql.raw("""
                SELECT id FROM connections WHERE from_deployment_id = \(bind: from) AND to_deployment_id = \(bind: to) AND deleted_at IS NULL
                """).first()
            if existing != nil { throw Self.pairTaken }
            let now = Timestamp.now()
            let connection = Connection(
                id: ids.make(.connection), environmentID: environmentID, fromDeploymentID: from, toDeploymentID: to,
                sourceHint: sourceHint, injectedVar: injectedVar, createdAt: Timestamp.date(now)
            )
            try await mappingUniqueViolation({ _ in Self.pairTaken }) {
                try await sql.raw("""
                    INSERT INTO connections (id, org_id, environment_id, from_deployment_id, to_deployment_id, source_hint, injected_var, created_at)
                    VALUES (\(bind: connection.id), \(bind: org), \(bind: environmentID), \(bind: from), \(bind: to),
                        \(bind: sourceHint.rawValue), \(bind: injectedVar), \(bind: now))
                    """).run()
            }
            try await record(Self.event("created", connection, projectID: environment.projectID, changes: Changes.created(connection.auditFields)), by: caller, on: sql)
            return connection
        }
    }

    public func list(in environmentID: String, _ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<Connection> {
        let fragments = SQLFragments.page(page, column: "c.id")
        let rows = try await database.read { sql in
            let environment = try await EnvironmentRow.fetchLive(environmentID, org: caller.organizationID, lock: nil, on: sql).environment
            try caller.permissions.authorize(policy, on: environment.target, resource: "environment")
            return try await sql.raw("""
                SELECT \(unsafeRaw: ConnectionRow.columns) FROM connections c JOIN environments e ON e.id = c.environment_id
                WHERE c.environment_id = \(bind: environmentID) AND c.org_id = \(bind: caller.organizationID) AND c.deleted_at IS NULL
                """ + fragments.filter + fragments.tail).all(ConnectionRow.self)
        }
        return Page(rows: rows.map(\.connection), limit: page.limit, key: \.id)
    }

    public func delete(_ id: String, by caller: Caller, requiring policy: String) async throws {
        try await database.transaction { sql in
            let row = try await ConnectionRow.fetchLive(id, org: caller.organizationID, lock: RowLocking(.update, of: ConnectionRow.alias), on: sql)
            let (connection, projectID) = (row.connection, row.projectId)
            try caller.permissions.authorize(policy, on: .environment(connection.environmentID, project: projectID), resource: "connection")
            try await sql.raw("UPDATE connections SET deleted_at = \(bind: Timestamp.now()) WHERE id = \(bind: id)").run()
            try await record(Self.event("deleted", connection, projectID: projectID, changes: Changes.diff(connection.auditFields, [:])), by: caller, on: sql)
        }
    }

    public func accept(_ id: String, by caller: Caller, requiring policy: String) async throws -> Connection {
        try await database.transaction { sql in
            let row = try await ConnectionRow.fetchLive(id, org: caller.organizationID, lock: RowLocking(.update, of: ConnectionRow.alias), on: sql)
            var connection = row.connection
            let projectID = row.projectId
            try caller.permissions.authorize(policy, on: .environment(connection.environmentID, project: projectID), resource: "connection")
            if connection.sourceHint == .suggestion {
                try await sql.raw("UPDATE connections SET source_hint = 'manual' WHERE id = \(bind: id)").run()
                connection.sourceHint = .manual
                try await record(Self.event("accepted", connection, projectID: projectID, changes: [
                    "sourceHint": .object(["from": .string(ConnectionSource.suggestion.rawValue), "to": .string(ConnectionSource.manual.rawValue)]),
                ]), by: caller, on: sql)
            }
            return connection
        }
    }

    static func event(_ verb: String, _ connection: Connection, projectID: String, changes: [String: JSONValue]) -> AuditEvent {
        AuditEvent(verb, "connection", connection.id, projectID: projectID, environmentID: connection.environmentID, changes: changes)
    }
}
