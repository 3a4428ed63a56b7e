import HTTPTypes

/// Every route the server answers, to tell 405 (known path, wrong method) from 404.
struct RouteTable: Sendable {
    private var templates: [(segments: [String], methods: Set<HTTPRequest.Method>)] = []
    /// Paths without parameters and their methods. OpenAPI matches a concrete path before a templated one, so
    /// `PATCH /api/projects/stats` is a wrong method on `/projects/stats`, not a PATCH of a project named "stats".
    private(set) var literals: [String: Set<HTTPRequest.Method>] = [:]

    mutating func add(_ path: String, _ methods: Set<HTTPRequest.Method>) {
        templates.append((path.split(separator: "/").map(String.init), methods))
        if !path.contains("{") { literals[path, default: []].formUnion(methods) }
    }

    /// The methods of the concrete path `path`, when it is one and `method` is not among them.
    func wrongMethodOnLiteral(_ path: String, _ method: HTTPRequest.Method) -> Set<HTTPRequest.Method>? {
        guard let allowed = literals[path], !allowed.contains(method) else { return nil }
        return allowed
    }

    func allowedMethods(for path: String) -> Set<HTTPRequest.Method> {
        if let literal = literals[path] { return literal }
        let segments = path.split(separator: "/").map(String.init)
        var allowed: Set<HTTPRequest.Method> = []
        for template in templates where template.segments.count == segments.count {
            let matches = zip(template.segments, segments).allSatisfy { t, s in t.hasPrefix("{") || t == s }
            if matches { allowed.formUnion(template.methods) }
        }
        return allowed
    }
}
