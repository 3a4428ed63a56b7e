import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A stand-in for AWS, Google and Azure APIs: plain HTTP on 127.0.0.1, answering each `METHOD path` as
/// configured (404 otherwise) and recording every request so tests can check what the providers sent.
public final class FakeCloud: Sendable {
    public struct Recorded: Sendable {
        public var method: String
        public var path: String
        /// The raw query string, without `?`.
        public var query: String
        /// Header values by lower-cased name.
        public var headers: [String: String]
        public var body: Data

        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        /// The body read as `application/x-www-form-urlencoded`.
        public var formFields: [String: String] {
            var fields: [String: String] = [:]
            for pair in bodyText.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
                fields[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            return fields
        }
    }

    public struct Reply: Sendable {
        public var status: Int
        public var body: String

        public init(status: Int, body: String) {
            self.status = status
            self.body = body
        }

        public static func json(_ object: [String: any Sendable], status: Int = 200) -> Reply {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return Reply(status: status, body: String(decoding: data, as: UTF8.self))
        }
    }

    private struct State {
        var replies: [String: @Sendable (Recorded) -> Reply] = [:]
        var recorded: [Recorded] = []
    }

    private let state = Mutex(State())

    /// Answers `method path` (the path without its query) with `reply` from now on.
    public func answer(_ method: String, _ path: String, with reply: Reply) {
        answer(method, path) { _ in reply }
    }

    /// Answers `method path` with what `reply` makes of each request, for routes whose answer depends on the body.
    public func answer(_ method: String, _ path: String, using reply: @escaping @Sendable (Recorded) -> Reply) {
        state.withLock { $0.replies["\(method) \(path)"] = reply }
    }

    public var requests: [Recorded] { state.withLock { $0.recorded } }

    public func requests(to path: String) -> [Recorded] { requests.filter { $0.path == path } }

    /// Serves until `body` returns; `body` gets the fake and its base URL (`http://127.0.0.1:<port>`).
    public static func run<T: Sendable>(_ body: @Sendable (FakeCloud, String) async throws -> T) async throws -> T {
        let fake = FakeCloud()
        let port = Mutex<Int?>(nil)
        var logger = Logger(label: "fake-cloud")
        // Connections a test leaves behind are closed at shutdown; those complaints are noise.
        logger.logLevel = .critical
        let app = Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in try await fake.respond(to: request) },
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "fake-cloud"),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: logger
        )
        return try await servingUntilDone(app, logger: logger, ready: {
            while port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
        }) {
            try await body(fake, "http://127.0.0.1:\(port.withLock { $0 }!)")
        }
    }

    private func respond(to request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        // HTTP/1 `Host` arrives as the `:authority` pseudo-header; signatures cover it under its HTTP/1 name.
        headers["host"] = request.head.authority
        let recorded = Recorded(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
                                headers: headers, body: Data(body.readableBytesView))
        let reply = state.withLock { state in
            state.recorded.append(recorded)
            return state.replies["\(recorded.method) \(recorded.path)"]
        }?(recorded) ?? Reply.json(["message": "no such route in the fake cloud"], status: 404)
        return Response(status: .init(code: reply.status), headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }
}
