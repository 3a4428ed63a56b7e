import Crypto
import Foundation
import GantryCore
import GantryStorage
import HTTPTypes
import Hummingbird
import NIOCore

/// `Idempotency-Key` on POST: a repeat by the same token with the same key and body within 24 hours
/// answers what the first request answered and creates nothing; the same key with another body is 409.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let store: any IdempotencyRepository
    /// Response headers worth replaying; X-Request-Id stays the repeat's own.
    static let replayedHeaders: [HTTPField.Name] = [.contentType, .location, .eTag]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post, let key = request.headers[.idempotencyKey], let caller = context.caller else {
            return try await next(request, context)
        }
        guard Rules.isIdempotencyKey(key) else {
            throw AppError.validation("Idempotency-Key", "must be 1–255 printable ASCII characters")
        }
        var hasher = SHA256()
        hasher.update(data: Data("\(request.method) \(request.uri.path)\n".utf8))
        if let body = context.rawBody { hasher.update(data: Data(buffer: body)) }
        let requestHash = AccessToken.hex(hasher.finalize())

        switch try await store.claim(tokenID: caller.tokenID, key: key, requestHash: requestHash) {
        case .replay(let stored):
            var headers = HTTPFields()
            for (name, value) in stored.headers { if let field = HTTPField.Name(name) { headers[field] = value } }
            headers[HTTPField.Name("Idempotent-Replayed")!] = "true"
            return Response(status: .init(code: stored.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: stored.body)))
        case .mismatch:
            throw AppError(.idempotencyKeyReused, "This Idempotency-Key was already used for a different request; use a new key.")
        case .inProgress:
            throw AppError(.conflict, "A request with this Idempotency-Key is still being processed; retry shortly.",
                           details: ["field": .string("Idempotency-Key")])
        case .claimed:
            break
        }

        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            try? await store.release(tokenID: caller.tokenID, key: key)
            throw error
        }
        guard response.status.code < 500 else {
            try? await store.release(tokenID: caller.tokenID, key: key)
            return response
        }
        var response2 = response
        let body = try await response2.body.collect(upTo: 16 << 20)
        var headers: [String: String] = [:]
        for name in Self.replayedHeaders { if let value = response.headers[name] { headers[name.rawName] = value } }
        try await store.complete(
            tokenID: caller.tokenID, key: key,
            response: StoredResponse(status: Int(response.status.code), headers: headers, body: String(buffer: body))
        )
        response2.body = .init(byteBuffer: body)
        return response2
    }
}

extension ResponseBody {
    /// Gathers a response body the server produced (bounded), so it can be stored or rewritten.
    func collect(upTo maxSize: Int) async throws -> ByteBuffer {
        let box = CollectedBody()
        try await self.write(BodyCollector(box: box, maxSize: maxSize))
        return box.buffer
    }
}

final class CollectedBody: @unchecked Sendable {
    var buffer = ByteBuffer()
}

struct BodyCollector: ResponseBodyWriter {
    let box: CollectedBody
    let maxSize: Int

    mutating func write(_ part: ByteBuffer) async throws {
        var part = part
        guard box.buffer.readableBytes + part.readableBytes <= maxSize else { throw HTTPError(.internalServerError) }
        box.buffer.writeBuffer(&part)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
