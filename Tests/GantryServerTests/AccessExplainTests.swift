import Foundation
import GantryCore
import Testing

/// docs/api.md §9 "Why can't I?": refusals say which policy was checked at which scope, and `GET /access/explain`
/// says which assignments grant an action on a resource, or what would. The access matrix checks, for every role,
/// scope and operation, that both agree with the answers the routes give.
@Suite("Access explanations")
struct AccessExplainTests {
    static func explain(_ app: TestApp, _ action: String, _ resource: String, user: String? = nil) async throws -> Reply {
        try await app.get("/api/access/explain?action=\(action)&resource=\(resource)" + (user.map { "&userId=\($0)" } ?? ""))
    }

    static func details(_ reply: Reply) -> [String: Any] {
        (reply.json["error"] as? [String: Any])?["details"] as? [String: Any] ?? [:]
    }

    @Test("A 403 names the policy it checked and the scope it checked it at", arguments: TestDatabase.all)
    func refusalDetails(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let tree = try await admin.createTree()
            let viewer = admin.acting(as: try await admin.createMember(role: "role_viewer", scope: "environment:\(tree.environment)").token)
            let deploy = try await viewer.post("/api/deployments/\(tree.deployment)/deploy")
            #expect(deploy.status == 403)
            #expect(Self.details(deploy)["policy"] as? String == "deployments:deploy")
            #expect(Self.details(deploy)["scope"] as? String == "environment:\(tree.environment)")
            let space = try await viewer.post("/api/spaces", ["name": "s", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig()])
            #expect(space.status == 403)
            #expect(Self.details(space)["policy"] as? String == "spaces:write")
            #expect(Self.details(space)["scope"] as? String == "org")
        }
    }

    @Test("An allowed action lists every assignment that grants it, at its scope or one above", arguments: TestDatabase.all)
    func allowedListsGrants(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let tree = try await admin.createTree()
            let member = try await admin.createMember(role: "role_developer", scope: "project:\(tree.project)")
            let extra = try await admin.post("/api/assignments", ["userId": member.user, "roleId": "role_developer", "scope": "environment:\(tree.environment)"])
            try #require(extra.status == 201)
            let reply = try await Self.explain(admin.acting(as: member.token), "deployments:deploy", tree.deployment)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply["allowed"] as? Bool == true)
            #expect(reply["visible"] as? Bool == true)
            let grants = try #require(reply["grants"] as? [[String: Any]])
            #expect(Set(grants.compactMap { $0["scope"] as? String }) == ["project:\(tree.project)", "environment:\(tree.environment)"])
            #expect(grants.allSatisfy { $0["roleId"] as? String == "role_developer" && $0["policy"] as? String == "deployments:deploy" })
            #expect(grants.contains { $0["assignmentId"] as? String == extra.id })
        }
    }

    @Test("A refused action says the nearest scope and the roles that would allow it", arguments: TestDatabase.all)
    func refusedSaysWhy(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let tree = try await admin.createTree()
            let viewer = admin.acting(as: try await admin.createMember(role: "role_viewer", scope: "project:\(tree.project)").token)
            let reply = try await Self.explain(viewer, "deployments:deploy", tree.environment)
            #expect(reply["allowed"] as? Bool == false)
            #expect(reply["visible"] as? Bool == true)
            #expect((reply["grants"] as? [Any])?.isEmpty == true)
            let reason = try #require(reply["reason"] as? String)
            #expect(reason.contains("environment:\(tree.environment)"), "\(reason)")
            #expect(reason.contains("admin") && reason.contains("developer") && !reason.contains("viewer"), "\(reason)")
        }
    }

    @Test("A resource the member cannot see, or that does not exist, is visible: false and discloses nothing", arguments: TestDatabase.all)
    func hiddenResource(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let tree = try await admin.createTree()
            let other = try await admin.createProject()
            let member = admin.acting(as: try await admin.createMember(role: "role_developer", scope: "project:\(tree.project)").token)
            let hidden = try await Self.explain(member, "projects:read", other)
            let missing = try await Self.explain(member, "projects:read", "prj_" + String(repeating: "0", count: 26))
            for reply in [hidden, missing] {
                #expect(reply.status == 200, "\(reply.text)")
                #expect(reply["visible"] as? Bool == false)
                #expect(reply["allowed"] as? Bool == false)
            }
            #expect(hidden["reason"] as? String == missing["reason"] as? String, "the same answer whether it exists or not")
        }
    }

    @Test("Asking about another member needs members:read at org; an admin may", arguments: TestDatabase.all)
    func askingAboutSomeoneElse(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            let tree = try await admin.createTree()
            let developer = try await admin.createMember(role: "role_developer", scope: "environment:\(tree.environment)")
            let viewer = try await admin.createMember(role: "role_viewer", scope: "environment:\(tree.environment)")
            let refused = try await Self.explain(admin.acting(as: viewer.token), "deployments:deploy", tree.deployment, user: developer.user)
            #expect(refused.status == 403)
            #expect(Self.details(refused)["policy"] as? String == "members:read")
            let answered = try await Self.explain(admin, "deployments:deploy", tree.deployment, user: developer.user)
            #expect(answered["allowed"] as? Bool == true, "about the developer, not the admin asking: \(answered.text)")
            let aboutViewer = try await Self.explain(admin, "deployments:deploy", tree.deployment, user: viewer.user)
            #expect(aboutViewer["allowed"] as? Bool == false)
            let unknown = try await Self.explain(admin, "deployments:deploy", tree.deployment, user: "usr_" + String(repeating: "0", count: 26))
            #expect(unknown.status == 404)
        }
    }

    @Test("An unknown action, a malformed resource or user ID is 400 naming the field", arguments: TestDatabase.all)
    func badQuestions(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            for (query, field) in [("action=deploy:all&resource=org", "action"), ("action=projects:read&resource=prj_nope", "resource"),
                                   ("action=projects:read&resource=org&userId=bob", "userId")] {
                let reply = try await admin.get("/api/access/explain?\(query)")
                #expect(reply.status == 400, "\(query): \(reply.text)")
                #expect(reply.text.contains("\"\(field)\""), "\(query): \(reply.text)")
            }
        }
    }

    @Test("The document lists exactly the policies the server knows as explain's actions")
    func documentedActions() async throws {
        try await TestApp.run(.sqlite) { app in
            let document = try await app.request(.get, "/api/openapi.json", token: .some(nil)).json
            let paths = try #require(document["paths"] as? [String: Any])
            let get = try #require((paths["/access/explain"] as? [String: Any])?["get"] as? [String: Any])
            let action = try #require((get["parameters"] as? [[String: Any]])?.first { $0["name"] as? String == "action" })
            #expect((action["schema"] as? [String: Any])?["enum"] as? [String] == Policies.all)
        }
    }
}
