import Foundation
import GantryCore
import Hummingbird
import Logging
import NIOCore

/// Per-request state: who is calling and which request this is. Handlers generated from the
/// OpenAPI document cannot see it directly, so `RequestScope` republishes it as a task local.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID = ""
    public var caller: Caller?
    /// The request body as received (JSON), kept for idempotency hashing and PATCH null detection.
    public var rawBody: ByteBuffer?
    /// The body's top-level keys and whether each is `null`, read once when the body is checked.
    public var bodyFields: [String: Bool] = [:]

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// docs/api.md §2: bodies over 1 MiB are refused.
    public var maxUploadSize: Int { 1 << 20 }
}

/// The request state handlers read while they run.
public struct RequestScope: Sendable {
    @TaskLocal public static var current: RequestScope?

    public var caller: Caller?
    public var rawBody: ByteBuffer?
    public var bodyFields: [String: Bool] = [:]

    static func caller() throws -> Caller {
        guard let caller = current?.caller else { throw AppError(.unauthenticated, "A bearer token is required.") }
        return caller
    }

    /// Keys of the JSON body and whether each is `null`: PATCH needs to tell "absent" from "null".
    static func bodyFields() -> [String: Bool] { current?.bodyFields ?? [:] }
}
