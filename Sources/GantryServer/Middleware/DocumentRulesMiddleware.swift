import Foundation
import GantryCore
import HTTPTypes
import OpenAPIRuntime

/// Rules of `openapi.yaml` the generated decoder does not enforce, or enforces without naming the field, applied to
/// every operation from the document itself:
/// - an explicit `null` for a body field whose schema does not allow one is 400 naming the field (the decoder reads it
///   as "absent", so `{"description": null}` would be taken as if the field had been left out; fields a PATCH may clear
///   are declared nullable);
/// - a query parameter outside its `enum` is 400 naming the parameter (the decoder's own error names no field).
struct DocumentRulesMiddleware: ServerMiddleware {
    let nonNullable: [String: Set<String>]
    let queryEnums: [String: [String: Set<String>]]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var problems: [FieldError] = []
        if let fields = nonNullable[operationID] {
            let nulls = RequestScope.bodyFields().filter { $0.value && fields.contains($0.key) }.keys.sorted()
            problems += nulls.map { FieldError($0, "must not be null; leave it out to keep the default or current value") }
        }
        if let enums = queryEnums[operationID], let path = request.path, let query = URLComponents(string: path)?.queryItems {
            for item in query {
                guard let allowed = enums[item.name], let value = item.value, !allowed.contains(value) else { continue }
                problems.append(FieldError(item.name, "must be one of: \(allowed.sorted().joined(separator: ", "))"))
            }
        }
        if !problems.isEmpty { throw AppError.validation(problems) }
        return try await next(request, body, metadata)
    }
}
