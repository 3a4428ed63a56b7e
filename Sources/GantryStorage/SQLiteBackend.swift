import Foundation
import Logging
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite in WAL mode: one writer connection whose transactions are serialized, and reader
/// connections that run beside it. An in-memory database is one connection, serialized entirely.
public final class SQLiteBackend: Database {
    public let kind = DatabaseKind.sqlite
    /// Trusted from the start: this process makes its own changes; another process sharing the file is
    /// bounded by the cache's lifetime.
    public let callers = CallerCache(trusted: true)
    /// The connections as SQLKit databases, made once: SQLiteKit's `sql()` builds a JSON encoder and decoder each time.
    private let writer: PlainSQLiteDatabase
    private let readers: [PlainSQLiteDatabase]
    private let writeLock = AsyncLock()
    /// One read at a time per reader connection. Statements that overlap on one connection share its read
    /// transaction, so a read could see the snapshot of a long read already running there, from before a
    /// write that committed in between: a client's GET could miss what its POST had just created.
    private let readerSlots: SlotPool
    private let logger: Logger

    public static func open(path: String?, readers readerCount: Int = 4, logger: Logger) async throws -> SQLiteBackend {
        let storage: SQLiteConnection.Storage = path.map { .file(path: $0) } ?? .memory
        let writer = try await SQLiteConnection.open(storage: storage, logger: logger)
        do {
            try await configure(writer, inMemory: path == nil)
            var readers: [SQLiteConnection] = []
            if path != nil {
                for _ in 0..<readerCount {
                    let reader = try await SQLiteConnection.open(storage: storage, logger: logger)
                    readers.append(reader)
                    try await configure(reader, inMemory: false)
                }
            }
            return SQLiteBackend(writer: writer, readers: readers, logger: logger)
        } catch {
            try? await writer.close()
            throw error
        }
    }

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], logger: Logger) {
        self.writer = PlainSQLiteDatabase(writer)
        self.readers = readers.map(PlainSQLiteDatabase.init)
        self.readerSlots = SlotPool(count: readers.count)
        self.logger = logger
    }

    private static func configure(_ connection: SQLiteConnection, inMemory: Bool) async throws {
        let sql = connection.sql()
        if !inMemory { try await sql.raw("PRAGMA journal_mode=WAL").run() }
        try await sql.raw("PRAGMA busy_timeout=5000").run()
        try await sql.raw("PRAGMA foreign_keys=ON").run()
        try await sql.raw("PRAGMA synchronous=NORMAL").run()
    }

    public func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if readers.isEmpty {
            return try await writeLock.withLock { try await work(writer) }
        }
        return try await readerSlots.withSlot { [readers] index in try await work(readers[index]) }
    }

    public func transaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await writeLock.withLock {
            let sql = writer
            try await sql.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await work(sql)
                try await sql.raw("COMMIT").run()
                return result
            } catch {
                try? await sql.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    public func ping() async throws {
        try await read { try await $0.raw("SELECT 1").run() }
    }

    public func close() async throws {
        for reader in readers { try? await reader.connection.close() }
        try await writer.connection.close()
    }

    /// A backend dropped without a finished `close()` (an application torn down before its services ran, e.g. when
    /// startup failed, or during its shutdown) still closes its connections: SQLiteNIO traps on a connection freed open, which would take the whole
    /// process down with it. Each connection is held until its close has run; when the close cannot run any more
    /// (the backend outlived its event loop or thread pool, at the very end of a test or a process), the connection
    /// is left open rather than freed open.
    deinit {
        // Each connection by its own state: a `close()` cancelled part-way (an app torn down mid-shutdown) leaves some open.
        for connection in (readers + [writer]).map(\.connection) where !connection.isClosed {
            // Held until the close has run; a close that never completes (its event loop or thread pool gone) leaves it held.
            let held = Unmanaged.passRetained(connection)
            connection.close().whenSuccess { held.release() }
        }
    }
}

extension SQLiteBackend: MigratableDatabase {
    public func withMigrationLock<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await writeLock.withLock { try await work(writer) }
    }
}
