import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import _CryptoExtras

/// Google Kubernetes Engine access from a service-account key: an OAuth access token got with a signed
/// JWT assertion (RFC 7523), which GKE accepts as the bearer token, and the endpoint and CA from
/// `projects.locations.clusters.get`.
public struct GKEAuth: Sendable {
    /// The parts of a service-account key file Gantry uses.
    public struct ServiceAccount: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        public var clientEmail: String
        public var privateKeyPEM: String
        public var tokenURI: String

        public init(clientEmail: String, privateKeyPEM: String, tokenURI: String = GKEAuth.defaultTokenURI) {
            self.clientEmail = clientEmail
            self.privateKeyPEM = privateKeyPEM
            self.tokenURI = tokenURI
        }

        /// Reads a key file as the Cloud console downloads it.
        public static func parse(json: Data) throws(CloudAuthError) -> ServiceAccount {
            struct KeyFile: Decodable {
                var type: String?
                var client_email: String?
                var private_key: String?
                var token_uri: String?
            }
            guard let file = try? JSONDecoder().decode(KeyFile.self, from: json) else {
                throw .invalidConfiguration("the Google service-account key is not JSON")
            }
            if let type = file.type, type != "service_account" {
                throw .invalidConfiguration("the Google credentials are of type '\(type)', not a service-account key")
            }
            guard let email = file.client_email, !email.isEmpty, let key = file.private_key, !key.isEmpty else {
                throw .invalidConfiguration("the Google service-account key needs client_email and private_key")
            }
            return ServiceAccount(clientEmail: email, privateKeyPEM: key, tokenURI: file.token_uri ?? GKEAuth.defaultTokenURI)
        }

        public var description: String { "Google service account \(clientEmail) (private key <redacted>)" }
        public var debugDescription: String { description }
        public var customMirror: Mirror { Mirror(self, children: ["clientEmail": clientEmail, "privateKey": "<redacted>"]) }
    }

    public static let defaultTokenURI = "https://oauth2.googleapis.com/token"
    public static let scope = "https://www.googleapis.com/auth/cloud-platform"
    /// Google accepts assertions that live at most an hour.
    public static let assertionLifetime: TimeInterval = 3600

    public let serviceAccount: ServiceAccount
    public let project: String
    public let location: String
    public let cluster: String
    public let endpoints: CloudEndpoints
    let privateKey: _RSA.Signing.PrivateKey
    let httpClient: HTTPClient
    let clock: @Sendable () -> Date
    let logger: Logger?

    public init(
        serviceAccount: ServiceAccount, project: String, location: String, cluster: String, httpClient: HTTPClient,
        endpoints: CloudEndpoints = .production, clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger? = nil
    ) throws(CloudAuthError) {
        for (field, value) in [("project", project), ("location", location), ("cluster", cluster)] where !CloudHTTP.isPlainName(value) {
            throw .invalidConfiguration("the GKE \(field) may contain only letters, digits, '-', '_' and '.'")
        }
        do {
            privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: serviceAccount.privateKeyPEM)
        } catch {
            throw .invalidConfiguration("the service account's private_key is not a PEM RSA private key")
        }
        self.serviceAccount = serviceAccount
        self.project = project
        self.location = location
        self.cluster = cluster
        self.httpClient = httpClient
        self.endpoints = endpoints
        self.clock = clock
        self.logger = logger
    }

    /// The cluster's endpoint and CA, with an access token as the bearer token.
    public func clusterAccess(deadline: NIODeadline) async throws(CloudAuthError) -> ClusterAccess {
        let token = try await accessToken(deadline: deadline)
        let found = try await clusterEndpoint(accessToken: token.value, deadline: deadline)
        return ClusterAccess(server: found.server, caPEM: found.caPEM, token: token.value, expiresAt: token.expiresAt)
    }

    /// The RS256 JWT assertion for the cloud-platform scope, issued at `date`.
    public func assertion(at date: Date) throws(CloudAuthError) -> String {
        struct Claims: Encodable {
            var iss: String
            var scope: String
            var aud: String
            var iat: Int
            var exp: Int
        }
        let issuedAt = Int(date.timeIntervalSince1970)
        let claims = Claims(iss: serviceAccount.clientEmail, scope: Self.scope, aud: serviceAccount.tokenURI,
                            iat: issuedAt, exp: issuedAt + Int(Self.assertionLifetime))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let claimsJSON = try? encoder.encode(claims) else {
            throw .invalidConfiguration("the JWT claims could not be encoded")
        }
        let signingInput = Self.base64URL(Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8)) + "." + Self.base64URL(claimsJSON)
        do {
            let signature = try privateKey.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5)
            return signingInput + "." + Self.base64URL(signature.rawRepresentation)
        } catch {
            throw .invalidConfiguration("the service account's private key could not sign")
        }
    }

    /// Exchanges a fresh assertion for an access token (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`).
    public func accessToken(deadline: NIODeadline) async throws(CloudAuthError) -> CloudToken {
        let service = "Google OAuth token"
        let now = clock()
        let assertion = try assertion(at: now)
        let body = CloudHTTP.formEncoded([
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        let request = CloudHTTP.request(endpoints.googleTokenURI ?? serviceAccount.tokenURI, method: .POST,
                                        headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        let answer = try await CloudHTTP.send(request, service: service, secrets: [serviceAccount.privateKeyPEM, assertion],
                                              isTokenEndpoint: true, client: httpClient, deadline: deadline, logger: logger)
        let token = try CloudHTTP.decode(CloudHTTP.OAuthTokenAnswer.self, from: answer, service: service)
        return CloudToken(value: token.accessToken, expiresAt: now.addingTimeInterval(TimeInterval(token.expiresIn)))
    }

    /// `GET /v1/projects/<p>/locations/<l>/clusters/<c>`: `https://<endpoint>` and the CA PEM.
    public func clusterEndpoint(accessToken: String, deadline: NIODeadline) async throws(CloudAuthError) -> (server: String, caPEM: String) {
        struct ClusterAnswer: Decodable {
            struct MasterAuth: Decodable { var clusterCaCertificate: String? }
            var endpoint: String?
            var status: String?
            var masterAuth: MasterAuth?
        }
        let service = "GKE clusters.get"
        let base = CloudEndpoints.resolve(endpoints.googleContainer)
        let request = CloudHTTP.request("\(base)/v1/projects/\(project)/locations/\(location)/clusters/\(cluster)",
                                        method: .GET, headers: [("Authorization", "Bearer \(accessToken)")])
        let body = try await CloudHTTP.send(request, service: service, secrets: [accessToken],
                                            client: httpClient, deadline: deadline, logger: logger)
        let answer = try CloudHTTP.decode(ClusterAnswer.self, from: body, service: service)
        guard let endpoint = answer.endpoint, !endpoint.isEmpty, !endpoint.contains("/") else {
            let status = answer.status.map { " (status \($0))" } ?? ""
            throw .cloudError(service: service, status: 200, detail: "the cluster has no endpoint yet\(status)")
        }
        guard let ca = answer.masterAuth?.clusterCaCertificate else {
            throw .cloudError(service: service, status: 200, detail: "the cluster has no masterAuth.clusterCaCertificate")
        }
        return ("https://" + endpoint, try CloudHTTP.certificatePEM(fromBase64: ca, service: service))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
