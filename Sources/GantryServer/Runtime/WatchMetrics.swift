import KubeClient
import Prometheus
import Synchronization

/// The watches in `/metrics`: per space its state, how many objects its cache holds, watch events and LIST calls
/// (counters), and how many spaces this replica holds. `gantry_kube_list_requests_total` also counts status sync's
/// LISTs of spaces that are not watched, so "no LIST calls in steady state" can be read off one counter.
final class WatchMetrics: Sendable {
    struct Space: Sendable {
        var healthy: Gauge
        var objects: Gauge
        var events: Counter
        var eventsSeen: Int
        var listsSeen: Int
    }

    let registry: PrometheusCollectorRegistry
    let leased: Gauge
    let lists: Counter
    let lag: Gauge
    let spaces = Mutex<[String: Space]>([:])

    init(registry: PrometheusCollectorRegistry?) {
        // Without a registry (tests) the figures are still kept, in one nobody reads.
        let registry = registry ?? PrometheusCollectorRegistry()
        self.registry = registry
        leased = registry.makeGauge(descriptor: .gantry("spaces_leased", help: "Spaces whose cluster this deployer replica watches."))
        lists = registry.makeCounter(
            descriptor: .gantry("kube_list_requests", unit: "total", help: "LIST calls made by status sync and the space caches."))
        lag = registry.makeGauge(descriptor: .gantry(
            "status_sync_lag", unit: "seconds",
            help: "From a watch event to its namespace synced into the catalog, for the last batch of changes."))
    }

    /// - figures: the cache's objects, watch events and LISTs; nil leaves those figures as they were.
    func update(space spaceID: String, healthy: Bool, figures: Figures?) {
        let (eventsDelta, listsDelta, entry) = spaces.withLock { spaces -> (Int, Int, Space) in
            var entry = spaces[spaceID] ?? Space(
                healthy: registry.makeGauge(
                    descriptor: .gantry(
                        "space_watch_healthy",
                        help: "1 while every watch of the space is listed and current, else 0 (status sync lists the cluster)."),
                    labels: [("space_id", spaceID)]),
                objects: registry.makeGauge(
                    descriptor: .gantry("space_cache_objects", help: "Objects held in the space's cache."),
                    labels: [("space_id", spaceID)]),
                events: registry.makeCounter(
                    descriptor: .gantry("space_watch_events", unit: "total", help: "Watch events applied to the space's cache."),
                    labels: [("space_id", spaceID)]),
                eventsSeen: 0, listsSeen: 0)
            defer { spaces[spaceID] = entry }
            guard let figures else { return (0, 0, entry) }
            // A remade cache counts from zero again.
            let eventsDelta = figures.events >= entry.eventsSeen ? figures.events - entry.eventsSeen : figures.events
            let listsDelta = figures.lists >= entry.listsSeen ? figures.lists - entry.listsSeen : figures.lists
            entry.eventsSeen = figures.events
            entry.listsSeen = figures.lists
            return (eventsDelta, listsDelta, entry)
        }
        entry.healthy.set((healthy ? 1 : 0) as Int64)
        if let figures { entry.objects.set(Int64(figures.objects) as Int64) }
        if eventsDelta > 0 { entry.events.increment(by: Int64(eventsDelta)) }
        if listsDelta > 0 { lists.increment(by: Int64(listsDelta)) }
    }

    func forget(space spaceID: String) {
        guard let entry = spaces.withLock({ $0.removeValue(forKey: spaceID) }) else { return }
        registry.unregisterGauge(entry.healthy)
        registry.unregisterGauge(entry.objects)
        registry.unregisterCounter(entry.events)
    }
}

extension MetricNameDescriptor {
    /// A metric in Gantry's namespace: `gantry_<name>[_<unit>]`.
    static func gantry(_ name: String, unit: String = "", help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "gantry", metricName: name, unitName: unit, helpText: help)
    }
}
