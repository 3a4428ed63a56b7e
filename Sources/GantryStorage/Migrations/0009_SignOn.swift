import SQLKit

/// Single sign-on (docs/api.md §9). A console session is a token row of kind `session`: it authenticates through
/// the same lookup, cache and revocation as a personal access token, with a CSRF value of its own. Sign-in attempts
/// keep the `state`, `nonce` and PKCE verifier of a login in flight, each usable once. Assignments made from the
/// identity provider's groups carry `source = 'oidc'`; hand-made ones (NULL) are never touched by sign-in.
struct SignOn: DatabaseMigration {
    let name = "0009_sign_on"

    func apply(on database: any SQLDatabase, kind: DatabaseKind) async throws {
        let statements: [SQLQueryString] = [
            "ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal' CHECK (kind IN ('personal', 'session'))",
            "ALTER TABLE tokens ADD COLUMN csrf_token TEXT",
            "ALTER TABLE assignments ADD COLUMN source TEXT CHECK (source IS NULL OR source = 'oidc')",
            """
            CREATE TABLE sign_in_attempts (
                state TEXT PRIMARY KEY,
                nonce TEXT NOT NULL,
                code_verifier TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                used_at BIGINT
            )
            """,
            "CREATE INDEX sign_in_attempts_created ON sign_in_attempts (created_at)",
        ]
        for statement in statements { try await database.raw(statement).run() }
    }
}
