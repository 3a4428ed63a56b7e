import Foundation
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through PostgresNIO's `PostgresClient` pool. The client must be running (it is a Service).
public final class PostgresBackend: Database {
    public let kind = DatabaseKind.postgres
    public let client: PostgresClient
    private let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await work(connection.sql(queryLogLevel: nil))
        }
    }

    public func transaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withTransaction(logger: logger) { connection in
            try await work(connection.sql(queryLogLevel: nil))
        }
    }

    public func ping() async throws {
        try await read { try await $0.raw("SELECT 1").run() }
    }

    public func close() async throws {}

    /// Builds a client configuration from a `postgres://user:pass@host:port/db?sslmode=…` URL.
    public static func configuration(url: URL) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let host = components.host, !host.isEmpty else {
            throw DatabaseURLError("the PostgreSQL URL needs a host, e.g. postgres://user:pass@localhost:5432/gantry")
        }
        let user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        let password = components.password.flatMap { $0.removingPercentEncoding }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let sslmode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS = switch sslmode {
        case "disable": .disable
        case "require", "verify-ca", "verify-full": .require(.makeClientConfiguration())
        default: .prefer(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: password,
            database: database.isEmpty ? nil : database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(2)
        configuration.options.maximumConnections = 20
        return configuration
    }
}

public struct DatabaseURLError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension PostgresBackend: MigratableDatabase {
    /// Arbitrary but fixed: every Gantry replica contends for the same advisory lock.
    static let migrationLockKey: Int64 = 0x6761_6E74_7279

    public func withMigrationLock<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            let sql = connection.sql(queryLogLevel: nil)
            try await sql.raw("SELECT pg_advisory_lock(\(bind: Self.migrationLockKey))").run()
            do {
                let result = try await work(sql)
                try await sql.raw("SELECT pg_advisory_unlock(\(bind: Self.migrationLockKey))").run()
                return result
            } catch {
                try? await sql.raw("SELECT pg_advisory_unlock(\(bind: Self.migrationLockKey))").run()
                throw error
            }
        }
    }
}
