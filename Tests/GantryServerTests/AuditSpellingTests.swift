import Foundation
import GantryCore
import GantryStorage
import SQLKit
import Testing

/// docs/api.md §5: `action` is `<resourceType>.<verb>`, in one spelling for every entry: lowercase words joined by
/// underscores (`cloud_account.created`, `deployment.status_changed`). Entries written before that rule keep their
/// stored spelling (the hash chain covers it), still verify, and are found by filters under either spelling.
@Suite("Audit action spelling")
struct AuditSpellingTests {
    static let credentials = ["accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]

    @Test("Every new action and resource type is lowercase snake_case", arguments: TestDatabase.all)
    func oneSpelling(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let account = try await app.post("/api/cloud-accounts", ["name": "aws", "provider": "aws", "credentials": Self.credentials])
            #expect(account.status == 201)
            #expect(try await app.patch("/api/cloud-accounts/\(account.id)", ["name": "aws-2"]).status == 200)
            _ = try await app.createTree()
            _ = try await app.post("/api/integrations", ["name": "ghcr", "kind": "ghcr", "registry": "ghcr.io"])
            let entries = try await app.get("/api/audit-logs?limit=200").items
            #expect(entries.count >= 8)
            let form = #/[a-z]+(_[a-z]+)*/#
            for entry in entries {
                let action = try #require(entry["action"] as? String)
                let type = try #require(entry["resourceType"] as? String)
                #expect(action.hasPrefix(type + "."), "\(action) / \(type)")
                #expect(type.wholeMatch(of: form) != nil, "\(type)")
                #expect(String(action.dropFirst(type.count + 1)).wholeMatch(of: form) != nil, "\(action)")
            }
            let actions = Set(entries.compactMap { $0["action"] as? String })
            #expect(actions.isSuperset(of: ["cloud_account.created", "cloud_account.updated"]), "\(actions.sorted())")
            #expect(entries.contains { $0["resourceType"] as? String == "cloud_account" })
        }
    }

    @Test("An entry stored as cloudAccount still verifies and is found filtering by either spelling", arguments: TestDatabase.all)
    func legacySpelling(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let account = try await app.post("/api/cloud-accounts", ["name": "aws", "provider": "aws", "credentials": Self.credentials])
            #expect(account.status == 201)
            // Make that entry (the newest, so nothing links to it yet) what the old code wrote: `cloudAccount.created`,
            // hashed with that spelling, as the head of the chain.
            let legacyID = try #require(try await app.get("/api/audit-logs?limit=1").items.first?["id"] as? String)
            try await withDirectDatabase(url: app.databaseURL) { database in
                try await database.transaction { sql in
                    let row = try #require(try await sql.raw("""
                        SELECT org_id, actor_type, actor_id, actor_email, token_id, resource_id, project_id, environment_id,
                               deployment_id, request_id, changes, created_at, prev_hash
                        FROM audit_logs WHERE id = \(bind: legacyID)
                        """).first())
                    func text(_ column: String) throws -> String? {
                        try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: String.self)
                    }
                    let entry = AuditEntry(
                        id: legacyID, action: "cloudAccount.created",
                        actor: AuditActor(type: try text("actor_type")!, id: try text("actor_id"), email: try text("actor_email"),
                                          tokenId: try text("token_id")),
                        resourceType: "cloudAccount", resourceId: try text("resource_id")!, projectId: try text("project_id"),
                        environmentId: try text("environment_id"), deploymentId: try text("deployment_id"), requestId: try text("request_id"),
                        changes: try text("changes").map { try JSONDecoder().decode([String: JSONValue].self, from: Data($0.utf8)) },
                        createdAtMicros: try row.decode(column: "created_at", as: Int64.self), hash: "", prevHash: try text("prev_hash")
                    )
                    let hash = AuditChain.hash(entry)
                    try await sql.raw("""
                        UPDATE audit_logs SET action = 'cloudAccount.created', resource_type = 'cloudAccount', hash = \(bind: hash)
                        WHERE id = \(bind: legacyID)
                        """).run()
                    try await sql.raw("UPDATE audit_heads SET hash = \(bind: hash) WHERE org_id = \(bind: try text("org_id")!)").run()
                }
            }
            // New entries link onto the legacy one, in the new spelling.
            #expect(try await app.patch("/api/cloud-accounts/\(account.id)", ["name": "aws-2"]).status == 200)
            _ = try await app.createProject()

            let verified = try await app.get("/api/audit-logs/verify").data
            #expect(verified["ok"] as? Bool == true, "\(verified)")
            #expect(verified["firstBadId"] is NSNull)
            // Served as stored: the hash covers the stored spelling.
            let legacy = try await app.get("/api/audit-logs?resourceId=\(account.id)").items.first { $0["id"] as? String == legacyID }
            #expect(legacy?["action"] as? String == "cloudAccount.created")

            for type in ["cloud_account", "cloudAccount"] {
                let found = try await app.get("/api/audit-logs?resourceType=\(type)").items.compactMap { $0["action"] as? String }
                #expect(Set(found) == ["cloudAccount.created", "cloud_account.updated"], "resourceType=\(type): \(found)")
            }
            for action in ["cloud_account.created", "cloudAccount.created"] {
                let found = try await app.get("/api/audit-logs?action=\(action)").items.compactMap { $0["id"] as? String }
                #expect(found == [legacyID], "action=\(action)")
            }
            let exported = try await app.get("/api/audit-logs/export?resourceType=cloud_account").text.split(separator: "\n")
            #expect(exported.count == 2)
            #expect(try await app.get("/api/audit-logs?action=cloud_account.updated").items.count == 1)
        }
    }
}
