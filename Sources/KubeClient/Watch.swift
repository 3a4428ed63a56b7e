import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Every item of a collection and the resourceVersion of the snapshot they were read at: where a watch
/// picks up so that no change between the LIST and the WATCH is missed.
public struct KubeListSnapshot<Item> {
    public var items: [Item]
    public var resourceVersion: String

    public init(items: [Item], resourceVersion: String) {
        self.items = items
        self.resourceVersion = resourceVersion
    }
}

extension KubeListSnapshot: Sendable where Item: Sendable {}

/// One change of a watched collection.
public struct WatchEvent<Object: Sendable>: Sendable {
    public enum Kind: Sendable, Equatable {
        case added, modified, deleted
        /// Nothing changed; the collection has reached `resourceVersion` (a watch may resume from it).
        case bookmark
    }

    public var kind: Kind
    /// The object after the change (for `.deleted`, its last state); nil for a bookmark.
    public var object: Object?
    /// The object's `metadata.resourceVersion`: the collection's version once this event is applied.
    public var resourceVersion: String

    public init(kind: Kind, object: Object?, resourceVersion: String) {
        self.kind = kind
        self.object = object
        self.resourceVersion = resourceVersion
    }
}

extension KubeError {
    /// The resourceVersion asked for is older than the cluster keeps (410 Gone, reason `Expired` or `Gone`):
    /// a watch cannot resume from it and the collection must be listed again.
    public var isExpired: Bool {
        if case .server(status: 410, _, _) = self { return true }
        return false
    }
}

extension KubernetesClient {
    /// Longest a watch line (one event) may be; the same bound as a whole answer.
    static let maximumWatchLine = maximumBody
    /// How long past its `timeoutSeconds` a watch may stay open before it is taken for a dead connection
    /// (the server closes it at `timeoutSeconds`; a half-open TCP connection never would).
    static let watchGrace: Duration = .seconds(60)

    /// Every item of a list, page by page (`limit`/`continue`; an expired continue token restarts the list once
    /// from the beginning, so pages of two snapshots are never mixed), and the list's `metadata.resourceVersion`:
    /// the first page's, since later pages are served from the same snapshot, as client-go's pager reads it.
    public func listSnapshot<Item: KubeDecodable>(_ path: String, query: [(String, String)] = [], of item: Item.Type = Item.self,
                                                  deadline: NIODeadline) async throws(KubeError) -> KubeListSnapshot<Item> {
        var restarted = false
        var items: [Item] = []
        var resourceVersion = ""
        var next: String?
        while true {
            var pageQuery = query + [("limit", String(Self.pageSize))]
            if let next { pageQuery.append(("continue", next)) }
            let page: KubeList<Item>
            do {
                page = try await get(path, query: pageQuery, as: KubeList<Item>.self, deadline: deadline)
            } catch KubeError.server(status: 410, _, _) where next != nil && !restarted {
                restarted = true
                items = []
                next = nil
                continue
            }
            if next == nil { resourceVersion = page.metadata?.resourceVersion ?? "" }
            items += page.items ?? []
            guard let token = page.metadata?.continue, !token.isEmpty else {
                return KubeListSnapshot(items: items, resourceVersion: resourceVersion)
            }
            next = token
        }
    }

