import AsyncHTTPClient
import HTTPTypes
import Configuration
import Foundation
import GantryAPI
import GantryCore
import GantryStorage
import Hummingbird
import KubeClient
import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import Prometheus
import ServiceLifecycle
import Yams

/// The composition root, used by `main` and by every test: settings in, a runnable application out.
/// It never bootstraps logging or metrics; `main` does that once. `clock` is the deployer's idea of now (leases,
/// retries and their ten-minute limit), so that tests can move time instead of waiting for it.
public func buildApplication(
    reader: ConfigReader, logger: Logger = Logger(label: "gantry"), metrics: PrometheusCollectorRegistry? = nil,
    clock: @escaping @Sendable () -> Date = { Date() }
) async throws -> some ApplicationProtocol {
    let settings = try Settings(reader: reader)
    let sealer = try settings.loadSealer()
    let opened: OpenedDatabase
    do {
        opened = try await OpenedDatabase.open(settings.database, logger: logger)
    } catch {
        throw ConfigurationError("cannot reach the database \(settings.database.redacted): \(LoggableError.describe(error))")
    }
    let repositories = Repositories(database: opened.database)
    let migrated = AsyncLatch()
    var services: [any Service] = [opened.service, RetentionSweeper(retention: repositories.retention, clock: clock, ready: migrated, logger: logger)]
    // The deployer role alone talks to clusters; the config role never builds a client or opens a credential.
    var deployer: Deployer?
    if settings.role != .config {
        let http = KubernetesClient.makeHTTPClient()
        services.append(HTTPClientService(client: http))
        let connector = ClusterConnector(runtime: repositories.runtime, sealer: sealer, http: http, logger: logger, endpoints: settings.cloudEndpoints)
        let budget = TimeAmount.milliseconds(Int64(settings.clusterTimeout * 1000))
        // Watches feed status sync: without status sync there is nothing to watch for.
        let watches = settings.syncInterval > 0 && settings.watchClusters
            ? SpaceWatches(runtime: repositories.runtime, leases: repositories.spaceLeases, connector: connector, changes: ClusterChanges(),
                           round: .milliseconds(Int64(settings.watchLease * 1000 / 3)), leaseFor: settings.watchLease,
                           clock: clock, ready: migrated, metrics: metrics, logger: logger)
            : nil
        let runner = DeployRunner(queue: repositories.deployQueue, renewals: repositories.pullSecretRenewals, connector: connector, sealer: sealer, callBudget: budget,
                                  pollInterval: .milliseconds(Int64(settings.deployPollInterval * 1000)), clock: clock, ready: migrated,
                                  changes: watches?.changes, logger: logger)
        services.append(runner)
        services.append(EnvironmentReaper(expiries: repositories.expiries, connector: connector, callBudget: budget,
                                          interval: .milliseconds(Int64(min(settings.deployPollInterval, 10) * 1000)), clock: clock, ready: migrated,
                                          logger: logger))
        if let watches { services.append(watches) }
        if settings.syncInterval > 0 {
            services.append(StatusSync(runtime: repositories.runtime, connector: connector, watches: watches,
                                       interval: .milliseconds(Int64(settings.syncInterval * 1000)),
                                       rolloutFailureAfter: settings.rolloutFailureAfter, ready: migrated, logger: logger))
        }
        deployer = Deployer(callBudget: budget, connector: connector, runner: runner, watches: watches)
    }
    // Single sign-on talks to the identity provider from either role: its own client, shut down with the app.
    var signOn: SignOnRoutes?
    if let signOnSettings = settings.signOn {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        services.append(HTTPClientService(client: http))
        signOn = SignOnRoutes(settings: signOnSettings, provider: OpenIDProvider(settings: signOnSettings, http: http, clock: clock, logger: logger),
                              signOn: repositories.signOn, clock: clock)
    }
    let router = try buildRouter(
        repositories: repositories, database: opened.database, sealer: sealer, deployer: deployer, signOn: signOn, rateLimit: settings.rateLimit,
        metrics: metrics, logger: logger
    )

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "gantry"),
        services: services,
        logger: logger
    )
    app.beforeServerStarts {
        do {
            try await Migrator(logger: logger).migrate(opened.database)
        } catch {
            throw ConfigurationError("cannot reach the database \(settings.database.redacted): \(LoggableError.describe(error))")
        }
        try await Bootstrap.run(repositories.identity, tokenSecret: settings.bootstrapToken, logger: logger)
        migrated.open()
    }
    return app
}

