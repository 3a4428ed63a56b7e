import Foundation
import GantryCore
import GantryStorage
import SQLKit
import Testing

/// docs/api.md §5 and issue 3: the export streams; the real binary's peak memory stays flat over 100,000 entries.
@Suite("Audit export at scale")
struct AuditExportTests {
    static let entries = 100_000

    @Test("Exporting 100,000 entries streams them all while the server's peak memory stays flat")
    func flatMemory() async throws {
        let directory = try temporaryDirectory()
        let port = try freePort()
        let token = AccessToken.generate()
        let url = "sqlite:\(directory)/g.db"
        let server = try GantryProcess(["serve", "--port", String(port), "--database", url, "--rate-limit", "0"],
                                       environment: ["GANTRY_BOOTSTRAP_TOKEN": token])
        try await server.waitFor("listening")
        defer { server.process.terminate() }
        let me = try await curl(["http://127.0.0.1:\(port)/api/me", "-H", "Authorization: Bearer \(token)"])
        let org = try #require(((try JSONSerialization.jsonObject(with: Data(me.body.utf8)) as? [String: Any])?["data"] as? [String: Any])
            .flatMap { ($0["organization"] as? [String: Any])?["id"] as? String })

        try await withDirectDatabase(url: url) { database in
            try await database.transaction { sql in
                let changes = #"{"name":{"from":"checkout","to":"checkout-v2"}}"#
                for batch in stride(from: 0, to: Self.entries, by: 500) {
                    let rows = (batch..<batch + 500).map { index -> SQLQueryString in
                        "(\(bind: String(format: "log_zz%024d", index)), \(bind: org), \(bind: 1_000_000 + index), 'project.updated', 'user', 'usr_x', 'ada@example.com', 'tok_x', 'project', 'prj_x', 'prj_x', NULL, NULL, 'req_x', \(bind: changes), \(bind: Int64(index)), 'h', NULL)"
                    }
                    try await sql.raw("""
                        INSERT INTO audit_logs (id, org_id, seq, action, actor_type, actor_id, actor_email, token_id, resource_type, resource_id,
                            project_id, environment_id, deployment_id, request_id, changes, created_at, hash, prev_hash) VALUES
                        """ + rows.joined(separator: ", ")).run()
                }
            }
        }
        // Warm the server up on a small page, so the baseline includes the code paths the export uses.
        _ = try await curl(["http://127.0.0.1:\(port)/api/audit-logs?limit=200", "-H", "Authorization: Bearer \(token)"])
        let before = try Self.peakResidentKB(server.process.processIdentifier)
        let output = "\(directory)/export.ndjson"
        _ = try await curl(["http://127.0.0.1:\(port)/api/audit-logs/export", "-H", "Authorization: Bearer \(token)", "-o", output])
        let after = try Self.peakResidentKB(server.process.processIdentifier)
        let exported = try Data(contentsOf: URL(fileURLWithPath: output))
        let lines = exported.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        #expect(lines >= Self.entries)
        // The export is ~\(exported.count / 1_048_576) MiB of NDJSON; holding it, or its rows, would raise the peak far more.
        let growthMB = Double(after - before) / 1024
        #expect(growthMB < 16, "peak RSS grew \(growthMB) MB exporting \(exported.count / 1_048_576) MiB (before \(before) kB, after \(after) kB)")
        print("audit export: \(lines) entries, \(exported.count / 1_048_576) MiB; server peak RSS \(before / 1024) → \(after / 1024) MB")
    }

    static func peakResidentKB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
}
