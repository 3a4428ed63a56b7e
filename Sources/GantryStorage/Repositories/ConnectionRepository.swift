import Foundation
import GantryCore
import SQLKit

public protocol ConnectionRepository: Sendable {
    func create(in environmentID: String, from: String, to: String, sourceHint: ConnectionSource, injectedVar: String?,
                by caller: Caller) async throws -> Connection
    func list(in environmentID: String, _ page: PageRequest, for caller: Caller) async throws -> Page<Connection>
    func delete(_ id: String, by caller: Caller) async throws
    /// Turns a suggestion into a manual connection.
    func accept(_ id: String, by caller: Caller) async throws -> Connection
}

public struct SQLConnectionRepository: ConnectionRepository, AuditedRepository {
    static let columns = "c.id, c.environment_id, c.from_deployment_id, c.to_deployment_id, c.source_hint, c.injected_var, c.created_at"

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    static let pairTaken = AppError.conflict(field: "toDeploymentId", "These two deployments are already connected in this direction.")

    public func create(in environmentID: String, from: String, to: String, sourceHint: ConnectionSource, injectedVar: String?,
                       by caller: Caller) async throws -> Connection {
        let org = caller.organizationID
        return try await database.transaction { [database] sql in
            let environment = try await SQLEnvironmentRepository.fetchLive(environmentID, in: nil, org: org, lock: database.kind.lock(.share), on: sql)
            try caller.authorize(environment.target, resource: "environment")
            var validator = Validator()
            if from == to { validator.fail("toDeploymentId", "must differ from fromDeploymentId: a deployment cannot connect to itself") }
            for (field, id) in [("fromDeploymentId", from), ("toDeploymentId", to)] {
                let found = try await sql.raw("""
                    SELECT id FROM deployments WHERE id = \(bind: id) AND environment_id = \(bind: environmentID) AND deleted_at IS NULL
                    """ + SQLQueryString(database.kind.lock(.share))).first()
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

    public func list(in environmentID: String, _ page: PageRequest, for caller: Caller) async throws -> Page<Connection> {
        let fragments = SQLFragments.page(page, column: "c.id")
        let rows = try await database.read { sql in
            let environment = try await SQLEnvironmentRepository.fetchLive(environmentID, in: nil, org: caller.organizationID, lock: "", on: sql)
            try caller.authorize(environment.target, resource: "environment")
            return try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM connections c
                WHERE c.environment_id = \(bind: environmentID) AND c.org_id = \(bind: caller.organizationID) AND c.deleted_at IS NULL
                """ + fragments.filter + fragments.tail).all()
        }
        return Page(rows: try rows.map(Self.connection), limit: page.limit, key: \.id)
    }

    public func delete(_ id: String, by caller: Caller) async throws {
        try await database.transaction { [database] sql in
            let (connection, projectID) = try await Self.fetchLive(id, org: caller.organizationID, lock: database.kind.lock(.update), on: sql)
            try caller.authorize(.environment(connection.environmentID, project: projectID), resource: "connection")
            try await sql.raw("UPDATE connections SET deleted_at = \(bind: Timestamp.now()) WHERE id = \(bind: id)").run()
            try await record(Self.event("deleted", connection, projectID: projectID, changes: Changes.diff(connection.auditFields, [:])), by: caller, on: sql)
        }
    }

    public func accept(_ id: String, by caller: Caller) async throws -> Connection {
        try await database.transaction { [database] sql in
            var (connection, projectID) = try await Self.fetchLive(id, org: caller.organizationID, lock: database.kind.lock(.update), on: sql)
            try caller.authorize(.environment(connection.environmentID, project: projectID), resource: "connection")
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

    /// A live connection and its project, for the access check.
    static func fetchLive(_ id: String, org: String, lock: String, on sql: any SQLDatabase) async throws -> (Connection, projectID: String) {
        guard let row = try await sql.raw("""
            SELECT \(unsafeRaw: columns), e.project_id FROM connections c
            JOIN environments e ON e.id = c.environment_id JOIN projects p ON p.id = e.project_id
            WHERE c.id = \(bind: id) AND c.org_id = \(bind: org) AND c.deleted_at IS NULL AND e.deleted_at IS NULL AND p.deleted_at IS NULL
            """ + SQLQueryString(lock.isEmpty ? "" : lock + " OF c")).first() else {
            throw AppError.notFound("connection")
        }
        return (try connection(row), try row.string("project_id"))
    }

    static func connection(_ row: any SQLRow) throws -> Connection {
        Connection(
            id: try row.string("id"), environmentID: try row.string("environment_id"),
            fromDeploymentID: try row.string("from_deployment_id"), toDeploymentID: try row.string("to_deployment_id"),
            sourceHint: ConnectionSource(rawValue: try row.string("source_hint")) ?? .manual,
            injectedVar: try row.optionalString("injected_var"), createdAt: try row.date("created_at")
        )
    }
}