func buildRouter(
    repositories: Repositories, database: any Database, sealer: CredentialSealer, deployer: Deployer?, signOn: SignOnRoutes?, rateLimit: Int,
    metrics: PrometheusCollectorRegistry?, logger: Logger
) throws -> Router<AppRequestContext> {
    let document = try OpenAPIDocuments(yaml: try APIDocument.yaml(), basePath: APIImplementation.basePath)
    let operations = document.operations
    let unprotected = Set(operations.values).subtracting(OperationTable.requirements.keys)
    guard unprotected.isEmpty else {
        throw ConfigurationError("operations without an access rule in OperationTable: \(unprotected.sorted().joined(separator: ", "))")
    }
    let documentYAML = document.yaml, documentJSON = document.json
    var routes = document.routes
    for path in ["/healthz", "/readyz", "/metrics", "/api/openapi.json", "/api/openapi.yaml"] + Console.routePaths { routes.add(path, [.get]) }
    if signOn != nil { for (path, methods) in SignOnRoutes.paths { routes.add(path, methods) } }

    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ErrorMiddleware(routes: routes))

    router.get("/healthz") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
    }
    // Ready means "can serve": the ping answers, or it is only slow while outage detection still sees the database
    // (a saturated CPU must not take replicas out of their Service when traffic peaks). A ping that fails, or a
    // database the probe has judged gone, is 503 at once.
    router.get("/readyz") { _, _ in
        let answered = await withTaskGroup(of: Bool?.self) { group in
            group.addTask { (try? await database.ping()) != nil }
            group.addTask { try? await Task.sleep(for: .seconds(3)); return nil }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        let ready = answered ?? !database.isKnownDown
        let body = ready ? #"{"status":"ready"}"# : #"{"reason":"database","status":"unavailable"}"#
        return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    router.get("/metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: metrics?.emitToBuffer() ?? [])))
    }
    // The web console: `/` serves index.html, `/console/…` the other assets (Console.swift).
    Console.register(on: router)
    router.get("/api/openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: documentYAML)))
    }
    router.get("/api/openapi.json") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: documentJSON)))
    }

    signOn?.register(on: router)

    var api = router.group("api")
        .add(middleware: BodyMiddleware())
        .add(middleware: AuthenticationMiddleware(identity: repositories.identity, publicPaths: []))
    if rateLimit > 0 {
        let limiter: any RateLimiter = database.kind == .postgres
            ? SQLRateLimiter(database: database, perMinute: rateLimit) : TokenBuckets(perMinute: rateLimit)
        api = api.add(middleware: RateLimitMiddleware(limiter: limiter))
    }
    api = api
        .add(middleware: HeaderDecodingMiddleware())
        .add(middleware: RequestScopeMiddleware())
    let handlers = APIImplementation(repositories: repositories, sealer: sealer, deployer: deployer)
    // In this order: a replayed answer is only ever given after the operation's rule let the caller through.
    try handlers.registerHandlers(
        on: api, serverURL: URL(string: "/")!,
        configuration: .init(dateTranscoder: RFC3339DateTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes]),
        middlewares: [AuthorizationMiddleware(), DocumentRulesMiddleware(nonNullable: document.nonNullableBodyFields, queryEnums: document.queryEnums),
                      IdempotencyMiddleware(store: repositories.idempotency)]
    )
    return router
}
