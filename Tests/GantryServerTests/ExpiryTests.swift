import Foundation
import GantryCore
import GantryServer
import GantryStorage
import KubeTestServer
import Testing

/// docs/api.md §8 expiry, against the fake cluster with the deployer's clock injected: what is torn down and what is
/// left alone, the one audit entry, a deployer killed mid-expiry, and two deployers on one PostgreSQL database.
@Suite("Expiry", .serialized)
struct ExpiryTests {
    typealias Fixtures = KubeFixtures

    /// A deployed clone of the environment `shop` that expires in an hour (the test moves the clock).
    static func deployedClone(_ app: TestApp, _ environment: String, namespace: String = "shop-pr-1") async throws -> (id: String, deployment: String) {
        _ = try await DeployingTests.createDeployment(app, environment, ["secretEnv": ["TOKEN": "planted-expiry-secret"]])
        let cloned = try await app.post("/api/environments/\(environment)/clone", ["name": "pr-1", "namespace": namespace, "ttlHours": 1, "deploy": true])
        try #require(cloned.status == 201, "\(cloned.text)")
        let copy = try #require(try await app.get("/api/environments/\(cloned.id)/deployments").items.first?["id"] as? String)
        try await DeployingTests.waitForRevision(app, copy, 1, in: ["succeeded"])
        return (cloned.id, copy)
    }

