import Foundation
import GantryCore
import GantryServer
import KubeTestServer
import Testing

/// docs/api.md §8 "Cost from requests": space prices, the catalog estimate of a project, and the live estimate of an
/// environment from its pods' effective requests.
@Suite("Cost")
struct CostTests {
    typealias Fixtures = KubeFixtures

    static var prices: [String: Any] { ["cpuCoreHour": 0.04, "memoryGiBHour": 0.005, "currency": "USD"] }

    @Test("Space prices are set, shown, validated and cleared", arguments: TestDatabase.all)
    func spacePricing(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let space = try await app.createSpace()
            #expect(try await app.get("/api/spaces/\(space)")["pricing"] is NSNull)
            let priced = try await app.patch("/api/spaces/\(space)", ["pricing": Self.prices])
            #expect(priced.status == 200, "\(priced.text)")
            let pricing = priced["pricing"] as? [String: Any]
            #expect(pricing?["cpuCoreHour"] as? Double == 0.04)
            #expect(pricing?["memoryGiBHour"] as? Double == 0.005)
            #expect(pricing?["currency"] as? String == "USD")
            let negative = try await app.patch("/api/spaces/\(space)", ["pricing": ["cpuCoreHour": -1, "memoryGiBHour": 0.005, "currency": "USD"]])
            #expect(negative.status == 400)
            #expect(negative.fieldNames.contains("pricing.cpuCoreHour") || negative.fieldNames.contains("body.pricing.cpuCoreHour"), "\(negative.text)")
            // Kept to the 12 places an answer shows: finer digits are rounded, and a price too small for that is 0 (1e-308
            // once made the answer unencodable after the space was saved).
            let tiny = try await app.post("/api/spaces", ["name": "tiny", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig(),
                                                          "pricing": ["cpuCoreHour": 5.960464477539063e-08, "memoryGiBHour": 1.1125369292536007e-308,
                                                                      "currency": "USD"]])
            #expect(tiny.status == 201, "\(tiny.text)")
            #expect((tiny["pricing"] as? [String: Any])?["cpuCoreHour"] as? Double == 0.000000059605, "\(tiny.text)")
            #expect((tiny["pricing"] as? [String: Any])?["memoryGiBHour"] as? Double == 0, "\(tiny.text)")
            let currency = try await app.patch("/api/spaces/\(space)", ["pricing": ["cpuCoreHour": 1, "memoryGiBHour": 1, "currency": "usd"]])
            #expect(currency.status == 400, "\(currency.text)")
            let created = try await app.post("/api/spaces", ["name": "priced", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig(), "pricing": Self.prices])
            #expect((created["pricing"] as? [String: Any])?["currency"] as? String == "USD", "\(created.text)")
            let cleared = try await app.patch("/api/spaces/\(space)", ["pricing": NSNull()])
            #expect(cleared["pricing"] is NSNull, "\(cleared.text)")
            let audit = try await app.get("/api/audit-logs?action=space.updated").items
            #expect(audit.count == 2)
        }
    }

    @Test("The worked example: 3 replicas × (500m, 1Gi) at 0.04 and 0.005 cost 0.075 an hour and 54.75 a month", arguments: TestDatabase.all)
    func projectCostWorkedExample(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let priced = try await app.createSpace()
            #expect(try await app.patch("/api/spaces/\(priced)", ["pricing": Self.prices]).status == 200)
            let unpriced = try await app.createSpace()
            let prod = try await app.createEnvironment(project: project, space: priced, name: "prod", namespace: "prod")
            let lab = try await app.createEnvironment(project: project, space: unpriced, name: "lab", namespace: "lab")
            #expect(try await app.post("/api/environments/\(prod)/deployments", [
                "name": "web", "image": "ghcr.io/acme/web:1", "replicas": 3, "resources": ["cpuRequest": "500m", "memoryRequest": "1Gi"],
            ]).status == 201)
            _ = try await app.createDeployment(environment: prod, name: "batch")   // no requests: counted, not priced
            _ = try await app.createDeployment(environment: lab, name: "toy")

            let cost = try await app.get("/api/projects/\(project)/cost")
            #expect(cost.status == 200, "\(cost.text)")
            #expect(cost["currency"] as? String == "USD")
            #expect(cost["hourly"] as? Double == 0.075)
            #expect(cost["monthly"] as? Double == 54.75)
            #expect(cost["basis"] as? String == "catalog")
            #expect(cost["deploymentsWithoutRequests"] as? Int == 2)
            let lines = cost["byEnvironment"] as? [[String: Any]] ?? []
            #expect(lines.map { $0["name"] as? String } == ["prod", "lab"])
            #expect(lines.first?["hourly"] as? Double == 0.075)
            #expect(lines.first?["monthly"] as? Double == 54.75)
            #expect(lines.last?["hourly"] is NSNull, "an environment on an unpriced space is not priced")
            #expect(lines.last?["deploymentsWithoutRequests"] as? Int == 1)
        }
    }

    @Test("Spaces priced in different currencies cannot be added up: 409 naming currency", arguments: TestDatabase.all)
    func currenciesConflict(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            for (index, currency) in ["USD", "EUR"].enumerated() {
                let space = try await app.createSpace()
                #expect(try await app.patch("/api/spaces/\(space)", ["pricing": ["cpuCoreHour": 0.04, "memoryGiBHour": 0.005, "currency": currency]]).status == 200)
                _ = try await app.createEnvironment(project: project, space: space, name: "e\(index)", namespace: "e\(index)")
            }
            let cost = try await app.get("/api/projects/\(project)/cost")
            #expect(cost.status == 409)
            #expect(cost.details["field"] as? String == "currency", "\(cost.text)")
        }
    }

    static func labelled(_ pod: FakeKubeAPIServer.Object, deployment: String) -> FakeKubeAPIServer.Object {
        var pod = pod
        var metadata = pod["metadata"] as? [String: any Sendable] ?? [:]
        metadata["labels"] = ["gantry.dev/deployment-id": deployment] as [String: any Sendable]
        pod["metadata"] = metadata
        return pod
    }

    @Test("An environment's cost prices its live pods' effective requests, grouped by Gantry deployment", arguments: TestDatabase.all)
    func environmentCost(_ db: TestDatabase) async throws {
        var scenario = FakeKubeAPIServer.Scenario()
        scenario.namespaces = [Fixtures.namespace("shop")]
        let cluster = FakeKubeAPIServer(scenario)
        try await cluster.run { url in
            try await TestApp.run(db) { app in
                let (_, space, environment) = try await RuntimeTests.environment(app, url)
                let unpriced = try await app.get("/api/environments/\(environment)/cost")
                #expect(unpriced.status == 409)
                #expect(unpriced.details["field"] as? String == "pricing", "\(unpriced.text)")
                #expect(try await app.patch("/api/spaces/\(space)", ["pricing": Self.prices]).status == 200)

                let web = try await app.createDeployment(environment: environment, name: "web")
                let worker = try await app.createDeployment(environment: environment, name: "worker")
                cluster.update { scenario in
                    scenario.add("pods", in: "shop", [
                        // 500m and 1Gi (the init container is larger than the app).
                        Self.labelled(Fixtures.pod("web-1", namespace: "shop", containers: [.init(cpu: "100m", memory: "128Mi")],
                                                   initContainers: [.init(cpu: "500m", memory: "1Gi")]), deployment: web),
                        // A sidecar and overhead: 310m and 352Mi.
                        Self.labelled(Fixtures.pod("web-2", namespace: "shop", containers: [.init(cpu: "0.25", memory: "256Mi")],
                                                   initContainers: [.init(cpu: "50m", memory: "64Mi", sidecar: true), .init(cpu: "200m", memory: "256Mi")],
                                                   overhead: ["cpu": "10m", "memory": "32Mi"]), deployment: web),
                        // 1 core and 10^9 bytes.
                        Self.labelled(Fixtures.pod("worker-1", namespace: "shop", containers: [.init(cpu: "1e0", memory: "1G")]), deployment: worker),
                        // Not Gantry's, and requesting nothing.
                        Fixtures.pod("bare", namespace: "shop", containers: [.init(cpu: nil, memory: nil)]),
                        // Finished pods hold no requests.
                        Self.labelled(Fixtures.pod("done", namespace: "shop", phase: "Succeeded", containers: [.init(cpu: "4", memory: "4Gi")]), deployment: web),
                    ])
                }
                let cost = try await app.get("/api/environments/\(environment)/cost")
                #expect(cost.status == 200, "\(cost.text)")
                // web: 0.81 × 0.04 + 1.34375 × 0.005 = 0.03911875; worker: 0.04 + (10^9 / 2^30) × 0.005 = 0.0446566…;
                // total 0.0837753628…, × 730 = 61.1560149…
                #expect(cost["currency"] as? String == "USD")
                #expect(cost["hourly"] as? Double == 0.0838)
                #expect(cost["monthly"] as? Double == 61.156)
                #expect(cost["cpuRequestedCores"] as? Double == 1.81)
                #expect(cost["memoryRequestedGiB"] as? Double == 2.28)
                #expect(cost["podsWithoutRequests"] as? Int == 1)
                #expect(cost["basis"] as? String == "requests")
                let lines = cost["byDeployment"] as? [[String: Any]] ?? []
                #expect(lines.map { $0["name"] as? String } == ["web", "worker", nil], "\(lines)")
                #expect(lines.map { $0["pods"] as? Int } == [2, 1, 1])
                #expect(lines.map { $0["hourly"] as? Double } == [0.0391, 0.0447, 0])
                #expect(lines.first?["cpuRequestedCores"] as? Double == 0.81)

                cluster.update { $0.namespaces.removeAll() }
                let gone = try await app.get("/api/environments/\(environment)/cost")
                #expect(gone["hourly"] as? Double == 0, "a missing namespace costs nothing: \(gone.text)")
            }
        }
    }
}
