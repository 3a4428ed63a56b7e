import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The web console (issue 5): plain HTML, CSS and JavaScript modules from `Console/static`, served at `/`
/// (`index.html`) and under `/console/…` (every other asset). The browser routes with the URL hash
/// (`#/projects/…`), so the server needs nothing but these files.
///
/// The files are read once, when the router is built, and answered from memory with an `ETag` (a content
/// hash) and `Cache-Control: no-cache`, so a browser revalidates with `If-None-Match` and gets 304 until the
/// binary ships new assets. A path that names no asset falls through to the JSON 404 of every unknown route.
enum Console {
    /// One file of the console, ready to send.
    struct Asset: Sendable {
        let body: ByteBuffer
        let contentType: String
        let etag: String
    }

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

    static func contentType(forExtension ext: String) -> String {
        switch ext.lowercased() {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "txt", "md": "text/plain; charset=utf-8"
        default: "application/octet-stream"
        }
    }

    /// The console's folder inside the resource bundle, if this build has one.
    static var staticDirectory: URL? {
        guard let base = Bundle.module.resourceURL else { return nil }
        let directory = base.appendingPathComponent("static", isDirectory: true)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        return directory
    }

    /// Every file under `directory`, keyed by its path relative to it (`index.html`, `js/api.js`).
    static func loadAssets(from directory: URL? = staticDirectory) -> [String: Asset] {
        guard let directory else { return [:] }
        let root = directory.standardizedFileURL.path
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return [:] }
        var assets: [String: Asset] = [:]
        for case let url as URL in enumerator {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true,
                  let data = try? Data(contentsOf: url) else { continue }
            var relative = url.standardizedFileURL.path
            guard relative.hasPrefix(root) else { continue }
            relative.removeFirst(root.count)
            while relative.hasPrefix("/") { relative.removeFirst() }
            guard !relative.isEmpty, !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
            let digest = SHA256.hash(data: data).prefix(12).map { String(format: "%02x", $0) }.joined()
            assets[relative] = Asset(body: ByteBuffer(bytes: data), contentType: contentType(forExtension: url.pathExtension),
                                     etag: "\"\(digest)\"")
        }
        return assets
    }

    static func response(_ asset: Asset, request: Request) -> Response {
        var headers = securityHeaders
        headers[.contentType] = asset.contentType
        headers[.eTag] = asset.etag
        headers[.cacheControl] = "no-cache"
        if let given = request.headers[.ifNoneMatch],
           given.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag || $0.trimmingCharacters(in: .whitespaces) == "*" }) {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }

    /// Adds `GET /`, `GET /favicon.ico` and `GET /console/**` to the router.
    static func register(on router: Router<AppRequestContext>, assets: [String: Asset] = loadAssets()) {
        router.get("/") { request, _ in
            if let index = assets["index.html"] { return response(index, request: request) }
            var headers = securityHeaders
            headers[.contentType] = "text/html; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: placeholder)))
        }
        router.get("/favicon.ico") { request, _ in
            guard let icon = assets["favicon.svg"] else { throw HTTPError(.notFound) }
            return response(icon, request: request)
        }
        router.get("/console/**") { request, context in
            let path = context.parameters.getCatchAll().joined(separator: "/")
            guard !path.isEmpty, let asset = assets[path] else { throw HTTPError(.notFound) }
            return response(asset, request: request)
        }
    }
}
