import Foundation
import GantryStorage
import SQLKit
import Testing

/// Concurrency: uniqueness and parent/child rules hold under racing requests, and races never surface as 500s.
@Suite("Races")
struct RaceTests {
    @Test("50 concurrent creates of one name: exactly one 201, 49 × 409 conflict, never 500", arguments: TestDatabase.all)
    func concurrentCreates(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for i in 0..<50 {
                    // Vary the case: uniqueness ignores it.
                    let name = i.isMultiple(of: 2) ? "checkout" : "Checkout"
                    group.addTask { try await app.post("/api/projects", ["name": name]) }
                }
                var replies: [Reply] = []
                for try await reply in group { replies.append(reply) }
                return replies
            }
            let statuses = replies.map(\.status)
            #expect(!statuses.contains(500), "\(replies.filter { $0.status == 500 }.first?.text ?? "")")
            #expect(statuses.filter { $0 == 201 }.count == 1, "\(statuses)")
            let conflicts = replies.filter { $0.status == 409 }
            #expect(conflicts.count == 49, "\(statuses)")
            for conflict in conflicts {
                #expect(conflict.errorCode == "conflict")
                #expect((conflict.error["details"] as? [String: Any])?["field"] as? String == "name")
            }
            let listed = try await app.get("/api/projects").items
            #expect(listed.count == 1)
            #expect(listed.first?["id"] as? String == replies.first { $0.status == 201 }?.id)
        }
    }

    @Test("Concurrent renames onto one name: exactly one wins, the rest 409, never 500", arguments: TestDatabase.all)
    func concurrentRenames(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            var ids: [String] = []
            for i in 0..<20 { ids.append(try await app.createProject("p\(i)")) }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for id in ids { group.addTask { try await app.patch("/api/projects/\(id)", ["name": "winner"]).status } }
                var statuses: [Int] = []
                for try await status in group { statuses.append(status) }
                return statuses
            }
            #expect(statuses.filter { $0 == 200 }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == 409 }.count == 19, "\(statuses)")
            #expect(try await app.get("/api/projects?q=winner").items.count == 1)
        }
    }

    @Test("Project deletes racing environment creates never leave a live environment under a deleted project", arguments: TestDatabase.all)
    func deleteRacesEnvironmentCreate(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let space = try await app.createSpace()
            var unexpected: [String] = []
            for round in 0..<8 {
                let project = try await app.createProject("race-\(round)")
                let replies = try await withThrowingTaskGroup(of: (String, Reply).self) { group in
                    group.addTask { ("DELETE", try await app.delete("/api/projects/\(project)")) }
                    for i in 0..<6 {
                        group.addTask {
                            let reply = try await app.post(
                                "/api/projects/\(project)/environments",
                                ["name": "env-\(i)", "spaceId": space, "namespace": "r\(round)-env-\(i)"]
                            )
                            return ("POST", reply)
                        }
                    }
                    group.addTask { ("DELETE", try await app.delete("/api/projects/\(project)")) }
                    var replies: [(String, Reply)] = []
                    for try await reply in group { replies.append(reply) }
                    return replies
                }
                for (method, reply) in replies {
                    let allowed: Set<Int> = method == "DELETE" ? [204, 404, 409] : [201, 404]
                    if !allowed.contains(reply.status) { unexpected.append("round \(round) \(method): \(reply.status) \(reply.text)") }
                    if reply.status == 409 { #expect(reply.errorCode == "has_children") }
                }
                // The API agrees with itself: a deleted project has no reachable environments, a live one lists them all.
                let created = replies.filter { $0.0 == "POST" && $0.1.status == 201 }.map(\.1.id)
                let projectGet = try await app.get("/api/projects/\(project)")
                if projectGet.status == 200 {
                    let listed = try await app.get("/api/projects/\(project)/environments?limit=200").items.compactMap { $0["id"] as? String }
                    #expect(Set(listed) == Set(created))
                } else {
                    #expect(projectGet.status == 404)
                    #expect(created.isEmpty, "round \(round): environments created under a project that was deleted: \(replies.map { ($0.0, $0.1.status) })")
                }
            }
            #expect(unexpected.isEmpty, "\(unexpected)")
            let orphans = try await withDirectDatabase(url: app.databaseURL) { db in
                try await db.read { sql in
                    try await sql.raw("""
                        SELECT COUNT(*) AS n FROM environments e JOIN projects p ON p.id = e.project_id
                        WHERE e.deleted_at IS NULL AND p.deleted_at IS NOT NULL
                        """).first().map { try $0.decode(column: "n", as: Int.self) } ?? -1
                }
            }
            #expect(orphans == 0)
        }
    }
}
