import GantryCore
import SQLKit

/// The dashboard cards' numbers per project, kept by triggers in the same transaction as every change to
/// environments and deployments — whoever writes them (the API, the deployer's status sync, an operator).
/// `GET /projects/stats` then reads one row per project instead of grouping every deployment.
///
/// On PostgreSQL the trigger locks the project's row before recounting, so concurrent writers to one project
/// recount in turn and each sees the others' committed rows (READ COMMITTED takes a new snapshot per statement).
struct ProjectStatsRollup: DatabaseMigration {
    let name = "0003_project_stats_rollup"

    static let statuses = DeploymentStatus.allCases.map(\.rawValue)

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        // The recount reads one project's live deployments; this index makes that a short covering range scan.
        let index = "CREATE INDEX deployments_project_live ON deployments (project_id, status, last_deployed_at) WHERE deleted_at IS NULL"
        let statements = [Self.table, index] + (kind == .sqlite ? Self.sqliteTriggers : Self.postgresTriggers)
            + ["INSERT INTO project_stats (project_id) SELECT id FROM projects", Self.recount("project_stats.project_id", kind)]
        for statement in statements {
            try await database.raw(SQLQueryString(statement)).run()
        }
    }

    static let table = """
        CREATE TABLE project_stats (
            project_id TEXT PRIMARY KEY REFERENCES projects (id),
            environment_count BIGINT NOT NULL DEFAULT 0,
            service_count BIGINT NOT NULL DEFAULT 0,
        \(statuses.map { "    \($0) BIGINT NOT NULL DEFAULT 0," }.joined(separator: "\n"))
            last_deployed_at BIGINT
        )
        """

    /// The recount of one project, `project` being an SQL expression for its id.
    static func recount(_ project: String, _ kind: DatabaseKind) -> String {
        let buckets = statuses.map { status in
            kind == .sqlite ? "COALESCE(SUM(status = '\(status)'), 0)" : "COUNT(*) FILTER (WHERE status = '\(status)')"
        }.joined(separator: ", ")
        return """
            UPDATE project_stats SET (environment_count, service_count, \(statuses.joined(separator: ", ")), last_deployed_at) = (
                SELECT (SELECT COUNT(*) FROM environments WHERE project_id = \(project) AND deleted_at IS NULL), COUNT(*), \(buckets),
                       MAX(last_deployed_at)
                FROM deployments WHERE project_id = \(project) AND deleted_at IS NULL
            ) WHERE project_id = \(project)
            """
    }

    static let sqliteTriggers: [String] = [
        "CREATE TRIGGER projects_stats_row AFTER INSERT ON projects BEGIN INSERT INTO project_stats (project_id) VALUES (NEW.id); END",
        "CREATE TRIGGER environments_stats_insert AFTER INSERT ON environments BEGIN \(recount("NEW.project_id", .sqlite)); END",
        "CREATE TRIGGER environments_stats_update AFTER UPDATE OF deleted_at ON environments BEGIN \(recount("NEW.project_id", .sqlite)); END",
        "CREATE TRIGGER environments_stats_delete AFTER DELETE ON environments BEGIN \(recount("OLD.project_id", .sqlite)); END",
        "CREATE TRIGGER deployments_stats_insert AFTER INSERT ON deployments BEGIN \(recount("NEW.project_id", .sqlite)); END",
        """
        CREATE TRIGGER deployments_stats_update AFTER UPDATE OF status, last_deployed_at, deleted_at ON deployments
        BEGIN \(recount("NEW.project_id", .sqlite)); END
        """,
        "CREATE TRIGGER deployments_stats_delete AFTER DELETE ON deployments BEGIN \(recount("OLD.project_id", .sqlite)); END",
    ]

    static let postgresTriggers: [String] = [
        """
        CREATE FUNCTION project_stats_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO project_stats (project_id) VALUES (NEW.id);
            RETURN NULL;
        END $$
        """,
        "CREATE TRIGGER projects_stats_row AFTER INSERT ON projects FOR EACH ROW EXECUTE FUNCTION project_stats_row()",
        """
        CREATE FUNCTION project_stats_recount() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            project TEXT := CASE WHEN TG_OP = 'DELETE' THEN OLD.project_id ELSE NEW.project_id END;
        BEGIN
            PERFORM 1 FROM project_stats WHERE project_id = project FOR UPDATE;
            \(recount("project", .postgres));
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER environments_stats AFTER INSERT OR DELETE OR UPDATE OF deleted_at ON environments
        FOR EACH ROW EXECUTE FUNCTION project_stats_recount()
        """,
        """
        CREATE TRIGGER deployments_stats AFTER INSERT OR DELETE OR UPDATE OF status, last_deployed_at, deleted_at ON deployments
        FOR EACH ROW EXECUTE FUNCTION project_stats_recount()
        """,
    ]
}
