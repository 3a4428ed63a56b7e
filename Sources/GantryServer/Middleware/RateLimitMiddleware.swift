import GantryCore
import GantryStorage
import Hummingbird
import Synchronization

/// A token bucket per access token (`--rate-limit` requests per minute, bursts up to the same number):
/// over it, 429 `rate_limited` with `Retry-After`. On PostgreSQL the buckets live in the database, shared
/// by every replica; on SQLite (one process) in memory.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let limiter: any RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let caller = context.caller, let wait = try await limiter.take(caller.tokenID) {
            throw RateLimited(retryAfter: wait)
        }
        return try await next(request, context)
    }
}

/// Refused by the rate limit; rendered as 429 with `Retry-After` in whole seconds.
struct RateLimited: Error {
    let retryAfter: Int
    var appError: AppError {
        AppError(.rateLimited, "Too many requests for this token; retry after \(retryAfter) second(s).")
    }
}

/// The buckets in memory, for a single process.
final class TokenBuckets: RateLimiter, Sendable {
    struct Bucket { var tokens: Double; var updated: ContinuousClock.Instant }

    let capacity: Double
    let perSecond: Double
    private let state = Mutex<[String: Bucket]>([:])

    init(perMinute: Int) {
        capacity = Double(perMinute)
        perSecond = Double(perMinute) / 60
    }

    func take(_ key: String) async throws -> Int? { take(key, now: .now) }

    /// Takes one request from the key's bucket: nil when allowed, else the seconds to wait.
    func take(_ key: String, now: ContinuousClock.Instant) -> Int? {
        state.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(capacity, bucket.tokens + seconds * perSecond)
            bucket.updated = now
            defer {
                buckets[key] = bucket
                // Full buckets carry no state worth keeping; dropping them bounds memory.
                if buckets.count > 10_000 { buckets = buckets.filter { $0.value.tokens < capacity } }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up)))
        }
    }
}
