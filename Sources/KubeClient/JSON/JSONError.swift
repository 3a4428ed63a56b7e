/// Why a Kubernetes answer could not be read. The client turns either case into one message naming the
/// request ("the answer to … is not the JSON expected"); the detail is for logs and tests.
public enum JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not one JSON text (RFC 8259): what is wrong, and the byte offset where it was seen.
    case malformed(String, offset: Int)
    /// Valid JSON, but not the shape the type needs: where (`items[3].metadata.name`) and what.
    case mismatch(path: String, String)

    public var description: String {
        switch self {
        case let .malformed(reason, offset): "malformed JSON at byte \(offset): \(reason)"
        case let .mismatch(path, reason): path.isEmpty ? reason : "\(path): \(reason)"
        }
    }

    /// The same mismatch seen from the enclosing value. Paths are built only while an error unwinds, so
    /// decoding that succeeds never pays for them.
    func inside(_ component: String) -> JSONError {
        guard case let .mismatch(path, reason) = self else { return self }
        let joined = path.isEmpty ? component : path.hasPrefix("[") ? component + path : "\(component).\(path)"
        return .mismatch(path: joined, reason)
    }
}
