import Foundation
import GantryCore
import SQLKit

/// What a sign-in hands out: a console session (a cookie secret with its CSRF value) or, for the CLI, a personal
/// access token named `cli-sso` (docs/api.md §9).
public enum SignInCredential: Sendable { case session, cliToken }

public struct IssuedCredential: Sendable {
    public var secret: String
    public var tokenID: String
    public var csrfToken: String?
    public var expiresAt: Date
    public var userID: String
    public var organizationID: String
}

/// Single sign-on's rows: logins in flight (each `state` usable once), sign-in itself (the user made on first
/// sign-in, group-mapped assignments kept in step, the credential issued, all audited in one transaction), and
/// sessions ended at logout.
public protocol SignOnRepository: Sendable {
    func begin(state: String, nonce: String, codeVerifier: String, now: Date) async throws
    /// The login `state` began, once: a second use, or one older than `maxAge`, is nil.
    func consume(state: String, now: Date, maxAge: TimeInterval) async throws -> (nonce: String, codeVerifier: String)?
    func signIn(_ identity: SignedInIdentity, organization: String?, mappings: [GroupRoleMapping], issuing: SignInCredential,
                now: Date) async throws -> IssuedCredential
    func endSession(secret: String, now: Date) async throws
}

public struct SQLSignOnRepository: SignOnRepository {
    /// docs/api.md §9: a console session lasts at most 7 days; a CLI token from the exchange 12 hours.
    public static let sessionLifetime: TimeInterval = 7 * 24 * 3600
    public static let cliTokenLifetime: TimeInterval = 12 * 3600

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    public func begin(state: String, nonce: String, codeVerifier: String, now: Date) async throws {
        let at = Timestamp.micros(now)
        try await database.transaction { sql in
            // Logins abandoned a day ago will never come back.
            try await sql.raw("DELETE FROM sign_in_attempts WHERE created_at < \(bind: at - 86_400_000_000)").run()
            try await sql.raw("""
                INSERT INTO sign_in_attempts (state, nonce, code_verifier, created_at)
                VALUES (\(bind: state), \(bind: nonce), \(bind: codeVerifier), \(bind: at))
                """).run()
        }
    }

    public func consume(state: String, now: Date, maxAge: TimeInterval) async throws -> (nonce: String, codeVerifier: String)? {
        struct Row: Decodable { var nonce: String; var codeVerifier: String }
        let at = Timestamp.micros(now)
        return try await database.transaction { sql in
            guard let row = try await sql.raw("""
                UPDATE sign_in_attempts SET used_at = \(bind: at)
                WHERE state = \(bind: state) AND used_at IS NULL AND created_at >= \(bind: at - Int64(maxAge * 1_000_000))
                RETURNING nonce, code_verifier
                """).first(Row.self) else { return nil }
            return (row.nonce, row.codeVerifier)
        }
    }

    public func signIn(_ identity: SignedInIdentity, organization: String?, mappings: [GroupRoleMapping], issuing: SignInCredential,
                       now: Date) async throws -> IssuedCredential {
        let at = Timestamp.micros(now)
        return try await database.accessTransaction { [ids] sql in
            let org = try await Self.organization(organization, on: sql)
            func audit(_ event: AuditEvent, _ actor: AuditActor) async throws {
                try await AuditTrail.record(event, actor: actor, org: org, requestID: nil, ids: ids, on: sql)
            }
            // First sign-in of an email makes the member.
            struct Member: Decodable { var id: String }
            let userID: String
            if let member = try await sql.raw("""
                SELECT id FROM users WHERE org_id = \(bind: org) AND email_key = \(bind: identity.email.lowercased()) AND deleted_at IS NULL
                """).first(Member.self) {
                userID = member.id
            } else {
                userID = ids.make(.user)
                try await sql.raw("""
                    INSERT INTO users (id, org_id, email, email_key, name, created_at)
                    VALUES (\(bind: userID), \(bind: org), \(bind: identity.email), \(bind: identity.email.lowercased()), \(bind: identity.name), \(bind: at))
                    """).run()
                try await audit(AuditEvent("created", "user", userID, changes: Changes.created(["email": .string(identity.email), "name": .string(identity.name)])),
                                .system)
            }
            try await Self.syncGroupAssignments(userID: userID, org: org, desired: GroupRoleMapping.desired(mappings, groups: identity.groups),
                                                at: at, ids: ids, audit: audit, on: sql)

            let secret = AccessToken.generate()
            let tokenID = ids.make(.token)
            let session = issuing == .session
            let csrf: String? = session ? AccessToken.generate() : nil
            let expiresAt = now.addingTimeInterval(session ? Self.sessionLifetime : Self.cliTokenLifetime)
            try await sql.raw("""
                INSERT INTO tokens (id, org_id, user_id, name, secret_hash, created_at, expires_at, last_used_at, kind, csrf_token)
                VALUES (\(bind: tokenID), \(bind: org), \(bind: userID), \(bind: session ? "session" : "cli-sso"), \(bind: AccessToken.hash(secret)),
                    \(bind: at), \(bind: Timestamp.micros(expiresAt)), \(bind: at), \(bind: session ? "session" : "personal"), \(bind: csrf))
                """).run()
            let actor = AuditActor(type: "user", id: userID, email: identity.email, tokenId: tokenID)
            let expiry: [String: JSONValue] = ["expiresAt": JSONValue(expiresAt)]
            try await audit(AuditEvent("created", session ? "session" : "token", tokenID,
                                       changes: Changes.created(session ? expiry : expiry.merging(["name": .string("cli-sso")]) { $1 })), actor)
            return IssuedCredential(secret: secret, tokenID: tokenID, csrfToken: csrf, expiresAt: expiresAt, userID: userID, organizationID: org)
        }
    }

