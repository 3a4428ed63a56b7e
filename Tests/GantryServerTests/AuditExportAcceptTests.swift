import Foundation
import Testing

/// docs/api.md §5: `GET /audit-logs/export` streams NDJSON. Its one representation is served whatever the client's
/// `Accept` says (RFC 9110 lets a server disregard it): a client asking for JSON still gets the NDJSON, not 400.
@Suite("Audit export and Accept")
struct AuditExportAcceptTests {
    @Test("The export serves NDJSON to a client sending Accept: application/json (or any other Accept)", arguments: TestDatabase.all)
    func exportIgnoresAccept(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            _ = try await app.createProject("p1")
            for accept in ["application/json", "text/html", "application/x-ndjson", "*/*", "application/json;q=0.9, text/plain"] {
                let reply = try await app.request(.get, "/api/audit-logs/export", headers: ["Accept": accept])
                #expect(reply.status == 200, "\(accept): \(reply.text)")
                #expect(reply.header("Content-Type")?.hasPrefix("application/x-ndjson") == true, "\(accept)")
                let lines = reply.text.split(separator: "\n")
                #expect(lines.count >= 1, "\(accept)")
                #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] }, "\(accept)")
            }
            // JSON routes are unaffected by an Accept they cannot honour either.
            #expect(try await app.request(.get, "/api/projects", headers: ["Accept": "text/html"]).status == 200)
        }
    }
}
