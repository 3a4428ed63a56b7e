import Foundation
import GantryCore
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import ServiceLifecycle

/// PostgreSQL through PostgresNIO's `PostgresClient` pool. The client must be running (it is a Service).
public final class PostgresBackend: Database {
    public let kind = DatabaseKind.postgres
    /// Trusted only while `listenForAccessChanges` holds its LISTEN connection.
    public let callers = CallerCache(trusted: false)
    public let client: PostgresClient
    private let logger: Logger
    /// Opened when the pool's `run()` starts: leasing before that only logs warnings and waits.
    let started = AsyncLatch()
    /// Where a one-connection probe checks, every second, that PostgreSQL answers at all.
    let probe: URL?
    /// Down while the probe fails: requests still waiting for a pooled connection then answer 503 at once
    /// instead of hanging until PostgreSQL returns. A busy pool is not an outage: those requests wait.
    let outage = OutageGate()
    public var isKnownDown: Bool { outage.isDown }
    /// Reads run as prepared statements (see `PreparingPostgresDatabase`); writes stay unnamed.
    let statementNames = PreparedStatementNames()

    public init(client: PostgresClient, probe: URL? = nil, logger: Logger) {
        self.client = client
        self.probe = probe
        self.logger = logger
    }

    /// The service that runs the pool; the database must not be used before it runs.
    var service: some Service { PoolService(backend: self) }

