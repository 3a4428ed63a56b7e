import Foundation
import Testing

/// docs/api.md §4, Deployments and service connections — on every database.
@Suite("Deployments and connections")
struct DeploymentTests {
    func connect(_ app: TestApp, environment: String, from: String, to: String, extra: [String: Any] = [:]) async throws -> Reply {
        var body: [String: Any] = ["fromDeploymentId": from, "toDeploymentId": to]
        body.merge(extra) { $1 }
        return try await app.post("/api/environments/\(environment)/connections", body)
    }

    // MARK: - Deployments

    @Test("A deployment name must be a DNS-1123 label", arguments: TestDatabase.all)
    func nameIsDNSLabel(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let environment = try await app.createEnvironment(project: project, space: try await app.createSpace())
            for name in ["API", "-api", "api-", "api_v2", "api.v2", String(repeating: "a", count: 64), "", "my api"] {
                let reply = try await app.post("/api/environments/\(environment)/deployments", ["name": name, "image": "nginx:1.27"])
                #expect(reply.status == 400, "\(name.debugDescription)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["name"], "\(name.debugDescription): \(reply.text)")
            }
            #expect(try await app.get("/api/environments/\(environment)/deployments").items.isEmpty)
            let longest = try await app.post("/api/environments/\(environment)/deployments",
                                             ["name": String(repeating: "a", count: 63), "image": "nginx:1.27"])
            #expect(longest.status == 201, "\(longest.text)")
        }
    }

    @Test("Deployment names are unique per environment; another environment may reuse one", arguments: TestDatabase.all)
    func nameUniquePerEnvironment(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let clash = try await app.post("/api/environments/\(tree.environment)/deployments", ["name": "api", "image": "nginx:1.27"])
            #expect(clash.status == 409)
            #expect(clash.errorCode == "conflict")
            #expect(clash.details["field"] as? String == "name")

            let other = try await app.createEnvironment(project: tree.project, space: tree.space, name: "staging")
            _ = try await app.createDeployment(environment: other, name: "api")

            // Deleting frees the name.
            #expect(try await app.delete("/api/deployments/\(tree.deployment)").status == 204)
            _ = try await app.createDeployment(environment: tree.environment, name: "api")
        }
    }

    @Test("A new deployment is pending with one replica and explicit nulls", arguments: TestDatabase.all)
    func createdShape(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let environment = try await app.createEnvironment(project: project, space: try await app.createSpace())
            let reply = try await app.post("/api/environments/\(environment)/deployments", ["name": "api", "image": "ghcr.io/acme/api:1.0"])
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.id.hasPrefix("dep_"))
            #expect(reply.header("Location") == "/api/deployments/\(reply.id)")
            #expect(reply.header("ETag") == "\"1\"")
            let data = reply.data
            #expect(data["projectId"] as? String == project)
            #expect(data["environmentId"] as? String == environment)
            #expect(data["name"] as? String == "api")
            #expect(data["image"] as? String == "ghcr.io/acme/api:1.0")
            #expect(data["status"] as? String == "pending")
            #expect(data["replicas"] as? Int == 1)
            #expect(data["version"] as? Int == 1)
            for key in ["port", "resources", "lastDeployedAt", "canvasPosition"] {
                #expect(data.keys.contains(key), "\(key) missing: \(reply.text)")
                #expect(data[key] is NSNull, "\(key): \(reply.text)")
            }
            let fetched = (try await app.get("/api/deployments/\(reply.id)")).data
            for key in ["port", "resources", "lastDeployedAt", "canvasPosition"] {
                #expect(fetched[key] is NSNull, "GET \(key)")
            }
            let listed = try await app.get("/api/environments/\(environment)/deployments")
            let first = ((try JSONSerialization.jsonObject(with: listed.body) as? [String: Any])?["data"] as? [[String: Any]])?.first ?? [:]
            for key in ["port", "resources", "lastDeployedAt", "canvasPosition"] {
                #expect(first[key] is NSNull, "list \(key)")
            }
        }
    }

    @Test("All optional fields are stored and returned", arguments: TestDatabase.all)
    func fullDeployment(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let environment = try await app.createEnvironment(project: project, space: try await app.createSpace())
            let reply = try await app.post("/api/environments/\(environment)/deployments", [
                "name": "api", "image": "nginx:1.27", "replicas": 3, "port": 8080,
                "resources": ["cpuRequest": "250m", "memoryRequest": "512Mi"], "canvasPosition": ["x": 10.5, "y": -20],
            ])
            #expect(reply.status == 201, "\(reply.text)")
            let fetched = try await app.get("/api/deployments/\(reply.id)")
            #expect(fetched["replicas"] as? Int == 3)
            #expect(fetched["port"] as? Int == 8080)
            #expect(fetched["resources"] as? [String: String] == ["cpuRequest": "250m", "memoryRequest": "512Mi"])
            let position = fetched["canvasPosition"] as? [String: Double]
            #expect(position?["x"] == 10.5)
            #expect(position?["y"] == -20)
        }
    }

    @Test("Resource quantities are validated and named", arguments: TestDatabase.all)
    func resourceQuantities(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let environment = try await app.createEnvironment(project: project, space: try await app.createSpace())
            for (index, (cpu, memory)) in [("250m", "512Mi"), ("1", "1Gi"), ("0.5", "128M"), ("2", "1e9")].enumerated() {
                let reply = try await app.post("/api/environments/\(environment)/deployments", [
                    "name": "ok\(index)", "image": "nginx:1.27", "resources": ["cpuRequest": cpu, "memoryRequest": memory],
                ])
                #expect(reply.status == 201, "\(cpu) \(memory): \(reply.text)")
            }
            let bad: [(String, String, [String])] = [
                ("abc", "512Mi", ["resources.cpuRequest"]),
                ("-1", "512Mi", ["resources.cpuRequest"]),
                ("1.2.3", "512Mi", ["resources.cpuRequest"]),
                ("250m", "abc", ["resources.memoryRequest"]),
                ("250m", "-1", ["resources.memoryRequest"]),
                ("250m", "1.2.3", ["resources.memoryRequest"]),
                ("250m", "512MB", ["resources.memoryRequest"]),
                ("", "", ["resources.cpuRequest", "resources.memoryRequest"]),
            ]
            for (cpu, memory, fields) in bad {
                let reply = try await app.post("/api/environments/\(environment)/deployments", [
                    "name": "bad", "image": "nginx:1.27", "resources": ["cpuRequest": cpu, "memoryRequest": memory],
                ])
                #expect(reply.status == 400, "\(cpu) \(memory)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == fields, "\(cpu) \(memory): \(reply.text)")
            }
            // PATCH validates the same way.
            let deployment = try await app.createDeployment(environment: environment, name: "patched")
            let patched = try await app.patch("/api/deployments/\(deployment)", ["resources": ["cpuRequest": "1.2.3", "memoryRequest": "1Gi"]])
            #expect(patched.status == 400)
            #expect(patched.fieldNames == ["resources.cpuRequest"])
            #expect((try await app.get("/api/deployments/\(deployment)")).data["resources"] is NSNull)
        }
    }

    @Test("PATCH with only canvasPosition saves it; null clears it", arguments: TestDatabase.all)
    func canvasPosition(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let path = "/api/deployments/\(tree.deployment)"
            let moved = try await app.patch(path, ["canvasPosition": ["x": 120, "y": 48.25]])
            #expect(moved.status == 200, "\(moved.text)")
            #expect(moved["version"] as? Int == 2)
            #expect(moved.header("ETag") == "\"2\"")
            let fetched = try await app.get(path)
            let position = fetched["canvasPosition"] as? [String: Double]
            #expect(position?["x"] == 120)
            #expect(position?["y"] == 48.25)
            #expect(fetched["image"] as? String == "ghcr.io/acme/api:1.0")
            #expect(fetched["replicas"] as? Int == 1)

            // Other patches leave it alone.
            let scaled = try await app.patch(path, ["replicas": 2])
            #expect(scaled["canvasPosition"] as? [String: Double] == ["x": 120, "y": 48.25])

            let cleared = try await app.patch(path, ["canvasPosition": NSNull()])
            #expect(cleared.status == 200, "\(cleared.text)")
            #expect(cleared.data["canvasPosition"] is NSNull)
            #expect((try await app.get(path)).data["canvasPosition"] is NSNull)
            #expect(try await app.get(path)["replicas"] as? Int == 2)
        }
    }

    @Test("PATCH with null for image or replicas is 400 naming it; null clears port and resources", arguments: TestDatabase.all)
    func patchNulls(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let environment = try await app.createEnvironment(project: project, space: try await app.createSpace())
            let created = try await app.post("/api/environments/\(environment)/deployments", [
                "name": "api", "image": "nginx:1.27", "port": 8080, "resources": ["cpuRequest": "250m", "memoryRequest": "512Mi"],
            ])
            try #require(created.status == 201)
            let path = "/api/deployments/\(created.id)"
            for field in ["image", "replicas"] {
                let reply = try await app.patch(path, [field: NSNull()])
                #expect(reply.status == 400, "\(field): \(reply.text)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == [field], "\(field): \(reply.text)")
            }
            #expect(try await app.get(path)["version"] as? Int == 1)
            let cleared = try await app.patch(path, ["port": NSNull(), "resources": NSNull()])
            #expect(cleared.status == 200, "\(cleared.text)")
            #expect(cleared.data["port"] is NSNull)
            #expect(cleared.data["resources"] is NSNull)
            #expect((try await app.get(path)).data["resources"] is NSNull)
        }
    }

    @Test("Deleting a deployment deletes its connections", arguments: TestDatabase.all)
    func deleteCascadesConnections(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let web = try await app.createDeployment(environment: tree.environment, name: "web")
            let db2 = try await app.createDeployment(environment: tree.environment, name: "db")
            let a = try await connect(app, environment: tree.environment, from: web, to: tree.deployment)
            let b = try await connect(app, environment: tree.environment, from: tree.deployment, to: db2)
            let c = try await connect(app, environment: tree.environment, from: web, to: db2)
            for reply in [a, b, c] { #expect(reply.status == 201, "\(reply.text)") }
            #expect(try await app.get("/api/environments/\(tree.environment)/connections").items.count == 3)

            #expect(try await app.delete("/api/deployments/\(tree.deployment)").status == 204)
            #expect(try await app.get("/api/deployments/\(tree.deployment)").status == 404)
            let left = try await app.get("/api/environments/\(tree.environment)/connections").items.map { $0["id"] as? String }
            #expect(left == [c.id])
            #expect(try await app.delete("/api/connections/\(a.id)").status == 404)
        }
    }

    // MARK: - Connections

    @Test("A connection is created with its fields and listed", arguments: TestDatabase.all)
    func createConnection(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let web = try await app.createDeployment(environment: tree.environment, name: "web")
            let reply = try await connect(app, environment: tree.environment, from: web, to: tree.deployment, extra: ["injectedVar": "API_URL"])
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.id.hasPrefix("conn_"))
            #expect(reply.header("Location") == "/api/connections/\(reply.id)")
            #expect(reply["environmentId"] as? String == tree.environment)
            #expect(reply["fromDeploymentId"] as? String == web)
            #expect(reply["toDeploymentId"] as? String == tree.deployment)
            #expect(reply["sourceHint"] as? String == "manual")
            #expect(reply["injectedVar"] as? String == "API_URL")
            #expect((reply["createdAt"] as? String)?.hasSuffix("Z") == true)

            let bare = try await connect(app, environment: tree.environment, from: tree.deployment, to: web)
            #expect(bare.status == 201)
            #expect(bare.data["injectedVar"] is NSNull, "\(bare.text)")
            #expect(try await app.get("/api/environments/\(tree.environment)/connections").items.map { $0["id"] as? String } == [reply.id, bare.id])
        }
    }

    @Test("Both ends must be live deployments of the environment", arguments: TestDatabase.all)
    func endsInEnvironment(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let other = try await app.createEnvironment(project: tree.project, space: tree.space, name: "staging")
            let foreign = try await app.createDeployment(environment: other, name: "web")

            let toForeign = try await connect(app, environment: tree.environment, from: tree.deployment, to: foreign)
            #expect(toForeign.status == 400)
            #expect(toForeign.errorCode == "validation_failed")
            #expect(toForeign.fieldNames == ["toDeploymentId"], "\(toForeign.text)")

            let fromForeign = try await connect(app, environment: tree.environment, from: foreign, to: tree.deployment)
            #expect(fromForeign.status == 400)
            #expect(fromForeign.fieldNames == ["fromDeploymentId"])

            let unknown = try await connect(app, environment: tree.environment, from: tree.deployment, to: "dep_00000000000000000000000000")
            #expect(unknown.status == 400)
            #expect(unknown.fieldNames == ["toDeploymentId"])

            let malformed = try await connect(app, environment: tree.environment, from: tree.deployment, to: "nope")
            #expect(malformed.status == 400)
            #expect(malformed.fieldNames == ["toDeploymentId"])

            let deleted = try await app.createDeployment(environment: tree.environment, name: "gone")
            #expect(try await app.delete("/api/deployments/\(deleted)").status == 204)
            let toDeleted = try await connect(app, environment: tree.environment, from: tree.deployment, to: deleted)
            #expect(toDeleted.status == 400)
            #expect(toDeleted.fieldNames == ["toDeploymentId"])

            #expect(try await app.get("/api/environments/\(tree.environment)/connections").items.isEmpty)
        }
    }

    @Test("A deployment cannot connect to itself", arguments: TestDatabase.all)
    func selfConnection(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let reply = try await connect(app, environment: tree.environment, from: tree.deployment, to: tree.deployment)
            #expect(reply.status == 400)
            #expect(reply.errorCode == "validation_failed")
            #expect(try await app.get("/api/environments/\(tree.environment)/connections").items.isEmpty)
        }
    }

    @Test("One live connection per ordered pair; the reverse pair is fine", arguments: TestDatabase.all)
    func duplicatePair(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let web = try await app.createDeployment(environment: tree.environment, name: "web")
            let first = try await connect(app, environment: tree.environment, from: web, to: tree.deployment)
            #expect(first.status == 201)
            let again = try await connect(app, environment: tree.environment, from: web, to: tree.deployment, extra: ["injectedVar": "OTHER"])
            #expect(again.status == 409)
            #expect(again.errorCode == "conflict")
            #expect(again.details["field"] != nil)
            let reverse = try await connect(app, environment: tree.environment, from: tree.deployment, to: web)
            #expect(reverse.status == 201, "\(reverse.text)")

            // A deleted connection frees its pair.
            #expect(try await app.delete("/api/connections/\(first.id)").status == 204)
            let recreated = try await connect(app, environment: tree.environment, from: web, to: tree.deployment)
            #expect(recreated.status == 201, "\(recreated.text)")
        }
    }

    @Test("injectedVar must match [A-Z_][A-Z0-9_]*", arguments: TestDatabase.all)
    func injectedVarRules(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let web = try await app.createDeployment(environment: tree.environment, name: "web")
            for name in ["api_url", "1API", "API-URL", "API URL", "", "Api", "ÄPI"] {
                let reply = try await connect(app, environment: tree.environment, from: web, to: tree.deployment, extra: ["injectedVar": name])
                #expect(reply.status == 400, "\(name.debugDescription)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["injectedVar"], "\(name.debugDescription): \(reply.text)")
            }
            #expect(try await app.get("/api/environments/\(tree.environment)/connections").items.isEmpty)
            for (index, name) in ["_", "API_URL", "_PRIVATE_1", "X9"].enumerated() {
                let from = try await app.createDeployment(environment: tree.environment, name: "caller\(index)")
                let reply = try await connect(app, environment: tree.environment, from: from, to: tree.deployment, extra: ["injectedVar": name])
                #expect(reply.status == 201, "\(name): \(reply.text)")
                #expect(reply["injectedVar"] as? String == name)
            }
        }
    }

    @Test("accept turns a suggestion into a manual connection", arguments: TestDatabase.all)
    func acceptSuggestion(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let web = try await app.createDeployment(environment: tree.environment, name: "web")
            let suggestion = try await connect(app, environment: tree.environment, from: web, to: tree.deployment, extra: ["sourceHint": "suggestion"])
            #expect(suggestion.status == 201, "\(suggestion.text)")
            #expect(suggestion["sourceHint"] as? String == "suggestion")

            // accept takes no body and needs no content type.
            let accepted = try await app.request(.post, "/api/connections/\(suggestion.id)/accept")
            #expect(accepted.status == 200, "\(accepted.text)")
            #expect(accepted["sourceHint"] as? String == "manual")
            #expect(accepted.id == suggestion.id)
            let listed = try await app.get("/api/environments/\(tree.environment)/connections").items
            #expect(listed.first?["sourceHint"] as? String == "manual")

            // Accepting again is harmless; an unknown connection is 404.
            let again = try await app.request(.post, "/api/connections/\(suggestion.id)/accept")
            #expect(again.status == 200)
            #expect(again["sourceHint"] as? String == "manual")
            #expect(try await app.request(.post, "/api/connections/conn_00000000000000000000000000/accept").status == 404)
        }
    }

    @Test("DELETE of a connection is 204, then it is gone", arguments: TestDatabase.all)
    func deleteConnection(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let web = try await app.createDeployment(environment: tree.environment, name: "web")
            let connection = try await connect(app, environment: tree.environment, from: web, to: tree.deployment)
            try #require(connection.status == 201)
            let deleted = try await app.delete("/api/connections/\(connection.id)")
            #expect(deleted.status == 204)
            #expect(deleted.body.isEmpty)
            #expect(try await app.get("/api/environments/\(tree.environment)/connections").items.isEmpty)
            #expect(try await app.delete("/api/connections/\(connection.id)").status == 404)
            #expect(try await app.request(.post, "/api/connections/\(connection.id)/accept").status == 404)
            // Both deployments are untouched.
            #expect(try await app.get("/api/deployments/\(web)").status == 200)
            #expect(try await app.get("/api/deployments/\(tree.deployment)").status == 200)
        }
    }
}
