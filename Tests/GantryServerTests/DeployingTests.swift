import Foundation
import GantryCore
import GantryServer
import GantryStorage
import KubeTestServer
import Testing

/// docs/api.md §7 against the fake Kubernetes API server: what is applied (read back from the cluster, not from
/// Gantry), revisions, supersede, rollback, prune, teardown, preflight, rollout tracking, drift and events.
/// Serialized: each test runs a deployer and a status sync that look several times a second; twenty-four of them
/// at once on two cores would mostly measure each other.
@Suite("Deploying", .serialized)
struct DeployingTests {
    typealias Fixtures = KubeFixtures

    /// A cluster with ingress classes and a ready ClusterIssuer, and an empty namespace list.
    static func cluster() -> FakeKubeAPIServer {
        var scenario = FakeKubeAPIServer.Scenario()
        scenario.namespaces = [Fixtures.namespace("default")]
        scenario.ingressClasses = [Fixtures.ingressClass("nginx", controller: "k8s.io/ingress-nginx", isDefault: true)]
        scenario.certManagerInstalled = true
        scenario.clusterIssuers = [Fixtures.issuer("letsencrypt", ready: true)]
        return FakeKubeAPIServer(scenario)
    }

    /// Status sync and the job runner look often, so a test waits on conditions, not on timers.
    static let fast = [Settings.keys.syncInterval: "0.5", Settings.keys.deployPollInterval: "0.2", Settings.keys.rolloutFailureAfter: "0"]

    /// Runs `test` with a fresh Gantry whose environment `shop` lives on the fake cluster.
    static func withDeployer(_ db: TestDatabase, settings: [String: String] = fast, clock: TestClock = TestClock(),
                             _ test: @Sendable (TestApp, FakeKubeAPIServer, String) async throws -> Void) async throws {
        let cluster = cluster()
        try await cluster.run { url in
            try await TestApp.run(db, settings: settings, clock: clock) { app in
                let (_, _, environment) = try await RuntimeTests.environment(app, url)
                try await test(app, cluster, environment)
            }
        }
    }

    static func createDeployment(_ app: TestApp, _ environment: String, _ fields: [String: Any] = [:]) async throws -> String {
        var body: [String: Any] = ["name": "web", "image": "ghcr.io/acme/web:1.0", "replicas": 2, "port": 8080]
        body.merge(fields) { $1 }
        let created = try await app.post("/api/environments/\(environment)/deployments", body)
        try #require(created.status == 201, "create: \(created.text)")
        return created.id
    }

