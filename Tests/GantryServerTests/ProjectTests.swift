import Foundation
import Testing

/// docs/api.md §4, Projects: validation, uniqueness, CRUD, soft delete, dry runs and restore — on every database.
@Suite("Projects")
struct ProjectTests {
    @Test("An empty or whitespace-only name is 400 validation_failed naming name", arguments: TestDatabase.all)
    func emptyName(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for name in ["", "   ", "\t\n "] {
                let reply = try await app.post("/api/projects", ["name": name])
                #expect(reply.status == 400, "\(name.debugDescription)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["name"])
            }
            #expect(try await app.get("/api/projects").items.isEmpty)
        }
    }

    @Test("A name over 100 characters is 400; exactly 100 is fine", arguments: TestDatabase.all)
    func longName(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tooLong = try await app.post("/api/projects", ["name": String(repeating: "a", count: 101)])
            #expect(tooLong.status == 400)
            #expect(tooLong.errorCode == "validation_failed")
            #expect(tooLong.fieldNames == ["name"])
            let longest = try await app.post("/api/projects", ["name": String(repeating: "b", count: 100)])
            #expect(longest.status == 201)
            // The limit applies after trimming.
            let padded = try await app.post("/api/projects", ["name": "  " + String(repeating: "c", count: 100) + "  "])
            #expect(padded.status == 201)
        }
    }

    @Test("A name with control characters is 400 validation_failed naming name", arguments: TestDatabase.all)
    func controlCharacters(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for name in ["bad\u{0}name", "bad\u{7}bell", "tab\there", "line\nbreak", "del\u{7F}"] {
                let reply = try await app.post("/api/projects", ["name": name])
                #expect(reply.status == 400, "\(name.debugDescription)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["name"])
            }
            #expect(try await app.get("/api/projects").items.isEmpty)
        }
    }

    @Test("The name is trimmed on create and on rename", arguments: TestDatabase.all)
    func trimmed(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let created = try await app.post("/api/projects", ["name": "  checkout \n"])
            #expect(created.status == 201)
            #expect(created["name"] as? String == "checkout")
            #expect(try await app.get("/api/projects/\(created.id)")["name"] as? String == "checkout")
            let renamed = try await app.patch("/api/projects/\(created.id)", ["name": "\tbilling  "])
            #expect(renamed.status == 200)
            #expect(renamed["name"] as? String == "billing")
        }
    }

    @Test("A rename to an invalid name is 400 and changes nothing", arguments: TestDatabase.all)
    func invalidRename(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("checkout")
            for name in ["  ", String(repeating: "x", count: 101), "a\u{1}b"] {
                let reply = try await app.patch("/api/projects/\(id)", ["name": name])
                #expect(reply.status == 400)
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["name"])
            }
            let current = try await app.get("/api/projects/\(id)")
            #expect(current["name"] as? String == "checkout")
            #expect(current["version"] as? Int == 1)
        }
    }

    @Test("Names are unique per organization ignoring case: create is 409 conflict on name", arguments: TestDatabase.all)
    func uniqueOnCreate(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            _ = try await app.createProject("Checkout")
            for name in ["Checkout", "checkout", "CHECKOUT", "  checkout  "] {
                let reply = try await app.post("/api/projects", ["name": name])
                #expect(reply.status == 409, "\(name)")
                #expect(reply.errorCode == "conflict")
                #expect(reply.details["field"] as? String == "name")
            }
            #expect(try await app.get("/api/projects").items.count == 1)
        }
    }

    @Test("A rename onto another project's name (any case) is 409 conflict on name", arguments: TestDatabase.all)
    func uniqueOnRename(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            _ = try await app.createProject("checkout")
            let other = try await app.createProject("billing")
            let reply = try await app.patch("/api/projects/\(other)", ["name": "CheckOut"])
            #expect(reply.status == 409)
            #expect(reply.errorCode == "conflict")
            #expect(reply.details["field"] as? String == "name")
            let current = try await app.get("/api/projects/\(other)")
            #expect(current["name"] as? String == "billing")
            #expect(current["version"] as? Int == 1)
            // Changing only the case of its own name is not a conflict.
            let recased = try await app.patch("/api/projects/\(other)", ["name": "Billing"])
            #expect(recased.status == 200)
            #expect(recased["name"] as? String == "Billing")
        }
    }

    @Test("GET, PATCH, DELETE and restore of an unknown or malformed id are 404 not_found", arguments: TestDatabase.all)
    func unknownID(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            _ = try await app.createProject("checkout")
            let ids = ["prj_00000000000000000000000000", "prj_zzz", "nope", "env_00000000000000000000000000", "PRJ_00000000000000000000000000"]
            for id in ids {
                let get = try await app.get("/api/projects/\(id)")
                #expect(get.status == 404, "GET \(id)")
                #expect(get.errorCode == "not_found")
                let patch = try await app.patch("/api/projects/\(id)", ["name": "x"])
                #expect(patch.status == 404, "PATCH \(id)")
                #expect(patch.errorCode == "not_found")
                let delete = try await app.delete("/api/projects/\(id)")
                #expect(delete.status == 404, "DELETE \(id)")
                #expect(delete.errorCode == "not_found")
                let dryRun = try await app.delete("/api/projects/\(id)?dryRun=true")
                #expect(dryRun.status == 404, "DELETE dryRun \(id)")
                let restore = try await app.post("/api/projects/\(id)/restore")
                #expect(restore.status == 404, "restore \(id)")
                #expect(restore.errorCode == "not_found")
            }
        }
    }

    @Test("GET returns the project with its ETag", arguments: TestDatabase.all)
    func getProject(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("checkout", description: "the shop")
            let reply = try await app.get("/api/projects/\(id)")
            #expect(reply.status == 200)
            #expect(reply.header("ETag") == "\"1\"")
            #expect(reply.id == id)
            #expect(reply["name"] as? String == "checkout")
            #expect(reply["description"] as? String == "the shop")
            #expect(reply["createdBy"] as? String == "admin@localhost")
            #expect(reply["version"] as? Int == 1)
        }
    }

    @Test("PATCH changes name and description, bumps version and ETag, and GET agrees", arguments: TestDatabase.all)
    func patchProject(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("checkout", description: "old")
            let created = try await app.get("/api/projects/\(id)")
            let renamed = try await app.patch("/api/projects/\(id)", ["name": "storefront"])
            #expect(renamed.status == 200)
            #expect(renamed["name"] as? String == "storefront")
            #expect(renamed["description"] as? String == "old")
            #expect(renamed["version"] as? Int == 2)
            #expect(renamed.header("ETag") == "\"2\"")
            #expect(renamed["createdAt"] as? String == created["createdAt"] as? String)
            let described = try await app.patch("/api/projects/\(id)", ["description": "new"])
            #expect(described.status == 200)
            #expect(described["name"] as? String == "storefront")
            #expect(described["description"] as? String == "new")
            #expect(described["version"] as? Int == 3)
            #expect(described.header("ETag") == "\"3\"")
            let both = try await app.patch("/api/projects/\(id)", ["name": "shop", "description": ""])
            #expect(both["version"] as? Int == 4)
            let current = try await app.get("/api/projects/\(id)")
            #expect(current["name"] as? String == "shop")
            #expect(current["description"] as? String == "")
            #expect(current["version"] as? Int == 4)
            #expect(current.header("ETag") == "\"4\"")
            #expect((current["updatedAt"] as? String ?? "") >= (created["updatedAt"] as? String ?? "~"))
        }
    }

    @Test("DELETE is 204 with no body; then GET is 404 and the list omits it", arguments: TestDatabase.all)
    func deleteProject(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("checkout")
            let kept = try await app.createProject("billing")
            let reply = try await app.delete("/api/projects/\(id)")
            #expect(reply.status == 204)
            #expect(reply.body.isEmpty)
            let get = try await app.get("/api/projects/\(id)")
            #expect(get.status == 404)
            #expect(get.errorCode == "not_found")
            #expect(try await app.get("/api/projects").items.compactMap { $0["id"] as? String } == [kept])
            #expect(try await app.patch("/api/projects/\(id)", ["name": "x"]).status == 404)
            #expect(try await app.delete("/api/projects/\(id)").status == 404)
        }
    }

    @Test("Deleting a project frees its name", arguments: TestDatabase.all)
    func deleteFreesName(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let first = try await app.createProject("checkout")
            #expect(try await app.delete("/api/projects/\(first)").status == 204)
            let again = try await app.post("/api/projects", ["name": "Checkout"])
            #expect(again.status == 201)
            #expect(again.id != first)
            // A rename onto a deleted project's name is free too.
            let other = try await app.createProject("billing")
            #expect(try await app.delete("/api/projects/\(other)").status == 204)
            #expect(try await app.patch("/api/projects/\(again.id)", ["name": "billing"]).status == 200)
        }
    }

    @Test("DELETE with live environments and deployments is 409 has_children with counts and environment ids", arguments: TestDatabase.all)
    func deleteHasChildren(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let second = try await app.createEnvironment(project: tree.project, space: tree.space, name: "staging")
            _ = try await app.createDeployment(environment: second, name: "web")
            _ = try await app.createDeployment(environment: second, name: "worker")
            let reply = try await app.delete("/api/projects/\(tree.project)")
            #expect(reply.status == 409)
            #expect(reply.errorCode == "has_children")
            let details = reply.details
            #expect(details["environmentCount"] as? Int == 2)
            #expect(details["deploymentCount"] as? Int == 3)
            #expect(details["environmentIds"] as? [String] == [tree.environment, second])
            #expect(try await app.get("/api/projects/\(tree.project)").status == 200)
        }
    }

    @Test("has_children lists only the first 20 environment ids, in creation order", arguments: TestDatabase.all)
    func deleteHasChildrenFirst20(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            var environments: [String] = []
            for i in 0..<22 { environments.append(try await app.createEnvironment(project: project, space: space, name: "env-\(i)")) }
            let reply = try await app.delete("/api/projects/\(project)")
            #expect(reply.status == 409)
            #expect(reply.errorCode == "has_children")
            let details = reply.details
            #expect(details["environmentCount"] as? Int == 22)
            #expect(details["deploymentCount"] as? Int == 0)
            #expect(details["environmentIds"] as? [String] == Array(environments.prefix(20)))
        }
    }

    @Test("Only live children block a delete", arguments: TestDatabase.all)
    func deletedChildrenDoNotBlock(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            #expect(try await app.delete("/api/deployments/\(tree.deployment)").status == 204)
            let blocked = try await app.delete("/api/projects/\(tree.project)")
            #expect(blocked.status == 409)
            #expect(blocked.details["environmentCount"] as? Int == 1)
            #expect(blocked.details["deploymentCount"] as? Int == 0)
            #expect(try await app.delete("/api/projects/\(tree.project)/environments/\(tree.environment)").status == 204)
            #expect(try await app.delete("/api/projects/\(tree.project)").status == 204)
        }
    }

    @Test("dryRun=true reports what blocks a delete and deletes nothing", arguments: TestDatabase.all)
    func dryRunBlocked(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let reply = try await app.delete("/api/projects/\(tree.project)?dryRun=true")
            #expect(reply.status == 200)
            #expect(reply["deletable"] as? Bool == false)
            #expect(reply["environmentCount"] as? Int == 1)
            #expect(reply["deploymentCount"] as? Int == 1)
            #expect(try await app.get("/api/projects/\(tree.project)").status == 200)
            #expect(try await app.get("/api/environments/\(tree.environment)").status == 200)
        }
    }

    @Test("dryRun=true on an empty project says deletable and deletes nothing", arguments: TestDatabase.all)
    func dryRunDeletable(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("checkout")
            let reply = try await app.delete("/api/projects/\(id)?dryRun=true")
            #expect(reply.status == 200)
            #expect(reply["deletable"] as? Bool == true)
            #expect(reply["environmentCount"] as? Int == 0)
            #expect(reply["deploymentCount"] as? Int == 0)
            let current = try await app.get("/api/projects/\(id)")
            #expect(current.status == 200)
            #expect(current["version"] as? Int == 1)
            #expect(try await app.get("/api/projects").items.count == 1)
            // dryRun=false is an ordinary delete.
            #expect(try await app.delete("/api/projects/\(id)?dryRun=false").status == 204)
            #expect(try await app.get("/api/projects/\(id)").status == 404)
        }
    }

    @Test("restore brings a deleted project back with its version bumped", arguments: TestDatabase.all)
    func restore(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("checkout", description: "shop")
            #expect(try await app.delete("/api/projects/\(id)").status == 204)
            let reply = try await app.request(.post, "/api/projects/\(id)/restore")
            #expect(reply.status == 200)
            #expect(reply.id == id)
            #expect(reply["name"] as? String == "checkout")
            #expect(reply["description"] as? String == "shop")
            #expect(reply["version"] as? Int == 2)
            #expect(reply.header("ETag") == "\"2\"")
            let current = try await app.get("/api/projects/\(id)")
            #expect(current.status == 200)
            #expect(current["version"] as? Int == 2)
            #expect(try await app.get("/api/projects").items.compactMap { $0["id"] as? String } == [id])
        }
    }

    @Test("restore is 409 conflict on name when the name was taken meanwhile", arguments: TestDatabase.all)
    func restoreNameTaken(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("checkout")
            #expect(try await app.delete("/api/projects/\(id)").status == 204)
            let usurper = try await app.createProject("CHECKOUT")
            let reply = try await app.request(.post, "/api/projects/\(id)/restore")
            #expect(reply.status == 409)
            #expect(reply.errorCode == "conflict")
            #expect(reply.details["field"] as? String == "name")
            #expect(try await app.get("/api/projects/\(id)").status == 404)
            #expect(try await app.get("/api/projects").items.compactMap { $0["id"] as? String } == [usurper])
            // Once the usurper is renamed, the restore goes through.
            #expect(try await app.patch("/api/projects/\(usurper)", ["name": "other"]).status == 200)
            #expect(try await app.request(.post, "/api/projects/\(id)/restore").status == 200)
        }
    }

    @Test("restore of a live project is 200 and changes nothing", arguments: TestDatabase.all)
    func restoreLive(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("checkout")
            let before = try await app.get("/api/projects/\(id)")
            let reply = try await app.request(.post, "/api/projects/\(id)/restore")
            #expect(reply.status == 200)
            #expect(reply.id == id)
            #expect(reply["version"] as? Int == 1)
            #expect(reply.header("ETag") == "\"1\"")
            #expect(reply["updatedAt"] as? String == before["updatedAt"] as? String)
            #expect(try await app.get("/api/projects/\(id)")["version"] as? Int == 1)
        }
    }
}
