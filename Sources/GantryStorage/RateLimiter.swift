import Foundation
import SQLKit

/// A token bucket per access token: `take` spends one request, or says how many seconds to wait.
public protocol RateLimiter: Sendable {
    func take(_ key: String) async throws -> Int?
}

/// The buckets in the database (PostgreSQL), shared by every replica: one atomic upsert per request refills
/// the bucket for the time elapsed, spends one token and returns what is left.
public struct SQLRateLimiter: RateLimiter {
    let database: any Database
    let capacity: Double
    let perSecond: Double

    public init(database: any Database, perMinute: Int) {
        self.database = database
        capacity = Double(perMinute)
        perSecond = Double(perMinute) / 60
    }

    public func take(_ key: String) async throws -> Int? {
        let now = Timestamp.now()
        let perMicrosecond = perSecond / 1_000_000
        let left = try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO rate_limits (token_id, tokens, updated_at) VALUES (\(bind: key), \(bind: capacity - 1), \(bind: now))
                ON CONFLICT (token_id) DO UPDATE SET
                    tokens = GREATEST(-1, LEAST(\(bind: capacity), rate_limits.tokens
                        + GREATEST(0, excluded.updated_at - rate_limits.updated_at) * \(bind: perMicrosecond)) - 1),
                    updated_at = GREATEST(excluded.updated_at, rate_limits.updated_at)
                RETURNING tokens
                """).first().map { try $0.decode(column: "tokens", as: Double.self) } ?? 0
        }
        guard left < 0 else { return nil }
        // The request was refused: it spent nothing it had; tell the client when one token will be back.
        return max(1, Int(((-left) / perSecond).rounded(.up)))
    }
}
