import Foundation
import GantryCore
import GantryStorage
import Logging
import SQLKit
import Testing

/// The cache of authenticated callers under the repositories: what keeps it honest on each database.
@Suite("Caller cache")
struct CallerCacheTests {
    @Test("A token is looked up once, then served from memory; an access change made here empties the cache", arguments: TestDatabase.all)
    func servedThenInvalidated(_ db: TestDatabase) async throws {
        let url = try await db.makeURL()
        try await withMigratedDatabase(url: url) { database in
            let repositories = Repositories(database: database)
            let (_, secret) = try await repositories.identity.createOrganization(name: "acme", adminEmail: "a@example.com", tokenSecret: nil)
            let caller = try await authenticateUntilCached(secret, repositories.identity, database.callers)
            #expect(try await repositories.identity.authenticate(secret: secret, session: false) == caller)
            try await repositories.identity.revokeToken(caller.tokenID, by: caller)
            #expect(database.callers.count == 0)
            #expect(try await repositories.identity.authenticate(secret: secret, session: false) == nil)
            #expect(database.callers.count == 0, "refusals are never cached")
        }
    }

    @Test("PostgreSQL: a change committed by another process NOTIFYs this one, which drops its cached callers")
    func notifiedAcrossProcesses() async throws {
        guard TestDatabase.all.contains(.postgres) else { return }
        let url = try await TestDatabase.postgres.makeURL()
        try await withMigratedDatabase(url: url) { database in
            let repositories = Repositories(database: database)
            let (_, secret) = try await repositories.identity.createOrganization(name: "acme", adminEmail: "a@example.com", tokenSecret: nil)
            _ = try await authenticateUntilCached(secret, repositories.identity, database.callers)
            // Another process, e.g. an operator at psql: no Gantry code runs on this side.
            try await withDirectDatabase(url: url) { other in
                try await other.transaction { sql in try await sql.raw("UPDATE tokens SET revoked_at = 1").run() }
            }
            let start = ContinuousClock.now
            while database.callers.count > 0, ContinuousClock.now - start < .seconds(2) { try await Task.sleep(for: .milliseconds(20)) }
            #expect(database.callers.count == 0)
            #expect(try await repositories.identity.authenticate(secret: secret, session: false) == nil)
        }
    }

    @Test("The last-used time is still written about once a minute when the caller comes from memory", arguments: TestDatabase.all)
    func lastUsedStillRecorded(_ db: TestDatabase) async throws {
        let url = try await db.makeURL()
        try await withMigratedDatabase(url: url) { database in
            let repositories = Repositories(database: database)
            let (_, secret) = try await repositories.identity.createOrganization(name: "acme", adminEmail: "a@example.com", tokenSecret: nil)
            let caller = try #require(try await repositories.identity.authenticate(secret: secret, session: false))
            let tokens = try await repositories.identity.listTokens(PageRequest(limit: 10), for: caller)
            #expect(tokens.items.first?.lastUsedAt != nil)
        }
    }

    /// Authenticates until the caller stays cached: on PostgreSQL the listener connects in the background,
    /// and the notifications of the setup's own writes may still arrive and empty the cache once.
    func authenticateUntilCached(_ secret: String, _ identity: any IdentityRepository, _ cache: CallerCache) async throws -> Caller {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(10) {
            let caller = try #require(try await identity.authenticate(secret: secret, session: false))
            try await Task.sleep(for: .milliseconds(100))
            if cache.count == 1 { return caller }
        }
        Issue.record("the caller was never kept (is the PostgreSQL listener connected?)")
        throw CancellationError()
    }
}
