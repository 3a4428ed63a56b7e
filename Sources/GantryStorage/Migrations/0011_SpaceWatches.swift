import GantryCore
import SQLKit

/// Scale (docs/api.md §6, "Watching clusters"): each deployer replica heartbeats in `deployer_replicas`, and each space
/// whose cluster is watched has one row in `space_watch_leases` naming the replica that watches it. The primary key
/// makes "watched by exactly one" a database rule: two replicas racing for a space both insert, one wins, and the
/// other's `ON CONFLICT … WHERE lease_until < now` finds the lease alive and takes nothing.
struct SpaceWatches: DatabaseMigration {
    let name = "0011_space_watches"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        let statements: [String] = [
            """
            CREATE TABLE deployer_replicas (
                owner TEXT PRIMARY KEY,
                seen_until BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE space_watch_leases (
                space_id TEXT PRIMARY KEY REFERENCES spaces (id) ON DELETE CASCADE,
                owner TEXT NOT NULL,
                lease_until BIGINT NOT NULL
            )
            """,
            "CREATE INDEX space_watch_leases_owner ON space_watch_leases (owner)",
        ]
        for statement in statements { try await database.raw(SQLQueryString(statement)).run() }
    }
}
