import SQLKit

/// PostgreSQL only: every change to tokens, users, roles or assignments NOTIFYs `gantry_access` when its
/// transaction commits, so each replica drops the callers it cached (see `CallerCache`). Written as
/// triggers so that any writer, including an operator at psql revoking a token, is covered. A token's
/// `last_used_at` bookkeeping changes nobody's access and stays silent.
struct AccessChangeNotifications: DatabaseMigration {
    let name = "0006_access_change_notifications"
    static let channel = "gantry_access"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        guard kind == .postgres else { return }
        try await database.raw("""
            CREATE FUNCTION gantry_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('\(unsafeRaw: Self.channel)', '');
                RETURN NULL;
            END $$
            """).run()
        let triggers = [
            ("tokens", "DELETE OR UPDATE OF revoked_at, expires_at, user_id, org_id, secret_hash"),
            ("users", "UPDATE OR DELETE"),
            ("roles", "UPDATE OR DELETE"),
            ("assignments", "INSERT OR UPDATE OR DELETE"),
        ]
        for (table, events) in triggers {
            try await database.raw("""
                CREATE TRIGGER \(unsafeRaw: table)_access_changed AFTER \(unsafeRaw: events) ON \(unsafeRaw: table)
                FOR EACH STATEMENT EXECUTE FUNCTION gantry_access_changed()
                """).run()
        }
    }
}
