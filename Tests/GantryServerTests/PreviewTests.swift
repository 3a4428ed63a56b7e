import Foundation
import GantryCore
import GantryServer
import GantryStorage
import KubeTestServer
import Testing

/// docs/api.md §8 "Clone and expiry", the catalog half: what a clone copies and what it does not, its refusals, who may
/// clone, `expiresAt`, and `GET /environments`.
@Suite("Preview environments")
struct PreviewTests {
    /// An environment with two deployments joined by a connection, one with an ingress, a secret and a canvas position.
    static func source(_ app: TestApp) async throws -> (project: String, space: String, environment: String, web: String, api: String) {
        let project = try await app.createProject()
        let space = try await app.createSpace()
        let environment = try await app.createEnvironment(project: project, space: space, name: "staging", namespace: "staging")
        let web = try await app.post("/api/environments/\(environment)/deployments", [
            "name": "web", "image": "ghcr.io/acme/web:1.0", "replicas": 2, "port": 8080,
            "resources": ["cpuRequest": "500m", "memoryRequest": "1Gi"], "env": [["name": "MODE", "value": "staging"]],
            "secretEnv": ["API_KEY": "planted-clone-secret-51c"], "ingress": ["host": "shop.example.com", "className": "nginx"],
            "canvasPosition": ["x": 120, "y": 80],
        ])
        try #require(web.status == 201, "\(web.text)")
        let api = try await app.post("/api/environments/\(environment)/deployments", ["name": "api", "image": "ghcr.io/acme/api:1.0", "port": 9000])
        try #require(api.status == 201, "\(api.text)")
        let link = try await app.post("/api/environments/\(environment)/connections",
                                      ["fromDeploymentId": web.id, "toDeploymentId": api.id, "injectedVar": "API_URL"])
        try #require(link.status == 201, "\(link.text)")
        return (project, space, environment, web.id, api.id)
    }

