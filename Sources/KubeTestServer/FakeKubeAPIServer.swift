import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// A Kubernetes API server for tests: HTTPS with the test cluster's certificate, bearer-token or
/// client-certificate auth, discovery, the resources the deployer reads, `limit`/`continue` pagination,
/// and failures on demand. Its JSON is checked against kubectl and the Python client in the test script.
public final class FakeKubeAPIServer: FakeServing {
    public typealias Object = KubeFixtures.Object

    /// What the cluster holds.
    public struct Scenario: Sendable {
        public var namespaces: [Object] = []
        /// Namespaced objects by resource (`deployments`, `replicasets`, `pods`, `issuers`) then namespace.
        public var namespaced: [String: [String: [Object]]] = [:]
        public var ingressClasses: [Object] = []
        public var clusterIssuers: [Object] = []
        public var certManagerInstalled = false

        public init() {}

        public mutating func add(_ resource: String, in namespace: String, _ objects: [Object]) {
            namespaced[resource, default: [:]][namespace, default: []] += objects
        }
    }

    /// A failure to answer with instead of the real response, for requests whose path starts with `path`.
    public struct Fault: Sendable {
        public enum Body: Sendable { case status, plainText, html }
        public var path: String
        public var status: Int
        public var body: Body
        public var retryAfter: Int?
        public var delay: Duration?
        /// How many requests it applies to; nil for all.
        public var times: Int?
        /// Only for requests carrying a `continue` token (an expired list snapshot).
        public var onlyContinue: Bool

        public init(path: String, status: Int, body: Body = .status, retryAfter: Int? = nil, delay: Duration? = nil, times: Int? = nil, onlyContinue: Bool = false) {
            self.path = path; self.status = status; self.body = body; self.retryAfter = retryAfter
            self.delay = delay; self.times = times; self.onlyContinue = onlyContinue
        }

        public static func slow(_ path: String, _ delay: Duration) -> Fault { Fault(path: path, status: 200, delay: delay) }
    }

    public struct Recorded: Sendable {
        public var method: String
        public var path: String
        public var query: String
        public var authorization: String?
    }

    struct State {
        var scenario: Scenario
        var faults: [Fault] = []
        var recorded: [Recorded] = []
        var resourceVersion = 2000
        /// Serialized list pages by request, until the scenario changes: the fake must be much faster than
        /// the client it measures (the runtime benchmark).
        var pages: [String: Data] = [:]
        /// Field ownership per object written through the API (see ManagedObject).
        var managed: [ObjectKey: ManagedObject] = [:]
        var events: [FakeEvent] = []
        var eventSerial = 0
        var podSerial = 0
        var rolloutMode = RolloutMode.immediate
        /// Deployments whose rollout `.manual` mode holds back.
        var pendingRollouts: Set<ObjectKey> = []
        var deadlineExceeded: Set<ObjectKey> = []
        /// The last changes, for watches (see WatchHistory.swift); off while a cluster is being seeded.
        var history = WatchHistory(limit: 10_000, startingAt: 2000)
        var journaling = true
        var watchers: [Int: WatchSubscriber] = [:]
        var nextWatcherID = 0
        /// Whether requests go to `recorded` (a long benchmark turns it off: the log would only grow).
        var recording = true
        /// Whether the controllers write Events (off while seeding a benchmark cluster: a settled cluster's
        /// events have long expired).
        var recordsEvents = true
        /// Events kept at most; the oldest go first (the API server's event TTL), as DELETED watch events.
        var eventLimit = 5_000
    }

    let state: Mutex<State>
    /// What `GET /debug/requests` counts of this cluster's requests, and the load `POST /debug/churn` starts on it alone.
    let requestCounts = RequestCounters()
    let churnControl = DebugRoutes.Churn()
    /// The bearer token accepted; nil accepts any request that got through TLS (client-certificate mode).
    public let token: String?
    public let requireClientCertificate: Bool

