import Foundation
import SQLKit
import Synchronization

/// A token bucket per access token: `take` spends one request, or says how many seconds to wait.
public protocol RateLimiter: Sendable {
    func take(_ key: String) async throws -> Int?
}

/// The buckets in the database (PostgreSQL), shared by every replica.
///
/// A replica draws tokens from a bucket several at a time and spends them from memory: one atomic upsert refills
/// the bucket for the time elapsed and takes up to `drawSize` tokens. Drawing one token per request made every API
/// request a write, and every request of one token wait on that token's row lock: with the limit on,
/// `GET /api/projects/{id}` under 32 connections of one token ran at 34 % of its rate with the limit off; with draws,
/// at 102 % (`bench/ratelimit.sh`, README). Drawn tokens are usable for `drawLifetime`, then forfeited, never handed back: a client spreading its
/// requests over replicas may get a few fewer than the limit, never more. A draw that finds the bucket empty is
/// remembered until a token can be back (only time refills a bucket), so a client over its limit costs no writes.
public final class SQLRateLimiter: RateLimiter, Sendable {
    let database: any Database
    let capacity: Double
    let perSecond: Double
    /// 1 % of the bucket, at most 50: what one replica may hold back from the others. Limits under 200 a minute draw
    /// one token at a time, exactly as a bucket without draws would.
    let drawSize: Int
    static let drawLifetime: TimeInterval = 5
    /// A bucket refills completely within a minute (its capacity is the limit per minute): a row untouched for five
    /// minutes is a full bucket, exactly as no row is, and the retention sweep deletes it.
    static let fullAfterIdle: Int64 = 5 * 60 * 1_000_000
    private let clock: @Sendable () -> Date
    private let allowances = Mutex<[String: Allowance]>([:])
    /// How many draws reached the database; the tests read it.
    let draws = Atomic<Int>(0)

    /// What this replica holds of one token's bucket.
    private struct Allowance {
        var left = 0
        var usableUntil = Date.distantPast
        /// The bucket was empty: no token can be back before this.
        var refusedUntil = Date.distantPast
        /// The draw in flight; requests that find nothing left wait for it instead of drawing again.
        var draw: Task<Void, any Error>?

        /// Whether this entry still says anything: memory is bounded by dropping the others.
        func isHeld(at now: Date) -> Bool {
            draw != nil || now < refusedUntil || (left > 0 && now < usableUntil)
        }
    }

    private enum Step {
        case allowed
        case refused(seconds: Int)
        case await(Task<Void, any Error>)
    }

    public init(database: any Database, perMinute: Int, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        capacity = Double(perMinute)
        perSecond = Double(perMinute) / 60
        drawSize = max(1, min(50, perMinute / 100))
        self.clock = clock
    }

    public func take(_ key: String) async throws -> Int? {
        while true {
            switch step(key) {
            case .allowed: return nil
            case .refused(let seconds): return seconds
            case .await(let draw): try await draw.value
            }
        }
    }

    private func step(_ key: String) -> Step {
        allowances.withLock { allowances in
            let now = clock()
            var allowance = allowances[key] ?? Allowance()
            defer { allowances[key] = allowance }
            if allowance.left > 0, now < allowance.usableUntil {
                allowance.left -= 1
                return .allowed
            }
            if now < allowance.refusedUntil {
                return .refused(seconds: max(1, Int(allowance.refusedUntil.timeIntervalSince(now).rounded(.up))))
            }
            if let draw = allowance.draw { return .await(draw) }
            if allowances.count > 10_000 { allowances = allowances.filter { $0.value.isHeld(at: now) } }
            let draw = Task { try await self.draw(key) }
            allowance.draw = draw
            return .await(draw)
        }
    }

    private func draw(_ key: String) async throws {
        let now = clock()
        let result: BucketDraw
        do {
            result = try await drawFromBucket(key, now: Timestamp.micros(now))
        } catch {
            allowances.withLock { $0[key]?.draw = nil }
            throw error
        }
        draws.add(1, ordering: .relaxed)
        allowances.withLock { allowances in
            var allowance = allowances[key] ?? Allowance()
            allowance.draw = nil
            allowance.left = result.granted
            allowance.usableUntil = now.addingTimeInterval(Self.drawLifetime)
            allowance.refusedUntil = result.granted > 0 ? .distantPast : now.addingTimeInterval((1 - result.tokens) / perSecond)
            allowances[key] = allowance
        }
    }

    /// What one draw took (`granted`) and what it left in the bucket (`tokens`).
    private struct BucketDraw: Decodable {
        var granted: Int
        var tokens: Double
    }

    /// Refills the bucket for the time elapsed and takes up to `drawSize` whole tokens; a refused draw takes nothing.
    private func drawFromBucket(_ key: String, now: Int64) async throws -> BucketDraw {
        let perMicrosecond = perSecond / 1_000_000
        let first = min(drawSize, Int(capacity))
        return try await database.transaction { sql in
            let refilled: SQLQueryString = """
                LEAST(\(bind: capacity), rate_limits.tokens
                    + GREATEST(0, excluded.updated_at - rate_limits.updated_at) * \(bind: perMicrosecond))
                """
            let granted: SQLQueryString = "CASE WHEN \(refilled) >= 1 THEN LEAST(\(bind: drawSize), FLOOR(\(refilled))) ELSE 0 END"
            // An upsert always returns its row.
            return try await sql.raw("""
                INSERT INTO rate_limits (token_id, tokens, updated_at, granted)
                VALUES (\(bind: key), \(bind: capacity - Double(first)), \(bind: now), \(bind: first))
                ON CONFLICT (token_id) DO UPDATE SET
                    tokens = \(refilled) - \(granted),
                    granted = \(granted),
                    updated_at = GREATEST(excluded.updated_at, rate_limits.updated_at)
                RETURNING tokens, granted
                """).first(BucketDraw.self) ?? BucketDraw(granted: 0, tokens: 0)
        }
    }
}
