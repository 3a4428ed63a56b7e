import Foundation
import GantryCore
import GantryServer
import GantryStorage
import SQLKit
import Testing

/// docs/api.md §9 against a real OpenID provider (`IdentityProvider`): the console's sign-in through the provider's
/// login page, sessions and their cookie, CSRF, logout, group-to-role mapping, the CLI's exchange, and every way a
/// sign-in is refused (each with a clear 4xx that sets no cookie and creates nothing).
@Suite("Single sign-on")
struct SignOnTests {
    /// A Gantry using `provider` for sign-in, with `platform` members made admins and `developers` viewers at org.
    static func withSignOn(_ db: TestDatabase, _ test: @Sendable (TestApp, IdentityProvider) async throws -> Void) async throws {
        try await IdentityProvider.run { provider in
            let settings = try provider.settings(groupRoles: ["platform=role_admin@org", "developers=role_viewer@org"])
            try await TestApp.run(db, settings: settings) { app in try await test(app, provider) }
        }
    }

    /// `/auth/login`, the provider's login form, and Gantry's callback: the callback's answer.
    static func signIn(_ app: TestApp, _ provider: IdentityProvider, email: String = "alice@example.com", password: String = "alice-pw",
                       tamper: [String: Any]? = nil) async throws -> Reply {
        let login = try await app.request(.get, "/auth/login", token: .some(nil))
        try #require(login.status == 302, "login: \(login.text)")
        let authorize = try #require(login.header("Location"))
        if let tamper { try await provider.control("next-id-token", tamper) }
        let back = try await provider.logIn(at: authorize, email: email, password: password)
        return try await app.request(.get, Self.pathAndQuery(back), token: .some(nil))
    }

