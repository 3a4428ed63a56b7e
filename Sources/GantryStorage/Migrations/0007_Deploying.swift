import SQLKit

/// Deploying (docs/api.md §7): the spec fields a deployment gained, its immutable revisions, the durable jobs
/// the deployer runs, and Gantry's own timeline events.
///
/// Jobs live in the database so that a deployer killed mid-job, restarted, or running beside another replica
/// neither loses nor doubles one: a job is leased by one process at a time (`lease_owner`, `lease_until`),
/// and a lease that runs out is taken over.
struct Deploying: DatabaseMigration {
    let name = "0007_deploying"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        let statements: [SQLQueryString] = [
            "ALTER TABLE deployments ADD COLUMN env TEXT NOT NULL DEFAULT '[]'",
            // {name: value} sealed for the deployer (the config role cannot open it), and the sorted names in clear.
            "ALTER TABLE deployments ADD COLUMN sealed_secret_env TEXT",
            "ALTER TABLE deployments ADD COLUMN secret_env_names TEXT NOT NULL DEFAULT '[]'",
            // Moves whenever the secret values are written, so a change of secrets is a pending change.
            "ALTER TABLE deployments ADD COLUMN secret_env_version INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE deployments ADD COLUMN ingress TEXT",
            "ALTER TABLE deployments ADD COLUMN health_check TEXT",
            "ALTER TABLE deployments ADD COLUMN current_revision INTEGER",
            // The canonical spec of the current revision: pendingChanges compares against it without a join.
            "ALTER TABLE deployments ADD COLUMN current_spec TEXT",
            "ALTER TABLE deployments ADD COLUMN drift TEXT",
            """
            CREATE TABLE revisions (
                id TEXT PRIMARY KEY,
                org_id TEXT NOT NULL REFERENCES organizations (id),
                deployment_id TEXT NOT NULL REFERENCES deployments (id),
                number INTEGER NOT NULL CHECK (number >= 1),
                spec TEXT NOT NULL,
                sealed_secret_env TEXT,
                status TEXT NOT NULL CHECK (status IN ('queued', 'applying', 'applied', 'succeeded', 'failed', 'superseded')),
                message TEXT,
                rollback_of INTEGER,
                applied_objects TEXT,
                trouble_since BIGINT,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                applied_at BIGINT,
                finished_at BIGINT,
                UNIQUE (deployment_id, number)
            )
            """,
            "CREATE INDEX revisions_open ON revisions (deployment_id, status) WHERE status IN ('queued', 'applying', 'applied')",
            """
            CREATE TABLE deploy_jobs (
                id TEXT PRIMARY KEY,
                org_id TEXT NOT NULL REFERENCES organizations (id),
                deployment_id TEXT NOT NULL REFERENCES deployments (id),
                revision_id TEXT REFERENCES revisions (id),
                kind TEXT NOT NULL CHECK (kind IN ('apply', 'teardown')),
                done BOOLEAN NOT NULL DEFAULT FALSE,
                attempts INTEGER NOT NULL DEFAULT 0,
                run_after BIGINT NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT,
                first_failure_at BIGINT,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                CHECK ((kind = 'apply') = (revision_id IS NOT NULL))
            )
            """,
            "CREATE INDEX deploy_jobs_open ON deploy_jobs (run_after, id) WHERE done = FALSE",
            "CREATE INDEX deploy_jobs_deployment_open ON deploy_jobs (deployment_id, id) WHERE done = FALSE",
            """
            CREATE TABLE deployment_events (
                id TEXT PRIMARY KEY,
                org_id TEXT NOT NULL REFERENCES organizations (id),
                deployment_id TEXT NOT NULL REFERENCES deployments (id),
                at BIGINT NOT NULL,
                warning BOOLEAN NOT NULL,
                reason TEXT NOT NULL,
                message TEXT NOT NULL,
                object TEXT NOT NULL
            )
            """,
            "CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id, at)",
        ]
        for statement in statements { try await database.raw(statement).run() }
    }
}
