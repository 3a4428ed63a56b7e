import Foundation
import KubeClient
import KubeTestServer
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// The client half of watch-based caches against the fake API server: `listSnapshot`, `watch` (changes,
/// 410 Expired, bookmarks, cancellation) and `Reflector` (sync, changes, re-list on 410, recovery, steady
/// state, selectors, cancellation). Waits poll a condition with a generous bound; nothing sleeps to assert.
@Suite("Watch client and reflector")
struct WatchClientTests {
    static let http = KubernetesClient.makeHTTPClient()
    static let deployments = "/apis/apps/v1/deployments"

    static func client(_ url: URL) throws -> KubernetesClient {
        try KubernetesClient(http: http, connection: ClusterConnection(server: url, caPEM: TestCertificates.clusterCA, credential: .bearer("test-cluster-token")))
    }

    static func scenario() -> FakeKubeAPIServer.Scenario {
        var scenario = FakeKubeAPIServer.Scenario()
        scenario.namespaces = [KubeFixtures.namespace("default"), KubeFixtures.namespace("shop"), KubeFixtures.namespace("other")]
        scenario.add("deployments", in: "shop", [KubeFixtures.deployment("web", namespace: "shop"), KubeFixtures.deployment("api", namespace: "shop")])
        scenario.add("deployments", in: "other", [KubeFixtures.deployment("web", namespace: "other")])
        return scenario
    }

    static func relabel(_ server: FakeKubeAPIServer, _ namespace: String, _ name: String, _ labels: [String: String]) {
        server.edit("deployments", namespace: namespace, name: name) { object in
            var metadata = object["metadata"] as? KubeFixtures.Object ?? [:]
            metadata["labels"] = labels
            object["metadata"] = metadata
        }
    }

    /// Polls `condition` until it holds or `timeout` passes; whether it held.
    static func eventually(_ timeout: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Whether `operation` finished within `timeout` (it is cancelled otherwise).
    static func finishes(within timeout: Duration, _ operation: @escaping @Sendable () async -> Void) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await operation(); return true }
            group.addTask { try? await Task.sleep(for: timeout); return false }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Reads a watch in the background until `done` says so (or the stream ends), once the server has it open.
    static func collect<Item: KubeDecodable & Sendable>(
        _ stream: AsyncThrowingStream<WatchEvent<Item>, any Error>, server: FakeKubeAPIServer,
        until done: @escaping @Sendable ([WatchEvent<Item>]) -> Bool
    ) async -> Task<[WatchEvent<Item>], any Error> {
        let before = server.watchesStarted
        let task = Task {
            var events: [WatchEvent<Item>] = []
            for try await event in stream {
                events.append(event)
                if done(events) { break }
            }
            return events
        }
        _ = await eventually { server.watchesStarted > before }
        return task
    }

    static func reflector<Item: KubeDecodable & Sendable>(_ client: KubernetesClient, _ path: String, of item: Item.Type,
                                query: [(String, String)] = [], watchTimeoutSeconds: Int = 300,
                                onChange: @escaping @Sendable (Set<String>) -> Void = { _ in },
                                key: @escaping @Sendable (Item) -> String?, namespace: @escaping @Sendable (Item) -> String?) -> Reflector<Item> {
        Reflector(client: client, path: path, query: query, key: key, namespace: namespace, onChange: onChange,
                  minimumBackoff: .milliseconds(50), maximumBackoff: .milliseconds(500), watchTimeoutSeconds: watchTimeoutSeconds,
                  logger: Logger(label: "test.reflector"))
    }

    static func rollouts(_ client: KubernetesClient, query: [(String, String)] = [], watchTimeoutSeconds: Int = 300,
                         onChange: @escaping @Sendable (Set<String>) -> Void = { _ in }) -> Reflector<KubeRollout> {
        reflector(client, deployments, of: KubeRollout.self, query: query, watchTimeoutSeconds: watchTimeoutSeconds, onChange: onChange,
                  key: { "\($0.metadata.namespace ?? "")/\($0.metadata.name)" }, namespace: { $0.metadata.namespace })
    }

