import HTTPTypes
import Configuration
import Foundation
import GantryAPI
import GantryCore
import GantryStorage
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import Prometheus
import ServiceLifecycle
import Yams

/// The composition root, used by `main` and by every test: settings in, a runnable application out.
/// It never bootstraps logging or metrics; `main` does that once.
public func buildApplication(
    reader: ConfigReader, logger: Logger = Logger(label: "gantry"), metrics: PrometheusCollectorRegistry? = nil
) async throws -> some ApplicationProtocol {
    let settings = try Settings(reader: reader)
    let sealer = try settings.loadSealer()
    let opened: OpenedDatabase
    do {
        opened = try await OpenedDatabase.open(settings.database, logger: logger)
    } catch {
        throw ConfigurationError("cannot reach the database \(settings.database.redacted): \(ErrorMiddleware.loggable(error))")
    }
    let repositories = Repositories(database: opened.database)
    let router = try buildRouter(repositories: repositories, database: opened.database, sealer: sealer, metrics: metrics, logger: logger)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "gantry"),
        services: [opened.service],
        logger: logger
    )
    app.beforeServerStarts {
        do {
            try await Migrator(logger: logger).migrate(opened.database)
        } catch {
            throw ConfigurationError("cannot reach the database \(settings.database.redacted): \(ErrorMiddleware.loggable(error))")
        }
        try await Bootstrap.run(repositories.identity, tokenSecret: settings.bootstrapToken, logger: logger)
    }
    return app
}

func buildRouter(
    repositories: Repositories, database: any Database, sealer: CredentialSealer, metrics: PrometheusCollectorRegistry?, logger: Logger
) throws -> Router<AppRequestContext> {
    let documentYAML = try APIDocument.yaml()
    let documentJSON = try OpenAPIDocuments.json(fromYAML: documentYAML)
    var routes = try OpenAPIDocuments.routeTable(fromYAML: documentYAML, basePath: APIImplementation.basePath)
    for path in ["/healthz", "/readyz", "/metrics", "/api/openapi.json", "/api/openapi.yaml", "/"] { routes.add(path, [.get]) }

    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: ErrorMiddleware(routes: routes))

    router.get("/healthz") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
    }
    router.get("/readyz") { _, _ in
        let ready = (try? await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await database.ping(); return true }
            group.addTask { try await Task.sleep(for: .seconds(2)); return false }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }) ?? false
        let body = ready ? #"{"status":"ready"}"# : #"{"status":"unavailable","reason":"database"}"#
        return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    router.get("/metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: metrics?.emitToBuffer() ?? [])))
    }
    router.get("/") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: Console.placeholder)))
    }
    router.get("/api/openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: documentYAML)))
    }
    router.get("/api/openapi.json") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: documentJSON)))
    }

    let api = router.group("api")
        .add(middleware: BodyMiddleware())
        .add(middleware: AuthenticationMiddleware(identity: repositories.identity, publicPaths: []))
        .add(middleware: IdempotencyMiddleware(store: repositories.idempotency))
        .add(middleware: HeaderDecodingMiddleware())
        .add(middleware: RequestScopeMiddleware())
    let handlers = APIImplementation(repositories: repositories, sealer: sealer)
    try handlers.registerHandlers(
        on: api, serverURL: URL(string: "/")!,
        configuration: .init(dateTranscoder: RFC3339DateTranscoder(), jsonEncodingOptions: [.withoutEscapingSlashes])
    )
    return router
}

/// Publishes the request's context to the generated handlers as a task local.
struct RequestScopeMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let scope = RequestScope(requestID: context.requestID, caller: context.caller, rawBody: context.rawBody, logger: context.logger)
        return try await RequestScope.$current.withValue(scope) { try await next(request, context) }
    }
}

/// The OpenAPI document in its two served forms, and the route table derived from it.
enum OpenAPIDocuments {
    static func json(fromYAML yaml: Data) throws -> Data {
        let object = try Yams.load(yaml: String(decoding: yaml, as: UTF8.self)) ?? [:]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func routeTable(fromYAML yaml: Data, basePath: String) throws -> RouteTable {
        var table = RouteTable()
        let root = try Yams.load(yaml: String(decoding: yaml, as: UTF8.self)) as? [String: Any] ?? [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            let methods = (item as? [String: Any] ?? [:]).keys.compactMap { HTTPRequest.Method($0.uppercased()) }
            table.add(basePath + path, Set(methods))
        }
        return table
    }
}

/// Seeds the first organization when the database has none (CONTRACT.md §1).
enum Bootstrap {
    static func run(_ identity: any IdentityRepository, tokenSecret: String?, logger: Logger) async throws {
        guard try await !identity.hasOrganizations() else { return }
        let (organization, token) = try await identity.createOrganization(name: "default", adminEmail: "admin@localhost", tokenSecret: tokenSecret)
        logger.info("created organization", metadata: ["organization_id": "\(organization.id)", "admin": "admin@localhost"])
        if tokenSecret == nil {
            // Printed once, on a line of its own, and never logged.
            FileHandle.standardError.write(Data("bootstrap token: \(token)\n".utf8))
        }
    }
}

enum Console {
    static let placeholder = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gantry</title></head>
        <body><h1>Gantry</h1><p>The API is served under <a href="/api/openapi.yaml">/api</a>.</p></body></html>
        """
}
