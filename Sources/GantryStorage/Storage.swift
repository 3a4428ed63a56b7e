import Foundation
import GantryCore
import Logging
import PostgresNIO
import ServiceLifecycle

/// Every repository over one database: what the HTTP layer is given.
public struct Repositories: Sendable {
    public let projects: any ProjectRepository
    public let environments: any EnvironmentRepository
    public let spaces: any SpaceRepository
    public let cloudAccounts: any CloudAccountRepository
    public let integrations: any IntegrationRepository
    public let deployments: any DeploymentRepository
    public let connections: any ConnectionRepository
    public let identity: any IdentityRepository
    public let access: any AccessRepository
    public let audit: any AuditRepository
    public let runtime: any RuntimeRepository
    public let idempotency: any IdempotencyRepository
    public let revisions: any RevisionRepository
    public let deployQueue: any DeployQueueRepository
    public let pullSecretRenewals: any PullSecretRenewalRepository
    public let signOn: any SignOnRepository
    public let expiries: any EnvironmentExpiryRepository
    public let costs: any CostRepository
    public let spaceLeases: any SpaceLeaseRepository
    public let retention: any RetentionRepository

    public init(database: any Database, ids: IDGenerator = IDGenerator()) {
        projects = SQLProjectRepository(database: database, ids: ids)
        environments = SQLEnvironmentRepository(database: database, ids: ids)
        spaces = SQLSpaceRepository(database: database, ids: ids)
        cloudAccounts = SQLCloudAccountRepository(database: database, ids: ids)
        integrations = SQLIntegrationRepository(database: database, ids: ids)
        deployments = SQLDeploymentRepository(database: database, ids: ids)
        connections = SQLConnectionRepository(database: database, ids: ids)
        identity = SQLIdentityRepository(database: database, ids: ids)
        access = SQLAccessRepository(database: database, ids: ids)
        audit = SQLAuditRepository(database: database)
        runtime = SQLRuntimeRepository(database: database, ids: ids)
        idempotency = SQLIdempotencyRepository(database: database)
        revisions = SQLRevisionRepository(database: database, ids: ids)
        deployQueue = DeployQueue(database: database, ids: ids)
        pullSecretRenewals = SQLPullSecretRenewalRepository(database: database)
        signOn = SQLSignOnRepository(database: database, ids: ids)
        expiries = SQLEnvironmentExpiryRepository(database: database, ids: ids)
        costs = SQLCostRepository(database: database)
        spaceLeases = SQLSpaceLeaseRepository(database: database)
        retention = SQLRetentionRepository(database: database)
    }
}

/// An opened database plus the service that must run for it (PostgreSQL's pool) and closes it at shutdown.
public struct OpenedDatabase: Sendable {
    public let database: any MigratableDatabase
    public let service: any Service

    /// Opens the database a `--database` URL names. PostgreSQL connections are made lazily by the pool,
    /// so reachability is checked by the first query (the migration run).
    public static func open(_ url: DatabaseURL, logger: Logger) async throws -> OpenedDatabase {
        switch url {
        case .sqliteMemory, .sqliteFile:
            let path: String? = if case .sqliteFile(let path) = url { path } else { nil }
            let backend = try await SQLiteBackend.open(path: path, logger: logger)
            return OpenedDatabase(database: backend, service: ClosingService(backend))
        case .postgres(let url):
            let configuration = try PostgresBackend.configuration(url: url)
            try await PostgresBackend.checkReachable(url: url, logger: logger)
            let backend = PostgresBackend(client: PostgresClient(configuration: configuration, backgroundLogger: logger), probe: url, logger: logger)
            return OpenedDatabase(database: backend, service: backend.service)
        }
    }
}

extension OpenedDatabase {
    /// Runs `work` while the database's service runs, then shuts it down (closing SQLite connections,
    /// which assert if freed open) before returning or rethrowing. For one-shot commands and tests.
    public func whileRunning<T: Sendable>(logger: Logger, _ work: @Sendable (any MigratableDatabase) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let services = ServiceGroup(services: [service], logger: logger)
            group.addTask { try await services.run() }
            let result: Result<T, any Error>
            do { result = .success(try await work(database)) } catch { result = .failure(error) }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            return try result.get()
        }
    }
}

/// Keeps a database open while the service group runs and closes it on shutdown.
struct ClosingService: Service {
    let database: any Database
    init(_ database: any Database) { self.database = database }

    func run() async throws {
        try? await gracefulShutdown()
        try await database.close()
    }
}