    @Test("A clone copies the live deployments with their spec, secrets re-sealed, connections rewired and the ingress host prefixed", arguments: TestDatabase.all)
    func cloneCopies(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let source = try await Self.source(app)
            let before = Date()
            let cloned = try await app.post("/api/environments/\(source.environment)/clone", ["name": "pr-42", "namespace": "shop-pr-42", "ttlHours": 48])
            #expect(cloned.status == 201, "\(cloned.text)")
            #expect(cloned.header("Location") == "/api/projects/\(source.project)/environments/\(cloned.id)")
            #expect(cloned["clonedFromId"] as? String == source.environment)
            #expect(cloned["projectId"] as? String == source.project)
            #expect(cloned["spaceId"] as? String == source.space)
            let expiresAt = try #require((cloned["expiresAt"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expiresAt.timeIntervalSince(before) - 48 * 3600) < 120, "\(expiresAt)")

            let copies = try await app.get("/api/environments/\(cloned.id)/deployments").items
            #expect(copies.map { $0["name"] as? String } == ["web", "api"])
            let web = try #require(copies.first { $0["name"] as? String == "web" })
            let api = try #require(copies.first { $0["name"] as? String == "api" })
            #expect(web["id"] as? String != source.web)
            #expect(web["image"] as? String == "ghcr.io/acme/web:1.0")
            #expect(web["replicas"] as? Int == 2)
            #expect((web["resources"] as? [String: Any])?["cpuRequest"] as? String == "500m")
            #expect((web["ingress"] as? [String: Any])?["host"] as? String == "pr-42-shop.example.com")
            #expect((web["canvasPosition"] as? [String: Any])?["x"] as? Double == 120)
            #expect(web["secretEnvNames"] as? [String] == ["API_KEY"])
            #expect(web["status"] as? String == "pending")
            #expect(web["currentRevision"] is NSNull)
            let links = try await app.get("/api/environments/\(cloned.id)/connections").items
            #expect(links.count == 1)
            #expect(links.first?["fromDeploymentId"] as? String == web["id"] as? String)
            #expect(links.first?["toDeploymentId"] as? String == api["id"] as? String)
            #expect(links.first?["injectedVar"] as? String == "API_URL")

            // The source is untouched, and no answer or audit entry shows the secret value.
            #expect(try await app.get("/api/environments/\(source.environment)/deployments").items.count == 2)
            let audit = try await app.get("/api/audit-logs?action=environment.cloned")
            #expect(audit.items.count == 1)
            let changes = try #require(audit.items.first?["changes"] as? [String: Any])
            #expect((changes["clonedFromId"] as? [String: Any])?["to"] as? String == source.environment)
            #expect((changes["deployments"] as? [String: Any])?["to"] as? Int == 2)
            for reply in [cloned, audit, try await app.get("/api/deployments/\(web["id"] as? String ?? "")")] {
                #expect(!reply.text.contains("planted-clone-secret-51c"))
            }
        }
    }

    @Test("A clone copies only the chosen deployments, with image and replica overrides", arguments: TestDatabase.all)
    func cloneChosenWithOverrides(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let source = try await Self.source(app)
            let cloned = try await app.post("/api/environments/\(source.environment)/clone", [
                "name": "pr-7", "namespace": "pr-7", "deploymentIds": [source.web],
                "overrides": ["web": ["image": "ghcr.io/acme/web:pr-7", "replicas": 1]],
            ])
            #expect(cloned.status == 201, "\(cloned.text)")
            #expect(cloned["expiresAt"] is NSNull, "without ttlHours the clone does not expire")
            let copies = try await app.get("/api/environments/\(cloned.id)/deployments").items
            #expect(copies.count == 1)
            #expect(copies.first?["image"] as? String == "ghcr.io/acme/web:pr-7")
            #expect(copies.first?["replicas"] as? Int == 1)
            #expect(try await app.get("/api/environments/\(cloned.id)/connections").items.isEmpty, "its target was not copied")
        }
    }

    @Test("A clone refuses deployments not in the source, overrides naming no copy, bad TTLs and taken names or namespaces", arguments: TestDatabase.all)
    func cloneRefusals(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let source = try await Self.source(app)
            let other = try await app.createTree()
            let path = "/api/environments/\(source.environment)/clone"
            let foreign = try await app.post(path, ["name": "a", "namespace": "a", "deploymentIds": [other.deployment]])
            #expect(foreign.status == 400)
            #expect(foreign.errorField == "deploymentIds[0]", "\(foreign.text)")
            let unknown = try await app.post(path, ["name": "b", "namespace": "b", "overrides": ["worker": ["image": "x:1"]]])
            #expect(unknown.status == 400)
            #expect(unknown.errorField == "overrides.worker", "\(unknown.text)")
            let ttl = try await app.post(path, ["name": "c", "namespace": "c", "ttlHours": 721])
            #expect(ttl.status == 400)
            #expect(ttl.errorField == "ttlHours", "\(ttl.text)")
            let name = try await app.post(path, ["name": "STAGING", "namespace": "d"])
            #expect(name.status == 409)
            #expect(name.errorField == "name", "\(name.text)")
            let namespace = try await app.post(path, ["name": "e", "namespace": "staging"])
            #expect(namespace.status == 409)
            #expect(namespace.errorField == "namespace", "\(namespace.text)")
            #expect(try await app.get("/api/projects/\(source.project)/environments").items.count == 1, "nothing was stored")
        }
    }

    @Test("Cloning needs environments:write on the project, and deployments:deploy to deploy the copies", arguments: TestDatabase.all)
    func cloneAccess(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let source = try await Self.source(app)
            let path = "/api/environments/\(source.environment)/clone"
            let (_, viewer) = try await app.createMember(role: "role_viewer", scope: "org")
            #expect(try await app.acting(as: viewer).post(path, ["name": "v", "namespace": "v"]).status == 403)
            let (_, envDeveloper) = try await app.createMember(role: "role_developer", scope: "environment:\(source.environment)")
            let refused = try await app.acting(as: envDeveloper).post(path, ["name": "w", "namespace": "w"])
            #expect(refused.status == 403, "a grant on the source environment does not cover its project: \(refused.text)")
            let (_, stranger) = try await app.createMember(role: "role_developer", scope: "project:\(try await app.createProject())")
            #expect(try await app.acting(as: stranger).post(path, ["name": "x", "namespace": "x"]).status == 404)

            let writer = try await app.post("/api/roles", ["name": "env-writer", "policies": ["environments:read", "environments:write"]])
            let user = try await app.post("/api/users", ["email": "writer@example.com", "name": "Writer"])
            #expect(try await app.post("/api/assignments", ["userId": user.id, "roleId": writer.id, "scope": "project:\(source.project)"]).status == 201)
            let token = try await app.mintToken(for: user.id)
            let deploying = try await app.acting(as: token).post(path, ["name": "y", "namespace": "y", "deploy": true])
            #expect(deploying.status == 403, "\(deploying.text)")
            #expect(deploying.details["policy"] as? String == "deployments:deploy")
            #expect(try await app.acting(as: token).post(path, ["name": "z", "namespace": "z"]).status == 201)
        }
    }

    @Test("PATCH sets or clears expiresAt, audited as environment.updated", arguments: TestDatabase.all)
    func patchExpiry(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let path = "/api/projects/\(tree.project)/environments/\(tree.environment)"
            let set = try await app.patch(path, ["expiresAt": "2031-01-02T03:04:05Z"])
            #expect(set.status == 200, "\(set.text)")
            #expect(set["expiresAt"] as? String == "2031-01-02T03:04:05Z")
            let cleared = try await app.patch(path, ["expiresAt": NSNull()])
            #expect(cleared["expiresAt"] is NSNull, "\(cleared.text)")
            let bad = try await app.patch(path, ["expiresAt": "tomorrow"])
            #expect(bad.status == 400)
            #expect(bad.errorField == "expiresAt", "\(bad.text)")
            let audit = try await app.get("/api/audit-logs?action=environment.updated").items
            #expect(audit.count == 2)
        }
    }

    @Test("GET /environments lists what the caller sees across projects, with project, space and expiry filters", arguments: TestDatabase.all)
    func listAcrossProjects(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let first = try await app.createTree()
            let second = try await app.createTree()
            let soon = try await app.post("/api/environments/\(first.environment)/clone", ["name": "soon", "namespace": "soon", "ttlHours": 5])
            let later = try await app.post("/api/environments/\(first.environment)/clone", ["name": "later", "namespace": "later", "ttlHours": 100])
            let all = try await app.get("/api/environments")
            #expect(all.items.map { $0["id"] as? String } == [first.environment, second.environment, soon.id, later.id])
            #expect(try await app.get("/api/environments?projectId=\(second.project)").items.map { $0["id"] as? String } == [second.environment])
            #expect(try await app.get("/api/environments?spaceId=\(second.space)").items.map { $0["id"] as? String } == [second.environment])
            #expect(try await app.get("/api/environments?expiringWithinHours=24").items.map { $0["id"] as? String } == [soon.id])
            #expect(try await app.get("/api/environments?expiringWithinHours=720").items.count == 2)
            for bad in ["0", "721"] {
                let refused = try await app.get("/api/environments?expiringWithinHours=\(bad)")
                #expect(refused.status == 400)
                #expect(refused.errorField == "expiringWithinHours", "\(refused.text)")
            }
            let (_, scoped) = try await app.createMember(role: "role_viewer", scope: "project:\(second.project)")
            #expect(try await app.acting(as: scoped).get("/api/environments").items.map { $0["id"] as? String } == [second.environment])
        }
    }
}

extension Reply {
    /// The field a refusal names: the first of a `validation_failed`, or a conflict's.
    var errorField: String? { fieldNames.first ?? details["field"] as? String }
}
