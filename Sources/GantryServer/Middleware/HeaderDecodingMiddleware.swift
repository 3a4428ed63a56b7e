import Foundation
import HTTPTypes
import Hummingbird

/// The OpenAPI runtime percent-encodes header values it serializes (`"1"` becomes `%221%22`);
/// `ETag` and `Location` must reach clients verbatim.
struct HeaderDecodingMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        for name in [HTTPField.Name.eTag, .location] {
            if let value = response.headers[name], value.contains("%"), let decoded = value.removingPercentEncoding {
                response.headers[name] = decoded
            }
        }
        return response
    }
}
