import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// A thin Kubernetes API client on AsyncHTTPClient: TLS that trusts only the cluster's CA, bearer or
/// client-certificate auth, a deadline on every call, retries for idempotent GETs on 429/5xx honouring
/// `Retry-After`, `Status` and plain-text error bodies, and list pagination that restarts on 410 Gone.
public struct KubernetesClient: Sendable {
    public static let pageSize = 500
    static let maximumBody = 64 << 20
    static let retryableStatuses: Set<UInt> = [429, 500, 502, 503, 504]

    let http: HTTPClient
    let connection: ClusterConnection
    let tls: TLSConfiguration
    let maximumRetries: Int
    let logger: Logger

    public init(http: HTTPClient, connection: ClusterConnection, maximumRetries: Int = 3, logger: Logger = Logger(label: "gantry.kube")) throws(KubeError) {
        self.http = http
        self.connection = connection
        self.tls = try connection.tlsConfiguration()
        self.maximumRetries = maximumRetries
        self.logger = logger
    }

    /// GETs one object (or any JSON document such as `/apis`).
    public func get<T: KubeDecodable>(_ path: String, query: [(String, String)] = [], as type: T.Type = T.self, deadline: NIODeadline) async throws(KubeError) -> T {
        let body = try await send(.GET, path, query: query, body: nil, deadline: deadline)
        return try decode(T.self, from: body, path: path)
    }

    /// Every item of a list, page by page (`limit`/`continue`). An expired continue token (410) restarts the
    /// list once from the beginning, so pages of two different snapshots are never mixed.
    public func list<Item: KubeDecodable>(_ path: String, query: [(String, String)] = [], of item: Item.Type = Item.self, deadline: NIODeadline) async throws(KubeError) -> [Item] {
        try await listSnapshot(path, query: query, of: Item.self, deadline: deadline).items
    }

    /// POSTs a new object; never retried (it is not idempotent).
    public func create<Body: Encodable, T: KubeDecodable>(_ path: String, _ object: Body, as type: T.Type = T.self, deadline: NIODeadline) async throws(KubeError) -> T {
        let data: Data
        do { data = try JSONEncoder().encode(object) } catch { throw KubeError.invalidConfiguration("the object cannot be encoded") }
        let body = try await send(.POST, path, query: [], body: data, deadline: deadline)
        return try decode(T.self, from: body, path: path)
    }

    /// Server-side apply (`fieldManager`, `force=true`): creates the object or makes the manager's fields match `body`.
    /// Idempotent, so a 429 or 5xx is retried like a GET.
    public func apply(_ path: String, body: Data, fieldManager: String, deadline: NIODeadline) async throws(KubeError) {
        _ = try await send(.PATCH, path, query: [("fieldManager", fieldManager), ("force", "true")], body: body,
                           contentType: "application/apply-patch+yaml", deadline: deadline)
    }

    /// Deletes one object; one already gone counts as deleted.
    public func delete(_ path: String, propagationPolicy: String = "Background", deadline: NIODeadline) async throws(KubeError) {
        do {
            _ = try await send(.DELETE, path, query: [("propagationPolicy", propagationPolicy)], body: nil, deadline: deadline)
        } catch .notFound {
            return
        }
    }

