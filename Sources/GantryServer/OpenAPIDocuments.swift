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
    /// Operation ID → the top-level request-body properties whose schema does not allow `null`: an explicit `null`
    /// there is refused (the generated decoder would read it as "absent").
    let nonNullableBodyFields: [String: Set<String>]
    /// Operation ID → query parameter → the values its `enum` allows.
    let queryEnums: [String: [String: Set<String>]]

    init(yaml: Data, basePath: String) throws {
        let root = try Yams.load(yaml: String(decoding: yaml, as: UTF8.self)) as? [String: Any] ?? [:]
        self.yaml = yaml
        json = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])
        var routes = RouteTable()
        var operations: [String: String] = [:]
        var nonNullable: [String: Set<String>] = [:]
        var queryEnums: [String: [String: Set<String>]] = [:]
        let schemas = (root["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            // A path item also holds `parameters`, `summary`, `servers`, `$ref`…: only its operation keys are methods.
            let methods = (item as? [String: Any] ?? [:]).filter { Self.operationKeys.contains($0.key) }
            routes.add(basePath + path, Set(methods.keys.compactMap { HTTPRequest.Method($0.uppercased()) }))
            for (method, operation) in methods {
                guard let operation = operation as? [String: Any], let id = operation["operationId"] as? String else { continue }
                operations["\(method.uppercased()) \(basePath)\(path)"] = id
                let content = (operation["requestBody"] as? [String: Any])?["content"] as? [String: Any]
                for parameter in operation["parameters"] as? [[String: Any]] ?? [] where parameter["in"] as? String == "query" {
                    if let name = parameter["name"] as? String, let values = (parameter["schema"] as? [String: Any])?["enum"] as? [String] {
                        queryEnums[id, default: [:]][name] = Set(values)
                    }
                }
                if let schema = (content?["application/json"] as? [String: Any])?["schema"] as? [String: Any],
                   let properties = Self.resolve(schema, in: schemas)["properties"] as? [String: Any] {
                    nonNullable[id] = Set(properties.filter { !Self.allowsNull($0.value, in: schemas) }.keys)
                }
            }
        }
        self.routes = routes
        self.operations = operations
        nonNullableBodyFields = nonNullable
        self.queryEnums = queryEnums
    }

    static func resolve(_ schema: [String: Any], in schemas: [String: Any]) -> [String: Any] {
        guard let ref = schema["$ref"] as? String, let name = ref.split(separator: "/").last else { return schema }
        return schemas[String(name)] as? [String: Any] ?? schema
    }

    /// `type: [..., "null"]`, `nullable: true`, or a `oneOf`/`anyOf` with a null branch, directly or through a `$ref`.
    static func allowsNull(_ property: Any, in schemas: [String: Any]) -> Bool {
        guard let property = property as? [String: Any] else { return true }
        let schema = resolve(property, in: schemas)
        if let types = schema["type"] as? [String], types.contains("null") { return true }
        if schema["type"] as? String == "null" || schema["nullable"] as? Bool == true { return true }
        let branches = (schema["oneOf"] as? [Any] ?? []) + (schema["anyOf"] as? [Any] ?? [])
        return branches.contains { allowsNull($0, in: schemas) }
    }

    /// The keys of an OpenAPI 3.1 path item that name an operation (HTTP methods).
    static let operationKeys: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
}
