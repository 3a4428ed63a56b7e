import HTTPTypes

/// Every route the server answers, to tell 405 (known path, wrong method) from 404.
struct RouteTable: Sendable {
    private var templates: [(segments: [String], methods: Set<HTTPRequest.Method>)] = []

    mutating func add(_ path: String, _ methods: Set<HTTPRequest.Method>) {
        templates.append((path.split(separator: "/").map(String.init), methods))
    }

    func allowedMethods(for path: String) -> Set<HTTPRequest.Method> {
        let segments = path.split(separator: "/").map(String.init)
        var allowed: Set<HTTPRequest.Method> = []
        for template in templates where template.segments.count == segments.count {
            let matches = zip(template.segments, segments).allSatisfy { t, s in t.hasPrefix("{") || t == s }
            if matches { allowed.formUnion(template.methods) }
        }
        return allowed
    }
}
