import Foundation
import GantryCore
import SQLKit

public protocol IntegrationRepository: Sendable {
    func makeID() -> String
    func create(id: String, name: String, kind: IntegrationKind, registry: String, cloudAccountID: String?, sealedCredentials: String?,
                by caller: Caller, requiring policy: String) async throws -> Integration
    func list(_ query: ListQuery, for caller: Caller, requiring policy: String) async throws -> Page<Integration>
    func get(_ id: String, for caller: Caller, requiring policy: String) async throws -> Integration
    func update(_ id: String, _ patch: IntegrationPatch, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Integration
    func delete(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws
}

/// An `integrations` row as stored; of its sealed credentials only whether there are any.
struct IntegrationRow: VersionedRow {
    static let resource = "registry integration"
    static let table = "integrations"
    static let columns = """
        id, name, kind, registry, cloud_account_id, CASE WHEN sealed_credentials IS NULL THEN 0 ELSE 1 END AS has_credentials,
        created_at, updated_at, version
        """

    var id: String
    var name: String
    var kind: String
    var registry: String
    var cloudAccountId: String?
    var hasCredentials: Int
    var createdAt: Int64
    var updatedAt: Int64
    var version: Int

    var integration: Integration {
        Integration(
            id: id, name: name, kind: IntegrationKind(rawValue: kind) ?? .generic, registry: registry, cloudAccountID: cloudAccountId,
            hasCredentials: hasCredentials == 1, createdAt: Timestamp.date(createdAt), updatedAt: Timestamp.date(updatedAt), version: version
        )
    }
}

public struct SQLIntegrationRepository: IntegrationRepository, AuditedRepository {

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
                       by caller: Caller, requiring policy: String) async throws -> Integration {
                           try caller.permissions.authorize(policy, on: .organization, resource: "integration")
        let now = Timestamp.now()
        let org = caller.organizationID
        return try await database.transaction { sql in
            if let cloudAccountID {
                try await SQLCloudAccountRepository.requireLive(cloudAccountID, field: "cloudAccountId", org: org, on: sql)
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

    public func list(_ query: ListQuery, for caller: Caller, requiring policy: String) async throws -> Page<Integration> {
        try caller.permissions.authorize(policy, on: .organization, resource: "integration")
        let page = SQLFragments.page(query.page)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: IntegrationRow.columns) FROM integrations WHERE org_id = \(bind: caller.organizationID) AND deleted_at IS NULL
                """ + SQLFragments.nameFilter(query) + page.filter + page.tail).all(IntegrationRow.self)
        }
        return Page(rows: rows.map(\.integration), limit: query.page.limit, key: \.id)
    }

    public func get(_ id: String, for caller: Caller, requiring policy: String) async throws -> Integration {
        try caller.permissions.authorize(policy, on: .organization, resource: "integration")
        return try await database.read { sql in try await IntegrationRow.fetchLive(id, org: caller.organizationID, lock: nil, on: sql).integration }
    }

    public func update(_ id: String, _ patch: IntegrationPatch, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Integration {
        try caller.permissions.authorize(policy, on: .organization, resource: "integration")
        let org = caller.organizationID
        return try await database.transaction { sql in
            var integration = try await IntegrationRow.fetchLive(id, org: org, lock: RowLocking(.update, of: IntegrationRow.alias), on: sql).integration
            try checkVersion(ifMatch, current: integration.version)
            let before = integration
            if let name = patch.name, name != integration.name {
                try await NameRules.ensureFree(name, table: "integrations", excluding: id, org: org, on: sql, taken: Self.nameTaken)
                integration.name = name
            }
            integration.registry = patch.registry ?? integration.registry
            integration.cloudAccountID = patch.cloudAccountID.applied(to: integration.cloudAccountID)
            if case .set(let accountID) = patch.cloudAccountID {
                try await SQLCloudAccountRepository.requireLive(accountID, field: "cloudAccountId", org: org, on: sql)
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

    public func delete(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws {
        try caller.permissions.authorize(policy, on: .organization, resource: "integration")
        try await softDelete(
            IntegrationRow.self, id, ifMatch: ifMatch, auditAs: "integration", by: caller,
            unlessUsedBy: [LiveReferences(detail: "environmentCount", table: "environments", column: "registry_integration_id")]
        ) { name, counts in
            "Registry integration '\(name)' is used by \(counts[0]) live environment(s); clear it there first."
        }
    }
}
