import AsyncHTTPClient
import Foundation
import KubeTestServer
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

/// The fake API server's watches (resourceVersions, history, bookmarks, 410, selectors, timeouts) and its many
/// clusters in one process, read over TLS as a client reads them.
@Suite("Fake server watches")
struct FakeServerWatchTests {
    static let http: HTTPClient = {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try! NIOSSLCertificate.fromPEMBytes(Array(TestCertificates.clusterCA.utf8)))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }()

    struct Event: Sendable, CustomStringConvertible {
        var type: String
        var kind: String
        var name: String
        var resourceVersion: Int
        var labels: [String: String]
        var annotations: [String: String]
        var code: Int?
        var reason: String?
        var description: String { "\(type) \(kind)/\(name)@\(resourceVersion)" }

        init(_ line: Data) throws {
            let event = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
            type = try #require(event["type"] as? String)
            let object = try #require(event["object"] as? [String: Any])
            let metadata = object["metadata"] as? [String: Any] ?? [:]
            kind = object["kind"] as? String ?? ""
            name = metadata["name"] as? String ?? ""
            resourceVersion = Int(metadata["resourceVersion"] as? String ?? "") ?? 0
            labels = metadata["labels"] as? [String: String] ?? [:]
            annotations = metadata["annotations"] as? [String: String] ?? [:]
            code = object["code"] as? Int
            reason = object["reason"] as? String
        }
    }

    static func get(_ url: URL, _ path: String, method: HTTPMethod = .GET, body: String? = nil, contentType: String? = nil) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: url.absoluteString + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer test-cluster-token")
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        let response = try await http.execute(request, timeout: .seconds(30))
        let data = Data(buffer: try await response.body.collect(upTo: 64 << 20))
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    /// The collection's `metadata.resourceVersion`.
    static func listVersion(_ url: URL, _ path: String) async throws -> Int {
        let (status, list) = try await get(url, path)
        #expect(status == 200)
        return Int((list["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? "") ?? -1
    }

    /// Reads a watch's events until `done` says so or the server ends the stream; then drops the connection.
    static func watch(_ url: URL, _ path: String, until done: @Sendable ([Event]) -> Bool = { _ in false }) async throws -> [Event] {
        try await watchResponse(url, path, until: done).events
    }

    static func watchResponse(_ url: URL, _ path: String, until done: @Sendable ([Event]) -> Bool = { _ in false })
        async throws -> (status: Int, contentType: String, events: [Event]) {
        var request = HTTPClientRequest(url: url.absoluteString + path)
        request.headers.add(name: "Authorization", value: "Bearer test-cluster-token")
        let response = try await http.execute(request, timeout: .seconds(30))
        var events: [Event] = [], pending = Data()
        for try await buffer in response.body {
            pending.append(contentsOf: buffer.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                events.append(try Event(pending[pending.startIndex..<newline]))
                pending = Data(pending[(newline + 1)...])
            }
            if done(events) { break }
        }
        return (Int(response.status.code), response.headers.first(name: "Content-Type") ?? "", events)
    }

    /// Runs `watch` in the background once `server` has it open, then `change`s the cluster.
    static func watching(_ server: FakeKubeAPIServer, _ watch: @escaping @Sendable () async throws -> [Event],
                         then change: @Sendable () async throws -> Void) async throws -> [Event] {
        let before = server.watchesStarted
        let task = Task { try await watch() }
        let deadline = ContinuousClock.now + .seconds(20)
        while server.watchesStarted == before, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try await change()
        return try await task.value
    }

    static func scenario() -> FakeKubeAPIServer.Scenario {
        var scenario = FakeKubeAPIServer.Scenario()
        scenario.namespaces = [KubeFixtures.namespace("default"), KubeFixtures.namespace("shop"), KubeFixtures.namespace("other")]
        scenario.add("deployments", in: "shop", [KubeFixtures.deployment("web", namespace: "shop"), KubeFixtures.deployment("api", namespace: "shop")])
        scenario.add("deployments", in: "other", [KubeFixtures.deployment("web", namespace: "other")])
        scenario.ingressClasses = [KubeFixtures.ingressClass("nginx", controller: "k8s.io/ingress-nginx", isDefault: true)]
        return scenario
    }

    static func scale(_ server: FakeKubeAPIServer, _ namespace: String, _ name: String, to replicas: Int) {
        server.edit("deployments", namespace: namespace, name: name) { object in
            var spec = object["spec"] as? KubeFixtures.Object ?? [:]
            spec["replicas"] = replicas
            object["spec"] = spec
        }
    }

    @Test("Every object has its own resourceVersion below the list's; a watch from it gets later changes in order")
    func resourceVersionsAndOrder() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let (_, list) = try await Self.get(url, "/apis/apps/v1/deployments")
            let listVersion = Int((list["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? "") ?? 0
            let versions = (list["items"] as? [[String: Any]] ?? []).compactMap { Int((($0["metadata"] as? [String: Any])?["resourceVersion"] as? String) ?? "") }
            #expect(versions.count == 3 && Set(versions).count == 3 && versions.allSatisfy { $0 <= listVersion })

            // The Deployment controller's ReplicaSet and pods arrive as events too.
            let events = try await Self.watching(server, {
                try await Self.watch(url, "/apis/apps/v1/namespaces/shop/replicasets?watch=1&resourceVersion=\(listVersion)") { events in
                    events.contains { $0.type == "MODIFIED" }
                }
            }) { Self.scale(server, "shop", "web", to: 2); Self.scale(server, "shop", "web", to: 3) }
            #expect(events.first?.type == "ADDED" && events.first?.kind == "ReplicaSet")
            #expect(events.allSatisfy { $0.resourceVersion > listVersion && $0.name.hasPrefix("web-") })
            #expect(events.map(\.resourceVersion) == events.map(\.resourceVersion).sorted())

            // Replayed from history: the Deployment's own changes, after the list, in order, all namespaces.
            let replay = try await Self.watch(url, "/apis/apps/v1/deployments?watch=true&resourceVersion=\(listVersion)&timeoutSeconds=1")
            #expect(!replay.isEmpty && replay.allSatisfy { $0.type == "MODIFIED" && $0.name == "web" && $0.kind == "Deployment" })
            #expect(replay.map(\.resourceVersion) == replay.map(\.resourceVersion).sorted())
            #expect(try await Self.listVersion(url, "/apis/apps/v1/deployments") >= replay.last?.resourceVersion ?? .max)
        }
    }

    @Test("Without a resourceVersion a watch sends ADDED for what exists, then the changes; created namespaces too")
    func initialEvents() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let (status, contentType, initial) = try await Self.watchResponse(url, "/api/v1/namespaces?watch=1") { $0.count == 3 }
            #expect(status == 200 && contentType == "application/json" && initial.count == 3)
            let events = try await Self.watching(server, {
                try await Self.watch(url, "/api/v1/namespaces?watch=1") { $0.count == 4 }
            }) {
                let (status, _) = try await Self.get(url, "/api/v1/namespaces", method: .POST, body: #"{"metadata":{"name":"new-one"}}"#,
                                                     contentType: "application/json")
                #expect(status == 201)
            }
            #expect(events.map(\.type) == ["ADDED", "ADDED", "ADDED", "ADDED"])
            #expect(events.map(\.name) == ["default", "shop", "other", "new-one"])
            #expect(events.allSatisfy { $0.kind == "Namespace" })
        }
    }

    @Test("Bookmarks carry only the resourceVersion, at the configured interval; sendInitialEvents ends with an annotated one")
    func bookmarks() async throws {
        let server = FakeKubeAPIServer(Self.scenario(), bookmarkInterval: .milliseconds(100))
        try await server.run { url in
            let version = try await Self.listVersion(url, "/apis/apps/v1/deployments")
            let events = try await Self.watch(url, "/apis/apps/v1/deployments?watch=1&allowWatchBookmarks=true&resourceVersion=\(version)") { events in
                events.filter { $0.type == "BOOKMARK" }.count >= 2
            }
            #expect(events.allSatisfy { $0.type == "BOOKMARK" && $0.kind == "Deployment" && $0.name.isEmpty && $0.resourceVersion == version })

            let streamed = try await Self.watch(url, "/apis/apps/v1/deployments?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan") {
                $0.contains { $0.type == "BOOKMARK" }
            }
            #expect(streamed.map(\.type) == ["ADDED", "ADDED", "ADDED", "BOOKMARK"])
            #expect(streamed.last?.annotations["k8s.io/initial-events-end"] == "true")
        }
    }

    @Test("A watch from before the history gets one ERROR event with a 410 Expired Status")
    func expired() async throws {
        let server = FakeKubeAPIServer(Self.scenario(), historyLimit: 4)
        try await server.run { url in
            let version = try await Self.listVersion(url, "/apis/apps/v1/deployments")
            for replicas in 1...8 { Self.scale(server, "shop", "api", to: replicas) }
            let (status, _, events) = try await Self.watchResponse(url, "/apis/apps/v1/namespaces/shop/deployments?watch=1&resourceVersion=\(version)")
            #expect(status == 200)
            #expect(events.count == 1)
            #expect(events.first?.type == "ERROR" && events.first?.code == 410 && events.first?.reason == "Expired")
            // A recent version still works.
            let recent = try await Self.listVersion(url, "/apis/apps/v1/deployments")
            let later = try await Self.watch(url, "/apis/apps/v1/namespaces/shop/deployments?watch=1&resourceVersion=\(recent)&timeoutSeconds=1")
            #expect(later.isEmpty)
            let deadline = ContinuousClock.now + .seconds(10)
            while server.watchCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(server.watchCount == 0)
        }
    }

    @Test("Label and field selectors filter watches; leaving the selection is DELETED, entering it ADDED")
    func selectors() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let version = try await Self.listVersion(url, "/apis/apps/v1/deployments")
            let byName = try await Self.watching(server, {
                try await Self.watch(url, "/apis/apps/v1/deployments?watch=1&fieldSelector=metadata.name%3Dapi&resourceVersion=\(version)") { $0.count >= 1 }
            }) { Self.scale(server, "shop", "web", to: 4); Self.scale(server, "shop", "api", to: 4) }
            #expect(byName.first?.name == "api" && byName.first?.type == "MODIFIED")

            let relabel: @Sendable (String) -> Void = { tier in
                server.edit("deployments", namespace: "other", name: "web") { object in
                    var metadata = object["metadata"] as? KubeFixtures.Object ?? [:]
                    metadata["labels"] = ["app": "web", "tier": tier]
                    object["metadata"] = metadata
                }
            }
            let now = try await Self.listVersion(url, "/apis/apps/v1/deployments")
            let byLabel = try await Self.watching(server, {
                try await Self.watch(url, "/apis/apps/v1/namespaces/other/deployments?watch=1&labelSelector=tier%3Dfront&resourceVersion=\(now)") { $0.last?.type == "DELETED" }
            }) { relabel("front"); relabel("back") }
            #expect(byLabel.first?.type == "ADDED" && byLabel.last?.type == "DELETED")
            #expect(byLabel.dropFirst().dropLast().allSatisfy { $0.type == "MODIFIED" })
            #expect(byLabel.last?.labels["tier"] == "front")
            #expect(byLabel.map(\.resourceVersion) == byLabel.map(\.resourceVersion).sorted())
        }
    }

    @Test("Deleting a Deployment sends DELETED with its last state, for it and what it owned")
    func deletions() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            Self.scale(server, "shop", "web", to: 3)
            let pods = server.objects("pods", namespace: "shop").count
            #expect(pods == 3)
            let version = try await Self.listVersion(url, "/api/v1/namespaces/shop/pods")
            let events = try await Self.watching(server, {
                try await Self.watch(url, "/api/v1/namespaces/shop/pods?watch=1&resourceVersion=\(version)") { $0.count >= 3 }
            }) {
                let (status, _) = try await Self.get(url, "/apis/apps/v1/namespaces/shop/deployments/web", method: .DELETE)
                #expect(status == 200)
            }
            #expect(events.map(\.type) == ["DELETED", "DELETED", "DELETED"])
            #expect(events.allSatisfy { $0.kind == "Pod" && $0.resourceVersion > version && $0.labels["app"] == "web" })
        }
    }

    @Test("timeoutSeconds ends the stream; a closed connection frees the watch")
    func timeoutsAndDisconnects() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let start = ContinuousClock.now
            let events = try await Self.watch(url, "/apis/networking.k8s.io/v1/ingressclasses?watch=1&timeoutSeconds=1")
            #expect(events.map(\.name) == ["nginx"])
            #expect(ContinuousClock.now - start < .seconds(10))

            // The client reads one event and hangs up; the server notices and lets the watch go.
            let version = try await Self.listVersion(url, "/api/v1/events")
            _ = try await Self.watching(server, {
                try await Self.watch(url, "/api/v1/events?watch=1&resourceVersion=\(version)") { !$0.isEmpty }
            }) { Self.scale(server, "shop", "api", to: 3) }
            let deadline = ContinuousClock.now + .seconds(10)
            while server.watchCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(server.watchCount == 0)
        }
    }

    @Test("Many clusters in one process, each under /clusters/{id}, with their own objects, versions and watches")
    func fleet() async throws {
        let fleet = FakeKubeFleet(count: 3) { _ in FakeKubeAPIServer(Self.scenario()) }
        let c1 = try #require(fleet["c-1"]), c2 = try #require(fleet["c-2"])
        try await fleet.run { base in
            let one = FakeKubeFleet.url(base, cluster: "c-1"), two = FakeKubeFleet.url(base, cluster: "c-2")
            #expect(one.absoluteString.hasSuffix("/clusters/c-1"))
            let (status, _) = try await Self.get(base, "/api/v1/namespaces")
            #expect(status == 404)
            #expect(try await Self.get(base, "/clusters/c-9/api/v1/namespaces").0 == 404)
            #expect(try await Self.get(one, "/version").0 == 200)

            let version1 = try await Self.listVersion(one, "/apis/apps/v1/deployments")
            let version2 = try await Self.listVersion(two, "/apis/apps/v1/deployments")
            async let quiet = Self.watch(two, "/apis/apps/v1/deployments?watch=1&resourceVersion=\(version2)&timeoutSeconds=2")
            let events = try await Self.watching(c1, {
                try await Self.watch(one, "/apis/apps/v1/deployments?watch=1&resourceVersion=\(version1)") { $0.count >= 1 }
            }) {
                Self.scale(c1, "shop", "web", to: 5)
                // Through the path-prefixed URL too: a server-side apply.
                let (status, _) = try await Self.get(one, "/apis/apps/v1/namespaces/shop/deployments/api?fieldManager=test", method: .PATCH,
                                                     body: #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop","annotations":{"x":"y"}}}"#,
                                                     contentType: "application/apply-patch+yaml")
                #expect(status == 200)
            }
            #expect(events.first?.name == "web" && events.first?.type == "MODIFIED")
            #expect(try await quiet.isEmpty)
            #expect(c2.object("deployments", namespace: "shop", name: "web")?["spec"].flatMap { ($0 as? KubeFixtures.Object)?["replicas"] as? Int } == 2)
            #expect(c1.object("deployments", namespace: "shop", name: "api") != nil)
        }
    }

    @Test("The load generator changes Deployments; the controller follows, and watches see it")
    func churn() async throws {
        let server = FakeKubeAPIServer(.fleet(namespaces: 2, deployments: 3))
        server.settle()
        #expect(server.objects("pods", namespace: nil).count == 6)
        #expect(server.objects("events", namespace: nil).isEmpty)
        try await server.run { url in
            let version = try await Self.listVersion(url, "/apis/apps/v1/deployments")
            let events = try await Self.watching(server, {
                try await Self.watch(url, "/apis/apps/v1/deployments?watch=1&resourceVersion=\(version)") { $0.count >= 10 }
            }) {
                var random = SystemRandomNumberGenerator()
                for _ in 0..<10 { #expect(server.churnOnce(using: &random) != nil) }
            }
            #expect(events.allSatisfy { $0.type == "MODIFIED" && $0.kind == "Deployment" })
        }
    }
}
