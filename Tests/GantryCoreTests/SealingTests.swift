import Crypto
import Foundation
import GantryCore
import Testing

@Suite("Credential sealing")
struct SealingTests {
    @Test("What the config role seals, only the deployer's private key opens")
    func roundTrip() throws {
        let privateKey = Curve25519.KeyAgreement.PrivateKey()
        let configRole = CredentialSealer(publicKey: privateKey.publicKey)
        let deployerRole = CredentialSealer(privateKey: privateKey)
        let sealed = try configRole.seal(Data("secret-token".utf8), context: "spc_1")
        #expect(sealed.hasPrefix("g1."))
        #expect(!sealed.contains("secret-token"))
        #expect(!configRole.canOpen)
        #expect(throws: (any Error).self) { try configRole.open(sealed, context: "spc_1") }
        #expect(try deployerRole.open(sealed, context: "spc_1") == Data("secret-token".utf8))
    }

    @Test("A sealed blob does not open for another row or another key")
    func boundToContextAndKey() throws {
        let privateKey = Curve25519.KeyAgreement.PrivateKey()
        let sealer = CredentialSealer(privateKey: privateKey)
        let sealed = try sealer.seal(Data("x".utf8), context: "spc_1")
        #expect(throws: (any Error).self) { try sealer.open(sealed, context: "spc_2") }
        #expect(throws: (any Error).self) { try CredentialSealer(privateKey: .init()).open(sealed, context: "spc_1") }
    }

    @Test("Key files hold base64 of 32 bytes; keygen --public derives the public half")
    func keyFiles() throws {
        let text = SecretKeyFile.generatePrivateKey()
        #expect(try SecretKeyFile.decode(text + "\n").count == 32)
        let publicHalf = try SecretKeyFile.publicHalf(ofPrivateKey: text)
        let privateKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: SecretKeyFile.decode(text))
        #expect(publicHalf == privateKey.publicKey.rawRepresentation.base64EncodedString())
        #expect(throws: (any Error).self) { try SecretKeyFile.decode("not a key") }
    }
}
