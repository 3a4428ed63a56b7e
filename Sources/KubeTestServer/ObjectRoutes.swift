import Foundation
import Hummingbird
import NIOCore

/// Reads, applies and deletes of the objects a resource path names.
extension FakeKubeAPIServer {
    static func answer(_ error: KubeError) -> Response {
        status(error.code, reason: error.reason, message: error.message, details: error.details)
    }

    static func typed(_ object: Object, _ type: ResourceType) -> Object {
        object.merging(["kind": type.kind, "apiVersion": type.apiVersion]) { _, b in b }
    }

    func read(_ resource: ResourcePath, scenario: Scenario, query: Parameters, uri: String) -> Response {
        let type = resource.type
        if type.plural == "events" {
            func events() -> [Object] {
                state.withLock {
                    $0.eventObjects(namespace: resource.namespace, fieldSelector: query["fieldSelector"].map(String.init), eventsAPI: type.group == "events.k8s.io")
                }
            }
            if let name = resource.name {
                guard let event = events().first(where: { Self.name($0) == name }) else { return Self.answer(.notFound(type, name)) }
                return Self.json(Self.typed(event, type))
            }
            return list(Selectors.filter(events(), labels: query["labelSelector"].map(String.init), fields: nil),
                        kind: "EventList", apiVersion: type.apiVersion, query: query, uri: uri)
        }
        if let name = resource.name {
            guard let object = scenario.find(type.plural, namespace: resource.namespace, name: name) else { return Self.answer(.notFound(type, name)) }
            return Self.json(Self.typed(object, type))
        }
        return list(Selectors.filter(scenario.items(type.plural, namespace: resource.namespace),
                                     labels: query["labelSelector"].map(String.init), fields: query["fieldSelector"].map(String.init)),
                    kind: "\(type.kind)List", apiVersion: type.apiVersion, query: query, uri: uri)
    }

