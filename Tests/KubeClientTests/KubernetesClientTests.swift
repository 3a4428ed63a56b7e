import AsyncHTTPClient
import Foundation
import KubeTestServer
import NIOCore
import Testing
@testable import KubeClient

/// The Kubernetes client against the fake API server over real TLS.
@Suite("Kubernetes client")
struct KubernetesClientTests {
    static let http = KubernetesClient.makeHTTPClient()

    static func scenario(pods: Int = 3) -> FakeKubeAPIServer.Scenario {
        var scenario = FakeKubeAPIServer.Scenario()
        scenario.namespaces = [KubeFixtures.namespace("default"), KubeFixtures.namespace("shop")]
        scenario.add("pods", in: "shop", (0..<pods).map {
            KubeFixtures.pod("web-\($0)", namespace: "shop", containers: [.init(cpu: "100m", memory: "64Mi")])
        })
        scenario.add("deployments", in: "shop", [KubeFixtures.deployment("web", namespace: "shop")])
        return scenario
    }

    static func client(_ url: URL, credential: ClusterConnection.Credential = .bearer("test-cluster-token"),
                       ca: String = TestCertificates.clusterCA) throws -> KubernetesClient {
        try KubernetesClient(http: Self.http, connection: ClusterConnection(server: url, caPEM: ca, credential: credential))
    }

    static func soon(_ seconds: Int64 = 60) -> NIODeadline { .now() + .seconds(seconds) }

    /// The client's error from `work`, or nil when it succeeded.
    static func failure<T>(_ work: () async throws -> T) async -> KubeError? {
        do { _ = try await work(); return nil } catch { return error as? KubeError }
    }