    /// Polls the revision until its status is one of `statuses` (generous: the suite shares two cores).
    @discardableResult
    static func waitForRevision(_ app: TestApp, _ deployment: String, _ number: Int, in statuses: Set<String>,
                                within seconds: Double = 120) async throws -> Reply {
        let deadline = Date().addingTimeInterval(seconds)
        var last: Reply?
        while Date() < deadline {
            let reply = try await app.get("/api/deployments/\(deployment)/revisions/\(number)")
            if let status = reply["status"] as? String, statuses.contains(status) { return reply }
            last = reply
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("revision \(number) never reached \(statuses.sorted()); last answer: \(last?.text ?? "none")")
        throw CancellationError()
    }

    static func waitUntil(_ what: String, within seconds: Double = 120, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting until \(what)")
        throw CancellationError()
    }

    static func labels(_ object: FakeKubeAPIServer.Object?) -> [String: String] {
        ((object?["metadata"] as? [String: any Sendable])?["labels"] as? [String: any Sendable])?.compactMapValues { $0 as? String } ?? [:]
    }

    static func annotations(_ object: FakeKubeAPIServer.Object?) -> [String: String] {
        ((object?["metadata"] as? [String: any Sendable])?["annotations"] as? [String: any Sendable])?.compactMapValues { $0 as? String } ?? [:]
    }

    @Test("A deploy applies the namespace, Deployment, Service and Secret with Gantry's labels, and the revision succeeds", arguments: TestDatabase.all)
    func deployAppliesEverything(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, cluster, environment in
            let deployment = try await Self.createDeployment(app, environment, [
                "env": [["name": "MODE", "value": "live"]], "secretEnv": ["API_KEY": "planted-secret-7f3a"],
                "resources": ["cpuRequest": "250m", "memoryRequest": "256Mi"], "healthCheck": ["path": "/healthz"],
            ])
            let before = try await app.get("/api/deployments/\(deployment)")
            #expect(before["pendingChanges"] as? Bool == true)
            #expect(before["currentRevision"] is NSNull)
            let deployed = try await app.post("/api/deployments/\(deployment)/deploy")
            #expect(deployed.status == 202, "\(deployed.text)")
            #expect(deployed["number"] as? Int == 1)
            #expect(deployed["status"] as? String == "queued")
            #expect(deployed["secretEnvNames"] as? [String] == ["API_KEY"])
            let done = try await Self.waitForRevision(app, deployment, 1, in: ["succeeded", "failed"])
            #expect(done["status"] as? String == "succeeded", "\(done.text)")
            #expect(done["appliedAt"] as? String != nil)

            let namespace = try #require(cluster.object("namespaces", namespace: nil, name: "shop"))
            #expect(Self.labels(namespace)["gantry.dev/environment-id"] == environment)
            #expect(Self.labels(namespace)["gantry.dev/managed"] == "true")
            let live = try #require(cluster.object("deployments", namespace: "shop", name: "web"))
            let labels = Self.labels(live)
            #expect(labels["app.kubernetes.io/name"] == "web")
            #expect(labels["app.kubernetes.io/managed-by"] == "gantry")
            #expect(labels["gantry.dev/deployment-id"] == deployment)
            #expect(labels["gantry.dev/environment-id"] == environment)
            #expect(Self.annotations(live)["gantry.dev/revision"] == "1")
            let spec = try #require(live["spec"] as? [String: any Sendable])
            #expect(spec["replicas"] as? Int == 2)
            let template = try #require((spec["template"] as? [String: any Sendable])?["spec"] as? [String: any Sendable])
            let container = try #require((template["containers"] as? [any Sendable])?.first as? [String: any Sendable])
            #expect(container["image"] as? String == "ghcr.io/acme/web:1.0")
            let env = (container["env"] as? [any Sendable])?.compactMap { $0 as? [String: any Sendable] } ?? []
            let byName = Dictionary(env.map { ($0["name"] as? String ?? "", $0) }) { first, _ in first }
            #expect(byName["MODE"]?["value"] as? String == "live", "\(env)")
            let secretRef = ((byName["API_KEY"]?["valueFrom"] as? [String: any Sendable])?["secretKeyRef"] as? [String: any Sendable])
            #expect(secretRef?["name"] as? String == "web-env")
            #expect(secretRef?["key"] as? String == "API_KEY")
            #expect(((container["readinessProbe"] as? [String: any Sendable])?["httpGet"] as? [String: any Sendable])?["port"] as? Int == 8080)
            let service = try #require(cluster.object("services", namespace: "shop", name: "web"))
            #expect(Self.labels(service)["gantry.dev/deployment-id"] == deployment)
            let secret = try #require(cluster.object("secrets", namespace: "shop", name: "web-env"))
            let data = try #require(secret["data"] as? [String: any Sendable])
            #expect(data["API_KEY"] as? String == Data("planted-secret-7f3a".utf8).base64EncodedString())

            let after = try await app.get("/api/deployments/\(deployment)")
            #expect(after["currentRevision"] as? Int == 1)
            #expect(after["pendingChanges"] as? Bool == false)
            #expect(after["version"] as? Int == 1, "a plain deploy does not move version")
            try await Self.waitUntil("lastDeployedAt is set") {
                try await app.get("/api/deployments/\(deployment)")["lastDeployedAt"] as? String != nil
            }
        }
    }

