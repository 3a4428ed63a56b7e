import Foundation
import GantryCore
import GantryServer
import KubeTestServer
import Testing

/// docs/api.md §6 against the fake Kubernetes API server over TLS: live stats, discovery, namespaces,
/// the failure codes, the config role's 404 and status sync.
@Suite("Live runtime")
struct RuntimeTests {
    typealias Fixtures = KubeFixtures

    /// The namespace `shop` with figures computed by hand below.
    static func shop() -> FakeKubeAPIServer.Scenario {
        var scenario = FakeKubeAPIServer.Scenario()
        scenario.namespaces = [Fixtures.namespace("default"), Fixtures.namespace("shop"), Fixtures.namespace("old", phase: "Terminating")]
        scenario.add("deployments", in: "shop", [
            Fixtures.deployment("web", namespace: "shop", replicas: 3),                                        // running
            Fixtures.deployment("stuck", namespace: "shop", replicas: 2, ready: 1, conditions: [              // failed: deadline
                Fixtures.condition("Available", "False", reason: "MinimumReplicasUnavailable"),
                Fixtures.condition("Progressing", "False", reason: "ProgressDeadlineExceeded"),
            ]),
            Fixtures.deployment("quota", namespace: "shop", replicas: 2, ready: 0, conditions: [              // failed: ReplicaFailure
                Fixtures.condition("ReplicaFailure", "True", reason: "FailedCreate"),
                Fixtures.condition("Progressing", "True", reason: "ReplicaSetUpdated"),
            ]),
            Fixtures.deployment("idle", namespace: "shop", replicas: 0),                                       // scaled to zero: neither
            Fixtures.deployment("rolling", namespace: "shop", replicas: 3, generation: 4, observedGeneration: 4, updated: 1, ready: 3,
                                conditions: [Fixtures.condition("Available", "True", reason: "MinimumReplicasAvailable"),
                                             Fixtures.condition("Progressing", "True", reason: "ReplicaSetUpdated")]),  // mid-rollout: neither
        ])
        scenario.add("pods", in: "shop", [
            // Init container larger than the app: max(100m, 500m) = 500m; max(128Mi, 1Gi) = 1Gi.
            Fixtures.pod("big-init", namespace: "shop", containers: [.init(cpu: "100m", memory: "128Mi")],
                         initContainers: [.init(cpu: "500m", memory: "1Gi")]),
            // A native sidecar before a regular init container, and overhead:
            // cpu: max(init 200m + sidecar 50m = 250m, app 0.25 + sidecar 50m = 300m) + 10m = 310m;
            // memory: max(256Mi + 64Mi, 256Mi + 64Mi) = 320Mi, + 32Mi = 352Mi.
            Fixtures.pod("sidecar", namespace: "shop", containers: [.init(cpu: "0.25", memory: "256Mi")],
                         initContainers: [.init(cpu: "50m", memory: "64Mi", sidecar: true), .init(cpu: "200m", memory: "256Mi")],
                         overhead: ["cpu": "10m", "memory": "32Mi"]),
            // Other spellings: 1e0 = 1 core; 1G = 10^9 bytes.
            Fixtures.pod("spelled", namespace: "shop", containers: [.init(cpu: "1e0", memory: "1G")]),
            Fixtures.pod("done", namespace: "shop", phase: "Succeeded", containers: [.init(cpu: "4", memory: "4Gi")]),
            Fixtures.pod("crashed", namespace: "shop", phase: "Failed", containers: [.init(cpu: "4", memory: "4Gi")]),
        ])
        scenario.ingressClasses = [
            Fixtures.ingressClass("nginx", controller: "k8s.io/ingress-nginx", isDefault: true),
            Fixtures.ingressClass("traefik", controller: "traefik.io/ingress-controller", isDefault: false),
            Fixtures.ingressClass("haproxy", controller: "haproxy.org/ingress-controller/haproxy"),
            Fixtures.ingressClass("cilium", controller: "cilium.io/ingress-controller"),
        ]
        scenario.certManagerInstalled = true
        scenario.clusterIssuers = [Fixtures.issuer("letsencrypt", ready: true)]
        scenario.add("issuers", in: "shop", [Fixtures.issuer("internal-ca", namespace: "shop", ready: false)])
        return scenario
    }

