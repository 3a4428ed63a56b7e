import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// A login for a container registry, as an image pull secret carries it, and when it stops working.
///
/// Its descriptions and mirror never show the password, so it may be logged.
public struct RegistryLogin: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var username: String
    public var password: String
    /// When the password stops working (the cloud's own figure, no margin taken off).
    public var expiresAt: Date

    public init(username: String, password: String, expiresAt: Date) {
        self.username = username
        self.password = password
        self.expiresAt = expiresAt
    }

    public var description: String { "RegistryLogin(\(username), password <redacted>, expires: \(expiresAt.formatted(.iso8601)))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["username": username, "expiresAt": expiresAt, "password": "<redacted>"]) }
}

/// Registry logins minted from a cloud account, for image pull secrets (notes/kubernetes.md §12 "Pull-secret tokens"):
///
/// - ECR: `GetAuthorizationToken` signed with SigV4; its token is base64 of `AWS:<password>`, good for 12 hours;
/// - Artifact Registry and GCR: user `oauth2accesstoken`, password a `cloud-platform` access token (GKEAuth's);
/// - ACR: an Entra ID token for Azure Resource Manager (AKSAuth's), exchanged at the registry's
///   `/oauth2/exchange` for a refresh token; user `00000000-0000-0000-0000-000000000000`, about 3 hours.
///
/// Failures are `CloudAuthError`s naming the call, never a credential or token.
public struct RegistryTokens: Sendable {
    public static let ecrTarget = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
    public static let ecrContentType = "application/x-amz-json-1.1"
    public static let googleUsername = "oauth2accesstoken"
    public static let azureUsername = "00000000-0000-0000-0000-000000000000"
    /// How long an ACR refresh token lives when the token does not say (ACR issues them for 3 hours).
    public static let azureRefreshTokenLifetime: TimeInterval = 3 * 3600
    /// What ECR's errors call refused credentials; it answers most of them with HTTP 400, not 401 or 403.
    static let awsRefusalCodes = ["UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException",
                                  "ExpiredTokenException", "InvalidClientTokenId", "IncompleteSignature", "MissingAuthenticationToken"]

    public let endpoints: CloudEndpoints
    let httpClient: HTTPClient
    let clock: @Sendable () -> Date
    let logger: Logger?

    public init(httpClient: HTTPClient, endpoints: CloudEndpoints = .production,
                clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger? = nil) {
        self.httpClient = httpClient
        self.endpoints = endpoints
        self.clock = clock
        self.logger = logger
    }

    // MARK: - ECR

    /// The region of an ECR registry host, `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn][:port]`; nil for any other host.
    public static func ecrRegion(ofRegistry registry: String) -> String? {
        var host = Substring(registry.lowercased())
        if let colon = host.firstIndex(of: ":") { host = host[..<colon] }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let dkr = labels.firstIndex(of: "dkr"), dkr == 1, labels.count >= 6,
              labels[2] == "ecr" || labels[2] == "ecr-fips",
              labels[4] == "amazonaws", labels[5] == "com", labels.count == 6 || (labels.count == 7 && labels[6] == "cn") else {
            return nil
        }
        let region = labels[3]
        guard CloudHTTP.isPlainName(region), !region.contains("_"), !region.contains(".") else { return nil }
        return region
    }

