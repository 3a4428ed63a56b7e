import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// `?watch=1` on a collection: newline-delimited `{"type":…,"object":…}` events over a chunked response, as the
/// API server's watch cache sends them.
///
/// - `resourceVersion=N`: the changes after N from the cluster's history; older than the history, one `ERROR`
///   event with a 410 `Expired` Status (HTTP 200, as the watch cache answers), then the end.
/// - no `resourceVersion` (or `0`), or `sendInitialEvents=true`: `ADDED` for every current object first.
/// - `allowWatchBookmarks=true`: a `BOOKMARK` (an object of the kind with only `metadata.resourceVersion`) every
///   `bookmarkInterval`; after the initial events of `sendInitialEvents=true`, one annotated `k8s.io/initial-events-end`.
/// - `labelSelector`/`fieldSelector` as lists take them; an object that enters the selection arrives as `ADDED`,
///   one that leaves it as `DELETED` (its previous state, at the change's resourceVersion).
/// - `timeoutSeconds` ends the stream cleanly (default 1800 s, the API server's `--min-request-timeout`).
/// - A closed client connection ends the watch and frees it.
extension FakeKubeAPIServer {
    struct WatchSelection: Sendable {
        var plural: String
        var namespace: String?
        var name: String?
        var labels: [Selectors.Clause]
        var fields: [Selectors.Clause]
        var fieldSelector: String?

        func matches(_ payload: WatchEntry.Payload) -> Bool {
            switch payload {
            case .event(let event):
                return (name == nil || event.name == name) && labels.allSatisfy { $0.matches(nil) }
                    && (fieldSelector.map { event.matches(fieldSelector: $0) } ?? true)
            case .object(let object):
                if let name, FakeKubeAPIServer.name(object) != name { return false }
                return Selectors.matches(object, labels: labels, fields: fields)
            }
        }

        func covers(_ entry: WatchEntry) -> Bool {
            entry.plural == plural && (namespace == nil || entry.namespace == namespace)
        }

        /// What a watcher of this selection sees of a change: nil when the change is none of its business.
        func event(_ entry: WatchEntry) -> (String, WatchEntry.Payload)? {
            let now = matches(entry.object)
            switch entry.type {
            case "MODIFIED":
                let before = entry.previous.map(matches) ?? false
                if now { return (before ? "MODIFIED" : "ADDED", entry.object) }
                guard before, let previous = entry.previous else { return nil }
                return ("DELETED", previous.stamped(entry.resourceVersion))
            default:
                return now ? (entry.type, entry.object) : nil
            }
        }
    }

