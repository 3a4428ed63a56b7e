import GantryCore
import SQLKit

/// The catalog. The DDL is portable between SQLite and PostgreSQL: timestamps are BIGINT microseconds,
/// JSON is TEXT, booleans are INTEGER. Live-only uniqueness rules are partial unique indexes over
/// `deleted_at IS NULL`, and names are unique ignoring case through a lowercased `name_key` column.
struct InitialSchema: DatabaseMigration {
    let name = "0001_initial_schema"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        for statement in Self.statements {
            try await database.raw(SQLQueryString(statement)).run()
        }
        let now = Timestamp.now()
        for role in Policies.builtInRoles {
            try await database.raw("""
                INSERT INTO roles (id, org_id, name, name_key, description, policies, built_in, created_at, updated_at, version)
                VALUES (\(bind: role.id), NULL, \(bind: role.name), \(bind: role.name), \(bind: role.description),
                    \(bind: try JSONColumn.encode(role.policies)), 1, \(bind: now), \(bind: now), 1)
                """).run()
        }
    }

    static let statements: [String] = [
        """
        CREATE TABLE organizations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX organizations_name ON organizations (name_key)",
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            email TEXT NOT NULL,
            email_key TEXT NOT NULL,
            name TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX users_email_live ON users (org_id, email_key) WHERE deleted_at IS NULL",
        """
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            user_id TEXT NOT NULL REFERENCES users (id),
            name TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            last_used_at BIGINT,
            revoked_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX tokens_secret_hash ON tokens (secret_hash)",
        "CREATE INDEX tokens_user ON tokens (user_id, id)",
        """
        CREATE TABLE roles (
            id TEXT PRIMARY KEY,
            org_id TEXT REFERENCES organizations (id),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            description TEXT NOT NULL,
            policies TEXT NOT NULL,
            built_in INTEGER NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        """
        CREATE TABLE assignments (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            user_id TEXT NOT NULL REFERENCES users (id),
            role_id TEXT NOT NULL REFERENCES roles (id),
            scope TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        "CREATE INDEX assignments_user ON assignments (user_id) WHERE deleted_at IS NULL",
        """
        CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            description TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX projects_name_live ON projects (org_id, name_key) WHERE deleted_at IS NULL",
        "CREATE INDEX projects_org_live ON projects (org_id, id) WHERE deleted_at IS NULL",
        """
        CREATE TABLE cloud_accounts (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            provider TEXT NOT NULL CHECK (provider IN ('aws', 'gcp', 'azure')),
            sealed_credentials TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX cloud_accounts_name_live ON cloud_accounts (org_id, name_key) WHERE deleted_at IS NULL",
        """
        CREATE TABLE integrations (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('ecr', 'gar', 'acr', 'dockerhub', 'ghcr', 'generic')),
            registry TEXT NOT NULL,
            cloud_account_id TEXT REFERENCES cloud_accounts (id),
            sealed_credentials TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX integrations_name_live ON integrations (org_id, name_key) WHERE deleted_at IS NULL",
        """
        CREATE TABLE spaces (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            provider TEXT NOT NULL CHECK (provider IN ('kubeconfig', 'aws', 'gcp', 'azure')),
            cloud_account_id TEXT REFERENCES cloud_accounts (id),
            config TEXT NOT NULL,
            server TEXT,
            status TEXT NOT NULL CHECK (status IN ('active', 'unreachable', 'revoked')),
            sealed_kubeconfig TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX spaces_name_live ON spaces (org_id, name_key) WHERE deleted_at IS NULL",
        """
        CREATE TABLE environments (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            project_id TEXT NOT NULL REFERENCES projects (id),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            space_id TEXT NOT NULL REFERENCES spaces (id),
            namespace TEXT NOT NULL,
            registry_integration_id TEXT REFERENCES integrations (id),
            registry_url TEXT,
            created_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX environments_name_live ON environments (project_id, name_key) WHERE deleted_at IS NULL",
        "CREATE UNIQUE INDEX environments_namespace_live ON environments (org_id, space_id, namespace) WHERE deleted_at IS NULL",
        "CREATE INDEX environments_project_live ON environments (project_id, id) WHERE deleted_at IS NULL",
        "CREATE INDEX environments_stats_live ON environments (org_id, project_id) WHERE deleted_at IS NULL",
        "CREATE INDEX environments_integration_live ON environments (registry_integration_id) WHERE deleted_at IS NULL",
        """
        CREATE TABLE deployments (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            project_id TEXT NOT NULL REFERENCES projects (id),
            environment_id TEXT NOT NULL REFERENCES environments (id),
            name TEXT NOT NULL,
            image TEXT NOT NULL,
            replicas BIGINT NOT NULL CHECK (replicas >= 0),
            port BIGINT CHECK (port BETWEEN 1 AND 65535),
            cpu_request TEXT,
            memory_request TEXT,
            status TEXT NOT NULL CHECK (status IN ('pending', 'deploying', 'running', 'degraded', 'failed', 'stopped', 'unknown')),
            last_deployed_at BIGINT,
            canvas_x DOUBLE PRECISION,
            canvas_y DOUBLE PRECISION,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            deleted_at BIGINT
        )
        """,
        "CREATE UNIQUE INDEX deployments_name_live ON deployments (environment_id, name) WHERE deleted_at IS NULL",
        "CREATE INDEX deployments_environment_live ON deployments (environment_id, id) WHERE deleted_at IS NULL",
        "CREATE INDEX deployments_stats_live ON deployments (org_id, project_id, status, last_deployed_at) WHERE deleted_at IS NULL",
        """
        CREATE TABLE connections (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations (id),
            environment_id TEXT NOT NULL REFERENCES environments (id),
            from_deployment_id TEXT NOT NULL REFERENCES deployments (id),
            to_deployment_id TEXT NOT NULL REFERENCES deployments (id),
            source_hint TEXT NOT NULL CHECK (source_hint IN ('manual', 'suggestion')),
            injected_var TEXT,
            created_at BIGINT NOT NULL,
            deleted_at BIGINT,
            CHECK (from_deployment_id <> to_deployment_id)
        )
        """,
        "CREATE UNIQUE INDEX connections_pair_live ON connections (from_deployment_id, to_deployment_id) WHERE deleted_at IS NULL",
        "CREATE INDEX connections_environment_live ON connections (environment_id, id) WHERE deleted_at IS NULL",
        """
        CREATE TABLE idempotency_keys (
            token_id TEXT NOT NULL REFERENCES tokens (id),
            key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status BIGINT,
            headers TEXT,
            body TEXT,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (token_id, key)
        )
        """,
    ]
}
