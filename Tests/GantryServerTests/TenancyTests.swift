import Foundation
import GantryCore
import GantryStorage
import Testing

/// docs/api.md §3: another organization's resources answer 404 and never appear in lists, stats or the audit log.
@Suite("Tenancy")
struct TenancyTests {
    /// A second organization, made directly in the database as an operator would, with its own admin token.
    static func otherOrganization(_ app: TestApp) async throws -> TestApp {
        let token = try await withDirectDatabase(url: app.databaseURL) { database in
            try await SQLIdentityRepository(database: database, ids: IDGenerator())
                .createOrganization(name: "globex", adminEmail: "root@globex.example", tokenSecret: nil).token
        }
        return app.acting(as: token)
    }

    @Test("Nothing of one organization is visible or addressable from the other, through any route", arguments: TestDatabase.all)
    func isolation(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { acme in
            let globex = try await Self.otherOrganization(acme)
            let theirs = try await AccessMatrixTests.World.make(globex)
            let ours = try await AccessMatrixTests.World.make(acme)
            let spare = try await globex.post("/api/tokens", ["name": "spare"])
            let theirIDs = [theirs.project, theirs.deletedProject, theirs.environment, theirs.space, theirs.deployment, theirs.connection,
                            theirs.cloudAccount, theirs.integration, theirs.user, theirs.role, theirs.assignment, spare.id,
                            theirs.spareSpace, theirs.spareDeployment, theirs.spareUser, theirs.spareRole]
            let calls = AccessMatrixTests.calls(theirs, spareToken: spare.id)
            for operation in AccessMatrixTests.order {
                let call = try #require(calls[operation])
                let reply = try await acme.request(.init(call.method)!, call.path, json: call.body)
                let addressed = theirIDs.contains { call.path.contains($0) }
                let referenced = theirIDs.contains { id in (call.body ?? [:]).values.contains { "\($0)" == id } }
                if addressed && operation == "explainAccess" {
                    // docs/api.md §9: a resource the caller cannot see is `visible: false`, the answer an ID that exists nowhere gets.
                    #expect(reply.status == 200 && reply["visible"] as? Bool == false, "\(operation) → \(reply.status) \(reply.text.prefix(200))")
                } else if addressed {
                    #expect(reply.status == 404, "\(operation) → \(reply.status) \(reply.text.prefix(200))")
                } else if referenced {
                    #expect(reply.status == 400, "\(operation) → \(reply.status) \(reply.text.prefix(200))")
                } else {
                    #expect(reply.status < 300 || reply.status == 502, "\(operation) → \(reply.status) \(reply.text.prefix(200))")
                }
                for id in theirIDs { #expect(!reply.text.contains(id), "\(operation) shows \(id)") }
            }
            // And the other way round: our project is 404 to them, and their lists, stats and audit hold none of ours.
            #expect(try await globex.get("/api/projects/\(ours.project)").status == 404)
            for path in ["/api/projects", "/api/projects/stats", "/api/spaces", "/api/users", "/api/audit-logs?limit=200", "/api/audit-logs/export"] {
                let text = try await globex.get(path).text
                for id in [ours.project, ours.space, ours.user, ours.environment] { #expect(!text.contains(id), "\(path) shows \(id)") }
            }
            #expect(try await acme.get("/api/audit-logs?projectId=\(theirs.project)").items.isEmpty)
        }
    }
}
