import Foundation
import GantryStorage
import SQLKit
import Testing

/// docs/api.md §4, `GET /projects/stats`: one card per live project, live counts, status buckets, last deploy.
@Suite("Project stats")
struct StatsTests {
    static let bucketKeys = ["running", "deploying", "degraded", "failed", "stopped", "pending", "unknown"]

    static func card(_ reply: Reply, _ project: String) -> [String: Any]? {
        reply.items.first { $0["projectId"] as? String == project }
    }

    static func buckets(_ card: [String: Any]?) -> [String: Int] {
        (card?["statusBuckets"] as? [String: Any])?.compactMapValues { $0 as? Int } ?? [:]
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static func parse(_ value: Any?) -> Date? {
        guard let text = value as? String else { return nil }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }

    /// Writes what only the deployer writes: a deployment's observed status and last deploy time.
    static func observe(_ app: TestApp, deployment id: String, status: String, deployedAt: Date? = nil) async throws {
        let micros = deployedAt.map(Timestamp.micros)
        try await withDirectDatabase(url: app.databaseURL) { db in
            try await db.transaction { sql in
                try await sql.raw("""
                    UPDATE deployments SET status = \(bind: status), last_deployed_at = \(bind: micros) WHERE id = \(bind: id)
                    """).run()
            }
        }
    }

    @Test("One card per live project, in GET /projects order, all in one response", arguments: TestDatabase.all)
    func oneCardPerProject(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            var created: [String] = []
            for i in 0..<60 { created.append(try await app.createProject("p\(i)")) }
            let projects = try await app.get("/api/projects?limit=200").items.compactMap { $0["id"] as? String }
            let stats = try await app.get("/api/projects/stats")
            #expect(stats.status == 200)
            #expect(stats.items.compactMap { $0["projectId"] as? String } == projects)
            #expect(projects == created)
            #expect(stats.items.compactMap { $0["name"] as? String } == (0..<60).map { "p\($0)" })
            #expect(stats.json["nextCursor"] is NSNull || stats.json["nextCursor"] == nil)
        }
    }

