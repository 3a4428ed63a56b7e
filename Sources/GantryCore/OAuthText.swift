import Crypto
import Foundation

/// The small pieces of text OAuth 2.0 and OpenID Connect are made of, shared by the server's sign-in and the CLI's:
/// PKCE (RFC 7636), random `state`/`nonce`/verifiers, form encoding (RFC 6749 §2.3.1) and a JWT's segments.
public enum OAuthText {
    /// base64url without padding (RFC 4648 §5).
    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// `bytes` random bytes as base64url: 32 make a 43-character PKCE verifier.
    public static func random(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return base64URL(Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }

    /// PKCE S256: the challenge sent with the authorization request for the verifier kept back.
    public static func codeChallenge(for verifier: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    /// `application/x-www-form-urlencoded` for a value: everything but the unreserved characters percent-encoded.
    public static func formEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// A JWT's header (`index` 0) or payload (1) as JSON, unverified: the signature is someone else's job.
    public static func jwtSegment(_ token: String, _ index: Int) -> [String: Any]? {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3 else { return nil }
        var base64 = segments[index].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
