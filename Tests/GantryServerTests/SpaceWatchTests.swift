import Foundation
import GantryServer
import GantryStorage
import KubeTestServer
import Testing

/// docs/api.md §6, "Watching clusters": spaces shared out between deployer replicas by leases in the database, and
/// status sync and live stats read from watch-fed caches instead of listing the cluster.
@Suite("Space watches")
struct SpaceWatchTests {
    /// Settings for a deployer that syncs often and renews its watch leases every second.
    static let watching = [Settings.keys.syncInterval: "0.5", Settings.keys.watchLease: "3"]

    static func spaces(_ app: TestApp, count: Int) async throws -> Set<String> {
        var ids: Set<String> = []
        for index in 0..<count {
            let reply = try await app.post("/api/spaces", ["name": "space-\(index)", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig()])
            try #require(reply.status == 201, "\(reply.text)")
            ids.insert(reply.id)
        }
        return ids
    }

    /// `count` spaces made through a Gantry that is then stopped, and the lease repository on its database: the
    /// repository is the only writer, so SQLite's one-writer lock never waits on the app under a loaded machine.
    static func withLeases(_ db: TestDatabase, spaces count: Int,
                           _ test: @Sendable @escaping (any SpaceLeaseRepository, Set<String>) async throws -> Void) async throws {
        let url = try await db.makeURL()
        let spaces = try await TestApp.run(url: url) { app in try await Self.spaces(app, count: count) }
        try await withDirectDatabase(url: url) { database in
            try await test(Repositories(database: database).spaceLeases, spaces)
        }
    }

    @Test("Two replicas share the spaces out, each space held by one", arguments: TestDatabase.all)
    func leasesShareSpaces(_ db: TestDatabase) async throws {
        try await Self.withLeases(db, spaces: 9) { leases, spaces in
            let now = Date()
            let first = try await leases.balance(owner: "a", wanted: spaces, now: now, leaseFor: 15)
            #expect(first == spaces)
            // B arrives: A gives back what is beyond its share at its next round, then B takes it.
            #expect(try await leases.balance(owner: "b", wanted: spaces, now: now, leaseFor: 15).isEmpty)
            let a = try await leases.balance(owner: "a", wanted: spaces, now: now.addingTimeInterval(1), leaseFor: 15)
            let b = try await leases.balance(owner: "b", wanted: spaces, now: now.addingTimeInterval(1), leaseFor: 15)
            #expect(a.count == 5)
            #expect(b.count == 4)
            #expect(a.isDisjoint(with: b))
            #expect(a.union(b) == spaces)
            let held = try await leases.leases(now: now.addingTimeInterval(1))
            #expect(Set(held.keys) == spaces)
            #expect(held.filter { $0.value == "a" }.count == 5)
        }
    }

    @Test("The spaces of a replica that stops renewing are taken over once its lease runs out", arguments: TestDatabase.all)
    func deadReplicaTakenOver(_ db: TestDatabase) async throws {
        try await Self.withLeases(db, spaces: 4) { leases, spaces in
            let now = Date()
            _ = try await leases.balance(owner: "a", wanted: spaces, now: now, leaseFor: 15)
            _ = try await leases.balance(owner: "b", wanted: spaces, now: now, leaseFor: 15)
            let a = try await leases.balance(owner: "a", wanted: spaces, now: now, leaseFor: 15)
            #expect(a.count == 2)
            // A dies. Within its lease B keeps its share; after it, B holds everything.
            #expect(try await leases.balance(owner: "b", wanted: spaces, now: now.addingTimeInterval(10), leaseFor: 15).count == 2)
            let after = try await leases.balance(owner: "b", wanted: spaces, now: now.addingTimeInterval(16), leaseFor: 15)
            #expect(after == spaces)
            // A space with no more work is given back.
            let fewer = Set(spaces.sorted().dropFirst())
            #expect(try await leases.balance(owner: "b", wanted: fewer, now: now.addingTimeInterval(17), leaseFor: 15) == fewer)
            #expect(try await leases.leases(now: now.addingTimeInterval(17)).count == 3)
            try await leases.release(owner: "b")
            #expect(try await leases.leases(now: now.addingTimeInterval(17)).isEmpty)
        }
    }

