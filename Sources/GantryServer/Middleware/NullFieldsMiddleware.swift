import GantryCore
import HTTPTypes
import OpenAPIRuntime

/// An explicit `null` for a body field whose schema does not allow one is 400 naming the field, on every operation:
/// the generated decoder reads it as "absent", so `{"description": null}` would otherwise be taken as if the field
/// had been left out. Fields a PATCH may clear are declared nullable in `openapi.yaml`.
struct NullFieldsMiddleware: ServerMiddleware {
    let nonNullable: [String: Set<String>]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if let fields = nonNullable[operationID] {
            let nulls = RequestScope.bodyFields().filter { $0.value && fields.contains($0.key) }.keys.sorted()
            if !nulls.isEmpty {
                throw AppError.validation(nulls.map { FieldError($0, "must not be null; leave it out to keep the default or current value") })
            }
        }
        return try await next(request, body, metadata)
    }
}
