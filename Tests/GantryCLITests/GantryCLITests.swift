import Foundation
import GantryCore
import Testing

/// Issue 6: the `gantry` command-line client, run as a binary against a real `gantry serve`.
@Suite("gantry CLI", .serialized)
struct GantryCLITests {
    @Test("login, whoami, logout; the profile file is 0600; tokens never come from a flag")
    func loginAndProfiles() async throws {
        let server = try await GantryServer()
        defer { server.stop() }
        let cli = try CLI(server)

        // Not logged in yet: a usage problem (2) that says what to do.
        let anonymous = try await cli.run(["whoami"])
        #expect(anonymous.status == 2)
        #expect(anonymous.stderr.contains("gantry login"))

        // A secret as a plain flag is refused, and never echoed back.
        let secret = AccessToken.generate()
        let refused = try await cli.run(["login", "--server", server.url, "--token", secret])
        #expect(refused.status == 2)
        #expect(!refused.output.contains(secret))
        #expect(!FileManager.default.fileExists(atPath: cli.configPath))

        // No terminal and no token source: exit 2.
        let noToken = try await cli.run(["login", "--server", server.url])
        #expect(noToken.status == 2)
        #expect(noToken.stderr.contains("--token-stdin"))

        // A well-formed but unknown token: /api/me refuses it, nothing is saved.
        let unknown = try await cli.run(["login", "--server", server.url, "--token-stdin"], stdin: secret)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("unauthenticated"))
        #expect(unknown.stderr.contains("request id: "))
        #expect(!FileManager.default.fileExists(atPath: cli.configPath))

