import Foundation

/// Collects every invalid field of a request so one answer lists them all.
public struct Validator: Sendable {
    public private(set) var errors: [FieldError] = []

    public init() {}

    public mutating func fail(_ field: String, _ message: String) {
        errors.append(FieldError(field, message))
    }

    /// Trims and checks a display name (projects, environments, spaces, …): 1–100 characters, no control characters.
    public mutating func name(_ value: String, field: String = "name") -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            fail(field, "must not be empty")
        } else if trimmed.count > 100 {
            fail(field, "must be at most 100 characters (got \(trimmed.count))")
        } else if trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            fail(field, "must not contain control characters")
        }
        return trimmed
    }

    public mutating func description(_ value: String, field: String = "description") {
        if value.count > 2000 { fail(field, "must be at most 2000 characters") }
    }

    /// A DNS-1123 label: what Kubernetes accepts as a namespace or Deployment name.
    public mutating func dnsLabel(_ value: String, field: String) {
        if !Rules.isDNSLabel(value) {
            fail(field, "must be a DNS-1123 label: 1–63 lowercase letters, digits or '-', starting and ending with a letter or digit")
        }
    }

    public mutating func namespace(_ value: String, field: String = "namespace") {
        dnsLabel(value, field: field)
        if Rules.reservedNamespaces.contains(value) {
            fail(field, "'\(value)' is reserved for Kubernetes itself; choose another namespace")
        }
    }

    public mutating func id(_ value: String, prefix: IDPrefix, field: String) {
        if !IDGenerator.isValid(value, prefix: prefix) {
            fail(field, "must be an ID of the form \(prefix.rawValue)_<26 characters>")
        }
    }

    public mutating func registryURL(_ value: String, field: String = "registryUrl") {
        if !Rules.isRegistryURL(value) {
            fail(field, "must be host[:port]/path without a scheme or spaces, at most 255 characters (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout)")
        }
    }

    public mutating func registryHost(_ value: String, field: String = "registry") {
        if !Rules.isHost(value) {
            fail(field, "must be a registry host such as ghcr.io or registry.example.com:5000, without a scheme or path")
        }
    }

    public mutating func quantity(_ value: String, field: String) {
        if !Rules.isQuantity(value) {
            fail(field, "must be a Kubernetes quantity such as 250m, 0.5, 512Mi or 1G")
        }
    }

    public mutating func nonEmpty(_ value: String?, field: String) {
        if (value ?? "").trimmingCharacters(in: .whitespaces).isEmpty { fail(field, "is required") }
    }

    public func check() throws(AppError) {
        if !errors.isEmpty { throw AppError.validation(errors) }
    }
}

/// The data rules of the contract, as pure predicates.
public enum Rules {
    public static let reservedNamespaces: Set<String> = ["kube-system", "kube-public", "kube-node-lease"]

    public static func isDNSLabel(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
        guard alnum(bytes.first!), alnum(bytes.last!) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == 45 }
    }

    public static func isHost(_ value: String) -> Bool {
        guard !value.isEmpty, value.count <= 255 else { return false }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65535).contains(port) else { return false }
        }
        let labels = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            let s = String(label).lowercased()
            return !s.isEmpty && s.count <= 63 && s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
                && s.first != "-" && s.last != "-"
        }
    }

    public static func isRegistryURL(_ value: String) -> Bool {
        guard !value.isEmpty, value.count <= 255, !value.contains("://") else { return false }
        guard !value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) else { return false }
        let host = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard isHost(host) else { return false }
        let path = value.dropFirst(host.count)
        return !path.contains("//") && path.utf8.allSatisfy { $0 > 32 && $0 < 127 }
    }

    /// Kubernetes quantity syntax (apimachinery's `<signedNumber><suffix>`), non-negative as requests must be.
    public static func isQuantity(_ value: String) -> Bool {
        guard value.count <= 64, let quantity = try? Quantity(parsing: value), !quantity.isNegative else { return false }
        // Kubernetes also reads a bare unit ("Ki", ".", "-") as zero (kubernetes/apimachinery#165); in a
        // request that is a typo, so the number must hold at least one digit.
        let number = value.utf8.prefix { "+-.0123456789".utf8.contains($0) }
        return number.contains { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// A container variable's name as Kubernetes accepts it in `env` (docs/api.md §7).
    public static func isContainerVariableName(_ value: String) -> Bool {
        value.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) != nil && value.count <= 255
    }

    /// A DNS name for an Ingress host: lowercase labels, at most 253 characters, optionally a leading `*.` wildcard.
    public static func isIngressHost(_ value: String) -> Bool {
        let name = value.hasPrefix("*.") ? String(value.dropFirst(2)) : value
        return name.count <= 253 && name.contains(".") && !name.contains(":") && isHost(name) && name == name.lowercased()
    }

    /// An image reference as a container runtime reads it: `[host[:port]/]path[:tag][@algorithm:hex]`, lowercase path.
    public static func isImageReference(_ value: String) -> Bool {
        guard !value.isEmpty, value.count <= 512 else { return false }
        var rest = Substring(value)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            guard digest.range(of: #"^[a-z0-9]+([+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$"#, options: .regularExpression) != nil else { return false }
            rest = rest[..<at]
        }
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let tag = rest[rest.index(after: colon)...]
            guard tag.range(of: #"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"#, options: .regularExpression) != nil else { return false }
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        if components.count > 1, let first = components.first, first.contains(".") || first.contains(":") || first == "localhost" {
            guard isHost(String(first)) else { return false }
            components.removeFirst()
        }
        return !components.isEmpty && components.allSatisfy {
            $0.range(of: #"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$"#, options: .regularExpression) != nil
        }
    }

    public static func isEnvVarName(_ value: String) -> Bool {
        value.range(of: #"^[A-Z_][A-Z0-9_]*$"#, options: .regularExpression) != nil && value.count <= 255
    }

    /// A printable `Idempotency-Key` of 1–255 characters.
    public static func isIdempotencyKey(_ value: String) -> Bool {
        (1...255).contains(value.count) && value.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7f }
    }

    /// The name key that makes names unique ignoring case, the same on every database.
    public static func nameKey(_ name: String) -> String {
        name.lowercased()
    }
}

extension Validator {
    /// Known policy strings, each once.
    public mutating func policies(_ values: [String], field: String = "policies") {
        if let unknown = values.first(where: { !Policies.all.contains($0) }) {
            fail(field, "'\(unknown)' is not a policy; GET /policies lists them.")
        } else if Set(values).count != values.count {
            fail(field, "Each policy may appear once.")
        }
    }

    /// `org`, `project:<prj id>` or `environment:<env id>`.
    public mutating func scope(_ value: String, field: String = "scope") -> Scope? {
        guard let scope = Scope(parsing: value) else {
            fail(field, "Use 'org', 'project:<project id>' or 'environment:<environment id>'.")
            return nil
        }
        return scope
    }

    public mutating func email(_ value: String, field: String = "email") {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        if value.count > 254 || parts.count != 2 || parts[0].isEmpty || parts[1].isEmpty
            || value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 }) {
            fail(field, "Must be an email address such as ada@example.com.")
        }
    }
}
