import Foundation
import GantryStorage
import SQLKit
import Testing

/// SQLite serves reads from a few connections beside the writer (WAL).
@Suite("SQLite reads")
struct SQLiteReadsTests {
    @Test("A read that starts after a write commits sees it, even while a long read runs beside it")
    func readsSeeCommittedWrites() async throws {
        let url = try await TestDatabase.sqlite.makeURL()
        try await withMigratedDatabase(url: url) { database in
            try await database.transaction { try await $0.raw("CREATE TABLE scratch (n INTEGER)").run() }
            // Many rows, each its own step: the statement stays open on its connection for a while, and a
            // statement that joined it there would read the snapshot it started with.
            let long = Task {
                try await database.read { sql in
                    try await sql.raw("""
                        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
                        SELECT x, (SELECT count(*) FROM scratch) AS seen FROM c
                        """).all().count
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            try await database.transaction { try await $0.raw("INSERT INTO scratch (n) VALUES (1)").run() }
            for attempt in 1...6 {
                let seen = try await database.read { sql in
                    try await sql.raw("SELECT count(*) AS n FROM scratch").first()?.decode(column: "n", as: Int.self)
                }
                #expect(seen == 1, "read \(attempt) after the commit saw \(String(describing: seen)) rows")
            }
            #expect(try await long.value == 200_000)
        }
    }
}
