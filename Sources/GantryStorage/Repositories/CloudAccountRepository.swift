import Foundation
import GantryCore
import SQLKit

public protocol CloudAccountRepository: Sendable {
    func makeID() -> String
    func create(id: String, name: String, provider: CloudProvider, sealedCredentials: String, by caller: Caller, requiring policy: String) async throws -> CloudAccount
    func list(_ query: ListQuery, for caller: Caller, requiring policy: String) async throws -> Page<CloudAccount>
    func get(_ id: String, for caller: Caller, requiring policy: String) async throws -> CloudAccount
    func update(_ id: String, name: String?, sealedCredentials: String?, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> CloudAccount
    func delete(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws
}

/// A `cloud_accounts` row as stored, without its sealed credentials (only the deployer reads those).
struct CloudAccountRow: VersionedRow {
    static let resource = "cloud account"
    static let table = "cloud_accounts"
    static let columns = "id, name, provider, created_at, updated_at, version"

    var id: String
    var name: String
    var provider: String
    var createdAt: Int64
    var updatedAt: Int64
    var version: Int

    var account: CloudAccount {
        CloudAccount(id: id, name: name, provider: CloudProvider(rawValue: provider) ?? .aws, createdAt: Timestamp.date(createdAt),
                     updatedAt: Timestamp.date(updatedAt), version: version)
    }
}

public struct SQLCloudAccountRepository: CloudAccountRepository, AuditedRepository {

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    static func nameTaken(_ name: String) -> AppError {
        .conflict(field: "name", "A cloud account named '\(name)' already exists in this organization (names ignore case).")
    }

    public func makeID() -> String { ids.make(.cloudAccount) }

    public func create(id: String, name: String, provider: CloudProvider, sealedCredentials: String, by caller: Caller, requiring policy: String) async throws -> CloudAccount {
        try caller.permissions.authorize(policy, on: .organization, resource: "cloud account")
        let now = Timestamp.now()
        let org = caller.organizationID
        return try await database.transaction { sql in
            try await NameRules.ensureFree(name, table: "cloud_accounts", excluding: nil, org: org, on: sql, taken: Self.nameTaken)
            try await mappingUniqueViolation({ _ in Self.nameTaken(name) }) {
                try await sql.raw("""
                    INSERT INTO cloud_accounts (id, org_id, name, name_key, provider, sealed_credentials, created_at, updated_at, version)
                    VALUES (\(bind: id), \(bind: org), \(bind: name), \(bind: Rules.nameKey(name)), \(bind: provider.rawValue),
                        \(bind: sealedCredentials), \(bind: now), \(bind: now), 1)
                    """).run()
            }
            let account = CloudAccount(id: id, name: name, provider: provider, createdAt: Timestamp.date(now), updatedAt: Timestamp.date(now), version: 1)
            var changes = Changes.created(account.auditFields)
            changes["credentials"] = .object(["from": .null, "to": .string("(sealed)")])
            try await record(AuditEvent("created", "cloud_account", id, changes: changes), by: caller, on: sql)
            return account
        }
    }

    public func list(_ query: ListQuery, for caller: Caller, requiring policy: String) async throws -> Page<CloudAccount> {
        try caller.permissions.authorize(policy, on: .organization, resource: "cloud account")
        let page = SQLFragments.page(query.page)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: CloudAccountRow.columns) FROM cloud_accounts WHERE org_id = \(bind: caller.organizationID) AND deleted_at IS NULL
                """ + SQLFragments.nameFilter(query) + page.filter + page.tail).all(CloudAccountRow.self)
        }
        return Page(rows: rows.map(\.account), limit: query.page.limit, key: \.id)
    }

    public func get(_ id: String, for caller: Caller, requiring policy: String) async throws -> CloudAccount {
        try caller.permissions.authorize(policy, on: .organization, resource: "cloud account")
        return try await database.read { sql in try await CloudAccountRow.fetchLive(id, org: caller.organizationID, lock: nil, on: sql).account }
    }

    public func update(_ id: String, name: String?, sealedCredentials: String?, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> CloudAccount {
        try caller.permissions.authorize(policy, on: .organization, resource: "cloud account")
        let org = caller.organizationID
        return try await database.transaction { sql in
            var account = try await CloudAccountRow.fetchLive(id, org: org, lock: RowLocking(.update, of: CloudAccountRow.alias), on: sql).account
            try checkVersion(ifMatch, current: account.version)
            let before = account
            if let name, name != account.name {
                try await NameRules.ensureFree(name, table: "cloud_accounts", excluding: id, org: org, on: sql, taken: Self.nameTaken)
                account.name = name
            }
            let now = Timestamp.now()
            account.version += 1
            account.updatedAt = Timestamp.date(now)
            let sealed: SQLQueryString = sealedCredentials.map { ", sealed_credentials = \(bind: $0)" } ?? ""
            try await mappingUniqueViolation({ _ in Self.nameTaken(account.name) }) {
                try await sql.raw("""
                    UPDATE cloud_accounts SET name = \(bind: account.name), name_key = \(bind: Rules.nameKey(account.name)),
                        updated_at = \(bind: now), version = \(bind: account.version)
                    """ + sealed + " WHERE id = \(bind: id)").run()
            }
            var changes = Changes.diff(before.auditFields, account.auditFields)
            if sealedCredentials != nil { changes["credentials"] = Changes.replacedSecret }
            try await record(AuditEvent("updated", "cloud_account", id, changes: changes), by: caller, on: sql)
            return account
        }
    }

    public func delete(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws {
        try caller.permissions.authorize(policy, on: .organization, resource: "cloud account")
        try await softDelete(
            CloudAccountRow.self, id, ifMatch: ifMatch, auditAs: "cloud_account", by: caller,
            unlessUsedBy: [LiveReferences(detail: "spaceCount", table: "spaces", column: "cloud_account_id"),
                           LiveReferences(detail: "integrationCount", table: "integrations", column: "cloud_account_id")]
        ) { name, counts in
            "Cloud account '\(name)' is used by \(counts[0]) space(s) and \(counts[1]) integration(s); delete or repoint them first."
        }
    }

    /// A reference to a cloud account from a request body: it must be live in the organization, else 400 on `field`.
    static func requireLive(_ id: String, field: String, org: String, on sql: any SQLDatabase) async throws {
        let found = try await sql.raw("""
            SELECT id FROM cloud_accounts WHERE id = \(bind: id) AND org_id = \(bind: org) AND deleted_at IS NULL\(RowLocking(.share, of: CloudAccountRow.alias))
            """).first()
        if found == nil { throw AppError.validation(field, "no live cloud account \(id) exists in this organization") }
    }
}
