import AsyncHTTPClient
import Crypto
import Foundation
import KubeTestServer
import NIOCore
import Testing
import _CryptoExtras
@testable import KubeClient

@Suite("GKE credentials")
struct GKEAuthTests {
    /// One key for the whole suite: 2048-bit generation is slow enough to matter on a shared machine.
    static let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let email = "gantry-deployer@shop-prod.iam.gserviceaccount.com"
    static let date = Date(timeIntervalSince1970: 1_750_000_000)
    static let accessToken = "ya29.c.fake-access-token-for-tests"
    static let serviceAccount = GKEAuth.ServiceAccount(clientEmail: email, privateKeyPEM: key.pkcs8PEMRepresentation)
    static let clusterPath = "/v1/projects/shop-prod/locations/europe-west1/clusters/main"

    static func auth(endpoints: CloudEndpoints = .production) throws -> GKEAuth {
        try GKEAuth(serviceAccount: serviceAccount, project: "shop-prod", location: "europe-west1", cluster: "main",
                    httpClient: .shared, endpoints: endpoints, clock: { date })
    }

    static func deadline() -> NIODeadline { .now() + .seconds(10) }

    static func answerToken(_ fake: FakeCloud) {
        fake.answer("POST", "/token", with: .json(["access_token": accessToken, "expires_in": 3599, "token_type": "Bearer"]))
    }

    static func answerCluster(_ fake: FakeCloud) {
        fake.answer("GET", clusterPath, with: .json([
            "name": "main", "status": "RUNNING", "endpoint": "34.76.10.20",
            "masterAuth": ["clusterCaCertificate": Data(TestCertificates.clusterCA.utf8).base64EncodedString()],
        ]))
    }

    static func base64URLDecoded(_ text: Substring) throws -> Data {
        var text = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        return try #require(Data(base64Encoded: text))
    }

    @Test("The token endpoint receives a JWT that verifies with the public key and carries the right claims")
    func assertion() async throws {
        try await FakeCloud.run { fake, base in
            Self.answerToken(fake)
            let token = try await Self.auth(endpoints: .allAt(base)).accessToken(deadline: Self.deadline())
            #expect(token.value == Self.accessToken)
            #expect(token.expiresAt == Self.date.addingTimeInterval(3599))

            let request = try #require(fake.requests(to: "/token").first)
            #expect(request.method == "POST")
            #expect(request.headers["content-type"] == "application/x-www-form-urlencoded")
            let form = request.formFields
            #expect(form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
            let jwt = try #require(form["assertion"])
            let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
            try #require(parts.count == 3)

            #expect(String(decoding: try Self.base64URLDecoded(parts[0]), as: UTF8.self) == #"{"alg":"RS256","typ":"JWT"}"#)
            let claims = try #require(try JSONSerialization.jsonObject(with: try Self.base64URLDecoded(parts[1])) as? [String: Any])
            #expect(claims["iss"] as? String == Self.email)
            #expect(claims["scope"] as? String == "https://www.googleapis.com/auth/cloud-platform")
            // The audience is the key file's token_uri, even when the exchange is sent elsewhere.
            #expect(claims["aud"] as? String == "https://oauth2.googleapis.com/token")
            #expect(claims["iat"] as? Int == 1_750_000_000)
            #expect(claims["exp"] as? Int == 1_750_003_600)

            let signature = _RSA.Signing.RSASignature(rawRepresentation: try Self.base64URLDecoded(parts[2]))
            let signingInput = Data("\(parts[0]).\(parts[1])".utf8)
            #expect(Self.key.publicKey.isValidSignature(signature, for: signingInput, padding: .insecurePKCS1v1_5))
            #expect(!Self.key.publicKey.isValidSignature(signature, for: Data("\(parts[0]).e30".utf8), padding: .insecurePKCS1v1_5))
        }
    }

    @Test("The cluster lookup gives https://endpoint and the CA, asked with the access token")
    func clusterLookup() async throws {
        try await FakeCloud.run { fake, base in
            Self.answerCluster(fake)
            let found = try await Self.auth(endpoints: .allAt(base)).clusterEndpoint(accessToken: Self.accessToken, deadline: Self.deadline())
            #expect(found.server == "https://34.76.10.20")
            #expect(found.caPEM == TestCertificates.clusterCA)
            let request = try #require(fake.requests(to: Self.clusterPath).first)
            #expect(request.method == "GET")
            #expect(request.headers["authorization"] == "Bearer \(Self.accessToken)")
        }
    }

