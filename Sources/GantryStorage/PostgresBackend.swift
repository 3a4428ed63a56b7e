import Foundation
import GantryCore
import Synchronization
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import ServiceLifecycle

/// PostgreSQL through PostgresNIO's `PostgresClient` pool. The client must be running (it is a Service).
public final class PostgresBackend: Database {
    public let kind = DatabaseKind.postgres
    public let client: PostgresClient
    private let logger: Logger
    /// Opened when the pool's `run()` starts: leasing before that only logs warnings and waits.
    let started = AsyncLatch()

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The service that runs the pool; the database must not be used before it runs.
    var service: some Service { PoolService(backend: self) }

    struct PoolService: Service {
        let backend: PostgresBackend
        func run() async {
            backend.started.open()
            await backend.client.run()
        }
    }

    /// How long a request may wait for a pooled connection. When PostgreSQL is down the pool keeps trying to
    /// connect in the background; requests answer 503 instead of hanging until it comes back.
    static let leaseTimeout: Duration = .milliseconds(1500)

    static let unavailable = AppError(.unavailable, "The database is not answering; try again shortly.")

    public func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        await started.wait()
        return try await withoutActuallyEscaping(work) { work in
            try await Self.failingFast { [client] leased in
                try await client.withConnection { connection in
                    leased()
                    return try await work(connection.sql(queryLogLevel: nil))
                }
            }
        }
    }

    public func transaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        await started.wait()
        do {
            return try await withoutActuallyEscaping(work) { work in
                try await Self.failingFast { [client, logger] leased in
                    try await client.withTransaction(logger: logger) { connection in
                        leased()
                        return try await work(connection.sql(queryLogLevel: nil))
                    }
                }
            }
        } catch let error as PostgresTransactionError {
            // Surface what the work threw (a conflict, a 404) rather than the wrapper.
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    /// Runs `body`, which calls `leased()` once it holds a connection; without one after `leaseTimeout`, gives up
    /// with 503. Work that got a connection is never cut short.
    static func failingFast<T: Sendable>(_ body: @escaping @Sendable (@escaping @Sendable () -> Void) async throws -> T) async throws -> T {
        let lease = LeaseFlag()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body { lease.mark() } }
            group.addTask {
                try await Task.sleep(for: leaseTimeout)
                if !lease.isMarked { throw unavailable }
                return nil
            }
            while let next = try await group.next() {
                if let result = next {
                    group.cancelAll()
                    return result
                }
            }
            throw unavailable
        }
    }

    public func ping() async throws {
        try await read { try await $0.raw("SELECT 1").run() }
    }

    public func close() async throws {}

    /// Opens and closes one connection, so a wrong URL fails at start with a clear reason instead of
    /// leaving the pool retrying in the background.
    public static func checkReachable(url: URL, logger: Logger) async throws {
        let parts = try PostgresURL(url)
        let tls: PostgresConnection.Configuration.TLS = switch parts.sslmode {
        case "disable": .disable
        case "prefer": .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: parts.host, port: parts.port, username: parts.user, password: parts.password, database: parts.database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(5)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        try await connection.close()
    }

    /// Builds a pool configuration from a `postgres://user:pass@host:port/db?sslmode=…` URL.
    public static func configuration(url: URL) throws -> PostgresClient.Configuration {
        let parts = try PostgresURL(url)
        let tls: PostgresClient.Configuration.TLS = switch parts.sslmode {
        case "disable": .disable
        case "prefer": .prefer(.makeClientConfiguration())
        default: .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: parts.host, port: parts.port, username: parts.user, password: parts.password, database: parts.database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(2)
        configuration.options.maximumConnections = 20
        return configuration
    }
}

/// The parts of a PostgreSQL URL; `sslmode` defaults to `prefer`, as libpq's does.
struct PostgresURL {
    let host: String
    let port: Int
    let user: String
    let password: String?
    let database: String?
    let sslmode: String

    init(_ url: URL) throws {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let host = components.host, !host.isEmpty else {
            throw DatabaseURLError("the PostgreSQL URL needs a host, e.g. postgres://user:pass@localhost:5432/gantry")
        }
        self.host = host
        port = components.port ?? 5432
        user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding }
        let path = String(components.path.drop(while: { $0 == "/" }))
        database = path.isEmpty ? nil : path
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        sslmode = switch mode {
        case "disable": "disable"
        case "allow", "prefer": "prefer"
        default: "require"
        }
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
        await started.wait()
        return try await client.withConnection { connection in
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

/// Set once a pooled connection has been handed over.
final class LeaseFlag: Sendable {
    private let state = Mutex(false)
    func mark() { state.withLock { $0 = true } }
    var isMarked: Bool { state.withLock { $0 } }
}
