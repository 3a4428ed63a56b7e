import AsyncHTTPClient
import Foundation
import KubeTestServer
import NIOCore
import Synchronization
import Testing
@testable import KubeClient

@Suite("EKS credentials")
struct EKSAuthTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let sessionToken = "FwoGZXIvYXdzEXAMPLE-session-token/with+odd=chars"
    static let credentials = AWSSigner.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: secret)
    static let date = Date(timeIntervalSince1970: 1_440_938_160) // 2015-08-30T12:36:00Z
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func auth(_ credentials: AWSSigner.Credentials = credentials, endpoints: CloudEndpoints = .production) throws -> EKSAuth {
        try EKSAuth(credentials: credentials, region: "us-east-1", clusterName: "my-cluster", httpClient: .shared,
                    endpoints: endpoints, clock: { date })
    }

    static func deadline() -> NIODeadline { .now() + .seconds(10) }

    /// The presigned URL inside a token, decoded as a cluster's authenticator decodes it.
    static func presignedURL(in token: String) throws -> URLComponents {
        #expect(token.hasPrefix("k8s-aws-v1."))
        var encoded = String(token.dropFirst("k8s-aws-v1.".count)).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        #expect(!encoded.contains("="))
        encoded += String(repeating: "=", count: (4 - encoded.count % 4) % 4)
        let url = try #require(Data(base64Encoded: encoded).flatMap { String(data: $0, encoding: .utf8) })
        return try #require(URLComponents(string: url))
    }

    // MARK: - Token

    @Test("The token at a fixed clock is exactly the expected presigned STS URL")
    func exactToken() throws {
        let token = try Self.auth().token(at: Self.date)
        // Derived independently (Python hashlib/hmac over the canonical request written out in the next
        // test, then base64url): ...&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=393dffdc...7cb79
        #expect(token.value == "k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BS0lERVhBTVBMRSUyRjIwMTUwODMwJTJGdXMtZWFzdC0xJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAxNTA4MzBUMTIzNjAwWiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TaWduYXR1cmU9MzkzZGZmZGNmODUxYmVlYjM3M2YwNGY5MzNiMjZmZmExZDQ4MDQ5MGYxMTM4NWEzZGJkNTA5NjE3YmI3Y2I3OQ")
    }

    @Test("The token's URL carries the cluster-bound GetCallerIdentity and a signature that recomputes independently")
    func tokenVerifiesIndependently() throws {
        let components = try Self.presignedURL(in: try Self.auth().token(at: Self.date).value)
        #expect(components.scheme == "https")
        #expect(components.host == "sts.us-east-1.amazonaws.com")
        #expect(components.path == "/")
        let items = Dictionary(uniqueKeysWithValues: (components.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        #expect(items["Action"] == "GetCallerIdentity")
        #expect(items["Version"] == "2011-06-15")
        #expect(items["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256")
        #expect(items["X-Amz-Credential"] == "AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request")
        #expect(items["X-Amz-Date"] == "20150830T123600Z")
        #expect(items["X-Amz-Expires"] == "60")
        #expect(items["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id")
        #expect(items["X-Amz-Security-Token"] == nil)

        // The canonical request STS will rebuild, written out by hand rather than by the signer.
        let canonical = "GET\n/\n"
            + "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20150830T123600Z"
            + "&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id\n"
            + "host:sts.us-east-1.amazonaws.com\nx-k8s-aws-id:my-cluster\n\nhost;x-k8s-aws-id\n\(Self.emptyHash)"
        let stringToSign = AWSSigner.stringToSign(canonicalRequest: canonical, amzDate: "20150830T123600Z",
                                                  scope: "20150830/us-east-1/sts/aws4_request")
        let key = AWSSigner.signingKey(secretAccessKey: Self.secret, dateStamp: "20150830", region: "us-east-1", service: "sts")
        #expect(items["X-Amz-Signature"] == AWSSigner.signature(of: stringToSign, key: key))
    }

    @Test("Temporary credentials put their session token in the signed query")
    func sessionToken() throws {
        var credentials = Self.credentials
        credentials.sessionToken = Self.sessionToken
        let components = try Self.presignedURL(in: try Self.auth(credentials).token(at: Self.date).value)
        let items = Dictionary(uniqueKeysWithValues: (components.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        #expect(items["X-Amz-Security-Token"] == Self.sessionToken)

        let canonical = "GET\n/\n"
            + "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20150830T123600Z"
            + "&X-Amz-Expires=60&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE-session-token%2Fwith%2Bodd%3Dchars"
            + "&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id\n"
            + "host:sts.us-east-1.amazonaws.com\nx-k8s-aws-id:my-cluster\n\nhost;x-k8s-aws-id\n\(Self.emptyHash)"
        let stringToSign = AWSSigner.stringToSign(canonicalRequest: canonical, amzDate: "20150830T123600Z",
                                                  scope: "20150830/us-east-1/sts/aws4_request")
        let key = AWSSigner.signingKey(secretAccessKey: Self.secret, dateStamp: "20150830", region: "us-east-1", service: "sts")
        #expect(items["X-Amz-Signature"] == AWSSigner.signature(of: stringToSign, key: key))
    }

    @Test("The token is valid for 15 minutes less the margin")
    func tokenExpiry() throws {
        #expect(try Self.auth().token(at: Self.date).expiresAt == Self.date.addingTimeInterval(14 * 60))
    }

    @Test("Names that could escape the URL are refused before any call")
    func invalidNames() {
        #expect(throws: CloudAuthError.self) {
            try EKSAuth(credentials: Self.credentials, region: "us-east-1.evil.example/", clusterName: "c", httpClient: .shared)
        }
        #expect(throws: CloudAuthError.self) {
            try EKSAuth(credentials: Self.credentials, region: "us-east-1", clusterName: "../other", httpClient: .shared)
        }
    }

    // MARK: - DescribeCluster

    static func describeAnswer(endpoint: String? = "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com") -> FakeCloud.Reply {
        var cluster: [String: any Sendable] = [
            "name": "my-cluster", "status": endpoint == nil ? "CREATING" : "ACTIVE",
            "certificateAuthority": ["data": Data(TestCertificates.clusterCA.utf8).base64EncodedString()],
        ]
        if let endpoint { cluster["endpoint"] = endpoint }
        return .json(["cluster": cluster])
    }

    @Test("DescribeCluster gives the endpoint and CA, asked with a SigV4 GET for service eks")
    func describeCluster() async throws {
        try await FakeCloud.run { fake, base in
            fake.answer("GET", "/clusters/my-cluster", with: Self.describeAnswer())
            let found = try await Self.auth(endpoints: .allAt(base)).describeCluster(deadline: Self.deadline())
            #expect(found.server == "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com")
            #expect(found.caPEM == TestCertificates.clusterCA)

            let request = try #require(fake.requests(to: "/clusters/my-cluster").first)
            #expect(request.method == "GET")
            #expect(request.headers["x-amz-date"] == "20150830T123600Z")
            let authorization = try #require(request.headers["authorization"])
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/eks/aws4_request, SignedHeaders=host;x-amz-date, Signature="))

            // The signature covers what actually arrived.
            let canonical = "GET\n/clusters/my-cluster\n\nhost:\(request.headers["host"] ?? "")\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(Self.emptyHash)"
            let key = AWSSigner.signingKey(secretAccessKey: Self.secret, dateStamp: "20150830", region: "us-east-1", service: "eks")
            let expected = AWSSigner.signature(of: AWSSigner.stringToSign(canonicalRequest: canonical, amzDate: "20150830T123600Z",
                                                                         scope: "20150830/us-east-1/eks/aws4_request"), key: key)
            #expect(authorization.hasSuffix("Signature=\(expected)"))
        }
    }

    @Test("Cluster access joins DescribeCluster and a fresh token")
    func clusterAccess() async throws {
        try await FakeCloud.run { fake, base in
            fake.answer("GET", "/clusters/my-cluster", with: Self.describeAnswer())
            let auth = try Self.auth(endpoints: .allAt(base))
            let access = try await auth.clusterAccess(deadline: Self.deadline())
            #expect(access.server == "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com")
            #expect(access.token.hasPrefix("k8s-aws-v1."))
            #expect(access.expiresAt == Self.date.addingTimeInterval(14 * 60))
        }
    }

    @Test("A 403 from EKS is a refusal of the credentials, and its message carries no secret")
    func refused() async throws {
        let credentials = AWSSigner.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Self.secret, sessionToken: Self.sessionToken)
        try await FakeCloud.run { fake, base in
            // A cloud that echoes what it was sent must not get the secret into the error either.
            fake.answer("GET", "/clusters/my-cluster", with: .json(
                ["__type": "UnrecognizedClientException", "message": "The security token \(Self.sessionToken) included in the request is invalid."],
                status: 403))
            let error = await #expect(throws: CloudAuthError.self) {
                try await Self.auth(credentials, endpoints: .allAt(base)).describeCluster(deadline: Self.deadline())
            }
            guard case let .credentialsRefused(service, status, _) = error else {
                Issue.record("expected credentialsRefused, got \(String(describing: error))")
                return
            }
            #expect(service == "EKS DescribeCluster")
            #expect(status == 403)
            let text = String(describing: error!)
            #expect(text.contains("UnrecognizedClientException"))
            #expect(!text.contains(Self.sessionToken))
            #expect(!text.contains(Self.secret))
        }
    }

    @Test("Another error status is a cloud error")
    func serverError() async throws {
        try await FakeCloud.run { fake, base in
            fake.answer("GET", "/clusters/my-cluster", with: .json(["message": "internal failure"], status: 500))
            let error = await #expect(throws: CloudAuthError.self) {
                try await Self.auth(endpoints: .allAt(base)).describeCluster(deadline: Self.deadline())
            }
            #expect(error == .cloudError(service: "EKS DescribeCluster", status: 500, detail: "internal failure"))
        }
    }

    @Test("A cluster still being created, with no endpoint, is a cloud error that says so")
    func noEndpointYet() async throws {
        try await FakeCloud.run { fake, base in
            fake.answer("GET", "/clusters/my-cluster", with: Self.describeAnswer(endpoint: nil))
            let error = await #expect(throws: CloudAuthError.self) {
                try await Self.auth(endpoints: .allAt(base)).describeCluster(deadline: Self.deadline())
            }
            #expect(String(describing: error!).contains("CREATING"))
        }
    }

    @Test("A cloud nobody answers at is unreachable")
    func unreachable() async throws {
        let error = await #expect(throws: CloudAuthError.self) {
            // The HTTP client retries a refused connection until the deadline, so keep it short.
            try await Self.auth(endpoints: .allAt("http://127.0.0.1:1")).describeCluster(deadline: .now() + .seconds(1))
        }
        #expect(String(describing: error!).hasPrefix("EKS DescribeCluster could not be reached: "))
        guard case .cloudUnreachable(service: "EKS DescribeCluster", _) = error else {
            Issue.record("expected cloudUnreachable, got \(String(describing: error))")
            return
        }
    }
}

