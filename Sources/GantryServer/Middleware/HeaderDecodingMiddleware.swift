import Foundation
import HTTPTypes
import Hummingbird

/// Header fix-ups around the OpenAPI runtime, both ways.
///
/// In: `Accept` is dropped. Every operation has exactly one representation (JSON, or NDJSON for the audit
/// export), so `Accept` cannot change an answer; the runtime would instead refuse a mismatch with 400 (e.g.
/// `Accept: application/json` on the export). RFC 9110 §12.5.1 lets a server disregard `Accept` and send its
/// one representation, which is friendlier than 406 and exactly what the client gets without the header.
///
/// Out: the runtime percent-encodes header values it serializes (`"1"` becomes `%221%22`);
/// `ETag`, `Location` and `Warning` must reach clients verbatim.
struct HeaderDecodingMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        if request.headers[.accept] != nil {
            var head = request.head
            head.headerFields[.accept] = nil
            request = Request(head: head, body: request.body)
        }
        var response = try await next(request, context)
        for name in Self.verbatimHeaders {
            if let value = response.headers[name] { response.headers[name] = Self.verbatim(name, value) }
        }
        return response
    }

    static let verbatimHeaders: [HTTPField.Name] = [.eTag, .location, HTTPField.Name("Warning")!]

    /// The value a client must see for a header the runtime serialized.
    static func verbatim(_ name: HTTPField.Name, _ value: String) -> String {
        guard verbatimHeaders.contains(name), value.contains("%"), let decoded = value.removingPercentEncoding else { return value }
        return decoded
    }
}