    func watch(_ resource: ResourcePath, query: Parameters, request: Request) -> Response {
        let type = resource.type
        let fieldSelector = query["fieldSelector"].map(String.init)
        let selection = WatchSelection(plural: type.plural, namespace: resource.namespace, name: resource.name,
                                       labels: Selectors.clauses(query["labelSelector"].map(String.init)),
                                       fields: Selectors.clauses(fieldSelector), fieldSelector: fieldSelector)
        func flag(_ name: String) -> Bool { ["1", "true"].contains(query[Substring(name)].map(String.init) ?? "") }
        let bookmarks = flag("allowWatchBookmarks"), sendInitialEvents = flag("sendInitialEvents")
        let requested = query["resourceVersion"].map(String.init) ?? ""
        var from: Int?
        if !(requested.isEmpty || requested == "0" || sendInitialEvents) {
            guard let number = Int(requested), number >= 0 else {
                return Self.status(400, reason: "BadRequest", message: "resourceVersion: Invalid value: \"\(requested)\": strconv.ParseUint: parsing \"\(requested)\": invalid syntax")
            }
            from = number
        }
        let timeout = query["timeoutSeconds"].flatMap { Int($0) }.map { Duration.seconds(max($0, 0)) } ?? .seconds(1800)
        let (doorbell, ring) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

        // Subscribing and reading the starting point in one step: no change falls between them.
        let start: (id: Int, initial: [Object], cursor: Int, expired: Int?) = state.withLock { state in
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            if let from {
                if from < state.history.compactedThrough { return (id, [], from, state.history.compactedThrough) }
                state.watchers[id] = WatchSubscriber(plural: type.plural, doorbell: ring)
                return (id, [], from, nil)
            }
            state.watchers[id] = WatchSubscriber(plural: type.plural, doorbell: ring)
            let items: [Object] = type.plural == "events"
                ? state.events.filter { (resource.namespace == nil || $0.namespace == resource.namespace) && selection.matches(.event($0)) }
                    .map { WatchEntry.Payload.event($0).rendered(type) }
                : state.scenario.items(type.plural, namespace: resource.namespace).filter { selection.matches(.object($0)) }.map { Self.typed($0, type) }
            return (id, items, state.resourceVersion, nil)
        }
        let interval = bookmarkInterval
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-cache, private", .connection: "close"], body: .init { writer in
            defer {
                _ = self.state.withLock { $0.watchers.removeValue(forKey: start.id) }
                ring.finish()
            }
            if let oldest = start.expired {
                let status: Object = ["kind": "Status", "apiVersion": "v1", "metadata": Object(), "status": "Failure", "reason": "Expired", "code": 410,
                                      "message": "too old resource version: \(start.cursor) (\(oldest))"]
                try await writer.write(ByteBuffer(data: JSONValue.data(["type": "ERROR", "object": status] as Object) + Data("\n".utf8)))
                try await writer.finish(nil)
                return
            }
            var finished = false
            do {
                try await request.body.consumeWithCancellationOnInboundClose { _ in
                    // A server shutting down ends its watches cleanly, as the API server does when it drains.
                    try await withGracefulShutdownHandler {
                        try await self.stream(start.initial, from: start.cursor, selection, type, bookmarks: bookmarks,
                                              initialEventsEnd: sendInitialEvents && bookmarks, interval: interval, timeout: timeout,
                                              doorbell: doorbell, ring: ring, writer: &writer)
                    } onGracefulShutdown: {
                        ring.finish()
                    }
                    // The last chunk goes out before the connection closes.
                    finished = true
                    try await writer.finish(nil)
                }
            } catch {
                // The client went away (or a write failed): the watch is over.
            }
            if !finished { try? await writer.finish(nil) }
        })
    }

    // swiftlint:disable:next function_parameter_count
    func stream(_ initial: [Object], from resourceVersion: Int, _ selection: WatchSelection, _ type: ResourceType, bookmarks: Bool,
                initialEventsEnd: Bool, interval: Duration, timeout: Duration, doorbell: AsyncStream<Void>, ring: AsyncStream<Void>.Continuation,
                writer: inout any ResponseBodyWriter) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        func line(_ kind: String, _ object: Object) -> Data {
            JSONValue.data(["type": kind, "object": object] as Object) + Data("\n".utf8)
        }
        func bookmark(_ resourceVersion: Int, end: Bool = false) -> Data {
            var metadata: Object = ["resourceVersion": String(resourceVersion)]
            if end { metadata["annotations"] = ["k8s.io/initial-events-end": "true"] }
            return line("BOOKMARK", ["kind": type.kind, "apiVersion": type.apiVersion, "metadata": metadata])
        }
        // The current state, a few objects a write.
        var index = 0
        while index < initial.count {
            var chunk = Data()
            for object in initial[index..<min(index + 100, initial.count)] { chunk += line("ADDED", object) }
            index += 100
            try await writer.write(ByteBuffer(data: chunk))
        }
        var cursor = resourceVersion
        if initialEventsEnd { try await writer.write(ByteBuffer(data: bookmark(cursor, end: true))) }

        // Wakes the loop for the next bookmark and at the deadline; changes wake it through the doorbell too.
        let ticker = Task {
            while clock.now < deadline {
                let next = bookmarks ? min(clock.now + interval, deadline) : deadline
                do { try await Task.sleep(until: next, clock: clock) } catch { return }
                ring.yield()
            }
        }
        defer { ticker.cancel() }
        var nextBookmark = clock.now + interval
        var iterator = doorbell.makeAsyncIterator()
        while !Task.isCancelled {
            let (entries, current, expired): ([WatchEntry], Int, Int?) = state.withLock { state in
                guard let slice = state.history.after(cursor) else { return ([], state.resourceVersion, state.history.compactedThrough) }
                return (slice.filter(selection.covers), state.resourceVersion, nil)
            }
            if let expired {
                // Fell behind the history (a very slow reader): the watch cache ends such a watch with 410 too.
                let status: Object = ["kind": "Status", "apiVersion": "v1", "metadata": Object(), "status": "Failure", "reason": "Expired", "code": 410,
                                      "message": "too old resource version: \(cursor) (\(expired))"]
                try await writer.write(ByteBuffer(data: line("ERROR", status)))
                return
            }
            var out = Data()
            for entry in entries {
                if let (kind, payload) = selection.event(entry) { out += line(kind, payload.rendered(type)) }
            }
            cursor = max(cursor, current)
            if !out.isEmpty { try await writer.write(ByteBuffer(data: out)) }
            let now = clock.now
            if now >= deadline { return }
            if bookmarks, now >= nextBookmark {
                try await writer.write(ByteBuffer(data: bookmark(cursor)))
                nextBookmark = now + interval
            }
            guard await iterator.next() != nil else { return }
        }
    }
}

extension WatchEntry.Payload {
    /// The same state at another resourceVersion (a DELETED event carries the deletion's).
    func stamped(_ resourceVersion: Int) -> Self {
        switch self {
        case .object(var object):
            var metadata = object["metadata"] as? KubeFixtures.Object ?? [:]
            metadata["resourceVersion"] = String(resourceVersion)
            object["metadata"] = metadata
            return .object(object)
        case .event(var event):
            event.resourceVersion = String(resourceVersion)
            return .event(event)
        }
    }
}

extension Selectors {
    static func matches(_ item: Object, labels: [Clause], fields: [Clause]) -> Bool {
        if labels.isEmpty && fields.isEmpty { return true }
        let itemLabels = (item["metadata"] as? Object)?["labels"] as? Object ?? [:]
        for clause in labels where !clause.matches(itemLabels[clause.key] as? String) { return false }
        for clause in fields where !clause.matches(field(item, clause.key)) { return false }
        return true
    }
}
