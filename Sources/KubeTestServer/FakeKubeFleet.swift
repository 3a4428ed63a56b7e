import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Many independent clusters in one process, each under `/clusters/{id}` (as a cluster proxy such as Rancher's
/// serves them): `https://127.0.0.1:PORT/clusters/c-17/api/v1/namespaces`. A kubeconfig's `server` carries that
/// path. Each cluster is a `FakeKubeAPIServer` of its own (objects, resourceVersions, watch history, token).
public final class FakeKubeFleet: FakeServing {
    public let ids: [String]
    let clusters: [String: FakeKubeAPIServer]
    /// The load `POST /debug/churn` starts over every cluster of the fleet.
    let churnControl = DebugRoutes.Churn()

    /// Clusters by id, in this order.
    public init(_ clusters: [(id: String, cluster: FakeKubeAPIServer)]) {
        ids = clusters.map(\.id)
        self.clusters = Dictionary(clusters.map { ($0.id, $0.cluster) }, uniquingKeysWith: { a, _ in a })
    }

    /// `count` clusters `c-0`…`c-(count-1)`, each made by `make` from its index.
    public convenience init(count: Int, _ make: (Int) -> FakeKubeAPIServer) {
        self.init((0..<count).map { (id: "c-\($0)", cluster: make($0)) })
    }

    public subscript(id: String) -> FakeKubeAPIServer? { clusters[id] }
    public var all: [FakeKubeAPIServer] { ids.compactMap { clusters[$0] } }

    /// A cluster's server URL under the fleet's base URL.
    public static func url(_ base: URL, cluster id: String) -> URL { base.appending(path: "clusters/\(id)") }

    // MARK: - Running

    public func application(port: Int, onReady: @escaping @Sendable (URL) -> Void) throws -> some ApplicationProtocol {
        let router = Router()
        for method in [HTTPRequest.Method.get, .post, .patch, .delete] {
            router.on("**", method: method) { request, _ in try await self.respond(request) }
        }
        return try FakeKubeAPIServer.application(router: router, tls: FakeKubeAPIServer.tlsConfiguration(requireClientCertificate: false),
                                                 port: port, onReady: onReady)
    }

    func respond(_ request: Request) async throws -> Response {
        let path = request.uri.path
        if path.hasPrefix(DebugRoutes.prefix) { return DebugRoutes.respond(request, path: path, clusters: all, churn: churnControl) }
        let parts = path.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "clusters", let cluster = clusters[String(parts[1])] else { return FakeKubeAPIServer.notFound }
        return try await cluster.respond(request, path: parts.count == 3 ? "/" + parts[2] : "/")
    }

    // MARK: - Load

    /// Changes Deployments at `perSecond` (spread at random over every cluster) until the task is cancelled.
    public func churn(perSecond: Double) async {
        await FakeKubeAPIServer.churn(all, perSecond: perSecond)
    }
}

extension FakeKubeAPIServer {
    /// What one load-generator step changed.
    public struct Churned: Sendable {
        public var namespace: String
        public var name: String
        public var replicas: Bool
    }

    /// One change to a random Deployment, as a client would make it: half the time a bumped annotation
    /// (`gantry.dev/churn`), else replicas cycled 1→2→3→1 (the controller then scales its ReplicaSet and pods).
    /// Nil when the cluster has no Deployment.
    @discardableResult
    public func churnOnce<R: RandomNumberGenerator>(using random: inout R) -> Churned? {
        let replicas = Bool.random(using: &random)
        let pick = UInt64.random(in: 0..<UInt64.max, using: &random)
        guard let type = ResourceType.named("deployments") else { return nil }
        return state.withLock { state -> Churned? in
            let deployments = state.scenario.items("deployments", namespace: nil)
            guard !deployments.isEmpty else { return nil }
            let deployment = deployments[Int(pick % UInt64(deployments.count))]
            let metadata = deployment["metadata"] as? Object ?? [:]
            guard let namespace = metadata["namespace"] as? String, let name = metadata["name"] as? String else { return nil }
            _ = state.edit(type, namespace: namespace, name: name, manager: "load-generator") { object in
                if replicas {
                    var spec = object["spec"] as? Object ?? [:]
                    spec["replicas"] = ((spec["replicas"] as? Int ?? 1) % 3) + 1
                    object["spec"] = spec
                } else {
                    var metadata = object["metadata"] as? Object ?? [:]
                    var annotations = metadata["annotations"] as? Object ?? [:]
                    annotations["gantry.dev/churn"] = String((Int(annotations["gantry.dev/churn"] as? String ?? "") ?? 0) + 1)
                    metadata["annotations"] = annotations
                    object["metadata"] = metadata
                }
            }
            return Churned(namespace: namespace, name: name, replicas: replicas)
        }
    }

    /// Changes Deployments at `perSecond`, each in a cluster picked at random, until the task is cancelled.
    public static func churn(_ clusters: [FakeKubeAPIServer], perSecond: Double) async {
        guard !clusters.isEmpty, perSecond > 0 else { return }
        var random = SystemRandomNumberGenerator()
        let clock = ContinuousClock()
        let start = clock.now
        var done = 0
        while !Task.isCancelled {
            let due = Int((clock.now - start) / .seconds(1) * perSecond)
            while done < due {
                clusters.randomElement(using: &random)?.churnOnce(using: &random)
                done += 1
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Brings every Deployment to the settled state the controllers would leave it in (its ReplicaSet, ready
    /// pods, status) without events or watch history: a cluster that has been running for a while.
    public func settle() {
        state.withLock { state in
            state.journaling = false
            state.recordsEvents = false
            for deployment in state.scenario.items("deployments", namespace: nil) {
                let metadata = deployment["metadata"] as? Object ?? [:]
                state.syncDeployment(namespace: metadata["namespace"] as? String ?? "", name: metadata["name"] as? String ?? "")
            }
            state.journaling = true
            state.recordsEvents = true
            state.history = WatchHistory(limit: state.history.limit, startingAt: state.resourceVersion, maxAge: state.history.maxAge)
        }
    }

    /// At most this many Events are kept; the oldest go first (as DELETED watch events).
    public func setEventLimit(_ limit: Int) { state.withLock { $0.eventLimit = max(limit, 1) } }

    /// How many watches are open now.
    public var watchCount: Int { state.withLock { $0.watchers.count } }

    /// How many watches were ever opened (subscribed: their starting point is set).
    public var watchesStarted: Int { state.withLock { $0.nextWatcherID } }

    /// The resourceVersion of the latest change (what a list answers as its `metadata.resourceVersion`).
    public var resourceVersion: String { state.withLock { String($0.resourceVersion) } }
}

extension FakeKubeAPIServer.Scenario {
    /// `namespaces` namespaces (`ns-0`…) of `deployments` Deployments each (`app-0`…, `replicas` replicas), for
    /// benchmarks of many clusters; `settle()` then gives them ReplicaSets and pods.
    public static func fleet(namespaces: Int, deployments: Int, replicas: Int = 1) -> Self {
        var scenario = Self()
        scenario.namespaces = [KubeFixtures.namespace("default"), KubeFixtures.namespace("kube-system")]
            + (0..<namespaces).map { KubeFixtures.namespace("ns-\($0)") }
        for namespace in 0..<namespaces {
            scenario.add("deployments", in: "ns-\(namespace)", (0..<deployments).map {
                KubeFixtures.deployment("app-\($0)", namespace: "ns-\(namespace)", replicas: replicas, generation: 1, revision: 1)
            })
        }
        scenario.ingressClasses = [KubeFixtures.ingressClass("nginx", controller: "k8s.io/ingress-nginx", isDefault: true)]
        return scenario
    }
}
