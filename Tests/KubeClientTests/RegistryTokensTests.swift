import AsyncHTTPClient
import Foundation
import KubeTestServer
import NIOCore
import Synchronization
import Testing
@testable import KubeClient

/// Pull-secret logins minted from cloud accounts (notes/kubernetes.md §12), against the fake cloud.
@Suite("Registry tokens")
struct RegistryTokensTests {
    static let date = Date(timeIntervalSince1970: 1_750_000_000) // 2025-06-15T15:06:40Z
    static let awsSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let credentials = AWSSigner.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: awsSecret)
    static let ecrRegistry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    static let ecrPassword = "eyJwYXlsb2FkIjoiZWNyLXBhc3N3b3JkIn0=.ecr+pass/word"
    static let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    static let clientSecret = "Qx8Q~client-secret.value_with+odd/chars="
    static let principal = AKSAuth.ServicePrincipal(tenantID: tenant, clientID: "80faf920-1908-4b52-b5ef-a8e7bedfc67a", clientSecret: clientSecret)
    static let armToken = "eyJ.arm-token-for-acr.sig"
    static let acrRegistry = "shopregistry.azurecr.io"
    static let emptyBodyHash = AWSSigner.sha256Hex(Data("{}".utf8))

    static func tokens(_ base: String, clock: @escaping @Sendable () -> Date = { date }) -> RegistryTokens {
        RegistryTokens(httpClient: .shared, endpoints: .allAt(base), clock: clock)
    }

    static func deadline() -> NIODeadline { .now() + .seconds(10) }

    static func ecrAnswer(password: String = ecrPassword, expiresAt: Date = date.addingTimeInterval(12 * 3600)) -> FakeCloud.Reply {
        .json(["authorizationData": [[
            "authorizationToken": Data("AWS:\(password)".utf8).base64EncodedString(),
            "expiresAt": expiresAt.timeIntervalSince1970,
            "proxyEndpoint": "https://\(ecrRegistry)",
        ] as [String: any Sendable]]])
    }

    static func serviceAccount() -> GKEAuth.ServiceAccount {
        GKEAuth.ServiceAccount(clientEmail: "puller@shop-prod.iam.gserviceaccount.com", privateKeyPEM: TestCertificates.serviceAccountKey)
    }

    /// An unsigned JWT whose payload says `exp`, as ACR's refresh tokens carry.
    static func jwt(exp: Date) -> String {
        func encode(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        return encode(#"{"alg":"RS256","typ":"JWT"}"#) + "." + encode("{\"exp\":\(Int(exp.timeIntervalSince1970)),\"grant_type\":\"refresh_token\"}") + ".c2ln"
    }

    // MARK: - ECR

    @Test("ECR region comes from the registry host; other hosts have none")
    func ecrRegion() {
        #expect(RegistryTokens.ecrRegion(ofRegistry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com") == "eu-west-1")
        #expect(RegistryTokens.ecrRegion(ofRegistry: "123456789012.dkr.ecr.us-east-2.amazonaws.com:443") == "us-east-2")
        #expect(RegistryTokens.ecrRegion(ofRegistry: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com") == "us-gov-west-1")
        #expect(RegistryTokens.ecrRegion(ofRegistry: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn") == "cn-north-1")
        #expect(RegistryTokens.ecrRegion(ofRegistry: "ghcr.io") == nil)
        #expect(RegistryTokens.ecrRegion(ofRegistry: "dkr.ecr.eu-west-1.amazonaws.com") == nil)
        #expect(RegistryTokens.ecrRegion(ofRegistry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example") == nil)
    }

    @Test("ECR: a SigV4-signed GetAuthorizationToken whose token decodes to AWS and the password")
    func ecrSignedRequest() async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/", with: Self.ecrAnswer())
            let login = try await Self.tokens(base).ecr(credentials: Self.credentials, registry: Self.ecrRegistry, deadline: Self.deadline())
            #expect(login.username == "AWS")
            #expect(login.password == Self.ecrPassword)
            #expect(login.expiresAt == Self.date.addingTimeInterval(12 * 3600))
            #expect(!"\(login)".contains(Self.ecrPassword), "the description hides the password")
            #expect(!String(reflecting: login).contains(Self.ecrPassword))

            let request = try #require(cloud.requests(to: "/").first)
            #expect(request.method == "POST")
            #expect(request.bodyText == "{}")
            #expect(request.headers["x-amz-target"] == "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
            #expect(request.headers["content-type"] == "application/x-amz-json-1.1")
            #expect(request.headers["x-amz-date"] == "20250615T150640Z")
            let authorization = try #require(request.headers["authorization"])
            let prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250615/eu-west-1/ecr/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
            #expect(authorization.hasPrefix(prefix), "\(authorization)")

            // The canonical request ECR rebuilds, written out by hand rather than by the signer.
            let host = try #require(request.headers["host"])
            let canonical = "POST\n/\n\n"
                + "content-type:application/x-amz-json-1.1\nhost:\(host)\nx-amz-date:20250615T150640Z\n"
                + "x-amz-target:AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken\n\n"
                + "content-type;host;x-amz-date;x-amz-target\n\(Self.emptyBodyHash)"
            let stringToSign = AWSSigner.stringToSign(canonicalRequest: canonical, amzDate: "20250615T150640Z",
                                                      scope: "20250615/eu-west-1/ecr/aws4_request")
            let key = AWSSigner.signingKey(secretAccessKey: Self.awsSecret, dateStamp: "20250615", region: "eu-west-1", service: "ecr")
            #expect(authorization == prefix + AWSSigner.signature(of: stringToSign, key: key))
        }
    }

    @Test("ECR: temporary credentials send their session token, signed")
    func ecrSessionToken() async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/", with: Self.ecrAnswer())
            var credentials = Self.credentials
            credentials.sessionToken = "FwoGZXIvYXdzEXAMPLE-session-token"
            _ = try await Self.tokens(base).ecr(credentials: credentials, registry: Self.ecrRegistry, deadline: Self.deadline())
            let request = try #require(cloud.requests(to: "/").first)
            #expect(request.headers["x-amz-security-token"] == "FwoGZXIvYXdzEXAMPLE-session-token")
            #expect(request.headers["authorization"]?.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target") == true)
        }
    }

    @Test("The production ECR endpoint is the registry's region's API")
    func ecrProductionEndpoint() {
        #expect(CloudEndpoints.resolve(CloudEndpoints.production.awsECR, region: "eu-west-1") == "https://api.ecr.eu-west-1.amazonaws.com")
        #expect(CloudEndpoints.production.azureContainerRegistry == "https://{registry}")
    }

    @Test("ECR: refused keys (400 UnrecognizedClientException, 403) are a clean credentialsRefused", arguments: [
        (400, "UnrecognizedClientException", "The security token included in the request is invalid."),
        (403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."),
        (400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:GetAuthorizationToken"),
    ])
    func ecrRefused(_ status: Int, _ code: String, _ message: String) async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/", with: .json(["__type": code, "message": message + " " + Self.awsSecret], status: status))
            do throws(CloudAuthError) {
                _ = try await Self.tokens(base).ecr(credentials: Self.credentials, registry: Self.ecrRegistry, deadline: Self.deadline())
                Issue.record("a refused key minted a login")
            } catch {
                guard case .credentialsRefused(let service, let got, _) = error else {
                    Issue.record("expected credentialsRefused, got \(error)")
                    return
                }
                #expect(service == "ECR GetAuthorizationToken")
                #expect(got == status)
                #expect(!error.description.contains(Self.awsSecret), "\(error)")
                #expect(error.description.contains(code))
            }
        }
    }

    @Test("ECR: a host that is not ECR's, or missing keys, make no call")
    func ecrInvalid() async throws {
        try await FakeCloud.run { cloud, base in
            await #expect(throws: CloudAuthError.self) {
                try await Self.tokens(base).ecr(credentials: Self.credentials, registry: "ghcr.io", deadline: Self.deadline())
            }
            await #expect(throws: CloudAuthError.self) {
                try await Self.tokens(base).ecr(credentials: .init(accessKeyID: "AKID", secretAccessKey: ""), registry: Self.ecrRegistry,
                                                deadline: Self.deadline())
            }
            #expect(cloud.requests.isEmpty)
        }
    }

    @Test("ECR: an answer without authorizationData, or a token that is not user:password, is a cloudError")
    func ecrUnreadable() async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/", with: .json(["authorizationData": [] as [any Sendable]]))
            do throws(CloudAuthError) {
                _ = try await Self.tokens(base).ecr(credentials: Self.credentials, registry: Self.ecrRegistry, deadline: Self.deadline())
                Issue.record("an empty answer minted a login")
            } catch {
                #expect(error == .cloudError(service: "ECR GetAuthorizationToken", status: 200, detail: "the answer has no authorizationData"))
            }
            cloud.answer("POST", "/", with: .json(["authorizationData": [["authorizationToken": "bm90LWEtbG9naW4=", "expiresAt": 1] as [String: any Sendable]]]))
            await #expect(throws: CloudAuthError.self) {
                try await Self.tokens(base).ecr(credentials: Self.credentials, registry: Self.ecrRegistry, deadline: Self.deadline())
            }
        }
    }

    // MARK: - Artifact Registry / GCR

    @Test("GAR/GCR: user oauth2accesstoken, password the service account's access token")
    func google() async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/token", with: .json(["access_token": "ya29.registry-token", "expires_in": 3599, "token_type": "Bearer"]))
            let login = try await Self.tokens(base).google(serviceAccount: Self.serviceAccount(), deadline: Self.deadline())
            #expect(login.username == "oauth2accesstoken")
            #expect(login.password == "ya29.registry-token")
            #expect(login.expiresAt == Self.date.addingTimeInterval(3599))
            let grant = try #require(cloud.requests(to: "/token").first)
            #expect(grant.formFields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
            #expect(grant.formFields["assertion"]?.split(separator: ".").count == 3)
        }
    }

    @Test("GAR/GCR: a refused key (invalid_grant) is credentialsRefused without the assertion")
    func googleRefused() async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/token", with: .json(["error": "invalid_grant", "error_description": "Invalid JWT Signature."], status: 400))
            do throws(CloudAuthError) {
                _ = try await Self.tokens(base).google(serviceAccount: Self.serviceAccount(), deadline: Self.deadline())
                Issue.record("a refused key minted a login")
            } catch {
                guard case .credentialsRefused(let service, 400, _) = error else { Issue.record("got \(error)"); return }
                #expect(service == "Google OAuth token")
                #expect(!error.description.contains("BEGIN"))
            }
        }
    }

    // MARK: - ACR

    @Test("ACR: an ARM token exchanged at the registry for a refresh token; the all-zero user")
    func azure() async throws {
        let exp = Self.date.addingTimeInterval(3 * 3600)
        let refresh = Self.jwt(exp: exp)
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/\(Self.tenant)/oauth2/v2.0/token", with: .json(["token_type": "Bearer", "expires_in": 3599, "access_token": Self.armToken]))
            cloud.answer("POST", "/oauth2/exchange", with: .json(["refresh_token": refresh]))
            let login = try await Self.tokens(base).azure(servicePrincipal: Self.principal, registry: Self.acrRegistry, deadline: Self.deadline())
            #expect(login.username == "00000000-0000-0000-0000-000000000000")
            #expect(login.password == refresh)
            #expect(login.expiresAt == exp, "the refresh token's own exp")

            let arm = try #require(cloud.requests(to: "/\(Self.tenant)/oauth2/v2.0/token").first)
            #expect(arm.formFields["scope"] == "https://management.azure.com/.default")
            #expect(arm.formFields["grant_type"] == "client_credentials")
            let exchange = try #require(cloud.requests(to: "/oauth2/exchange").first)
            #expect(exchange.headers["content-type"] == "application/x-www-form-urlencoded")
            #expect(exchange.formFields == [
                "grant_type": "access_token", "service": Self.acrRegistry, "tenant": Self.tenant, "access_token": Self.armToken,
            ])
        }
    }

    @Test("ACR: a refresh token that is not a JWT is taken to live 3 hours")
    func azureOpaqueToken() async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/\(Self.tenant)/oauth2/v2.0/token", with: .json(["token_type": "Bearer", "expires_in": 3599, "access_token": Self.armToken]))
            cloud.answer("POST", "/oauth2/exchange", with: .json(["refresh_token": "opaque-refresh-token"]))
            let login = try await Self.tokens(base).azure(servicePrincipal: Self.principal, registry: Self.acrRegistry, deadline: Self.deadline())
            #expect(login.expiresAt == Self.date.addingTimeInterval(3 * 3600))
        }
    }

    @Test("ACR: an exchange the registry refuses is credentialsRefused without the ARM token or the client secret")
    func azureRefused() async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/\(Self.tenant)/oauth2/v2.0/token", with: .json(["token_type": "Bearer", "expires_in": 3599, "access_token": Self.armToken]))
            cloud.answer("POST", "/oauth2/exchange", with: .json(["error": "unauthorized_client", "error_description": "token \(Self.armToken) rejected"], status: 401))
            do throws(CloudAuthError) {
                _ = try await Self.tokens(base).azure(servicePrincipal: Self.principal, registry: Self.acrRegistry, deadline: Self.deadline())
                Issue.record("a refused exchange minted a login")
            } catch {
                guard case .credentialsRefused(let service, 401, _) = error else { Issue.record("got \(error)"); return }
                #expect(service == "ACR token exchange")
                #expect(!error.description.contains(Self.armToken), "\(error)")
                #expect(!error.description.contains(Self.clientSecret))
            }
        }
    }

    @Test("ACR: a refused client secret stops before the exchange")
    func azureClientSecretRefused() async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/\(Self.tenant)/oauth2/v2.0/token", with: .json([
                "error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.",
            ], status: 401))
            await #expect(throws: CloudAuthError.self) {
                try await Self.tokens(base).azure(servicePrincipal: Self.principal, registry: Self.acrRegistry, deadline: Self.deadline())
            }
            #expect(cloud.requests(to: "/oauth2/exchange").isEmpty)
        }
    }

    // MARK: - Caching

    /// Counts calls across tasks.
    final class Counter: Sendable {
        let value = Mutex(0)
        func next() -> Int { value.withLock { $0 += 1; return $0 } }
        var count: Int { value.withLock { $0 } }
    }

    /// A clock tests move by hand.
    final class ManualClock: Sendable {
        let now = Mutex(RegistryTokensTests.date)
        func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
        var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
    }

    @Test("A minted login is reused until the margin before it expires, then minted again")
    func cacheRenewsBeforeExpiry() async throws {
        let clock = ManualClock()
        try await FakeCloud.run { cloud, base in
            let counter = Counter()
            cloud.answer("POST", "/") { _ in
                let n = counter.next()
                return Self.ecrAnswer(password: "password-\(n)", expiresAt: clock.read().addingTimeInterval(12 * 3600))
            }
            let cache = RegistryLoginCache<String>(refreshMargin: 600, clock: clock.read)
            let tokens = Self.tokens(base, clock: clock.read)
            let mint: @Sendable () async throws -> RegistryLogin = {
                try await tokens.ecr(credentials: Self.credentials, registry: Self.ecrRegistry, deadline: Self.deadline())
            }
            func password(_ key: String) async throws -> String { try await cache.login(for: key, mint: mint).password }
            let first = try await password("int_1")
            #expect(first == "password-1")
            clock.advance(12 * 3600 - 601)
            let beforeMargin = try await password("int_1")
            #expect(beforeMargin == "password-1", "still more than the margin to live")
            #expect(cloud.requests(to: "/").count == 1)
            clock.advance(2)
            let insideMargin = try await password("int_1")
            #expect(insideMargin == "password-2", "inside the margin: minted again")
            let again = try await password("int_1")
            #expect(again == "password-2")
            #expect(cloud.requests(to: "/").count == 2)
            let other = try await password("int_2")
            #expect(other == "password-3", "another key mints its own")
        }
    }

    @Test("Concurrent requests share one mint; a failed mint is not kept")
    func cacheSharesMintsAndForgetsFailures() async throws {
        let cache = RegistryLoginCache<String>(refreshMargin: 60, clock: { Self.date })
        let mints = Counter()
        let logins = try await withThrowingTaskGroup(of: RegistryLogin.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await cache.login(for: "k") {
                        _ = mints.next()
                        try await Task.sleep(for: .milliseconds(100))
                        return RegistryLogin(username: "u", password: "p", expiresAt: Self.date.addingTimeInterval(3600))
                    }
                }
            }
            var all: [RegistryLogin] = []
            for try await login in group { all.append(login) }
            return all
        }
        #expect(logins.count == 8)
        #expect(mints.count == 1)

        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await cache.login(for: "bad") { throw Refused() } }
        let retried = try await cache.login(for: "bad") { RegistryLogin(username: "u", password: "q", expiresAt: Self.date.addingTimeInterval(3600)) }
        #expect(retried.password == "q", "the failure was not cached")
    }
}
