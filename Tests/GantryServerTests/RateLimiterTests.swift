import Foundation
@testable import GantryStorage
import Testing

/// The rate limit on PostgreSQL: buckets shared by every replica, drawn from several tokens at a time (see
/// `SQLRateLimiter`). The clock is frozen, so no bucket refills while a loaded machine runs the test.
@Suite("Rate limits shared by replicas")
struct RateLimiterTests {
    static let postgres = TestDatabase.all.filter { $0 != .sqlite }

    /// Takes `count` requests of one token at once on `limiter`; how many were allowed.
    static func allowed(_ count: Int, of token: String, on limiter: SQLRateLimiter) async throws -> Int {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<count { group.addTask { try await limiter.take(token) == nil } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }

    @Test("Two replicas together let exactly the limit through, however their draws interleave", arguments: postgres)
    func replicasShareTheLimit(_ db: TestDatabase) async throws {
        try await withMigratedDatabase(url: try await db.makeURL()) { database async throws in
            let clock = TestClock(frozen: true)
            let replicas = (0..<2).map { _ in SQLRateLimiter(database: database, perMinute: 600, clock: { clock.now }) }
            #expect(replicas[0].drawSize == 6)
            var total = 0
            for round in 0..<10 {
                total += try await Self.allowed(35, of: "tok_shared", on: replicas[round % 2])
                total += try await Self.allowed(35, of: "tok_shared", on: replicas[(round + 1) % 2])
            }
            #expect(total == 600)
            #expect(try await replicas[0].take("tok_shared") != nil)
            #expect(try await replicas[1].take("tok_shared") != nil)
            #expect(try await replicas[0].take("tok_other") == nil, "another token has its own bucket")
        }
    }

    @Test("A burst of one token reaches the database once per draw, not once per request", arguments: postgres)
    func oneWritePerDraw(_ db: TestDatabase) async throws {
        try await withMigratedDatabase(url: try await db.makeURL()) { database async throws in
            let clock = TestClock(frozen: true)
            let limiter = SQLRateLimiter(database: database, perMinute: 1200, clock: { clock.now })
            #expect(limiter.drawSize == 12)
            #expect(try await Self.allowed(120, of: "tok_burst", on: limiter) == 120)
            #expect(limiter.draws.load(ordering: .relaxed) == 10, "requests that find nothing left wait for the draw in flight")
            let left = try await database.read { sql in
                try await sql.raw("SELECT tokens FROM rate_limits WHERE token_id = 'tok_burst'").first()?.decode(column: "tokens", as: Double.self)
            }
            #expect(left == 1080)
        }
    }

    @Test("Over the limit, requests are refused from memory until a token can be back, then drawn again", arguments: postgres)
    func refusalCostsNoWrites(_ db: TestDatabase) async throws {
        try await withMigratedDatabase(url: try await db.makeURL()) { database async throws in
            let clock = TestClock(frozen: true)
            let limiter = SQLRateLimiter(database: database, perMinute: 60, clock: { clock.now })
            #expect(limiter.drawSize == 1, "limits under 200 a minute draw one token at a time")
            #expect(try await Self.allowed(60, of: "tok_busy", on: limiter) == 60)
            #expect(try await limiter.take("tok_busy") == 1, "one token a second: back in 1 s")
            let drawsWhenRefused = limiter.draws.load(ordering: .relaxed)
            #expect(try await Self.allowed(20, of: "tok_busy", on: limiter) == 0)
            #expect(limiter.draws.load(ordering: .relaxed) == drawsWhenRefused)
            clock.advance(by: 1)
            #expect(try await limiter.take("tok_busy") == nil)
            #expect(limiter.draws.load(ordering: .relaxed) == drawsWhenRefused + 1)
        }
    }

    @Test("Drawn tokens unused after 5 s are forfeited: the next request draws again", arguments: postgres)
    func drawnTokensExpire(_ db: TestDatabase) async throws {
        try await withMigratedDatabase(url: try await db.makeURL()) { database async throws in
            let clock = TestClock(frozen: true)
            let limiter = SQLRateLimiter(database: database, perMinute: 1200, clock: { clock.now })
            #expect(try await limiter.take("tok_idle") == nil)
            #expect(try await limiter.take("tok_idle") == nil)
            #expect(limiter.draws.load(ordering: .relaxed) == 1)
            clock.advance(by: SQLRateLimiter.drawLifetime + 1)
            #expect(try await limiter.take("tok_idle") == nil)
            #expect(limiter.draws.load(ordering: .relaxed) == 2)
        }
    }
}
