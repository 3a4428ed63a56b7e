import Foundation
import GantryStorage
import SQLKit
import Testing

/// PostgreSQL reads are named prepared statements, prepared once per connection (see `PreparingPostgresDatabase`).
@Suite("PostgreSQL reads")
struct PostgresReadsTests {
    @Test("A read runs as a prepared statement of its connection, with its values bound, and answers like an unnamed one",
          arguments: TestDatabase.all.filter { $0 != .sqlite })
    func readsArePrepared(_ db: TestDatabase) async throws {
        try await withMigratedDatabase(url: try await db.makeURL()) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE scratch (id TEXT PRIMARY KEY, n BIGINT, note TEXT)").run()
                try await sql.raw("INSERT INTO scratch VALUES ('a', 1, NULL), ('b', 2, 'two')").run()
            }
            struct Row: Decodable, Equatable { var id: String; var n: Int; var note: String? }
            let (rows, prepared) = try await database.read { sql in
                let rows = try await sql.raw("SELECT id, n, note FROM scratch WHERE n >= \(bind: 1) AND COALESCE(\(bind: Optional<String>.none), 'x') = 'x' ORDER BY id")
                    .all(decoding: Row.self)
                let again = try await sql.raw("SELECT id, n, note FROM scratch WHERE n >= \(bind: 2) AND COALESCE(\(bind: Optional<String>.none), 'x') = 'x' ORDER BY id")
                    .all(decoding: Row.self)
                #expect(again == [Row(id: "b", n: 2, note: "two")])
                let prepared = try await sql.raw("""
                    SELECT name FROM pg_prepared_statements WHERE statement LIKE \(bind: "SELECT id, n, note FROM scratch%")
                    """).all(decodingColumn: "name", as: String.self)
                return (rows, prepared)
            }
            #expect(rows == [Row(id: "a", n: 1, note: nil), Row(id: "b", n: 2, note: "two")])
            #expect(prepared.count == 1, "the two runs share one prepared statement: \(prepared)")
            #expect(prepared.first?.hasPrefix("gantry_") == true)
        }
    }
}
