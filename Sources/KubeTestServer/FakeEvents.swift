import Foundation

/// One Event, kept once and rendered in both API versions: core `v1` and `events.k8s.io/v1` are two views
/// of the same stored objects in a real cluster, so a client may read either and must find the same thing.
struct FakeEvent: Sendable {
    typealias Object = KubeFixtures.Object

    var name: String
    var namespace: String
    var uid: String
    var resourceVersion: String
    /// `kind`, `name`, `namespace`, `uid`, `apiVersion` of the object the event is about.
    var regarding: Object
    var reason: String
    var message: String
    var type: String
    var component: String
    var count: Int
    var firstTime: String
    var lastTime: String
    var eventTime: String

    func field(_ name: String) -> String? { regarding[name] as? String }

    var v1: Object {
        ["metadata": ["name": name, "namespace": namespace, "uid": uid, "resourceVersion": resourceVersion, "creationTimestamp": firstTime] as Object,
         "involvedObject": regarding, "reason": reason, "message": message, "type": type, "count": count,
         "firstTimestamp": firstTime, "lastTimestamp": lastTime, "source": ["component": component] as Object,
         "reportingComponent": component, "reportingInstance": ""]
    }

    var eventsV1: Object {
        var object: Object = [
            "metadata": ["name": name, "namespace": namespace, "uid": uid, "resourceVersion": resourceVersion, "creationTimestamp": firstTime] as Object,
            "regarding": regarding, "reason": reason, "note": message, "type": type, "eventTime": eventTime,
            "reportingController": component, "reportingInstance": component, "action": reason,
            "deprecatedSource": ["component": component] as Object,
            "deprecatedCount": count, "deprecatedFirstTimestamp": firstTime, "deprecatedLastTimestamp": lastTime,
        ]
        if count > 1 { object["series"] = ["count": count, "lastObservedTime": eventTime] as Object }
        return object
    }

    /// `involvedObject.name=x,involvedObject.kind=Pod` (core) or `regarding.name=x` (events.k8s.io); `!=` too.
    /// A field the fake does not index matches everything.
    func matches(fieldSelector: String) -> Bool {
        Selectors.clauses(fieldSelector).allSatisfy { clause in
            guard let actual = selectable(clause.key) else { return true }
            return clause.matches(actual)
        }
    }

    /// A field selector's value for this event, under its core and its events.k8s.io name.
    func selectable(_ key: String) -> String? {
        switch key {
        case "metadata.name": return name
        case "involvedObject.name", "regarding.name": return field("name")
        case "involvedObject.kind", "regarding.kind": return field("kind")
        case "involvedObject.uid", "regarding.uid": return field("uid")
        case "involvedObject.namespace", "regarding.namespace", "metadata.namespace": return namespace
        case "reason": return reason
        case "type": return type
        default: return nil
        }
    }
}

extension FakeKubeAPIServer.State {
    /// Records an event about `object`; a repeat of the same reason and message counts up, as the
    /// client-side event correlator does.
    mutating func recordEvent(_ kind: String, _ object: Object, reason: String, message: String, type: String = "Normal", component: String) {
        guard recordsEvents else { return }
        let metadata = object["metadata"] as? Object ?? [:]
        let name = metadata["name"] as? String ?? "", namespace = metadata["namespace"] as? String ?? "default"
        let uid = metadata["uid"] as? String ?? ""
        let now = Self.now()
        let micro = now.replacingOccurrences(of: "Z", with: ".000000Z")
        let rv = nextResourceVersion()
        pages.removeAll()
        if let index = events.lastIndex(where: { $0.field("uid") == uid && $0.reason == reason && $0.message == message }) {
            let previous = events[index]
            events[index].count += 1
            events[index].lastTime = now
            events[index].eventTime = micro
            events[index].resourceVersion = rv
            journal("MODIFIED", "events", namespace: namespace, name: previous.name, .event(events[index]), previous: .event(previous))
            return
        }
        eventSerial += 1
        let regarding: Object = ["kind": kind, "name": name, "namespace": namespace, "uid": uid,
                                 "apiVersion": ResourceType.kind(kind)?.apiVersion ?? "v1",
                                 "resourceVersion": metadata["resourceVersion"] as? String ?? ""]
        events.append(FakeEvent(name: "\(name).\(String(0x1800_0000_0000 + eventSerial, radix: 16))", namespace: namespace,
                                uid: UUID().uuidString.lowercased(), resourceVersion: rv, regarding: regarding, reason: reason,
                                message: message, type: type, component: component, count: 1, firstTime: now, lastTime: now, eventTime: micro))
        journal("ADDED", "events", namespace: namespace, name: events[events.count - 1].name, .event(events[events.count - 1]), previous: nil)
        if events.count > eventLimit { dropEvent(at: 0) }
    }

    func eventObjects(namespace: String?, fieldSelector: String?, eventsAPI: Bool) -> [Object] {
        events.filter { event in
            (namespace == nil || event.namespace == namespace) && (fieldSelector.map { event.matches(fieldSelector: $0) } ?? true)
        }.map { eventsAPI ? $0.eventsV1 : $0.v1 }
    }
}
