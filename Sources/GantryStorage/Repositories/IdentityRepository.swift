import Foundation
import GantryCore
import SQLKit

/// Organizations, users, tokens and the bootstrap of a new tenant.
public protocol IdentityRepository: Sendable {
    /// The caller behind a token secret, or nil when it is unknown, expired or revoked.
    /// The caller a personal access token (`session: false`) or a console session's cookie (`session: true`) stands
    /// for, or nil when it is unknown, revoked, expired, idle too long (sessions), or of the other kind.
    func authenticate(secret: String, session: Bool) async throws -> Caller?
    func me(_ caller: Caller) async throws -> (User, Organization, [Assignment])
    func createToken(name: String, expiresAt: Date?, for userID: String, by caller: Caller) async throws -> (TokenInfo, secret: String)
    func listTokens(_ page: PageRequest, for caller: Caller) async throws -> Page<TokenInfo>
    func revokeToken(_ id: String, by caller: Caller) async throws
    func hasOrganizations() async throws -> Bool
    /// Creates an organization, its admin user with `role_admin` at `org` scope, and a token for that user.
    func createOrganization(name: String, adminEmail: String, tokenSecret: String?) async throws -> (Organization, token: String)
}

/// A `tokens` row as the owner sees it: never the secret's hash.
struct TokenRow: Decodable {
    static let columns = "id, name, created_at, expires_at, last_used_at, revoked_at"

    var id: String
    var name: String
    var createdAt: Int64
    var expiresAt: Int64?
    var lastUsedAt: Int64?
    var revokedAt: Int64?

    var token: TokenInfo {
        TokenInfo(id: id, name: name, createdAt: Timestamp.date(createdAt), expiresAt: expiresAt.map(Timestamp.date),
                  lastUsedAt: lastUsedAt.map(Timestamp.date), revokedAt: revokedAt.map(Timestamp.date))
    }
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

    /// The caller a token stands for: from `database.callers` when it was resolved a moment ago and access
    /// has not changed since, else from one indexed query.
    /// A session unused this long is over (docs/api.md §9: 12 h idle, 7 d absolute).
    public static let sessionIdleLimit: Int64 = 12 * 3600 * 1_000_000

    public func authenticate(secret: String, session: Bool) async throws -> Caller? {
        guard AccessToken.isWellFormed(secret) else { return nil }
        let hash = AccessToken.hash(secret)
        let now = Timestamp.now()
        let cache = database.callers
        let entry: CallerCache.Entry
        if let cached = cache.lookup(hash, now: now) {
            entry = cached
        } else {
            let generation = cache.generation()
            guard let loaded = try await load(hash: hash, now: now) else { return nil }
            entry = loaded
            cache.store(hash, entry, readAt: generation)
        }
        guard (entry.caller.csrfToken != nil) == session else { return nil }
        if session, entry.lastUsedAt < now - Self.sessionIdleLimit { return nil }
        if entry.lastUsedAt < now - Self.lastUsedResolution {
            try await database.transaction { [tokenID = entry.caller.tokenID] sql in
                try await sql.raw("UPDATE tokens SET last_used_at = \(bind: now) WHERE id = \(bind: tokenID)").run()
            }
            cache.markUsed(hash, at: now)
        }
        return entry.caller
    }