    @Test("Cluster access uses the access token as the bearer token until it expires")
    func clusterAccess() async throws {
        try await FakeCloud.run { fake, base in
            Self.answerToken(fake)
            Self.answerCluster(fake)
            let access = try await Self.auth(endpoints: .allAt(base)).clusterAccess(deadline: Self.deadline())
            #expect(access == ClusterAccess(server: "https://34.76.10.20", caPEM: TestCertificates.clusterCA, token: Self.accessToken,
                                            expiresAt: Self.date.addingTimeInterval(3599)))
        }
    }

    @Test("A key file is read as the Cloud console downloads it")
    func keyFile() throws {
        let json = try JSONSerialization.data(withJSONObject: [
            "type": "service_account", "project_id": "shop-prod", "private_key_id": "abc",
            "private_key": Self.key.pkcs8PEMRepresentation, "client_email": Self.email,
            "token_uri": "https://oauth2.googleapis.com/token",
        ])
        let account = try GKEAuth.ServiceAccount.parse(json: json)
        #expect(account == Self.serviceAccount)

        let userCredentials = Data(#"{"type": "authorized_user", "client_id": "x", "refresh_token": "y"}"#.utf8)
        #expect(throws: CloudAuthError.self) { try GKEAuth.ServiceAccount.parse(json: userCredentials) }
    }

    @Test("A refused assertion (invalid_grant) is a refusal of the credentials, without the key or assertion in it")
    func refusedAssertion() async throws {
        try await FakeCloud.run { fake, base in
            fake.answer("POST", "/token", with: .json(["error": "invalid_grant", "error_description": "Invalid JWT Signature."], status: 400))
            let error = await #expect(throws: CloudAuthError.self) {
                try await Self.auth(endpoints: .allAt(base)).accessToken(deadline: Self.deadline())
            }
            #expect(error == .credentialsRefused(service: "Google OAuth token", status: 400, detail: "invalid_grant: Invalid JWT Signature."))
            let assertion = try #require(fake.requests(to: "/token").first?.formFields["assertion"])
            let text = String(describing: error!)
            #expect(!text.contains(assertion))
            #expect(!text.contains("PRIVATE KEY"))
        }
    }

    @Test("A 401 from the GKE API is a refusal, without the access token in it")
    func refusedLookup() async throws {
        try await FakeCloud.run { fake, base in
            fake.answer("GET", Self.clusterPath, with: .json(
                ["error": ["code": 401, "status": "UNAUTHENTICATED",
                           "message": "Request had invalid authentication credentials: \(Self.accessToken)"] as [String: any Sendable]],
                status: 401))
            let error = await #expect(throws: CloudAuthError.self) {
                try await Self.auth(endpoints: .allAt(base)).clusterEndpoint(accessToken: Self.accessToken, deadline: Self.deadline())
            }
            guard case .credentialsRefused(service: "GKE clusters.get", status: 401, let detail) = error else {
                Issue.record("expected credentialsRefused, got \(String(describing: error))")
                return
            }
            #expect(detail.hasPrefix("UNAUTHENTICATED"))
            #expect(!String(describing: error!).contains(Self.accessToken))
        }
    }

    @Test("A private key that is not an RSA PEM is refused before any call, without quoting it")
    func badKey() {
        let account = GKEAuth.ServiceAccount(clientEmail: Self.email, privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nnot-a-key-secret\n-----END PRIVATE KEY-----\n")
        let error = #expect(throws: CloudAuthError.self) {
            try GKEAuth(serviceAccount: account, project: "p", location: "l", cluster: "c", httpClient: .shared)
        }
        #expect(!String(describing: error!).contains("not-a-key-secret"))
    }

    @Test("A service account describes itself without its private key")
    func redaction() {
        var dumped = ""
        dump(Self.serviceAccount, to: &dumped)
        for text in [String(describing: Self.serviceAccount), String(reflecting: Self.serviceAccount), dumped] {
            #expect(!text.contains("PRIVATE KEY"))
            #expect(text.contains(Self.email))
        }
    }
}
