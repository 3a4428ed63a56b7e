import HTTPTypes
import Foundation
import GantryCore
import Hummingbird

/// Echoes a well-formed client `X-Request-Id` (1–128 of `[A-Za-z0-9._-]`) or makes a new one, on every response.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    static func isAcceptable(_ value: String) -> Bool {
        (1...128).contains(value.utf8.count) && value.utf8.allSatisfy {
            ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 46 || $0 == 95 || $0 == 45
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let given = request.headers[.xRequestID], Self.isAcceptable(given) {
            context.requestID = given
        } else {
            var random = SystemRandomNumberGenerator()
            context.requestID = "req_" + AccessToken.hex(withUnsafeBytes(of: (random.next() as UInt64, random.next() as UInt64)) { Array($0) })
        }
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        var response = try await next(request, context)
        response.headers[.xRequestID] = context.requestID
        return response
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-Id")!
    static let idempotencyKey = Self("Idempotency-Key")!
}
