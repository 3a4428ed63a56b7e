import Foundation

/// A field inside an object in the `fieldsV1` notation: `f:spec`, `f:containers`, `k:{"name":"web"}`.
/// Working in that notation makes `managedFields` a rendering of the paths rather than a translation.
typealias FieldPath = [String]

enum FieldPaths {
    typealias Object = KubeFixtures.Object

    /// The fields identifying an element of an associative list (`listType: map` in the OpenAPI schema),
    /// by the list's field name; nil for lists replaced as a whole.
    static func listKeys(_ field: String, _ elements: [any Sendable]) -> [String]? {
        let maps = elements.compactMap { $0 as? Object }
        guard maps.count == elements.count, !maps.isEmpty else { return nil }
        let keys: [String]
        switch field {
        case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets": keys = ["name"]
        case "volumeMounts": keys = ["mountPath"]
        case "ports": keys = maps.allSatisfy { $0["containerPort"] != nil } ? ["containerPort", "protocol"] : ["port", "protocol"]
        default: return nil
        }
        // Older clients omit `protocol`; it defaults to TCP before the key is taken.
        return maps.allSatisfy { map in keys.allSatisfy { map[$0] != nil || $0 == "protocol" } } ? keys : nil
    }

    static func keySegment(_ element: Object, _ keys: [String]) -> String {
        var key: [String: any Sendable] = [:]
        for name in keys { key[name] = element[name] ?? (name == "protocol" ? "TCP" : "") }
        return "k:" + JSONValue.text(key)
    }

    /// Every leaf under `object`, with its value: scalars, atomic lists and empty maps.
    static func leaves(_ object: Object, prefix: FieldPath = []) -> [FieldPath: any Sendable] {
        var out: [FieldPath: any Sendable] = [:]
        collect(object, prefix, &out)
        return out
    }

    private static func collect(_ object: Object, _ prefix: FieldPath, _ out: inout [FieldPath: any Sendable]) {
        for (field, value) in object {
            let path = prefix + ["f:" + field]
            if let map = value as? Object, !map.isEmpty {
                collect(map, path, &out)
            } else if let list = value as? [any Sendable], let keys = listKeys(field, list) {
                for element in list.compactMap({ $0 as? Object }) {
                    var keyed = element
                    for key in keys where keyed[key] == nil { keyed[key] = "TCP" }
                    collect(keyed, path + [keySegment(keyed, keys)], &out)
                }
            } else {
                out[path] = value
            }
        }
    }

    static func value(_ object: Object, at path: FieldPath) -> (any Sendable)? {
        var current: any Sendable = object
        var field = ""
        for segment in path {
            if segment.hasPrefix("f:") {
                field = String(segment.dropFirst(2))
                guard let map = current as? Object, let next = map[field] else { return nil }
                current = next
            } else {
                guard let list = current as? [any Sendable], let keys = listKeys(field, list),
                      let element = list.compactMap({ $0 as? Object }).first(where: { keySegment($0, keys) == segment }) else { return nil }
                current = element
            }
        }
        return current
    }

    /// Sets a leaf, making the maps and list elements on the way.
    static func set(_ object: inout Object, _ path: FieldPath, _ value: any Sendable) {
        guard let first = path.first, first.hasPrefix("f:") else { return }
        let field = String(first.dropFirst(2))
        let rest = Array(path.dropFirst())
        guard let next = rest.first else { object[field] = value; return }
        if next.hasPrefix("k:") {
            var list = object[field] as? [any Sendable] ?? []
            let keyed = keyFields(next)
            let index = list.firstIndex { element in
                guard let map = element as? Object, let keys = listKeys(field, [map]) else { return false }
                return keySegment(map, keys) == next
            } ?? { list.append(keyed); return list.count - 1 }()
            var element = list[index] as? Object ?? keyed
            if rest.count > 1 { set(&element, Array(rest.dropFirst()), value) }
            list[index] = element
            object[field] = list
        } else {
            var child = object[field] as? Object ?? [:]
            set(&child, rest, value)
            object[field] = child
        }
    }