    @Test("Lists over TLS that trusts the cluster CA, with the bearer token")
    func listsNamespaces() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let namespaces = try await Self.client(url).list("/api/v1/namespaces", of: KubeNamespace.self, deadline: Self.soon())
            #expect(namespaces.map(\.metadata.name) == ["default", "shop"])
            #expect(server.requests.last?.authorization == "Bearer test-cluster-token")
        }
    }

    @Test("A server whose certificate another CA signed is unreachable, not trusted")
    func refusesOtherCA() async throws {
        try await FakeKubeAPIServer(Self.scenario()).run { url in
            let error = await Self.failure {
                try await Self.client(url, ca: TestCertificates.otherCA).list("/api/v1/namespaces", of: KubeNamespace.self, deadline: Self.soon())
            }
            guard case .unreachable? = error else { Issue.record("got \(String(describing: error))"); return }
        }
    }

    @Test("A refused token is an authentication failure carrying the cluster's message")
    func refusedToken() async throws {
        try await FakeKubeAPIServer(Self.scenario()).run { url in
            let error = await Self.failure {
                try await Self.client(url, credential: .bearer("wrong")).get("/api/v1/namespaces/shop", as: KubeNamespace.self, deadline: Self.soon())
            }
            #expect(error == .authentication(status: 401, message: "Unauthorized"))
        }
    }

    @Test("A client certificate authenticates when the server requires one")
    func clientCertificate() async throws {
        let server = FakeKubeAPIServer(Self.scenario(), token: nil, requireClientCertificate: true)
        try await server.run { url in
            let certificate = ClusterConnection.Credential.clientCertificate(certificatePEM: TestCertificates.clientCertificate, keyPEM: TestCertificates.clientKey)
            let namespace = try await Self.client(url, credential: certificate).get("/api/v1/namespaces/shop", as: KubeNamespace.self, deadline: Self.soon())
            #expect(namespace.metadata.name == "shop")
            let error = await Self.failure {
                try await Self.client(url, credential: .bearer("no-certificate")).get("/api/v1/namespaces/shop", as: KubeNamespace.self, deadline: Self.soon())
            }
            guard case .unreachable? = error else { Issue.record("expected the handshake to fail, got \(String(describing: error))"); return }
        }
    }

    @Test("Lists follow continue tokens in pages of 500")
    func pagination() async throws {
        let server = FakeKubeAPIServer(Self.scenario(pods: 1_201))
        try await server.run { url in
            let pods = try await Self.client(url).list("/api/v1/namespaces/shop/pods", of: KubePod.self, deadline: Self.soon())
            #expect(pods.count == 1_201)
            #expect(Set(pods.map(\.metadata.name)).count == 1_201)
            let pages = server.requests.filter { $0.path == "/api/v1/namespaces/shop/pods" }
            #expect(pages.count == 3)
            #expect(pages.allSatisfy { $0.query.contains("limit=500") })
            #expect(pages.dropFirst().allSatisfy { $0.query.contains("continue=") })
        }
    }

    @Test("An expired continue token (410) restarts the list once, never mixing snapshots")
    func expiredContinue() async throws {
        let server = FakeKubeAPIServer(Self.scenario(pods: 700))
        server.inject(.init(path: "/api/v1/namespaces/shop/pods", status: 410, times: 1, onlyContinue: true))
        try await server.run { url in
            let pods = try await Self.client(url).list("/api/v1/namespaces/shop/pods", of: KubePod.self, deadline: Self.soon())
            #expect(pods.count == 700)
            #expect(server.requests.filter { $0.path == "/api/v1/namespaces/shop/pods" }.count == 4)
        }
    }

    @Test("GETs are retried on a plain-text 429 honouring Retry-After")
    func retriesTooManyRequests() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        server.inject(.init(path: "/api/v1/namespaces", status: 429, body: .plainText, retryAfter: 1, times: 1))
        try await server.run { url in
            let started = ContinuousClock.now
            let namespaces = try await Self.client(url).list("/api/v1/namespaces", of: KubeNamespace.self, deadline: Self.soon())
            #expect(namespaces.count == 2)
            #expect(ContinuousClock.now - started >= .seconds(1))
        }
    }

    @Test("When retries run out, the plain-text and HTML bodies are kept as the message")
    func plainTextAndHTMLFailures() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        server.inject(.init(path: "/api/v1/namespaces", status: 429, body: .plainText, retryAfter: 0))
        server.inject(.init(path: "/apis", status: 502, body: .html))
        try await server.run { url in
            let client = try KubernetesClient(http: Self.http, connection: ClusterConnection(server: url, caPEM: TestCertificates.clusterCA, credential: .bearer("test-cluster-token")), maximumRetries: 2)
            let tooMany = await Self.failure { try await client.list("/api/v1/namespaces", of: KubeNamespace.self, deadline: Self.soon()) }
            #expect(tooMany == .server(status: 429, reason: nil, message: "Too many requests, please try again later."))
            #expect(server.requests.filter { $0.path == "/api/v1/namespaces" }.count == 3)
            let badGateway = await Self.failure { try await client.get("/apis", as: APIGroupList.self, deadline: Self.soon()) }
            guard case .server(502, nil, let message)? = badGateway else { Issue.record("got \(String(describing: badGateway))"); return }
            #expect(message.contains("502 Bad Gateway"))
        }
    }

    @Test("A Status 403 is an authentication failure with the cluster's message; a 404 is not found")
    func statusBodies() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        server.inject(.init(path: "/apis/apps/v1/namespaces/shop/deployments", status: 403))
        try await server.run { url in
            let forbidden = await Self.failure {
                try await Self.client(url).list("/apis/apps/v1/namespaces/shop/deployments", of: KubeDeployment.self, deadline: Self.soon())
            }
            guard case .authentication(403, let message)? = forbidden else { Issue.record("got \(String(describing: forbidden))"); return }
            #expect(message.contains("cannot list resource"))
            let missing = await Self.failure { try await Self.client(url).get("/api/v1/namespaces/missing", as: KubeNamespace.self, deadline: Self.soon()) }
            #expect(missing == .notFound("namespaces \"missing\" not found"))
        }
    }

    @Test("A call past its deadline times out")
    func deadline() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        server.inject(.slow("/api/v1/namespaces", .seconds(30)))
        try await server.run { url in
            let started = ContinuousClock.now
            let error = await Self.failure {
                try await Self.client(url).list("/api/v1/namespaces", of: KubeNamespace.self, deadline: .now() + .milliseconds(300))
            }
            #expect(error == .timeout)
            // Far sooner than the 30 s the server would take, even on a loaded machine.
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }

    @Test("A create is never retried")
    func createNotRetried() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        server.inject(.init(path: "/api/v1/namespaces", status: 503, times: 1))
        try await server.run { url in
            let client = try Self.client(url)
            let unavailable = await Self.failure {
                try await client.create("/api/v1/namespaces", KubeNamespace(name: "new", labels: [:]), as: KubeNamespace.self, deadline: Self.soon())
            }
            guard case .server(503, _, _)? = unavailable else { Issue.record("got \(String(describing: unavailable))"); return }
            #expect(server.requests.filter { $0.method == "POST" }.count == 1)
            let created = try await client.create("/api/v1/namespaces", KubeNamespace(name: "new", labels: ["gantry.dev/managed": "true"]),
                                                  as: KubeNamespace.self, deadline: Self.soon())
            #expect(created.metadata.labels?["gantry.dev/managed"] == "true")
        }
    }

    @Test("In a pod, the service account's token and CA and the service host are used")
    func inCluster() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "pod-token\n".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try TestCertificates.clusterCA.write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        let connection = try ClusterConnection.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], directory: directory.path
        )
        #expect(connection.server.absoluteString == "https://10.96.0.1:443")
        if case .bearer(let token) = connection.credential { #expect(token == "pod-token") } else { Issue.record("expected a bearer token") }
        #expect(throws: KubeError.self) { try ClusterConnection.inCluster(environment: [:], directory: directory.path) }
    }
}
