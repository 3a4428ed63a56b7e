import Foundation
import GantryCore
import GantryServer
import GantryStorage
import Testing

/// docs/api.md §3: members, tokens, roles, assignments, visibility and the rules around them — on every database.
@Suite("Access control")
struct AccessTests {
    @Test("An environment grant shows its project, but only that environment, in lists and stats", arguments: TestDatabase.all)
    func environmentGrantVisibility(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let (project, space, environment, _) = try await admin.createTree()
            let other = try await admin.createEnvironment(project: project, space: space, name: "staging")
            _ = try await admin.createDeployment(environment: other, name: "hidden")
            let hiddenProject = try await admin.createProject()
            let viewer = admin.acting(as: try await admin.createMember(role: BuiltInRole.viewer, scope: "environment:\(environment)").token)

            #expect(try await viewer.get("/api/projects").items.map { $0["id"] as? String } == [project])
            #expect(try await viewer.get("/api/projects/\(project)").status == 200)
            #expect(try await viewer.get("/api/projects/\(hiddenProject)").status == 404)
            #expect(try await viewer.get("/api/projects/\(project)/environments").items.map { $0["id"] as? String } == [environment])
            #expect(try await viewer.get("/api/environments/\(other)").status == 404)
            #expect(try await viewer.get("/api/environments/\(other)/deployments").status == 404)
            let cards = try await viewer.get("/api/projects/stats").items
            #expect(cards.count == 1)
            #expect(cards.first?["environmentCount"] as? Int == 1)
            #expect(cards.first?["serviceCount"] as? Int == 1)
            // Visible but not writable: 403, not 404.
            let patch = try await viewer.patch("/api/projects/\(project)", ["description": "x"])
            #expect(patch.status == 403)
            #expect(patch.errorCode == "forbidden")
        }
    }

    @Test("A project grant covers its environments and deployments, not other projects or org resources", arguments: TestDatabase.all)
    func projectGrant(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let (project, space, environment, deployment) = try await admin.createTree()
            let otherProject = try await admin.createProject()
            let developer = admin.acting(as: try await admin.createMember(role: BuiltInRole.developer, scope: "project:\(project)").token)
            #expect(try await developer.patch("/api/deployments/\(deployment)", ["replicas": 3]).status == 200)
            #expect(try await developer.post("/api/projects/\(project)/environments",
                                             ["name": "qa", "spaceId": space, "namespace": "qa-ns"]).status == 201)
            #expect(try await developer.get("/api/projects/\(otherProject)").status == 404)
            #expect(try await developer.get("/api/spaces").status == 403)
            #expect(try await developer.delete("/api/projects/\(project)").status == 403)
            #expect(try await developer.get("/api/environments/\(environment)").status == 200)
            #expect(try await developer.get("/api/projects").items.count == 1)
        }
    }

    @Test("Revoking a token, expiring it or removing its member stops it on the very next request", arguments: TestDatabase.all)
    func revocation(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let member = try await admin.createMember(role: BuiltInRole.viewer, scope: "org")
            let caller = admin.acting(as: member.token)
            #expect(try await caller.get("/api/me").status == 200)
            let own = try await caller.post("/api/tokens", ["name": "short"])
            let ownToken = try #require(own["token"] as? String)
            #expect(try await caller.delete("/api/tokens/\(own.id)").status == 204)
            #expect(try await admin.acting(as: ownToken).get("/api/me").status == 401)

            #expect(try await admin.delete("/api/users/\(member.user)").status == 204)
            let after = try await caller.get("/api/me")
            #expect(after.status == 401)
            #expect(after.errorCode == "unauthenticated")
        }
    }

    @Test("Changing a role's policies takes effect on its members' very next request", arguments: TestDatabase.all)
    func roleChangeIsImmediate(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let role = try await admin.post("/api/roles", ["name": "reader", "policies": ["audit:read"]])
            let user = try await admin.post("/api/users", ["email": "reader@example.com", "name": "Reader"])
            #expect(try await admin.post("/api/assignments", ["userId": user.id, "roleId": role.id, "scope": "org"]).status == 201)
            let reader = admin.acting(as: try await admin.mintToken(for: user.id))
            #expect(try await reader.get("/api/audit-logs").status == 200)
            #expect(try await reader.get("/api/spaces").status == 403)
            #expect(try await admin.request(.put, "/api/roles/\(role.id)", json: ["name": "reader", "policies": ["spaces:read"]]).status == 200)
            #expect(try await reader.get("/api/spaces").status == 200)
            #expect(try await reader.get("/api/audit-logs").status == 403)
        }
    }

    @Test("A token is refused once its expiry passes, even right after a request", arguments: TestDatabase.all)
    func expiryIsExact(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            // Whole seconds on the wire, and a loaded machine may deliver the request after a short expiry
            // has passed (400, not in the future): then ask again with a longer one.
            var expiresAt = Date()
            var created: Reply?
            for lifetime in [4.0, 10.0, 30.0] where created?.status != 201 {
                expiresAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + lifetime).rounded(.down))
                created = try await admin.post("/api/tokens", ["name": "brief", "expiresAt": ISO8601DateFormatter().string(from: expiresAt)])
            }
            let brief = admin.acting(as: try #require(created?["token"] as? String, "\(created?.text ?? "")"))
            if Date() < expiresAt.addingTimeInterval(-0.5) { #expect(try await brief.get("/api/me").status == 200) }
            try await Task.sleep(for: .seconds(max(0, expiresAt.timeIntervalSinceNow) + 0.2))
            #expect(try await brief.get("/api/me").status == 401)
        }
    }

    @Test("A replica sharing the database stops honouring a revoked token: at once on PostgreSQL, within 5 s on SQLite",
          arguments: TestDatabase.all)
    func revocationReachesReplicas(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { first in
            let created = try await first.post("/api/tokens", ["name": "shared"])
            let secret = try #require(created["token"] as? String)
            try await TestApp.run(db, settings: ["database": first.databaseURL]) { second in
                let replica = second.acting(as: secret)
                #expect(try await replica.get("/api/me").status == 200)
                #expect(try await first.delete("/api/tokens/\(created.id)").status == 204)
                // PostgreSQL NOTIFYs the other replica when the revocation commits; a second process on a
                // SQLite file only learns it when its cached caller ages out (5 s after it was read). The
                // wait allows for a loaded CI machine: once, mid-suite, 6 s was not enough.
                let bound: Duration = db == .postgres ? .seconds(2) : .seconds(15)
                let start = ContinuousClock.now
                var status = try await replica.get("/api/me").status
                while status == 200, ContinuousClock.now - start < bound {
                    try await Task.sleep(for: .milliseconds(50))
                    status = try await replica.get("/api/me").status
                }
                #expect(status == 401, "still \(status) \(ContinuousClock.now - start) after the revocation")
            }
        }
    }

    @Test("Removing an assignment takes effect at once; the last org admin assignment cannot be removed", arguments: TestDatabase.all)
    func assignments(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let me = try await admin.get("/api/me")
            let adminGrant = try #require((me.data["assignments"] as? [[String: Any]])?.first?["id"] as? String)
            let last = try await admin.delete("/api/assignments/\(adminGrant)")
            #expect(last.status == 409)
            #expect(last.errorCode == "conflict")

            let second = try await admin.createMember(role: BuiltInRole.admin, scope: "org")
            #expect(try await admin.delete("/api/assignments/\(adminGrant)").status == 204)
            #expect(try await admin.get("/api/spaces").status == 403)
            let secondAdmin = admin.acting(as: second.token)
            let grants = try await secondAdmin.get("/api/assignments").items.filter { $0["roleId"] as? String == "role_admin" }
            #expect(grants.count == 1)
            #expect(try await secondAdmin.delete("/api/assignments/\(grants[0]["id"] as! String)").status == 409)
            #expect(try await secondAdmin.delete("/api/users/\(second.user)").status == 409)
        }
    }

    @Test("Assignments validate the member, the role and the scope", arguments: TestDatabase.all)
    func assignmentValidation(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let user = try await admin.post("/api/users", ["email": "ada@example.com", "name": "Ada"])
            for (body, field) in [
                (["userId": user.id, "roleId": "role_viewer", "scope": "team:x"], "scope"),
                (["userId": user.id, "roleId": "role_viewer", "scope": "project:prj_01hzzzzzzzzzzzzzzzzzzzzzzz"], "scope"),
                (["userId": "usr_01hzzzzzzzzzzzzzzzzzzzzzzz", "roleId": "role_viewer", "scope": "org"], "userId"),
                (["userId": user.id, "roleId": "role_owner", "scope": "org"], "roleId"),
            ] {
                let reply = try await admin.post("/api/assignments", body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.fieldNames == [field], "\(body): \(reply.text)")
            }
            #expect(try await admin.post("/api/assignments", ["userId": user.id, "roleId": "role_viewer", "scope": "org"]).status == 201)
            #expect(try await admin.post("/api/assignments", ["userId": user.id, "roleId": "role_viewer", "scope": "org"]).errorCode == "conflict")
            #expect(try await admin.post("/api/users", ["email": "ADA@example.com", "name": "Ada"]).errorCode == "conflict")
        }
    }

    @Test("Custom roles: known policies only, built-in names taken, built-ins unchangeable, in-use roles kept", arguments: TestDatabase.all)
    func customRoles(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            #expect(try await admin.get("/api/policies").json["data"] as? [String] == Policies.all)
            #expect(try await admin.post("/api/roles", ["name": "x", "policies": ["projects:fly"]]).fieldNames == ["policies"])
            #expect(try await admin.post("/api/roles", ["name": "Viewer", "policies": ["projects:read"]]).errorCode == "conflict")
            #expect(try await admin.request(.put, "/api/roles/role_admin", json: ["name": "admin", "policies": []]).status == 403)
            #expect(try await admin.delete("/api/roles/role_viewer").status == 403)
            let role = try await admin.post("/api/roles", ["name": "auditor", "policies": ["audit:read"]])
            #expect(role.status == 201)
            #expect(role.header("ETag") == "\"1\"")
            let replaced = try await admin.request(.put, "/api/roles/\(role.id)", json: ["name": "auditor", "policies": ["audit:read", "projects:read"]],
                                                   headers: ["If-Match": "\"1\""])
            #expect(replaced.status == 200)
            #expect(replaced["version"] as? Int == 2)
            #expect(try await admin.request(.put, "/api/roles/\(role.id)", json: ["name": "auditor", "policies": []], headers: ["If-Match": "\"1\""]).status == 412)
            let user = try await admin.post("/api/users", ["email": "audit@example.com", "name": "Auditor"])
            #expect(try await admin.post("/api/assignments", ["userId": user.id, "roleId": role.id, "scope": "org"]).status == 201)
            let inUse = try await admin.delete("/api/roles/\(role.id)")
            #expect(inUse.status == 409)
            #expect(inUse.errorCode == "has_children")
            let auditor = admin.acting(as: try await admin.mintToken(for: user.id))
            #expect(try await auditor.get("/api/audit-logs").status == 200)
            #expect(try await auditor.get("/api/spaces").status == 403)
        }
    }

    @Test("Over the per-token rate limit: 429 rate_limited with Retry-After", arguments: TestDatabase.all)
    func rateLimit(_ db: TestDatabase) async throws {
        // One request a minute: the second, sent well within the minute even on a loaded machine, is over.
        try await TestApp.run(db, settings: [Settings.keys.rateLimit: "1"]) { admin in
            #expect(try await admin.get("/api/me").status == 200)
            let limited = try await admin.get("/api/me")
            #expect(limited.status == 429)
            #expect(limited.errorCode == "rate_limited")
            #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        }
    }
}
