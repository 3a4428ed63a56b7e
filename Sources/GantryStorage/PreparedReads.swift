import Foundation
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// Reads on PostgreSQL as named prepared statements: each connection parses and plans a statement once, and every
/// later run only binds and executes it. PostgresKit sends every query as an unnamed statement, which PostgreSQL
/// parses and plans again each time; for the short indexed reads of the API (a token, a project by ID, a page of a
/// list) that was most of the server-side work.
///
/// The statements are the SQL texts SQLKit serializes (binds as `$n`), so the same read is the same statement
/// whatever its values. PostgresNIO keeps which names each connection has prepared; this type only names the texts.
/// A statement whose binds are not all plain values (text, integers, floats, booleans, bytes, or nil), and any text
/// beyond the first `PreparedStatementNames.capacity` distinct ones (an `IN (…)` list of every length, say), runs
/// unprepared as before, so the server's memory per connection stays bounded.
struct PreparingPostgresDatabase: ForwardingSQLDatabase {
    let connection: PostgresConnection
    let base: any SQLDatabase
    let names: PreparedStatementNames

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        let (sql, binds) = serialize(query)
        guard let bindings = Self.bindings(binds), let name = names.name(for: sql) else {
            return try await base.execute(sql: query, onRow)
        }
        let rows = try await NamedStatement.$current.withValue(.init(name: name, sql: sql)) {
            try await connection.execute(NamedStatement(bindings: bindings), logger: connection.logger)
        }
        for try await row in rows {
            onRow(row.sql(decodingContext: .default))
        }
    }

    /// The binds as PostgresNIO encodes them, or nil when one is not a plain value.
    static func bindings(_ binds: [any Encodable & Sendable]) -> PostgresBindings? {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case let value as String: bindings.append(value)
            case let value as Int: bindings.append(value)
            case let value as Int64: bindings.append(value)
            case let value as Int32: bindings.append(value)
            case let value as Double: bindings.append(value)
            case let value as Bool: bindings.append(value)
            case let value as Optional<String>: bindings.append(value)
            case let value as Optional<Int>: bindings.append(value)
            case let value as Optional<Int64>: bindings.append(value)
            case let value as Optional<Double>: bindings.append(value)
            case let value as Optional<Bool>: bindings.append(value)
            default: return nil
            }
        }
        return bindings
    }
}

/// The one `PostgresPreparedStatement` type, whose name and text are those of the statement being run. PostgresNIO
/// reads `Statement.name` and `Statement.sql` synchronously when it sends the statement, in the caller's task, so a
/// task-local carries them there.
struct NamedStatement: PostgresPreparedStatement {
    struct Text: Sendable { var name: String; var sql: String }
    @TaskLocal static var current = Text(name: "", sql: "")

    static var name: String { current.name }
    static var sql: String { current.sql }

    let bindings: PostgresBindings
    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// Names for statement texts: the same text always gets the same name in this process, so a connection prepares it
/// once; at most `capacity` texts are named.
final class PreparedStatementNames: Sendable {
    static let capacity = 256
    private let byText = Mutex<[String: String]>([:])

    func name(for sql: String) -> String? {
        byText.withLock { names in
            if let name = names[sql] { return name }
            guard names.count < Self.capacity else { return nil }
            let name = "gantry_\(names.count + 1)"
            names[sql] = name
            return name
        }
    }
}
