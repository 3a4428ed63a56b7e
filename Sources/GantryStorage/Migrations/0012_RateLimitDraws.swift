import SQLKit

/// A replica takes tokens from a shared bucket several at a time (`SQLRateLimiter`); `granted` is how many the last
/// draw took, returned beside what the bucket has left. PostgreSQL's `RETURNING` sees only the new row, and the size
/// of a draw cannot be told from what is left afterwards.
struct RateLimitDraws: DatabaseMigration {
    let name = "0012_rate_limit_draws"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        try await database.raw("ALTER TABLE rate_limits ADD COLUMN granted INTEGER NOT NULL DEFAULT 0").run()
    }
}