    struct PoolService: Service {
        let backend: PostgresBackend
        func run() async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    backend.started.open()
                    await backend.client.run()
                }
                if let url = backend.probe {
                    group.addTask { await backend.watch(url) }
                    group.addTask { await backend.listenForAccessChanges(url) }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// For the probe's and the listener's own connections: they fail on purpose while PostgreSQL is down,
    /// and `watch` says so once instead of each attempt logging.
    var backgroundConnectionLogger: Logger {
        var quiet = logger
        quiet.logLevel = .critical
        return quiet
    }

    /// Probes PostgreSQL once a second with a connection of its own, and says when it goes away and comes back.
    ///
    /// A refused or reset connection means PostgreSQL is gone, so the first one marks it down. A connection that
    /// only times out may mean a loaded machine rather than an outage, so it takes `slowProbesBeforeDown` of
    /// them in a row (a silent network partition is then noticed within about 10 s).
    func watch(_ url: URL) async {
        let probeLogger = backgroundConnectionLogger
        var slowFailures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let reachable = (try? await Self.checkReachable(url: url, logger: probeLogger, timeout: .init(Self.probeTimeout))) != nil
            let timedOut = ContinuousClock.now - started >= Self.probeTimeout * 0.9
            slowFailures = reachable ? 0 : (timedOut ? slowFailures + 1 : Self.slowProbesBeforeDown)
            let nowDown = slowFailures >= Self.slowProbesBeforeDown
            if outage.setDown(nowDown) {
                if !nowDown { logger.info("PostgreSQL answers again") } else { logger.warning("PostgreSQL does not answer; requests get 503 until it does") }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Holds a connection LISTENing on `gantry_access` (see `AccessChangeNotifications`): cached callers are
    /// trusted only while it is held, and dropped on every notification. Reconnects each second when lost.
    func listenForAccessChanges(_ url: URL) async {
        let quiet = backgroundConnectionLogger
        while !Task.isCancelled {
            if let connection = try? await PostgresConnection.connect(
                configuration: Self.connectionConfiguration(url: url, timeout: .seconds(2)), id: 1, logger: quiet
            ) {
                _ = try? await connection.listen(on: AccessChangeNotifications.channel) { notifications in
                    callers.setTrusted(true)
                    for try await _ in notifications { callers.invalidateAll() }
                }
                callers.setTrusted(false)
                try? await connection.close()
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    static let probeTimeout = Duration.seconds(2)
    static let slowProbesBeforeDown = 3

    static let unavailable = AppError(.unavailable, "The database is not answering; try again shortly.")

    public func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        await started.wait()
        return try await withoutActuallyEscaping(work) { work in
            try await failingFast { [client, statementNames] leased in
                try await client.withConnection { connection in
                    leased()
                    return try await work(PreparingPostgresDatabase(connection: connection, base: connection.sql(queryLogLevel: nil), names: statementNames))
                }
            }
        }
    }

    public func transaction<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        await started.wait()
        do {
            return try await withoutActuallyEscaping(work) { work in
                try await failingFast { [client, logger] leased in
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

    /// Runs `body`, which calls `leased()` once it holds a connection; while it still waits for one and the probe
    /// says PostgreSQL is down, gives up with 503. Work that got a connection is never cut short.
    func failingFast<T: Sendable>(_ body: @escaping @Sendable (@escaping @Sendable () -> Void) async throws -> T) async throws -> T {
        if outage.isDown { throw Self.unavailable }
        let ticket = outage.ticket()
        defer { outage.discard(ticket) }
        return try await withThrowingTaskGroup(of: T?.self) { [outage] group in
            group.addTask { try await body { outage.settle(ticket) } }
            group.addTask {
                if await outage.outcome(of: ticket) { throw Self.unavailable }
                return nil
            }
            while let next = try await group.next() {
                if let result = next {
                    group.cancelAll()
                    return result
                }
            }
            throw Self.unavailable
        }
    }

    public func ping() async throws {
        try await read { try await $0.raw("SELECT 1").run() }
    }

    public func close() async throws {}

    /// Opens and closes one connection, so a wrong URL fails at start with a clear reason instead of
    /// leaving the pool retrying in the background.
    public static func checkReachable(url: URL, logger: Logger, timeout: TimeAmount = .seconds(5)) async throws {
        let connection = try await PostgresConnection.connect(configuration: connectionConfiguration(url: url, timeout: timeout), id: 0, logger: logger)
        try await connection.close()
    }

    static func connectionConfiguration(url: URL, timeout: TimeAmount) throws -> PostgresConnection.Configuration {
        var configuration = try parse(url).coreConfiguration
        configuration.options.connectTimeout = timeout
        return configuration
    }

    /// Builds a pool configuration from a `postgres://user:pass@host:port/db?sslmode=…` URL.
    public static func configuration(url: URL) throws -> PostgresClient.Configuration {
        let core = try parse(url).coreConfiguration
        guard let host = core.host else { throw DatabaseURLError("the PostgreSQL URL needs a host, e.g. postgres://user:pass@localhost:5432/gantry") }
        // The pool takes a TLS configuration rather than a context: the same three modes, libpq's `prefer` by default.
        let tls: PostgresClient.Configuration.TLS = core.tls.isEnforced ? .require(.makeClientConfiguration())
            : core.tls.isAllowed ? .prefer(.makeClientConfiguration()) : .disable
        var configuration = PostgresClient.Configuration(
            host: host, port: core.port ?? 5432, username: core.username, password: core.password, database: core.database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(2)
        configuration.options.maximumConnections = 20
        // Every time the pool parks a connection it starts a keep-alive timer and an idle timer, each a task
        // sleeping until its deadline; a cancelled sleep keeps its memory until then, so under load the
        // defaults (30 s, 60 s) held ~1 KB per request for a minute: 100+ MB at 2,000 requests/s. Connections
        // beyond the two kept open close after 10 s idle instead, too soon for a keep-alive ping to matter;
        // the probe (`watch`) is what notices PostgreSQL going away.
        configuration.options.keepAliveBehavior = nil
        configuration.options.minimumConnections = 2
        configuration.options.connectionIdleTimeout = .seconds(10)
        return configuration
    }

    /// PostgresKit reads the URL (`sslmode`/`tlsmode`, percent-escapes, `postgresql://`); a URL it refuses gets a
    /// sentence saying what is expected instead of `URLError`. Like libpq, a URL without a user means `postgres`.
    static func parse(_ url: URL) throws -> SQLPostgresConfiguration {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        if components?.user == nil { components?.user = "postgres" }
        guard let withUser = components?.url, let host = components?.host, !host.isEmpty else {
            throw DatabaseURLError("the PostgreSQL URL needs a host, e.g. postgres://user:pass@localhost:5432/gantry")
        }
        do {
            return try SQLPostgresConfiguration(url: withUser)
        } catch {
            throw DatabaseURLError("the PostgreSQL URL is not usable: expected postgres://user:pass@host:port/db, optionally ?sslmode=disable|prefer|require")
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