    @Test("Replicas balancing together never hold one space twice", arguments: TestDatabase.all)
    func concurrentBalancing(_ db: TestDatabase) async throws {
        try await Self.withLeases(db, spaces: 12) { leases, spaces in
            let now = Date()
            for round in 0..<4 {
                let at = now.addingTimeInterval(Double(round))
                let held = try await withThrowingTaskGroup(of: Set<String>.self) { group in
                    for owner in ["a", "b", "c"] {
                        group.addTask { try await leases.balance(owner: owner, wanted: spaces, now: at, leaseFor: 15) }
                    }
                    return try await group.reduce(into: [Set<String>]()) { $0.append($1) }
                }
                #expect(held.reduce(0) { $0 + $1.count } == Set(held.joined()).count, "round \(round): a space held twice")
            }
            let final = try await leases.leases(now: now.addingTimeInterval(4))
            #expect(Set(final.keys) == spaces)
            #expect(Set(final.values).count == 3)
        }
    }

    /// The values of `gantry_space_watch_healthy`, one per space.
    static func watchHealth(_ metrics: String) -> [String] {
        metrics.split(separator: "\n").filter { $0.hasPrefix("gantry_space_watch_healthy{") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) }.map { String(Int($0)) } }
    }

    /// `kubectl scale` on a Deployment of the namespace `shop`.
    static func scale(_ cluster: FakeKubeAPIServer, _ name: String, to replicas: Int) {
        cluster.edit("deployments", namespace: "shop", name: name) { object in
            var spec = object["spec"] as? [String: any Sendable] ?? [:]
            spec["replicas"] = replicas
            object["spec"] = spec
        }
    }

    /// The LIST calls the fake cluster has answered (GETs of collections that are not watches).
    static func lists(_ cluster: FakeKubeAPIServer) -> Int {
        cluster.requests.filter { request in
            request.method == "GET" && !request.query.contains("watch=") && ["/deployments", "/pods"].contains { request.path.hasSuffix($0) }
        }.count
    }

    @Test("A watched space's statuses follow the cluster within seconds, without listing it again", arguments: TestDatabase.all)
    func statusesFollowWatches(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(RuntimeTests.shop())
        try await cluster.run { url in
            try await TestApp.run(db, settings: Self.watching) { app in
                let (_, _, environment) = try await RuntimeTests.environment(app, url)
                let web = try await app.createDeployment(environment: environment, name: "web")
                let idle = try await app.createDeployment(environment: environment, name: "idle")
                let synced = try await RuntimeTests.eventually { () async throws -> Bool? in
                    let metrics = try await app.get("/metrics").text
                    let statuses = [try await app.get("/api/deployments/\(web)")["status"] as? String,
                                    try await app.get("/api/deployments/\(idle)")["status"] as? String]
                    return Self.watchHealth(metrics) == ["1"]
                        && statuses == ["running", "stopped"] ? true : nil
                }
                try #require(synced == true)
                let listsBefore = Self.lists(cluster)

                Self.scale(cluster, "web", to: 0)
                let stopped = try await RuntimeTests.eventually { () async throws -> Bool? in
                    try await app.get("/api/deployments/\(web)")["status"] as? String == "stopped" ? true : nil
                }
                #expect(stopped == true)
                // Several passes later the cluster still has not been listed: the cache answered them all.
                try await Task.sleep(for: .seconds(2))
                #expect(Self.lists(cluster) == listsBefore)
                let metrics = try await app.get("/metrics").text
                #expect(metrics.contains("gantry_spaces_leased 1"))
                #expect(metrics.contains("gantry_space_watch_events_total{space_id="))
            }
        }
    }

    @Test("Stats of a watched namespace are read from the cache, current at once", arguments: [TestDatabase.sqlite])
    func statsFromCache(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(RuntimeTests.shop())
        try await cluster.run { url in
            try await TestApp.run(db, settings: Self.watching) { app in
                let (_, _, environment) = try await RuntimeTests.environment(app, url)
                _ = try await app.createDeployment(environment: environment, name: "web")
                let first = try await RuntimeTests.eventually { () async throws -> [String: Any]? in
                    let metrics = try await app.get("/metrics").text
                    guard Self.watchHealth(metrics) == ["1"] else { return nil }
                    return try await app.get("/api/environments/\(environment)/stats").data
                }
                #expect(first?["deploymentCount"] as? Int == 5)
                #expect(first?["podCount"] as? Int == 3)
                let listsBefore = cluster.requests.count
                Self.scale(cluster, "idle", to: 2)
                // The 15-second stats cache of unwatched spaces does not hide the change: the watch brought it.
                let running = try await RuntimeTests.eventually { () async throws -> Int? in
                    let count = try await app.get("/api/environments/\(environment)/stats").data["runningCount"] as? Int
                    return count == 2 ? count : nil
                }
                #expect(running == 2)
                let calls = cluster.requests.dropFirst(listsBefore).filter { !$0.query.contains("watch=") }
                #expect(calls.isEmpty, "\(calls.map(\.path))")
            }
        }
    }

    @Test("A space whose watches cannot list falls back to listing its namespaces, and /metrics says so", arguments: [TestDatabase.sqlite])
    func brokenWatchFallsBack(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(RuntimeTests.shop())
        // The cluster-wide Deployments collection fails; each namespace's still answers.
        cluster.inject(.init(path: "/apis/apps/v1/deployments", status: 500))
        try await cluster.run { url in
            try await TestApp.run(db, settings: Self.watching) { app in
                let (_, _, environment) = try await RuntimeTests.environment(app, url)
                let web = try await app.createDeployment(environment: environment, name: "web")
                let fellBack = try await RuntimeTests.eventually { () async throws -> Bool? in
                    let metrics = try await app.get("/metrics").text
                    let status = try await app.get("/api/deployments/\(web)")["status"] as? String
                    return Self.watchHealth(metrics) == ["0"]
                        && status == "running" && Self.lists(cluster) > 0 ? true : nil
                }
                #expect(fellBack == true, "the deployment's status did not come from listing while the watch was broken")
                #expect(cluster.requests.contains { $0.path == "/apis/apps/v1/namespaces/shop/deployments" })
            }
        }
    }

    @Test("With watching off, status sync lists the cluster on every pass, as before", arguments: [TestDatabase.sqlite])
    func pollingWhenOff(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(RuntimeTests.shop())
        try await cluster.run { url in
            try await TestApp.run(db, settings: [Settings.keys.syncInterval: "0.3", Settings.keys.watchClusters: "false"]) { app in
                let (_, _, environment) = try await RuntimeTests.environment(app, url)
                let web = try await app.createDeployment(environment: environment, name: "web")
                let running = try await RuntimeTests.eventually { () async throws -> Bool? in
                    try await app.get("/api/deployments/\(web)")["status"] as? String == "running" ? true : nil
                }
                #expect(running == true)
                #expect(!cluster.requests.contains { $0.query.contains("watch=") })
                #expect(Self.lists(cluster) > 0)
            }
        }
    }

    /// LISTs (not watches) of a collection path.
    static func lists(_ cluster: FakeKubeAPIServer, of path: String) -> Int {
        cluster.requests.filter { $0.method == "GET" && $0.path == path && !$0.query.contains("watch=") }.count
    }

    @Test("A watched space's first cluster discovery starts watching its IngressClasses; later ones read them from the cache",
          arguments: [TestDatabase.sqlite])
    func discoveryFromCache(_ db: TestDatabase) async throws {
        let classes = "/apis/networking.k8s.io/v1/ingressclasses"
        try await DeployingTests.withDeployer(db, settings: DeployingTests.fast.merging(Self.watching) { $1 }) { app, cluster, environment in
            _ = try await DeployingTests.createDeployment(app, environment)
            try await DeployingTests.waitUntil("the space is watched") { Self.watchHealth(try await app.get("/metrics").text) == ["1"] }
            #expect(!cluster.requests.contains { $0.path == classes }, "IngressClasses are watched only once discovery asks")
            #expect(try await app.get("/api/environments/\(environment)/cluster-discovery").status == 200)
            try await DeployingTests.waitUntil("the IngressClasses are watched") {
                cluster.requests.contains { $0.path == classes && $0.query.contains("watch=") }
            }
            let listed = Self.lists(cluster, of: classes)
            cluster.update { $0.ingressClasses.append(KubeFixtures.ingressClass("traefik", controller: "traefik.io/ingress-controller", isDefault: false)) }
            try await DeployingTests.waitUntil("discovery shows the new class") {
                let found = try await app.get("/api/environments/\(environment)/cluster-discovery")
                let names = (found["ingressControllers"] as? [[String: Any]])?.compactMap { $0["className"] as? String }
                return names == ["nginx", "traefik"]
            }
            #expect(Self.lists(cluster, of: classes) == listed, "discovery listed the IngressClasses of a watched space")
        }
    }

    @Test("A namespace's Events are watched while a rollout in it is under way, and the timeline reads them from the cache", arguments: [TestDatabase.sqlite])
    func timelineFromCache(_ db: TestDatabase) async throws {
        let events = "/api/v1/namespaces/shop/events"
        var settings = DeployingTests.fast.merging(Self.watching) { $1 }
        // The image never pulls, so the rollout stays under way for the whole test.
        settings[Settings.keys.rolloutFailureAfter] = "600"
        try await DeployingTests.withDeployer(db, settings: settings) { app, cluster, environment in
            let deployment = try await DeployingTests.createDeployment(app, environment, ["image": "ghcr.io/acme/web:does-not-exist"])
            try await DeployingTests.waitUntil("the space is watched") { Self.watchHealth(try await app.get("/metrics").text) == ["1"] }
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await DeployingTests.waitUntil("the namespace's Events are watched") {
                cluster.requests.contains { $0.path == events && $0.query.contains("watch=") }
            }
            // Either Events API: the timeline lists events.k8s.io/v1 first, and core v1 where that is not served.
            func eventLists() -> Int { Self.lists(cluster, of: events) + Self.lists(cluster, of: "/apis/events.k8s.io/v1/namespaces/shop/events") }
            let listed = eventLists()
            try await DeployingTests.waitUntil("the timeline shows the kubelet's pull failure") {
                try await app.get("/api/deployments/\(deployment)/events").items.contains {
                    $0["source"] as? String == "kubernetes" && $0["type"] as? String == "Warning" && ($0["message"] as? String)?.contains("ImagePull") == true
                }
            }
            #expect(eventLists() == listed,
                    "the timeline listed Events that are watched")

            // A good image finishes the rollout: the Events watch stops, and the timeline lists them again.
            #expect(try await app.patch("/api/deployments/\(deployment)", ["image": "ghcr.io/acme/web:1.1"]).status == 200)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            try await DeployingTests.waitForRevision(app, deployment, 2, in: ["succeeded"])
            try await DeployingTests.waitUntil("the timeline lists Events again") {
                _ = try await app.get("/api/deployments/\(deployment)/events")
                return Self.lists(cluster, of: "/apis/events.k8s.io/v1/namespaces/shop/events") > 0
            }
        }
    }

    @Test("Two deployers watch each space once, and one takes the other's spaces when it stops", arguments: TestDatabase.all)
    func twoDeployers(_ db: TestDatabase) async throws {
        let cluster = FakeKubeAPIServer(RuntimeTests.shop())
        let url = try await db.makeURL()
        try await cluster.run { clusterURL in
            try await TestApp.run(url: url, settings: Self.watching) { first in
                let project = try await first.createProject()
                for index in 0..<4 {
                    let space = try await first.post("/api/spaces", ["name": "fleet-\(index)", "provider": "kubeconfig",
                                                                     "kubeconfig": TestApp.kubeconfig(fakeCluster: clusterURL)])
                    try #require(space.status == 201, "\(space.text)")
                    let environment = try await first.createEnvironment(project: project, space: space.id, name: "e\(index)", namespace: "shop")
                    _ = try await first.createDeployment(environment: environment, name: "web")
                }
                @Sendable func owners() async throws -> [String: String] {
                    try await withDirectDatabase(url: url) { database in
                        try await Repositories(database: database).spaceLeases.leases(now: Date())
                    }
                }
                try await TestApp.run(url: url, settings: Self.watching) { _ in
                    let shared = try await RuntimeTests.eventually { () async throws -> [String: String]? in
                        let leases = try await owners()
                        return leases.count == 4 && Set(leases.values).count == 2 ? leases : nil
                    }
                    #expect(shared != nil, "the spaces were not shared out between the two deployers")
                }
                // The second deployer stopped and gave its leases back: the first watches every space again.
                let alone = try await RuntimeTests.eventually { () async throws -> [String: String]? in
                    let leases = try await owners()
                    return leases.count == 4 && Set(leases.values).count == 1 ? leases : nil
                }
                #expect(alone != nil)
            }
        }
    }
}
