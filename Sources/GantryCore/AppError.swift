/// The contract's error codes (docs/api.md §2), with their HTTP statuses.
public enum ErrorCode: String, Sendable, Codable {
    case badRequest = "bad_request"
    case validationFailed = "validation_failed"
    case unauthenticated
    case forbidden
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case conflict
    case hasChildren = "has_children"
    case idempotencyKeyReused = "idempotency_key_reused"
    case preconditionFailed = "precondition_failed"
    case payloadTooLarge = "payload_too_large"
    case unsupportedMediaType = "unsupported_media_type"
    case rateLimited = "rate_limited"
    case `internal`
    case clusterUnreachable = "cluster_unreachable"
    case clusterAuthFailed = "cluster_auth_failed"
    case clusterError = "cluster_error"
    case unavailable
    case clusterTimeout = "cluster_timeout"
    case preflightFailed = "preflight_failed"

    public var status: Int {
        switch self {
        case .badRequest, .validationFailed: 400
        case .unauthenticated: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict, .hasChildren, .idempotencyKeyReused: 409
        case .preconditionFailed: 412
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .preflightFailed: 422
        case .rateLimited: 429
        case .internal: 500
        case .clusterUnreachable, .clusterAuthFailed, .clusterError: 502
        case .unavailable: 503
        case .clusterTimeout: 504
        }
    }
}

/// A JSON value, for error details and audit changes.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
}

/// One invalid field, as listed in `details.fields`.
public struct FieldError: Sendable, Equatable {
    public let field: String
    public let message: String
    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }
}

/// An error a client can act on. Its message is written for a person and never holds secrets or internals.
public struct AppError: Error, Sendable, Equatable {
    public let code: ErrorCode
    public let message: String
    public let details: [String: JSONValue]?

    public init(_ code: ErrorCode, _ message: String, details: [String: JSONValue]? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    public static func validation(_ fields: [FieldError]) -> AppError {
        let summary = fields.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        return AppError(
            .validationFailed, "The request is invalid. \(summary)",
            details: ["fields": .array(fields.map { .object(["field": .string($0.field), "message": .string($0.message)]) })]
        )
    }

    public static func validation(_ field: String, _ message: String) -> AppError {
        validation([FieldError(field, message)])
    }

    public static func notFound(_ resource: String) -> AppError {
        AppError(.notFound, "No such \(resource) in your organization.")
    }

    /// A refusal that says what was checked where (docs/api.md §9 "Why can't I?"): `details.policy` and `details.scope`.
    public static func forbidden(_ policy: String, on target: Target, _ message: String) -> AppError {
        AppError(.forbidden, message, details: ["policy": .string(policy), "scope": .string(target.scope.description)])
    }

    public static func conflict(field: String, _ message: String) -> AppError {
        AppError(.conflict, message, details: ["field": .string(field)])
    }

    public static let staleVersion = AppError(
        .preconditionFailed, "The resource has changed since you read it (If-Match does not match its current version). Fetch it again and retry."
    )
}
