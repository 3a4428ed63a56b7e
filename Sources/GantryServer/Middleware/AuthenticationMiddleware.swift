import HTTPTypes
import GantryCore
import GantryStorage
import Hummingbird

/// Resolves `Authorization: Bearer <token>` to a caller, or answers 401 with `WWW-Authenticate: Bearer`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let identity: any IdentityRepository
    /// Paths under the API base that need no token (the OpenAPI documents).
    let publicPaths: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if publicPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw AppError(.unauthenticated, "Send a personal access token as Authorization: Bearer <token>.")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AppError(.unauthenticated, "The Authorization header must be Bearer <token>.")
        }
        guard var caller = try await identity.authenticate(secret: String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw AppError(.unauthenticated, "The token is malformed, unknown, expired or revoked.")
        }
        caller.requestID = context.requestID
        var context = context
        context.caller = caller
        context.logger[metadataKey: "token_id"] = .string(caller.tokenID)
        return try await next(request, context)
    }
}
