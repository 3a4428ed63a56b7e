import Foundation
import NIOCore

/// A type read from Kubernetes JSON by a hand-written initializer over a `JSONView`. It replaces `Decodable`
/// for API answers: Codable's generic machinery (metadata lookups, a key dictionary per object) cost several
/// times the parsing itself on lists of thousands of objects.
///
/// The conformances keep Codable's rules so nothing changes for callers: a member that is missing or null is
/// nil for an optional property and an error for a required one, a value of the wrong JSON type is an error,
/// unknown members are ignored, and with duplicate member names the first counts.
public protocol KubeDecodable {
    init(json: JSONView) throws(JSONError)
}

extension KubeDecodable {
    /// Parses one JSON document and decodes it; the bytes are read in place, never copied.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(JSONError) {
        self = try JSONView.withDocument(bytes) { root throws(JSONError) in try Self(json: root) }
    }

    public init(decoding buffer: ByteBuffer) throws(JSONError) {
        let outcome = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONError) -> Self in try Self(decoding: bytes) }
        }
        self = try outcome.get()
    }

    public init(decoding bytes: some ContiguousBytes) throws(JSONError) {
        let outcome = bytes.withUnsafeBytes { bytes in
            Result { () throws(JSONError) -> Self in try Self(decoding: bytes) }
        }
        self = try outcome.get()
    }
}

extension JSONView {
    /// The member `key`, which must be present and not null.
    public func decode<Value: KubeDecodable>(_ key: String, as type: Value.Type = Value.self) throws(JSONError) -> Value {
        guard let value = try self[key] else { throw .mismatch(path: key, "the member is missing") }
        do throws(JSONError) {
            return try Value(json: value)
        } catch {
            throw error.inside(key)
        }
    }

    /// The member `key`, or nil when it is missing or null (Kubernetes omits zero values).
    public func decodeIfPresent<Value: KubeDecodable>(_ key: String, as type: Value.Type = Value.self) throws(JSONError) -> Value? {
        guard let value = try self[key], !value.isNull else { return nil }
        do throws(JSONError) {
            return try Value(json: value)
        } catch {
            throw error.inside(key)
        }
    }
}

// MARK: - JSON's own values

extension String: KubeDecodable {
    public init(json: JSONView) throws(JSONError) { self = try json.string }
}

extension Bool: KubeDecodable {
    public init(json: JSONView) throws(JSONError) { self = try json.bool }
}

extension Int: KubeDecodable {
    public init(json: JSONView) throws(JSONError) { self = try json.int }
}

extension Int64: KubeDecodable {
    public init(json: JSONView) throws(JSONError) { self = try json.int64 }
}

extension Double: KubeDecodable {
    public init(json: JSONView) throws(JSONError) { self = try json.double }
}

extension Array: KubeDecodable where Element: KubeDecodable {
    public init(json: JSONView) throws(JSONError) {
        let elements = try json.elements
        self.init()
        reserveCapacity(try json.count)
        for (index, element) in elements.enumerated() {
            do throws(JSONError) {
                append(try Element(json: element))
            } catch {
                throw error.inside("[\(index)]")
            }
        }
    }
}

extension Dictionary: KubeDecodable where Key == String, Value: KubeDecodable {
    /// The first of duplicate names wins, and a later one that does not decode is no error: Foundation's
    /// decoder never reads it. Each name is hashed once; duplicates are too rare to look names up first.
    public init(json: JSONView) throws(JSONError) {
        let members = try json.members
        self.init(minimumCapacity: try json.count)
        for (name, value) in members {
            do throws(JSONError) {
                if let first = updateValue(try Value(json: value), forKey: name) { self[name] = first }
            } catch where self[name] != nil {
                continue
            } catch {
                throw error.inside(name)
            }
        }
    }
}
