import Logging
import SQLKit

public enum DatabaseKind: String, Sendable {
    case sqlite, postgres
}

/// A database Gantry can store its catalog in. Repositories see only this protocol and SQLKit,
/// so one implementation of every query serves SQLite and PostgreSQL.
public protocol Database: Sendable {
    var kind: DatabaseKind { get }

    /// Callers authenticated from tokens, kept only while this database can say when access changes.
    var callers: CallerCache { get }

    /// Runs read-only work; on SQLite it may run beside other reads and beside the writer.
    func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs work in one transaction: committed when `work` returns, rolled back when it throws.
    func transaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Answers when the database does (for `/readyz`).
    func ping() async throws

    /// True while outage detection has judged the database gone (refused connections, or several probes in a row
    /// without an answer). A slow answer alone never sets it: a loaded machine is not an outage.
    var isKnownDown: Bool { get }

    /// Releases connections; called once at shutdown.
    func close() async throws
}

extension Database {
    /// SQLite is a file this process opened: it is never "gone" the way a server can be.
    public var isKnownDown: Bool { false }
}
