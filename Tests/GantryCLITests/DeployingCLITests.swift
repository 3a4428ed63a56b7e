import Foundation
import Testing

/// docs/api.md §7 from the command line: `gantry deploy`, revisions, rollback, events, and the deploy fields of
/// `deployments create/update`, against a real `gantry serve` whose deployer talks to the fake cluster.
extension GantryCLITests {
    /// A server whose deployer applies quickly and fails an image-pull loop at once, with a space on the fake cluster
    /// and the environment `checkout/prod` in the (new) namespace `checkout-prod`.
    static func deployingSetup() async throws -> (KubeServer, GantryServer, CLI) {
        let kube = try await KubeServer()
        let server: GantryServer
        do {
            server = try await GantryServer(syncInterval: 1, environment: [
                "GANTRY_DEPLOY_POLL_INTERVAL": "0.2", "GANTRY_ROLLOUT_FAILURE_AFTER": "0",
            ])
        } catch {
            kube.stop()
            throw error
        }
        let cli = try CLI(server)
        try await cli.login()
        let directory = try temporaryDirectory()
        try kube.kubeconfig.write(toFile: "\(directory)/kubeconfig", atomically: true, encoding: .utf8)
        _ = try await cli.ok(["projects", "create", "checkout"])
        _ = try await cli.ok(["spaces", "create", "fake", "--kubeconfig", "\(directory)/kubeconfig"])
        _ = try await cli.ok(["envs", "create", "checkout/prod", "--space", "fake", "--namespace", "checkout-prod"])
        return (kube, server, cli)
    }

    /// Where `needle` first stands in `text` (a character offset), to check the order of progress lines.
    static func position(of needle: String, in text: String) -> Int? {
        text.range(of: needle).map { text.distance(from: text.startIndex, to: $0.lowerBound) }
    }

    @Test("deploy --wait reaches succeeded or fails with the reason; revisions, rollback, environment deploy, events; secret values never shown")
    func deploying() async throws {
        let (kube, server, cli) = try await Self.deployingSetup()
        defer { server.stop(); kube.stop() }
        let apiKey = "api-key-\(UUID().uuidString)", dbPassword = "db-pw-\(UUID().uuidString)"

        // create: plain and secret variables (values on stdin, one line per name, in order), ingress, health check.
        let created = try await cli.run([
            "deployments", "create", "checkout/prod", "--name", "api", "--image", "ghcr.io/acme/api:1", "--port", "8080",
            "--env", "LOG_LEVEL=debug", "--env", "GREETING=a=b", "--secret-env", "API_KEY", "--secret-env", "DB_PASSWORD",
            "--ingress-host", "api.example.com", "--ingress-class", "nginx", "--tls-issuer", "letsencrypt", "--health-path", "/healthz",
            "-o", "json",
        ], stdin: "\(apiKey)\n\(dbPassword)\n")
        #expect(created.status == 0, "\(created.stderr)")
        let api = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any]
        #expect((api?["env"] as? [[String: String]]) == [["name": "LOG_LEVEL", "value": "debug"], ["name": "GREETING", "value": "a=b"]])
        #expect(api?["secretEnvNames"] as? [String] == ["API_KEY", "DB_PASSWORD"])
        #expect(api?["pendingChanges"] as? Bool == true)
        #expect(api?["currentRevision"] == nil || api?["currentRevision"] is NSNull)
        #expect((api?["ingress"] as? [String: Any])?["tlsIssuer"] as? String == "letsencrypt")
        #expect((api?["healthCheck"] as? [String: Any])?["path"] as? String == "/healthz")
        let shown = try await cli.ok(["deployments", "get", "checkout/prod/api"])
        #expect(shown.contains("Secret env:       API_KEY, DB_PASSWORD"))
        #expect(shown.contains("Env:              LOG_LEVEL=debug, GREETING=a=b"))
        #expect(shown.contains("Ingress:          api.example.com/ → class nginx, TLS from letsencrypt"))
        #expect(shown.contains("Health check:     GET /healthz on port 8080"))
        #expect(shown.contains("Pending changes:  yes"))
        #expect(shown.contains("Current revision: -"))

