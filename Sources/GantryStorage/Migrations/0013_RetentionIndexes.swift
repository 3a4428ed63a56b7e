import SQLKit

/// The retention sweep (`RetentionRepository`) deletes by age: idempotency keys past their 24 hours, rate-limit buckets
/// idle long enough to be full again. These indexes keep each sweep to the rows it deletes.
struct RetentionIndexes: DatabaseMigration {
    let name = "0013_retention_indexes"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        try await database.raw("CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)").run()
        try await database.raw("CREATE INDEX rate_limits_updated_at ON rate_limits (updated_at)").run()
    }
}
