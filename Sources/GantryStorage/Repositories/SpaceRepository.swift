import Foundation
import GantryCore
import SQLKit

public protocol SpaceRepository: Sendable {
    /// Reserves an ID before sealing, so a sealed kubeconfig is bound to the row it belongs to.
    func makeID() -> String
    func create(_ new: NewSpace, id: String, by caller: Caller, requiring policy: String) async throws -> Space
    func list(_ query: ListQuery, for caller: Caller, requiring policy: String) async throws -> Page<Space>
    func get(_ id: String, for caller: Caller, requiring policy: String) async throws -> Space
    func update(_ id: String, _ patch: SpacePatch, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Space
    func delete(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws
}

/// A `spaces` row as stored, without its sealed kubeconfig (only the deployer reads that, through `RuntimeRepository`).
struct SpaceRow: VersionedRow {
    static let resource = "deployment space"
    static let table = "spaces"
    static let columns = "id, name, provider, cloud_account_id, config, server, status, created_at, updated_at, version, pricing"

    var id: String
    var name: String
    var provider: String
    var cloudAccountId: String?
    var config: String
    var server: String?
    var status: String
    var createdAt: Int64
    var updatedAt: Int64
    var version: Int
    var pricing: String?

    var space: Space {
        get throws {
            Space(
                id: id, name: name, provider: SpaceProvider(rawValue: provider) ?? .kubeconfig, cloudAccountID: cloudAccountId,
                config: try JSONColumn.decode(SpaceConfig.self, from: config), server: server, status: SpaceStatus(rawValue: status) ?? .active,
                createdAt: Timestamp.date(createdAt), updatedAt: Timestamp.date(updatedAt), version: version,
                pricing: SpacePricing(stored: pricing)
            )
        }
    }
}

public struct SQLSpaceRepository: SpaceRepository, AuditedRepository {

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    static func nameTaken(_ name: String) -> AppError {
        .conflict(field: "name", "A deployment space named '\(name)' already exists in this organization (names ignore case).")
    }

    public func makeID() -> String { ids.make(.space) }

    public func create(_ new: NewSpace, id: String, by caller: Caller, requiring policy: String) async throws -> Space {
        try caller.permissions.authorize(policy, on: .organization, resource: "space")
        let now = Timestamp.now()
        let space = Space(
            id: id, name: new.name, provider: new.provider, cloudAccountID: new.cloudAccountID, config: new.config,
            server: new.server, status: .active, createdAt: Timestamp.date(now), updatedAt: Timestamp.date(now), version: 1,
            pricing: new.pricing
        )
        let org = caller.organizationID
        return try await database.transaction { sql in
            if let accountID = new.cloudAccountID {
                try await SQLCloudAccountRepository.requireLive(accountID, field: "cloudAccountId", org: org, on: sql)
            }
            try await NameRules.ensureFree(new.name, table: "spaces", excluding: nil, org: org, on: sql, taken: Self.nameTaken)
            try await mappingUniqueViolation({ _ in Self.nameTaken(new.name) }) {
                try await sql.raw("""
                    INSERT INTO spaces (id, org_id, name, name_key, provider, cloud_account_id, config, server, status, sealed_kubeconfig,
                        created_at, updated_at, version, pricing)
                    VALUES (\(bind: id), \(bind: org), \(bind: new.name), \(bind: Rules.nameKey(new.name)), \(bind: new.provider.rawValue),
                        \(bind: new.cloudAccountID), \(bind: try JSONColumn.encode(new.config)), \(bind: new.server), 'active',
                        \(bind: new.sealedKubeconfig), \(bind: now), \(bind: now), 1, \(bind: new.pricing?.stored))
                    """).run()
            }
            try await record(AuditEvent("created", "space", id, changes: Changes.created(space.auditFields)), by: caller, on: sql)
            return space
        }
    }

    public func list(_ query: ListQuery, for caller: Caller, requiring policy: String) async throws -> Page<Space> {
        try caller.permissions.authorize(policy, on: .organization, resource: "space")
        let page = SQLFragments.page(query.page)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: SpaceRow.columns) FROM spaces WHERE org_id = \(bind: caller.organizationID) AND deleted_at IS NULL
                """ + SQLFragments.nameFilter(query) + page.filter + page.tail).all(SpaceRow.self)
        }
        return Page(rows: try rows.map { try $0.space }, limit: query.page.limit, key: \.id)
    }

    public func get(_ id: String, for caller: Caller, requiring policy: String) async throws -> Space {
        try caller.permissions.authorize(policy, on: .organization, resource: "space")
        return try await database.read { sql in try await SpaceRow.fetchLive(id, org: caller.organizationID, lock: nil, on: sql).space }
    }

    public func update(_ id: String, _ patch: SpacePatch, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Space {
        try caller.permissions.authorize(policy, on: .organization, resource: "space")
        let org = caller.organizationID
        return try await database.transaction { sql in
            var space = try await SpaceRow.fetchLive(id, org: org, lock: RowLocking(.update, of: SpaceRow.alias), on: sql).space
            try checkVersion(ifMatch, current: space.version)
            let before = space
            if let name = patch.name, name != space.name {
                try await NameRules.ensureFree(name, table: "spaces", excluding: id, org: org, on: sql, taken: Self.nameTaken)
                space.name = name
            }
            space.config = patch.config ?? space.config
            space.server = patch.server ?? space.server
            space.pricing = patch.pricing.applied(to: space.pricing)
            let now = Timestamp.now()
            space.version += 1
            space.updatedAt = Timestamp.date(now)
            let sealed: SQLQueryString = patch.sealedKubeconfig.map { ", sealed_kubeconfig = \(bind: $0)" } ?? ""
            try await mappingUniqueViolation({ _ in Self.nameTaken(space.name) }) {
                try await sql.raw("""
                    UPDATE spaces SET name = \(bind: space.name), name_key = \(bind: Rules.nameKey(space.name)),
                        config = \(bind: try JSONColumn.encode(space.config)), server = \(bind: space.server),
                        pricing = \(bind: space.pricing?.stored), updated_at = \(bind: now), version = \(bind: space.version)
                    """ + sealed + " WHERE id = \(bind: id)").run()
            }
            var changes = Changes.diff(before.auditFields, space.auditFields)
            if patch.sealedKubeconfig != nil { changes["kubeconfig"] = Changes.replacedSecret }
            try await record(AuditEvent("updated", "space", id, changes: changes), by: caller, on: sql)
            return space
        }
    }

    public func delete(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws {
        try caller.permissions.authorize(policy, on: .organization, resource: "space")
        try await softDelete(
            SpaceRow.self, id, ifMatch: ifMatch, auditAs: "space", by: caller,
            unlessUsedBy: [LiveReferences(detail: "environmentCount", table: "environments", column: "space_id")]
        ) { name, counts in
            "Deployment space '\(name)' is used by \(counts[0]) live environment(s); move or delete them first."
        }
    }
}
