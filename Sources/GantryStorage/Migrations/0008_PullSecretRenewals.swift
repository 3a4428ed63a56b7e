import SQLKit

/// When each environment's image pull secret must be written again: a login minted from a cloud account lives 1 h
/// (Google) to 12 h (ECR), and pods scheduled after it expires could not pull. Kept in the database, leased like deploy
/// jobs, so a restart loses no renewal and two replicas do not renew one secret at once.
struct PullSecretRenewals: DatabaseMigration {
    let name = "0008_pull_secret_renewals"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        try await database.raw("""
            CREATE TABLE pull_secret_renewals (
                environment_id TEXT PRIMARY KEY REFERENCES environments (id),
                org_id TEXT NOT NULL REFERENCES organizations (id),
                renew_at BIGINT NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT
            )
            """).run()
        try await database.raw("CREATE INDEX pull_secret_renewals_due ON pull_secret_renewals (renew_at)").run()
    }
}