    @Test("Secret values never appear in an answer, the audit log or the timeline", arguments: TestDatabase.all)
    func secretsNeverLeak(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, _, environment in
            let planted = "planted-secret-9c1e"
            let deployment = try await Self.createDeployment(app, environment, ["secretEnv": ["DB_PASSWORD": planted]])
            var answers = [try await app.get("/api/deployments/\(deployment)")]
            answers.append(try await app.patch("/api/deployments/\(deployment)", ["secretEnv": ["DB_PASSWORD": planted + "-2"]]))
            answers.append(try await app.post("/api/deployments/\(deployment)/deploy"))
            try await Self.waitForRevision(app, deployment, 1, in: ["succeeded", "failed"])
            answers += [
                try await app.get("/api/deployments/\(deployment)/revisions"), try await app.get("/api/deployments/\(deployment)/revisions/1"),
                try await app.get("/api/deployments/\(deployment)/events"), try await app.get("/api/audit-logs"),
                try await app.get("/api/audit-logs/export"), try await app.get("/api/environments/\(environment)/deployments"),
            ]
            for answer in answers {
                #expect(answer.status < 300, "\(answer.text)")
                #expect(!answer.text.contains(planted), "a secret value leaked: \(answer.text.prefix(300))")
            }
            #expect(answers[0]["secretEnvNames"] as? [String] == ["DB_PASSWORD"])
        }
    }

    @Test("Preflight refuses an unknown ingress class or issuer with 422 and stores nothing", arguments: TestDatabase.all)
    func preflightRefuses(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, _, environment in
            let deployment = try await Self.createDeployment(app, environment, [
                "ingress": ["host": "shop.example.com", "className": "contour", "tlsIssuer": "nobody"],
            ])
            let refused = try await app.post("/api/deployments/\(deployment)/deploy")
            #expect(refused.status == 422, "\(refused.text)")
            #expect(refused.errorCode == "preflight_failed")
            let checks = (refused.details["checks"] as? [[String: Any]])?.compactMap { $0["check"] as? String } ?? []
            #expect(checks == ["ingress.className", "ingress.tlsIssuer"])
            #expect(try await app.get("/api/deployments/\(deployment)/revisions").items.isEmpty)
            let withImage = try await app.post("/api/deployments/\(deployment)/deploy", ["image": "ghcr.io/acme/web:2.0"])
            #expect(withImage.status == 422)
            #expect(try await app.get("/api/deployments/\(deployment)")["image"] as? String == "ghcr.io/acme/web:1.0", "a refused deploy changes nothing")
        }
    }

    @Test("An Ingress with TLS is applied, and pruned when a later revision drops it", arguments: TestDatabase.all)
    func ingressAppliedThenPruned(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, cluster, environment in
            let deployment = try await Self.createDeployment(app, environment, [
                "ingress": ["host": "shop.example.com", "className": "nginx", "tlsIssuer": "letsencrypt"],
            ])
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await Self.waitForRevision(app, deployment, 1, in: ["applied", "succeeded"])
            let ingress = try #require(cluster.object("ingresses", namespace: "shop", name: "web"))
            #expect(Self.annotations(ingress)["cert-manager.io/cluster-issuer"] == "letsencrypt")
            let spec = try #require(ingress["spec"] as? [String: any Sendable])
            #expect(spec["ingressClassName"] as? String == "nginx")
            let tls = (spec["tls"] as? [any Sendable])?.first as? [String: any Sendable]
            #expect(tls?["secretName"] as? String == "web-tls")

            #expect(try await app.patch("/api/deployments/\(deployment)", ["ingress": NSNull()]).status == 200)
            #expect(try await app.get("/api/deployments/\(deployment)")["pendingChanges"] as? Bool == true)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await Self.waitForRevision(app, deployment, 2, in: ["applied", "succeeded"])
            #expect(cluster.object("ingresses", namespace: "shop", name: "web") == nil, "the Ingress of revision 1 was pruned")
            #expect(cluster.object("services", namespace: "shop", name: "web") != nil)
        }
    }

    @Test("A newer revision supersedes one whose rollout has not finished, and rollback restores an earlier spec", arguments: TestDatabase.all)
    func supersedeAndRollback(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, cluster, environment in
            cluster.setRolloutMode(.manual)
            let deployment = try await Self.createDeployment(app, environment)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await Self.waitForRevision(app, deployment, 1, in: ["applied"])
            let second = try await app.post("/api/deployments/\(deployment)/deploy", ["image": "ghcr.io/acme/web:2.0"])
            #expect(second.status == 202)
            #expect(second["image"] as? String == "ghcr.io/acme/web:2.0")
            try await Self.waitForRevision(app, deployment, 2, in: ["applied"])
            let first = try await Self.waitForRevision(app, deployment, 1, in: ["superseded"])
            #expect(first["finishedAt"] as? String != nil)
            #expect(try await app.get("/api/deployments/\(deployment)")["version"] as? Int == 2, "a deploy with an image moves version")
            cluster.setRolloutMode(.immediate)
            cluster.completeRollouts()
            try await Self.waitForRevision(app, deployment, 2, in: ["succeeded"])

            let rollback = try await app.post("/api/deployments/\(deployment)/rollback", ["revision": 1])
            #expect(rollback.status == 202, "\(rollback.text)")
            #expect(rollback["rollbackOf"] as? Int == 1)
            #expect(rollback["number"] as? Int == 3)
            #expect(rollback["image"] as? String == "ghcr.io/acme/web:1.0")
            let row = try await app.get("/api/deployments/\(deployment)")
            #expect(row["image"] as? String == "ghcr.io/acme/web:1.0")
            #expect(row["version"] as? Int == 3)
            try await Self.waitForRevision(app, deployment, 3, in: ["succeeded"])
            #expect(try await app.post("/api/deployments/\(deployment)/rollback", ["revision": 9]).status == 404)
            let audit = try await app.get("/api/audit-logs?deploymentId=\(deployment)")
            let actions = audit.items.compactMap { $0["action"] as? String }
            #expect(actions.contains("deployment.rolled_back"))
            #expect(actions.filter { $0 == "deployment.deployed" }.count == 2)
            #expect(actions.contains("revision.succeeded"))
            let rolledBack = audit.items.first { $0["action"] as? String == "deployment.rolled_back" }
            let changes = rolledBack?["changes"] as? [String: Any]
            #expect((changes?["revision"] as? [String: Any])?["from"] as? Int == 2)
            #expect((changes?["rollbackOf"] as? [String: Any])?["to"] as? Int == 1)
        }
    }

    @Test("A pod stuck in ImagePullBackOff fails the revision with the reason and the cluster's message", arguments: TestDatabase.all)
    func imagePullFailure(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, _, environment in
            let deployment = try await Self.createDeployment(app, environment, ["image": "ghcr.io/acme/does-not-exist:1.0"])
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            let failed = try await Self.waitForRevision(app, deployment, 1, in: ["failed", "succeeded"])
            #expect(failed["status"] as? String == "failed")
            let message = failed["message"] as? String ?? ""
            #expect(message.hasPrefix("ImagePullBackOff: "), "\(message)")
            #expect(message.contains("ghcr.io/acme/does-not-exist:1.0"))
            #expect(try await app.get("/api/deployments/\(deployment)")["currentRevision"] as? Int == 1)
        }
    }

    @Test("A broken image over a running revision fails: the old ready pods do not make the new rollout a success", arguments: TestDatabase.all)
    func brokenImageOverRunningRevision(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, _, environment in
            let deployment = try await Self.createDeployment(app, environment, ["env": [["name": "B", "value": "2"], ["name": "A", "value": "1"]]])
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await Self.waitForRevision(app, deployment, 1, in: ["succeeded"])
            #expect(try await app.get("/api/deployments/\(deployment)")["drift"] is NSNull, "no drift right after a deploy")
            #expect(try await app.post("/api/deployments/\(deployment)/deploy", ["image": "ghcr.io/acme/does-not-exist:2"]).status == 202)
            let second = try await Self.waitForRevision(app, deployment, 2, in: ["succeeded", "failed"])
            #expect(second["status"] as? String == "failed", "\(second.text)")
            #expect((second["message"] as? String ?? "").hasPrefix("ImagePullBackOff"))
        }
    }

    @Test("Editing the live Deployment sets drift; deploying again clears it", arguments: TestDatabase.all)
    func driftDetectedAndCleared(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, cluster, environment in
            let deployment = try await Self.createDeployment(app, environment)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await Self.waitForRevision(app, deployment, 1, in: ["succeeded"])
            cluster.edit("deployments", namespace: "shop", name: "web") { object in
                var spec = object["spec"] as? [String: any Sendable] ?? [:]
                spec["replicas"] = 5
                object["spec"] = spec
            }
            try await Self.waitUntil("drift is reported") {
                let drift = try await app.get("/api/deployments/\(deployment)")["drift"] as? [String: Any]
                return drift?["fields"] as? [String] == ["replicas"]
            }
            let audit = try await app.get("/api/audit-logs?action=deployment.drift_detected")
            #expect(audit.items.count == 1)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await Self.waitForRevision(app, deployment, 2, in: ["applied", "succeeded"])
            #expect(try await app.get("/api/deployments/\(deployment)")["drift"] is NSNull)
        }
    }

    @Test("Deleting a deployment tears its objects down and audits deployment.torn_down", arguments: TestDatabase.all)
    func teardown(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, cluster, environment in
            let deployment = try await Self.createDeployment(app, environment, ["secretEnv": ["TOKEN": "t"]])
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await Self.waitForRevision(app, deployment, 1, in: ["succeeded"])
            #expect(cluster.object("deployments", namespace: "shop", name: "web") != nil)
            #expect(try await app.delete("/api/deployments/\(deployment)").status == 204)
            try await Self.waitUntil("the objects are gone") {
                cluster.object("deployments", namespace: "shop", name: "web") == nil
                    && cluster.object("services", namespace: "shop", name: "web") == nil
                    && cluster.object("secrets", namespace: "shop", name: "web-env") == nil
            }
            try await Self.waitUntil("the teardown is audited") {
                let audit = try await app.get("/api/audit-logs?action=deployment.torn_down")
                return audit.items.first?["resourceId"] as? String == deployment
                    && (audit.items.first?["actor"] as? [String: Any])?["type"] as? String == "system"
            }
        }
    }

    @Test("A namespace that another environment owns fails the revision", arguments: TestDatabase.all)
    func foreignNamespaceRefused(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, cluster, environment in
            cluster.update { $0.namespaces.append(Fixtures.namespace("shop", labels: ["gantry.dev/environment-id": "env_someoneelse"])) }
            let deployment = try await Self.createDeployment(app, environment)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            let failed = try await Self.waitForRevision(app, deployment, 1, in: ["failed", "succeeded"])
            #expect(failed["status"] as? String == "failed")
            #expect((failed["message"] as? String ?? "").contains("belongs to another Gantry environment"))
            #expect(cluster.object("deployments", namespace: "shop", name: "web") == nil)
        }
    }

    @Test("Environment deploy makes one revision per deployment with pending changes", arguments: TestDatabase.all)
    func environmentDeploy(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, _, environment in
            let web = try await Self.createDeployment(app, environment)
            let api = try await Self.createDeployment(app, environment, ["name": "api", "port": 9090])
            #expect(try await app.post("/api/environments/\(environment)/connections",
                                       ["fromDeploymentId": web, "toDeploymentId": api, "injectedVar": "API_URL"]).status == 201)
            let all = try await app.post("/api/environments/\(environment)/deploy")
            #expect(all.status == 202, "\(all.text)")
            #expect(all.items.count == 2)
            let webRevision = all.items.first { $0["deploymentId"] as? String == web }
            let injected = (webRevision?["injectedEnv"] as? [[String: Any]])?.first
            #expect(injected?["name"] as? String == "API_URL")
            #expect(injected?["value"] as? String == "http://api.shop.svc.cluster.local:9090")
            try await Self.waitForRevision(app, web, 1, in: ["succeeded"])
            try await Self.waitForRevision(app, api, 1, in: ["succeeded"])
            #expect(try await app.post("/api/environments/\(environment)/deploy").items.isEmpty, "nothing is pending any more")
        }
    }

    @Test("The timeline merges Gantry's events with the cluster's", arguments: TestDatabase.all)
    func events(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, _, environment in
            let deployment = try await Self.createDeployment(app, environment)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await Self.waitForRevision(app, deployment, 1, in: ["succeeded"])
            let events = try await app.get("/api/deployments/\(deployment)/events")
            #expect(events.status == 200, "\(events.text)")
            #expect(events.header("Warning") == nil)
            let reasons = Set(events.items.compactMap { $0["reason"] as? String })
            #expect(reasons.isSuperset(of: ["RevisionQueued", "RevisionApplied", "RevisionSucceeded", "ScalingReplicaSet"]), "\(reasons)")
            let sources = Set(events.items.compactMap { $0["source"] as? String })
            #expect(sources == ["gantry", "kubernetes"])
            let times = events.items.compactMap { $0["time"] as? String }
            #expect(times == times.sorted(by: >), "newest first")
        }
    }

    @Test("A viewer can read revisions but not deploy", arguments: TestDatabase.all)
    func viewerCannotDeploy(_ db: TestDatabase) async throws {
        try await Self.withDeployer(db) { app, _, environment in
            let deployment = try await Self.createDeployment(app, environment)
            let (_, token) = try await app.createMember(role: "role_viewer", scope: "org")
            let viewer = app.acting(as: token)
            let refused = try await viewer.post("/api/deployments/\(deployment)/deploy")
            #expect(refused.status == 403, "\(refused.text)")
            #expect(try await viewer.get("/api/deployments/\(deployment)/revisions").status == 200)
            let (_, developerToken) = try await app.createMember(role: "role_developer", scope: "org")
            #expect(try await app.acting(as: developerToken).post("/api/deployments/\(deployment)/deploy").status == 202)
        }
    }
}

