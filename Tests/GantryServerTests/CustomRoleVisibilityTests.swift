import Foundation
import Testing

/// docs/api.md §3 visibility with custom roles: a caller sees a project when it holds `projects:read` on it or any read
/// on one of its environments; it then sees only the environments it may read. What it cannot see is 404 and absent
/// from lists and stats; what it can see but not change is 403. (The access matrix checks every policy at every scope;
/// these are the cases found broken, spelled out.)
@Suite("Custom role visibility")
struct CustomRoleVisibilityTests {
    static func member(_ admin: TestApp, policies: [String], scope: String) async throws -> TestApp {
        let role = try await admin.post("/api/roles", ["name": "r-\(UUID().uuidString.prefix(8))", "policies": policies])
        try #require(role.status == 201, "\(role.text)")
        return admin.acting(as: try await admin.createMember(role: role.id, scope: scope).token)
    }

    /// Decision: listing the environments of a project the caller sees is a filtered list, never a refusal: 200 with
    /// the environments it may read — none here. A 403 would confirm that environments exist which the caller may not
    /// see, and the rule says it sees the project but "only the environments it may read". One environment it may not
    /// read is 404 by the nested and the flat path alike.
    @Test("projects:read alone at org sees the project, an empty environment list, and 404 for its environments", arguments: TestDatabase.all)
    func projectReaderSeesNoEnvironments(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let tree = try await admin.createTree()
            let caller = try await Self.member(admin, policies: ["projects:read"], scope: "org")
            #expect(try await caller.get("/api/projects/\(tree.project)").status == 200)
            let list = try await caller.get("/api/projects/\(tree.project)/environments")
            #expect(list.status == 200, "\(list.text)")
            #expect(list.items.isEmpty)
            for path in ["/api/projects/\(tree.project)/environments/\(tree.environment)", "/api/environments/\(tree.environment)",
                         "/api/environments/\(tree.environment)/deployments", "/api/deployments/\(tree.deployment)"] {
                let reply = try await caller.get(path)
                #expect(reply.status == 404, "\(path): \(reply.text)")
                #expect(reply.errorCode == "not_found")
            }
            let stats = try await caller.get("/api/projects/stats").items.first { $0["projectId"] as? String == tree.project }
            #expect(stats?["environmentCount"] as? Int == 0, "counts include only what the caller can see")
        }
    }

    @Test("environments:read at project scope sees the project in GET /projects and /projects/stats", arguments: TestDatabase.all)
    func environmentReaderSeesProject(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let tree = try await admin.createTree()
            let other = try await admin.createProject()
            let caller = try await Self.member(admin, policies: ["environments:read"], scope: "project:\(tree.project)")
            #expect(try await caller.get("/api/projects").items.compactMap { $0["id"] as? String } == [tree.project])
            let cards = try await caller.get("/api/projects/stats").items
            #expect(cards.compactMap { $0["projectId"] as? String } == [tree.project])
            #expect(cards.first?["environmentCount"] as? Int == 1)
            #expect(try await caller.get("/api/projects/\(tree.project)").status == 200)
            #expect(try await caller.get("/api/projects/\(tree.project)/environments").items.count == 1)
            #expect(try await caller.get("/api/projects/\(other)").status == 404)
            // Seen, not changeable.
            #expect(try await caller.patch("/api/projects/\(tree.project)", ["description": "x"]).status == 403)
            #expect(try await caller.patch("/api/projects/\(tree.project)/environments/\(tree.environment)", ["name": "x"]).status == 403)
        }
    }

    @Test("projects:write without a read cannot change (or learn of) a project: 404, not 200 or 403", arguments: TestDatabase.all)
    func writerWithoutReadGets404(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let project = try await admin.createProject("kept")
            for scope in ["org", "project:\(project)"] {
                let caller = try await Self.member(admin, policies: ["projects:write", "projects:delete"], scope: scope)
                let patch = try await caller.patch("/api/projects/\(project)", ["name": "renamed"])
                #expect(patch.status == 404, "\(scope): \(patch.text)")
                #expect(patch.errorCode == "not_found")
                #expect(try await caller.delete("/api/projects/\(project)").status == 404, "\(scope)")
                #expect(try await caller.get("/api/projects").items.isEmpty, "\(scope)")
            }
            #expect(try await admin.get("/api/projects/\(project)")["name"] as? String == "kept")
        }
    }
}