    // MARK: - Transport

    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, contentType: String = "application/json",
              deadline: NIODeadline) async throws(KubeError) -> ByteBuffer {
        var attempt = 0
        // A GET, an apply and a delete may all be repeated safely; a POST may not.
        let retryable = method != .POST
        while true {
            let (status, headers, buffer) = try await exchange(method, path, query: query, body: body, contentType: contentType, deadline: deadline)
            if (200..<300).contains(status) { return buffer }
            let failure = Self.failure(status: status, headers: headers, body: buffer)
            guard retryable, Self.retryableStatuses.contains(UInt(status)), attempt < maximumRetries else { throw failure }
            let wait = Self.retryDelay(headers: headers, attempt: attempt)
            guard NIODeadline.now() + wait < deadline else { throw failure }
            attempt += 1
            logger.debug("retrying a cluster GET", metadata: ["status": "\(status)", "attempt": "\(attempt)"])
            do { try await Task.sleep(nanoseconds: UInt64(wait.nanoseconds)) } catch { throw KubeError.timeout }
        }
    }

    func exchange(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, contentType: String = "application/json",
                  deadline: NIODeadline) async throws(KubeError) -> (Int, HTTPHeaders, ByteBuffer) {
        let request = makeRequest(method, path, query: query, body: body, contentType: contentType)
        do {
            let response = try await http.execute(request, deadline: deadline, logger: logger)
            let buffer = try await response.body.collect(upTo: Self.maximumBody)
            return (Int(response.status.code), response.headers, buffer)
        } catch {
            throw Self.requestFailure(error, deadline: deadline)
        }
    }

    /// A request that got no answer: a timeout when its deadline passed, else why it could not be sent. The pool
    /// reports the last connection failure (refused, TLS) even when the deadline passed meanwhile.
    static func requestFailure(_ error: any Error, deadline: NIODeadline) -> KubeError {
        let failure = transportFailure(error)
        if case .unreachable = failure, NIODeadline.now() >= deadline, !isConnectionFailure(error) { return .timeout }
        return failure
    }

    /// A request to the cluster with its TLS (only the cluster CA), credentials, Host override and User-Agent.
    func makeRequest(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, contentType: String = "application/json") -> HTTPClientRequest {
        var request = HTTPClientRequest(url: Self.url(connection.server, path: path, query: query))
        request.method = method
        request.tlsConfiguration = tls
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "gantry-deployer")
        if case .bearer(let token) = connection.credential { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let tlsServerName = connection.tlsServerName { request.headers.replaceOrAdd(name: "Host", value: tlsServerName) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(data: body))
        }
        return request
    }

    /// An HTTP client for clusters: a failed connection or TLS handshake fails the call at once instead of
    /// being retried until the deadline, and connecting may take at most 5 s.
    public static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        // A watched cluster holds three watches open; clusters behind one proxy host (Rancher, the test fleet) share a pool.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 4096
        configuration.decompression = .enabled(limit: .ratio(50))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    static func isConnectionFailure(_ error: any Error) -> Bool {
        let name = String(describing: type(of: error))
        return error is NIOSSLError || error is NIOSSLExtraError || error is IOError || name.contains("SSL") || name.contains("ConnectionError")
    }

    static func transportFailure(_ error: any Error) -> KubeError {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout: return .timeout
            case .connectTimeout: return .unreachable("the connection timed out")
            default: break
            }
        }
        if error is NIOSSLError || error is NIOSSLExtraError || String(describing: type(of: error)).contains("SSL") {
            return .unreachable("TLS failed: the server's certificate is not signed by the cluster CA, or the handshake failed")
        }
        return .unreachable("the connection failed (\(String(describing: type(of: error))))")
    }

    /// The cluster's words when it sent a `Status`; otherwise the start of the raw text (APF's 429 is plain text).
    static func failure(status: Int, headers: HTTPHeaders, body: ByteBuffer) -> KubeError {
        let decoded = try? KubeStatus(decoding: body)
        let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        let message = decoded?.kind == "Status" ? (decoded?.message ?? "") : String(text.prefix(200))
        return failure(status: status, reason: decoded?.reason, message: message)
    }

    /// A refusal by its code, whether it came as an HTTP answer or as a watch's `ERROR` event.
    static func failure(status: Int, reason: String?, message: String) -> KubeError {
        switch status {
        case 401, 403: return .authentication(status: status, message: message)
        case 404: return .notFound(message)
        default: return .server(status: status, reason: reason, message: message.isEmpty ? "HTTP \(status)" : message)
        }
    }

    /// `Retry-After` in whole seconds when the server sends one, else exponential backoff from 200 ms with jitter.
    static func retryDelay(headers: HTTPHeaders, attempt: Int) -> TimeAmount {
        if let value = headers.first(name: "Retry-After"), let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return .seconds(Int64(min(seconds, 30)))
        }
        let base = 200 * (1 << attempt)
        return .milliseconds(Int64(base + Int.random(in: 0...(base / 2))))
    }

    static func url(_ server: URL, path: String, query: [(String, String)]) -> String {
        var base = server.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        guard !query.isEmpty else { return base + path }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let encoded = query.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }
        return base + path + "?" + encoded.joined(separator: "&")
    }

    /// Reads the answer in place with `KubeDecodable`: no copy of the body, no Codable.
    func decode<T: KubeDecodable>(_ type: T.Type, from buffer: ByteBuffer, path: String) throws(KubeError) -> T {
        do {
            return try T(decoding: buffer)
        } catch {
            logger.debug("the cluster's answer cannot be read", metadata: ["path": "\(path)", "error": "\(error)"])
            throw KubeError.server(status: 200, reason: nil, message: "the answer to \(path) is not the JSON expected")
        }
    }
}
