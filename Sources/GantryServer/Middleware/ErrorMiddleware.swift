import Foundation
import GantryCore
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime
import GantryStorage

/// Turns every failure into the contract's envelope: no stack traces, SQL or internals reach a client.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            if let allowed = routes.wrongMethodOnLiteral(request.uri.path, request.method) {
                let list = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                return ErrorRendering.response(
                    AppError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path); use \(list)."),
                    requestID: context.requestID, extraHeaders: [.allow: list])
            }
            return try await next(request, context)
        } catch {
            let (appError, headers) = classify(error, request: request, context: context)
            if appError.code == .internal || appError.code == .unavailable {
                context.logger.error("request failed", metadata: [
                    "error_type": "\(type(of: error))", "error": "\(LoggableError.describe(error))",
                    "method": "\(request.method)", "path": "\(request.uri.path)",
                ])
            }
            return ErrorRendering.response(appError, requestID: context.requestID, extraHeaders: headers)
        }
    }

    func classify(_ error: any Error, request: Request, context: Context) -> (AppError, HTTPFields) {
        switch error {
        case let error as AppError:
            return (error, [:])
        case let error as RateLimited:
            return (error.appError, [.retryAfter: String(error.retryAfter)])
        case let error as ServerError:
            return classify(error.underlyingError, request: request, context: context)
        case let error as DecodingError:
            return (Self.decodingError(error, body: context.rawBody), [:])
        case let error as HTTPError:
            return httpError(error.status, body: error.body, request: request)
        case let error as any HTTPResponseConvertible:
            // OpenAPIRuntime's own errors: a missing parameter (400) or a wrong content type (415).
            switch error.httpStatus.code {
            case 415: return (AppError(.unsupportedMediaType, "Send the body as JSON with Content-Type: application/json."), [:])
            case 400..<500: return (AppError.validation("request", Self.describe(error)), [:])
            default: return (AppError(.internal, "Something went wrong on our side; the request id identifies it in our logs."), [:])
            }
        case let error as any HTTPResponseError:
            // Hummingbird's and NIO's own errors (e.g. `NIOTooManyBytesError` for an oversized chunked body: 413).
            return httpError(error.status, body: nil, request: request)
        case _ where DatabaseFailure.classify(error) == .unavailable:
            return (AppError(.unavailable, "The database is not answering; try again shortly."), [.retryAfter: "1"])
        default:
            return (AppError(.internal, "Something went wrong on our side; the request id identifies it in our logs."), [:])
        }
    }

    func httpError(_ status: HTTPResponse.Status, body: String?, request: Request) -> (AppError, HTTPFields) {
        switch status.code {
        case 404:
            let allowed = routes.allowedMethods(for: request.uri.path)
            if !allowed.isEmpty, !allowed.contains(request.method) {
                let list = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                return (AppError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path); use \(list)."), [.allow: list])
            }
            return (AppError(.notFound, "There is no route \(request.method) \(request.uri.path)."), [:])
        case 413:
            return (AppError(.payloadTooLarge, "The request body is over the 1 MiB limit."), [:])
        case 415:
            return (AppError(.unsupportedMediaType, "Send the body as JSON with Content-Type: application/json."), [:])
        case 400..<500:
            return (AppError(.badRequest, body ?? "The request could not be understood."), [:])
        default:
            return (AppError(.internal, "Something went wrong on our side; the request id identifies it in our logs."), [:])
        }
    }

    /// Invalid JSON is `bad_request`; well-formed JSON of the wrong shape is `validation_failed` naming the field.
    static func decodingError(_ error: DecodingError, body: ByteBuffer?) -> AppError {
        if let body, body.readableBytes > 0, (try? JSONSerialization.jsonObject(with: Data(buffer: body), options: [.fragmentsAllowed])) == nil {
            return AppError(.badRequest, "The request body is not valid JSON.")
        }
        func path(_ codingPath: [any CodingKey]) -> String {
            let names = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.filter { !$0.isEmpty }
            return names.isEmpty ? "body" : names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .validation(path(context.codingPath + [key]), "is required")
        case .typeMismatch(let type, let context):
            return .validation(path(context.codingPath), "has the wrong type (expected \(Self.jsonType(type)))")
        case .valueNotFound(let type, let context):
            return .validation(path(context.codingPath), "must not be null (expected \(Self.jsonType(type)))")
        case .dataCorrupted(let context):
            // The runtime reports unknown body fields and unknown enum values this way.
            let description = context.debugDescription
            if description.contains("Additional properties are disabled") {
                return .validation(path(context.codingPath), "is not a known field; remove it")
            }
            if description.contains("Cannot initialize") {
                return .validation(path(context.codingPath), "is not one of the allowed values")
            }
            if description.contains("date") || description.contains("Date") {
                // Our date transcoder cannot see the coding path; find the body field holding the value it refused.
                var field = path(context.codingPath)
                if context.codingPath.isEmpty, let value = RFC3339DateTranscoder.invalidValue(in: description), let body,
                   let json = try? JSONSerialization.jsonObject(with: Data(buffer: body), options: [.fragmentsAllowed]),
                   let found = Self.path(toString: value, in: json) {
                    field = found
                }
                return .validation(field, "must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")
            }
            return .validation(path(context.codingPath), "is invalid")
        @unknown default:
            return .validation("body", "is invalid")
        }
    }

    /// The path (`expiresAt`, `items[2].at`) of the first string equal to `value` in a decoded JSON body, in key order.
    static func path(toString value: String, in json: Any, prefix: String = "") -> String? {
        switch json {
        case let string as String:
            return string == value && !prefix.isEmpty ? prefix : nil
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                if let found = path(toString: value, in: object[key]!, prefix: prefix.isEmpty ? key : prefix + "." + key) { return found }
            }
            return nil
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                if let found = path(toString: value, in: element, prefix: prefix + "[\(index)]") { return found }
            }
            return nil
        default:
            return nil
        }
    }

    static func jsonType(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.contains("Int") { return "integer" }
        if name.contains("Double") || name.contains("Float") { return "number" }
        if name.contains("Bool") { return "boolean" }
        if name.contains("String") || name.contains("Date") { return "string" }
        if name.contains("Array") { return "array" }
        return "object"
    }

    static func describe(_ error: Any) -> String {
        let text = String(describing: error)
        // Keep the runtime's sentence ("Missing required query parameter named: x"), not its internals.
        return text.split(separator: "\n").first.map(String.init)?.prefix(200).description ?? "is invalid"
    }
}

extension HTTPField.Name {
    static let allow = Self("Allow")!
}
