import Foundation
import Logging
import SQLKit

/// One schema change. Migrations are applied in order, each in its own transaction, and recorded by name.
public protocol DatabaseMigration: Sendable {
    var name: String { get }
    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws
}

/// Applies pending migrations under a lock (an advisory lock on PostgreSQL), so that replicas
/// starting together migrate once.
public struct Migrator: Sendable {
    public static let all: [any DatabaseMigration] = [InitialSchema(), AccessAndAudit(), ProjectStatsRollup(), ObservedRevision(), RateLimits(), AccessChangeNotifications(), Deploying(), PullSecretRenewals(), SignOn(), Previews(), SpaceWatches(), RateLimitDraws(), RetentionIndexes()]

    let migrations: [any DatabaseMigration]
    let logger: Logger

    public init(migrations: [any DatabaseMigration] = Migrator.all, logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    @discardableResult
    public func migrate(_ database: some MigratableDatabase) async throws -> [String] {
        try await database.withMigrationLock { sql in
            try await sql.raw("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
            let applied = Set(try await sql.raw("SELECT name FROM _migrations").all().map { try $0.decode(column: "name", as: String.self) })
            var newlyApplied: [String] = []
            for migration in migrations where !applied.contains(migration.name) {
                try await sql.raw("BEGIN").run()
                do {
                    try await migration.apply(on: sql, kind: database.kind)
                    try await sql.raw("INSERT INTO _migrations (name, applied_at) VALUES (\(bind: migration.name), \(bind: Timestamp.now()))").run()
                    try await sql.raw("COMMIT").run()
                } catch {
                    try? await sql.raw("ROLLBACK").run()
                    throw error
                }
                logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
                newlyApplied.append(migration.name)
            }
            return newlyApplied
        }
    }
}

/// A database that can hold a lock for the length of a migration run on one connection.
public protocol MigratableDatabase: Database {
    func withMigrationLock<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
}
