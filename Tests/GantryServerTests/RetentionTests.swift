import Foundation
@testable import GantryStorage
import SQLKit
import Testing

/// Rows that only ever expire are swept (`RetentionRepository`, `RetentionSweeper`): idempotency keys after their
/// 24 hours, rate-limit buckets once idle long enough to be full again.
@Suite("Retention of expiring rows")
struct RetentionTests {
    static let day: Int64 = 24 * 3600 * 1_000_000
    static let minute: Int64 = 60 * 1_000_000

    /// Two idempotency keys of the app's token (`k-old` made 25 h ago, `k-new` now) and two rate-limit buckets
    /// (`tok_idle` untouched for 6 minutes, `tok_busy` for 1).
    func seedExpiringRows(_ app: TestApp) async throws {
        #expect(try await app.post("/api/projects", ["name": "old"], headers: ["Idempotency-Key": "k-old"]).status == 201)
        #expect(try await app.post("/api/projects", ["name": "new"], headers: ["Idempotency-Key": "k-new"]).status == 201)
        let now = Timestamp.now()
        try await withDirectDatabase(url: app.databaseURL) { database in
            try await database.transaction { sql in
                try await sql.raw("UPDATE idempotency_keys SET created_at = \(bind: now - Self.day - Self.minute * 60) WHERE key = 'k-old'").run()
                try await sql.raw("""
                    INSERT INTO rate_limits (token_id, tokens, updated_at, granted)
                    VALUES ('tok_idle', 3, \(bind: now - 6 * Self.minute), 1), ('tok_busy', 3, \(bind: now - Self.minute), 1)
                    """).run()
            }
        }
    }

    func remaining(_ url: String) async throws -> (keys: [String], buckets: [String]) {
        try await withDirectDatabase(url: url) { database in
            try await database.read { sql in
                (try await sql.raw("SELECT key FROM idempotency_keys ORDER BY key").all(decodingColumn: "key", as: String.self),
                 try await sql.raw("SELECT token_id FROM rate_limits ORDER BY token_id").all(decodingColumn: "token_id", as: String.self))
            }
        }
    }

    @Test("A sweep deletes idempotency keys past 24 h and buckets idle for 5 minutes, and keeps the rest", arguments: TestDatabase.all)
    func sweepDeletesOnlyExpiredRows(_ db: TestDatabase) async throws {
        try await TestApp.run(db, settings: ["rate-limit": "0"]) { app in
            try await seedExpiringRows(app)
            #expect(try await remaining(app.databaseURL) == (["k-new", "k-old"], ["tok_busy", "tok_idle"]))
            try await withDirectDatabase(url: app.databaseURL) { database in
                try await SQLRetentionRepository(database: database).sweep(now: Date())
            }
            #expect(try await remaining(app.databaseURL) == (["k-new"], ["tok_busy"]))
            // The key swept was past its lifetime anyway: sent again, it makes a new project rather than replaying.
            let again = try await app.post("/api/projects", ["name": "old-again"], headers: ["Idempotency-Key": "k-old"])
            #expect(again.status == 201)
            #expect(again.header("Idempotent-Replayed") == nil)
        }
    }

    @Test("A replica sweeps as soon as it has started", arguments: TestDatabase.all)
    func replicaSweepsAtStart(_ db: TestDatabase) async throws {
        try await TestApp.run(db, settings: ["rate-limit": "0"]) { first in
            try await seedExpiringRows(first)
            try await TestApp.run(db, settings: ["database": first.databaseURL, "rate-limit": "0"]) { _ in
                // The sweep runs beside the requests, right after the migrations; a loaded machine may take a while.
                let deadline = ContinuousClock.now + .seconds(60)
                var left = try await remaining(first.databaseURL)
                while left != (["k-new"], ["tok_busy"]), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                    left = try await remaining(first.databaseURL)
                }
                #expect(left == (["k-new"], ["tok_busy"]))
            }
        }
    }
}
