import Foundation
import GantryStorage
import SQLKit
import Testing

/// docs/api.md §2: envelope, errors, pagination, versions, idempotency — on every database.
@Suite("API conventions")
struct ConventionsTests {
    @Test("A create answers 201 with Location, ETag and the body", arguments: TestDatabase.all)
    func createAnswers201(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let reply = try await app.post("/api/projects", ["name": "checkout"])
            #expect(reply.status == 201)
            #expect(reply.header("Location") == "/api/projects/\(reply.id)")
            #expect(reply.header("ETag") == "\"1\"")
            #expect(reply["name"] as? String == "checkout")
            #expect(reply["description"] as? String == "")
            #expect(reply["version"] as? Int == 1)
            #expect(reply["createdBy"] as? String == "admin@localhost")
            #expect((reply["createdAt"] as? String)?.hasSuffix("Z") == true)
            #expect(reply.id.hasPrefix("prj_") && reply.id.count == 30)
        }
    }

    @Test("Every response carries X-Request-Id, echoing a well-formed client value", arguments: TestDatabase.all)
    func requestID(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let echoed = try await app.request(.get, "/api/projects", headers: ["X-Request-Id": "abc.DEF_123-x"])
            #expect(echoed.header("X-Request-Id") == "abc.DEF_123-x")
            let replaced = try await app.request(.get, "/api/projects", headers: ["X-Request-Id": "bad id!"])
            #expect(replaced.header("X-Request-Id") != nil && replaced.header("X-Request-Id") != "bad id!")
            // A made id is `req_` and 128 random bits in hex, a new one each time.
            let made = try await [app.get("/api/projects"), app.get("/api/projects")].map { $0.header("X-Request-Id") ?? "" }
            for id in made { #expect(id.wholeMatch(of: /req_[0-9a-f]{32}/) != nil, "\(id)") }
            #expect(made[0] != made[1])
            let error = try await app.get("/api/projects/prj_00000000000000000000000000")
            #expect(error.error["requestId"] as? String == error.header("X-Request-Id"))
        }
    }

    @Test("Invalid JSON is 400 bad_request", arguments: TestDatabase.all)
    func invalidJSON(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let reply = try await app.request(.post, "/api/projects", rawBody: #"{"name": "#)
            #expect(reply.status == 400)
            #expect(reply.errorCode == "bad_request")
        }
    }

    @Test("An unknown body field is 400 validation_failed naming it", arguments: TestDatabase.all)
    func unknownField(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let reply = try await app.post("/api/projects", ["name": "x", "colour": "red"])
            #expect(reply.status == 400)
            #expect(reply.errorCode == "validation_failed")
            #expect(reply.fieldNames.first == "colour")
        }
    }

    @Test("An explicit null for a field that cannot be null is 400 naming it, and nothing is made", arguments: TestDatabase.all)
    func explicitNull(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let reply = try await app.post("/api/projects", ["name": "nullable", "description": NSNull()])
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.errorCode == "validation_failed")
            #expect(reply.text.contains("\"description\""), "\(reply.text)")
            #expect(try await app.get("/api/projects").items.isEmpty)
            // A field the schema lets a PATCH clear still takes null.
            let project = try await app.createProject()
            let environment = try await app.createEnvironment(project: project, space: try await app.createSpace())
            let cleared = try await app.patch("/api/projects/\(project)/environments/\(environment)", ["registryUrl": NSNull()])
            #expect(cleared.status == 200, "\(cleared.text)")
        }
    }

    @Test("A missing or mistyped field is 400 validation_failed naming it", arguments: TestDatabase.all)
    func missingField(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for body in [[String: Any](), ["name": 5]] {
                let reply = try await app.post("/api/projects", body)
                #expect(reply.status == 400)
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames.first == "name")
            }
        }
    }

    @Test("A body that is not JSON is 415", arguments: TestDatabase.all)
    func wrongMediaType(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let reply = try await app.request(.post, "/api/projects", rawBody: #"{"name":"x"}"#, headers: ["Content-Type": "text/plain"])
            #expect(reply.status == 415)
            #expect(reply.errorCode == "unsupported_media_type")
            let charset = try await app.request(.post, "/api/projects", rawBody: #"{"name":"x"}"#,
                                                headers: ["Content-Type": "application/json; charset=utf-8"])
            #expect(charset.status == 201)
        }
    }

    @Test("A 2 MiB body is 413 and creates nothing", arguments: TestDatabase.all)
    func tooLarge(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let huge = String(repeating: "a", count: 2 << 20)
            let reply = try await app.post("/api/projects", ["name": "big", "description": huge])
            #expect(reply.status == 413)
            #expect(reply.errorCode == "payload_too_large")
            #expect(try await app.get("/api/projects").items.isEmpty)
        }
    }

    @Test("A known path with the wrong method is 405; an unknown path is 404", arguments: TestDatabase.all)
    func routing(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let wrongMethod = try await app.request(.put, "/api/projects")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.errorCode == "method_not_allowed")
            #expect(wrongMethod.header("Allow")?.contains("POST") == true)
            let unknown = try await app.get("/api/nowhere")
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "not_found")
        }
    }

    @Test("Missing, malformed, unknown and revoked tokens are 401 with WWW-Authenticate", arguments: TestDatabase.all)
    func unauthenticated(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let created = try await app.post("/api/tokens", ["name": "ci"])
            let secret = try #require(created["token"] as? String)
            #expect(try await app.request(.get, "/api/me", token: .some(secret)).status == 200)
            #expect(try await app.delete("/api/tokens/\(created.id)").status == 204)
            for token: String? in [nil, "nope", "gnt_" + String(repeating: "A", count: 40), secret] {
                let reply = try await app.request(.get, "/api/projects", token: .some(token))
                #expect(reply.status == 401)
                #expect(reply.errorCode == "unauthenticated")
                #expect(reply.header("WWW-Authenticate") == "Bearer")
            }
        }
    }

    @Test("Pagination walks every item once, in creation order", arguments: TestDatabase.all)
    func pagination(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            var created: [String] = []
            for i in 0..<7 { created.append(try await app.createProject("p\(i)")) }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let reply = try await app.get("/api/projects?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(reply.status == 200)
                #expect(reply.items.count <= 3)
                seen += reply.items.compactMap { $0["id"] as? String }
                cursor = reply.json["nextCursor"] as? String
                #expect(reply.json.keys.contains("nextCursor"))
            } while cursor != nil
            #expect(seen == created)
        }
    }

    @Test("A bad limit or cursor is 400 naming the parameter", arguments: TestDatabase.all)
    func badPageParameters(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for (query, field) in [("limit=0", "limit"), ("limit=201", "limit"), ("limit=abc", "limit"), ("cursor=garbage", "cursor")] {
                let reply = try await app.get("/api/projects?\(query)")
                #expect(reply.status == 400, "\(query)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames.first == field)
            }
        }
    }

    @Test("q filters by case-insensitive substring of the name", arguments: TestDatabase.all)
    func nameFilter(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            _ = try await app.createProject("Checkout API")
            _ = try await app.createProject("billing")
            _ = try await app.createProject("100%_off")
            #expect(try await app.get("/api/projects?q=CHECK").items.map { $0["name"] as? String } == ["Checkout API"])
            #expect(try await app.get("/api/projects?q=%25_").items.count == 1)
            #expect(try await app.get("/api/projects?q=zzz").items.isEmpty)
        }
    }

    @Test("A stale If-Match is 412 and changes nothing; a current one succeeds", arguments: TestDatabase.all)
    func ifMatch(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("p")
            let stale = try await app.patch("/api/projects/\(id)", ["name": "q"], headers: ["If-Match": "\"7\""])
            #expect(stale.status == 412)
            #expect(stale.errorCode == "precondition_failed")
            #expect(try await app.get("/api/projects/\(id)")["name"] as? String == "p")
            let fresh = try await app.patch("/api/projects/\(id)", ["name": "q"], headers: ["If-Match": "\"1\""])
            #expect(fresh.status == 200)
            #expect(fresh.header("ETag") == "\"2\"")
            #expect(fresh["version"] as? Int == 2)
            #expect(try await app.delete("/api/projects/\(id)", headers: ["If-Match": "\"1\""]).status == 412)
        }
    }

    @Test("An Idempotency-Key repeat replays the first answer and creates nothing", arguments: TestDatabase.all)
    func idempotencyReplay(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let first = try await app.post("/api/projects", ["name": "once"], headers: ["Idempotency-Key": "k-1"])
            let second = try await app.post("/api/projects", ["name": "once"], headers: ["Idempotency-Key": "k-1"])
            #expect(first.status == 201)
            #expect(second.status == 201)
            #expect(second.body == first.body)
            #expect(second.header("Location") == first.header("Location"))
            #expect(try await app.get("/api/projects").items.count == 1)
        }
    }

    @Test("The same Idempotency-Key with another body is 409 idempotency_key_reused", arguments: TestDatabase.all)
    func idempotencyReuse(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            #expect(try await app.post("/api/projects", ["name": "a"], headers: ["Idempotency-Key": "k-2"]).status == 201)
            let reused = try await app.post("/api/projects", ["name": "b"], headers: ["Idempotency-Key": "k-2"])
            #expect(reused.status == 409)
            #expect(reused.errorCode == "idempotency_key_reused")
            #expect(try await app.get("/api/projects").items.count == 1)
        }
    }

    @Test("A key whose request never answered (its server died) is taken over after 10 minutes, not refused for a day",
          arguments: TestDatabase.all)
    func abandonedIdempotencyClaim(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            // Two claims as a server killed mid-request leaves them: no answer stored. The projects are deleted, as
            // if the requests had never got that far.
            for (key, name) in [("k-dead", "dead"), ("k-slow", "slow")] {
                let made = try await app.post("/api/projects", ["name": name], headers: ["Idempotency-Key": key])
                #expect(made.status == 201)
                #expect(try await app.delete("/api/projects/\(made.id)").status == 204)
            }
            let now = Timestamp.now(), minute: Int64 = 60_000_000
            try await withDirectDatabase(url: app.databaseURL) { database in
                try await database.transaction { sql in
                    try await sql.raw("UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL, created_at = \(bind: now - 11 * minute) WHERE key = 'k-dead'").run()
                    try await sql.raw("UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL, created_at = \(bind: now - minute) WHERE key = 'k-slow'").run()
                }
            }
            let retried = try await app.post("/api/projects", ["name": "dead"], headers: ["Idempotency-Key": "k-dead"])
            #expect(retried.status == 201)
            #expect(retried.header("Idempotent-Replayed") == nil)
            let early = try await app.post("/api/projects", ["name": "slow"], headers: ["Idempotency-Key": "k-slow"])
            #expect(early.status == 409)
            #expect(early.errorCode == "conflict")
            // The retry's answer is stored like any other: sent once more, it replays.
            let replayed = try await app.post("/api/projects", ["name": "dead"], headers: ["Idempotency-Key": "k-dead"])
            #expect(replayed.header("Idempotent-Replayed") == "true")
            #expect(replayed.id == retried.id)
        }
    }

    @Test("The OpenAPI documents are served without a token", arguments: [TestDatabase.sqlite])
    func openAPIDocuments(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let json = try await app.request(.get, "/api/openapi.json", token: .some(nil))
            #expect(json.status == 200)
            #expect(json.json["openapi"] as? String == "3.1.0")
            #expect((json.json["paths"] as? [String: Any])?["/projects/stats"] != nil)
            let yaml = try await app.request(.get, "/api/openapi.yaml", token: .some(nil))
            #expect(yaml.status == 200)
            #expect(yaml.text.hasPrefix("openapi: 3.1.0") || yaml.text.contains("\nopenapi: 3.1.0"))
        }
    }

    @Test("healthz, readyz and metrics answer without a token", arguments: TestDatabase.all)
    func operationalEndpoints(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let health = try await app.request(.get, "/healthz", token: .some(nil))
            #expect(health.status == 200)
            #expect(health.json["status"] as? String == "ok")
            #expect(try await app.request(.get, "/readyz", token: .some(nil)).status == 200)
            #expect(try await app.request(.get, "/metrics", token: .some(nil)).status == 200)
        }
    }
}
