import Foundation
import Testing

/// `gantry login --sso` against the real OpenID provider and a real `gantry serve` (docs/api.md §9), and
/// `gantry access explain`. Each test runs the built binaries: `swift build` first.
@Suite("Single sign-on and access explanations from the CLI", .serialized)
struct SignOnCLITests {
    /// "To sign in, open URI and enter CODE" → (URI, CODE).
    static func prompt(_ line: String) throws -> (uri: String, code: String) {
        let match = try #require(line.firstMatch(of: #/To sign in, open (\S+) and enter (\S+)/#), "no prompt in '\(line)'")
        return (String(match.1), String(match.2))
    }

    @Test("login --sso: the device flow with the real provider saves a 12-hour token that later commands use")
    func deviceFlow() async throws {
        try await TestIdentityProvider.run { provider in
            let server = try await SignOnGantryServer(provider: provider, groupRoles: ["platform=role_admin@org"])
            defer { server.stop() }
            let profile = try CLIProfile()
            let login = try Background(binary("gantry"), ["login", "--server", server.url, "--sso"], environment: profile.environment)
            defer { login.stop() }

            let (uri, code) = try Self.prompt(try await login.waitFor("To sign in, open"))
            #expect(uri == provider.issuer + "/device")
            // The CLI is polling now; a few polls answered authorization_pending before the approval.
            try await Task.sleep(for: .milliseconds(1500))
            #expect(login.process.isRunning, "gave up before the approval: \(login.output)")
            let page = try await provider.device(userCode: code, email: "alice@example.com", password: "alice-pw")
            #expect(page.contains("approved"), "\(page.prefix(300))")

            let status = try await login.exitStatus(within: 90)
            try await login.waitFor("Logged in to \(server.url) as alice@example.com", timeout: 10)
            #expect(status == 0, "\(login.output)")
            let token = try #require(try profile.savedToken())
            #expect(token.hasPrefix("gnt_"))
            #expect(!login.output.contains(token), "the token was printed")
            #expect(jwt(in: login.output) == nil, "a JWT was printed: \(login.output)")
            #expect(fileMode(profile.configPath) == 0o600)

            // Later commands use the saved token: alice is an admin through the group mapping.
            let created = try await profile.run(["projects", "create", "shop"])
            #expect(created.status == 0, "\(created.stderr)")
            let listed = try await profile.run(["projects", "list"])
            #expect(listed.status == 0 && listed.stdout.contains("shop"), "\(listed.output)")
            let whoami = try await profile.run(["whoami", "-o", "json"])
            let me = try #require(try JSONSerialization.jsonObject(with: Data(whoami.stdout.utf8)) as? [String: Any], "\(whoami.output)")
            #expect((me["user"] as? [String: Any])?["email"] as? String == "alice@example.com")
            let roles = (me["assignments"] as? [[String: Any]] ?? []).compactMap { $0["roleId"] as? String }
            #expect(roles.contains("role_admin"))
            let tokens = try await profile.run(["tokens", "list"])
            #expect(tokens.status == 0 && tokens.stdout.contains("cli-sso"), "\(tokens.output)")

            // access explain through the SSO token: allowed at org scope, by the mapped assignment.
            let explained = try await profile.run(["access", "explain", "projects:write", "shop", "-o", "json"])
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(explained.stdout.utf8)) as? [String: Any], "\(explained.output)")
            #expect(answer["allowed"] as? Bool == true)
            #expect((answer["grants"] as? [[String: Any]])?.first?["roleId"] as? String == "role_admin")
        }
    }

    @Test("login --sso: a denied device code and a server without sign-on fail with one line and exit 1")
    func refusals() async throws {
        try await TestIdentityProvider.run { provider in
            let server = try await SignOnGantryServer(provider: provider)
            defer { server.stop() }
            let profile = try CLIProfile()
            let login = try Background(binary("gantry"), ["login", "--server", server.url, "--sso"], environment: profile.environment)
            defer { login.stop() }
            let (_, code) = try Self.prompt(try await login.waitFor("To sign in, open"))
            try await provider.device(userCode: code, email: "bob@example.com", password: "bob-pw", action: "deny")
            let status = try await login.exitStatus(within: 90)
            try await login.waitFor("gantry: ", timeout: 10)
            #expect(status == 1, "\(login.output)")
            #expect(login.output.contains("gantry: the sign-in was denied"), "\(login.output)")
            #expect(!FileManager.default.fileExists(atPath: profile.configPath))
        }
        let plain = try await GantryServer()
        defer { plain.stop() }
        let result = try await CLIProfile().run(["login", "--server", plain.url, "--sso"])
        #expect(result.status == 1)
        #expect(result.stderr == "gantry: single sign-on is not configured on \(plain.url); sign in with a token instead\n", "\(result.stderr)")
    }

    @Test("login --sso --browser: the loopback redirect with PKCE; a redirect with the wrong state is refused")
    func loopback() async throws {
        try await TestIdentityProvider.run { provider in
            let server = try await SignOnGantryServer(provider: provider)
            defer { server.stop() }
            let profile = try CLIProfile()
            let login = try Background(binary("gantry"), ["login", "--server", server.url, "--sso", "--browser"], environment: profile.environment)
            defer { login.stop() }
            let line = try await login.waitFor("To sign in, open")
            let authorize = String(try #require(line.firstMatch(of: #/open (\S+) in a browser/#), "\(line)").1)
            let query = try #require(URLComponents(string: authorize)?.queryItems)
            func item(_ name: String) -> String? { query.first { $0.name == name }?.value }
            #expect(authorize.hasPrefix(provider.issuer + "/authorize?"))
            #expect(item("code_challenge_method") == "S256" && item("client_id") == "gantry-cli")
            #expect(item("redirect_uri")?.hasPrefix("http://127.0.0.1:") == true)
            // A stray request (a favicon) is answered 404 and the listener keeps waiting.
            let redirect = try #require(item("redirect_uri"))
            let stray = try await TestIdentityProvider.get(redirect.replacingOccurrences(of: "/callback", with: "/favicon.ico"))
            #expect(stray.status == 404)

            let landed = try await provider.logIn(at: authorize, email: "bob@example.com", password: "bob-pw")
            #expect(landed.status == 200 && landed.text.contains("Signed in to Gantry"), "\(landed)")
            let status = try await login.exitStatus(within: 60)
            try await login.waitFor("Logged in to \(server.url) as bob@example.com", timeout: 10)
            #expect(status == 0, "\(login.output)")
            #expect(jwt(in: login.output) == nil, "a JWT was printed: \(login.output)")
            let whoami = try await profile.run(["whoami"])
            #expect(whoami.status == 0 && whoami.stdout.contains("bob@example.com"), "\(whoami.output)")

            // A redirect whose state is not the one sent: refused, nothing saved.
            let other = try CLIProfile()
            let second = try Background(binary("gantry"), ["login", "--server", server.url, "--sso", "--browser"], environment: other.environment)
            defer { second.stop() }
            let secondLine = try await second.waitFor("To sign in, open")
            let secondURL = String(try #require(secondLine.firstMatch(of: #/open (\S+) in a browser/#)).1)
            let secondRedirect = try #require(URLComponents(string: secondURL)?.queryItems?.first { $0.name == "redirect_uri" }?.value)
            _ = try await TestIdentityProvider.get(secondRedirect + "?code=forged&state=not-the-state")
            #expect(try await second.exitStatus(within: 30) == 1)
            try await second.waitFor("gantry: ", timeout: 10)
            #expect(second.output.contains("wrong state"), "\(second.output)")
            #expect(!FileManager.default.fileExists(atPath: other.configPath))
        }
    }

    @Test("access explain: allowed with the granting assignment, refused with a reason, names resolved, --user by email")
    func explain() async throws {
        let server = try await GantryServer()
        defer { server.stop() }
        let cli = try CLI(server)
        try await cli.login()
        try await cli.ok(["projects", "create", "shop"])
        try await cli.ok(["users", "create", "--email", "bob@example.com", "--name", "Bob"])

        // The bootstrap admin, about itself: allowed through its org-wide role_admin assignment.
        let allowed = try #require(try await cli.json(["access", "explain", "projects:write", "shop"]) as? [String: Any])
        #expect(allowed["allowed"] as? Bool == true)
        #expect(allowed["visible"] as? Bool == true)
        #expect((allowed["resource"] as? String)?.hasPrefix("prj_") == true)
        let grants = try #require(allowed["grants"] as? [[String: Any]])
        #expect(grants.first?["roleId"] as? String == "role_admin")
        #expect(grants.first?["scope"] as? String == "org")
        #expect((grants.first?["assignmentId"] as? String)?.hasPrefix("asgn_") == true)
        #expect(allowed.keys.contains("reason") && allowed["reason"] is NSNull)

        let table = try await cli.ok(["access", "explain", "projects:write", "shop"])
        #expect(table.contains("Allowed:") && table.contains("role_admin"), "\(table)")

        // Bob holds nothing: refused, with the reason.
        let refused = try #require(try await cli.json(["access", "explain", "projects:write", "org", "--user", "bob@example.com"]) as? [String: Any])
        #expect(refused["allowed"] as? Bool == false)
        #expect((refused["userId"] as? String)?.hasPrefix("usr_") == true)
        #expect((refused["grants"] as? [Any])?.isEmpty == true)
        let reason = try #require(refused["reason"] as? String)
        #expect(!reason.isEmpty)
        let refusedTable = try await cli.ok(["access", "explain", "projects:write", "org", "--user", "bob@example.com"])
        #expect(refusedTable.contains("Allowed:") && refusedTable.contains("no") && refusedTable.contains(reason), "\(refusedTable)")

        // What cannot be resolved: one line, exit 1.
        let unknownUser = try await cli.run(["access", "explain", "projects:write", "org", "--user", "nobody@example.com"])
        #expect(unknownUser.status == 1 && unknownUser.stderr.contains("no user with the email 'nobody@example.com'"), "\(unknownUser.stderr)")
        let unknownProject = try await cli.run(["access", "explain", "projects:write", "nope/prod"])
        #expect(unknownProject.status == 1 && unknownProject.stderr.contains("no project named 'nope'"), "\(unknownProject.stderr)")
    }
}
