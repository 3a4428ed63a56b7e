import Foundation
import GantryCore
import GantryStorage
import Logging
import PostgresNIO
import Testing

/// The databases every storage and API test runs on: SQLite always, PostgreSQL when the test
/// script has started one (`GANTRY_TEST_POSTGRES_URL`). Each test gets a database of its own.
enum TestDatabase: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    static var all: [TestDatabase] {
        ProcessInfo.processInfo.environment["GANTRY_TEST_POSTGRES_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    var testDescription: String { rawValue }

    /// A new, empty database and its URL.
    func makeURL() async throws -> String {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gantry-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return "sqlite:\(directory.path)/gantry.db"
        case .postgres:
            let base = ProcessInfo.processInfo.environment["GANTRY_TEST_POSTGRES_URL"]!
            let name = "gantry_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20))"
            _ = try await withPostgres(url: base) { client in
                try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            }
            var components = URLComponents(string: base)!
            components.path = "/\(name)"
            return components.string!
        }
    }
}

/// Runs `work` with a running PostgresClient for `url`.
func withPostgres<T: Sendable>(url: String, _ work: @Sendable (PostgresClient) async throws -> T) async throws -> T {
    let configuration = try PostgresBackend.configuration(url: URL(string: url)!)
    let client = PostgresClient(configuration: configuration)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await work(client)
    }
}

/// Opens a second handle on a test's database, for arranging state no API writes (e.g. deployer-owned status).
func withDirectDatabase<T: Sendable>(url: String, _ work: @Sendable (any Database) async throws -> T) async throws -> T {
    let opened = try await OpenedDatabase.open(try DatabaseURL(url), logger: Logger(label: "test"))
    return try await opened.whileRunning(logger: Logger(label: "test")) { try await work($0) }
}

/// Opens a test's database with every migration applied, for tests below the HTTP layer.
func withMigratedDatabase<T: Sendable>(url: String, _ work: @Sendable (any Database) async throws -> T) async throws -> T {
    let opened = try await OpenedDatabase.open(try DatabaseURL(url), logger: Logger(label: "test"))
    return try await opened.whileRunning(logger: Logger(label: "test")) { database in
        _ = try await Migrator(logger: Logger(label: "test")).migrate(database)
        return try await work(database)
    }
}
