import Foundation
import Testing

/// docs/api.md §8 (issue 15) from the command line: `envs clone`, `envs extend`, `envs list --expiring-within`,
/// the prices of `spaces update`, `projects cost` and `envs cost`, against a real `gantry serve` and the fake cluster.
@Suite("gantry CLI: preview environments and cost", .serialized)
struct PreviewCLITests {
    /// `GantryCLITests.deployingSetup()` (project `checkout`, space `fake`, environment `checkout/prod`) plus the
    /// deployment `api` of the worked example: 3 replicas × (cpu 500m, memory 1Gi), not deployed yet.
    static func setup() async throws -> (KubeServer, GantryServer, CLI) {
        let (kube, server, cli) = try await GantryCLITests.deployingSetup()
        let api = try await cli.run([
            "deployments", "create", "checkout/prod", "--name", "api", "--image", "ghcr.io/acme/api:1", "--port", "8080",
            "--replicas", "3", "--cpu", "500m", "--memory", "1Gi",
        ])
        guard api.status == 0 else {
            server.stop(); kube.stop()
            Issue.record("deployments create: \(api.stderr)")
            throw CancellationError()
        }
        return (kube, server, cli)
    }

    static let prices = ["--cpu-core-hour", "0.04", "--memory-gib-hour", "0.005"]

    static func date(_ value: Any?) -> Date? {
        (value as? String).flatMap { try? Date($0, strategy: .iso8601) }
    }

