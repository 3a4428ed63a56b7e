import HTTPTypes
import Foundation
import GantryCore
import Hummingbird
import NIOCore

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
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AppError(.payloadTooLarge, "The request body is over the 1 MiB limit.")
        }
        if body.readableBytes > 0 {
            guard Self.isJSON(request.headers[.contentType]) else {
                throw AppError(.unsupportedMediaType, "Send the body as JSON with Content-Type: application/json.")
            }
            guard (try? JSONSerialization.jsonObject(with: Data(buffer: body), options: [.fragmentsAllowed])) != nil else {
                throw AppError(.badRequest, "The request body is not valid JSON.")
            }
            context.rawBody = body
        } else if request.method == .post || request.method == .patch || request.method == .put,
                  let type = request.headers[.contentType], !Self.isJSON(type) {
            throw AppError(.unsupportedMediaType, "Send the body as JSON with Content-Type: application/json.")
        }
        return try await next(request, context)
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