    /// Removes a leaf; a list element goes with its key fields, and maps and lists emptied on the way go too.
    static func remove(_ object: inout Object, _ path: FieldPath) {
        guard let first = path.first, first.hasPrefix("f:") else { return }
        let field = String(first.dropFirst(2))
        let rest = Array(path.dropFirst())
        guard let next = rest.first else { object[field] = nil; return }
        if next.hasPrefix("k:") {
            guard var list = object[field] as? [any Sendable], let keys = listKeys(field, list),
                  let index = list.firstIndex(where: { ($0 as? Object).map { keySegment($0, keys) } == next }),
                  var element = list[index] as? Object else { return }
            let tail = Array(rest.dropFirst())
            if tail.isEmpty || (tail.count == 1 && keys.contains(String(tail[0].dropFirst(2)))) {
                list.remove(at: index)
            } else {
                remove(&element, tail)
                list[index] = element
            }
            object[field] = list.isEmpty ? nil : list
        } else {
            guard var child = object[field] as? Object else { return }
            remove(&child, rest)
            object[field] = child.isEmpty ? nil : child
        }
    }

    static func keyFields(_ segment: String) -> Object {
        guard let data = segment.dropFirst(2).data(using: .utf8),
              let map = try? JSONSerialization.jsonObject(with: data) as? Object else { return [:] }
        return map
    }

    /// `fieldsV1` for a set of paths: nested `f:`/`k:` maps with `{}` leaves and `.` marking owned list elements.
    static func fieldsV1(_ paths: some Sequence<FieldPath>) -> Object {
        var root: Object = [:]
        func insert(_ node: inout Object, _ path: ArraySlice<String>) {
            guard let head = path.first else { return }
            var child = node[head] as? Object ?? [:]
            if head.hasPrefix("k:") { child["."] = Object() }
            insert(&child, path.dropFirst())
            node[head] = child
        }
        for path in paths { insert(&root, path[...]) }
        return root
    }

    /// `.spec.template.spec.containers[name="web"].image`, as conflict messages print a field.
    static func display(_ path: FieldPath) -> String {
        path.map { segment -> String in
            if segment.hasPrefix("f:") { return "." + segment.dropFirst(2) }
            let key = keyFields(segment).sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value is String ? "\"\($0.value)\"" : "\($0.value)")" }.joined(separator: ",")
            return "[\(key)]"
        }.joined()
    }
}

enum JSONValue {
    typealias Object = KubeFixtures.Object

    static func text(_ value: any Sendable) -> String {
        String(decoding: data(value), as: UTF8.self)
    }

    static func data(_ value: any Sendable) -> Data {
        (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data()
    }

    static func same(_ a: (any Sendable)?, _ b: (any Sendable)?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return data([a]) == data([b])
    }

    /// `b` over `a`: maps merge field by field, associative lists element by element, anything else `b` wins.
    static func merge(_ a: any Sendable, _ b: any Sendable, field: String = "") -> any Sendable {
        if let left = a as? Object, let right = b as? Object {
            var out = left
            for (key, value) in right { out[key] = left[key].map { merge($0, value, field: key) } ?? value }
            return out
        }
        if let left = a as? [any Sendable], let right = b as? [any Sendable],
           let keys = FieldPaths.listKeys(field, left + right) {
            var out = left
            for element in right.compactMap({ $0 as? Object }) {
                let key = FieldPaths.keySegment(element, keys)
                if let index = out.firstIndex(where: { ($0 as? Object).map { FieldPaths.keySegment($0, keys) } == key }) {
                    out[index] = merge(out[index], element, field: "")
                } else {
                    out.append(element)
                }
            }
            return out
        }
        return b
    }

    static func parse(_ data: Data) -> Object? {
        (try? JSONSerialization.jsonObject(with: data)) as? Object
    }
}