    /// Runs `reflector` in a task until `body` returns, then cancels it; `body` starts once it has synced.
    static func running<Item: KubeDecodable & Sendable, T: Sendable>(_ reflector: Reflector<Item>, _ body: () async throws -> T) async throws -> T {
        let task = Task { await reflector.run() }
        #expect(await finishes(within: .seconds(30)) { await reflector.waitUntilSynced() })
        #expect(reflector.state == .synced)
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        task.cancel()
        await task.value
        return try result.get()
    }

    // MARK: - listSnapshot and watch

    @Test("listSnapshot returns every item over several pages and the first page's resourceVersion")
    func listSnapshot() async throws {
        let server = FakeKubeAPIServer(.large(deployments: KubernetesClient.pageSize + 20, pods: 0))
        try await server.run { url in
            let client = try Self.client(url)
            let snapshot = try await client.listSnapshot(Self.deployments, of: KubeRollout.self, deadline: .now() + .seconds(30))
            #expect(snapshot.items.count == KubernetesClient.pageSize + 20)
            #expect(Set(snapshot.items.map(\.metadata.name)).count == snapshot.items.count)
            let version = try #require(Int(snapshot.resourceVersion))
            #expect(server.requests.filter { $0.path == Self.deployments }.count == 2)

            FakeServerWatchTests.scale(server, "load", "svc-1", to: 1)
            let later = try await client.listSnapshot(Self.deployments, of: KubeRollout.self, deadline: .now() + .seconds(30))
            #expect(try #require(Int(later.resourceVersion)) > version)
        }
    }

    @Test("A watch delivers ADDED, MODIFIED and DELETED with rising resourceVersions")
    func watchDeliversChanges() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let client = try Self.client(url)
            let snapshot = try await client.listSnapshot(Self.deployments, of: KubeRollout.self, deadline: .now() + .seconds(30))
            let events = await Self.collect(client.watch(Self.deployments, resourceVersion: snapshot.resourceVersion, of: KubeRollout.self),
                                            server: server) { events in
                events.contains { $0.kind == .deleted && $0.object?.metadata.name == "new" }
            }
            server.update { $0.add("deployments", in: "shop", [KubeFixtures.deployment("new", namespace: "shop")]) }
            FakeServerWatchTests.scale(server, "shop", "new", to: 4)
            try await client.delete("/apis/apps/v1/namespaces/shop/deployments/new", deadline: .now() + .seconds(30))