        // Secret values never come from the command line: NAME=VALUE is refused without echoing the value, and there
        // is no flag that takes one.
        let inline = try await cli.run(["deployments", "update", "checkout/prod/api", "--secret-env", "API_KEY=\(apiKey)"])
        #expect(inline.status == 2)
        #expect(inline.stderr.contains("--secret-env takes a NAME only"))
        let asFlag = try await cli.run(["deployments", "update", "checkout/prod/api", "--secret-env-value", apiKey])
        #expect(asFlag.status == 2)
        let asArgument = try await cli.run(["deployments", "update", "checkout/prod/api", "--secret-env", "API_KEY", apiKey])
        #expect(asArgument.status == 2)
        #expect(asArgument.stderr.contains("never taken from the command line"))
        // stdin ends before the second value: nothing is sent.
        let short = try await cli.run(["deployments", "update", "checkout/prod/api", "--secret-env", "API_KEY", "--secret-env", "OTHER"], stdin: "x\n")
        #expect(short.status == 2)
        #expect(short.stderr.contains("--secret-env OTHER"))
        #expect(try await cli.run(["deployments", "update", "checkout/prod/api", "--no-ingress", "--ingress-host", "x.example.com"]).status == 2)
        #expect(try await cli.run(["deployments", "create", "checkout/prod", "--name", "x", "--image", "x", "--ingress-host", "x.example.com"]).status == 2)
        #expect(try await cli.run(["deployments", "create", "checkout/prod", "--name", "x", "--image", "x", "--clear-env"]).status == 2)
        #expect((try await cli.json(["deployments", "get", "checkout/prod/api"]) as? [String: Any])?["version"] as? Int == 1)

        // deploy --wait: progress lines in order, exit 0 at succeeded.
        let first = try await cli.run(["deploy", "checkout/prod/api", "--wait", "--timeout", "120", "--interval", "0.2"])
        #expect(first.status == 0, "\(first.output)")
        let queued = Self.position(of: "api: revision 1 queued", in: first.stdout)
        let succeeded = Self.position(of: "api: revision 1 succeeded", in: first.stdout)
        #expect(queued != nil && succeeded != nil && queued! < succeeded!, "\(first.stdout)")
        let deployed = try await cli.json(["deployments", "get", "checkout/prod/api"]) as? [String: Any]
        #expect(deployed?["currentRevision"] as? Int == 1)
        #expect(deployed?["pendingChanges"] as? Bool == false)