    @Test("An expired clone is torn down, its namespace deleted, its rows soft-deleted, with one environment.expired entry", arguments: TestDatabase.all)
    func expires(_ db: TestDatabase) async throws {
        let clock = TestClock()
        try await DeployingTests.withDeployer(db, clock: clock) { app, cluster, environment in
            let clone = try await Self.deployedClone(app, environment)
            let secret = try #require(cluster.object("secrets", namespace: "shop-pr-1", name: "web-env"))
            #expect((secret["data"] as? [String: any Sendable])?["TOKEN"] as? String == Data("planted-expiry-secret".utf8).base64EncodedString(),
                    "the copy's re-sealed secret opens in the deployer")
            #expect(DeployingTests.labels(cluster.object("namespaces", namespace: nil, name: "shop-pr-1"))["gantry.dev/environment-id"] == clone.id)
            #expect(try await app.get("/api/environments/\(clone.id)").status == 200, "not yet due")

            clock.advance(by: 3601)
            try await DeployingTests.waitUntil("the clone is gone") {
                try await app.get("/api/environments/\(clone.id)").status == 404
            }
            #expect(cluster.object("deployments", namespace: "shop-pr-1", name: "web") == nil)
            #expect(cluster.object("namespaces", namespace: nil, name: "shop-pr-1") == nil)
            #expect(try await app.get("/api/deployments/\(clone.deployment)").status == 404)
            let audit = try await app.get("/api/audit-logs?action=environment.expired").items
            #expect(audit.count == 1)
            #expect(audit.first?["resourceId"] as? String == clone.id)
            #expect((audit.first?["actor"] as? [String: Any])?["type"] as? String == "system")
            let changes = audit.first?["changes"] as? [String: Any]
            #expect((changes?["namespaceDeleted"] as? [String: Any])?["to"] as? Bool == true, "\(audit)")
            // The source is untouched.
            #expect(try await app.get("/api/environments/\(environment)").status == 200)
        }
    }

    @Test("A namespace Gantry did not create is left alone; only Gantry's objects in it are deleted", arguments: TestDatabase.all)
    func foreignNamespaceKept(_ db: TestDatabase) async throws {
        let clock = TestClock()
        try await DeployingTests.withDeployer(db, clock: clock) { app, cluster, environment in
            cluster.update { $0.namespaces.append(Fixtures.namespace("team-preview")) }
            let clone = try await Self.deployedClone(app, environment, namespace: "team-preview")
            #expect(cluster.object("deployments", namespace: "team-preview", name: "web") != nil)
            clock.advance(by: 3601)
            try await DeployingTests.waitUntil("the clone is gone") {
                try await app.get("/api/environments/\(clone.id)").status == 404
            }
            #expect(cluster.object("deployments", namespace: "team-preview", name: "web") == nil)
            #expect(cluster.object("namespaces", namespace: nil, name: "team-preview") != nil)
            let audit = try await app.get("/api/audit-logs?action=environment.expired").items
            #expect(((audit.first?["changes"] as? [String: Any])?["namespaceDeleted"] as? [String: Any])?["to"] as? Bool == false)
        }
    }

    /// Environments that expire in an hour, in a database another deployer then opens with its clock moved past that.
    /// Returns the database, the environments, and the admin token (a Gantry opened on the database later bootstraps nothing).
    static func expiredEnvironments(_ db: TestDatabase, count: Int, cluster url: URL) async throws -> (url: String, ids: [String], token: String) {
        try await TestApp.run(db) { app in
            let (project, space, _) = try await RuntimeTests.environment(app, url)
            var ids: [String] = []
            for index in 0..<count {
                let environment = try await app.createEnvironment(project: project, space: space, name: "preview-\(index)", namespace: "preview-\(index)")
                let path = "/api/projects/\(project)/environments/\(environment)"
                #expect(try await app.patch(path, ["expiresAt": Date().addingTimeInterval(3600).formatted(.iso8601)]).status == 200)
                ids.append(environment)
            }
            return (app.databaseURL, ids, app.token)
        }
    }

    @Test("An expiry leased by a deployer that died is taken over after the lease and finished once", arguments: TestDatabase.all)
    func killedMidExpiry(_ db: TestDatabase) async throws {
        let cluster = DeployingTests.cluster()
        try await cluster.run { url in
            let (databaseURL, ids, token) = try await Self.expiredEnvironments(db, count: 1, cluster: url)
            let leased = try await withMigratedDatabase(url: databaseURL) { database in
                try await SQLEnvironmentExpiryRepository(database: database, ids: IDGenerator())
                    .claimDue(owner: "dead", now: Date().addingTimeInterval(3601), leaseFor: 60)
            }
            #expect(leased?.environmentID == ids[0])
            let clock = TestClock()
            clock.advance(by: 3601)
            try await TestApp.run(url: databaseURL, settings: DeployingTests.fast, clock: clock) { deployer in
                let app = deployer.acting(as: token)
                try await Task.sleep(for: .seconds(1))
                #expect(try await app.get("/api/environments/\(ids[0])").status == 200, "the dead deployer's lease still holds")
                clock.advance(by: 61)
                try await DeployingTests.waitUntil("the expiry is taken over") {
                    try await app.get("/api/environments/\(ids[0])").status == 404
                }
                #expect(try await app.get("/api/audit-logs?action=environment.expired").items.count == 1)
            }
        }
    }

    @Test("Two deployers on one PostgreSQL database expire each environment exactly once", arguments: TestDatabase.all.filter { $0 != .sqlite })
    func twoDeployers(_ db: TestDatabase) async throws {
        let cluster = DeployingTests.cluster()
        try await cluster.run { url in
            let (databaseURL, ids, token) = try await Self.expiredEnvironments(db, count: 12, cluster: url)
            let clock = TestClock()
            clock.advance(by: 3601)
            try await TestApp.run(url: databaseURL, settings: DeployingTests.fast, clock: clock) { deployer in
                let first = deployer.acting(as: token)
                try await TestApp.run(url: databaseURL, settings: DeployingTests.fast, clock: clock) { _ in
                    try await DeployingTests.waitUntil("every environment expired") {
                        try await first.get("/api/environments?limit=200").items.allSatisfy { !ids.contains($0["id"] as? String ?? "") }
                    }
                    let audit = try await first.get("/api/audit-logs?action=environment.expired&limit=200").items
                    #expect(audit.count == ids.count)
                    #expect(Set(audit.compactMap { $0["resourceId"] as? String }) == Set(ids))
                }
            }
        }
    }

    @Test("Extending a clone before it is due keeps it", arguments: TestDatabase.all)
    func extended(_ db: TestDatabase) async throws {
        let clock = TestClock()
        try await DeployingTests.withDeployer(db, clock: clock) { app, _, environment in
            let cloned = try await app.post("/api/environments/\(environment)/clone", ["name": "keep", "namespace": "keep", "ttlHours": 1])
            let project = try #require(cloned["projectId"] as? String)
            let later = Date().addingTimeInterval(48 * 3600)
            #expect(try await app.patch("/api/projects/\(project)/environments/\(cloned.id)",
                                         ["expiresAt": later.formatted(.iso8601)]).status == 200)
            clock.advance(by: 2 * 3600)
            try await Task.sleep(for: .seconds(2))
            #expect(try await app.get("/api/environments/\(cloned.id)").status == 200)
            #expect(try await app.get("/api/audit-logs?action=environment.expired").items.isEmpty)
        }
    }
}