/// The job queue itself, with the clock injected: leases, order per deployment, and replicas racing for one job.
@Suite("Deploy jobs", .serialized)
struct DeployJobTests {
    /// The queue of a database where a config-role Gantry (no runner takes the jobs) deployed one deployment `deploys` times.
    static func withQueue(_ db: TestDatabase, deploys: Int, _ test: @Sendable (DeployQueue) async throws -> Void) async throws {
        let url = try await TestApp.run(db, settings: [Settings.keys.role: "config"]) { app in
            let tree = try await app.createTree()
            for _ in 0..<deploys {
                let reply = try await app.post("/api/deployments/\(tree.deployment)/deploy")
                try #require(reply.status == 202, "\(reply.text)")
            }
            return app.databaseURL
        }
        try await withMigratedDatabase(url: url) { database in try await test(DeployQueue(database: database, ids: IDGenerator())) }
    }

    @Test("A job held by a dead process is taken over once its 60 s lease runs out", arguments: TestDatabase.all)
    func leaseTakenOver(_ db: TestDatabase) async throws {
        try await Self.withQueue(db, deploys: 1) { queue in
            let start = Date()
            let held = try #require(try await queue.claim(owner: "dead", now: start, leaseFor: 60))
            #expect(try await queue.claim(owner: "alive", now: start.addingTimeInterval(59), leaseFor: 60) == nil)
            let taken = try #require(try await queue.claim(owner: "alive", now: start.addingTimeInterval(61), leaseFor: 60))
            #expect(taken.id == held.id)
            #expect(taken.attempts == 2)
            #expect(try await queue.renew(held, owner: "dead", until: start.addingTimeInterval(200)) == false, "the dead owner lost its lease")
        }
    }

