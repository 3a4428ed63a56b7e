import Crypto
import Foundation

/// Personal access tokens: `gnt_` + 40 base62 characters. Only their SHA-256 is ever stored.
public enum AccessToken {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        // Rejection-free: 62 does not divide 256, so draw uniformly with `random(in:using:)`.
        let body = (0..<40).map { _ in alphabet[Int.random(in: 0..<62, using: &generator)] }
        return "gnt_" + String(body)
    }

    public static func isWellFormed(_ token: String) -> Bool {
        guard token.utf8.count == 44, token.hasPrefix("gnt_") else { return false }
        return token.utf8.dropFirst(4).allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }
    }

    /// Hex SHA-256: a plain hash suffices because tokens carry 238 bits of entropy.
    public static func hash(_ token: String) -> String {
        hex(SHA256.hash(data: Data(token.utf8)))
    }

    /// Lowercase hex, without `String(format:)`, which costs more than the hash itself.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
