import Foundation

/// The API server's checks on an object after the merge: a failure is 422 `Invalid`, with one cause per field,
/// in the real message shape (`Deployment.apps "x" is invalid: spec.template.spec.containers: Required value`).
enum Validation {
    typealias Object = KubeFixtures.Object

    static func isLabel(_ name: String) -> Bool {
        guard (1...63).contains(name.count), let first = name.first, let last = name.last,
              first.isLetter || first.isNumber, last.isLetter || last.isNumber else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }

    static func isSubdomain(_ name: String) -> Bool {
        name.count <= 253 && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0)) }
    }

    static func check(_ object: Object, type: ResourceType, previous: Object?) throws(KubeError) {
        var causes: [(field: String, reason: String, detail: String)] = []
        func require(_ ok: Bool, _ field: String, _ reason: String, _ detail: String) {
            if !ok { causes.append((field, reason, detail)) }
        }
        let metadata = object["metadata"] as? Object ?? [:]
        let name = metadata["name"] as? String ?? ""
        let spec = object["spec"] as? Object ?? [:]
        switch type.kind {
        case "Namespace", "Service":
            require(isLabel(name), "metadata.name", "FieldValueInvalid",
                    "Invalid value: \"\(name)\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character")
        default:
            require(isSubdomain(name), "metadata.name", "FieldValueInvalid",
                    "Invalid value: \"\(name)\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
        }
        for (key, value) in metadata["labels"] as? Object ?? [:] {
            let text = value as? String ?? ""
            require(text.count <= 63 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) },
                    "metadata.labels", "FieldValueInvalid", "Invalid value: \"\(text)\": a valid label value for \"\(key)\"")
        }
        switch type.kind {
        case "Deployment":
            let replicas = spec["replicas"] as? Int ?? 1
            require(replicas >= 0, "spec.replicas", "FieldValueInvalid", "Invalid value: \(replicas): must be greater than or equal to 0")
            let template = spec["template"] as? Object ?? [:]
            let templateLabels = (template["metadata"] as? Object)?["labels"] as? Object ?? [:]
            let matchLabels = (spec["selector"] as? Object)?["matchLabels"] as? Object ?? [:]
            require(!matchLabels.isEmpty, "spec.selector", "FieldValueRequired", "Required value")
            require(matchLabels.allSatisfy { JSONValue.same(templateLabels[$0.key], $0.value) }, "spec.template.metadata.labels", "FieldValueInvalid",
                    "Invalid value: \(JSONValue.text(templateLabels)): `selector` does not match template `labels`")
            if let previous, let old = (previous["spec"] as? Object)?["selector"], !JSONValue.same(old, spec["selector"]) {
                require(false, "spec.selector", "FieldValueInvalid", "Invalid value: \(JSONValue.text(spec["selector"] ?? Object())): field is immutable")
            }
            let containers = (template["spec"] as? Object)?["containers"] as? [Object] ?? []
            require(!containers.isEmpty, "spec.template.spec.containers", "FieldValueRequired", "Required value")
            for (index, container) in containers.enumerated() {
                let containerName = container["name"] as? String ?? ""
                require(isLabel(containerName), "spec.template.spec.containers[\(index)].name", "FieldValueInvalid",
                        "Invalid value: \"\(containerName)\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'")
                let image = (container["image"] as? String ?? "").trimmingCharacters(in: .whitespaces)
                require(!image.isEmpty, "spec.template.spec.containers[\(index)].image", "FieldValueRequired", "Required value")
                for (portIndex, port) in (container["ports"] as? [Object] ?? []).enumerated() {
                    let number = port["containerPort"] as? Int ?? 0
                    require((1...65535).contains(number), "spec.template.spec.containers[\(index)].ports[\(portIndex)].containerPort", "FieldValueInvalid",
                            "Invalid value: \(number): must be between 1 and 65535, inclusive")
                }
            }
        case "Service":
            for (index, port) in (spec["ports"] as? [Object] ?? []).enumerated() {
                let number = port["port"] as? Int ?? 0
                require((1...65535).contains(number), "spec.ports[\(index)].port", "FieldValueInvalid", "Invalid value: \(number): must be between 1 and 65535, inclusive")
                if let target = port["targetPort"] as? Int {
                    require((1...65535).contains(target), "spec.ports[\(index)].targetPort", "FieldValueInvalid",
                            "Invalid value: \(target): must be between 1 and 65535, inclusive")
                }
            }
        case "Secret":
            for (key, value) in object["data"] as? Object ?? [:] {
                require(Data(base64Encoded: value as? String ?? "") != nil, "data[\(key)]", "FieldValueInvalid", "Invalid value: illegal base64 data")
            }
        case "Ingress":
            for (index, rule) in (spec["rules"] as? [Object] ?? []).enumerated() {
                for (pathIndex, path) in (((rule["http"] as? Object)?["paths"]) as? [Object] ?? []).enumerated() {
                    let pathType = path["pathType"] as? String ?? ""
                    require(["Exact", "Prefix", "ImplementationSpecific"].contains(pathType), "spec.rules[\(index)].http.paths[\(pathIndex)].pathType",
                            "FieldValueNotSupported", "Unsupported value: \"\(pathType)\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"")
                }
            }
        default: break
        }
        guard !causes.isEmpty else { return }
        let kind = type.group.isEmpty ? type.kind : "\(type.kind).\(type.group)"
        let message = "\(kind) \"\(name)\" is invalid: " + causes.map { "\($0.field): \($0.detail)" }.joined(separator: ", ")
        throw KubeError(code: 422, reason: "Invalid", message: message, details: [
            "name": name, "group": type.group, "kind": type.kind,
            "causes": causes.map { ["reason": $0.reason, "message": $0.detail, "field": $0.field] as Object },
        ])
    }
}