    @Test("Jobs of one deployment run one at a time, in order", arguments: TestDatabase.all)
    func oneAtATimeInOrder(_ db: TestDatabase) async throws {
        try await Self.withQueue(db, deploys: 2) { queue in
            let now = Date()
            let first = try #require(try await queue.claim(owner: "a", now: now, leaseFor: 60))
            #expect(try await queue.claim(owner: "b", now: now, leaseFor: 60) == nil, "the second job waits for the first")
            let target = try await queue.target(of: first)
            #expect(target.revision?.number == 1)
            #expect(target.revision?.status == .superseded, "revision 2 superseded the queued revision 1")
            #expect(try await queue.markApplying(first) == false, "a superseded revision is never applied")
            try await queue.finishSkipped(first)
            let second = try #require(try await queue.claim(owner: "b", now: now, leaseFor: 60))
            #expect(try await queue.target(of: second).revision?.number == 2)
        }
    }

    @Test("Replicas racing for one job: exactly one gets it", arguments: TestDatabase.all)
    func racingReplicas(_ db: TestDatabase) async throws {
        try await Self.withQueue(db, deploys: 1) { queue in
            let now = Date()
            let claims = try await withThrowingTaskGroup(of: DeployJob?.self) { group in
                for replica in 0..<8 { group.addTask { try await queue.claim(owner: "replica-\(replica)", now: now, leaseFor: 60) } }
                var claims: [DeployJob] = []
                for try await claim in group { if let claim { claims.append(claim) } }
                return claims
            }
            #expect(claims.count == 1)
        }
    }

