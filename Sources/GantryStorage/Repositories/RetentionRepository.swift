import Foundation
import SQLKit

/// Rows that only ever expire: without a sweep they would pile up for as long as the installation runs (a row per
/// idempotency key ever sent, with its stored answer; a rate-limit row per token or session ever used).
public protocol RetentionRepository: Sendable {
    /// Deletes every such row that no longer says anything at `now`; safe to run from any number of replicas at once.
    func sweep(now: Date) async throws
}

public struct SQLRetentionRepository: RetentionRepository {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func sweep(now: Date) async throws {
        let at = Timestamp.micros(now)
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM idempotency_keys WHERE created_at < \(bind: at - SQLIdempotencyRepository.lifetime)").run()
            try await sql.raw("DELETE FROM rate_limits WHERE updated_at < \(bind: at - SQLRateLimiter.fullAfterIdle)").run()
        }
    }
}
