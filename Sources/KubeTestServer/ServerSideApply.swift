import Foundation

struct ObjectKey: Hashable, Sendable {
    var plural: String
    var namespace: String?
    var name: String
}

/// An API error as the server answers it: a `Status` with `reason`, `message` and optional causes.
struct KubeError: Error, Sendable {
    var code: Int
    var reason: String
    var message: String
    var details: KubeFixtures.Object? = nil

    static func notFound(_ type: ResourceType, _ name: String) -> KubeError {
        KubeError(code: 404, reason: "NotFound", message: "\(type.qualified) \"\(name)\" not found",
                  details: ["name": name, "group": type.group, "kind": type.plural])
    }

    static func badRequest(_ message: String) -> KubeError { KubeError(code: 400, reason: "BadRequest", message: message) }
}

/// Who wrote what in one object. The live object is never edited in place: it is `base` (server-set
/// metadata, status, defaults-free fields written by Update operations) with each apply manager's last
/// applied configuration merged over it, so a field a manager stops applying disappears unless someone
/// else still holds it — the server-side apply rule, without a full structured-merge-diff.
struct ManagedObject: Sendable {
    struct Applier: Sendable {
        var manager: String
        var apiVersion: String
        var body: KubeFixtures.Object
        var time: String
    }

    struct Updater: Sendable {
        var manager: String
        var apiVersion: String
        var paths: Set<FieldPath>
        var time: String
        var subresource: String?
    }

    var base: KubeFixtures.Object
    var appliers: [Applier] = []
    var updaters: [Updater] = []

    func owners(of path: FieldPath, except manager: String) -> [String] {
        appliers.filter { $0.manager != manager && FieldPaths.value($0.body, at: path) != nil }.map { "\"\($0.manager)\"" }
            + updaters.filter { $0.manager != manager && $0.paths.contains(path) }.map { "\"\($0.manager)\" using \($0.apiVersion)" }
    }

    mutating func own(_ manager: String, apiVersion: String, paths: some Collection<FieldPath>, subresource: String? = nil, time: String) {
        guard !paths.isEmpty else { return }
        if let index = updaters.firstIndex(where: { $0.manager == manager && $0.subresource == subresource }) {
            updaters[index].paths.formUnion(paths)
            updaters[index].time = time
        } else {
            updaters.append(Updater(manager: manager, apiVersion: apiVersion, paths: Set(paths), time: time, subresource: subresource))
        }
    }

    /// Takes `path` from every other manager (a forced apply, or an Update that changed it).
    mutating func disown(_ path: FieldPath, except manager: String? = nil) {
        for index in appliers.indices where appliers[index].manager != manager { FieldPaths.remove(&appliers[index].body, path) }
        for index in updaters.indices where updaters[index].manager != manager { updaters[index].paths.remove(path) }
        updaters.removeAll { $0.paths.isEmpty }
    }

    func live(_ type: ResourceType) -> KubeFixtures.Object {
        var object = base
        for applier in appliers { object = JSONValue.merge(object, applier.body) as? KubeFixtures.Object ?? object }
        Defaults.apply(&object, kind: type.kind)
        var metadata = object["metadata"] as? KubeFixtures.Object ?? [:]
        let entries: [KubeFixtures.Object] = appliers.map { applier in
            ["manager": applier.manager, "operation": "Apply", "apiVersion": applier.apiVersion, "time": applier.time,
             "fieldsType": "FieldsV1", "fieldsV1": FieldPaths.fieldsV1(FieldPaths.leaves(applier.body).keys)]
        } + updaters.map { updater in
            var entry: KubeFixtures.Object = ["manager": updater.manager, "operation": "Update", "apiVersion": updater.apiVersion,
                                              "time": updater.time, "fieldsType": "FieldsV1", "fieldsV1": FieldPaths.fieldsV1(updater.paths)]
            if let subresource = updater.subresource { entry["subresource"] = subresource }
            return entry
        }
        if entries.isEmpty { metadata["managedFields"] = nil } else { metadata["managedFields"] = entries }
        object["metadata"] = metadata
        return object
    }

