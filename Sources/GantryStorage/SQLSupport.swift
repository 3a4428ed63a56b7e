import Foundation
import Logging
import NIOCore
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

/// What a failed statement says about the database itself, so the HTTP layer answers (503 or 500) and logs it
/// without naming the drivers' error types.
public enum DatabaseFailure: Sendable, Equatable {
    /// Gone, restarting, or locked for longer than a request waits: worth a retry.
    case unavailable
    case failed

    /// nil when `error` did not come from a database driver.
    public static func classify(_ error: any Error) -> DatabaseFailure? {
        if let error = error as? PSQLError {
            let state = error.serverInfo?[.sqlState]
            return error.serverInfo == nil || state?.hasPrefix("57P") == true || state?.hasPrefix("08") == true ? .unavailable : .failed
        }
        if let error = error as? SQLiteError {
            return error.message.contains("locked") || error.message.contains("busy") ? .unavailable : .failed
        }
        return nil
    }

    /// Log text for a PostgreSQL error: its code and SQLSTATE only, as its text can carry bound values.
    /// nil for anything else, which describes itself.
    public static func loggable(_ error: any Error) -> String? {
        guard let error = error as? PSQLError else { return nil }
        return "PostgreSQL \(error.code) \(error.serverInfo?[.sqlState] ?? "")\(error.underlying.map { " (\($0))" } ?? "")"
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
    // Hot paths read their cells by hand: see `SQLProjectRepository.stats` and `SQLCostRepository.catalogRequests`.
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
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
            """).first(decodingColumn: "id", as: String.self)
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
        try await first(decoding: Row.self, keyDecodingStrategy: ColumnNames.fromProperties)
    }

    func all<Row: Decodable>(_ type: Row.Type) async throws -> [Row] {
        try await all(decoding: Row.self, keyDecodingStrategy: ColumnNames.fromProperties)
    }
}

/// A row type's camelCase property names as snake_case column names.
enum ColumnNames {
    /// SQLKit's `.convertFromSnakeCase` with the same words, over ASCII bytes. SQLKit's converts every key of every row
    /// by asking each character's Unicode properties: ~1 µs a key, a third of an idle deployer's CPU at 500 clusters and
    /// a share of every catalog read (perf, bench/scale.sh). Column names are ASCII.
    static let fromProperties = SQLRowDecoder.KeyDecodingStrategy.custom { path in
        SomeCodingKey(stringValue: snakeCase(path.last?.stringValue ?? ""))
    }

    /// `orgId` → `org_id`. Words as in SQLKit: a new word starts at each capital, and a run of capitals before a
    /// lowercase letter is a word of its own but for its last capital (`myURLProperty` → `my`, `URL`, `Property`);
    /// each word's first letter is lowercased.
    static func snakeCase(_ key: String) -> String {
        let bytes = Array(key.utf8)
        guard !bytes.isEmpty else { return key }
        func isUpper(_ byte: UInt8) -> Bool { byte >= 65 && byte <= 90 }
        func isLower(_ byte: UInt8) -> Bool { byte >= 97 && byte <= 122 }
        var starts: [Int] = [0]
        var search = 1
        while let upper = bytes[search...].firstIndex(where: isUpper) {
            starts.append(upper)
            guard let lower = bytes[upper...].firstIndex(where: isLower) else { break }
            search = lower
            if lower != upper + 1 { starts.append(lower - 1) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + starts.count)
        for (index, start) in starts.enumerated() {
            let end = index + 1 < starts.count ? starts[index + 1] : bytes.count
            if index > 0 { out.append(95) }
            out.append(isUpper(bytes[start]) ? bytes[start] + 32 : bytes[start])
            out += bytes[(start + 1)..<end]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A table's row as stored, read as "the live row with this ID in my organization". One type per table, defined in
/// the repository file named after the table, so its columns are listed once.
protocol LiveRow: Decodable, Sendable {
    /// What a 404 calls the row.
    static var resource: String { get }
    /// The select list, qualified by `alias` (and by the joined parents' aliases for columns read from them).
    static var columns: String { get }
    static var table: String { get }
    /// The name `columns`, the locks and the ID condition use; the table's own name unless a join needs a short one.
    static var alias: String { get }
    /// Joins to the parents whose soft delete hides this row too, with their `deleted_at IS NULL` conditions.
    static var liveParents: (joins: String, conditions: String) { get }
    /// The rows an organization may address (roles: the built-in ones too, which belong to none).
    static func ofOrganization(_ org: String) -> SQLQueryString
}

extension LiveRow {
    static var alias: String { table }
    static var liveParents: (joins: String, conditions: String) { ("", "") }
    static func ofOrganization(_ org: String) -> SQLQueryString { "\(unsafeRaw: alias).org_id = \(bind: org)" }

    /// The live row `id` of `org` (its parents live too), locked when `lock` says so; else 404 naming `resource`.
    /// Another organization's row is a 404 as well, never a 403 (docs/api.md §3).
    static func fetchLive(
        _ id: String, org: String, filter: SQLQueryString = "", lock: RowLocking?, on sql: any SQLDatabase
    ) async throws -> Self {
        let locking: SQLQueryString = lock.map { "\($0)" } ?? ""
        let source = table == alias ? table : "\(table) \(alias)"
        let query: SQLQueryString = """
            SELECT \(unsafeRaw: columns) FROM \(unsafeRaw: source)\(unsafeRaw: liveParents.joins)
            WHERE \(unsafeRaw: alias).id = \(bind: id) AND \(unsafeRaw: alias).deleted_at IS NULL\(unsafeRaw: liveParents.conditions) AND \(ofOrganization(org))
            """ + filter + locking
        guard let row = try await sql.raw(query).first(Self.self) else { throw AppError.notFound(resource) }
        return row
    }
}

/// A live row a client changes with `If-Match`.
protocol VersionedRow: LiveRow {
    var name: String { get }
    var version: Int { get }
}

/// Live rows elsewhere that reference the row being deleted: `table.column = id`, reported as `detail` in a refusal.
struct LiveReferences: Sendable {
    var detail: String
    var table: String
    var column: String
}

extension AuditedRepository {
    /// Soft-deletes an organization-level row (`If-Match` honoured) unless live rows still use it: then 409
    /// `has_children` with one count per kind of reference. The row is locked first, so a creator of a reference
    /// (holding `FOR SHARE` on it) either finishes before the counts or sees the row gone.
    func softDelete<Row: VersionedRow>(
        _: Row.Type, _ id: String, ifMatch: Int?, auditAs resourceType: String, by caller: Caller,
        unlessUsedBy references: [LiveReferences], refusal: @escaping @Sendable (_ name: String, _ counts: [Int]) -> String
    ) async throws {
        try await database.transaction { sql in
            let row = try await Row.fetchLive(id, org: caller.organizationID, lock: RowLocking(.update, of: Row.alias), on: sql)
            try checkVersion(ifMatch, current: row.version)
            var counts: [Int] = []
            for reference in references {
                counts.append(try await sql.raw("""
                    SELECT COUNT(*) AS n FROM \(unsafeRaw: reference.table) WHERE \(unsafeRaw: reference.column) = \(bind: id) AND deleted_at IS NULL
                    """).first(decodingColumn: "n", as: Int.self) ?? 0)
            }
            guard counts.allSatisfy({ $0 == 0 }) else {
                throw hasChildren(refusal(row.name, counts), Dictionary(uniqueKeysWithValues: zip(references.map(\.detail), counts.map(JSONValue.int))))
            }
            let now = Timestamp.now()
            try await sql.raw("UPDATE \(unsafeRaw: Row.table) SET deleted_at = \(bind: now) WHERE id = \(bind: id)").run()
            try await record(AuditEvent("deleted", resourceType, id, changes: Changes.deleted(at: now)), by: caller, on: sql)
        }
    }
}

/// A database that runs statements its own way (`PreparingPostgresDatabase`, `PlainSQLiteDatabase`) and is otherwise
/// SQLKit's own for the same connection, `base`.
protocol ForwardingSQLDatabase: SQLDatabase {
    var base: any SQLDatabase { get }
}

extension ForwardingSQLDatabase {
    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        base.execute(sql: query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}
