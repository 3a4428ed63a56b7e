import Foundation
import GantryCore
import PostgresNIO
import SQLKit
import SQLiteNIO

/// What a failed statement said about the database's own rules.
enum ConstraintViolation {
    /// A unique index refused the row; the text names the index (PostgreSQL) or its columns (SQLite).
    case unique(String)
    case foreignKey
}

extension ConstraintViolation {
    static func classify(_ error: any Error) -> ConstraintViolation? {
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            switch state {
            case "23505": return .unique(error.serverInfo?[.constraintName] ?? "")
            case "23503": return .foreignKey
            default: return nil
            }
        }
        if let error = error as? SQLiteError {
            if error.message.contains("UNIQUE constraint failed") { return .unique(error.message) }
            if error.message.contains("FOREIGN KEY constraint failed") { return .foreignKey }
        }
        return nil
    }
}

/// Runs an insert or update and turns a unique-index refusal into the contract's 409 `conflict`.
/// The pre-checks inside each transaction give the friendly message; this is the backstop for races.
func mappingUniqueViolation<T>(_ conflict: (String) -> AppError, _ work: () async throws -> T) async throws -> T {
    do {
        return try await work()
    } catch {
        if case .unique(let index)? = ConstraintViolation.classify(error) { throw conflict(index) }
        throw error
    }
}

extension SQLRow {
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try decodeNil(column: column) ? nil : try decode(column: column, as: String.self) }
    func int(_ column: String) throws -> Int { try decode(column: column, as: Int.self) }
    func optionalInt(_ column: String) throws -> Int? { try decodeNil(column: column) ? nil : try decode(column: column, as: Int.self) }
    func double(_ column: String) throws -> Double? { try decodeNil(column: column) ? nil : try decode(column: column, as: Double.self) }
    func date(_ column: String) throws -> Date { Timestamp.date(try decode(column: column, as: Int64.self)) }
    func optionalDate(_ column: String) throws -> Date? {
        try decodeNil(column: column) ? nil : Timestamp.date(try decode(column: column, as: Int64.self))
    }
}

enum SQLFragments {
    /// `AND name_key LIKE '%q%'` with LIKE's wildcards escaped, so `q` is a plain substring.
    static func nameFilter(_ query: ListQuery, column: String = "name_key") -> SQLQueryString {
        guard let text = query.nameContains else { return "" }
        let escaped = Rules.nameKey(text)
            .replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        return " AND \(unsafeRaw: column) LIKE \(bind: "%\(escaped)%") ESCAPE '\\'"
    }

    /// Keyset pagination over time-ordered IDs: `AND id > cursor ORDER BY id LIMIT n+1`.
    static func page(_ page: PageRequest, column: String = "id") -> (filter: SQLQueryString, tail: SQLQueryString) {
        let filter: SQLQueryString = page.after.map { " AND \(unsafeRaw: column) > \(bind: $0)" } ?? ""
        return (filter, " ORDER BY \(unsafeRaw: column) LIMIT \(literal: page.limit + 1)")
    }
}

/// The version check of `If-Match`.
func checkVersion(_ ifMatch: Int?, current: Int) throws {
    if let ifMatch, ifMatch != current { throw AppError.staleVersion }
}

/// The shape of a `has_children` refusal.
func hasChildren(_ message: String, _ counts: [String: JSONValue]) -> AppError {
    AppError(.hasChildren, message, details: counts)
}

/// JSON stored in a TEXT column, portable between the two databases.
enum JSONColumn {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

/// Organization-wide names that are unique ignoring case among live rows.
enum NameRules {
    static func ensureFree(
        _ name: String, table: String, excluding id: String?, org: String, on sql: any SQLDatabase, taken: (String) -> AppError
    ) async throws {
        let existing = try await sql.raw("""
            SELECT id FROM \(unsafeRaw: table) WHERE org_id = \(bind: org) AND name_key = \(bind: Rules.nameKey(name)) AND deleted_at IS NULL
            """).first().map { try $0.string("id") }
        if let existing, existing != id { throw taken(name) }
    }
}

extension SQLFragments {
    /// `AND column IN (…)` for a caller who sees only some rows; nothing when it sees them all.
    static func visible(_ visible: Visible, column: String) -> SQLQueryString {
        guard case .only(let ids) = visible else { return "" }
        guard !ids.isEmpty else { return " AND 1 = 0" }
        return " AND \(unsafeRaw: column) IN (\(binds: ids.sorted()))"
    }
}

/// `FOR UPDATE OF alias` (or `FOR SHARE OF alias`) on PostgreSQL, nothing on SQLite, whose one writer already
/// serializes every check-then-write. `OF` keeps the lock on the row being guarded, not on the joined parents.
struct RowLocking: SQLExpression {
    let clause: SQLLockingClause
    let table: String

    init(_ clause: SQLLockingClause, of table: String) {
        self.clause = clause
        self.table = table
    }

    func serialize(to serializer: inout SQLSerializer) {
        let lock: (any SQLExpression)? = switch clause {
        case .update: serializer.dialect.exclusiveSelectLockExpression
        case .share: serializer.dialect.sharedSelectLockExpression
        }
        guard let lock else { return }
        serializer.write(" ")
        lock.serialize(to: &serializer)
        serializer.write(" OF \(table)")
    }
}

/// Rows decoded into `Decodable` types whose camelCase properties name snake_case columns.
extension SQLRawBuilder {
    func first<Row: Decodable>(_ type: Row.Type) async throws -> Row? {
        try await first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
    }

    func all<Row: Decodable>(_ type: Row.Type) async throws -> [Row] {
        try await all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
    }
}
