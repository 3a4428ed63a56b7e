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
            if let secret = SignOnRoutes.sessionSecret(request) { return try await withSession(secret, request, context: context, next: next) }
            throw AppError(.unauthenticated, "Send a personal access token as Authorization: Bearer <token>.")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AppError(.unauthenticated, "The Authorization header must be Bearer <token>.")
        }
        // Blanks trimmed without Foundation's `trimmingCharacters`, which bridges through NSString: ~3 % of an
        // authenticated GET's CPU (perf, `GET /api/policies`).
        var secret = parts[1].utf8[...]
        while let first = secret.first, first == 32 || first == 9 { secret = secret.dropFirst() }
        while let last = secret.last, last == 32 || last == 9 { secret = secret.dropLast() }
        guard let caller = try await identity.authenticate(secret: String(Substring(secret)), session: false) else {
            throw AppError(.unauthenticated, "The token is malformed, unknown, expired or revoked.")
        }
        return try await next(request, Self.context(context, as: caller))
    }

    /// The request's context with its caller (carrying the request id for audit entries) and the token in its log lines.
    static func context(_ context: Context, as caller: Caller) -> Context {
        var caller = caller
        caller.requestID = context.requestID
        var context = context
        context.caller = caller
        context.logger[metadataKey: "token_id"] = .string(caller.tokenID)
        return context
    }

    /// A console session (docs/api.md §9): a change must carry the session's CSRF value in `X-Gantry-CSRF`, which a
    /// page of another site cannot read, so a forged form or fetch riding on the cookie is refused.
    func withSession(_ secret: String, _ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let caller = try await identity.authenticate(secret: secret, session: true) else {
            throw AppError(.unauthenticated, "Your session has ended (signed out, idle for 12 hours, or older than 7 days); sign in again.")
        }
        if ![.get, .head, .options].contains(request.method) {
            guard let sent = request.headers[Self.csrfHeader], sent == caller.csrfToken else {
                throw AppError(.forbidden, "A change made with the session cookie needs the X-Gantry-CSRF header with this session's value "
                               + "(GET /api/me gives it as data.csrfToken).")
            }
        }
        return try await next(request, Self.context(context, as: caller))
    }

    static let csrfHeader = HTTPField.Name("X-Gantry-CSRF")!
}
