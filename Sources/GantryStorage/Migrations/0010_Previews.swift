import SQLKit

/// Preview environments and cost (docs/api.md §8). An environment may be a clone of another and may expire; the
/// deployer leases an expiry like a deploy job (`expiry_lease_*`), so a restart or a second replica neither loses nor
/// repeats one. A space's prices are one JSON value (`{"cpuCoreHour": "0.04", "memoryGiBHour": "0.005", "currency":
/// "USD"}`, decimals as text so they stay exact), set or cleared whole.
struct Previews: DatabaseMigration {
    let name = "0010_previews"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        let statements: [SQLQueryString] = [
            "ALTER TABLE environments ADD COLUMN cloned_from_id TEXT REFERENCES environments (id)",
            "ALTER TABLE environments ADD COLUMN expires_at BIGINT",
            "ALTER TABLE environments ADD COLUMN expiry_lease_owner TEXT",
            "ALTER TABLE environments ADD COLUMN expiry_lease_until BIGINT",
            // When the teardown of an expiry first failed: after ten minutes of an unreachable cluster the catalog rows go anyway.
            "ALTER TABLE environments ADD COLUMN expiry_failing_since BIGINT",
            "CREATE INDEX environments_expiring ON environments (expires_at) WHERE deleted_at IS NULL AND expires_at IS NOT NULL",
            "ALTER TABLE spaces ADD COLUMN pricing TEXT",
            // The project cost reads each environment's live deployments grouped by their requests, from the index alone.
            """
            CREATE INDEX deployments_environment_requests ON deployments (environment_id, cpu_request, memory_request, replicas)
            WHERE deleted_at IS NULL
            """,
        ]
        for statement in statements { try await database.raw(statement).run() }
    }
}