    static func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }

    /// The names of `envs list ARGS -o json`.
    static func names(_ cli: CLI, _ arguments: [String]) async throws -> [String] {
        ((try await cli.json(["envs", "list"] + arguments) as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
    }

    /// `envs cost ENV -o json` once the namespace holds `pods` pods, polled until `timeout` (the deployer applies
    /// and status sync runs every second; the deadline is generous for a loaded machine).
    static func cost(_ cli: CLI, _ environment: String, pods: Int, timeout: Double = 120) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while true {
            let result = try await cli.run(["envs", "cost", environment, "-o", "json"])
            last = result.output
            if result.status == 0, let cost = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
               let rows = cost["byDeployment"] as? [[String: Any]], rows.reduce(0, { $0 + ($1["pods"] as? Int ?? 0) }) == pods {
                return cost
            }
            guard Date() < deadline else {
                Issue.record("envs cost \(environment) never showed \(pods) pods within \(Int(timeout)) s; last answer:\n\(last)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    @Test("envs clone --ttl --image: a copy in the source's project that expires, with the image overridden; --only, --replicas, PROJECT/NAME")
    func clone() async throws {
        let (kube, server, cli) = try await Self.setup()
        defer { server.stop(); kube.stop() }
        _ = try await cli.ok(["deployments", "create", "checkout/prod", "--name", "worker", "--image", "ghcr.io/acme/worker:1"])
        let source = try #require(try await cli.json(["envs", "get", "checkout/prod"]) as? [String: Any])
        #expect(Self.isNull(source["clonedFromId"]) && Self.isNull(source["expiresAt"]))

        let before = Date()
        let copy = try #require(try await cli.json([
            "envs", "clone", "checkout/prod", "pr-42", "--namespace", "checkout-pr-42", "--ttl", "2d", "--image", "api=ghcr.io/acme/api:pr-42",
        ]) as? [String: Any])
        #expect(copy["name"] as? String == "pr-42")
        #expect(copy["namespace"] as? String == "checkout-pr-42")
        #expect(copy["projectId"] as? String == source["projectId"] as? String)
        #expect(copy["spaceId"] as? String == source["spaceId"] as? String)
        #expect(copy["clonedFromId"] as? String == source["id"] as? String)
        let expiresAt = try #require(Self.date(copy["expiresAt"]), "expiresAt: \(copy["expiresAt"] ?? "missing")")
        #expect(abs(expiresAt.timeIntervalSince(before) - 48 * 3600) < 120, "2d is 48 hours from now")

        // The copies: every live deployment, the override applied to api only; the source keeps its image.
        let copied = try #require(try await cli.json(["deployments", "list", "checkout/pr-42"]) as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: copied.compactMap { item in (item["name"] as? String).map { ($0, item) } })
        #expect(Set(byName.keys) == ["api", "worker"])
        #expect(byName["api"]?["image"] as? String == "ghcr.io/acme/api:pr-42")
        #expect(byName["api"]?["replicas"] as? Int == 3)
        #expect((byName["api"]?["resources"] as? [String: Any])?["cpuRequest"] as? String == "500m")
        #expect(byName["worker"]?["image"] as? String == "ghcr.io/acme/worker:1")
        #expect((try await cli.json(["deployments", "get", "checkout/prod/api"]) as? [String: Any])?["image"] as? String == "ghcr.io/acme/api:1")

        // The detail view shows where it came from and when it goes.
        let shown = try await cli.ok(["envs", "get", "checkout/pr-42"])
        #expect(shown.contains(#/Cloned from: +env_/#))
        #expect(shown.contains("Expires:") && shown.contains(copy["expiresAt"] as? String ?? "?"))

        // --only one deployment, --replicas for it, no --ttl (a preview that does not expire), the name as PROJECT/NAME.
        let partial = try #require(try await cli.json([
            "envs", "clone", "checkout/prod", "checkout/pr-43", "--namespace", "checkout-pr-43", "--only", "worker", "--replicas", "worker=2",
        ]) as? [String: Any])
        #expect(partial["name"] as? String == "pr-43")
        #expect(Self.isNull(partial["expiresAt"]))
        let only = try #require(try await cli.json(["deployments", "list", "checkout/pr-43"]) as? [[String: Any]])
        #expect(only.map { $0["name"] as? String } == ["worker"])
        #expect(only.first?["replicas"] as? Int == 2)
        #expect(try await cli.ok(["envs", "get", "checkout/pr-43"]).contains(#/Expires: +never\n/#))

        // The list marks them: the expiry time, or `preview` for a clone without one.
        let listed = try await cli.ok(["envs", "list", "checkout"])
        let rows = listed.split(separator: "\n")
        #expect(rows.first?.contains("EXPIRES") == true)
        #expect(rows.first { $0.contains(" pr-42 ") }?.contains(copy["expiresAt"] as? String ?? "?") == true, "\(listed)")
        #expect(rows.first { $0.contains(" pr-43 ") }?.contains(" preview ") == true, "\(listed)")
        #expect(rows.first { $0.contains(" prod ") }?.contains(" preview ") == false, "\(listed)")

        // An override naming a deployment that is not copied: 400 naming the field, nothing created.
        let stray = try await cli.run(["envs", "clone", "checkout/prod", "pr-44", "--namespace", "checkout-pr-44", "--only", "worker", "--image", "api=x:1"])
        #expect(stray.status == 1)
        #expect(stray.stderr.contains("validation_failed") && stray.stderr.contains("overrides"), "\(stray.stderr)")
        // The copy's name is unique in the project: 409.
        let taken = try await cli.run(["envs", "clone", "checkout/prod", "pr-42", "--namespace", "checkout-pr-45"])
        #expect(taken.status == 1)
        #expect(taken.stderr.contains("conflict"))
        // A clone cannot leave the source's project.
        _ = try await cli.ok(["projects", "create", "other"])
        #expect(try await cli.run(["envs", "clone", "checkout/prod", "other/pr-46", "--namespace", "checkout-pr-46"]).status == 2)
        #expect(try await Self.names(cli, ["checkout"]) == ["prod", "pr-42", "pr-43"])
    }

    @Test("envs extend --ttl sets expiresAt from now (If-Match of the version read); --never clears it; list --expiring-within")
    func extend() async throws {
        let (kube, server, cli) = try await Self.setup()
        defer { server.stop(); kube.stop() }
        let copy = try #require(try await cli.json(["envs", "clone", "checkout/prod", "pr-1", "--namespace", "checkout-pr-1", "--ttl", "90m"]) as? [String: Any])
        let first = try #require(Self.date(copy["expiresAt"]))
        #expect(abs(first.timeIntervalSinceNow - 2 * 3600) < 120, "90m rounds up to 2 hours")
        let version = try #require(copy["version"] as? Int)

        // Expiring within: only the clone, and only when the window reaches its expiry.
        #expect(try await Self.names(cli, ["--expiring-within", "3h"]) == ["pr-1"])
        #expect(try await Self.names(cli, ["checkout", "--expiring-within", "3h"]) == ["pr-1"])
        #expect(try await Self.names(cli, ["--expiring-within", "1h"]).isEmpty)
        let none = try await cli.run(["envs", "list", "--expiring-within", "1h"])
        #expect(none.status == 0 && none.stdout.isEmpty && none.stderr.contains("no environments found"), "\(none.output)")

        let extended = try #require(try await cli.json(["envs", "extend", "checkout/pr-1", "--ttl", "3d"]) as? [String: Any])
        let later = try #require(Self.date(extended["expiresAt"]))
        #expect(abs(later.timeIntervalSinceNow - 72 * 3600) < 120)
        #expect(extended["version"] as? Int == version + 1)
        #expect(try await Self.names(cli, ["--expiring-within", "3h"]).isEmpty)
        #expect(try await Self.names(cli, ["--expiring-within", "73h"]) == ["pr-1"])
        // A stale --if-match is refused (412); the version just read is what it sends by default.
        let stale = try await cli.run(["envs", "extend", "checkout/pr-1", "--ttl", "1d", "--if-match", String(version)])
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("precondition_failed"), "\(stale.stderr)")

        // --never: an explicit null; the environment stays a preview (clonedFromId) that does not expire.
        let never = try #require(try await cli.json(["envs", "extend", "checkout/pr-1", "--never"]) as? [String: Any])
        #expect(Self.isNull(never["expiresAt"]))
        #expect(never["clonedFromId"] as? String == copy["clonedFromId"] as? String)
        #expect(try await cli.ok(["envs", "get", "checkout/pr-1"]).contains(#/Expires: +never\n/#))
        #expect(try await Self.names(cli, ["--expiring-within", "720h"]).isEmpty)
        // Any environment can be given an expiry, not only clones.
        let prod = try #require(try await cli.json(["envs", "extend", "checkout/prod", "--ttl", "24h"]) as? [String: Any])
        #expect(Self.date(prod["expiresAt"]) != nil)
        #expect(try await Self.names(cli, ["--expiring-within", "1d"]) == ["prod"])

        #expect(try await cli.run(["envs", "extend", "checkout/pr-1"]).status == 2)
        #expect(try await cli.run(["envs", "extend", "checkout/pr-1", "--ttl", "1h", "--never"]).status == 2)
    }

    @Test("spaces update --cpu-core-hour --memory-gib-hour [--currency]; both prices or neither; --clear-pricing sends null")
    func pricing() async throws {
        let (kube, server, cli) = try await GantryCLITests.deployingSetup()
        defer { server.stop(); kube.stop() }
        #expect(Self.isNull((try await cli.json(["spaces", "get", "fake"]) as? [String: Any])?["pricing"]))
        #expect(try await cli.ok(["spaces", "get", "fake"]).contains(#/Pricing: +-\n/#))

        let priced = try #require(try await cli.json(["spaces", "update", "fake"] + Self.prices) as? [String: Any])
        let pricing = try #require(priced["pricing"] as? [String: Any])
        #expect(pricing["cpuCoreHour"] as? Double == 0.04)
        #expect(pricing["memoryGiBHour"] as? Double == 0.005)
        #expect(pricing["currency"] as? String == "USD")
        #expect(try await cli.ok(["spaces", "get", "fake"]).contains(#/Pricing: +0\.04 USD per core-hour, 0\.005 USD per GiB-hour\n/#))
        let euros = try await cli.json(["spaces", "update", "fake", "--cpu-core-hour", "0.05", "--memory-gib-hour", "0", "--currency", "eur"]) as? [String: Any]
        #expect((euros?["pricing"] as? [String: Any])?["currency"] as? String == "EUR")
        #expect((euros?["pricing"] as? [String: Any])?["memoryGiBHour"] as? Double == 0)

        // Both prices or neither; prices and --clear-pricing exclude each other. Usage errors: nothing is sent.
        let half = try await cli.run(["spaces", "update", "fake", "--cpu-core-hour", "0.04"])
        #expect(half.status == 2)
        #expect(half.stderr.contains("--cpu-core-hour and --memory-gib-hour go together"), "\(half.stderr)")
        #expect(try await cli.run(["spaces", "update", "fake", "--memory-gib-hour", "0.005"]).status == 2)
        #expect(try await cli.run(["spaces", "update", "fake", "--currency", "USD"]).status == 2)
        #expect(try await cli.run(["spaces", "update", "fake", "--clear-pricing"] + Self.prices).status == 2)
        #expect(try await cli.run(["spaces", "update", "fake", "--currency", "dollars"] + Self.prices).status == 2)
        #expect((try await cli.json(["spaces", "get", "fake"]) as? [String: Any]).flatMap { $0["pricing"] as? [String: Any] }?["currency"] as? String == "EUR")

        // Other changes keep the prices; --clear-pricing removes them.
        let renamed = try await cli.json(["spaces", "update", "fake", "--name", "fake-east"]) as? [String: Any]
        #expect((renamed?["pricing"] as? [String: Any])?["currency"] as? String == "EUR")
        let cleared = try await cli.json(["spaces", "update", "fake-east", "--clear-pricing"]) as? [String: Any]
        #expect(cleared?["name"] as? String == "fake-east")
        #expect(Self.isNull(cleared?["pricing"]))
    }

    @Test("projects cost: the worked example (3 × 500m/1Gi at 0.04 and 0.005 → 0.075 an hour, 54.75 a month); no pricing; deployments without requests")
    func projectCost() async throws {
        let (kube, server, cli) = try await Self.setup()
        defer { server.stop(); kube.stop() }
        // A second environment on a space without prices, holding a deployment without requests.
        let directory = try temporaryDirectory()
        try kube.kubeconfig.write(toFile: "\(directory)/kubeconfig", atomically: true, encoding: .utf8)
        _ = try await cli.ok(["spaces", "create", "unpriced", "--kubeconfig", "\(directory)/kubeconfig"])
        _ = try await cli.ok(["envs", "create", "checkout/staging", "--space", "unpriced", "--namespace", "checkout-staging"])
        _ = try await cli.ok(["deployments", "create", "checkout/staging", "--name", "worker", "--image", "ghcr.io/acme/worker:1"])

        // No space has prices yet: no currency, nothing priced.
        let unpriced = try #require(try await cli.json(["projects", "cost", "checkout"]) as? [String: Any])
        #expect(Self.isNull(unpriced["currency"]))
        #expect((unpriced["byEnvironment"] as? [[String: Any]])?.allSatisfy { Self.isNull($0["hourly"]) } == true)
        #expect(try await cli.ok(["projects", "cost", "checkout"]).contains("no pricing"))

        _ = try await cli.ok(["spaces", "update", "fake"] + Self.prices)
        let cost = try #require(try await cli.json(["projects", "cost", "checkout"]) as? [String: Any])
        #expect(cost["currency"] as? String == "USD")
        #expect(cost["hourly"] as? Double == 0.075)
        #expect(cost["monthly"] as? Double == 54.75)
        #expect(cost["deploymentsWithoutRequests"] as? Int == 1)
        #expect(cost["basis"] as? String == "catalog")
        let environments = try #require(cost["byEnvironment"] as? [[String: Any]])
        let prod = environments.first { $0["name"] as? String == "prod" }
        let staging = environments.first { $0["name"] as? String == "staging" }
        #expect(prod?["hourly"] as? Double == 0.075)
        #expect(prod?["monthly"] as? Double == 54.75)
        #expect(prod?["deploymentsWithoutRequests"] as? Int == 0)
        #expect(staging != nil && Self.isNull(staging?["hourly"]) && Self.isNull(staging?["monthly"]))
        #expect(staging?["deploymentsWithoutRequests"] as? Int == 1)

        let table = try await cli.ok(["projects", "cost", "checkout"])
        #expect(table.contains("not a bill"))
        try expectGolden("projects-cost.txt", table)
        #expect(try await cli.run(["projects", "cost", "no-such-project"]).status == 1)
    }

    @Test("envs cost: live pods' requests at the space's prices, per deployment; 409 without prices says how to set them; clone --deploy")
    func environmentCost() async throws {
        let (kube, server, cli) = try await Self.setup()
        defer { server.stop(); kube.stop() }

        // No prices on the space: 409 conflict (details.field pricing), exit 1, and the command that fixes it.
        let refused = try await cli.run(["envs", "cost", "checkout/prod"])
        #expect(refused.status == 1)
        #expect(refused.stdout.isEmpty)
        #expect(refused.stderr.contains("conflict") && refused.stderr.contains("HTTP 409"), "\(refused.stderr)")
        #expect(refused.stderr.contains("gantry spaces update fake --cpu-core-hour PRICE --memory-gib-hour PRICE"), "\(refused.stderr)")
        #expect(refused.stderr.contains("request id: "))

        _ = try await cli.ok(["spaces", "update", "fake"] + Self.prices)
        // Nothing deployed yet: the namespace is empty (or missing) and costs zero.
        let empty = try await cli.json(["envs", "cost", "checkout/prod"]) as? [String: Any]
        #expect(empty?["hourly"] as? Double == 0)

        let deployed = try await cli.run(["deploy", "checkout/prod/api", "--wait", "--timeout", "120", "--interval", "0.2"])
        #expect(deployed.status == 0, "\(deployed.output)")
        let cost = try await Self.cost(cli, "checkout/prod", pods: 3)
        #expect(cost["currency"] as? String == "USD")
        #expect(cost["hourly"] as? Double == 0.075)
        #expect(cost["monthly"] as? Double == 54.75)
        #expect(cost["cpuRequestedCores"] as? Double == 1.5)
        #expect(cost["memoryRequestedGiB"] as? Double == 3)
        #expect(cost["podsWithoutRequests"] as? Int == 0)
        #expect(cost["basis"] as? String == "requests")
        let rows = try #require(cost["byDeployment"] as? [[String: Any]])
        #expect(rows.count == 1)
        #expect(rows.first?["name"] as? String == "api")
        #expect(rows.first?["pods"] as? Int == 3)
        #expect(rows.first?["hourly"] as? Double == 0.075)

        let table = try await cli.ok(["envs", "cost", "checkout/prod"])
        #expect(table.contains("not a bill"))
        try expectGolden("envs-cost.txt", table)

        // A deployed preview: clone --deploy queues revision 1 of every copy; its cost follows its own pods.
        let copy = try await cli.json(["envs", "clone", "checkout/prod", "pr-7", "--namespace", "checkout-pr-7", "--ttl", "1d", "--deploy",
                                       "--replicas", "api=1"]) as? [String: Any]
        #expect(copy?["name"] as? String == "pr-7")
        let previewCost = try await Self.cost(cli, "checkout/pr-7", pods: 1)
        #expect(previewCost["hourly"] as? Double == 0.025)
        #expect(previewCost["monthly"] as? Double == 18.25)
    }

    @Test("a bad --ttl or --expiring-within is a usage error (exit 2) that says what a duration is; nothing is created")
    func badDurations() async throws {
        let (kube, server, cli) = try await GantryCLITests.deployingSetup()
        defer { server.stop(); kube.stop() }
        for (ttl, message) in [
            ("48", "not a duration (e.g. 48h, 2d, 90m)"), ("soon", "not a duration (e.g. 48h, 2d, 90m)"),
            ("0h", "not a duration (e.g. 48h, 2d, 90m)"), ("-3h", "not a duration (e.g. 48h, 2d, 90m)"),
            ("721h", "more than 720 hours (30 days)"), ("31d", "more than 720 hours (30 days)"), ("5w", "more than 720 hours (30 days)"),
        ] {
            // `--ttl=VALUE`, so that `-3h` reaches the command rather than reading as a flag.
            let clone = try await cli.run(["envs", "clone", "checkout/prod", "pr-1", "--namespace", "checkout-pr-1", "--ttl=\(ttl)"])
            #expect(clone.status == 2, "--ttl \(ttl): \(clone.output)")
            #expect(clone.stderr.contains("--ttl: '\(ttl)' is \(message)"), "--ttl \(ttl): \(clone.stderr)")
            let extend = try await cli.run(["envs", "extend", "checkout/prod", "--ttl=\(ttl)"])
            #expect(extend.status == 2, "extend --ttl \(ttl): \(extend.output)")
        }
        let listed = try await cli.run(["envs", "list", "--expiring-within", "1000h"])
        #expect(listed.status == 2)
        #expect(listed.stderr.contains("--expiring-within: '1000h' is more than 720 hours"), "\(listed.stderr)")
        #expect(try await cli.run(["envs", "clone", "checkout/prod", "pr-1", "--namespace", "checkout-pr-1", "--image", "api"]).status == 2)
        #expect(try await cli.run(["envs", "clone", "checkout/prod", "pr-1", "--namespace", "checkout-pr-1", "--replicas", "api=many"]).status == 2)
        #expect(try await cli.run(["envs", "clone", "checkout/prod", "pr-1"]).status == 2)

        #expect(try await Self.names(cli, []) == ["prod"])
        let prod = try await cli.json(["envs", "get", "checkout/prod"]) as? [String: Any]
        #expect(Self.isNull(prod?["expiresAt"]))
        #expect(prod?["version"] as? Int == 1)
    }
}