    /// The organization sign-in joins: the configured one, else the only one there is.
    static func organization(_ configured: String?, on sql: any SQLDatabase) async throws -> String {
        let ids = try await sql.raw("SELECT id FROM organizations" + (configured.map { " WHERE id = \(bind: $0)" } ?? "") + " LIMIT 2")
            .all(decodingColumn: "id", as: String.self)
        guard ids.count == 1 else {
            throw AppError(.unavailable, configured == nil
                ? "Sign-in cannot choose an organization: there are several; the operator must set --oidc-organization."
                : "Sign-in is configured for an organization that does not exist (--oidc-organization).")
        }
        return ids[0]
    }

    /// Makes the member's `source = 'oidc'` assignments exactly `desired`: removed from a group, the assignment goes;
    /// added, it comes. Hand-made assignments are never touched, and one already held by hand is not doubled. A
    /// mapping to a role, project or environment that does not exist (any more) is skipped.
    static func syncGroupAssignments(userID: String, org: String, desired: Set<RoleGrant>, at: Int64, ids: IDGenerator,
                                     audit: (AuditEvent, AuditActor) async throws -> Void, on sql: any SQLDatabase) async throws {
        struct Held: Decodable { var id: String; var roleId: String; var scope: String; var source: String? }
        let held = try await sql.raw("""
            SELECT id, role_id, scope, source FROM assignments WHERE user_id = \(bind: userID) AND org_id = \(bind: org) AND deleted_at IS NULL
            """).all(Held.self)
        func grant(_ row: Held) -> RoleGrant? { Scope(parsing: row.scope).map { RoleGrant(roleID: row.roleId, scope: $0) } }
        for row in held where row.source == "oidc" {
            guard let grant = grant(row), !desired.contains(grant) else { continue }
            try await sql.raw("UPDATE assignments SET deleted_at = \(bind: at) WHERE id = \(bind: row.id)").run()
            try await audit(AuditEvent("deleted", "assignment", row.id, changes: Changes.deleted(at: at)), .system)
        }
        let kept = Set(held.compactMap { row in grant(row).flatMap { $0 } }.filter { desired.contains($0) })
        for wanted in desired.subtracting(kept).sorted(by: { "\($0.roleID)@\($0.scope)" < "\($1.roleID)@\($1.scope)" }) {
            guard try await sql.raw("""
                SELECT id FROM roles WHERE id = \(bind: wanted.roleID) AND (org_id = \(bind: org) OR org_id IS NULL) AND deleted_at IS NULL
                """).first() != nil else { continue }
            var scopeProject: String?
            switch wanted.scope {
            case .organization:
                break
            case .project(let id):
                guard try await sql.raw("SELECT id FROM projects WHERE id = \(bind: id) AND org_id = \(bind: org) AND deleted_at IS NULL").first() != nil else { continue }
            case .environment(let id):
                guard let project = try await sql.raw("""
                    SELECT project_id FROM environments WHERE id = \(bind: id) AND org_id = \(bind: org) AND deleted_at IS NULL
                    """).first(decodingColumn: "project_id", as: String.self) else { continue }
                scopeProject = project
            }
            let id = ids.make(.assignment)
            try await sql.raw("""
                INSERT INTO assignments (id, org_id, user_id, role_id, scope, scope_project_id, created_at, source)
                VALUES (\(bind: id), \(bind: org), \(bind: userID), \(bind: wanted.roleID), \(bind: wanted.scope.description), \(bind: scopeProject),
                    \(bind: at), 'oidc')
                """).run()
            try await audit(AuditEvent("created", "assignment", id, changes: Changes.created([
                "userId": .string(userID), "roleId": .string(wanted.roleID), "scope": .string(wanted.scope.description), "source": .string("oidc"),
            ])), .system)
        }
    }

    public func endSession(secret: String, now: Date) async throws {
        try await database.accessTransaction { sql in
            try await sql.raw("""
                UPDATE tokens SET revoked_at = \(bind: Timestamp.micros(now))
                WHERE secret_hash = \(bind: AccessToken.hash(secret)) AND kind = 'session' AND revoked_at IS NULL
                """).run()
        }
    }
}
