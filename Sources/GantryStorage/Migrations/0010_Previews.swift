import GantryCore
import SQLKit

/// Preview environments and cost (docs/api.md §8). An environment may be a clone of another and may expire; the
/// deployer leases an expiry like a deploy job (`expiry_lease_*`), so a restart or a second replica neither loses nor
/// repeats one. A space's prices are one JSON value (`{"cpuCoreHour": "0.04", "memoryGiBHour": "0.005", "currency":
/// "USD"}`, decimals as text so they stay exact), set or cleared whole.
///
/// For the project cost, each deployment also stores its request per replica in the scheduler's units (`cpu_milli`,
/// `memory_bytes`; NULL without requests), and `environment_requests` holds each environment's live totals, kept by
/// triggers in the same transaction as every change to deployments, as `project_stats` is: `GET /projects/{id}/cost`
/// then reads a row per environment instead of parsing every deployment's quantities (bench/preview.sh: grouping
/// 2,000 deployments per request ran at 4.5 % of `GET /projects/{id}`). Totals are floating point: exact below
/// 2^53 millicores or bytes, and no absurd request can make a sum overflow and fail a write.
struct Previews: DatabaseMigration {
    let name = "0010_previews"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        let statements: [String] = [
            "ALTER TABLE environments ADD COLUMN cloned_from_id TEXT REFERENCES environments (id)",
            "ALTER TABLE environments ADD COLUMN expires_at BIGINT",
            "ALTER TABLE environments ADD COLUMN expiry_lease_owner TEXT",
            "ALTER TABLE environments ADD COLUMN expiry_lease_until BIGINT",
            // When the teardown of an expiry first failed: after ten minutes of an unreachable cluster the catalog rows go anyway.
            "ALTER TABLE environments ADD COLUMN expiry_failing_since BIGINT",
            "CREATE INDEX environments_expiring ON environments (expires_at) WHERE deleted_at IS NULL AND expires_at IS NOT NULL",
            "ALTER TABLE spaces ADD COLUMN pricing TEXT",
            "ALTER TABLE deployments ADD COLUMN cpu_milli BIGINT",
            "ALTER TABLE deployments ADD COLUMN memory_bytes BIGINT",
            """
            CREATE TABLE environment_requests (
                environment_id TEXT PRIMARY KEY REFERENCES environments (id),
                cpu_milli DOUBLE PRECISION NOT NULL DEFAULT 0,
                memory_bytes DOUBLE PRECISION NOT NULL DEFAULT 0,
                without_requests BIGINT NOT NULL DEFAULT 0
            )
            """,
            // The recount reads one environment's live deployments.
            "CREATE INDEX deployments_environment_requests ON deployments (environment_id, replicas, cpu_milli, memory_bytes) WHERE deleted_at IS NULL",
        ]
        for statement in statements { try await database.raw(SQLQueryString(statement)).run() }
        // Existing deployments: each distinct request size parsed once.
        struct Size: Decodable { var cpuRequest: String; var memoryRequest: String }
        for size in try await database.raw("""
            SELECT DISTINCT cpu_request, memory_request FROM deployments WHERE cpu_request IS NOT NULL AND memory_request IS NOT NULL
            """).all(decoding: Size.self) {
            guard let request = Cost.request(cpu: size.cpuRequest, memory: size.memoryRequest) else { continue }
            try await database.raw("""
                UPDATE deployments SET cpu_milli = \(bind: request.cpuMilli), memory_bytes = \(bind: request.memoryBytes)
                WHERE cpu_request = \(bind: size.cpuRequest) AND memory_request = \(bind: size.memoryRequest)
                """).run()
        }
        for statement in (kind == .sqlite ? Self.sqliteTriggers : Self.postgresTriggers)
            + ["INSERT INTO environment_requests (environment_id) SELECT id FROM environments", Self.recount("environment_requests.environment_id")] {
            try await database.raw(SQLQueryString(statement)).run()
        }
    }

    /// The recount of one environment, `environment` being an SQL expression for its id.
    static func recount(_ environment: String) -> String {
        """
        UPDATE environment_requests SET (cpu_milli, memory_bytes, without_requests) = (
            SELECT COALESCE(SUM(CAST(replicas AS DOUBLE PRECISION) * cpu_milli), 0.0),
                   COALESCE(SUM(CAST(replicas AS DOUBLE PRECISION) * memory_bytes), 0.0), COUNT(*) - COUNT(cpu_milli)
            FROM deployments WHERE environment_id = \(environment) AND deleted_at IS NULL
        ) WHERE environment_id = \(environment)
        """
    }

    static let sqliteTriggers: [String] = [
        "CREATE TRIGGER environments_requests_row AFTER INSERT ON environments BEGIN INSERT INTO environment_requests (environment_id) VALUES (NEW.id); END",
        "CREATE TRIGGER deployments_requests_insert AFTER INSERT ON deployments BEGIN \(recount("NEW.environment_id")); END",
        """
        CREATE TRIGGER deployments_requests_update AFTER UPDATE OF replicas, cpu_milli, memory_bytes, deleted_at ON deployments
        BEGIN \(recount("NEW.environment_id")); END
        """,
        "CREATE TRIGGER deployments_requests_delete AFTER DELETE ON deployments BEGIN \(recount("OLD.environment_id")); END",
    ]

    static let postgresTriggers: [String] = [
        """
        CREATE FUNCTION environment_requests_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO environment_requests (environment_id) VALUES (NEW.id);
            RETURN NULL;
        END $$
        """,
        "CREATE TRIGGER environments_requests_row AFTER INSERT ON environments FOR EACH ROW EXECUTE FUNCTION environment_requests_row()",
        """
        CREATE FUNCTION environment_requests_recount() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            environment TEXT := CASE WHEN TG_OP = 'DELETE' THEN OLD.environment_id ELSE NEW.environment_id END;
        BEGIN
            PERFORM 1 FROM environment_requests WHERE environment_id = environment FOR UPDATE;
            \(recount("environment"));
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER deployments_requests AFTER INSERT OR DELETE OR UPDATE OF replicas, cpu_milli, memory_bytes, deleted_at ON deployments
        FOR EACH ROW EXECUTE FUNCTION environment_requests_recount()
        """,
    ]
}