    @Test("Two deployer replicas on one PostgreSQL database apply each revision once", arguments: TestDatabase.all.filter { $0 != .sqlite })
    func twoReplicas(_ db: TestDatabase) async throws {
        let cluster = DeployingTests.cluster()
        try await cluster.run { url in
            let databaseURL = try await db.makeURL()
            try await TestApp.run(url: databaseURL, settings: DeployingTests.fast) { app in
                try await TestApp.run(url: databaseURL, settings: DeployingTests.fast) { _ in
                    let (_, _, environment) = try await RuntimeTests.environment(app, url)
                    var deployments: [String] = []
                    for index in 0..<12 {
                        deployments.append(try await DeployingTests.createDeployment(app, environment, ["name": "svc-\(index)"]))
                    }
                    #expect(try await app.post("/api/environments/\(environment)/deploy").items.count == 12)
                    for deployment in deployments {
                        try await DeployingTests.waitForRevision(app, deployment, 1, in: ["succeeded"])
                    }
                    for index in 0..<12 {
                        let path = "/apis/apps/v1/namespaces/shop/deployments/svc-\(index)"
                        #expect(cluster.requests.filter { $0.method == "PATCH" && $0.path == path }.count == 1, "\(path) applied once")
                    }
                }
            }
        }
    }