            let seen = try await events.value.filter { $0.kind != .bookmark && $0.object?.metadata.name == "new" }
            #expect(seen.first?.kind == .added)
            #expect(seen.contains { $0.kind == .modified && $0.object?.replicas == 4 })
            #expect(seen.last?.kind == .deleted)
            let versions = seen.compactMap { Int($0.resourceVersion) }
            #expect(versions.count == seen.count && versions == versions.sorted() && versions.first! > Int(snapshot.resourceVersion)!)
            #expect(seen.allSatisfy { $0.object?.metadata.namespace == "shop" })
        }
    }

    @Test("A resourceVersion older than the history ends the watch with a 410 Expired error; so does an HTTP 410")
    func expiredWatch() async throws {
        let server = FakeKubeAPIServer(Self.scenario(), historyLimit: 4)
        try await server.run { url in
            let client = try Self.client(url)
            let snapshot = try await client.listSnapshot(Self.deployments, of: KubeRollout.self, deadline: .now() + .seconds(30))
            for replicas in 1...8 { FakeServerWatchTests.scale(server, "shop", "api", to: replicas) }

            let error = await #expect(throws: KubeError.self) {
                for try await _ in client.watch(Self.deployments, resourceVersion: snapshot.resourceVersion, of: KubeRollout.self) {}
            }
            #expect(error?.isExpired == true)
            if case .server(let status, let reason, _) = error { #expect(status == 410 && reason == "Expired") }

            let recent = try await client.listSnapshot(Self.deployments, of: KubeRollout.self, deadline: .now() + .seconds(30))
            server.inject(.init(path: Self.deployments, status: 410, times: 1))
            let answered = await #expect(throws: KubeError.self) {
                for try await _ in client.watch(Self.deployments, resourceVersion: recent.resourceVersion, of: KubeRollout.self) {}
            }
            #expect(answered?.isExpired == true)
        }
    }

    @Test("Bookmarks carry no object and advance the resourceVersion past changes to other resources")
    func bookmarksAdvance() async throws {
        let server = FakeKubeAPIServer(Self.scenario(), bookmarkInterval: .milliseconds(100))
        try await server.run { url in
            let client = try Self.client(url)
            let snapshot = try await client.listSnapshot(Self.deployments, of: KubeRollout.self, deadline: .now() + .seconds(30))
            let listed = try #require(Int(snapshot.resourceVersion))
            // A change to another resource moves the cluster's version but sends no Deployment event.
            server.update { $0.namespaces.append(KubeFixtures.namespace("extra")) }
            let events = await Self.collect(client.watch(Self.deployments, resourceVersion: snapshot.resourceVersion, of: KubeRollout.self),
                                            server: server) { events in
                events.contains { $0.kind == .bookmark && (Int($0.resourceVersion) ?? 0) > listed }
            }
            let seen = try await events.value
            #expect(seen.allSatisfy { $0.kind == .bookmark && $0.object == nil })
            #expect(seen.contains { (Int($0.resourceVersion) ?? 0) > listed })
        }
    }

    @Test("Dropping a watch's consumer cancels the request; timeoutSeconds ends the stream cleanly")
    func watchCancellationAndTimeout() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let client = try Self.client(url)
            let snapshot = try await client.listSnapshot(Self.deployments, of: KubeRollout.self, deadline: .now() + .seconds(30))
            let reading = await Self.collect(client.watch(Self.deployments, resourceVersion: snapshot.resourceVersion, of: KubeRollout.self),
                                             server: server) { _ in false }
            #expect(server.watchCount == 1)
            reading.cancel()
            _ = try? await reading.value
            #expect(await Self.eventually { server.watchCount == 0 })

            let start = ContinuousClock.now
            var changes = 0
            for try await event in client.watch(Self.deployments, resourceVersion: snapshot.resourceVersion, timeoutSeconds: 1, of: KubeRollout.self)
                where event.kind != .bookmark {
                changes += 1
            }
            #expect(changes == 0)
            #expect(ContinuousClock.now - start < .seconds(20))
        }
    }

    // MARK: - Reflector

    @Test("The reflector syncs from a LIST, then follows changes and deletions, telling which namespaces changed")
    func reflectorFollowsChanges() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let client = try Self.client(url)
            let noticed = Mutex<Set<String>>([])
            let reflector = Self.rollouts(client) { namespaces in noticed.withLock { $0.formUnion(namespaces) } }
            #expect(reflector.state == .starting)
            try await Self.running(reflector) {
                #expect(reflector.count == 3)
                #expect(Set(reflector.items(in: "shop").map(\.metadata.name)) == ["web", "api"])
                #expect(reflector.allItems().count == 3)
                #expect(noticed.withLock { $0 } == ["shop", "other"])
                noticed.withLock { $0 = [] }

                FakeServerWatchTests.scale(server, "shop", "web", to: 5)
                #expect(await Self.eventually { reflector.items(in: "shop").first { $0.metadata.name == "web" }?.replicas == 5 })
                #expect(noticed.withLock { $0 }.contains("shop"))

                try await client.delete("/apis/apps/v1/namespaces/other/deployments/web", deadline: .now() + .seconds(30))
                #expect(await Self.eventually { reflector.items(in: "other").isEmpty && reflector.count == 2 })
                #expect(noticed.withLock { $0 }.contains("other"))
                #expect(reflector.eventsReceived >= 2)
                #expect(reflector.lastEventAt != nil)
                #expect(reflector.lists == 1)
                #expect(reflector.state == .synced)
            }
        }
    }

    @Test("The reflector lists again when its watch's resourceVersion expires, and keeps following")
    func reflectorRelistsOnExpiry() async throws {
        var scenario = Self.scenario()
        scenario.add("deployments", in: "bulk", (0..<12).map { KubeFixtures.deployment("d\($0)", namespace: "bulk") })
        let server = FakeKubeAPIServer(scenario, historyLimit: 4)
        try await server.run { url in
            let client = try Self.client(url)
            let reflector = Self.rollouts(client)
            try await Self.running(reflector) {
                #expect(reflector.count == 15)
                #expect(await Self.eventually { server.watchCount == 1 })
                // Twelve changes in one step: more than the history keeps, so the open watch falls behind it.
                server.update { scenario in
                    scenario.namespaced["deployments"]?["bulk"] = (0..<12).map { index in
                        var deployment = KubeFixtures.deployment("d\(index)", namespace: "bulk")
                        var metadata = deployment["metadata"] as? KubeFixtures.Object ?? [:]
                        metadata["labels"] = ["app": "d\(index)", "wave": "2"]
                        deployment["metadata"] = metadata
                        return deployment
                    }
                }
                #expect(await Self.eventually {
                    reflector.lists >= 2 && reflector.items(in: "bulk").allSatisfy { $0.metadata.labels?["wave"] == "2" }
                })
                #expect(reflector.count == 15)
                #expect(reflector.state == .synced)

                // And the watch after the new LIST works.
                FakeServerWatchTests.scale(server, "shop", "api", to: 7)
                #expect(await Self.eventually { reflector.items(in: "shop").first { $0.metadata.name == "api" }?.replicas == 7 })
            }
        }
    }

    @Test("The reflector goes failing while the API server is down and syncs again once it is back on the same port")
    func reflectorRecoversAfterRestart() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        var serving = try await ServingOnPort.start(server, port: 0)
        let client = try Self.client(serving.url)
        let reflector = Self.rollouts(client)
        let task = Task { await reflector.run() }
        defer { task.cancel() }
        #expect(await Self.finishes(within: .seconds(30)) { await reflector.waitUntilSynced() })
        #expect(reflector.lists == 1)

        await serving.stop()
        #expect(await Self.eventually {
            if case .failing = reflector.state { return true }
            return false
        })
        // Changed while the reflector could not see it: the LIST after the restart brings it.
        FakeServerWatchTests.scale(server, "other", "web", to: 6)
        #expect(reflector.items(in: "other").first?.replicas == 2)

        serving = try await ServingOnPort.start(server, port: serving.port)
        #expect(await Self.eventually { reflector.state == .synced })
        #expect(reflector.lists >= 2)
        #expect(reflector.items(in: "other").first?.replicas == 6)
        FakeServerWatchTests.scale(server, "shop", "web", to: 9)
        #expect(await Self.eventually { reflector.items(in: "shop").first { $0.metadata.name == "web" }?.replicas == 9 })
        task.cancel()
        await task.value
        await serving.stop()
    }

    @Test("With no changes, the reflector re-watches after each watch timeout without listing again")
    func reflectorSteadyState() async throws {
        let server = FakeKubeAPIServer(Self.scenario(), bookmarkInterval: .milliseconds(200))
        try await server.run { url in
            let client = try Self.client(url)
            let reflector = Self.rollouts(client, watchTimeoutSeconds: 1)
            try await Self.running(reflector) {
                let started = server.watchesStarted
                #expect(await Self.eventually { server.watchesStarted >= started + 3 })
                #expect(reflector.lists == 1)
                #expect(reflector.eventsReceived == 0)
                #expect(reflector.state == .synced)
                let listings = server.requests.filter { $0.path == Self.deployments && !$0.query.contains("watch=") }
                #expect(listings.count == 1)
                let watches = server.requests.filter { $0.path == Self.deployments && $0.query.contains("watch=1") }
                #expect(watches.allSatisfy { $0.query.contains("allowWatchBookmarks=true") && $0.query.contains("resourceVersion=") })
            }
        }
    }

    @Test("A label selector keeps only matching pods; one that leaves the selection leaves the store")
    func reflectorLabelSelector() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let client = try Self.client(url)
            let pods = Self.reflector(client, "/api/v1/pods", of: KubePodState.self, query: [("labelSelector", "app=web")],
                                      key: { "\($0.metadata.namespace ?? "")/\($0.metadata.name)" }, namespace: { $0.metadata.namespace })
            let rollouts = Self.rollouts(client, query: [("labelSelector", "app=web")])
            try await Self.running(rollouts) {
                #expect(Set(rollouts.allItems().map { "\($0.metadata.namespace ?? "")/\($0.metadata.name)" }) == ["shop/web", "other/web"])
                Self.relabel(server, "other", "web", ["app": "legacy"])
                #expect(await Self.eventually { rollouts.count == 1 && rollouts.items(in: "other").isEmpty })
            }
            try await Self.running(pods) {
                FakeServerWatchTests.scale(server, "shop", "api", to: 4)
                FakeServerWatchTests.scale(server, "shop", "web", to: 3)
                // The controller made four api pods and three web ones in shop (and other's web kept its pods).
                #expect(await Self.eventually { pods.items(in: "shop").count == 3 })
                #expect(server.objects("pods", namespace: "shop").count == 7)
                #expect(pods.allItems().allSatisfy { $0.metadata.labels?["app"] == "web" && $0.phase != nil })
                #expect(pods.count == server.objects("pods", namespace: nil).filter { pod in
                    ((pod["metadata"] as? KubeFixtures.Object)?["labels"] as? KubeFixtures.Object)?["app"] as? String == "web"
                }.count)
            }
        }
    }

    @Test("Cancelling run() ends it promptly and closes the watch; waitUntilSynced returns when cancelled")
    func reflectorCancellation() async throws {
        let server = FakeKubeAPIServer(Self.scenario())
        try await server.run { url in
            let client = try Self.client(url)
            let reflector = Self.rollouts(client)
            let task = Task { await reflector.run() }
            #expect(await Self.finishes(within: .seconds(30)) { await reflector.waitUntilSynced() })
            #expect(await Self.eventually { server.watchCount == 1 })
            task.cancel()
            #expect(await Self.finishes(within: .seconds(5)) { await task.value })
            #expect(await Self.eventually { server.watchCount == 0 })
        }

        // Nothing listens here: the reflector keeps failing, and a waiter is freed by cancellation alone.
        let unreachable = try Self.client(URL(string: "https://127.0.0.1:1")!)
        let failing = Self.rollouts(unreachable)
        let running = Task { await failing.run() }
        #expect(await Self.eventually {
            if case .failing = failing.state { return true }
            return false
        })
        let waiter = Task { await failing.waitUntilSynced() }
        waiter.cancel()
        #expect(await Self.finishes(within: .seconds(5)) { await waiter.value })
        running.cancel()
        #expect(await Self.finishes(within: .seconds(5)) { await running.value })
        #expect(failing.count == 0)
    }
}

/// A fake API server on a port of our choosing, stopped gracefully and started again on the same port (the
/// fake's `run` always takes a fresh port).
struct ServingOnPort {
    var url: URL
    var port: Int
    let group: ServiceGroup
    let task: Task<Void, Never>

    static func start(_ server: FakeKubeAPIServer, port: Int) async throws -> ServingOnPort {
        let bound = Mutex<URL?>(nil)
        let app = try server.application(port: port) { url in bound.withLock { $0 = url } }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: app.logger))
        let task = Task { do { try await group.run() } catch {} }
        let deadline = ContinuousClock.now + .seconds(30)
        while bound.withLock({ $0 }) == nil {
            guard ContinuousClock.now < deadline else { throw KubeError.timeout }
            try await Task.sleep(for: .milliseconds(10))
        }
        let url = bound.withLock { $0 }!
        return ServingOnPort(url: url, port: url.port ?? port, group: group, task: task)
    }

    /// Drains and stops; a connection that will not drain is cut after 10 s.
    func stop() async {
        await group.triggerGracefulShutdown()
        let task = task
        let drained = await WatchClientTests.finishes(within: .seconds(10)) { await task.value }
        if !drained { task.cancel() }
        await task.value
    }
}
