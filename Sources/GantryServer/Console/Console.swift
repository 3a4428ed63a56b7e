import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The web console: plain HTML, CSS and JavaScript modules from `Console/static`, served at `/`
/// (`index.html`) and under `/console/…` (every other asset). The browser routes with the URL hash
/// (`#/projects/…`), so the server needs nothing but these files.
///
/// Hummingbird's `FileMiddleware` serves the assets from the resource bundle with an `ETag` (modification time
/// and size) and `Cache-Control: no-cache`, so a browser revalidates with `If-None-Match` and gets 304 until
/// the binary ships new assets. A path that names no asset falls through to the JSON 404 of every unknown route.
enum Console {
    /// What `/` serves if the bundle's assets cannot be found (a broken install): still a page, never a 500.
    static let placeholder = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gantry</title></head>
        <body><h1>Gantry</h1><p>The web console's files are missing from this build. \
        The API is served under <a href="/api/openapi.yaml">/api</a>.</p></body></html>
        """

    /// Paths for the route table (known path, wrong method → 405): `/` and assets up to three folders deep.
    static let routePaths = ["/", "/console/{a}", "/console/{a}/{b}", "/console/{a}/{b}/{c}", "/favicon.ico"]

    /// The policy for every console response: scripts, styles and requests only from this origin.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
    ]

    /// The console's folder inside the resource bundle, if this build has one.
    static var staticDirectory: URL? {
        guard let base = Bundle.module.resourceURL else { return nil }
        let directory = base.appendingPathComponent("static", isDirectory: true)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        return directory
    }

    /// Adds the asset middleware, `GET /` and `GET /favicon.ico` to the router.
    static func register(on router: Router<AppRequestContext>, directory: URL? = staticDirectory) {
        router.add(middleware: ConsoleHeadersMiddleware())
        guard let directory else {
            router.get("/") { _, _ in
                var headers = securityHeaders
                headers[.contentType] = "text/html; charset=utf-8"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: placeholder)))
            }
            return
        }
        let files = FileMiddleware<AppRequestContext, LocalFileSystem>(
            directory.path, urlBasePath: "/console", cacheControl: CacheControl([(MediaType(type: .any), [.noCache])])
        )
        // JavaScript modules as text/javascript (RFC 9239), not the legacy application/javascript; text says its charset.
        .withAdditionalMediaTypes(forFileExtensions: [
            "js": utf8("javascript"), "mjs": utf8("javascript"), "css": utf8("css"), "html": utf8("html"),
        ])
        router.add(middleware: files)
        // `/` and `/favicon.ico` are the same files under the names browsers ask for.
        router.get("/") { request, context in try await files.handle(alias(request, to: "/console/index.html"), context: context) { _, _ in
            throw HTTPError(.notFound)
        } }
        router.get("/favicon.ico") { request, context in try await files.handle(alias(request, to: "/console/favicon.svg"), context: context) { _, _ in
            throw HTTPError(.notFound)
        } }
    }

    static func utf8(_ subType: String) -> MediaType { MediaType(type: .text, subType: subType, parameter: ("charset", "utf-8")) }

    static func alias(_ request: Request, to path: String) -> Request {
        var head = request.head
        head.path = path
        return Request(head: head, body: request.body)
    }
}

/// The security policy on every console answer, and no way out of the asset folder: a path with `..` is
/// answered like any unknown route (404), not with FileMiddleware's 400.
struct ConsoleHeadersMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path == "/" || path == "/favicon.ico" || path.hasPrefix("/console/") else { return try await next(request, context) }
        if path.contains("..") || (path.removingPercentEncoding ?? "").contains("..") { throw HTTPError(.notFound) }
        var response = try await next(request, context)
        response.headers.append(contentsOf: Console.securityHeaders)
        return response
    }
}
