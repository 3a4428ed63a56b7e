import SQLKit

/// Status sync remembers the Kubernetes revision whose completed rollout it last saw, so `lastDeployedAt`
/// is when it first saw the current revision complete, not every time it looks.
struct ObservedRevision: DatabaseMigration {
    let name = "0004_observed_revision"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        try await database.raw("ALTER TABLE deployments ADD COLUMN observed_revision TEXT").run()
    }
}
