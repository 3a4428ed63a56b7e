import Crypto
import Foundation

/// Seals credentials to the deployer's X25519 key with HPKE (RFC 9180, base mode).
///
/// The config role holds only the public key: it can seal what users send but never open it.
/// The deployer role holds the private key. A sealed blob is `g1.` + base64(encapsulated key ‖ ciphertext).
public struct CredentialSealer: Sendable {
    static let suite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
    static let info = Data("gantry credentials v1".utf8)
    static let prefix = "g1."

    public let publicKey: Curve25519.KeyAgreement.PublicKey
    private let privateKey: Curve25519.KeyAgreement.PrivateKey?

    public init(privateKey: Curve25519.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
        self.publicKey = privateKey.publicKey
    }

    public init(publicKey: Curve25519.KeyAgreement.PublicKey) {
        self.privateKey = nil
        self.publicKey = publicKey
    }

    public var canOpen: Bool { privateKey != nil }

    /// Seals `plaintext`; `context` (e.g. the row's ID) is bound as associated data so blobs cannot be swapped between rows.
    public func seal(_ plaintext: Data, context: String) throws -> String {
        var sender = try HPKE.Sender(recipientKey: publicKey, ciphersuite: Self.suite, info: Self.info)
        let ciphertext = try sender.seal(plaintext, authenticating: Data(context.utf8))
        return Self.prefix + (sender.encapsulatedKey + ciphertext).base64EncodedString()
    }

    public func open(_ sealed: String, context: String) throws -> Data {
        guard let privateKey else { throw SealingError.noPrivateKey }
        if sealed.hasPrefix(Self.carriedPrefix) {
            let carried = sealed.dropFirst(Self.carriedPrefix.count)
            guard let colon = carried.firstIndex(of: ":") else { throw SealingError.malformed }
            return try open(String(carried[carried.index(after: colon)...]), context: String(carried[..<colon]))
        }
        guard sealed.hasPrefix(Self.prefix), let blob = Data(base64Encoded: String(sealed.dropFirst(Self.prefix.count))),
              blob.count > 32 else { throw SealingError.malformed }
        var recipient = try HPKE.Recipient(
            privateKey: privateKey, ciphersuite: Self.suite, info: Self.info, encapsulatedKey: blob.prefix(32)
        )
        return try recipient.open(blob.dropFirst(32), authenticating: Data(context.utf8))
    }

    /// A copy's sealed value (a cloned deployment's secret variables, docs/api.md §8) bound to the copy: opened and
    /// sealed again when this process holds the private key. A config-only process cannot open it, so the copy keeps
    /// the original's blob with the row it was sealed for written in front (`g1@<row>:g1.…`); the deployer opens it
    /// with that row, and the next write of the copy's secrets seals them to the copy itself.
    public func rebind(_ sealed: String, from: String, to: String) throws -> String {
        if canOpen { return try seal(open(sealed, context: from), context: to) }
        if sealed.hasPrefix(Self.carriedPrefix) { return sealed }
        return Self.carriedPrefix + from + ":" + sealed
    }

    static let carriedPrefix = "g1@"

    public enum SealingError: Error {
        case noPrivateKey
        case malformed
    }
}

/// The key file format of `--secret-key-file`: one line, base64 of 32 raw bytes.
public enum SecretKeyFile {
    public static func generatePrivateKey() -> String {
        Curve25519.KeyAgreement.PrivateKey().rawRepresentation.base64EncodedString()
    }

    public static func publicHalf(ofPrivateKey text: String) throws -> String {
        try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: decode(text)).publicKey.rawRepresentation.base64EncodedString()
    }

    public static func decode(_ text: String) throws -> Data {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
            throw KeyFileError.notAKey
        }
        return data
    }

    public enum KeyFileError: Error, CustomStringConvertible {
        case notAKey
        public var description: String { "the key file must hold one line: base64 of a 32-byte X25519 key" }
    }
}