    /// How often a watch that asked for bookmarks (`allowWatchBookmarks=true`) gets one.
    public let bookmarkInterval: Duration

    /// `historyLimit`, `historyMaxAge`: how many changes, and how old, watches can replay (a watch from an older
    /// resourceVersion gets 410 Expired).
    /// `recordRequests`: whether `requests` keeps every request (turn off for long benchmarks).
    public init(_ scenario: Scenario, token: String? = "test-cluster-token", requireClientCertificate: Bool = false,
                historyLimit: Int = 10_000, historyMaxAge: Duration = .seconds(300), bookmarkInterval: Duration = .seconds(1),
                recordRequests: Bool = true) {
        var state = State(scenario: scenario)
        state.history = WatchHistory(limit: historyLimit, startingAt: state.resourceVersion)
        state.history.maxAge = historyMaxAge
        state.recording = recordRequests
        state.numberSeededObjects()
        self.state = Mutex(state)
        self.token = token
        self.requireClientCertificate = requireClientCertificate
        self.bookmarkInterval = bookmarkInterval
    }

    public func inject(_ fault: Fault) { state.withLock { $0.faults.append(fault) } }
    public func clearFaults() { state.withLock { $0.faults.removeAll() } }
    public func update(_ change: (inout Scenario) -> Void) {
        state.withLock { state in
            let before = state.scenario
            change(&state.scenario)
            state.pages.removeAll()
            state.journalDifferences(from: before)
        }
    }
    public var requests: [Recorded] { state.withLock { $0.recorded } }

    // MARK: - Running

    public func application(port: Int, onReady: @escaping @Sendable (URL) -> Void) throws -> some ApplicationProtocol {
        let tls = try tlsConfiguration()
        let router = Router()
        for method in [HTTPRequest.Method.get, .post, .patch, .delete] {
            router.on("**", method: method) { request, _ in try await self.respond(request, path: request.uri.path) }
        }
        router.on("/", method: .get) { request, _ in try await self.respond(request, path: request.uri.path) }
        return try Self.application(router: router, tls: tls, port: port, onReady: onReady)
    }

