import Foundation
@testable import GantryStorage
import Logging
import SQLiteKit
import Testing

/// SQLite binds and cells of plain types skip SQLiteKit's coders (`PlainSQLiteDatabase`); every result, and every
/// refusal, must be exactly what SQLiteKit gives for the same statement.
@Suite("SQLite rows")
struct SQLiteRowsTests {
    /// One cell of each storage class SQLite has, and integers at the edges of the boolean reading.
    static let cells = """
        SELECT 'text' AS text, '12' AS numeric_text, 7 AS integer, 0 AS zero, 1 AS one, 2 AS two, 2.5 AS real, 3.0 AS whole_real,
            NULL AS null_cell, x'00ff' AS blob
        """

    @Test("Every plain type reads every kind of cell exactly as SQLiteKit reads it")
    func cellsReadAsSQLiteKitReadsThem() async throws {
        try await withConnection { connection in
            let plain = try #require(try await PlainSQLiteDatabase(connection).raw(SQLQueryString(Self.cells)).first())
            let kit = try #require(try await connection.sql().raw(SQLQueryString(Self.cells)).first())
            var compared = 0
            for column in kit.allColumns {
                func same<T: Decodable>(_ type: T.Type) {
                    let mine = Result { try plain.decode(column: column, as: T.self) }
                    let theirs = Result { try kit.decode(column: column, as: T.self) }
                    switch (mine, theirs) {
                    case (.success(let a), .success(let b)):
                        #expect(String(describing: a) == String(describing: b), "\(column) as \(T.self)")
                    case (.failure, .failure):
                        break
                    default:
                        Issue.record("\(column) as \(T.self): ours \(mine), SQLiteKit's \(theirs)")
                    }
                    compared += 1
                }
                same(String.self); same(String?.self)
                same(Int.self); same(Int?.self)
                same(Double.self); same(Double?.self)
                same(Bool.self); same(Bool?.self)
                same(Int64.self); same(Date.self); same([Int].self)
            }
            #expect(compared == 10 * 11)
            #expect(plain.allColumns == kit.allColumns)
            #expect(try plain.decodeNil(column: "null_cell") && !plain.decodeNil(column: "zero"))
            #expect(!plain.contains(column: "absent"))
            #expect(throws: DecodingError.self) { try plain.decode(column: "absent", as: String.self) }
        }
    }

    @Test("Every plain bind is sent as SQLiteKit sends it")
    func bindsSentAsSQLiteKitSendsThem() async throws {
        let binds: [any Encodable & Sendable] = [
            "text", 7, 2.5, true, false, String?.none, String?.some("some"), Int?.none, Int?.some(3), Double?.none, Int64(9),
            Date(timeIntervalSince1970: 1_700_000_000), ["a", "b"],
        ]
        try await withConnection { connection in
            for bind in binds {
                let query = SQLQueryString("SELECT \(bind: bind) AS v, typeof(\(bind: bind)) AS t")
                let mine = try #require(try await PlainSQLiteDatabase(connection).raw(query).first())
                let theirs = try #require(try await connection.sql().raw(query).first())
                #expect(try mine.decode(column: "t", as: String.self) == theirs.decode(column: "t", as: String.self), "\(bind)")
                #expect(try mine.decode(column: "v", as: String?.self) == theirs.decode(column: "v", as: String?.self), "\(bind)")
            }
        }
    }

    func withConnection(_ body: (SQLiteConnection) async throws -> Void) async throws {
        let connection = try await SQLiteConnection.open(storage: .memory, logger: Logger(label: "test"))
        do {
            try await body(connection)
        } catch {
            try await connection.close()
            throw error
        }
        try await connection.close()
    }
}
