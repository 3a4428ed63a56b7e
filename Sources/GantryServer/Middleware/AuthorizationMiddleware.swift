import GantryCore
import Hummingbird

/// Finds the operation a request routes to, applies its rule from `OperationTable`, and attaches the policy
/// the repositories check against the resource. An operation without a rule is refused.
struct AuthorizationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    /// `"GET /api/projects/{}"` → operation ID, from the OpenAPI document.
    let operations: [String: String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard var caller = context.caller else { return try await next(request, context) }
        let key = Self.key(method: request.method.rawValue, path: context.endpointPath ?? request.uri.path)
        guard let operation = operations[key], let requirement = OperationTable.requirements[operation] else {
            throw AppError(.forbidden, "This operation has no access rule; it is refused.")
        }
        if case .organization(let policy) = requirement, !caller.permissions.allows(policy, on: .organization) {
            throw AppError(.forbidden, "This needs \(policy) at organization scope; ask an organization admin for access.")
        }
        caller.policy = requirement.policy
        caller.requestID = context.requestID
        var context = context
        context.caller = caller
        return try await next(request, context)
    }

    /// The method and the path with every parameter segment (`{id}` or `:id`) written `{}`.
    static func key(method: String, path: String) -> String {
        let segments = path.split(separator: "/").map { $0.hasPrefix("{") || $0.hasPrefix(":") ? "{}" : String($0) }
        return method + " /" + segments.joined(separator: "/")
    }
}