    /// One indexed query: the token, its member and every live assignment with its role's policies (and, for
    /// an environment scope, that environment's project, stored with the grant), so each request's access
    /// checks need no further I/O.
    func load(hash: String, now: Int64) async throws -> CallerCache.Entry? {
        // One row per assignment (or one with NULL assignment columns): the token's columns repeat on each.
        struct Row: Decodable {
            var id: String
            var orgId: String
            var userId: String
            var expiresAt: Int64?
            var revokedAt: Int64?
            var lastUsedAt: Int64?
            var email: String
            var scope: String?
            var scopeProjectId: String?
            var roleId: String?
            var policies: String?
            var csrfToken: String?
        }
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT t.id, t.org_id, t.user_id, t.expires_at, t.revoked_at, t.last_used_at, t.csrf_token, u.email,
                    a.scope, a.scope_project_id, a.role_id, r.policies
                FROM tokens t
                JOIN users u ON u.id = t.user_id
                LEFT JOIN assignments a ON a.user_id = t.user_id AND a.deleted_at IS NULL
                LEFT JOIN roles r ON r.id = a.role_id AND r.deleted_at IS NULL
                WHERE t.secret_hash = \(bind: hash) AND u.deleted_at IS NULL
                """).all(Row.self)
        }
        guard let row = rows.first, row.revokedAt == nil else { return nil }
        if let expiresAt = row.expiresAt, expiresAt <= now { return nil }
        let grants = try rows.compactMap { row -> Grant? in
            guard let scopeText = row.scope, let scope = Scope(parsing: scopeText), let roleID = row.roleId, let stored = row.policies else { return nil }
            // Built-in roles are fixed: their policies come from the code, sparing a JSON decode per request.
            let policies = try Self.builtInPolicies[roleID] ?? Set(JSONColumn.decode([String].self, from: stored))
            return Grant(scope: scope, projectID: row.scopeProjectId, policies: policies)
        }
        let caller = Caller(organizationID: row.orgId, userID: row.userId, email: row.email, tokenID: row.id, permissions: Permissions(grants: grants),
                            csrfToken: row.csrfToken)
        return CallerCache.Entry(caller: caller, tokenExpiresAt: row.expiresAt, loadedAt: now, lastUsedAt: row.lastUsedAt ?? 0)
    }

    static let builtInPolicies: [String: Set<String>] = Dictionary(
        uniqueKeysWithValues: Policies.builtInRoles.map { ($0.id, Set($0.policies)) }
    )

    public func me(_ caller: Caller) async throws -> (User, Organization, [Assignment]) {
        struct Row: Decodable { var id: String; var email: String; var name: String; var orgId: String; var orgName: String }
        return try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT u.id, u.email, u.name, o.id AS org_id, o.name AS org_name FROM users u JOIN organizations o ON o.id = u.org_id
                WHERE u.id = \(bind: caller.userID)
                """).first(Row.self) else { throw AppError.notFound("user") }
            let assignments = try await sql.raw("""
                SELECT \(unsafeRaw: AssignmentRow.columns) FROM assignments a WHERE a.user_id = \(bind: caller.userID) AND a.deleted_at IS NULL ORDER BY a.id
                """).all(AssignmentRow.self).map(\.assignment)
            return (User(id: row.id, email: row.email, name: row.name), Organization(id: row.orgId, name: row.orgName), assignments)
        }
    }

    public func createToken(name: String, expiresAt: Date?, for userID: String, by caller: Caller) async throws -> (TokenInfo, secret: String) {
        let secret = AccessToken.generate()
        let now = Timestamp.now()
        let info = TokenInfo(id: ids.make(.token), name: name, createdAt: Timestamp.date(now), expiresAt: expiresAt, lastUsedAt: nil, revokedAt: nil)
        try await database.transaction { [ids] sql in
            _ = try await UserRow.fetchLive(userID, org: caller.organizationID, lock: RowLocking(.share, of: UserRow.alias), on: sql)
            try await Self.insertToken(info, secret: secret, userID: userID, org: caller.organizationID, on: sql)
            try await AuditTrail.record(
                AuditEvent("created", "token", info.id, changes: Changes.created(
                    ["name": .string(name), "userId": .string(userID), "expiresAt": JSONValue(expiresAt)]
                )),
                by: caller, ids: ids, on: sql
            )
        }
        return (info, secret)
    }

    public func listTokens(_ page: PageRequest, for caller: Caller) async throws -> Page<TokenInfo> {
        let fragments = SQLFragments.page(page)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: TokenRow.columns) FROM tokens
                WHERE user_id = \(bind: caller.userID) AND org_id = \(bind: caller.organizationID) AND kind = 'personal'
                """ + fragments.filter + fragments.tail).all(TokenRow.self)
        }
        return Page(rows: rows.map(\.token), limit: page.limit, key: \.id)
    }

    public func revokeToken(_ id: String, by caller: Caller) async throws {
        try await database.accessTransaction { [ids] sql in
            guard let revokedAt = try await sql.raw("""
                SELECT revoked_at FROM tokens WHERE id = \(bind: id) AND user_id = \(bind: caller.userID) AND org_id = \(bind: caller.organizationID)
                    AND kind = 'personal'
                """).first(decodingColumn: "revoked_at", as: Int64?.self) else { throw AppError.notFound("token") }
            if revokedAt == nil {
                let now = Timestamp.now()
                try await sql.raw("UPDATE tokens SET revoked_at = \(bind: now) WHERE id = \(bind: id)").run()
                try await AuditTrail.record(
                    AuditEvent("revoked", "token", id, changes: ["revokedAt": .object(["from": .null, "to": JSONValue(Timestamp.date(now))])]),
                    by: caller, ids: ids, on: sql
                )
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
            try await sql.raw("INSERT INTO audit_heads (org_id, seq, hash) VALUES (\(bind: organization.id), 0, NULL)").run()
            try await AuditTrail.record(
                AuditEvent("created", "organization", organization.id, changes: Changes.created(["name": .string(name), "adminEmail": .string(adminEmail)])),
                actor: .system, org: organization.id, requestID: nil, ids: ids, on: sql
            )
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
}