    static func application(router: Router<BasicRequestContext>, tls: TLSConfiguration, port: Int,
                            onReady: @escaping @Sendable (URL) -> Void) throws -> some ApplicationProtocol {
        var logger = Logger(label: "fake-kube-apiserver")
        // Connections a test leaves behind are closed at shutdown; those complaints are noise.
        logger.logLevel = .critical
        return Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "fake-kube-apiserver"),
            onServerRunning: { channel in
                if let bound = channel.localAddress?.port { onReady(URL(string: "https://127.0.0.1:\(bound)")!) }
            },
            logger: logger
        )
    }

    func tlsConfiguration() throws -> TLSConfiguration { try Self.tlsConfiguration(requireClientCertificate: requireClientCertificate) }

    static func tlsConfiguration(requireClientCertificate: Bool) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(TestCertificates.serverCertificate.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(TestCertificates.serverKey.utf8), format: .pem))
        )
        if requireClientCertificate {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(TestCertificates.clusterCA.utf8)))
        }
        return tls
    }

    // MARK: - Answers

    /// Answers a request for `path` (the request's own path, or what follows a fleet's `/clusters/{id}`).
    func respond(_ request: Request, path: String) async throws -> Response {
        if path.hasPrefix(DebugRoutes.prefix) { return DebugRoutes.respond(request, path: path, clusters: [self], churn: churnControl) }
        requestCounts.record(request, path: path)
        let query = request.uri.queryParameters
        let hasContinue = query["continue"].map { !$0.isEmpty } ?? false
        let fault: Fault? = state.withLock { state in
            if state.recording {
                state.recorded.append(Recorded(method: request.method.rawValue, path: path, query: request.uri.query ?? "",
                                           authorization: request.headers[.authorization]))
            }
            guard let index = state.faults.firstIndex(where: { path.hasPrefix($0.path) && (!$0.onlyContinue || hasContinue) }) else { return nil }
            let fault = state.faults[index]
            if let times = fault.times {
                if times <= 1 { state.faults.remove(at: index) } else { state.faults[index].times = times - 1 }
            }
            return fault
        }
        if let delay = fault?.delay { try await Task.sleep(for: delay) }
        if let token, request.headers[.authorization] != "Bearer \(token)" {
            return Self.status(401, reason: "Unauthorized", message: "Unauthorized")
        }
        if let fault, fault.status != 200 { return Self.answer(fault) }
        if request.method == .post {
            return try await create(path, request)
        }
        let watching = ["1", "true"].contains(query["watch"] ?? "")
        let parts = path.split(separator: "/").map(String.init)
        if request.method == .patch || request.method == .delete {
            let body = Data(buffer: try await request.body.collect(upTo: 8 << 20))
            return request.method == .patch
                ? patch(parts, query: query, contentType: request.headers[.contentType] ?? "", body: body)
                : delete(parts, query: query, body: body)
        }
        if watching, let resource = ResourcePath(parts), !resource.type.certManager || state.withLock({ $0.scenario.certManagerInstalled }) {
            return watch(resource, query: query, request: request)
        }
        return route(parts, query: query, uri: path + (request.uri.query.map { "?" + $0 } ?? ""))
    }

    static func answer(_ fault: Fault) -> Response {
        var headers: HTTPFields = [:]
        if let retryAfter = fault.retryAfter { headers[.retryAfter] = String(retryAfter) }
        switch fault.body {
        case .status:
            let reason = [401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "AlreadyExists", 410: "Expired", 429: "TooManyRequests",
                          500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"][fault.status] ?? "Unknown"
            let message = fault.status == 403
                ? "deployments.apps is forbidden: User \"system:serviceaccount:gantry:deployer\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"shop\""
                : fault.status == 410 ? "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter." : reason
            var response = status(fault.status, reason: reason, message: message)
            response.headers.append(contentsOf: headers)
            return response
        case .plainText:
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .init(code: fault.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: "Too many requests, please try again later.\n")))
        case .html:
            headers[.contentType] = "text/html"
            return Response(status: .init(code: fault.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: "<html><body><h1>502 Bad Gateway</h1></body></html>")))
        }
    }

    static func status(_ code: Int, reason: String, message: String, details: Object? = nil) -> Response {
        var status: Object = ["kind": "Status", "apiVersion": "v1", "metadata": Object(), "status": "Failure", "message": message, "reason": reason, "code": code]
        if let details { status["details"] = details }
        return json(status, status: code)
    }

    static func json(_ object: any Sendable, status: Int = 200) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    static let notFound = status(404, reason: "NotFound", message: "the server could not find the requested resource")

    func route(_ parts: [String], query: Parameters, uri: String) -> Response {
        let scenario = state.withLock { $0.scenario }
        /// The segments `*` stands for when `parts` has the pattern's shape, else nil.
        func match(_ pattern: String) -> [String]? {
            let expected = pattern.split(separator: "/").map(String.init)
            guard expected.count == parts.count else { return nil }
            var captured: [String] = []
            for (want, got) in zip(expected, parts) {
                if want == "*" { captured.append(got) } else if want != got { return nil }
            }
            return captured
        }
        let groups = groups(scenario)
        if match("version") != nil {
            return Self.json(["major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64", "goVersion": "go1.23.4",
                              "compiler": "gc", "gitCommit": "0000000", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z"] as Object)
        }
        if match("api") != nil {
            return Self.json(["kind": "APIVersions", "versions": ["v1"],
                              "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"]]] as Object)
        }
        if match("apis") != nil {
            return Self.json(["kind": "APIGroupList", "apiVersion": "v1", "groups": groups.map(Self.group)] as Object)
        }
        if match("api/v1") != nil {
            return Self.resourceList("v1", ResourceType.all.filter { $0.group.isEmpty })
        }
        if let group = match("apis/*")?.first, groups.contains(group) {
            return Self.json(Self.group(group).merging(["kind": "APIGroup", "apiVersion": "v1"]) { a, _ in a })
        }
        if let group = match("apis/*/v1")?.first, groups.contains(group) {
            return Self.resourceList("\(group)/v1", ResourceType.all.filter { $0.group == group })
        }
        if let document = OpenAPIDocuments.answer(parts) { return document }
        guard let resource = ResourcePath(parts), !resource.type.certManager || scenario.certManagerInstalled else { return Self.notFound }
        return read(resource, scenario: scenario, query: query, uri: uri)
    }

    func create(_ path: String, _ request: Request) async throws -> Response {
        guard path == "/api/v1/namespaces" else { return Self.notFound }
        let body = try await request.body.collect(upTo: 1 << 20)
        struct NamespaceBody: Decodable {
            struct Metadata: Decodable { var name: String; var labels: [String: String]? }
            var metadata: Metadata
        }
        guard let object = try? JSONDecoder().decode(NamespaceBody.self, from: Data(buffer: body)) else {
            return Self.status(400, reason: "BadRequest", message: "the body is not a Namespace")
        }
        let name = object.metadata.name, labels = object.metadata.labels ?? [:]
        let created: Object? = state.withLock { state in
            guard !state.scenario.namespaces.contains(where: { Self.name($0) == name }) else { return nil }
            return state.put("namespaces", namespace: nil, name: name, KubeFixtures.namespace(name, labels: labels))
        }
        guard let created else { return Self.status(409, reason: "AlreadyExists", message: "namespaces \"\(name)\" already exists") }
        return Self.json(created.merging(["kind": "Namespace", "apiVersion": "v1"]) { a, _ in a }, status: 201)
    }

    func groups(_ scenario: Scenario) -> [String] {
        ["apps", "events.k8s.io", "networking.k8s.io"] + (scenario.certManagerInstalled ? ["cert-manager.io"] : [])
    }

    static func group(_ name: String) -> Object {
        let version = ["groupVersion": "\(name)/v1", "version": "v1"]
        return ["name": name, "versions": [version], "preferredVersion": version]
    }

    static func resourceList(_ groupVersion: String, _ resources: [ResourceType]) -> Response {
        json(["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": groupVersion, "resources": resources.map { type in
            ["name": type.plural, "singularName": String(type.kind.lowercased()), "namespaced": type.namespaced, "kind": type.kind, "verbs": type.verbs] as Object
        }] as Object)
    }

    static func name(_ object: Object) -> String? { (object["metadata"] as? Object)?["name"] as? String }

    /// One page: `limit` items from the offset the continue token names, with a continue token while more remain.
    /// `items` is only gathered when the page is not already cached.
    func list(_ items: @autoclosure () -> [Object], kind: String, apiVersion: String, query: Parameters, uri: String) -> Response {
        if let page = state.withLock({ $0.pages[uri] }) {
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: page)))
        }
        let items = items()
        let limit = query["limit"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? items.count
        let offset = query["continue"].flatMap { Data(base64Encoded: String($0)) }.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
        let page = Array(items.dropFirst(offset).prefix(limit))
        let resourceVersion = state.withLock { state in String(state.resourceVersion) }
        var metadata: Object = ["resourceVersion": resourceVersion]
        if offset + page.count < items.count {
            metadata["continue"] = Data(String(offset + page.count).utf8).base64EncodedString()
            metadata["remainingItemCount"] = items.count - offset - page.count
        }
        let data = (try? JSONSerialization.data(withJSONObject: ["kind": kind, "apiVersion": apiVersion, "metadata": metadata, "items": page] as Object,
                                                   options: [.sortedKeys])) ?? Data()
        state.withLock { $0.pages[uri] = data }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