    /// Top-level fields no client writes.
    static let serverFields: Set<String> = ["status", "apiVersion", "kind"]
    /// Metadata the server sets.
    static let serverMetadata: Set<String> = ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                                              "deletionTimestamp", "ownerReferences"]

    /// The fields a client writes: not server-set metadata, not status.
    static func isUserField(_ path: FieldPath) -> Bool {
        guard let first = path.first else { return false }
        if serverFields.contains(String(first.dropFirst(2))) { return false }
        if first == "f:metadata", path.count > 1 { return !serverMetadata.contains(String(path[1].dropFirst(2))) }
        return true
    }

    /// What an applied body contributes: its user fields only (status and server metadata are ignored on apply).
    /// The body's structure is kept as it came, so a keyed list (a container's `env`) keeps its applied order.
    static func appliedFields(_ body: KubeFixtures.Object) -> KubeFixtures.Object {
        var out = body
        for field in serverFields { out[field] = nil }
        if var metadata = body["metadata"] as? KubeFixtures.Object, !metadata.isEmpty {
            for field in serverMetadata { metadata[field] = nil }
            out["metadata"] = metadata.isEmpty ? nil : metadata
        }
        return out
    }
}

enum ApplyError: Error { case conflict(KubeError) }

extension FakeKubeAPIServer.State {
    typealias Object = KubeFixtures.Object

    static func now() -> String { Date().formatted(.iso8601) }

    mutating func nextResourceVersion() -> String {
        resourceVersion += 1
        return String(resourceVersion)
    }

    /// The bookkeeping for an object; objects the scenario seeded start with everything in `base`, owned by no one.
    func managedRecord(_ key: ObjectKey) -> ManagedObject? {
        if let record = managed[key] { return record }
        return scenario.find(key.plural, namespace: key.namespace, name: key.name).map { ManagedObject(base: $0) }
    }

    /// Server-side apply of `body` by `manager`; the object and whether it was created.
    mutating func apply(_ type: ResourceType, namespace: String?, name: String, manager: String, force: Bool, body: Object) throws(KubeError) -> (Object, Bool) {
        let key = ObjectKey(plural: type.plural, namespace: namespace, name: name)
        if let namespace, scenario.find("namespaces", namespace: nil, name: namespace) == nil {
            throw KubeError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found", details: ["name": namespace, "kind": "namespaces"])
        }
        let now = Self.now()
        let existing = managedRecord(key)
        var record = existing ?? ManagedObject(base: Defaults.created(type, namespace: namespace, name: name, body: body, now: now))
        let before = existing?.live(type)
        let applied = ManagedObject.appliedFields(body)

        if let before {
            var conflicts: [(String, FieldPath)] = []
            for (path, value) in FieldPaths.leaves(applied) {
                guard let current = FieldPaths.value(before, at: path), !JSONValue.same(current, value) else { continue }
                let owners = record.owners(of: path, except: manager)
                guard !owners.isEmpty else { continue }
                if force {
                    record.disown(path, except: manager)
                    FieldPaths.remove(&record.base, path)
                } else {
                    conflicts += owners.map { ($0, path) }
                }
            }
            if !conflicts.isEmpty { throw Self.conflictError(conflicts) }
        }

        if let index = record.appliers.firstIndex(where: { $0.manager == manager }) {
            if !JSONValue.same(record.appliers[index].body, applied) { record.appliers[index].time = now }
            record.appliers[index].body = applied
            record.appliers[index].apiVersion = type.apiVersion
        } else {
            record.appliers.append(.init(manager: manager, apiVersion: type.apiVersion, body: applied, time: now))
        }
        let after = record.live(type)
        try Validation.check(after, type: type, previous: before)
        if let before, JSONValue.same(Self.comparable(before), Self.comparable(after)) { return (before, false) }
        let stored = commitChange(type, key, record, before: before, after: after)
        return (scenario.find(key.plural, namespace: namespace, name: name) ?? stored, before == nil)
    }

    /// Stores a new state of an object with a new resourceVersion: its bookkeeping and the live copy lists and
    /// reads serve. Returns the live copy.
    @discardableResult
    mutating func commit(_ type: ResourceType, _ key: ObjectKey, _ record: ManagedObject) -> Object {
        var record = record
        var metadata = record.base["metadata"] as? Object ?? [:]
        metadata["resourceVersion"] = nextResourceVersion()
        record.base["metadata"] = metadata
        let live = record.live(type)
        managed[key] = record
        put(key.plural, namespace: key.namespace, name: key.name, live, stamped: true)
        return live
    }

