import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite statements whose plain values skip SQLiteKit's `Codable` machinery, both ways.
///
/// SQLiteKit turns every bind into `SQLiteData` and every cell back into a Swift value through its data coders, which
/// look each type up as a protocol conformance and, for cells, go through a `Decoder` with a dynamic cast: that was
/// the largest part of reading a row (perf, `GET /api/projects/{id}/cost`: 9 % of the request for 300 cells). Here
/// the values Gantry reads and writes (text, integers, reals, booleans, `nil`, and optionals of them) are converted
/// directly, with exactly SQLiteKit's results; any other type goes through SQLiteKit's own coders as before.
struct PlainSQLiteDatabase: ForwardingSQLDatabase {
    let connection: SQLiteConnection
    let base: any SQLDatabase

    init(_ connection: SQLiteConnection) {
        self.connection = connection
        self.base = connection.sql()
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        let (sql, binds) = serialize(query)
        if let queryLogLevel {
            logger.log(level: queryLogLevel, "Executing query", metadata: ["sql": .string(sql), "binds": .array(binds.map { .string("\($0)") })])
        }
        var data: [SQLiteData] = []
        data.reserveCapacity(binds.count)
        for bind in binds {
            data.append(try Self.data(bind))
        }
        try await connection.query(sql, data) { row in onRow(PlainSQLiteRow(row: row)) }
    }

    static let encoder = SQLiteDataEncoder()

    /// The bind as SQLiteKit's encoder would send it.
    static func data(_ bind: any Encodable & Sendable) throws -> SQLiteData {
        switch bind {
        case let value as String: .text(value)
        case let value as Bool: .integer(value ? 1 : 0)
        case let value as Int: .integer(value)
        case let value as Double: .float(value)
        // A non-nil optional was unwrapped by the casts above; a nil of any optional type casts to every optional type.
        case let value as String? where value == nil: .null
        default: try encoder.encode(bind)
        }
    }
}

/// A row whose plain cells are read without a `Decoder`; see `PlainSQLiteDatabase`.
struct PlainSQLiteRow: SQLRow {
    let row: SQLiteRow

    static let decoder = SQLiteDataDecoder()

    var allColumns: [String] { row.columns.map(\.name) }

    func contains(column: String) -> Bool { row.column(column) != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let data = row.column(column) else { return true }
        return data == .null
    }

    /// Text, integers, reals, booleans and optionals of them are converted here, with exactly the results of
    /// SQLiteKit's decoder; any other type or cell goes to that decoder (which also reports a mismatch). Each cast is
    /// between identical types, checked just before it. Types are compared by identifiers made once, and nothing here
    /// is an optional of `D`: either made the runtime look generic metadata up on every cell (2 % of a 50-row answer).
    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let data = row.column(column) else {
            throw DecodingError.keyNotFound(SomeCodingKey(stringValue: column), .init(codingPath: [], debugDescription: "No column \(column) in the row."))
        }
        let wanted = ObjectIdentifier(D.self)
        switch data {
        case .text(let text):
            if wanted == Types.string { return unsafeBitCast(text, to: D.self) }
            if wanted == Types.optionalString { return unsafeBitCast(Optional(text), to: D.self) }
        case .integer(let integer):
            if wanted == Types.int { return unsafeBitCast(integer, to: D.self) }
            if wanted == Types.double { return unsafeBitCast(Double(integer), to: D.self) }
            if wanted == Types.optionalInt { return unsafeBitCast(Optional(integer), to: D.self) }
            if wanted == Types.optionalDouble { return unsafeBitCast(Optional(Double(integer)), to: D.self) }
            if integer == 0 || integer == 1 {
                if wanted == Types.bool { return unsafeBitCast(integer == 1, to: D.self) }
                if wanted == Types.optionalBool { return unsafeBitCast(Optional(integer == 1), to: D.self) }
            }
        case .float(let real):
            if wanted == Types.double { return unsafeBitCast(real, to: D.self) }
            if wanted == Types.optionalDouble { return unsafeBitCast(Optional(real), to: D.self) }
        case .null:
            if wanted == Types.optionalString { return unsafeBitCast(String?.none, to: D.self) }
            if wanted == Types.optionalInt { return unsafeBitCast(Int?.none, to: D.self) }
            if wanted == Types.optionalDouble { return unsafeBitCast(Double?.none, to: D.self) }
            if wanted == Types.optionalBool { return unsafeBitCast(Bool?.none, to: D.self) }
        case .blob:
            break
        }
        return try Self.decoder.decode(D.self, from: data)
    }

    private enum Types {
        static let string = ObjectIdentifier(String.self)
        static let int = ObjectIdentifier(Int.self)
        static let double = ObjectIdentifier(Double.self)
        static let bool = ObjectIdentifier(Bool.self)
        static let optionalString = ObjectIdentifier(String?.self)
        static let optionalInt = ObjectIdentifier(Int?.self)
        static let optionalDouble = ObjectIdentifier(Double?.self)
        static let optionalBool = ObjectIdentifier(Bool?.self)
    }
}
