import Crypto
import Foundation
import GantryCore
import GantryStorage
import HTTPTypes
import OpenAPIRuntime

/// `Idempotency-Key` on POST: a repeat by the same token with the same key and body within 24 hours
/// answers what the first request answered and creates nothing; the same key with another body is 409.
/// It runs after `AuthorizationMiddleware` in the OpenAPI middleware chain, so a replayed answer is only
/// given to a caller the operation's rule lets through.
struct IdempotencyMiddleware: ServerMiddleware {
    let store: any IdempotencyRepository
    /// Response headers worth replaying; X-Request-Id stays the repeat's own.
    static let replayedHeaders: [HTTPField.Name] = [.contentType, .location, .eTag]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard request.method == .post, let key = request.headerFields[.idempotencyKey], let scope = RequestScope.current,
              let caller = scope.caller else {
            return try await next(request, body, metadata)
        }
        guard Rules.isIdempotencyKey(key) else {
            throw AppError.validation("Idempotency-Key", "must be 1–255 printable ASCII characters")
        }
        var hasher = SHA256()
        // The path without its query, as the router saw it, so stored keys keep matching.
        let path = (request.path ?? "/").prefix { $0 != "?" }
        hasher.update(data: Data("\(request.method) \(path)\n".utf8))
        if let raw = scope.rawBody { hasher.update(data: Data(buffer: raw)) }
        let requestHash = AccessToken.hex(hasher.finalize())

        switch try await store.claim(tokenID: caller.tokenID, key: key, requestHash: requestHash) {
        case .replay(let stored):
            var headers = HTTPFields()
            for (name, value) in stored.headers { if let field = HTTPField.Name(name) { headers[field] = value } }
            headers[HTTPField.Name("Idempotent-Replayed")!] = "true"
            return (HTTPResponse(status: .init(code: stored.status), headerFields: headers), HTTPBody(stored.body))
        case .mismatch:
            throw AppError(.idempotencyKeyReused, "This Idempotency-Key was already used for a different request; use a new key.")
        case .inProgress:
            throw AppError(.conflict, "A request with this Idempotency-Key is still being processed; retry shortly.",
                           details: ["field": .string("Idempotency-Key")])
        case .claimed:
            break
        }

        let response: HTTPResponse, responseBody: HTTPBody?
        do {
            (response, responseBody) = try await next(request, body, metadata)
        } catch {
            try? await store.release(tokenID: caller.tokenID, key: key)
            throw error
        }
        guard response.status.code < 500 else {
            try? await store.release(tokenID: caller.tokenID, key: key)
            return (response, responseBody)
        }
        var collected = Data()
        if let responseBody { collected = try await Data(collecting: responseBody, upTo: 16 << 20) }
        var headers: [String: String] = [:]
        for name in Self.replayedHeaders {
            if let value = response.headerFields[name] { headers[name.rawName] = HeaderDecodingMiddleware.verbatim(name, value) }
        }
        try await store.complete(
            tokenID: caller.tokenID, key: key,
            response: StoredResponse(status: Int(response.status.code), headers: headers, body: String(decoding: collected, as: UTF8.self))
        )
        return (response, HTTPBody(collected))
    }
}
