import Foundation
import GantryCore
import SQLKit

public protocol IntegrationRepository: Sendable {
    func makeID() -> String
    func create(id: String, name: String, kind: IntegrationKind, registry: String, cloudAccountID: String?, sealedCredentials: String?,
                by caller: Caller) async throws -> Integration
    func list(_ query: ListQuery, for caller: Caller) async throws -> Page<Integration>
    func get(_ id: String, for caller: Caller) async throws -> Integration
    func update(_ id: String, _ patch: IntegrationPatch, ifMatch: Int?, by caller: Caller) async throws -> Integration
    func delete(_ id: String, ifMatch: Int?, by caller: Caller) async throws
}

public struct SQLIntegrationRepository: IntegrationRepository, AuditedRepository {
    static let columns = """
        id, name, kind, registry, cloud_account_id, CASE WHEN sealed_credentials IS NULL THEN 0 ELSE 1 END AS has_credentials,
        created_at, updated_at, version
        """

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    static func nameTaken(_ name: String) -> AppError {
        .conflict(field: "name", "A registry integration named '\(name)' already exists in this organization (names ignore case).")
    }

    public func makeID() -> String { ids.make(.integration) }

    public func create(id: String, name: String, kind: IntegrationKind, registry: String, cloudAccountID: String?, sealedCredentials: String?,
                       by caller: Caller) async throws -> Integration {
        let now = Timestamp.now()
        let org = caller.organizationID
        return try await database.transaction { [database] sql in
            if let cloudAccountID {
                try await SQLCloudAccountRepository.requireLive(cloudAccountID, field: "cloudAccountId", org: org, kind: database.kind, on: sql)
            }
            try await NameRules.ensureFree(name, table: "integrations", excluding: nil, org: org, on: sql, taken: Self.nameTaken)
            try await mappingUniqueViolation({ _ in Self.nameTaken(name) }) {
                try await sql.raw("""
                    INSERT INTO integrations (id, org_id, name, name_key, kind, registry, cloud_account_id, sealed_credentials,
                        created_at, updated_at, version)
                    VALUES (\(bind: id), \(bind: org), \(bind: name), \(bind: Rules.nameKey(name)), \(bind: kind.rawValue), \(bind: registry),
                        \(bind: cloudAccountID), \(bind: sealedCredentials), \(bind: now), \(bind: now), 1)
                    """).run()
            }
            let integration = Integration(
                id: id, name: name, kind: kind, registry: registry, cloudAccountID: cloudAccountID, hasCredentials: sealedCredentials != nil,
                createdAt: Timestamp.date(now), updatedAt: Timestamp.date(now), version: 1
            )
            try await record(AuditEvent("created", "integration", id, changes: Changes.created(integration.auditFields)), by: caller, on: sql)
            return integration
        }
    }

    public func list(_ query: ListQuery, for caller: Caller) async throws -> Page<Integration> {
        let page = SQLFragments.page(query.page)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM integrations WHERE org_id = \(bind: caller.organizationID) AND deleted_at IS NULL
                """ + SQLFragments.nameFilter(query) + page.filter + page.tail).all()
        }
        return Page(rows: try rows.map(Self.integration), limit: query.page.limit, key: \.id)
    }

    public func get(_ id: String, for caller: Caller) async throws -> Integration {
        try await database.read { sql in try await Self.fetchLive(id, org: caller.organizationID, lock: "", on: sql) }
    }

    public func update(_ id: String, _ patch: IntegrationPatch, ifMatch: Int?, by caller: Caller) async throws -> Integration {
        let org = caller.organizationID
        return try await database.transaction { [database] sql in
            var integration = try await Self.fetchLive(id, org: org, lock: database.kind.lock(.update), on: sql)
            try checkVersion(ifMatch, current: integration.version)
            let before = integration
            if let name = patch.name, name != integration.name {
                try await NameRules.ensureFree(name, table: "integrations", excluding: id, org: org, on: sql, taken: Self.nameTaken)
                integration.name = name
            }
            integration.registry = patch.registry ?? integration.registry
            integration.cloudAccountID = patch.cloudAccountID.applied(to: integration.cloudAccountID)
            if case .set(let accountID) = patch.cloudAccountID {
                try await SQLCloudAccountRepository.requireLive(accountID, field: "cloudAccountId", org: org, kind: database.kind, on: sql)
            }
            if patch.sealedCredentials != nil { integration.hasCredentials = true }
            let now = Timestamp.now()
            integration.version += 1
            integration.updatedAt = Timestamp.date(now)
            let sealed: SQLQueryString = patch.sealedCredentials.map { ", sealed_credentials = \(bind: $0)" } ?? ""
            try await mappingUniqueViolation({ _ in Self.nameTaken(integration.name) }) {
                try await sql.raw("""
                    UPDATE integrations SET name = \(bind: integration.name), name_key = \(bind: Rules.nameKey(integration.name)),
                        registry = \(bind: integration.registry), cloud_account_id = \(bind: integration.cloudAccountID),
                        updated_at = \(bind: now), version = \(bind: integration.version)
                    """ + sealed + " WHERE id = \(bind: id)").run()
            }
            var changes = Changes.diff(before.auditFields, integration.auditFields)
            if patch.sealedCredentials != nil { changes["credentials"] = Changes.replacedSecret }
            try await record(AuditEvent("updated", "integration", id, changes: changes), by: caller, on: sql)
            return integration
        }
    }

    public func delete(_ id: String, ifMatch: Int?, by caller: Caller) async throws {
        try await database.transaction { [database] sql in
            let integration = try await Self.fetchLive(id, org: caller.organizationID, lock: database.kind.lock(.update), on: sql)
            try checkVersion(ifMatch, current: integration.version)
            let environments = try await sql.raw("""
                SELECT COUNT(*) AS n FROM environments WHERE registry_integration_id = \(bind: id) AND deleted_at IS NULL
                """).first().map { try $0.int("n") } ?? 0
            guard environments == 0 else {
                throw hasChildren(
                    "Registry integration '\(integration.name)' is used by \(environments) live environment(s); clear it there first.",
                    ["environmentCount": .int(environments)]
                )
            }
            let now = Timestamp.now()
            try await sql.raw("UPDATE integrations SET deleted_at = \(bind: now) WHERE id = \(bind: id)").run()
            try await record(AuditEvent("deleted", "integration", id, changes: Changes.deleted(at: now)), by: caller, on: sql)
        }
    }

    static func fetchLive(_ id: String, org: String, lock: String, on sql: any SQLDatabase) async throws -> Integration {
        guard let row = try await sql.raw("""
            SELECT \(unsafeRaw: columns) FROM integrations WHERE id = \(bind: id) AND org_id = \(bind: org) AND deleted_at IS NULL
            """ + SQLQueryString(lock)).first() else {
            throw AppError.notFound("registry integration")
        }
        return try integration(row)
    }

    static func integration(_ row: any SQLRow) throws -> Integration {
        Integration(
            id: try row.string("id"), name: try row.string("name"), kind: IntegrationKind(rawValue: try row.string("kind")) ?? .generic,
            registry: try row.string("registry"), cloudAccountID: try row.optionalString("cloud_account_id"),
            hasCredentials: try row.int("has_credentials") == 1, createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"), version: try row.int("version")
        )
    }
}
