import Foundation
import GantryCore
import GantryServer
import GantryStorage
import SQLKit
import Testing

/// Status sync writes what it observed in batches (`RuntimeRepository.recordObserved`): a few statements per 500
/// deployments, each change of status audited once, nothing written for what did not change.
@Suite("Observed statuses")
struct ObservedStatusTests {
    @Test("A batch larger than one statement's share writes each change once, audits each change of status, and skips deleted deployments",
          arguments: TestDatabase.all)
    func largeBatch(_ db: TestDatabase) async throws {
        let url = try await db.makeURL()
        let count = 520
        // Status sync off: only this test writes statuses.
        let deleted = try await TestApp.run(url: url, settings: [Settings.keys.syncInterval: "0"]) { app in
            let (_, _, environment, first) = try await app.createTree()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for index in stride(from: worker, to: count - 1, by: 8) { _ = try await app.createDeployment(environment: environment, name: "svc-\(index)") }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await app.delete("/api/deployments/\(first)").status == 204)
            return first
        }
        try await withDirectDatabase(url: url) { database in
            let runtime = Repositories(database: database).runtime
            let spaces = try await runtime.syncSpaceNamespaces()
            let (space, _) = try #require(spaces.first)
            let targets = try await runtime.syncTargets(space: space.spaceID, org: space.organizationID, namespace: nil)
            #expect(targets.count == count - 1, "the deleted deployment is no target")
            // An observation of the deleted deployment too, as a pass that read it just before the delete would make.
            var deletedTarget = try #require(targets.first)
            deletedTarget.deploymentID = deleted
            let observed = ([deletedTarget] + targets).map { ObservedStatus($0, status: .running, revision: "1", deployedAt: Date()) }
            #expect(try await runtime.recordObserved(observed) == count - 1)
            #expect(try await runtime.recordObserved(observed) == 0, "nothing changed the second time")
            let rows = try await database.read { sql in
                try await sql.raw("SELECT status, observed_revision, COUNT(*) AS n FROM deployments GROUP BY status, observed_revision").all()
            }
            let byStatus = try rows.map { "\(try $0.decode(column: "status", as: String.self))/\(try $0.decode(column: "observed_revision", as: String?.self) ?? "-")=\(try $0.decode(column: "n", as: Int.self))" }
            #expect(Set(byStatus) == ["running/1=\(count - 1)", "pending/-=1"], "\(byStatus)")
            let audited = try await database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM audit_logs WHERE action = 'deployment.status_changed'").first()?.decode(column: "n", as: Int.self)
            }
            #expect(audited == count - 1)
        }
    }
}