    /// A space on the fake cluster and an environment bound to `namespace` on it.
    static func environment(_ app: TestApp, _ url: URL, namespace: String = "shop", token: String = "test-cluster-token") async throws
        -> (project: String, space: String, environment: String) {
        let space = try await app.post("/api/spaces", ["name": "fake-\(UUID().uuidString.prefix(6))", "provider": "kubeconfig",
                                                        "kubeconfig": TestApp.kubeconfig(fakeCluster: url, token: token)])
        try #require(space.status == 201, "space: \(space.text)")
        let project = try await app.createProject()
        let environment = try await app.createEnvironment(project: project, space: space.id, name: "prod", namespace: namespace)
        return (project, space.id, environment)
    }

    @Test("Stats count deployments, running, failed, pods and the scheduler's requests of the namespace", arguments: TestDatabase.all)
    func stats(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(Self.shop())
        try await cluster.run { url in
            try await TestApp.run(db) { app in
                let (_, _, environment) = try await Self.environment(app, url)
                let reply = try await app.get("/api/environments/\(environment)/stats")
                #expect(reply.status == 200, "\(reply.text)")
                let data = reply.data
                #expect(data["deploymentCount"] as? Int == 5)
                #expect(data["runningCount"] as? Int == 1)
                #expect(data["failedCount"] as? Int == 2)
                #expect(data["podCount"] as? Int == 3)
                #expect(data["cpuRequestedCores"] as? Double == 1.81)       // 500m + 310m + 1000m
                #expect(data["memoryRequestedGB"] as? Double == 2.28)       // (1Gi + 352Mi + 10^9 bytes) / 2^30 = 2.275…
                #expect(data["namespaceExists"] as? Bool == true)
                #expect(data["observedAt"] is String)
                #expect(cluster.requests.contains { $0.path == "/api/v1/namespaces/shop/pods" && $0.query.contains("fieldSelector=status.phase%21%3DSucceeded") })
            }
        }
    }

    @Test("Stats are cached up to 15 s per environment; observedAt says when they were read", arguments: [TestDatabase.sqlite])
    func statsCache(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(Self.shop())
        try await cluster.run { url in
            try await TestApp.run(db) { app in
                let (_, _, environment) = try await Self.environment(app, url)
                let first = try await app.get("/api/environments/\(environment)/stats").data
                let reads = cluster.requests.count
                let second = try await app.get("/api/environments/\(environment)/stats").data
                #expect(cluster.requests.count == reads)
                #expect(first["observedAt"] as? String == second["observedAt"] as? String)
            }
        }
    }

