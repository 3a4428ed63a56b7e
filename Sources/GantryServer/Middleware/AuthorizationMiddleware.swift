import GantryCore
import HTTPTypes
import OpenAPIRuntime

/// Applies the rule `OperationTable` gives the operation the OpenAPI runtime routed this request to: an `org`-scoped
/// policy the caller lacks is 403 here, before any handler or replay runs. A rule on a resource is checked by the
/// repository that reads the resource, with the policy the handler passes it. An operation without a rule is refused.
/// After the pattern of swift-openapi-generator's `AuthenticationServerMiddleware` example.
struct AuthorizationMiddleware: ServerMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let caller = try RequestScope.caller()
        guard let requirement = OperationTable.requirements[operationID] else {
            throw AppError(.forbidden, "This operation has no access rule; it is refused.")
        }
        if case .organization(let policy) = requirement, !caller.permissions.allows(policy, on: .organization) {
            throw AppError.forbidden(policy, on: .organization, "This needs \(policy) at organization scope; ask an organization admin for access.")
        }
        return try await next(request, body, metadata)
    }
}