    /// Stores a client's change (an apply or an edit) that made `before` into `after`: a Deployment's or Ingress's
    /// generation counts spec changes, and the deployment controller reacts. Returns the live copy as committed.
    @discardableResult
    mutating func commitChange(_ type: ResourceType, _ key: ObjectKey, _ record: ManagedObject, before: Object?, after: Object) -> Object {
        var record = record
        if let before, ["Deployment", "Ingress"].contains(type.kind), !JSONValue.same(before["spec"], after["spec"]) {
            var metadata = record.base["metadata"] as? Object ?? [:]
            metadata["generation"] = ((metadata["generation"] as? Int) ?? 1) + 1
            record.base["metadata"] = metadata
        }
        let live = commit(type, key, record)
        if type.kind == "Deployment" { syncDeployment(namespace: key.namespace ?? "", name: key.name) }
        return live
    }

    /// Changes an object's server-owned parts (status, controller annotations) and stores it with a new resourceVersion.
    mutating func updateManaged(_ type: ResourceType, namespace: String?, name: String, _ change: (inout ManagedObject) -> Void) {
        let key = ObjectKey(plural: type.plural, namespace: namespace, name: name)
        guard var record = managedRecord(key) else { return }
        let before = record.live(type)
        change(&record)
        guard !JSONValue.same(Self.comparable(before), Self.comparable(record.live(type))) else { return }
        commit(type, key, record)
    }

    /// What `kubectl edit` does: an Update by `manager` that takes over every field it changes.
    mutating func edit(_ type: ResourceType, namespace: String?, name: String, manager: String, _ change: (inout Object) -> Void) -> Bool {
        let key = ObjectKey(plural: type.plural, namespace: namespace, name: name)
        guard var record = managedRecord(key) else { return false }
        let before = record.live(type)
        var edited = before
        change(&edited)
        let old = FieldPaths.leaves(before), new = FieldPaths.leaves(edited)
        var taken: [FieldPath] = []
        for (path, value) in new where !JSONValue.same(old[path], value) {
            if ManagedObject.isUserField(path) {
                record.disown(path, except: manager)
                taken.append(path)
            } else if path.first != "f:status" {
                continue
            }
            FieldPaths.set(&record.base, path, value)
        }
        for path in old.keys where new[path] == nil && (ManagedObject.isUserField(path) || path.first == "f:status") {
            record.disown(path)
            FieldPaths.remove(&record.base, path)
        }
        let now = Self.now()
        record.own(manager, apiVersion: type.apiVersion, paths: taken, time: now)
        let after = record.live(type)
        guard !JSONValue.same(Self.comparable(before), Self.comparable(after)) else { return true }
        commitChange(type, key, record, before: before, after: after)
        return true
    }

    /// An object without the parts that change on every write, to tell a no-op apply from a change.
    static func comparable(_ object: Object) -> Object {
        var object = object
        var metadata = object["metadata"] as? Object ?? [:]
        metadata["resourceVersion"] = nil
        metadata["managedFields"] = (metadata["managedFields"] as? [Object])?.map { entry in
            var entry = entry
            entry["time"] = nil
            return entry
        }
        object["metadata"] = metadata
        return object
    }

    static func conflictError(_ conflicts: [(String, FieldPath)]) -> KubeError {
        let plural = conflicts.count == 1 ? "" : "s"
        var managers: [String] = []
        for (manager, _) in conflicts where !managers.contains(manager) { managers.append(manager) }
        let described = managers.map { manager in
            let fields = conflicts.filter { $0.0 == manager }.map { FieldPaths.display($0.1) }.sorted()
            return fields.count == 1 && conflicts.count == 1
                ? "conflict with \(manager): \(fields[0])"
                : "conflicts with \(manager):\n" + fields.map { "- \($0)" }.joined(separator: "\n")
        }
        let causes: [Object] = conflicts.map { manager, path in
            ["reason": "FieldManagerConflict", "message": "conflict with \(manager)", "field": FieldPaths.display(path)]
        }
        return KubeError(code: 409, reason: "Conflict", message: "Apply failed with \(conflicts.count) conflict\(plural): " + described.joined(separator: "\n"),
                         details: ["causes": causes])
    }
}

/// What the API server fills in: server-set metadata at creation, and defaulted fields every time the
/// object is read back (defaults belong to no manager, so they never conflict and never get pruned).
enum Defaults {
    typealias Object = KubeFixtures.Object

