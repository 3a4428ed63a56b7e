import Foundation
import Hummingbird
import Synchronization

/// What the scale benchmark (bench/scale.py) asks the test server, with no token, at `/debug/…` (on a fleet at the
/// base URL, beside `/clusters/…`):
///
/// - `GET /debug/requests`: requests served since the process started, by verb, without keeping a log that grows with
///   every request, plus the watches open now:
///
///       {"list": 120, "watch": 500, "get": 3, "patch": 1, "create": 0, "delete": 0, "other": 2,
///        "listByResource": {"deployments": 100, …}, "watchByResource": {"deployments": 500, …},
///        "openWatches": 500, "openDeploymentWatches": 500, "clusters": 500, "clustersWatchingDeployments": 500,
///        "churnPerSecond": 0}
///
///   A LIST is a GET of a collection without `watch`; a WATCH a GET with `watch=1|true`; a GET names one object. Each
///   fake cluster counts its own; a fleet answers the sum over its clusters.
/// - `POST /debug/churn?perSecond=R`: from now on R Deployment changes a second spread over every cluster, as `--churn R`
///   (which keeps running on its own); 0 stops them. Answers `{"churnPerSecond": R}`.
enum DebugRoutes {
    static let prefix = "/debug/"

    /// The answer for a `/debug/…` request on `clusters`.
    static func respond(_ request: Request, path: String, clusters: [FakeKubeAPIServer], churn: Churn) -> Response {
        switch (request.method, path) {
        case (.get, "/debug/requests"):
            return RequestCounters.response(clusters, churn: churn.rate)
        case (.post, "/debug/churn"):
            guard let rate = request.uri.queryParameters["perSecond"].flatMap({ Double(String($0)) }), rate >= 0 else {
                return FakeKubeAPIServer.status(400, reason: "BadRequest", message: "perSecond must be a number ≥ 0")
            }
            churn.set(rate, clusters)
            return FakeKubeAPIServer.json(["churnPerSecond": rate] as FakeKubeAPIServer.Object)
        default:
            return FakeKubeAPIServer.notFound
        }
    }

    /// The load generator the benchmark turns on and off.
    final class Churn: Sendable {
        let running = Mutex<(rate: Double, task: Task<Void, Never>?)>((0, nil))

        var rate: Double { running.withLock { $0.rate } }

        func set(_ rate: Double, _ clusters: [FakeKubeAPIServer]) {
            running.withLock { running in
                running.task?.cancel()
                running = (rate, rate > 0 ? Task { await FakeKubeAPIServer.churn(clusters, perSecond: rate) } : nil)
            }
        }
    }
}

/// One fake cluster's requests, by verb and resource.
final class RequestCounters: Sendable {
    struct Counts {
        var verbs: [String: Int] = [:]
        var listByResource: [String: Int] = [:]
        var watchByResource: [String: Int] = [:]
    }

    let counts = Mutex(Counts())

    /// Counts one request for `path` (after a fleet's `/clusters/{id}`).
    func record(_ request: Request, path: String) {
        let resource = ResourcePath(path.split(separator: "/").map(String.init))
        let verb: String
        switch request.method {
        case .get:
            if let resource, resource.name == nil {
                verb = ["1", "true"].contains(request.uri.queryParameters["watch"].map(String.init) ?? "") ? "watch" : "list"
            } else {
                verb = resource == nil ? "other" : "get"
            }
        case .post: verb = "create"
        case .patch: verb = "patch"
        case .delete: verb = "delete"
        default: verb = "other"
        }
        counts.withLock { counts in
            counts.verbs[verb, default: 0] += 1
            if verb == "list", let plural = resource?.type.plural { counts.listByResource[plural, default: 0] += 1 }
            if verb == "watch", let plural = resource?.type.plural { counts.watchByResource[plural, default: 0] += 1 }
        }
    }

    /// The counts summed over `clusters`, with the watches open on them now.
    static func response(_ clusters: [FakeKubeAPIServer], churn: Double) -> Response {
        let open = clusters.map { cluster in
            cluster.state.withLock { state in
                (all: state.watchers.count, deployments: state.watchers.values.count(where: { $0.plural == "deployments" }))
            }
        }
        var total = Counts()
        for cluster in clusters {
            cluster.requestCounts.counts.withLock { counts in
                total.verbs.merge(counts.verbs, uniquingKeysWith: +)
                total.listByResource.merge(counts.listByResource, uniquingKeysWith: +)
                total.watchByResource.merge(counts.watchByResource, uniquingKeysWith: +)
            }
        }
        var body: FakeKubeAPIServer.Object = [:]
        for verb in ["list", "watch", "get", "patch", "create", "delete", "other"] { body[verb] = total.verbs[verb] ?? 0 }
        body["listByResource"] = total.listByResource
        body["watchByResource"] = total.watchByResource
        body["openWatches"] = open.reduce(0) { $0 + $1.all }
        body["openDeploymentWatches"] = open.reduce(0) { $0 + $1.deployments }
        body["clusters"] = clusters.count
        body["clustersWatchingDeployments"] = open.count(where: { $0.deployments > 0 })
        body["churnPerSecond"] = churn
        return FakeKubeAPIServer.json(body)
    }
}
