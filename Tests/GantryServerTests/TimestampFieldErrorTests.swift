import Foundation
import Testing

/// docs/api.md §2: a field that is invalid is 400 `validation_failed` naming it in `details.fields`; a malformed
/// timestamp names its field, not `body`.
@Suite("Malformed timestamps")
struct TimestampFieldErrorTests {
    @Test("A malformed expiresAt is 400 validation_failed naming expiresAt", arguments: TestDatabase.all)
    func malformedExpiresAt(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for path in ["/api/tokens", "/api/users/\(try await Self.member(app))/tokens"] {
                for value in ["not-a-date", "2026-13-45T99:00:00Z", ""] {
                    let reply = try await app.post(path, ["name": "ci", "expiresAt": value])
                    #expect(reply.status == 400, "\(path) \(value): \(reply.text)")
                    #expect(reply.errorCode == "validation_failed", "\(path) \(value)")
                    #expect(reply.fieldNames == ["expiresAt"], "\(path) \(value): \(reply.text)")
                }
            }
            // The name may hold the same text: the field reported is still the timestamp.
            let same = try await app.post("/api/tokens", ["name": "later", "expiresAt": "later"])
            #expect(same.fieldNames == ["expiresAt"], "\(same.text)")
            #expect(try await app.post("/api/tokens", ["name": "ci", "expiresAt": "2099-01-31T12:00:00Z"]).status == 201)
        }
    }

    static func member(_ app: TestApp) async throws -> String {
        let user = try await app.post("/api/users", ["email": "bot-\(UUID().uuidString.prefix(6))@example.com", "name": "Bot"])
        try #require(user.status == 201)
        return user.id
    }
}