        // deploy --image: the deployment takes the image first. In JSON mode progress goes to stderr and stdout is the revision.
        let second = try await cli.run(["deploy", "checkout/prod/api", "--image", "ghcr.io/acme/api:2", "--wait", "--timeout", "120", "--interval", "0.2", "-o", "json"])
        #expect(second.status == 0, "\(second.output)")
        let revision2 = try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any]
        #expect(revision2?["number"] as? Int == 2)
        #expect(revision2?["status"] as? String == "succeeded")
        #expect(revision2?["secretEnvNames"] as? [String] == ["API_KEY", "DB_PASSWORD"])
        #expect(second.stderr.contains("api: revision 2 succeeded"))
        #expect(try await cli.ok(["deployments", "get", "checkout/prod/api"]).contains("ghcr.io/acme/api:2"))

        // An image that cannot be pulled: the revision fails with the reason, exit 1.
        _ = try await cli.ok(["deployments", "create", "checkout/prod", "--name", "broken", "--image", "ghcr.io/acme/does-not-exist:1"])
        let broken = try await cli.run(["deploy", "checkout/prod/broken", "--wait", "--timeout", "120", "--interval", "0.2"])
        #expect(broken.status == 1, "\(broken.output)")
        #expect(broken.stdout.contains("broken: revision 1 failed: ImagePullBackOff"))
        #expect(broken.stderr.contains("revision 1 of broken failed: ImagePullBackOff"))
        let brokenRevisions = try await cli.ok(["deployments", "revisions", "checkout/prod/broken"])
        #expect(brokenRevisions.contains("failed"))
        #expect(brokenRevisions.contains("ImagePullBackOff"))

        // Rollback to revision 1: a new revision 3 with revision 1's spec; the deployment takes its image back.
        let rollback = try await cli.run(["deployments", "rollback", "checkout/prod/api", "--to", "1", "--wait", "--timeout", "120", "--interval", "0.2"])
        #expect(rollback.status == 0, "\(rollback.output)")
        #expect(rollback.stdout.contains("api: revision 3 succeeded"))
        let rolledBack = try await cli.json(["deployments", "get", "checkout/prod/api"]) as? [String: Any]
        #expect(rolledBack?["image"] as? String == "ghcr.io/acme/api:1")
        #expect(rolledBack?["currentRevision"] as? Int == 3)
        let revision3 = try await cli.json(["deployments", "revisions", "checkout/prod/api", "3"]) as? [String: Any]
        #expect(revision3?["rollbackOf"] as? Int == 1)
        try expectGolden("revisions-list.txt", try await cli.ok(["deployments", "revisions", "checkout/prod/api"]))
        #expect(try await cli.ok(["deployments", "revisions", "checkout/prod/api", "1"]).contains("Secret env:   API_KEY, DB_PASSWORD"))
        let noSuchRevision = try await cli.run(["deployments", "rollback", "checkout/prod/api", "--to", "99"])
        #expect(noSuchRevision.status == 1)
        #expect(noSuchRevision.stderr.contains("not_found"))
        let listed = try await cli.json(["deployments", "revisions", "checkout/prod/api"]) as? [[String: Any]]
        #expect(listed?.map { $0["number"] as? Int } == [3, 2, 1])

        // deploy PROJECT/ENV: every deployment with pending changes, and only those.
        _ = try await cli.ok(["deployments", "create", "checkout/prod", "--name", "worker", "--image", "ghcr.io/acme/worker:1"])
        let environment = try await cli.run(["deploy", "checkout/prod", "--wait", "--timeout", "120", "--interval", "0.2"])
        #expect(environment.status == 0, "\(environment.output)")
        #expect(environment.stdout.contains("worker: revision 1 succeeded"))
        #expect(!environment.stdout.contains("api:") && !environment.stdout.contains("broken:"))
        #expect(try await cli.ok(["deploy", "checkout/prod"]).contains("Nothing to deploy"))
        #expect(try await cli.run(["deploy", "checkout/prod", "--image", "ghcr.io/acme/worker:2"]).status == 2)

        // Preflight: an IngressClass the cluster lacks is refused before anything is queued, naming the check.
        _ = try await cli.ok(["deployments", "update", "checkout/prod/worker", "--port", "80", "--ingress-host", "w.example.com", "--ingress-class", "nope"])
        let preflight = try await cli.run(["deploy", "checkout/prod/worker"])
        #expect(preflight.status == 1)
        #expect(preflight.stderr.contains("preflight_failed"))
        #expect(preflight.stderr.contains("  ingress.className: IngressClass 'nope' does not exist"))
        #expect((try await cli.json(["deployments", "revisions", "checkout/prod/worker"]) as? [Any])?.count == 1)

        // update: partial ingress keeps the rest; --env replaces the list; explicit nulls and empties clear.
        let path = try await cli.json(["deployments", "update", "checkout/prod/api", "--ingress-path", "/v2", "--env", "ONLY=1"]) as? [String: Any]
        #expect((path?["ingress"] as? [String: Any])?["host"] as? String == "api.example.com")
        #expect((path?["ingress"] as? [String: Any])?["path"] as? String == "/v2")
        #expect((path?["env"] as? [[String: String]]) == [["name": "ONLY", "value": "1"]])
        #expect(path?["secretEnvNames"] as? [String] == ["API_KEY", "DB_PASSWORD"])
        #expect(path?["pendingChanges"] as? Bool == true)
        let cleared = try await cli.json(["deployments", "update", "checkout/prod/api", "--clear-env", "--clear-secret-env", "--no-ingress", "--no-health-check"]) as? [String: Any]
        #expect((cleared?["env"] as? [Any])?.isEmpty == true)
        #expect((cleared?["secretEnvNames"] as? [Any])?.isEmpty == true)
        #expect(cleared?["ingress"] == nil || cleared?["ingress"] is NSNull)
        #expect(cleared?["healthCheck"] == nil || cleared?["healthCheck"] is NSNull)
        let shownCleared = try await cli.ok(["deployments", "get", "checkout/prod/api"])
        #expect(shownCleared.contains("Ingress:          -"))
        #expect(shownCleared.contains("Secret env:       -"))
        // A new secret set replaces the old one.
        let replaced = try await cli.run(["deployments", "update", "checkout/prod/api", "--secret-env", "TOKEN", "-o", "json"], stdin: "\(apiKey)-2\n")
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(replaced.stdout.utf8)) as? [String: Any])?["secretEnvNames"] as? [String] == ["TOKEN"])

        // events: Gantry's and the cluster's, newest first.
        let events = try await cli.ok(["deployments", "events", "checkout/prod/broken"])
        #expect(events.hasPrefix("TIME"))
        #expect(events.contains("gantry") && events.contains("kubernetes"))
        #expect(events.contains("ImagePullBackOff"))
        // Without the cluster: Gantry's own events, and the Warning header's text on stderr.
        kube.stop()
        let partial = try await cli.run(["deployments", "events", "checkout/prod/broken"])
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(partial.stderr.contains("warning: cluster events unavailable"))
        #expect(partial.stdout.contains("gantry"))
        #expect(!partial.stdout.contains("kubernetes"))

        for (arguments, result) in cli.commands {
            let command = arguments.joined(separator: " ")
            #expect(!result.output.contains(apiKey), "a secret value leaked in gantry \(command)")
            #expect(!result.output.contains(dbPassword), "a secret value leaked in gantry \(command)")
            #expect(!result.output.contains(server.token), "the token leaked in gantry \(command)")
        }
    }
}
