import Foundation
@testable import GantryStorage
import SQLKit
import Testing

/// Row types' camelCase properties name snake_case columns, converted by `ColumnNames` instead of SQLKit's per-key
/// Unicode walk; the columns found must be exactly the ones SQLKit's own strategy finds.
@Suite("Column names")
struct ColumnNamesTests {
    @Test("Property names become the column names SQLKit's snake-case strategy reads")
    func sameAsSQLKit() async throws {
        struct Row: Decodable, Equatable {
            var id: String
            var orgId: String
            var lastDeployedAt: Int
            var sealedKubeconfig: String
            var cpuMilli: Int
            var observedRevision: String?
            var myURLProperty: String
            var revision2Spec: String
        }
        #expect(ColumnNames.snakeCase("orgId") == "org_id")
        #expect(ColumnNames.snakeCase("lastDeployedAt") == "last_deployed_at")
        #expect(ColumnNames.snakeCase("id") == "id")
        #expect(ColumnNames.snakeCase("") == "")
        let url = try await TestDatabase.sqlite.makeURL()
        try await withMigratedDatabase(url: url) { database in
            let decoded = try await database.read { sql -> (Row?, Row?) in
                // Columns named as SQLKit's strategy names each property (the acronym rule included).
                let row = try await sql.raw("""
                    SELECT 'a' AS id, 'o' AS org_id, 7 AS last_deployed_at, 'k' AS sealed_kubeconfig, 250 AS cpu_milli,
                        NULL AS observed_revision, 'u' AS my_uRL_property, 's' AS revision2_spec
                    """).first()
                return (try row?.decode(model: Row.self, keyDecodingStrategy: .convertFromSnakeCase),
                        try row?.decode(model: Row.self, keyDecodingStrategy: ColumnNames.fromProperties))
            }
            #expect(decoded.0 != nil)
            #expect(decoded.0 == decoded.1)
        }
    }
}
