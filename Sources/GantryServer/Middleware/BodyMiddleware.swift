import HTTPTypes
import Foundation
import GantryCore
import Hummingbird
import NIOCore
import OpenAPIRuntime

/// Enforces the body rules of docs/api.md §2 before anything decodes: JSON only (415), at most 1 MiB (413).
/// The body is buffered once and kept on the context for idempotency hashing and PATCH null detection.
struct BodyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        var context = context
        try Self.checkQuery(request.uri.queryParameters)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > context.maxUploadSize {
            throw AppError(.payloadTooLarge, "The request body is over the 1 MiB limit.")
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            // A body without Content-Length (`Transfer-Encoding: chunked`) is only found too large while it is read.
            // Hummingbird drains what is left of it after the answer, so the connection stays usable.
            throw AppError(.payloadTooLarge, "The request body is over the 1 MiB limit.")
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AppError(.payloadTooLarge, "The request body is over the 1 MiB limit.")
        }
        if body.readableBytes > 0 {
            guard Self.isJSON(request.headers[.contentType]) else {
                throw AppError(.unsupportedMediaType, "Send the body as JSON with Content-Type: application/json.")
            }
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(buffer: body), options: [.fragmentsAllowed]) else {
                throw AppError(.badRequest, "The request body is not valid JSON.")
            }
            context.rawBody = body
            // PATCH tells "absent" from "null" through these; they are read here once, not again by each handler.
            context.bodyFields = (parsed as? [String: Any])?.mapValues { $0 is NSNull } ?? [:]
        } else if request.method == .post || request.method == .patch || request.method == .put,
                  let type = request.headers[.contentType], !Self.isJSON(type) {
            throw AppError(.unsupportedMediaType, "Send the body as JSON with Content-Type: application/json.")
        } else if request.method == .post {
            // A POST without a body (`curl -X POST …/deploy`) reads as an empty object: routes whose body is optional
            // then take their defaults, and routes that need fields name the missing ones instead of "body is invalid".
            var head = request.head
            head.headerFields[.contentType] = "application/json"
            request = Request(head: head, body: RequestBody(buffer: ByteBuffer(string: "{}")))
        }
        do {
            return try await next(request, context)
        } catch {
            // A body that decodes to the wrong shape is reported here, where the body is at hand: naming the field
            // can need it (a refused timestamp carries only its value, not where it was).
            guard let decoding = Self.decodingError(in: error) else { throw error }
            throw ErrorMiddleware.decodingError(decoding, body: context.rawBody)
        }
    }

    /// The `DecodingError` the OpenAPI runtime wrapped, if that is what failed.
    static func decodingError(in error: any Error) -> DecodingError? {
        switch error {
        case let error as DecodingError: error
        case let error as ServerError: decodingError(in: error.underlyingError)
        default: nil
        }
    }

    /// Typed query parameters the generated decoder would report without naming them.
    static func checkQuery(_ query: Parameters) throws {
        var validator = Validator()
        if let limit = query["limit"], Int(limit) == nil { validator.fail("limit", "must be a whole number between 1 and 200") }
        if let dryRun = query["dryRun"], dryRun != "true", dryRun != "false" { validator.fail("dryRun", "must be true or false") }
        try validator.check()
    }

    /// `application/json`, optionally with parameters such as `charset=utf-8`.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        return mediaType == "application/json"
    }
}