    @Test("An unreachable cluster leaves the revision queued for a retry, not failed", arguments: TestDatabase.all)
    func unreachableIsRetried(_ db: TestDatabase) async throws {
        try await TestApp.run(db, settings: DeployingTests.fast) { app in
            let tree = try await app.createTree()   // its space points at a port nothing listens on
            #expect(try await app.post("/api/deployments/\(tree.deployment)/deploy").status == 202)
            try await DeployingTests.waitUntil("the timeline says the deployer is retrying") {
                try await app.get("/api/deployments/\(tree.deployment)/events").items.contains { $0["reason"] as? String == "Retrying" }
            }
            let events = try await app.get("/api/deployments/\(tree.deployment)/events")
            let warning = try #require(events.header("Warning"))
            #expect(warning.hasPrefix("199 - \"cluster events unavailable: "), "verbatim, not percent-encoded: \(warning)")
            let revision = try await app.get("/api/deployments/\(tree.deployment)/revisions/1")
            #expect(["queued", "applying"].contains(revision["status"] as? String ?? ""), "\(revision.text)")
        }
    }

    @Test("A cluster still unreachable after ten minutes fails the revision, saying so", arguments: TestDatabase.all)
    func unreachableGivesUp(_ db: TestDatabase) async throws {
        let clock = TestClock()
        try await TestApp.run(db, settings: DeployingTests.fast, clock: clock) { app in
            let tree = try await app.createTree()   // its space points at a port nothing listens on
            #expect(try await app.post("/api/deployments/\(tree.deployment)/deploy").status == 202)
            try await DeployingTests.waitUntil("the first attempt failed and a retry is due") {
                try await app.get("/api/deployments/\(tree.deployment)/events").items.contains { $0["reason"] as? String == "Retrying" }
            }
            clock.advance(by: 11 * 60)
            try await DeployingTests.waitForRevision(app, tree.deployment, 1, in: ["failed"])
            let revision = try await app.get("/api/deployments/\(tree.deployment)/revisions/1")
            let message = try #require(revision["message"] as? String)
            #expect(message.contains("retried for 10 minutes; giving up"), "\(message)")
            #expect(message.contains("space-"), "the message names the space it could not reach: \(message)")
        }
    }
}
