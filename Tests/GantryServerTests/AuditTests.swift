import Foundation
import GantryCore
import GantryServer
import GantryStorage
import SQLKit
import Testing

/// docs/api.md §5: one entry per successful change, in its transaction; roll-up, filters, export and the hash chain.
@Suite("Audit log")
struct AuditTests {
    @Test("Every successful change writes exactly one entry; refused and failed requests write none", arguments: TestDatabase.all)
    func oneEntryPerChange(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let before = try await Self.count(app)
            let project = try await app.createProject("checkout")
            #expect(try await Self.count(app) == before + 1)
            #expect(try await app.post("/api/projects", ["name": "CHECKOUT"]).status == 409)
            #expect(try await app.patch("/api/projects/\(project)", ["name": ""]).status == 400)
            #expect(try await app.delete("/api/projects/\(project)?dryRun=true").status == 200)
            #expect(try await app.patch("/api/projects/\(project)", ["name": "x"], headers: ["If-Match": "\"9\""]).status == 412)
            let viewer = app.acting(as: try await app.createMember(role: BuiltInRole.viewer, scope: "org").token)
            let afterMember = try await Self.count(app)   // user.created, assignment.created, token.created
            #expect(afterMember == before + 4)
            #expect(try await viewer.patch("/api/projects/\(project)", ["name": "y"]).status == 403)
            #expect(try await Self.count(app) == afterMember)

            #expect(try await app.patch("/api/projects/\(project)", ["name": "checkout-v2"]).status == 200)
            let latest = try await app.get("/api/audit-logs?limit=1").items[0]
            #expect(latest["action"] as? String == "project.updated")
            #expect(latest["projectId"] as? String == project)
            let changes = latest["changes"] as? [String: Any]
            #expect((changes?["name"] as? [String: Any])?["from"] as? String == "checkout")
            #expect((changes?["name"] as? [String: Any])?["to"] as? String == "checkout-v2")
            #expect(changes?["description"] == nil)
            let actor = latest["actor"] as? [String: Any]
            #expect(actor?["type"] as? String == "user")
            #expect(actor?["email"] as? String == "admin@localhost")
            #expect((latest["requestId"] as? String)?.isEmpty == false)
            #expect(latest["prevHash"] is String)
        }
    }

    @Test("Filtering by project or environment rolls up everything below; newest first with cursors", arguments: TestDatabase.all)
    func rollUp(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let (project, _, environment, deployment) = try await app.createTree()
            #expect(try await app.patch("/api/deployments/\(deployment)", ["replicas": 2]).status == 200)
            let projectEntries = try await app.get("/api/audit-logs?projectId=\(project)").items.map { $0["action"] as? String ?? "" }
            #expect(projectEntries == ["deployment.updated", "deployment.created", "environment.created", "project.created"])
            let environmentEntries = try await app.get("/api/audit-logs?environmentId=\(environment)").items.map { $0["action"] as? String ?? "" }
            #expect(environmentEntries == ["deployment.updated", "deployment.created", "environment.created"])
            #expect(try await app.get("/api/audit-logs?deploymentId=\(deployment)&action=deployment.created").items.count == 1)
            #expect(try await app.get("/api/audit-logs?resourceType=space").items.count == 1)
            #expect(try await app.get("/api/audit-logs?actor=ADMIN@localhost&limit=200").items.count >= 5)
            #expect(try await app.get("/api/audit-logs?actor=nobody@example.com").items.isEmpty)
            #expect(try await app.get("/api/audit-logs?projectId=nope").fieldNames == ["projectId"])

            let first = try await app.get("/api/audit-logs?projectId=\(project)&limit=3")
            let cursor = try #require(first.json["nextCursor"] as? String)
            let second = try await app.get("/api/audit-logs?projectId=\(project)&limit=3&cursor=\(cursor)")
            #expect(second.items.map { $0["action"] as? String } == ["project.created"])
            let future = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
            #expect(try await app.get("/api/audit-logs?from=\(future)").items.isEmpty)
        }
    }

    @Test("No credential or token secret ever reaches the audit log", arguments: TestDatabase.all)
    func noSecrets(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            let account = try await app.post("/api/cloud-accounts", ["name": "aws", "provider": "aws",
                "credentials": ["accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": secret]])
            #expect(account.status == 201)
            #expect(try await app.patch("/api/cloud-accounts/\(account.id)", ["credentials": ["accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": secret + "2"]]).status == 200)
            _ = try await app.createSpace()
            let token = try await app.post("/api/tokens", ["name": "ci"])
            let tokenSecret = try #require(token["token"] as? String)
            let export = try await app.get("/api/audit-logs/export").text
            let list = try await app.get("/api/audit-logs?limit=200").text
            for text in [export, list] {
                for needle in [secret, tokenSecret, app.token, TestApp.clusterToken, AccessToken.hash(tokenSecret)] {
                    #expect(!text.contains(needle))
                }
            }
            #expect(list.contains("cloud_account.updated"))
        }
    }

    @Test("Export streams every matching entry as NDJSON, oldest first", arguments: TestDatabase.all)
    func export(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for index in 0..<30 { _ = try await app.createProject("p\(index)") }
            let reply = try await app.get("/api/audit-logs/export?resourceType=project")
            #expect(reply.header("Content-Type")?.hasPrefix("application/x-ndjson") == true)
            let lines = reply.text.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(lines.count == 30)
            #expect(lines.first??["action"] as? String == "project.created")
            let ids = lines.compactMap { $0?["id"] as? String }
            #expect(ids == ids.sorted())
        }
    }

    @Test("50 concurrent writers leave a chain that verifies; a row altered in the database is named", arguments: TestDatabase.all)
    func chain(_ db: TestDatabase) async throws {
        try await TestApp.run(db, settings: [Settings.keys.rateLimit: "0"]) { app in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<50 { group.addTask { try await app.post("/api/projects", ["name": "concurrent-\(index)"]).status } }
                for try await status in group { #expect(status == 201) }
            }
            let verified = try await app.get("/api/audit-logs/verify").data
            #expect(verified["ok"] as? Bool == true)
            #expect(verified["entries"] as? Int ?? 0 >= 51)
            #expect(verified["firstBadId"] is NSNull)

            let victim = try await app.get("/api/audit-logs?limit=10").items[5]["id"] as! String
            try await withDirectDatabase(url: app.databaseURL) { database in
                try await database.transaction { sql in
                    try await sql.raw("UPDATE audit_logs SET action = 'project.deleted' WHERE id = \(bind: victim)").run()
                }
            }
            let broken = try await app.get("/api/audit-logs/verify").data
            #expect(broken["ok"] as? Bool == false)
            #expect(broken["firstBadId"] as? String == victim)
        }
    }

    static func count(_ app: TestApp) async throws -> Int {
        try await app.get("/api/audit-logs/verify").data["entries"] as? Int ?? -1
    }
}
