import SQLKit

/// Token buckets kept in the database, so that replicas behind a load balancer share one limit per token.
struct RateLimits: DatabaseMigration {
    let name = "0005_rate_limits"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        try await database.raw("""
            CREATE TABLE rate_limits (
                token_id TEXT PRIMARY KEY,
                tokens DOUBLE PRECISION NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """).run()
    }
}