    /// The changes of a collection after `resourceVersion`, with bookmarks, as they happen.
    ///
    /// The stream ends normally when the server closes the watch (after `timeoutSeconds`); resume from the
    /// last event's resourceVersion. It throws `KubeError.server(status: 410, …)` (`isExpired`) when
    /// `resourceVersion` is too old, whether the server says so with an `ERROR` event or an HTTP 410: list
    /// again. Other failures throw what `get` would throw. Cancelling the consuming task, or dropping the
    /// stream, cancels the request.
    ///
    /// Events are buffered while the consumer is busy; a consumer must keep reading.
    public func watch<Item: KubeDecodable & Sendable>(_ path: String, query: [(String, String)] = [], resourceVersion: String,
                                                      timeoutSeconds: Int = 300, of item: Item.Type = Item.self)
        -> AsyncThrowingStream<WatchEvent<Item>, any Error> {
        let timeoutSeconds = max(timeoutSeconds, 1)
        let request = makeRequest(.GET, path, query: query + [
            ("watch", "1"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"), ("timeoutSeconds", String(timeoutSeconds)),
        ], body: nil)
        return AsyncThrowingStream { continuation in
            let streaming = Task {
                do throws(KubeError) {
                    try await self.streamWatch(request, path: path, of: Item.self,
                                               lifetime: .seconds(timeoutSeconds) + Self.watchGrace, into: continuation)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in streaming.cancel() }
        }
    }

    /// Sends the watch request and feeds its events to `continuation` until the server ends the stream. The
    /// head must come within 10 s; the body may last `lifetime`.
    func streamWatch<Item: KubeDecodable & Sendable>(_ request: HTTPClientRequest, path: String, of item: Item.Type, lifetime: Duration,
                                                     into continuation: AsyncThrowingStream<WatchEvent<Item>, any Error>.Continuation)
        async throws(KubeError) {
        let deadline = NIODeadline.now() + .seconds(10)
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: deadline, logger: logger)
        } catch {
            throw Self.requestFailure(error, deadline: deadline)
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            throw Self.failure(status: status, headers: response.headers, body: body)
        }
        // A watch has no deadline of its own, but one open long past the server's timeout is a dead connection.
        let outcome = await withTaskGroup(of: Result<Void, KubeError>?.self) { group in
            group.addTask {
                do throws(KubeError) {
                    try await self.readWatchEvents(response.body, path: path, of: Item.self, into: continuation)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                do { try await Task.sleep(for: lifetime) } catch { return nil }
                return .failure(KubeError.timeout)
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if case .failure(let error) = outcome { throw error }
    }

    /// Splits the body into lines (an event may span chunks, a chunk may hold many events) and decodes each.
    func readWatchEvents<Item: KubeDecodable & Sendable>(_ body: HTTPClientResponse.Body, path: String, of item: Item.Type,
                                                         into continuation: AsyncThrowingStream<WatchEvent<Item>, any Error>.Continuation)
        async throws(KubeError) {
        var pending = ByteBuffer()
        // Bytes at the start of `pending` already searched for a newline: a large event arriving in many
        // chunks is scanned once, not once per chunk.
        var searched = 0
        do {
            for try await var chunk in body {
                pending.writeBuffer(&chunk)
                while let newline = pending.readableBytesView.dropFirst(searched).firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending.readSlice(length: newline - pending.readerIndex)!
                    pending.moveReaderIndex(forwardBy: 1)
                    searched = 0
                    guard let event = try decodeWatchLine(line, path: path, of: Item.self) else { continue }
                    if case .terminated = continuation.yield(event) { return }
                }
                searched = pending.readableBytes
                guard searched <= Self.maximumWatchLine else {
                    throw KubeError.server(status: 200, reason: nil, message: "an event of the watch on \(path) is larger than \(Self.maximumWatchLine) bytes")
                }
                pending.discardReadBytes()
            }
        } catch let error as KubeError {
            throw error
        } catch {
            if Task.isCancelled { return }
            throw Self.transportFailure(error)
        }
        // The server ends a watch between events; anything else left over is a cut-off event.
        guard let rest = pending.readString(length: pending.readableBytes), rest.allSatisfy(\.isWhitespace) else {
            throw KubeError.unreachable("the watch on \(path) was cut off in the middle of an event")
        }
    }

    /// One line's event; nil for a blank line or an event type this client does not know. An `ERROR` event
    /// throws its Status, as `get` would throw the same Status in an HTTP answer.
    func decodeWatchLine<Item: KubeDecodable & Sendable>(_ line: ByteBuffer, path: String, of item: Item.Type) throws(KubeError) -> WatchEvent<Item>? {
        if line.readableBytesView.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) { return nil }
        let decoded: WatchLine<Item>
        do {
            decoded = try WatchLine<Item>(decoding: line)
        } catch {
            logger.debug("a watch event cannot be read", metadata: ["path": "\(path)", "error": "\(error)"])
            throw KubeError.server(status: 200, reason: nil, message: "an event of the watch on \(path) is not the JSON expected")
        }
        switch decoded {
        case .event(let event):
            return event
        case .failure(let status):
            throw Self.failure(status: status.code ?? 500, reason: status.reason, message: status.message ?? "")
        case .unknown(let type):
            logger.debug("a watch event of an unknown type is skipped", metadata: ["path": "\(path)", "type": "\(type)"])
            return nil
        }
    }
}

/// One line of a watch stream: `{"type": …, "object": …}`.
enum WatchLine<Item: KubeDecodable & Sendable>: KubeDecodable {
    case event(WatchEvent<Item>)
    /// An `ERROR` event: its object is a Status.
    case failure(KubeStatus)
    case unknown(String)

    init(json: JSONView) throws(JSONError) {
        let type: String = try json.decode("type")
        guard let object = try json.child("object") else { throw .mismatch(path: "object", "the member is missing") }
        func resourceVersion() throws(JSONError) -> String {
            do throws(JSONError) {
                return try object.child("metadata")?.decodeIfPresent("resourceVersion", as: String.self) ?? ""
            } catch {
                throw error.inside("object.metadata")
            }
        }
        let kind: WatchEvent<Item>.Kind
        switch type {
        case "ADDED": kind = .added
        case "MODIFIED": kind = .modified
        case "DELETED": kind = .deleted
        case "BOOKMARK":
            // A bookmark's object is the kind with nothing but a resourceVersion: not an Item.
            self = .event(WatchEvent(kind: .bookmark, object: nil, resourceVersion: try resourceVersion()))
            return
        case "ERROR":
            do throws(JSONError) {
                self = .failure(try KubeStatus(json: object))
            } catch {
                throw error.inside("object")
            }
            return
        default:
            self = .unknown(type)
            return
        }
        let item: Item
        do throws(JSONError) {
            item = try Item(json: object)
        } catch {
            throw error.inside("object")
        }
        self = .event(WatchEvent(kind: kind, object: item, resourceVersion: try resourceVersion()))
    }
}