/// `TokenCache` sits beside the EKS provider, whose 15-minute tokens are the ones most often re-minted.
@Suite("TokenCache")
struct TokenCacheTests {
    /// A clock tests move by hand.
    final class ManualClock: Sendable {
        private let now = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
        func read() -> Date { now.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    static func access(_ token: String, expiresAt: Date) -> ClusterAccess {
        ClusterAccess(server: "https://cluster.example", caPEM: TestCertificates.clusterCA, token: token, expiresAt: expiresAt)
    }

    @Test("Two concurrent requests for a missing key mint once")
    func coalesces() async throws {
        let clock = ManualClock()
        let cache = TokenCache<String>(clock: clock.read)
        let mints = Mutex(0)
        let gateOpen = Mutex(false)
        let mint: @Sendable () async throws -> ClusterAccess = {
            let count = mints.withLock { $0 += 1; return $0 }
            // Held until both callers are waiting.
            while !gateOpen.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            return Self.access("token-\(count)", expiresAt: clock.read().addingTimeInterval(900))
        }

        async let first = cache.access(for: "cluster-a", mint: mint)
        while mints.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        // The first mint is running and held: the second request can only join it or start another.
        async let second = cache.access(for: "cluster-a", mint: mint)
        try await Task.sleep(for: .milliseconds(100))
        gateOpen.withLock { $0 = true }
        let (a, b) = try await (first, second)
        #expect(a.token == "token-1")
        #expect(b.token == "token-1")
        #expect(mints.withLock { $0 } == 1)
    }

    @Test("A cached access is served until the margin before it expires, then minted again")
    func expiry() async throws {
        let clock = ManualClock()
        let cache = TokenCache<String>(refreshMargin: 60, clock: clock.read)
        let mints = Mutex(0)
        let mint: @Sendable () async throws -> ClusterAccess = {
            let count = mints.withLock { $0 += 1; return $0 }
            return Self.access("token-\(count)", expiresAt: clock.read().addingTimeInterval(900))
        }
        #expect(try await cache.access(for: "k", mint: mint).token == "token-1")
        clock.advance(839) // 61 s left: still served
        #expect(try await cache.access(for: "k", mint: mint).token == "token-1")
        clock.advance(2) // 59 s left: inside the margin
        #expect(try await cache.access(for: "k", mint: mint).token == "token-2")
        #expect(mints.withLock { $0 } == 2)
    }

    @Test("Keys are cached apart, and a failed mint is not cached")
    func keysAndFailures() async throws {
        let clock = ManualClock()
        let cache = TokenCache<String>(clock: clock.read)
        let failing: @Sendable () async throws -> ClusterAccess = {
            throw CloudAuthError.cloudUnreachable(service: "test", reason: "down")
        }
        await #expect(throws: CloudAuthError.self) { try await cache.access(for: "a", mint: failing) }
        let a = try await cache.access(for: "a") { Self.access("a", expiresAt: clock.read().addingTimeInterval(900)) }
        let b = try await cache.access(for: "b") { Self.access("b", expiresAt: clock.read().addingTimeInterval(900)) }
        #expect(a.token == "a")
        #expect(b.token == "b")
        await cache.invalidate("a")
        let again = try await cache.access(for: "a") { Self.access("a2", expiresAt: clock.read().addingTimeInterval(900)) }
        #expect(again.token == "a2")
    }

    @Test("Cluster access and tokens describe themselves without the token")
    func redaction() {
        let access = ClusterAccess(server: "https://cluster.example", caPEM: TestCertificates.clusterCA, token: "super-secret-bearer",
                                   expiresAt: Date(timeIntervalSince1970: 0), clientCertificatePEM: "cert", clientKeyPEM: "secret-client-key")
        let token = CloudToken(value: "super-secret-bearer", expiresAt: Date(timeIntervalSince1970: 0))
        var dumped = ""
        dump(access, to: &dumped)
        dump(token, to: &dumped)
        for text in [String(describing: access), String(reflecting: access), "\(access)", String(describing: token), String(reflecting: token), dumped] {
            #expect(!text.contains("super-secret-bearer"))
            #expect(!text.contains("secret-client-key"))
        }
        #expect(String(describing: access).contains("https://cluster.example"))
    }
}
