import Hummingbird

/// Publishes the request's context to the generated handlers as a task local.
struct RequestScopeMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let scope = RequestScope(caller: context.caller, rawBody: context.rawBody, bodyFields: context.bodyFields)
        return try await RequestScope.$current.withValue(scope) { try await next(request, context) }
    }
}