    static func pathAndQuery(_ url: String) -> String {
        let components = URLComponents(string: url)!
        return components.path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    /// The session cookie's value from a callback's `Set-Cookie`.
    static func cookie(_ reply: Reply) throws -> String {
        let header = try #require(reply.header("Set-Cookie"), "no cookie: \(reply.status) \(reply.text)")
        return try #require(header.split(separator: ";").first.map(String.init))
    }

    static func users(_ app: TestApp) async throws -> [String] {
        try await app.get("/api/users?limit=100").items.compactMap { $0["email"] as? String }
    }

    @Test("Signing in at the provider's login page sets the session cookie, creates the member and audits it", arguments: TestDatabase.all)
    func signInCreatesSession(_ db: TestDatabase) async throws {
        try await Self.withSignOn(db) { app, provider in
            let callback = try await Self.signIn(app, provider)
            #expect(callback.status == 302, "\(callback.text)")
            #expect(callback.header("Location") == "/")
            let setCookie = try #require(callback.header("Set-Cookie"))
            #expect(setCookie.hasPrefix("gantry_session="))
            for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] { #expect(setCookie.contains(attribute), "\(setCookie)") }
            #expect(!setCookie.contains("Secure"), "the public URL is http://")

            let me = try await app.request(.get, "/api/me", headers: ["Cookie": try Self.cookie(callback)], token: .some(nil))
            #expect(me.status == 200, "\(me.text)")
            #expect((me["user"] as? [String: Any])?["email"] as? String == "alice@example.com")
            #expect((me["csrfToken"] as? String)?.isEmpty == false)
            let users = try await Self.users(app)
            #expect(users.contains("alice@example.com"))
            let actions = try await app.get("/api/audit-logs?limit=100").items.compactMap { $0["action"] as? String }
            #expect(actions.contains("user.created") && actions.contains("session.created"), "\(actions)")
            // A bearer token still works everywhere, and its /me carries no CSRF value.
            #expect(try await app.get("/api/me")["csrfToken"] == nil)
        }
    }

    @Test("The groups claim becomes assignments (source oidc), kept in step at each sign-in; hand-made ones survive", arguments: TestDatabase.all)
    func groupMapping(_ db: TestDatabase) async throws {
        try await Self.withSignOn(db) { app, provider in
            _ = try Self.cookie(try await Self.signIn(app, provider))
            func held() async throws -> [(role: String, source: String?)] {
                let user = try #require(try await app.get("/api/users?limit=100").items.first { $0["email"] as? String == "alice@example.com" })
                return try await app.get("/api/assignments?limit=100").items.filter { $0["userId"] as? String == user["id"] as? String }
                    .map { ($0["roleId"] as! String, $0["source"] as? String) }
            }
            #expect(Set(try await held().map(\.role)) == ["role_admin", "role_viewer"])
            #expect(try await held().allSatisfy { $0.source == "oidc" })

            let user = try #require(try await app.get("/api/users?limit=100").items.first { $0["email"] as? String == "alice@example.com" })
            let project = try await app.createProject()
            let byHand = try await app.post("/api/assignments", ["userId": user["id"] as! String, "roleId": "role_developer", "scope": "project:\(project)"])
            try #require(byHand.status == 201)

            try await provider.control("set-groups", ["user": "alice@example.com", "groups": ["developers"]])
            _ = try Self.cookie(try await Self.signIn(app, provider))
            let after = try await held()
            #expect(Set(after.map(\.role)) == ["role_viewer", "role_developer"], "admin gone with the platform group; the hand-made one stays")
            #expect(after.first { $0.role == "role_developer" }?.source == nil)
            let actions = try await app.get("/api/audit-logs?limit=100").items.compactMap { $0["action"] as? String }
            #expect(actions.contains("assignment.deleted"))
        }
    }

    @Test("A change made with the session cookie needs X-Gantry-CSRF; a bearer token does not", arguments: TestDatabase.all)
    func csrf(_ db: TestDatabase) async throws {
        try await Self.withSignOn(db) { app, provider in
            let cookie = try Self.cookie(try await Self.signIn(app, provider))
            let csrf = try #require(try await app.request(.get, "/api/me", headers: ["Cookie": cookie], token: .some(nil))["csrfToken"] as? String)
            let refused = try await app.request(.post, "/api/projects", json: ["name": "no-csrf"], headers: ["Cookie": cookie], token: .some(nil))
            #expect(refused.status == 403, "\(refused.text)")
            #expect(refused.text.contains("X-Gantry-CSRF"))
            let wrong = try await app.request(.post, "/api/projects", json: ["name": "wrong-csrf"], headers: ["Cookie": cookie, "X-Gantry-CSRF": "nope"], token: .some(nil))
            #expect(wrong.status == 403)
            let made = try await app.request(.post, "/api/projects", json: ["name": "with-csrf"], headers: ["Cookie": cookie, "X-Gantry-CSRF": csrf], token: .some(nil))
            #expect(made.status == 201, "\(made.text)")
            #expect(try await app.post("/api/projects", ["name": "bearer"]).status == 201)
            let names = try await app.get("/api/projects?limit=100").items.compactMap { $0["name"] as? String }
            #expect(!names.contains("no-csrf") && !names.contains("wrong-csrf"), "refused changes made nothing")
        }
    }

    @Test("Logout ends that session only", arguments: TestDatabase.all)
    func logout(_ db: TestDatabase) async throws {
        try await Self.withSignOn(db) { app, provider in
            let first = try Self.cookie(try await Self.signIn(app, provider))
            let second = try Self.cookie(try await Self.signIn(app, provider))
            let out = try await app.request(.post, "/auth/logout", headers: ["Cookie": first], token: .some(nil))
            #expect(out.status == 204)
            #expect(out.header("Set-Cookie")?.contains("Max-Age=0") == true)
            let ended = try await app.request(.get, "/api/me", headers: ["Cookie": first], token: .some(nil))
            #expect(ended.status == 401, "a session used after logout: \(ended.text)")
            #expect(try await app.request(.get, "/api/me", headers: ["Cookie": second], token: .some(nil)).status == 200)
        }
    }

    @Test("A session idle for 12 hours, or older than 7 days, is over", arguments: TestDatabase.all)
    func sessionLifetimes(_ db: TestDatabase) async throws {
        try await IdentityProvider.run { provider in
            let settings = try provider.settings()
            let url = try await db.makeURL()
            let (idle, old) = try await TestApp.run(url: url, settings: settings) { app in
                (try Self.cookie(try await Self.signIn(app, provider)), try Self.cookie(try await Self.signIn(app, provider)))
            }
            // Another replica of the same database (its caller cache is empty), after the sessions aged.
            let hour: Int64 = 3_600_000_000
            try await withDirectDatabase(url: url) { database in
                try await database.transaction { sql in
                    let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
                    try await sql.raw("UPDATE tokens SET last_used_at = \(bind: now - 13 * hour) WHERE kind = 'session'").run()
                    let oldest = try await sql.raw("SELECT id FROM tokens WHERE kind = 'session' ORDER BY id DESC LIMIT 1")
                        .first(decodingColumn: "id", as: String.self) ?? ""
                    try await sql.raw("""
                        UPDATE tokens SET last_used_at = \(bind: now), expires_at = \(bind: now - hour) WHERE id = \(bind: oldest)
                        """).run()
                }
            }
            try await TestApp.run(url: url, settings: settings) { replica in
                for cookie in [idle, old] {
                    let me = try await replica.request(.get, "/api/me", headers: ["Cookie": cookie], token: .some(nil))
                    #expect(me.status == 401, "\(me.text)")
                    #expect(me.text.contains("sign in again"), "\(me.text)")
                }
                let fresh = try Self.cookie(try await Self.signIn(replica, provider))
                #expect(try await replica.request(.get, "/api/me", headers: ["Cookie": fresh], token: .some(nil)).status == 200)
            }
        }
    }

    /// Tokens the provider issues with one thing wrong (its `/_test/next-id-token` control), as JSON.
    static let forgedTokens: [String: String] = [
        "wrong issuer": #"{"claims": {"iss": "https://evil.example.com"}}"#,
        "wrong audience": #"{"claims": {"aud": "someone-else"}}"#,
        "expired": #"{"expires_in": -3600}"#,
        "bad signature": #"{"bad_signature": true}"#,
        "alg none": #"{"alg": "none"}"#,
        "HMAC keyed with the public key": #"{"alg": "HS256"}"#,
        "a key the provider never published": #"{"key": "unpublished"}"#,
        "wrong nonce": #"{"claims": {"nonce": "not-this-sign-in"}}"#,
    ]

    @Test("A refused ID token is a 401 that sets no cookie and creates nothing", arguments: forgedTokens.keys.sorted())
    func refusedTokens(_ name: String) async throws {
        let json = try #require(Self.forgedTokens[name])
        try await Self.withSignOn(.sqlite) { app, provider in
            let tamper = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let callback = try await Self.signIn(app, provider, tamper: tamper)
            #expect(callback.status == 401, "\(name): \(callback.text)")
            #expect(callback.errorCode == "unauthenticated")
            #expect(callback.header("Set-Cookie") == nil)
            let users = try await Self.users(app)
            #expect(!users.contains("alice@example.com"), "\(name): nobody was created")
        }
    }

    @Test("An email the provider has not verified is refused", arguments: TestDatabase.all)
    func unverifiedEmail(_ db: TestDatabase) async throws {
        try await Self.withSignOn(db) { app, provider in
            let callback = try await Self.signIn(app, provider, email: "carol@example.com", password: "carol-pw")
            #expect(callback.status == 401)
            #expect(callback.text.contains("verified"), "\(callback.text)")
            #expect(callback.header("Set-Cookie") == nil)
            let users = try await Self.users(app)
            #expect(!users.contains("carol@example.com"))
        }
    }

    @Test("A replayed state is refused the second time")
    func replayedState() async throws {
        try await Self.withSignOn(.sqlite) { app, provider in
            let login = try await app.request(.get, "/auth/login", token: .some(nil))
            let back = Self.pathAndQuery(try await provider.logIn(at: try #require(login.header("Location")), email: "alice@example.com", password: "alice-pw"))
            #expect(try await app.request(.get, back, token: .some(nil)).status == 302)
            let replay = try await app.request(.get, back, token: .some(nil))
            #expect(replay.status == 400, "\(replay.text)")
            #expect(replay.header("Set-Cookie") == nil)
        }
    }

    @Test("A code presented with another login's state (so another PKCE verifier) is refused by the provider")
    func pkceMismatch() async throws {
        try await Self.withSignOn(.sqlite) { app, provider in
            let first = try #require(try await app.request(.get, "/auth/login", token: .some(nil)).header("Location"))
            let second = try #require(try await app.request(.get, "/auth/login", token: .some(nil)).header("Location"))
            let firstBack = try #require(URLComponents(string: try await provider.logIn(at: first, email: "alice@example.com", password: "alice-pw")))
            let secondState = try #require(URLComponents(string: second)?.queryItems?.first { $0.name == "state" }?.value)
            let code = try #require(firstBack.queryItems?.first { $0.name == "code" }?.value)
            let mixed = try await app.request(.get, "/auth/callback?code=\(code)&state=\(secondState)", token: .some(nil))
            #expect(mixed.status == 401, "\(mixed.text)")
            #expect(mixed.text.contains("invalid_grant"), "the provider's own words: \(mixed.text)")
            #expect(mixed.header("Set-Cookie") == nil)
        }
    }

    @Test("Keys rotated at the provider are fetched again when a token names an unknown kid; ES256 tokens verify too")
    func keyRotationAndES256() async throws {
        try await Self.withSignOn(.sqlite) { app, provider in
            _ = try Self.cookie(try await Self.signIn(app, provider))
            let before = try await provider.requestCounts()["jwks"] ?? 0
            try await provider.control("rotate-key", ["keep_old": false])
            _ = try Self.cookie(try await Self.signIn(app, provider))
            let after = try await provider.requestCounts()["jwks"] ?? 0
            #expect(after == before + 1, "one fetch for the new kid")
            try await provider.control("signing-alg", ["alg": "ES256"])
            _ = try Self.cookie(try await Self.signIn(app, provider))
        }
    }

    @Test("The CLI's exchange turns an ID token into a 12-hour cli-sso token; a refused one is 401", arguments: TestDatabase.all)
    func exchange(_ db: TestDatabase) async throws {
        try await Self.withSignOn(db) { app, provider in
            let config = try await app.request(.get, "/auth/config", token: .some(nil))
            #expect(config.json["issuer"] as? String == provider.issuer)
            #expect(config.json["clientId"] as? String == "gantry-cli")
            let idToken = try #require(try await provider.control("issue-id-token", ["user": "bob@example.com", "client_id": "gantry-cli"])["id_token"] as? String)
            let exchanged = try await app.request(.post, "/auth/exchange", json: ["idToken": idToken], token: .some(nil))
            #expect(exchanged.status == 201, "\(exchanged.text)")
            let token = try #require(exchanged["token"] as? String)
            #expect(exchanged["name"] as? String == "cli-sso")
            let expiresAt = try #require((exchanged["expiresAt"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
            #expect(abs(expiresAt.timeIntervalSinceNow - 12 * 3600) < 120)
            let me = try await app.acting(as: token).get("/api/me")
            #expect((me["user"] as? [String: Any])?["email"] as? String == "bob@example.com")

            let forged = try #require(try await provider.control("issue-id-token", ["client_id": "gantry-cli", "bad_signature": true])["id_token"] as? String)
            let refused = try await app.request(.post, "/auth/exchange", json: ["idToken": forged], token: .some(nil))
            #expect(refused.status == 401)
            #expect(!refused.text.contains(forged))
        }
    }

    @Test("Without --oidc-issuer nothing under /auth is served")
    func notConfigured() async throws {
        try await TestApp.run(.sqlite) { app in
            let login = try await app.request(.get, "/auth/login", token: .some(nil))
            let config = try await app.request(.get, "/auth/config", token: .some(nil))
            #expect(login.status == 404 && config.status == 404)
        }
    }

    @Test("Sign-on settings that cannot work stop the server with a line naming the setting",
          arguments: [
              (["oidc-issuer": "https://id.example.com"], "--oidc-client-id"),
              (["oidc-issuer": "https://id.example.com", "oidc-client-id": "gantry"], "--public-url"),
              (["oidc-issuer": "http://id.example.com", "oidc-client-id": "gantry", "public-url": "https://gantry.example.com"], "--oidc-issuer"),
              (["oidc-issuer": "https://id.example.com", "oidc-client-id": "gantry", "public-url": "https://g.example.com",
                "oidc-client-secret-file": "/nonexistent/secret"], "--oidc-client-secret-file"),
              (["oidc-issuer": "https://id.example.com", "oidc-client-id": "gantry", "public-url": "https://g.example.com",
                "oidc-group-role": "platform:role_admin"], "--oidc-group-role"),
          ])
    func badSettings(_ values: [String: String], _ named: String) async throws {
        do {
            try await TestApp.run(.sqlite, settings: values) { _ in _ = Issue.record("started with \(values)") }
        } catch let error as ConfigurationError {
            #expect(error.description.contains(named), "\(error.description)")
        }
    }
}
