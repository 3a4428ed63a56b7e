import Foundation
import Testing

/// docs/api.md §4, Environments: namespace and reference rules, uniqueness, registry fields, moves and deletes — on every database.
@Suite("Environments")
struct EnvironmentTests {
    @Test("A namespace that is not a DNS-1123 label is 400 naming namespace", arguments: TestDatabase.all)
    func namespaceNotDNSLabel(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            for namespace in ["Prod", "-x", "x-", String(repeating: "a", count: 64), "a_b", "", "a.b", "prod ns"] {
                let reply = try await app.post("/api/projects/\(project)/environments", ["name": "e", "spaceId": space, "namespace": namespace])
                #expect(reply.status == 400, "\(namespace.debugDescription)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames.contains("namespace"), "\(namespace.debugDescription): \(reply.text)")
            }
            #expect(try await app.get("/api/projects/\(project)/environments").items.isEmpty)
            // 63 characters and a single character are the edges that pass.
            let longest = try await app.post("/api/projects/\(project)/environments",
                                              ["name": "long", "spaceId": space, "namespace": String(repeating: "a", count: 63)])
            #expect(longest.status == 201, "\(longest.text)")
            let single = try await app.post("/api/projects/\(project)/environments", ["name": "one", "spaceId": space, "namespace": "x"])
            #expect(single.status == 201, "\(single.text)")
        }
    }

    @Test("The Kubernetes system namespaces are refused with 400 naming namespace", arguments: TestDatabase.all)
    func reservedNamespaces(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            for namespace in ["kube-system", "kube-public", "kube-node-lease"] {
                let reply = try await app.post("/api/projects/\(project)/environments", ["name": "e", "spaceId": space, "namespace": namespace])
                #expect(reply.status == 400, "\(namespace)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["namespace"])
            }
            // Also on PATCH.
            let environment = try await app.createEnvironment(project: project, space: space)
            let patched = try await app.patch("/api/projects/\(project)/environments/\(environment)", ["namespace": "kube-system"])
            #expect(patched.status == 400)
            #expect(patched.fieldNames == ["namespace"])
        }
    }

    @Test("A spaceId of an unknown or deleted space is 400 naming spaceId", arguments: TestDatabase.all)
    func unknownSpace(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let unknown = try await app.post("/api/projects/\(project)/environments",
                                             ["name": "e", "spaceId": "spc_00000000000000000000000000", "namespace": "prod"])
            #expect(unknown.status == 400)
            #expect(unknown.errorCode == "validation_failed")
            #expect(unknown.fieldNames == ["spaceId"])

            let malformed = try await app.post("/api/projects/\(project)/environments", ["name": "e", "spaceId": "nope", "namespace": "prod"])
            #expect(malformed.status == 400)
            #expect(malformed.fieldNames == ["spaceId"])

            let space = try await app.createSpace()
            #expect(try await app.delete("/api/spaces/\(space)").status == 204)
            let deleted = try await app.post("/api/projects/\(project)/environments", ["name": "e", "spaceId": space, "namespace": "prod"])
            #expect(deleted.status == 400)
            #expect(deleted.errorCode == "validation_failed")
            #expect(deleted.fieldNames == ["spaceId"])
            #expect(try await app.get("/api/projects/\(project)/environments").items.isEmpty)

            // Moving an existing environment onto a deleted space is refused the same way.
            let live = try await app.createSpace()
            let environment = try await app.createEnvironment(project: project, space: live)
            let moved = try await app.patch("/api/projects/\(project)/environments/\(environment)", ["spaceId": space])
            #expect(moved.status == 400)
            #expect(moved.fieldNames == ["spaceId"])
        }
    }

    @Test("An unknown or deleted registryIntegrationId is 400 naming it", arguments: TestDatabase.all)
    func unknownIntegration(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let unknown = try await app.post("/api/projects/\(project)/environments", [
                "name": "e", "spaceId": space, "namespace": "prod", "registryIntegrationId": "int_00000000000000000000000000",
            ])
            #expect(unknown.status == 400)
            #expect(unknown.errorCode == "validation_failed")
            #expect(unknown.fieldNames == ["registryIntegrationId"])

            let integration = try await app.post("/api/integrations", ["name": "ghcr", "kind": "ghcr", "registry": "ghcr.io"])
            try #require(integration.status == 201, "\(integration.text)")
            #expect(try await app.delete("/api/integrations/\(integration.id)").status == 204)
            let deleted = try await app.post("/api/projects/\(project)/environments", [
                "name": "e", "spaceId": space, "namespace": "prod", "registryIntegrationId": integration.id,
            ])
            #expect(deleted.status == 400)
            #expect(deleted.fieldNames == ["registryIntegrationId"])
        }
    }

    @Test("A live registryIntegrationId is accepted and echoed", arguments: TestDatabase.all)
    func liveIntegration(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let integration = try await app.post("/api/integrations", ["name": "ghcr", "kind": "ghcr", "registry": "ghcr.io"])
            try #require(integration.status == 201, "\(integration.text)")
            let created = try await app.post("/api/projects/\(project)/environments", [
                "name": "e", "spaceId": space, "namespace": "prod", "registryIntegrationId": integration.id,
            ])
            #expect(created.status == 201, "\(created.text)")
            #expect(created["registryIntegrationId"] as? String == integration.id)
            // An integration in use cannot be deleted.
            let blocked = try await app.delete("/api/integrations/\(integration.id)")
            #expect(blocked.status == 409)
            #expect(blocked.errorCode == "has_children")
        }
    }

    @Test("registryUrl must be host[:port]/path without scheme or spaces", arguments: TestDatabase.all)
    func registryURLRules(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let bad = [
                "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout", "http://ghcr.io/acme", "ghcr.io/acme checkout",
                " ghcr.io/acme", "", "ghcr.io/" + String(repeating: "a", count: 250),
            ]
            for url in bad {
                let reply = try await app.post("/api/projects/\(project)/environments",
                                               ["name": "e", "spaceId": space, "namespace": "prod", "registryUrl": url])
                #expect(reply.status == 400, "\(url.debugDescription)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["registryUrl"], "\(url.debugDescription)")
            }
            for (index, url) in ["123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout", "registry.example.com:5000/team/app"].enumerated() {
                let reply = try await app.post("/api/projects/\(project)/environments",
                                               ["name": "ok\(index)", "spaceId": space, "namespace": "ok\(index)", "registryUrl": url])
                #expect(reply.status == 201, "\(url): \(reply.text)")
                #expect(reply["registryUrl"] as? String == url)
            }
        }
    }

    @Test("One live environment per (space, namespace), across projects: 409 conflict on namespace", arguments: TestDatabase.all)
    func namespaceUniquePerSpace(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let first = try await app.createProject("first")
            let second = try await app.createProject("second")
            let space = try await app.createSpace()
            _ = try await app.createEnvironment(project: first, space: space, name: "prod", namespace: "checkout")

            let sameProject = try await app.post("/api/projects/\(first)/environments", ["name": "other", "spaceId": space, "namespace": "checkout"])
            #expect(sameProject.status == 409)
            #expect(sameProject.errorCode == "conflict")
            #expect(sameProject.details["field"] as? String == "namespace")

            let otherProject = try await app.post("/api/projects/\(second)/environments", ["name": "prod", "spaceId": space, "namespace": "checkout"])
            #expect(otherProject.status == 409)
            #expect(otherProject.errorCode == "conflict")
            #expect(otherProject.details["field"] as? String == "namespace")

            // The same namespace on another space is fine.
            let otherSpace = try await app.createSpace()
            let elsewhere = try await app.post("/api/projects/\(second)/environments", ["name": "prod", "spaceId": otherSpace, "namespace": "checkout"])
            #expect(elsewhere.status == 201, "\(elsewhere.text)")

            // Moving onto a taken pair is the same conflict.
            let moving = try await app.createEnvironment(project: second, space: space, name: "staging", namespace: "staging")
            let moved = try await app.patch("/api/projects/\(second)/environments/\(moving)", ["namespace": "checkout"])
            #expect(moved.status == 409)
            #expect(moved.errorCode == "conflict")
            #expect(moved.details["field"] as? String == "namespace")
        }
    }

    @Test("Names are unique per project ignoring case; another project may reuse one", arguments: TestDatabase.all)
    func nameUniquePerProject(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let first = try await app.createProject("first")
            let second = try await app.createProject("second")
            let space = try await app.createSpace()
            let original = try await app.createEnvironment(project: first, space: space, name: "Prod")

            let clash = try await app.post("/api/projects/\(first)/environments", ["name": "PROD", "spaceId": space, "namespace": "other"])
            #expect(clash.status == 409)
            #expect(clash.errorCode == "conflict")
            #expect(clash.details["field"] as? String == "name")

            let trimmedClash = try await app.post("/api/projects/\(first)/environments", ["name": "  prod ", "spaceId": space, "namespace": "other"])
            #expect(trimmedClash.status == 409)
            #expect(trimmedClash.details["field"] as? String == "name")

            let reused = try await app.post("/api/projects/\(second)/environments", ["name": "prod", "spaceId": space, "namespace": "other"])
            #expect(reused.status == 201, "\(reused.text)")

            // Renaming onto a taken name is the same conflict; a case-only rename of itself is fine.
            let staging = try await app.createEnvironment(project: first, space: space, name: "staging")
            let renamed = try await app.patch("/api/projects/\(first)/environments/\(staging)", ["name": "prod"])
            #expect(renamed.status == 409)
            #expect(renamed.details["field"] as? String == "name")
            let recased = try await app.patch("/api/projects/\(first)/environments/\(original)", ["name": "PROD"])
            #expect(recased.status == 200, "\(recased.text)")
            #expect(recased["name"] as? String == "PROD")
        }
    }

    @Test("A created environment has every field; unset registry fields are explicit nulls", arguments: TestDatabase.all)
    func createdShape(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let reply = try await app.post("/api/projects/\(project)/environments", ["name": " prod ", "spaceId": space, "namespace": "checkout"])
            #expect(reply.status == 201)
            #expect(reply.id.hasPrefix("env_"))
            #expect(reply.header("Location") == "/api/projects/\(project)/environments/\(reply.id)")
            #expect(reply.header("ETag") == "\"1\"")
            let data = reply.data
            #expect(data["projectId"] as? String == project)
            #expect(data["name"] as? String == "prod")
            #expect(data["spaceId"] as? String == space)
            #expect(data["namespace"] as? String == "checkout")
            #expect(data["version"] as? Int == 1)
            #expect(data["createdBy"] as? String == "admin@localhost")
            #expect((data["createdAt"] as? String)?.hasSuffix("Z") == true)
            #expect((data["updatedAt"] as? String)?.hasSuffix("Z") == true)
            #expect(data["registryIntegrationId"] is NSNull, "\(reply.text)")
            #expect(data["registryUrl"] is NSNull, "\(reply.text)")

            // The same on GET and in the list.
            let fetched = (try await app.get("/api/projects/\(project)/environments/\(reply.id)")).data
            #expect(fetched["registryIntegrationId"] is NSNull)
            #expect(fetched["registryUrl"] is NSNull)
            let list = try await app.get("/api/projects/\(project)/environments")
            let listed = ((try JSONSerialization.jsonObject(with: list.body) as? [String: Any])?["data"] as? [[String: Any]])?.first ?? [:]
            #expect(listed["registryIntegrationId"] is NSNull)
            #expect(listed["registryUrl"] is NSNull)
        }
    }

    @Test("PATCH with registryUrl null clears it; leaving it out keeps it", arguments: TestDatabase.all)
    func patchRegistryNull(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let created = try await app.post("/api/projects/\(project)/environments", [
                "name": "prod", "spaceId": space, "namespace": "prod", "registryUrl": "ghcr.io/acme/checkout",
            ])
            try #require(created.status == 201, "\(created.text)")
            let path = "/api/projects/\(project)/environments/\(created.id)"

            let renamed = try await app.patch(path, ["name": "production"])
            #expect(renamed.status == 200)
            #expect(renamed["registryUrl"] as? String == "ghcr.io/acme/checkout")
            #expect(renamed["version"] as? Int == 2)

            let cleared = try await app.patch(path, ["registryUrl": NSNull()])
            #expect(cleared.status == 200, "\(cleared.text)")
            #expect(cleared.data["registryUrl"] is NSNull, "\(cleared.text)")
            #expect((try await app.get(path)).data["registryUrl"] is NSNull)
            #expect(try await app.get(path)["name"] as? String == "production")

            let set = try await app.patch(path, ["registryUrl": "registry.example.com/acme"])
            #expect(set["registryUrl"] as? String == "registry.example.com/acme")
            let invalid = try await app.patch(path, ["registryUrl": "https://registry.example.com/acme"])
            #expect(invalid.status == 400)
            #expect(invalid.fieldNames == ["registryUrl"])
            #expect(try await app.get(path)["registryUrl"] as? String == "registry.example.com/acme")
        }
    }

    @Test("PATCH with registryIntegrationId null clears it; leaving it out keeps it", arguments: TestDatabase.all)
    func patchIntegrationNull(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let integration = try await app.post("/api/integrations", ["name": "ghcr", "kind": "ghcr", "registry": "ghcr.io"])
            try #require(integration.status == 201)
            let environment = try await app.createEnvironment(project: project, space: space)
            let path = "/api/projects/\(project)/environments/\(environment)"
            let set = try await app.patch(path, ["registryIntegrationId": integration.id])
            #expect(set.status == 200, "\(set.text)")
            #expect(set["registryIntegrationId"] as? String == integration.id)
            let untouched = try await app.patch(path, ["name": "renamed"])
            #expect(untouched["registryIntegrationId"] as? String == integration.id)
            let cleared = try await app.patch(path, ["registryIntegrationId": NSNull()])
            #expect(cleared.status == 200)
            #expect(cleared.data["registryIntegrationId"] is NSNull)
            // Once cleared the integration is free to delete.
            #expect(try await app.delete("/api/integrations/\(integration.id)").status == 204)
        }
    }

    @Test("null is accepted for the registry fields on create; on PATCH null for a non-nullable field is 400 naming it", arguments: TestDatabase.all)
    func nullHandling(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let created = try await app.post("/api/projects/\(project)/environments", [
                "name": "prod", "spaceId": space, "namespace": "prod", "registryUrl": NSNull(), "registryIntegrationId": NSNull(),
            ])
            #expect(created.status == 201, "\(created.text)")
            #expect(created.data["registryUrl"] is NSNull)
            let path = "/api/projects/\(project)/environments/\(created.id)"
            for field in ["name", "spaceId", "namespace"] {
                let reply = try await app.patch(path, [field: NSNull()])
                #expect(reply.status == 400, "\(field): \(reply.text)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == [field], "\(field): \(reply.text)")
            }
            let unchanged = try await app.get(path)
            #expect(unchanged["version"] as? Int == 1)
            #expect(unchanged["namespace"] as? String == "prod")
        }
    }

    @Test("Changing spaceId or namespace while live deployments exist is 409 has_children", arguments: TestDatabase.all)
    func moveWithDeployments(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            _ = try await app.createDeployment(environment: tree.environment, name: "worker")
            let path = "/api/projects/\(tree.project)/environments/\(tree.environment)"
            let before = try await app.get(path)

            let namespace = try await app.patch(path, ["namespace": "elsewhere"])
            #expect(namespace.status == 409)
            #expect(namespace.errorCode == "has_children")
            #expect(namespace.details["deploymentCount"] as? Int == 2)

            let otherSpace = try await app.createSpace()
            let space = try await app.patch(path, ["spaceId": otherSpace])
            #expect(space.status == 409)
            #expect(space.errorCode == "has_children")
            #expect(space.details["deploymentCount"] as? Int == 2)

            let after = try await app.get(path)
            #expect(after["namespace"] as? String == before["namespace"] as? String)
            #expect(after["spaceId"] as? String == tree.space)
            #expect(after["version"] as? Int == 1)

            // Unchanged values and other fields are fine.
            let same = try await app.patch(path, ["namespace": before["namespace"] as? String ?? "", "spaceId": tree.space, "name": "renamed"])
            #expect(same.status == 200, "\(same.text)")

            // With the deployments gone, the move succeeds.
            for item in try await app.get("/api/environments/\(tree.environment)/deployments").items {
                #expect(try await app.delete("/api/deployments/\(item["id"] as? String ?? "")").status == 204)
            }
            let moved = try await app.patch(path, ["spaceId": otherSpace, "namespace": "elsewhere"])
            #expect(moved.status == 200, "\(moved.text)")
            #expect(moved["spaceId"] as? String == otherSpace)
            #expect(moved["namespace"] as? String == "elsewhere")
        }
    }

    @Test("The nested GET under another project is 404; the flat GET returns the same body", arguments: TestDatabase.all)
    func nestedAndFlat(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject("owner")
            let other = try await app.createProject("other")
            let space = try await app.createSpace()
            let environment = try await app.createEnvironment(project: project, space: space)

            let nested = try await app.get("/api/projects/\(project)/environments/\(environment)")
            #expect(nested.status == 200)
            let flat = try await app.get("/api/environments/\(environment)")
            #expect(flat.status == 200)
            // The same JSON document (key order is not significant in JSON).
            let flatJSON = try JSONSerialization.jsonObject(with: flat.body) as? NSDictionary
            let nestedJSON = try JSONSerialization.jsonObject(with: nested.body) as? NSDictionary
            #expect(flatJSON != nil && flatJSON == nestedJSON, "\(flat.text) vs \(nested.text)")
            #expect(flat.header("ETag") == nested.header("ETag"))

            let wrong = try await app.get("/api/projects/\(other)/environments/\(environment)")
            #expect(wrong.status == 404)
            #expect(wrong.errorCode == "not_found")
            #expect(try await app.patch("/api/projects/\(other)/environments/\(environment)", ["name": "x"]).status == 404)
            #expect(try await app.delete("/api/projects/\(other)/environments/\(environment)").status == 404)
            #expect(try await app.get("/api/projects/\(other)/environments").items.isEmpty)

            #expect(try await app.get("/api/environments/env_00000000000000000000000000").status == 404)
            #expect(try await app.get("/api/environments/garbage").status == 404)
        }
    }

    @Test("DELETE with live deployments is 409 has_children; dryRun previews without deleting", arguments: TestDatabase.all)
    func deleteWithDeployments(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let path = "/api/projects/\(tree.project)/environments/\(tree.environment)"

            let blocked = try await app.delete(path)
            #expect(blocked.status == 409)
            #expect(blocked.errorCode == "has_children")
            #expect(blocked.details["deploymentCount"] as? Int == 1)

            let preview = try await app.delete(path + "?dryRun=true")
            #expect(preview.status == 200, "\(preview.text)")
            #expect(preview["deletable"] as? Bool == false)
            #expect(preview["deploymentCount"] as? Int == 1)
            #expect(try await app.get(path).status == 200)

            #expect(try await app.delete("/api/deployments/\(tree.deployment)").status == 204)
            let clear = try await app.delete(path + "?dryRun=true")
            #expect(clear.status == 200)
            #expect(clear["deletable"] as? Bool == true)
            #expect(clear["deploymentCount"] as? Int == 0)
            #expect(try await app.get(path).status == 200)

            let deleted = try await app.delete(path)
            #expect(deleted.status == 204)
            #expect(deleted.body.isEmpty)
            #expect(try await app.get(path).status == 404)
            #expect(try await app.get("/api/environments/\(tree.environment)").status == 404)
            #expect(try await app.get("/api/projects/\(tree.project)/environments").items.isEmpty)
            #expect(try await app.delete(path).status == 404)
        }
    }

    @Test("After DELETE the (space, namespace) pair and the name are free again", arguments: TestDatabase.all)
    func deleteFreesPairAndName(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let environment = try await app.createEnvironment(project: project, space: space, name: "prod", namespace: "checkout")
            #expect(try await app.delete("/api/projects/\(project)/environments/\(environment)").status == 204)

            let again = try await app.post("/api/projects/\(project)/environments", ["name": "Prod", "spaceId": space, "namespace": "checkout"])
            #expect(again.status == 201, "\(again.text)")
            #expect(again.id != environment)
            #expect(try await app.get("/api/projects/\(project)/environments").items.map { $0["id"] as? String } == [again.id])
        }
    }

    @Test("Environments under a project that does not exist or was deleted are 404", arguments: TestDatabase.all)
    func missingProject(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let space = try await app.createSpace()
            let ghost = "prj_00000000000000000000000000"
            let create = try await app.post("/api/projects/\(ghost)/environments", ["name": "e", "spaceId": space, "namespace": "prod"])
            #expect(create.status == 404)
            #expect(create.errorCode == "not_found")
            #expect(try await app.get("/api/projects/\(ghost)/environments").status == 404)
            #expect(try await app.get("/api/projects/garbage/environments").status == 404)

            let project = try await app.createProject()
            let environment = try await app.createEnvironment(project: project, space: space)
            #expect(try await app.delete("/api/projects/\(project)/environments/\(environment)").status == 204)
            #expect(try await app.delete("/api/projects/\(project)").status == 204)
            let afterDelete = try await app.post("/api/projects/\(project)/environments", ["name": "e", "spaceId": space, "namespace": "prod"])
            #expect(afterDelete.status == 404)
            #expect(try await app.get("/api/projects/\(project)/environments").status == 404)
        }
    }

    @Test("Environments are listed in creation order and filtered by q", arguments: TestDatabase.all)
    func listAndFilter(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let a = try await app.createEnvironment(project: project, space: space, name: "Production")
            let b = try await app.createEnvironment(project: project, space: space, name: "staging")
            let c = try await app.createEnvironment(project: project, space: space, name: "preview-prod")
            #expect(try await app.get("/api/projects/\(project)/environments").items.map { $0["id"] as? String } == [a, b, c])
            #expect(try await app.get("/api/projects/\(project)/environments?q=PROD").items.map { $0["id"] as? String } == [a, c])
            let page = try await app.get("/api/projects/\(project)/environments?limit=2")
            #expect(page.items.count == 2)
            #expect(page.json["nextCursor"] is String)
        }
    }
}
