import Foundation
import GantryCore
import SQLKit

/// Organizations, users, tokens and the bootstrap of a new tenant.
public protocol IdentityRepository: Sendable {
    /// The caller behind a token secret, or nil when it is unknown, expired or revoked.
    func authenticate(secret: String) async throws -> Caller?
    func me(_ caller: Caller) async throws -> (User, Organization, [Assignment])
    func createToken(name: String, expiresAt: Date?, for userID: String, by caller: Caller) async throws -> (TokenInfo, secret: String)
    func listTokens(_ page: PageRequest, for caller: Caller) async throws -> Page<TokenInfo>
    func revokeToken(_ id: String, by caller: Caller) async throws
    func hasOrganizations() async throws -> Bool
    /// Creates an organization, its admin user with `role_admin` at `org` scope, and a token for that user.
    func createOrganization(name: String, adminEmail: String, tokenSecret: String?) async throws -> (Organization, token: String)
}

public struct SQLIdentityRepository: IdentityRepository {
    /// Writing `last_used_at` on every request would serialize reads behind the writer; once a minute is enough.
    static let lastUsedResolution: Int64 = 60_000_000

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    public func authenticate(secret: String) async throws -> Caller? {
        guard AccessToken.isWellFormed(secret) else { return nil }
        let hash = AccessToken.hash(secret)
        let now = Timestamp.now()
        let found = try await database.read { sql in
            try await sql.raw("""
                SELECT t.id, t.org_id, t.user_id, t.expires_at, t.revoked_at, t.last_used_at, u.email FROM tokens t
                JOIN users u ON u.id = t.user_id
                WHERE t.secret_hash = \(bind: hash) AND u.deleted_at IS NULL
                """).first()
        }
        guard let row = found, try row.optionalInt("revoked_at") == nil else { return nil }
        if let expiresAt = try row.optionalInt("expires_at"), Int64(expiresAt) <= now { return nil }
        let tokenID = try row.string("id")
        if Int64(try row.optionalInt("last_used_at") ?? 0) < now - Self.lastUsedResolution {
            try await database.transaction { sql in
                try await sql.raw("UPDATE tokens SET last_used_at = \(bind: now) WHERE id = \(bind: tokenID)").run()
            }
        }
        return Caller(organizationID: try row.string("org_id"), userID: try row.string("user_id"), email: try row.string("email"), tokenID: tokenID)
    }

    public func me(_ caller: Caller) async throws -> (User, Organization, [Assignment]) {
        try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT u.id, u.email, u.name, o.id AS org_id, o.name AS org_name FROM users u JOIN organizations o ON o.id = u.org_id
                WHERE u.id = \(bind: caller.userID)
                """).first() else { throw AppError.notFound("user") }
            let assignments = try await sql.raw("""
                SELECT id, user_id, role_id, scope FROM assignments WHERE user_id = \(bind: caller.userID) AND deleted_at IS NULL ORDER BY id
                """).all().map {
                Assignment(id: try $0.string("id"), userID: try $0.string("user_id"), roleID: try $0.string("role_id"), scope: try $0.string("scope"))
            }
            return (
                User(id: try row.string("id"), email: try row.string("email"), name: try row.string("name")),
                Organization(id: try row.string("org_id"), name: try row.string("org_name")),
                assignments
            )
        }
    }

    public func createToken(name: String, expiresAt: Date?, for userID: String, by caller: Caller) async throws -> (TokenInfo, secret: String) {
        let secret = AccessToken.generate()
        let now = Timestamp.now()
        let info = TokenInfo(id: ids.make(.token), name: name, createdAt: Timestamp.date(now), expiresAt: expiresAt, lastUsedAt: nil, revokedAt: nil)
        try await database.transaction { sql in
            try await Self.insertToken(info, secret: secret, userID: userID, org: caller.organizationID, on: sql)
        }
        return (info, secret)
    }

    public func listTokens(_ page: PageRequest, for caller: Caller) async throws -> Page<TokenInfo> {
        let fragments = SQLFragments.page(page)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT id, name, created_at, expires_at, last_used_at, revoked_at FROM tokens
                WHERE user_id = \(bind: caller.userID) AND org_id = \(bind: caller.organizationID)
                """ + fragments.filter + fragments.tail).all()
        }
        return Page(rows: try rows.map(Self.token), limit: page.limit, key: \.id)
    }

    public func revokeToken(_ id: String, by caller: Caller) async throws {
        try await database.transaction { sql in
            guard let row = try await sql.raw("""
                SELECT revoked_at FROM tokens WHERE id = \(bind: id) AND user_id = \(bind: caller.userID) AND org_id = \(bind: caller.organizationID)
                """).first() else { throw AppError.notFound("token") }
            if try row.optionalInt("revoked_at") == nil {
                try await sql.raw("UPDATE tokens SET revoked_at = \(bind: Timestamp.now()) WHERE id = \(bind: id)").run()
            }
        }
    }

    public func hasOrganizations() async throws -> Bool {
        try await database.read { sql in try await sql.raw("SELECT id FROM organizations LIMIT 1").first() != nil }
    }

    public func createOrganization(name: String, adminEmail: String, tokenSecret: String?) async throws -> (Organization, token: String) {
        let secret = tokenSecret ?? AccessToken.generate()
        let organization = Organization(id: ids.make(.organization), name: name)
        let userID = ids.make(.user)
        let now = Timestamp.now()
        try await database.transaction { [ids] sql in
            try await mappingUniqueViolation({ _ in .conflict(field: "name", "An organization named '\(name)' already exists.") }) {
                try await sql.raw("""
                    INSERT INTO organizations (id, name, name_key, created_at)
                    VALUES (\(bind: organization.id), \(bind: name), \(bind: Rules.nameKey(name)), \(bind: now))
                    """).run()
            }
            try await sql.raw("""
                INSERT INTO users (id, org_id, email, email_key, name, created_at)
                VALUES (\(bind: userID), \(bind: organization.id), \(bind: adminEmail), \(bind: adminEmail.lowercased()), 'Administrator', \(bind: now))
                """).run()
            try await sql.raw("""
                INSERT INTO assignments (id, org_id, user_id, role_id, scope, created_at)
                VALUES (\(bind: ids.make(.assignment)), \(bind: organization.id), \(bind: userID), \(bind: BuiltInRole.admin), 'org', \(bind: now))
                """).run()
            let token = TokenInfo(id: ids.make(.token), name: "bootstrap", createdAt: Timestamp.date(now), expiresAt: nil, lastUsedAt: nil, revokedAt: nil)
            try await Self.insertToken(token, secret: secret, userID: userID, org: organization.id, on: sql)
        }
        return (organization, secret)
    }

    static func insertToken(_ token: TokenInfo, secret: String, userID: String, org: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO tokens (id, org_id, user_id, name, secret_hash, created_at, expires_at)
            VALUES (\(bind: token.id), \(bind: org), \(bind: userID), \(bind: token.name), \(bind: AccessToken.hash(secret)),
                \(bind: Timestamp.micros(token.createdAt)), \(bind: token.expiresAt.map(Timestamp.micros)))
            """).run()
    }

    static func token(_ row: any SQLRow) throws -> TokenInfo {
        TokenInfo(
            id: try row.string("id"), name: try row.string("name"), createdAt: try row.date("created_at"),
            expiresAt: try row.optionalDate("expires_at"), lastUsedAt: try row.optionalDate("last_used_at"),
            revokedAt: try row.optionalDate("revoked_at")
        )
    }
}
