import Foundation
import HTTPTypes
import Yams

/// The OpenAPI document in its two served forms, and the route table derived from it.
enum OpenAPIDocuments {
    static func json(fromYAML yaml: Data) throws -> Data {
        let object = try Yams.load(yaml: String(decoding: yaml, as: UTF8.self)) ?? [:]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func routeTable(fromYAML yaml: Data, basePath: String) throws -> RouteTable {
        var table = RouteTable()
        let root = try Yams.load(yaml: String(decoding: yaml, as: UTF8.self)) as? [String: Any] ?? [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            let methods = (item as? [String: Any] ?? [:]).keys.compactMap { HTTPRequest.Method($0.uppercased()) }
            table.add(basePath + path, Set(methods))
        }
        return table
    }

    /// `"GET /api/projects/{}"` → operation ID, for every operation of the document.
    static func operations(fromYAML yaml: Data, basePath: String) throws -> [String: String] {
        let root = try Yams.load(yaml: String(decoding: yaml, as: UTF8.self)) as? [String: Any] ?? [:]
        var operations: [String: String] = [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            for (method, operation) in item as? [String: Any] ?? [:] {
                guard let id = (operation as? [String: Any])?["operationId"] as? String else { continue }
                operations[AuthorizationMiddleware.key(method: method.uppercased(), path: basePath + path)] = id
            }
        }
        return operations
    }
}
