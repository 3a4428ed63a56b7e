import Foundation

/// What one change stored: the object as it is after the change (for a deletion, its last state stamped with
/// the deletion's resourceVersion), and as it was before, so a watch with a selector can tell an object
/// entering its selection (ADDED) from one leaving it (DELETED), as the API server's watch cache does.
struct WatchEntry: Sendable {
    typealias Object = KubeFixtures.Object

    enum Payload: Sendable {
        case object(Object)
        /// Events are kept once and shown in two API versions (core `v1` and `events.k8s.io/v1`).
        case event(FakeEvent)

        func rendered(_ type: ResourceType) -> Object {
            switch self {
            case .object(let object): return FakeKubeAPIServer.typed(object, type)
            case .event(let event): return FakeKubeAPIServer.typed(type.group == "events.k8s.io" ? event.eventsV1 : event.v1, type)
            }
        }
    }

    var resourceVersion: Int
    /// `ADDED`, `MODIFIED` or `DELETED`.
    var type: String
    var plural: String
    /// nil for cluster-scoped objects.
    var namespace: String?
    var name: String
    var object: Payload
    var previous: Payload?
    var time = ContinuousClock.now
}

/// The last changes of one cluster, oldest first, in resourceVersion order: what a watch from a resourceVersion
/// replays. Bounded: past `limit` entries, or older than `maxAge` (etcd's compaction, every 5 minutes), the
/// oldest go, and a watch from before them gets 410 Expired.
struct WatchHistory: Sendable {
    var entries: [WatchEntry] = []
    var limit: Int
    var maxAge: Duration = .seconds(300)
    /// Every change up to this resourceVersion has left the history (or happened before it began): a watch must
    /// start at or after it.
    var compactedThrough: Int

    init(limit: Int, startingAt resourceVersion: Int, maxAge: Duration = .seconds(300)) {
        self.limit = max(limit, 1)
        self.maxAge = maxAge
        compactedThrough = resourceVersion
    }

    mutating func append(_ entry: WatchEntry) {
        entries.append(entry)
        // Trimmed in batches so appending stays O(1) amortized.
        var drop = entries.count >= limit + max(limit / 4, 1) ? entries.count - limit : 0
        // Aged out, checked every 64 changes.
        if entries.count % 64 == 0 {
            let cutoff = entry.time - maxAge
            while drop < entries.count - 1, entries[drop].time < cutoff { drop += 1 }
        }
        if drop > 0 {
            compactedThrough = entries[drop - 1].resourceVersion
            entries.removeFirst(drop)
        }
    }

    /// The entries after `resourceVersion`; nil when some of them are gone.
    func after(_ resourceVersion: Int) -> ArraySlice<WatchEntry>? {
        guard resourceVersion >= compactedThrough else { return nil }
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].resourceVersion <= resourceVersion { low = middle + 1 } else { high = middle }
        }
        return entries[low...]
    }
}

/// A watch waiting for changes: rung (an AsyncStream with room for one signal) when its resource changes.
struct WatchSubscriber: Sendable {
    var plural: String
    var doorbell: AsyncStream<Void>.Continuation
}

extension FakeKubeAPIServer.State {
    /// Records a change made at the current resourceVersion and wakes the watches of that resource.
    mutating func journal(_ type: String, _ plural: String, namespace: String?, name: String, _ object: WatchEntry.Payload, previous: WatchEntry.Payload?) {
        guard journaling else { return }
        history.append(WatchEntry(resourceVersion: resourceVersion, type: type, plural: plural, namespace: namespace, name: name,
                                  object: object, previous: previous))
        for subscriber in watchers.values where subscriber.plural == plural { subscriber.doorbell.yield() }
    }

    /// Stores, replaces (nil: removes) an object and records the change for watches. A new state gets a new
    /// resourceVersion unless `stamped` (the caller set it); storing what is already there changes nothing.
    /// Returns what is stored (for a removal, the last state with the deletion's resourceVersion).
    @discardableResult
    mutating func put(_ plural: String, namespace: String?, name: String, _ object: Object?, stamped: Bool = false) -> Object? {
        let previous = scenario.find(plural, namespace: namespace, name: name)
        guard var object else {
            guard var removed = previous else { return nil }
            scenario.store(plural, namespace: namespace, name: name, nil)
            pages.removeAll()
            var metadata = removed["metadata"] as? Object ?? [:]
            metadata["resourceVersion"] = nextResourceVersion()
            removed["metadata"] = metadata
            journal("DELETED", plural, namespace: namespace, name: name, .object(removed), previous: .object(previous!))
            return removed
        }
        if !stamped {
            if let previous, JSONValue.same(Self.comparable(previous), Self.comparable(object)) { return previous }
            var metadata = object["metadata"] as? Object ?? [:]
            metadata["resourceVersion"] = nextResourceVersion()
            object["metadata"] = metadata
        }
        scenario.store(plural, namespace: namespace, name: name, object)
        pages.removeAll()
        journal(previous == nil ? "ADDED" : "MODIFIED", plural, namespace: namespace, name: name, .object(object), previous: previous.map { .object($0) })
        return object
    }