    /// `GetAuthorizationToken` for the registry's region: user `AWS` and the token's password.
    public func ecr(credentials: AWSSigner.Credentials, registry: String, deadline: NIODeadline) async throws(CloudAuthError) -> RegistryLogin {
        let service = "ECR GetAuthorizationToken"
        guard let region = Self.ecrRegion(ofRegistry: registry) else {
            throw .invalidConfiguration("'\(registry)' is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com)")
        }
        guard !credentials.accessKeyID.isEmpty, !credentials.secretAccessKey.isEmpty else {
            throw .invalidConfiguration("the AWS access key ID and secret access key are required")
        }
        var base = CloudEndpoints.resolve(endpoints.awsECR, region: region)
        if endpoints.awsECR == CloudEndpoints.production.awsECR, region.hasPrefix("cn-") { base += ".cn" }
        guard let url = URL(string: base + "/") else { throw .invalidConfiguration("the ECR endpoint is not a URL") }
        let body = Data("{}".utf8)
        let headers: [(name: String, value: String)] = [("Content-Type", Self.ecrContentType), ("X-Amz-Target", Self.ecrTarget)]
        let signed = AWSSigner(credentials: credentials, region: region, service: "ecr")
            .sign(AWSSigner.Request(method: "POST", url: url, headers: headers, body: body), at: clock())
        let request = CloudHTTP.request(url.absoluteString, method: .POST,
                                        headers: (headers + signed.headers).map { ($0.name, $0.value) }, body: body)
        let secrets = [credentials.secretAccessKey, signed.signature] + (credentials.sessionToken.map { [$0] } ?? [])
        let answer: Data
        do throws(CloudAuthError) {
            answer = try await CloudHTTP.send(request, service: service, secrets: secrets, client: httpClient, deadline: deadline, logger: logger)
        } catch {
            // AWS JSON services answer a bad key or a missing permission with 400 and one of these codes.
            if case .cloudError(let service, 400?, let detail) = error,
               Self.awsRefusalCodes.contains(where: { detail.hasPrefix($0) || detail.contains("#\($0)") }) {
                throw .credentialsRefused(service: service, status: 400, detail: detail)
            }
            throw error
        }

        struct Answer: Decodable {
            struct AuthorizationData: Decodable {
                var authorizationToken: String
                var expiresAt: Double
            }
            var authorizationData: [AuthorizationData]
        }
        let decoded = try CloudHTTP.decode(Answer.self, from: answer, service: service)
        guard let first = decoded.authorizationData.first else {
            throw .cloudError(service: service, status: 200, detail: "the answer has no authorizationData")
        }
        guard let data = Data(base64Encoded: first.authorizationToken.filter { !$0.isWhitespace }),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":"),
              !text[text.index(after: colon)...].isEmpty else {
            throw .cloudError(service: service, status: 200, detail: "the authorizationToken is not base64 of user:password")
        }
        return RegistryLogin(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]),
                             expiresAt: Date(timeIntervalSince1970: first.expiresAt))
    }

    // MARK: - Artifact Registry / GCR

    /// An access token for the service account, as the password of user `oauth2accesstoken`.
    public func google(serviceAccount: GKEAuth.ServiceAccount, deadline: NIODeadline) async throws(CloudAuthError) -> RegistryLogin {
        // GKEAuth's token needs no cluster; the names only satisfy its initializer.
        let auth = try GKEAuth(serviceAccount: serviceAccount, project: "registry", location: "registry", cluster: "registry",
                               httpClient: httpClient, endpoints: endpoints, clock: clock, logger: logger)
        let token = try await auth.accessToken(deadline: deadline)
        return RegistryLogin(username: Self.googleUsername, password: token.value, expiresAt: token.expiresAt)
    }

    // MARK: - ACR

    /// An ARM token for the service principal exchanged at the registry for a refresh token, the password of the
    /// all-zero user.
    public func azure(servicePrincipal: AKSAuth.ServicePrincipal, registry: String, deadline: NIODeadline) async throws(CloudAuthError) -> RegistryLogin {
        let service = "ACR token exchange"
        guard Self.isHost(registry) else {
            throw .invalidConfiguration("'\(registry)' is not a registry host")
        }
        // AKSAuth's token needs no cluster; the names only satisfy its initializer.
        let auth = try AKSAuth(servicePrincipal: servicePrincipal, subscriptionID: "registry", resourceGroup: "registry", clusterName: "registry",
                               httpClient: httpClient, endpoints: endpoints, clock: clock, logger: logger)
        let armToken = try await auth.token(scope: AKSAuth.resourceManagerScope, deadline: deadline)
        let now = clock()
        let host = registry.split(separator: ":").first.map(String.init) ?? registry
        let base = CloudEndpoints.resolve(endpoints.azureContainerRegistry.replacingOccurrences(of: "{registry}", with: registry))
        let body = CloudHTTP.formEncoded([
            ("grant_type", "access_token"),
            ("service", host),
            ("tenant", servicePrincipal.tenantID),
            ("access_token", armToken.value),
        ])
        let request = CloudHTTP.request(base + "/oauth2/exchange", method: .POST,
                                        headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        let answer = try await CloudHTTP.send(request, service: service, secrets: [armToken.value, servicePrincipal.clientSecret],
                                              isTokenEndpoint: true, client: httpClient, deadline: deadline, logger: logger)
        struct Answer: Decodable {
            var refresh_token: String
        }
        let decoded = try CloudHTTP.decode(Answer.self, from: answer, service: service)
        guard !decoded.refresh_token.isEmpty else {
            throw .cloudError(service: service, status: 200, detail: "the answer has an empty refresh_token")
        }
        let expiresAt = Self.jwtExpiry(decoded.refresh_token) ?? now.addingTimeInterval(Self.azureRefreshTokenLifetime)
        return RegistryLogin(username: Self.azureUsername, password: decoded.refresh_token, expiresAt: expiresAt)
    }

    /// `exp` of a JWT, read without checking its signature (only to know when to renew it).
    static func jwtExpiry(_ token: String) -> Date? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
        guard let data = Data(base64Encoded: payload),
              let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let exp = (claims["exp"] as? NSNumber)?.doubleValue else { return nil }
        return Date(timeIntervalSince1970: exp)
    }

    /// `host[:port]` with DNS characters only: it becomes a URL's authority.
    static func isHost(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), CloudHTTP.isPlainName(String(parts[0])), !parts[0].contains("_") else { return false }
        return parts.count == 1 || (Int(parts[1]).map { (1...65535).contains($0) } ?? false)
    }
}

