import Foundation
import GantryCore
import Logging
import SQLiteNIO

/// An online, consistent copy of a SQLite database (`VACUUM INTO`): it reads one snapshot while Gantry keeps
/// writing (WAL lets a reader and the writer proceed together), and the copy is a compact, self-contained file.
public enum SQLiteBackup {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func copy(database: DatabaseURL, to destination: String, logger: Logger) async throws {
        guard case .sqliteFile(let path) = database else {
            throw Failure(description: "backup copies SQLite databases; for PostgreSQL use pg_dump or your provider's snapshots")
        }
        guard FileManager.default.fileExists(atPath: path) else { throw Failure(description: "no database at \(path)") }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw Failure(description: "\(destination) already exists; choose a new file")
        }
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        do {
            _ = try await connection.query("PRAGMA busy_timeout = 10000")
            _ = try await connection.query("VACUUM INTO ?", [SQLiteData.text(destination)])
        } catch {
            try? await connection.close()
            throw Failure(description: "the copy failed: \(error)")
        }
        try await connection.close()
    }
}