    @Test("An empty organization has no cards", arguments: TestDatabase.all)
    func empty(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let stats = try await app.get("/api/projects/stats")
            #expect(stats.status == 200)
            #expect(stats.items.isEmpty)
        }
    }

    @Test("Every bucket key is present with 0, and lastDeployAt is null, for a project without deployments", arguments: TestDatabase.all)
    func zeroBuckets(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let id = try await app.createProject("empty")
            let card = try #require(Self.card(try await app.get("/api/projects/stats"), id))
            #expect(card["environmentCount"] as? Int == 0)
            #expect(card["serviceCount"] as? Int == 0)
            let buckets = try #require(card["statusBuckets"] as? [String: Any])
            #expect(Set(buckets.keys) == Set(Self.bucketKeys))
            for key in Self.bucketKeys { #expect(buckets[key] as? Int == 0, "\(key)") }
            #expect(card.keys.contains("lastDeployAt"))
            #expect(card["lastDeployAt"] is NSNull)
        }
    }

    @Test("New deployments count as pending; environmentCount and serviceCount count live rows", arguments: TestDatabase.all)
    func counts(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let staging = try await app.createEnvironment(project: tree.project, space: tree.space, name: "staging")
            _ = try await app.createDeployment(environment: staging, name: "web")
            _ = try await app.createDeployment(environment: staging, name: "worker")
            let other = try await app.createProject("other")
            let card = try #require(Self.card(try await app.get("/api/projects/stats"), tree.project))
            #expect(card["environmentCount"] as? Int == 2)
            #expect(card["serviceCount"] as? Int == 3)
            #expect(Self.buckets(card)["pending"] == 3)
            #expect(Self.buckets(card).values.reduce(0, +) == 3)
            let otherCard = try #require(Self.card(try await app.get("/api/projects/stats"), other))
            #expect(otherCard["environmentCount"] as? Int == 0)
            #expect(otherCard["serviceCount"] as? Int == 0)
        }
    }

    @Test("Deleted deployments and environments do not count", arguments: TestDatabase.all)
    func deletedChildrenDoNotCount(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let extra = try await app.createDeployment(environment: tree.environment, name: "web")
            let staging = try await app.createEnvironment(project: tree.project, space: tree.space, name: "staging")
            try await Self.observe(app, deployment: extra, status: "failed", deployedAt: Date())
            #expect(try await app.delete("/api/deployments/\(extra)").status == 204)
            #expect(try await app.delete("/api/projects/\(tree.project)/environments/\(staging)").status == 204)
            let card = try #require(Self.card(try await app.get("/api/projects/stats"), tree.project))
            #expect(card["environmentCount"] as? Int == 1)
            #expect(card["serviceCount"] as? Int == 1)
            #expect(Self.buckets(card)["pending"] == 1)
            #expect(Self.buckets(card)["failed"] == 0)
            #expect(card["lastDeployAt"] is NSNull)
        }
    }

    @Test("statusBuckets follow each deployment's observed status", arguments: TestDatabase.all)
    func statusBuckets(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let statuses = ["running", "running", "deploying", "degraded", "failed", "stopped", "unknown"]
            var deployments = [tree.deployment]
            for i in 1..<statuses.count {
                deployments.append(try await app.createDeployment(environment: tree.environment, name: "svc-\(i)"))
            }
            let extra = try await app.createDeployment(environment: tree.environment, name: "still-pending")
            for (id, status) in zip(deployments, statuses) { try await Self.observe(app, deployment: id, status: status) }
            let card = try #require(Self.card(try await app.get("/api/projects/stats"), tree.project))
            #expect(card["serviceCount"] as? Int == 8)
            #expect(Self.buckets(card) == [
                "running": 2, "deploying": 1, "degraded": 1, "failed": 1, "stopped": 1, "pending": 1, "unknown": 1,
            ])
            // The deployer's writes are observed state: they do not bump the deployment's version.
            let deployment = try await app.get("/api/deployments/\(deployments[0])")
            #expect(deployment["status"] as? String == "running")
            #expect(deployment["version"] as? Int == 1)
            _ = extra
        }
    }

    @Test("lastDeployAt is the latest lastDeployedAt of the project's live deployments", arguments: TestDatabase.all)
    func lastDeployAt(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let tree = try await app.createTree()
            let second = try await app.createDeployment(environment: tree.environment, name: "web")
            let third = try await app.createDeployment(environment: tree.environment, name: "worker")
            // Whole seconds: the API renders timestamps to the second.
            let older = Date(timeIntervalSince1970: 1_700_000_000)
            let newer = Date(timeIntervalSince1970: 1_700_086_400)
            let newest = Date(timeIntervalSince1970: 1_700_172_800)
            try await Self.observe(app, deployment: tree.deployment, status: "running", deployedAt: newer)
            try await Self.observe(app, deployment: second, status: "running", deployedAt: older)
            // `third` stays null and must not hide the others.
            let other = try await app.createTree()
            try await Self.observe(app, deployment: other.deployment, status: "running", deployedAt: newest)

            let stats = try await app.get("/api/projects/stats")
            let card = try #require(Self.card(stats, tree.project))
            let value = try #require(card["lastDeployAt"] as? String)
            #expect(value.hasSuffix("Z"))
            let parsed = try #require(Self.parse(value))
            #expect(abs(parsed.timeIntervalSince(newer)) < 0.001)
            let otherCard = try #require(Self.card(stats, other.project))
            #expect(Self.parse(otherCard["lastDeployAt"]).map { abs($0.timeIntervalSince(newest)) < 0.001 } == true)

            // Deleting the latest deployment moves lastDeployAt back to the next one.
            #expect(try await app.delete("/api/deployments/\(tree.deployment)").status == 204)
            let after = try #require(Self.card(try await app.get("/api/projects/stats"), tree.project))
            #expect(Self.parse(after["lastDeployAt"]).map { abs($0.timeIntervalSince(older)) < 0.001 } == true)

            // And to null once no live deployment was ever deployed.
            #expect(try await app.delete("/api/deployments/\(second)").status == 204)
            let none = try #require(Self.card(try await app.get("/api/projects/stats"), tree.project))
            #expect(none["lastDeployAt"] is NSNull)
            #expect(none["serviceCount"] as? Int == 1)
            _ = third
        }
    }

    @Test("limit and cursor paginate stats like projects", arguments: TestDatabase.all)
    func pagination(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            var created: [String] = []
            for i in 0..<7 { created.append(try await app.createProject("p\(i)")) }
            let space = try await app.createSpace()
            let environment = try await app.createEnvironment(project: created[4], space: space)
            _ = try await app.createDeployment(environment: environment)
            var seen: [String] = []
            var cards: [[String: Any]] = []
            var cursor: String?
            var pages = 0
            repeat {
                let reply = try await app.get("/api/projects/stats?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(reply.status == 200)
                #expect(reply.items.count <= 3)
                #expect(reply.json.keys.contains("nextCursor"))
                seen += reply.items.compactMap { $0["projectId"] as? String }
                cards += reply.items
                cursor = reply.json["nextCursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen == created)
            #expect(pages == 3)
            let paged = cards.first { $0["projectId"] as? String == created[4] }
            #expect(paged?["environmentCount"] as? Int == 1)
            #expect(paged?["serviceCount"] as? Int == 1)
            #expect(Self.buckets(paged)["pending"] == 1)
        }
    }

    @Test("A bad limit or cursor on stats is 400 naming the parameter", arguments: TestDatabase.all)
    func badPageParameters(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for (query, field) in [("limit=0", "limit"), ("limit=201", "limit"), ("cursor=garbage", "cursor")] {
                let reply = try await app.get("/api/projects/stats?\(query)")
                #expect(reply.status == 400, "\(query)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames.first == field)
            }
        }
    }

    @Test("q filters stats by case-insensitive substring of the name", arguments: TestDatabase.all)
    func nameFilter(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let checkout = try await app.createProject("Checkout API")
            let billing = try await app.createProject("billing")
            let space = try await app.createSpace()
            let environment = try await app.createEnvironment(project: checkout, space: space)
            _ = try await app.createDeployment(environment: environment)
            _ = try await app.createEnvironment(project: billing, space: space)
            let filtered = try await app.get("/api/projects/stats?q=CHECK")
            #expect(filtered.status == 200)
            #expect(filtered.items.compactMap { $0["projectId"] as? String } == [checkout])
            #expect(filtered.items.first?["environmentCount"] as? Int == 1)
            #expect(filtered.items.first?["serviceCount"] as? Int == 1)
            let billingOnly = try await app.get("/api/projects/stats?q=ILL")
            #expect(billingOnly.items.compactMap { $0["projectId"] as? String } == [billing])
            #expect(billingOnly.items.first?["environmentCount"] as? Int == 1)
            #expect(billingOnly.items.first?["serviceCount"] as? Int == 0)
            #expect(try await app.get("/api/projects/stats?q=zzz").items.isEmpty)
            let pagedFilter = try await app.get("/api/projects/stats?q=check&limit=1")
            #expect(pagedFilter.items.compactMap { $0["projectId"] as? String } == [checkout])
        }
    }

    @Test("Deleted projects are absent from stats, and back after a restore", arguments: TestDatabase.all)
    func deletedProjectsAbsent(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let gone = try await app.createProject("gone")
            let kept = try await app.createProject("kept")
            #expect(try await app.delete("/api/projects/\(gone)").status == 204)
            #expect(try await app.get("/api/projects/stats").items.compactMap { $0["projectId"] as? String } == [kept])
            #expect(try await app.get("/api/projects/stats?limit=10").items.compactMap { $0["projectId"] as? String } == [kept])
            #expect(try await app.get("/api/projects/stats?q=gone").items.isEmpty)
            #expect(try await app.request(.post, "/api/projects/\(gone)/restore").status == 200)
            #expect(try await app.get("/api/projects/stats").items.compactMap { $0["projectId"] as? String } == [gone, kept])
        }
    }

    @Test("The stats stay exact under concurrent writes to one project", arguments: TestDatabase.all)
    func concurrentWrites(_ db: TestDatabase) async throws {
        try await TestApp.run(db, settings: ["rate-limit": "0"]) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            var made: [String] = []
            for index in 0..<5 { made.append(try await app.createEnvironment(project: project, space: space, name: "e\(index)")) }
            let environments = made
            let created = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<50 {
                    group.addTask { try await app.createDeployment(environment: environments[index % 5], name: "svc-\(index)") }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for id in created.prefix(10) { group.addTask { try await app.delete("/api/deployments/\(id)").status } }
                for try await status in group { #expect(status == 204) }
            }
            let card = try #require(try await app.get("/api/projects/stats").items.first { $0["projectId"] as? String == project })
            #expect(card["environmentCount"] as? Int == 5)
            #expect(card["serviceCount"] as? Int == 40)
            #expect((card["statusBuckets"] as? [String: Any])?["pending"] as? Int == 40)
        }
    }
}
