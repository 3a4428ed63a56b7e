import Foundation
import HTTPTypes
import Yams

/// The OpenAPI document in its two served forms, and what the router derives from it — parsed once.
struct OpenAPIDocuments {
    let yaml: Data
    let json: Data
    /// Every route the document declares, to tell 405 from 404.
    let routes: RouteTable
    /// `"GET /api/projects/{projectID}"` → operation ID, for every operation of the document: the startup check that
    /// each has a rule in `OperationTable`.
    let operations: [String: String]

    init(yaml: Data, basePath: String) throws {
        let root = try Yams.load(yaml: String(decoding: yaml, as: UTF8.self)) as? [String: Any] ?? [:]
        self.yaml = yaml
        json = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])
        var routes = RouteTable()
        var operations: [String: String] = [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            // A path item also holds `parameters`, `summary`, `servers`, `$ref`…: only its operation keys are methods.
            let methods = (item as? [String: Any] ?? [:]).filter { Self.operationKeys.contains($0.key) }
            routes.add(basePath + path, Set(methods.keys.compactMap { HTTPRequest.Method($0.uppercased()) }))
            for (method, operation) in methods {
                guard let id = (operation as? [String: Any])?["operationId"] as? String else { continue }
                operations["\(method.uppercased()) \(basePath)\(path)"] = id
            }
        }
        self.routes = routes
        self.operations = operations
    }

    /// The keys of an OpenAPI 3.1 path item that name an operation (HTTP methods).
    static let operationKeys: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
}