    static func created(_ type: ResourceType, namespace: String?, name: String, body: Object, now: String) -> Object {
        var metadata: Object = ["name": name, "uid": UUID().uuidString.lowercased(), "creationTimestamp": now]
        if let namespace { metadata["namespace"] = namespace }
        if ["Deployment", "Ingress"].contains(type.kind) { metadata["generation"] = 1 }
        var object: Object = ["metadata": metadata]
        switch type.kind {
        case "Namespace":
            metadata["labels"] = ["kubernetes.io/metadata.name": name]
            object["metadata"] = metadata
            object["spec"] = ["finalizers": ["kubernetes"]]
            object["status"] = ["phase": "Active"]
        case "Service":
            // Server-allocated, so it lives in base: stable across applies, owned by no one.
            let octets = name.utf8.reduce(UInt32(7)) { ($0 &* 31) &+ UInt32($1) }
            object["spec"] = ["clusterIP": "10.96.\(octets % 250 + 1).\(octets / 250 % 250 + 1)",
                              "clusterIPs": ["10.96.\(octets % 250 + 1).\(octets / 250 % 250 + 1)"]] as Object
            object["status"] = ["loadBalancer": Object()]
        case "Ingress":
            object["status"] = ["loadBalancer": Object()]
        default: break
        }
        return object
    }

    static func apply(_ object: inout Object, kind: String) {
        var spec = object["spec"] as? Object ?? [:]
        switch kind {
        case "Deployment":
            if spec["replicas"] == nil { spec["replicas"] = 1 }
            if spec["revisionHistoryLimit"] == nil { spec["revisionHistoryLimit"] = 10 }
            if spec["progressDeadlineSeconds"] == nil { spec["progressDeadlineSeconds"] = 600 }
            if spec["strategy"] == nil {
                spec["strategy"] = ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": "25%", "maxSurge": "25%"]] as Object
            }
            if var template = spec["template"] as? Object {
                var podSpec = template["spec"] as? Object ?? [:]
                podSpec = Self.podSpec(podSpec)
                template["spec"] = podSpec
                if template["metadata"] == nil { template["metadata"] = Object() }
                spec["template"] = template
            }
            object["spec"] = spec
        case "Service":
            if spec["type"] == nil { spec["type"] = "ClusterIP" }
            if spec["sessionAffinity"] == nil { spec["sessionAffinity"] = "None" }
            if let ports = spec["ports"] as? [Object] {
                spec["ports"] = ports.map { port in
                    var port = port
                    if port["protocol"] == nil { port["protocol"] = "TCP" }
                    if port["targetPort"] == nil { port["targetPort"] = port["port"] }
                    return port
                }
            }
            object["spec"] = spec
        case "Secret":
            if object["type"] == nil { object["type"] = "Opaque" }
        default: break
        }
    }

    static func podSpec(_ spec: Object) -> Object {
        var spec = spec
        for (field, value) in ["restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"] where spec[field] == nil {
            spec[field] = value
        }
        if spec["terminationGracePeriodSeconds"] == nil { spec["terminationGracePeriodSeconds"] = 30 }
        if spec["securityContext"] == nil { spec["securityContext"] = Object() }
        for field in ["containers", "initContainers"] {
            guard let containers = spec[field] as? [Object] else { continue }
            spec[field] = containers.map { container in
                var container = container
                if container["terminationMessagePath"] == nil { container["terminationMessagePath"] = "/dev/termination-log" }
                if container["terminationMessagePolicy"] == nil { container["terminationMessagePolicy"] = "File" }
                if container["resources"] == nil { container["resources"] = Object() }
                if container["imagePullPolicy"] == nil {
                    let image = container["image"] as? String ?? ""
                    let tag = image.split(separator: "/").last.map { $0.split(separator: ":").dropFirst().first } ?? nil
                    container["imagePullPolicy"] = (tag == nil || tag == "latest") && !image.contains("@") ? "Always" : "IfNotPresent"
                }
                if let ports = container["ports"] as? [Object] {
                    container["ports"] = ports.map { port in
                        var port = port
                        if port["protocol"] == nil { port["protocol"] = "TCP" }
                        return port
                    }
                }
                return container
            }
        }
        return spec
    }
}