    func patch(_ parts: [String], query: Parameters, contentType: String, body: Data) -> Response {
        guard let resource = ResourcePath(parts), let name = resource.name else { return Self.notFound }
        let type = resource.type
        guard type.appliable else {
            return Self.answer(KubeError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource"))
        }
        guard contentType.lowercased().hasPrefix("application/apply-patch+yaml") else {
            return Self.answer(KubeError(code: 415, reason: "UnsupportedMediaType",
                                         message: "the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml"))
        }
        guard let manager = query["fieldManager"].map(String.init), !manager.isEmpty else {
            return Self.answer(.badRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"))
        }
        guard let object = JSONValue.parse(body) else {
            return Self.answer(.badRequest("error decoding YAML: the body is not a JSON object"))
        }
        let metadata = object["metadata"] as? Object ?? [:]
        if let kind = object["kind"] as? String, kind != type.kind || (object["apiVersion"] as? String) != type.apiVersion {
            return Self.answer(.badRequest("the API version in the data (\(object["apiVersion"] as? String ?? "")) and kind (\(kind)) do not match the \(type.apiVersion) \(type.kind) on the URL"))
        }
        guard (metadata["name"] as? String) == name else {
            return Self.answer(.badRequest("the name of the object (\(metadata["name"] as? String ?? "")) does not match the name on the URL (\(name))"))
        }
        if let namespace = metadata["namespace"] as? String, namespace != resource.namespace {
            return Self.answer(.badRequest("the namespace of the object (\(namespace)) does not match the namespace on the request (\(resource.namespace ?? ""))"))
        }
        let force = query["force"] == "true"
        let dryRun = query["dryRun"] == "All"
        let outcome: Result<(Object, Bool), KubeError> = state.withLock { state in
            Result { () throws(KubeError) in
                // A dry run goes through the same merge and validation on a copy that is then dropped. A real apply
                // works on the state itself: it changes nothing until the merge has passed its checks.
                func apply(to target: inout State) throws(KubeError) -> (Object, Bool) {
                    try target.apply(type, namespace: resource.namespace, name: name, manager: manager, force: force, body: object)
                }
                if dryRun { var copy = state; return try apply(to: &copy) }
                return try apply(to: &state)
            }
        }
        switch outcome {
        case .success(let (object, created)): return Self.json(Self.typed(object, type), status: created ? 201 : 200)
        case .failure(let error): return Self.answer(error)
        }
    }

    func delete(_ parts: [String], query: Parameters, body: Data) -> Response {
        guard let resource = ResourcePath(parts), let name = resource.name else { return Self.notFound }
        let type = resource.type
        guard type.verbs.contains("delete") else {
            return Self.answer(KubeError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource"))
        }
        let policy = query["propagationPolicy"].map(String.init) ?? (JSONValue.parse(body)?["propagationPolicy"] as? String) ?? "Background"
        guard ["Background", "Foreground", "Orphan"].contains(policy) else {
            return Self.answer(.badRequest("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"\(policy)\""))
        }
        let deleted: Object? = state.withLock { state in
            query["dryRun"] == "All"
                ? state.scenario.find(type.plural, namespace: resource.namespace, name: name)
                : state.delete(type, namespace: resource.namespace, name: name, orphan: policy == "Orphan")
        }
        guard let deleted else { return Self.answer(.notFound(type, name)) }
        return Self.json(Self.typed(deleted, type))
    }
}

extension FakeKubeAPIServer.State {
    /// Deletes an object and, unless orphaned, what it owns (the garbage collector's background cascade,
    /// done at once); a pod whose ReplicaSet still wants it is replaced, as the ReplicaSet controller would.
    mutating func delete(_ type: ResourceType, namespace: String?, name: String, orphan: Bool) -> Object? {
        guard var object = scenario.find(type.plural, namespace: namespace, name: name) else { return nil }
        let metadata = object["metadata"] as? Object ?? [:]
        let uid = metadata["uid"] as? String ?? ""
        managed[ObjectKey(plural: type.plural, namespace: namespace, name: name)] = nil
        pendingRollouts.remove(ObjectKey(plural: type.plural, namespace: namespace, name: name))
        deadlineExceeded.remove(ObjectKey(plural: type.plural, namespace: namespace, name: name))
        if type.kind == "Namespace" {
            // The namespace controller's work, done at once: what the namespace holds goes first, then the namespace.
            for plural in scenario.namespaced.keys.sorted() {
                for item in scenario.namespaced[plural]?[name] ?? [] { put(plural, namespace: name, name: FakeKubeAPIServer.name(item) ?? "", nil) }
                scenario.namespaced[plural]?[name] = nil
            }
            managed = managed.filter { $0.key.namespace != name }
            for index in events.indices.reversed() where events[index].namespace == name { dropEvent(at: index) }
            var status = object["status"] as? Object ?? [:]
            status["phase"] = "Terminating"
            object["status"] = status
            var terminating = metadata
            terminating["deletionTimestamp"] = Self.now()
            object["metadata"] = terminating
            scenario.store(type.plural, namespace: namespace, name: name, object)
        }
        let removed = put(type.plural, namespace: namespace, name: name, nil)
        switch type.kind {
        case "Namespace":
            object = removed ?? object
        case "Deployment", "ReplicaSet":
            // A Deployment's pods belong to its ReplicaSets: find those before they go.
            let setUIDs = ownedBy(uid, "replicasets", namespace: namespace ?? "").compactMap { ($0["metadata"] as? Object)?["uid"] as? String }
            let dependents = type.kind == "Deployment" ? ["replicasets", "pods"] : ["pods"]
            for plural in dependents {
                let owners = plural == "replicasets" || type.kind == "ReplicaSet" ? [uid] : setUIDs
                for owner in owners {
                    for dependent in ownedBy(owner, plural, namespace: namespace ?? "") {
                        let dependentName = FakeKubeAPIServer.name(dependent) ?? ""
                        if orphan {
                            var freed = dependent
                            var freedMetadata = freed["metadata"] as? Object ?? [:]
                            freedMetadata["ownerReferences"] = nil
                            freed["metadata"] = freedMetadata
                            storeControlled(plural, namespace: namespace ?? "", freed)
                        } else {
                            put(plural, namespace: namespace, name: dependentName, nil)
                        }
                    }
                }
            }
        case "Pod":
            let owner = (metadata["ownerReferences"] as? [Object])?.first { $0["kind"] as? String == "ReplicaSet" }
            if let setName = owner?["name"] as? String, let set = scenario.find("replicasets", namespace: namespace, name: setName),
               let deployment = ((set["metadata"] as? Object)?["ownerReferences"] as? [Object])?.first(where: { $0["kind"] as? String == "Deployment" })?["name"] as? String {
                syncDeployment(namespace: namespace ?? "", name: deployment)
            }
        default: break
        }
        return object
    }
}

/// `labelSelector` and `fieldSelector` in their equality forms: `a=b`, `a==b`, `a!=b`, `a`, `!a`.
enum Selectors {
    typealias Object = KubeFixtures.Object

    static func filter(_ items: [Object], labels: String?, fields: String?) -> [Object] {
        let labelClauses = clauses(labels), fieldClauses = clauses(fields)
        if labelClauses.isEmpty && fieldClauses.isEmpty { return items }
        return items.filter { item in
            let metadata = item["metadata"] as? Object ?? [:]
            let itemLabels = metadata["labels"] as? Object ?? [:]
            for clause in labelClauses where !clause.matches(itemLabels[clause.key] as? String) { return false }
            for clause in fieldClauses where !clause.matches(field(item, clause.key)) { return false }
            return true
        }
    }

    static func field(_ item: Object, _ path: String) -> String? {
        var current: any Sendable = item
        for part in path.split(separator: ".") {
            guard let map = current as? Object, let next = map[String(part)] else { return path == "metadata.namespace" ? "" : nil }
            current = next
        }
        return current as? String ?? "\(current)"
    }

    struct Clause {
        enum Operation { case equals(String), notEquals(String), exists, absent }
        var key: String
        var operation: Operation

        func matches(_ value: String?) -> Bool {
            switch operation {
            case .equals(let wanted): return value == wanted
            case .notEquals(let unwanted): return value != unwanted
            case .exists: return value != nil
            case .absent: return value == nil
            }
        }
    }

    static func clauses(_ selector: String?) -> [Clause] {
        guard let selector, !selector.isEmpty else { return [] }
        return selector.split(separator: ",").map { raw in
            let clause = raw.trimmingCharacters(in: .whitespaces)
            for (separator, make) in [("!=", Clause.Operation.notEquals), ("==", Clause.Operation.equals), ("=", Clause.Operation.equals)] {
                let parts = clause.components(separatedBy: separator)
                if parts.count == 2 { return Clause(key: parts[0].trimmingCharacters(in: .whitespaces), operation: make(parts[1].trimmingCharacters(in: .whitespaces))) }
            }
            return clause.hasPrefix("!") ? Clause(key: String(clause.dropFirst()), operation: .absent) : Clause(key: clause, operation: .exists)
        }
    }
}