    /// Removes an event (a namespace went, or the event aged out) and records the deletion.
    mutating func dropEvent(at index: Int) {
        let event = events.remove(at: index)
        var last = event
        last.resourceVersion = nextResourceVersion()
        journal("DELETED", "events", namespace: event.namespace, name: event.name, .event(last), previous: .event(event))
    }

    /// Gives every object the scenario was seeded with its own resourceVersion, in order, below the counter.
    mutating func numberSeededObjects() {
        let seeded = scenario.plurals.reduce(0) { $0 + scenario.items($1, namespace: nil).count }
        resourceVersion = max(resourceVersion, 1000 + seeded + 1)
        var next = 1001
        func number(_ object: inout Object) {
            var metadata = object["metadata"] as? Object ?? [:]
            metadata["resourceVersion"] = String(next)
            object["metadata"] = metadata
            next += 1
        }
        for index in scenario.namespaces.indices { number(&scenario.namespaces[index]) }
        for index in scenario.ingressClasses.indices { number(&scenario.ingressClasses[index]) }
        for index in scenario.clusterIssuers.indices { number(&scenario.clusterIssuers[index]) }
        for plural in scenario.namespaced.keys.sorted() {
            for namespace in (scenario.namespaced[plural] ?? [:]).keys.sorted() {
                for index in scenario.namespaced[plural]![namespace]!.indices { number(&scenario.namespaced[plural]![namespace]![index]) }
            }
        }
        history = WatchHistory(limit: history.limit, startingAt: resourceVersion, maxAge: history.maxAge)
    }

    /// Records what a test's free-form change to the scenario did: objects that appeared, changed or went, each
    /// with a new resourceVersion.
    mutating func journalDifferences(from before: FakeKubeAPIServer.Scenario) {
        for plural in Set(before.plurals + scenario.plurals).sorted() {
            let old = before.items(plural, namespace: nil), new = scenario.items(plural, namespace: nil)
            func key(_ object: Object) -> String {
                let metadata = object["metadata"] as? Object ?? [:]
                return "\(metadata["namespace"] as? String ?? "")/\(metadata["name"] as? String ?? "")"
            }
            var oldByKey: [String: Object] = [:]
            for object in old { oldByKey[key(object)] = object }
            var seen: Set<String> = []
            for object in new {
                let objectKey = key(object)
                seen.insert(objectKey)
                let previous = oldByKey[objectKey]
                if let previous, JSONValue.same(previous, object) { continue }
                let metadata = object["metadata"] as? Object ?? [:]
                let namespace = metadata["namespace"] as? String, name = metadata["name"] as? String ?? ""
                var stamped = object
                var stampedMetadata = metadata
                stampedMetadata["resourceVersion"] = nextResourceVersion()
                stamped["metadata"] = stampedMetadata
                scenario.store(plural, namespace: namespace, name: name, stamped)
                journal(previous == nil ? "ADDED" : "MODIFIED", plural, namespace: namespace, name: name, .object(stamped), previous: previous.map { .object($0) })
            }
            for (objectKey, object) in oldByKey where !seen.contains(objectKey) {
                var removed = object
                var metadata = removed["metadata"] as? Object ?? [:]
                metadata["resourceVersion"] = nextResourceVersion()
                removed["metadata"] = metadata
                journal("DELETED", plural, namespace: metadata["namespace"] as? String, name: metadata["name"] as? String ?? "",
                        .object(removed), previous: .object(object))
            }
        }
    }
}

extension FakeKubeAPIServer.Scenario {
    /// Every resource the scenario stores (events live apart, in the state).
    var plurals: [String] { ["namespaces", "ingressclasses", "clusterissuers"] + namespaced.keys.sorted() }
}