    @Test("Requests that miss the cache together share one read of the cluster", arguments: [TestDatabase.sqlite])
    func statsReadOnceForConcurrentMisses(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(Self.shop())
        try await cluster.run { url in
            try await TestApp.run(db) { app in
                let (_, _, environment) = try await Self.environment(app, url)
                // Slow enough that all ten arrive while the first read is under way.
                cluster.inject(.slow("/api/v1/namespaces/shop", .seconds(2)))
                let answers = try await withThrowingTaskGroup(of: (observedAt: String?, deployments: Int?).self) { group in
                    for _ in 0..<10 {
                        group.addTask {
                            let data = try await app.get("/api/environments/\(environment)/stats").data
                            return (data["observedAt"] as? String, data["deploymentCount"] as? Int)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(answers.count == 10)
                #expect(Set(answers.map(\.observedAt)).count == 1)
                #expect(answers.allSatisfy { $0.deployments == 5 })
                #expect(cluster.requests.filter { $0.path == "/api/v1/namespaces/shop" }.count == 1)
            }
        }
    }

    @Test("A namespace that does not exist gives zeros and namespaceExists false", arguments: [TestDatabase.sqlite])
    func missingNamespace(_ db: TestDatabase) async throws {
        try await FakeKubeAPIServer(Self.shop()).run { url in
            try await TestApp.run(db) { app in
                let (_, _, environment) = try await Self.environment(app, url, namespace: "ghost")
                let data = try await app.get("/api/environments/\(environment)/stats").data
                #expect(data["namespaceExists"] as? Bool == false)
                for key in ["deploymentCount", "runningCount", "failedCount", "podCount"] { #expect(data[key] as? Int == 0) }
                #expect(data["cpuRequestedCores"] as? Double == 0)
            }
        }
    }

    @Test("Discovery lists ingress classes with vendor and default, and cert-manager with its issuers", arguments: [TestDatabase.sqlite])
    func discovery(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(Self.shop())
        try await cluster.run { url in
            try await TestApp.run(db) { app in
                let (_, _, environment) = try await Self.environment(app, url)
                let data = try await app.get("/api/environments/\(environment)/cluster-discovery").data
                let controllers = data["ingressControllers"] as? [[String: Any]] ?? []
                // The default class first, then by name.
                #expect(controllers.map { $0["className"] as? String } == ["nginx", "cilium", "haproxy", "traefik"])
                #expect(controllers.map { $0["vendor"] as? String } == ["nginx", "other", "haproxy", "traefik"])
                #expect(controllers.map { $0["isDefault"] as? Bool } == [true, false, false, false])
                let certManager = (data["certManagers"] as? [[String: Any]])?.first
                #expect(certManager?["name"] as? String == "cert-manager")
                #expect(certManager?["installed"] as? Bool == true)
                let issuers = certManager?["issuers"] as? [[String: Any]] ?? []
                #expect(issuers.map { "\($0["kind"]!):\($0["name"]!):\($0["ready"]!)" } == ["ClusterIssuer:letsencrypt:1", "Issuer:internal-ca:0"])

                // Never cached: cert-manager removed is gone on the next call.
                cluster.update { $0.certManagerInstalled = false }
                let after = try await app.get("/api/environments/\(environment)/cluster-discovery").data
                let removed = (after["certManagers"] as? [[String: Any]])?.first
                #expect(removed?["installed"] as? Bool == false)
                #expect((removed?["issuers"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test("Namespaces of a space show their binding; a new one is created labelled gantry.dev/managed", arguments: [TestDatabase.sqlite])
    func namespaces(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(Self.shop())
        try await cluster.run { url in
            try await TestApp.run(db) { app in
                let (_, space, environment) = try await Self.environment(app, url)
                let listed = try await app.get("/api/space-discovery/\(space)/namespaces").items
                #expect(listed.map { $0["name"] as? String } == ["default", "shop", "old"])
                #expect(listed.first { $0["name"] as? String == "shop" }?["environmentId"] as? String == environment)
                #expect(listed.first { $0["name"] as? String == "default" }?["environmentId"] is NSNull)
                #expect(listed.first { $0["name"] as? String == "old" }?["phase"] as? String == "Terminating")

                let created = try await app.post("/api/space-discovery/\(space)/namespaces", ["name": "checkout-prod"])
                #expect(created.status == 201)
                #expect(created["name"] as? String == "checkout-prod")
                #expect(try await app.post("/api/space-discovery/\(space)/namespaces", ["name": "Not_A_Label"]).fieldNames == ["name"])
                let again = try await app.post("/api/space-discovery/\(space)/namespaces", ["name": "checkout-prod"])
                #expect(again.status == 502)
                #expect(again.errorCode == "cluster_error")
            }
        }
    }

    @Test("Cluster failures: refused credentials, unreachable, cluster errors and the deadline, naming the space, never a credential",
          arguments: [TestDatabase.sqlite])
    func failures(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(Self.shop())
        try await cluster.run { url in
            // A budget a loaded CI machine cannot overrun by accident (once, mid-suite, 5 s was overrun).
            try await TestApp.run(db, settings: [Settings.keys.clusterTimeout: "10"]) { app in
                let refused = try await Self.environment(app, url, token: "stale-token-that-must-not-leak")
                let reply = try await app.get("/api/environments/\(refused.environment)/stats")
                #expect(reply.status == 502)
                #expect(reply.errorCode == "cluster_auth_failed")
                #expect(reply.text.contains("Space 'fake-"))
                #expect(!reply.text.contains("stale-token-that-must-not-leak"))

                let unreachable = try await app.post("/api/spaces", ["name": "gone", "provider": "kubeconfig",
                                                                      "kubeconfig": TestApp.kubeconfig(fakeCluster: URL(string: "https://127.0.0.1:9")!)])
                let project = try await app.createProject()
                let lost = try await app.createEnvironment(project: project, space: unreachable.id, name: "lost", namespace: "shop")
                let down = try await app.get("/api/environments/\(lost)/cluster-discovery")
                #expect(down.status == 502)
                #expect(down.errorCode == "cluster_unreachable")
                #expect(down.text.contains("'gone'"))

                let (_, _, environment) = try await Self.environment(app, url)
                cluster.inject(.init(path: "/apis", status: 500, retryAfter: 0))
                let broken = try await app.get("/api/environments/\(environment)/cluster-discovery")
                #expect(broken.status == 502)
                #expect(broken.errorCode == "cluster_error")
                cluster.clearFaults()

                cluster.inject(.slow("/api/v1/namespaces/shop", .seconds(20)))
                let slow = try await app.get("/api/environments/\(environment)/stats")
                #expect(slow.status == 504)
                #expect(slow.errorCode == "cluster_timeout")
            }
        }
    }

    @Test("The config role answers the live routes with 404 and never opens a credential", arguments: [TestDatabase.sqlite])
    func configRole(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(Self.shop())
        try await cluster.run { url in
            try await TestApp.run(db, settings: [Settings.keys.role: "config"]) { app in
                let (_, space, environment) = try await Self.environment(app, url)
                for path in ["/api/environments/\(environment)/stats", "/api/environments/\(environment)/cluster-discovery",
                             "/api/space-discovery/\(space)/namespaces"] {
                    let reply = try await app.get(path)
                    #expect(reply.status == 404, "\(path)")
                }
                #expect(cluster.requests.isEmpty)
            }
        }
    }

    @Test("Status sync keeps catalog statuses in step with the cluster and audits each change", arguments: TestDatabase.all)
    func statusSync(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(Self.shop())
        try await cluster.run { url in
            // Polling: a watch already open keeps streaming after credentials are revoked (SpaceWatchTests cover watching).
            try await TestApp.run(db, settings: [Settings.keys.syncInterval: "0.2", Settings.keys.watchClusters: "false"]) { app in
                let (project, _, environment) = try await Self.environment(app, url)
                var ids: [String: String] = [:]
                for name in ["web", "stuck", "idle", "rolling", "absent"] { ids[name] = try await app.createDeployment(environment: environment, name: name) }
                let expected = ["web": "running", "stuck": "failed", "idle": "stopped", "rolling": "deploying", "absent": "pending"]
                let statuses = try await Self.eventually { () async throws -> [String: String]? in
                    var seen: [String: String] = [:]
                    for (name, id) in ids { seen[name] = try await app.get("/api/deployments/\(id)")["status"] as? String }
                    return seen == expected ? seen : nil
                }
                #expect(statuses == expected)
                #expect(try await app.get("/api/deployments/\(ids["web"]!)")["lastDeployedAt"] is String)
                #expect(try await app.get("/api/deployments/\(ids["absent"]!)")["lastDeployedAt"] is NSNull)
                let card = try await app.get("/api/projects/stats").items.first { $0["projectId"] as? String == project }
                #expect((card?["statusBuckets"] as? [String: Any])?["running"] as? Int == 1)
                let audit = try await app.get("/api/audit-logs?action=deployment.status_changed&deploymentId=\(ids["web"]!)").items
                #expect(audit.count == 1)
                #expect((audit.first?["actor"] as? [String: Any])?["type"] as? String == "system")

                // The cluster starts refusing the credentials: the truth is unknown.
                cluster.inject(.init(path: "/", status: 401))
                let unknown = try await Self.eventually { () async throws -> Bool? in
                    try await app.get("/api/deployments/\(ids["web"]!)")["status"] as? String == "unknown" ? true : nil
                }
                #expect(unknown == true)
            }
        }
    }

    /// Polls `check` until it returns a value, for up to 30 s (a loaded machine runs passes late).
    static func eventually<T>(_ check: () async throws -> T?) async throws -> T? {
        for _ in 0..<300 {
            if let value = try await check() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}
