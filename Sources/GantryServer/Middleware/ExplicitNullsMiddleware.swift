import HTTPTypes
import Foundation
import Hummingbird
import NIOCore

/// Writes `null` for every unset nullable field of an API answer.
///
/// The generated types encode an unset optional by leaving its key out, but the contract (and the
/// OpenAPI document, where these fields are required and nullable) promises an explicit `null`.
/// Which fields those are follows from the object's ID prefix, so only affected answers are rewritten.
struct ExplicitNullsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    static let nullableFields: [String: [String]] = [
        "env_": ["registryIntegrationId", "registryUrl"],
        "spc_": ["cloudAccountId", "server"],
        "int_": ["cloudAccountId"],
        "dep_": ["port", "resources", "lastDeployedAt", "canvasPosition"],
        "conn_": ["injectedVar"],
        "tok_": ["expiresAt", "lastUsedAt", "revokedAt"],
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        guard (200..<300).contains(response.status.code), response.status.code != 204,
              response.headers[.contentType]?.hasPrefix("application/json") == true else { return response }
        let body = try await response.body.collect(upTo: 64 << 20)
        guard var root = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            response.body = .init(byteBuffer: body)
            return response
        }
        var changed = false
        if let items = root["data"] as? [Any] {
            if root["nextCursor"] == nil { root["nextCursor"] = NSNull(); changed = true }
            root["data"] = items.map { Self.fill($0, changed: &changed) }
        } else if let object = root["data"] {
            root["data"] = Self.fill(object, changed: &changed)
        }
        guard changed, let data = try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            response.body = .init(byteBuffer: body)
            return response
        }
        response.headers[.contentLength] = String(data.count)
        response.body = .init(byteBuffer: ByteBuffer(bytes: data))
        return response
    }

    static func fill(_ value: Any, changed: inout Bool) -> Any {
        guard var object = value as? [String: Any] else { return value }
        var fields: [String] = []
        if let id = object["id"] as? String, let prefix = nullableFields.keys.first(where: { id.hasPrefix($0) }) {
            fields = nullableFields[prefix] ?? []
        } else if object["statusBuckets"] != nil {
            fields = ["lastDeployAt"]
        }
        for field in fields where object[field] == nil {
            object[field] = NSNull()
            changed = true
        }
        return object
    }
}
