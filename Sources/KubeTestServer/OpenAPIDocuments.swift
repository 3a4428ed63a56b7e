import Foundation
import Hummingbird
import NIOCore

/// Just enough OpenAPI for kubectl apply. kubectl asks `/openapi/v3` whether each PATCH endpoint takes
/// `fieldValidation` (the operation tagged with `x-kubernetes-group-version-kind`): where it does, kubectl
/// leaves validation to the server; where it does not (Namespaces, always), it validates client-side
/// against `/openapi/v2`, which must then parse as protobuf — a document without definitions makes it
/// skip the check rather than fail.
enum OpenAPIDocuments {
    static func answer(_ parts: [String]) -> Response? {
        guard parts.first == "openapi", parts.count >= 2 else { return nil }
        if parts == ["openapi", "v2"] {
            // `swagger: "2.0"` as protobuf (field 1, length 3).
            return Response(status: .ok, headers: [.contentType: "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"],
                            body: .init(byteBuffer: ByteBuffer(bytes: [0x0A, 0x03, 0x32, 0x2E, 0x30])))
        }
        guard parts[1] == "v3" else { return nil }
        let groupVersions = Set(ResourceType.all.map(\.prefix))
        if parts.count == 2 {
            var paths: [String: any Sendable] = [:]
            for prefix in groupVersions { paths[String(prefix.dropFirst())] = ["serverRelativeURL": "/openapi/v3\(prefix)?hash=0"] }
            return FakeKubeAPIServer.json(["paths": paths] as KubeFixtures.Object)
        }
        let prefix = "/" + parts.dropFirst(2).joined(separator: "/")
        guard groupVersions.contains(prefix) else { return nil }
        var paths: [String: any Sendable] = [:]
        for type in ResourceType.all where type.prefix == prefix && type.appliable {
            let path = type.namespaced ? "\(prefix)/namespaces/{namespace}/\(type.plural)/{name}" : "\(prefix)/\(type.plural)/{name}"
            paths[path] = ["patch": [
                "operationId": "patch\(type.kind)",
                "parameters": ["dryRun", "fieldManager", "fieldValidation", "force"].map { ["name": $0, "in": "query", "schema": ["type": "string"]] as KubeFixtures.Object },
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": ["group": type.group, "version": type.version, "kind": type.kind],
                "responses": ["200": ["description": "OK"]],
            ] as KubeFixtures.Object]
        }
        return FakeKubeAPIServer.json(["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"], "paths": paths,
                                       "components": ["schemas": KubeFixtures.Object()]] as KubeFixtures.Object)
    }
}
