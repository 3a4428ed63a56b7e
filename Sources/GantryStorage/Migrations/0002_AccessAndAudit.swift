import SQLKit

/// Access control and the audit log. Each organization's entries form a hash chain ordered by `seq`;
/// `audit_heads` holds the chain's tip, and locking that row is what serializes concurrent writers of
/// one organization (on SQLite the single writer already does).
struct AccessAndAudit: DatabaseMigration {
    let name = "0002_access_and_audit"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        for statement in Self.statements {
            try await database.raw(SQLQueryString(statement)).run()
        }
    }

    static let statements = [
        """
        CREATE TABLE audit_logs (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            seq BIGINT NOT NULL,
            action TEXT NOT NULL,
            actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'system')),
            actor_id TEXT,
            actor_email TEXT,
            token_id TEXT,
            resource_type TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            project_id TEXT,
            environment_id TEXT,
            deployment_id TEXT,
            request_id TEXT,
            changes TEXT,
            created_at BIGINT NOT NULL,
            hash TEXT NOT NULL,
            prev_hash TEXT
        )
        """,
        "CREATE UNIQUE INDEX audit_logs_chain ON audit_logs (org_id, seq)",
        "CREATE INDEX audit_logs_org ON audit_logs (org_id, id)",
        "CREATE INDEX audit_logs_project ON audit_logs (project_id, id)",
        "CREATE INDEX audit_logs_environment ON audit_logs (environment_id, id)",
        "CREATE INDEX audit_logs_deployment ON audit_logs (deployment_id, id)",
        """
        CREATE TABLE audit_heads (
            org_id TEXT PRIMARY KEY REFERENCES organizations (id),
            seq BIGINT NOT NULL,
            hash TEXT
        )
        """,
        "INSERT INTO audit_heads (org_id, seq, hash) SELECT id, 0, NULL FROM organizations",
        "CREATE UNIQUE INDEX roles_name_live ON roles (org_id, name_key) WHERE deleted_at IS NULL",
        "CREATE INDEX roles_org_live ON roles (org_id, id) WHERE deleted_at IS NULL",
        // The project above an environment scope, written with the grant, so authentication needs no join for it.
        "ALTER TABLE assignments ADD COLUMN scope_project_id TEXT REFERENCES projects (id)",
        "CREATE UNIQUE INDEX assignments_grant_live ON assignments (user_id, role_id, scope) WHERE deleted_at IS NULL",
        "CREATE INDEX assignments_org_live ON assignments (org_id, id) WHERE deleted_at IS NULL",
        "CREATE INDEX users_org_live ON users (org_id, id) WHERE deleted_at IS NULL",
    ]
}