        try await cli.login()
        #expect(fileMode(cli.configPath) == 0o600)
        let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cli.configPath))) as? [String: Any]
        let profiles = try #require(stored?["profiles"] as? [String: [String: Any]])
        #expect(profiles["default"]?["token"] as? String == server.token)
        #expect(profiles["default"]?["server"] as? String == server.url)
        #expect(stored?["currentProfile"] as? String == "default")

        let whoami = try await cli.ok(["whoami"])
        #expect(whoami.contains("admin@localhost"))
        #expect(whoami.contains("role_admin on org"))
        let me = try await cli.json(["whoami"]) as? [String: Any]
        #expect((me?["user"] as? [String: Any])?["email"] as? String == "admin@localhost")

        // A second, named profile from GANTRY_TOKEN; --profile picks it; `profiles` lists both without tokens.
        let named = try await cli.run(["login", "--server", server.url + "/api/", "--profile", "ops"], environment: ["GANTRY_TOKEN": server.token])
        #expect(named.status == 0, "\(named.stderr)")
        #expect(try await cli.ok(["whoami", "--profile", "ops"]).contains("Profile:      ops"))
        let listed = try await cli.ok(["profiles"])
        #expect(listed.contains("default") && listed.contains("ops") && !listed.contains(server.token))
        #expect(try await cli.run(["whoami", "--profile", "nope"]).status == 2)

        // GANTRY_SERVER and GANTRY_TOKEN work without any profile.
        let bare = try CLI(server)
        let fromEnvironment = try await bare.run(["whoami"], environment: ["GANTRY_SERVER": server.url, "GANTRY_TOKEN": server.token])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")

        // Without GANTRY_CONFIG: $HOME/.config/gantry/config.json, directory 0700, file 0600.
        let home = try temporaryDirectory()
        let xdgLess = try await runProgram(binary("gantry"), ["login", "--server", server.url, "--token-stdin"],
                                           environment: childEnvironment(["HOME": home]), stdin: server.token)
        #expect(xdgLess.status == 0, "\(xdgLess.stderr)")
        #expect(fileMode(home + "/.config/gantry/config.json") == 0o600)
        #expect(fileMode(home + "/.config/gantry") == 0o700)
        // XDG_CONFIG_HOME wins over HOME.
        let xdg = try temporaryDirectory()
        let withXDG = try await runProgram(binary("gantry"), ["login", "--server", server.url, "--token-stdin"],
                                           environment: childEnvironment(["HOME": home, "XDG_CONFIG_HOME": xdg]), stdin: server.token)
        #expect(withXDG.status == 0)
        #expect(fileMode(xdg + "/gantry/config.json") == 0o600)

        // logout forgets the current profile (ops, the last login); the remaining one becomes current.
        #expect(try await cli.ok(["logout"]).contains("profile 'ops'"))
        #expect(try await cli.ok(["whoami"]).contains("Profile:      default"))
        let after = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cli.configPath))) as? [String: Any]
        #expect((after?["profiles"] as? [String: Any])?["ops"] == nil)
        #expect(after?["currentProfile"] as? String == "default")
        #expect(fileMode(cli.configPath) == 0o600)
        #expect(try await cli.run(["logout", "--profile", "ops"]).status == 1)
        #expect(try await cli.ok(["logout", "--all"]).contains("default"))
        #expect(try await cli.run(["whoami"]).status == 2)

        for (arguments, result) in cli.commands + bare.commands {
            #expect(!result.output.contains(server.token), "the token leaked in the output of gantry \(arguments.joined(separator: " "))")
        }
    }

    @Test("projects: create, list, get, rename, update, delete --dry-run, delete, restore, stats; errors and formats")
    func projects() async throws {
        let server = try await GantryServer()
        defer { server.stop() }
        let cli = try CLI(server)
        try await cli.login()

        let created = try await cli.json(["projects", "create", "checkout", "--description", "Checkout service"]) as? [String: Any]
        let checkoutID = try #require(created?["id"] as? String)
        #expect(checkoutID.hasPrefix("prj_"))
        #expect(created?["version"] as? Int == 1)
        _ = try await cli.ok(["projects", "create", "billing"])
        let search = try await cli.json(["project", "create", "search", "--description", "Full-text search"]) as? [String: Any]
        let searchID = try #require(search?["id"] as? String)

        // 409 conflict: exit 1, the server's message, the code and the request id on stderr; nothing on stdout.
        let conflict = try await cli.run(["projects", "create", "CHECKOUT"])
        #expect(conflict.status == 1)
        #expect(conflict.stdout.isEmpty)
        #expect(conflict.stderr.contains("already exists"))
        #expect(conflict.stderr.contains("conflict"))
        #expect(conflict.stderr.contains("HTTP 409"))
        #expect(conflict.stderr.contains(#/request id: \S+/#))
        try expectGolden("error-conflict.txt", conflict.stderr)

        // Usage errors: exit 2.
        #expect(try await cli.run(["projects", "create"]).status == 2)
        #expect(try await cli.run(["projects", "list", "--no-such-flag"]).status == 2)
        #expect(try await cli.run(["projects", "list", "--limit", "0"]).status == 2)
        #expect(try await cli.run(["projects", "list", "-o", "xml"]).status == 2)
        #expect(try await cli.run(["projects", "update", "checkout"]).status == 2)
        // 404: exit 1.
        let missing = try await cli.run(["projects", "get", "prj_00000000000000000000000000"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("not_found"))
        #expect(try await cli.run(["projects", "get", "no-such-project"]).status == 1)

        try expectGolden("projects-list.txt", try await cli.ok(["projects", "list"]))
        try expectGolden("project-get.txt", try await cli.ok(["projects", "get", "checkout"]))
        #expect(try await cli.ok(["projects", "get", checkoutID]).contains("Checkout service"))

        let list = try await cli.json(["projects", "list"]) as? [[String: Any]]
        #expect(list?.map { $0["name"] as? String } == ["checkout", "billing", "search"])
        let yaml = try await cli.ok(["projects", "list", "-o", "yaml"])
        #expect(yaml.contains("- id: prj_"))
        #expect(yaml.contains("name: billing"))
        let filtered = try await cli.json(["projects", "list", "-q", "SEAR"]) as? [[String: Any]]
        #expect(filtered?.count == 1)

        // Paging: one page says there is more on stderr; --all follows the cursors.
        let page = try await cli.run(["projects", "list", "--limit", "2"])
        #expect(page.stdout.split(separator: "\n").count == 3)
        #expect(page.stderr.contains("--cursor"))
        let everything = try await cli.json(["projects", "list", "--limit", "1", "--all"]) as? [[String: Any]]
        #expect(everything?.count == 3)

        // rename, update, If-Match.
        let renamed = try await cli.json(["projects", "rename", "billing", "payments"]) as? [String: Any]
        #expect(renamed?["name"] as? String == "payments")
        #expect(renamed?["version"] as? Int == 2)
        let stale = try await cli.run(["projects", "update", "payments", "--description", "x", "--if-match", "1"])
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("precondition_failed"))
        let updated = try await cli.json(["projects", "update", "payments", "--description", "Payments", "--if-match", "2"]) as? [String: Any]
        #expect(updated?["description"] as? String == "Payments")

        // delete --dry-run, delete, restore.
        let preview = try await cli.json(["projects", "delete", "search", "--dry-run"]) as? [String: Any]
        #expect(preview?["deletable"] as? Bool == true)
        #expect(try await cli.ok(["projects", "delete", "search"]).contains("Deleted project prj_"))
        #expect(try await cli.run(["projects", "get", "search"]).status == 1)
        let restored = try await cli.json(["projects", "restore", searchID]) as? [String: Any]
        #expect(restored?["name"] as? String == "search")

        let stats = try await cli.json(["projects", "stats"]) as? [[String: Any]]
        #expect(stats?.count == 3)
        #expect((stats?.first?["statusBuckets"] as? [String: Any])?["pending"] as? Int == 0)
        #expect(try await cli.ok(["projects", "stats"]).contains("SERVICES"))

        for (arguments, result) in cli.commands {
            #expect(!result.output.contains(server.token), "the token leaked in the output of gantry \(arguments.joined(separator: " "))")
        }
    }

    @Test("spaces, environments by PROJECT/ENV, live stats and discovery, deployments and connections")
    func environmentsAndDeployments() async throws {
        let kube = try await KubeServer()
        defer { kube.stop() }
        let server = try await GantryServer()
        defer { server.stop() }
        let cli = try CLI(server)
        try await cli.login()
        let directory = try temporaryDirectory()
        try kube.kubeconfig.write(toFile: "\(directory)/kubeconfig", atomically: true, encoding: .utf8)

        _ = try await cli.ok(["projects", "create", "checkout"])
        let space = try await cli.json(["spaces", "create", "fake", "--kubeconfig", "\(directory)/kubeconfig"]) as? [String: Any]
        #expect(space?["provider"] as? String == "kubeconfig")
        #expect((space?["config"] as? [String: Any])?["context"] as? String == "fake")
        // The kubeconfig also comes from stdin.
        let second = try await cli.run(["spaces", "create", "fake-2", "--kubeconfig", "-", "-o", "json"], stdin: kube.kubeconfig)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try await cli.ok(["spaces", "list"]).contains("fake-2"))
        #expect(try await cli.ok(["spaces", "get", "fake"]).contains("context=fake"))
        let namespaces = try await cli.ok(["spaces", "namespaces", "fake"])
        #expect(namespaces.contains("shop"))
        #expect(try await cli.ok(["spaces", "delete", "fake-2"]).contains("Deleted space"))

        let prod = try await cli.json(["envs", "create", "checkout/prod", "--space", "fake", "--namespace", "shop"]) as? [String: Any]
        let prodID = try #require(prod?["id"] as? String)
        _ = try await cli.ok(["envs", "create", "checkout/staging", "--space", "fake", "--namespace", "checkout-staging"])
        // (space, namespace) is taken: 409 with the field.
        let taken = try await cli.run(["envs", "create", "checkout/other", "--space", "fake", "--namespace", "shop"])
        #expect(taken.status == 1)
        #expect(taken.stderr.contains("namespace"))
        #expect(taken.stderr.contains("request id: "))
        // A bad namespace: 400 validation_failed with the field on its own line.
        let invalid = try await cli.run(["envs", "create", "checkout/bad", "--space", "fake", "--namespace", "Not_A_Label"])
        #expect(invalid.status == 1)
        #expect(invalid.stderr.contains("validation_failed"))
        #expect(invalid.stderr.contains("  namespace: "))
        #expect(try await cli.run(["envs", "get", "no-slash"]).status == 2)
        #expect(try await cli.run(["envs", "get", "checkout/none"]).status == 1)

        try expectGolden("envs-list.txt", try await cli.ok(["envs", "list", "checkout"]))
        try expectGolden("envs-list-all.txt", try await cli.ok(["envs", "list"]))
        let byName = try await cli.json(["envs", "get", "checkout/prod"]) as? [String: Any]
        #expect(byName?["id"] as? String == prodID)
        let byID = try await cli.json(["envs", "get", prodID]) as? [String: Any]
        #expect(byID?["namespace"] as? String == "shop")
        let renamed = try await cli.json(["envs", "update", "checkout/staging", "--name", "stage", "--registry-url", "ghcr.io/acme/checkout"]) as? [String: Any]
        #expect(renamed?["name"] as? String == "stage")
        #expect(renamed?["registryUrl"] as? String == "ghcr.io/acme/checkout")
        // Clearing sends an explicit null; the rest stays.
        let unset = try await cli.json(["envs", "update", "checkout/stage", "--clear-registry"]) as? [String: Any]
        #expect(unset?["registryUrl"] == nil || unset?["registryUrl"] is NSNull)
        #expect(unset?["name"] as? String == "stage")
        #expect(try await cli.ok(["envs", "get", "checkout/stage"]).contains(#/Registry URL: +-\n/#))
        #expect(try await cli.run(["envs", "update", "checkout/stage", "--registry-url", "ghcr.io/x", "--clear-registry-url"]).status == 2)
        _ = try await cli.ok(["envs", "update", "checkout/stage", "--registry-url", "ghcr.io/acme/checkout"])
        #expect((try await cli.json(["envs", "update", "checkout/stage", "--clear-registry-url"]) as? [String: Any])?["registryUrl"] as? String == nil)

        // Live numbers from the fake cluster's `shop` namespace.
        let stats = try await cli.json(["envs", "stats", "checkout/prod"]) as? [String: Any]
        #expect(stats?["deploymentCount"] as? Int == 3)
        #expect(stats?["namespaceExists"] as? Bool == true)
        #expect(try await cli.ok(["envs", "stats", prodID]).contains("Namespace exists: yes"))
        let discovery = try await cli.ok(["envs", "discover", "checkout/prod"])
        #expect(discovery.contains("ingress") && discovery.contains("cert-manager"))

        // Deployments, by PROJECT/ENV/NAME or ID.
        _ = try await cli.ok(["deployments", "create", "checkout/prod", "--name", "web", "--image", "ghcr.io/acme/web:1", "--cpu", "250m", "--memory", "512Mi"])
        let api = try await cli.json(["deployments", "create", "checkout/prod", "--name", "api", "--image", "ghcr.io/acme/api:1", "--port", "8080"]) as? [String: Any]
        let apiID = try #require(api?["id"] as? String)
        #expect(api?["status"] as? String == "pending")
        #expect(try await cli.run(["deployments", "create", "checkout/prod", "--name", "web", "--image", "x"]).status == 1)
        #expect(try await cli.run(["deployments", "create", "checkout/prod", "--name", "x", "--image", "x", "--cpu", "1"]).status == 2)
        try expectGolden("deployments-list.txt", try await cli.ok(["deployments", "list", "checkout/prod"]))
        #expect(try await cli.ok(["deployments", "get", "checkout/prod/web"]).contains("cpu 250m, memory 512Mi"))
        let scaled = try await cli.json(["deployments", "update", apiID, "--replicas", "3", "--canvas", "40,80"]) as? [String: Any]
        #expect(scaled?["replicas"] as? Int == 3)
        // Status sync is off in this server: --wait times out with exit 1.
        let waited = try await cli.run(["deployments", "wait", "checkout/prod/api", "--timeout", "1", "--interval", "0.2"])
        #expect(waited.status == 1)
        #expect(waited.stderr.contains("timed out"))

        let connection = try await cli.json(["connections", "create", "checkout/prod", "--from", "web", "--to", "api", "--inject-var", "API_URL", "--suggestion"]) as? [String: Any]
        let connectionID = try #require(connection?["id"] as? String)
        #expect(connection?["sourceHint"] as? String == "suggestion")
        #expect(try await cli.run(["connections", "create", "checkout/prod", "--from", "web", "--to", "api"]).status == 1)
        let accepted = try await cli.json(["connections", "accept", connectionID]) as? [String: Any]
        #expect(accepted?["sourceHint"] as? String == "manual")
        #expect(try await cli.ok(["connections", "list", "checkout/prod"]).contains("API_URL"))

        // Deleting an environment with deployments: 409 has_children with its counts.
        let refused = try await cli.run(["envs", "delete", "checkout/prod"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("has_children"))
        #expect(refused.stderr.contains("deploymentCount: 2"))
        let preview = try await cli.json(["envs", "delete", "checkout/prod", "--dry-run"]) as? [String: Any]
        #expect(preview?["deletable"] as? Bool == false)
        #expect(try await cli.ok(["connections", "delete", connectionID]).contains("Deleted connection"))
        #expect(try await cli.ok(["deployments", "delete", "checkout/prod/web"]).contains("Deleted deployment"))
        #expect(try await cli.ok(["deployments", "delete", apiID]).contains("Deleted deployment"))
        #expect(try await cli.ok(["envs", "delete", "checkout/prod"]).contains("Deleted environment"))
        #expect(try await cli.ok(["deployments", "list", "checkout/stage"]).isEmpty)

        for (arguments, result) in cli.commands {
            #expect(!result.output.contains(server.token), "the token leaked in the output of gantry \(arguments.joined(separator: " "))")
            #expect(!result.output.contains(KubeServer.clusterToken), "the cluster token leaked in gantry \(arguments.joined(separator: " "))")
        }
    }

    @Test("--wait follows status sync to the end state")
    func waitForStatus() async throws {
        let kube = try await KubeServer()
        defer { kube.stop() }
        let server = try await GantryServer(syncInterval: 1)
        defer { server.stop() }
        let cli = try CLI(server)
        try await cli.login()
        let directory = try temporaryDirectory()
        try kube.kubeconfig.write(toFile: "\(directory)/kubeconfig", atomically: true, encoding: .utf8)
        _ = try await cli.ok(["projects", "create", "shop"])
        _ = try await cli.ok(["spaces", "create", "fake", "--kubeconfig", "\(directory)/kubeconfig"])
        _ = try await cli.ok(["envs", "create", "shop/prod", "--space", "fake", "--namespace", "shop"])

        // `web` is healthy in the fake cluster: running, exit 0.
        let web = try await cli.run(["deployments", "create", "shop/prod", "--name", "web", "--image", "nginx", "--wait", "--timeout", "30", "--interval", "0.5", "-o", "json"])
        #expect(web.status == 0, "\(web.stderr)")
        let body = try JSONSerialization.jsonObject(with: Data(web.stdout.utf8)) as? [String: Any]
        #expect(body?["status"] as? String == "running")
        // `stuck` exceeded its progress deadline: failed, exit 1, the deployment still printed.
        let stuck = try await cli.run(["deployments", "create", "shop/prod", "--name", "stuck", "--image", "nginx", "--wait", "--timeout", "30", "--interval", "0.5"])
        #expect(stuck.status == 1)
        #expect(stuck.stdout.contains("failed"))
        #expect(stuck.stderr.contains("is failed"))
    }

    @Test("tokens, audit, members, cloud accounts and integrations; secrets only where they belong")
    func tokensAuditAndSecrets() async throws {
        let server = try await GantryServer()
        defer { server.stop() }
        let cli = try CLI(server)
        try await cli.login()

        // tokens create shows the new secret once; list never does; the token works, then is revoked.
        let created = try await cli.json(["tokens", "create", "ci", "--expires-in", "30d"]) as? [String: Any]
        let secret = try #require(created?["token"] as? String)
        let tokenID = try #require(created?["id"] as? String)
        #expect(AccessToken.isWellFormed(secret))
        let table = try await cli.run(["tokens", "create", "other"])
        #expect(table.stdout.contains("Token:"))
        #expect(table.stderr.contains("not shown again"))
        #expect(try await cli.run(["tokens", "create", "x", "--expires-in", "soon"]).status == 2)
        let tokens = try await cli.ok(["tokens", "list"])
        #expect(tokens.contains(tokenID))
        #expect(!tokens.contains(secret))
        let asCI = try await cli.run(["whoami"], environment: ["GANTRY_TOKEN": secret])
        #expect(asCI.status == 0)
        #expect(try await cli.ok(["tokens", "revoke", tokenID]).contains("Revoked token"))
        let revoked = try await cli.run(["whoami"], environment: ["GANTRY_TOKEN": secret])
        #expect(revoked.status == 1)
        #expect(revoked.stderr.contains("unauthenticated"))

        // Members, roles, assignments, policies.
        let user = try await cli.json(["users", "create", "--email", "dev@example.com", "--name", "Dev"]) as? [String: Any]
        #expect(user?["email"] as? String == "dev@example.com")
        #expect(try await cli.ok(["users", "list"]).contains("dev@example.com"))
        #expect(try await cli.ok(["users", "get", "dev@example.com"]).contains("Dev"))
        #expect(try await cli.ok(["roles", "policies"]).contains("projects:read"))
        #expect(try await cli.ok(["roles", "list"]).contains("role_admin"))
        let role = try await cli.json(["roles", "create", "readers", "--policy", "projects:read", "--policy", "environments:read"]) as? [String: Any]
        #expect((role?["policies"] as? [String])?.count == 2)
        let replaced = try await cli.json(["roles", "update", "readers", "--description", "Read-only"]) as? [String: Any]
        #expect(replaced?["description"] as? String == "Read-only")
        _ = try await cli.ok(["projects", "create", "checkout"])
        let assignment = try await cli.json(["assignments", "create", "--user", "dev@example.com", "--role", "readers", "--scope", "project:checkout"]) as? [String: Any]
        #expect((assignment?["scope"] as? String)?.hasPrefix("project:prj_") == true)
        let devToken = try await cli.json(["tokens", "create", "dev-cli", "--user", "dev@example.com"]) as? [String: Any]
        let devSecret = try #require(devToken?["token"] as? String)
        let devProjects = try await cli.run(["projects", "list"], environment: ["GANTRY_TOKEN": devSecret])
        #expect(devProjects.stdout.contains("checkout"))
        let forbidden = try await cli.run(["spaces", "list"], environment: ["GANTRY_TOKEN": devSecret])
        #expect(forbidden.status == 1)
        #expect(forbidden.stderr.contains("forbidden"))
        #expect(try await cli.ok(["assignments", "delete", try #require(assignment?["id"] as? String)]).contains("Deleted assignment"))
        #expect(try await cli.ok(["roles", "delete", "readers"]).contains("Deleted role"))

        // Cloud account credentials from stdin; integration password from a file; never echoed, never a flag.
        let awsSecret = "aws-secret-\(UUID().uuidString)"
        let account = try await cli.run(["cloud-accounts", "create", "aws-prod", "--provider", "aws", "--credentials-file", "-", "-o", "json"],
                                        stdin: #"{"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "\#(awsSecret)"}"#)
        #expect(account.status == 0, "\(account.stderr)")
        #expect(try await cli.ok(["cloud-accounts", "list"]).contains("aws-prod"))
        #expect(try await cli.ok(["cloud-accounts", "get", "aws-prod", "-o", "yaml"]).contains("provider: aws"))
        let badCredentials = try await cli.run(["cloud-accounts", "create", "x", "--provider", "aws", "--credentials-file", "-"], stdin: "just text")
        #expect(badCredentials.status == 2)
        let passwordFile = try temporaryDirectory() + "/password"
        let registryPassword = "registry-pw-\(UUID().uuidString)"
        try registryPassword.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let integration = try await cli.json(["integrations", "create", "ghcr", "--kind", "ghcr", "--registry", "ghcr.io",
                                              "--username", "bot", "--password-file", passwordFile]) as? [String: Any]
        #expect(integration?["hasCredentials"] as? Bool == true)
        let ecr = try await cli.run(["integrations", "create", "ecr", "--kind", "ecr", "--registry", "1.dkr.ecr.us-east-1.amazonaws.com", "--cloud-account", "aws-prod"])
        #expect(ecr.status == 0, "\(ecr.stderr)")
        #expect(try await cli.ok(["integrations", "list"]).contains("cloud account"))
        let plainPassword = try await cli.run(["integrations", "create", "hub", "--kind", "dockerhub", "--registry", "docker.io",
                                               "--username", "bot", "--password", registryPassword])
        #expect(plainPassword.status == 2)
        #expect(try await cli.ok(["integrations", "delete", "ecr"]).contains("Deleted integration"))
        #expect(try await cli.ok(["integrations", "delete", "ghcr"]).contains("Deleted integration"))
        #expect(try await cli.ok(["cloud-accounts", "delete", "aws-prod"]).contains("Deleted cloud account"))

        // Audit: newest first, filters, NDJSON export, chain verification.
        let entries = try await cli.json(["audit", "list", "--all", "--limit", "2"]) as? [[String: Any]]
        #expect((entries?.first?["action"] as? String)?.hasSuffix(".deleted") == true)
        #expect((entries?.count ?? 0) >= 10)
        let projectEntries = try await cli.json(["audit", "list", "--project", "checkout"]) as? [[String: Any]]
        // Roll-up: the project's own entry and those of grants scoped to it, newest first.
        #expect(projectEntries?.map { $0["action"] as? String } == ["assignment.deleted", "assignment.created", "project.created"])
        let export = try await cli.ok(["audit", "export", "--action", "token.created"])
        let lines = export.split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(entry?["action"] as? String == "token.created")
        }
        #expect(try await cli.ok(["audit", "verify"]).contains("Chain intact:    yes"))
        #expect(try await cli.ok(["audit", "list", "--from", "2000-01-01", "--to", "2999-01-01", "--limit", "1"]).contains("ACTION"))
        #expect(try await cli.run(["audit", "list", "--from", "yesterday"]).status == 2)

        // Secrets: the login token never appears in any output; new token secrets only in `tokens create`;
        // credentials never anywhere.
        for (arguments, result) in cli.commands {
            let command = arguments.joined(separator: " ")
            #expect(!result.output.contains(server.token), "the login token leaked in gantry \(command)")
            #expect(!result.output.contains(awsSecret), "a cloud credential leaked in gantry \(command)")
            #expect(!result.output.contains(registryPassword), "a registry password leaked in gantry \(command)")
            if !(arguments.starts(with: ["tokens", "create"])) {
                #expect(!result.output.contains(secret), "a token secret leaked in gantry \(command)")
                #expect(!result.output.contains(devSecret), "a token secret leaked in gantry \(command)")
            }
        }
        // The profile file holds the login token only.
        let stored = try String(contentsOfFile: cli.configPath, encoding: .utf8)
        #expect(stored.contains(server.token))
        #expect(!stored.contains(secret) && !stored.contains(awsSecret) && !stored.contains(registryPassword))
    }

    @Test("On a terminal: bold headers unless NO_COLOR; the token prompt does not echo",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func terminal() async throws {
        let server = try await GantryServer()
        defer { server.stop() }
        let home = try temporaryDirectory()
        let gantry = binary("gantry").path
        let environment = childEnvironment(["GANTRY_CONFIG": home + "/config.json", "HOME": home, "TOKEN": server.token, "TERM": "xterm"])
            .filter { $0.key != "NO_COLOR" }
        // `script` gives the command a pseudo-terminal; the token is typed once the prompt has turned echo off.
        let login = try await runProgram(URL(fileURLWithPath: "/bin/sh"), [
            "-c", "(sleep 2; printf '%s\\n' \"$TOKEN\") | script -qec '\(gantry) login --server \(server.url)' /dev/null",
        ], environment: environment)
        #expect(login.status == 0, "\(login.output)")
        #expect(login.stdout.contains("Token:"))
        #expect(login.stdout.contains("Logged in"))
        #expect(!login.output.contains(server.token), "the prompt echoed the token")
        #expect(fileMode(home + "/config.json") == 0o600)

        let coloured = try await runProgram(URL(fileURLWithPath: "/usr/bin/script"), ["-qec", "\(gantry) roles list", "/dev/null"],
                                            environment: environment)
        #expect(coloured.status == 0)
        #expect(coloured.stdout.contains("\u{1B}[1mNAME\u{1B}[0m"))
        var plain = environment
        plain["NO_COLOR"] = "1"
        let uncoloured = try await runProgram(URL(fileURLWithPath: "/usr/bin/script"), ["-qec", "\(gantry) roles list", "/dev/null"],
                                              environment: plain)
        #expect(uncoloured.status == 0)
        #expect(uncoloured.stdout.contains("role_admin"))
        #expect(!uncoloured.stdout.contains("\u{1B}["))
        // Piped, there is never colour.
        var piped = environment
        piped["GANTRY_CONFIG"] = home + "/config.json"
        let pipedRun = try await runProgram(binary("gantry"), ["roles", "list"], environment: piped)
        #expect(pipedRun.stdout.contains("role_admin"))
        #expect(!pipedRun.stdout.contains("\u{1B}["))
    }

    @Test("completion scripts for bash, zsh and fish; help; unknown commands exit 2")
    func completionAndUsage() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let result = try await runProgram(binary("gantry"), ["completion", shell], environment: childEnvironment([:]))
            #expect(result.status == 0, "\(shell): \(result.stderr)")
            #expect(result.stdout.contains("gantry"))
            #expect(result.stdout.contains("projects"))
        }
        #expect(try await runProgram(binary("gantry"), ["completion", "powershell"], environment: childEnvironment([:])).status == 2)
        let help = try await runProgram(binary("gantry"), ["--help"], environment: childEnvironment([:]))
        #expect(help.status == 0)
        for command in ["serve", "login", "projects", "envs", "deployments", "audit", "tokens", "completion"] {
            #expect(help.stdout.contains(command), "gantry --help lacks \(command)")
        }
        #expect(try await runProgram(binary("gantry"), ["projects", "frobnicate"], environment: childEnvironment([:])).status == 2)
        // A server that is not there: exit 1 with a line naming it.
        let port = try freePort()
        let unreachable = try await runProgram(binary("gantry"), ["projects", "list"],
                                               environment: childEnvironment(["GANTRY_SERVER": "http://127.0.0.1:\(port)", "GANTRY_TOKEN": AccessToken.generate(),
                                                                              "GANTRY_CONFIG": try temporaryDirectory() + "/c.json"]))
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("cannot reach"))
    }
}
