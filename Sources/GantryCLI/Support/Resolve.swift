import ArgumentParser
import Foundation
import GantryAPI

/// Turns what a person types (an ID, a name, `PROJECT/ENV`) into IDs, through list calls with `q`.
extension Session {
    static func looksLikeID(_ value: String, prefix: String) -> Bool {
        guard value.hasPrefix(prefix + "_") else { return false }
        let body = value.dropFirst(prefix.count + 1)
        return body.count == 26 && body.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
    }

    /// Every page of a list, for name lookups.
    func everything<T>(_ fetch: (_ cursor: String?) async throws -> ([T], String?)) async throws -> [T] {
        var items: [T] = []
        var cursor: String?
        repeat {
            let (page, next) = try await fetch(cursor)
            items += page
            cursor = next
        } while cursor != nil
        return items
    }

    /// The one "find by name" of the CLI: reads every page of a list (asking the server to filter with `q` where
    /// the list takes it) and keeps the item whose `key` equals `name`, ignoring case unless `exact`.
    /// The failure names what was looked for and where: "no environment named 'x' in project 'y'".
    func find<T>(
        _ noun: String, _ name: String, by what: String = "named", in place: String? = nil, exact: Bool = false,
        key: (T) -> String, _ fetch: (_ cursor: String?) async throws -> ([T], String?)
    ) async throws -> T {
        let items = try await everything(fetch)
        guard let match = items.first(where: { exact ? key($0) == name : key($0).lowercased() == name.lowercased() }) else {
            throw CLIError.failure("no \(noun) \(what) '\(name)'" + (place.map { " in \($0)" } ?? ""))
        }
        return match
    }

    /// `find` by the resource's `name`.
    func find<T: Named>(
        _ noun: String, named name: String, in place: String? = nil, exact: Bool = false,
        _ fetch: (_ cursor: String?) async throws -> ([T], String?)
    ) async throws -> T {
        try await find(noun, name, in: place, exact: exact, key: \.name, fetch)
    }

    func project(_ ref: String) async throws -> Schemas.Project {
        if Self.looksLikeID(ref, prefix: "prj") {
            return try await client.getProject(path: .init(projectID: ref)).ok.body.json.data
        }
        return try await find("project", named: ref) { cursor in
            let page = try await client.listProjects(query: .init(q: ref, limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }
    }

    func projectID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "prj") { return ref }
        return try await project(ref).id
    }

    /// `env_…` or `PROJECT/ENV` (the project by ID or name; split at the first `/`).
    func environment(_ ref: String) async throws -> Schemas.Environment {
        if Self.looksLikeID(ref, prefix: "env") {
            return try await client.getEnvironmentById(path: .init(envID: ref)).ok.body.json.data
        }
        let (projectRef, name) = try Self.splitEnvironment(ref)
        let projectID = try await projectID(projectRef)
        return try await find("environment", named: name, in: "project '\(projectRef)'") { cursor in
            let page = try await client.listEnvironments(path: .init(projectID: projectID), query: .init(q: name, limit: 200, cursor: cursor))
                .ok.body.json
            return (page.data, page.nextCursor)
        }
    }

    static func splitEnvironment(_ ref: String) throws -> (project: String, environment: String) {
        guard let slash = ref.firstIndex(of: "/") else {
            throw CLIError.usage("'\(ref)' is not an environment: expected PROJECT/ENV or an environment ID (env_…)")
        }
        let project = String(ref[..<slash]), environment = String(ref[ref.index(after: slash)...])
        guard !project.isEmpty, !environment.isEmpty else {
            throw CLIError.usage("'\(ref)' is not an environment: expected PROJECT/ENV or an environment ID (env_…)")
        }
        return (project, environment)
    }

    func environmentID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "env") { return ref }
        return try await environment(ref).id
    }

    func spaceID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "spc") { return ref }
        return try await find("deployment space", named: ref) { cursor in
            let page = try await client.listSpaces(query: .init(q: ref, limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }.id
    }

    func integrationID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "int") { return ref }
        return try await find("integration", named: ref) { cursor in
            let page = try await client.listIntegrations(query: .init(limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }.id
    }

    func cloudAccountID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "ca") { return ref }
        return try await find("cloud account", named: ref) { cursor in
            let page = try await client.listCloudAccounts(query: .init(limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }.id
    }

    /// Whether `ref` names a deployment (`dep_…`, `PROJECT/ENV/NAME`) rather than an environment (`env_…`, `PROJECT/ENV`).
    static func isDeploymentRef(_ ref: String) -> Bool {
        if looksLikeID(ref, prefix: "dep") { return true }
        if looksLikeID(ref, prefix: "env") { return false }
        return ref.filter { $0 == "/" }.count >= 2
    }

    /// `dep_…` or `PROJECT/ENV/NAME` (split at the last `/`: deployment names are DNS labels).
    func deployment(_ ref: String) async throws -> Schemas.Deployment {
        if Self.looksLikeID(ref, prefix: "dep") {
            return try await client.getDeployment(path: .init(deploymentID: ref)).ok.body.json.data
        }
        guard let slash = ref.lastIndex(of: "/"), ref[..<slash].contains("/") else {
            throw CLIError.usage("'\(ref)' is not a deployment: expected PROJECT/ENV/NAME or a deployment ID (dep_…)")
        }
        let name = String(ref[ref.index(after: slash)...])
        let environmentID = try await environmentID(String(ref[..<slash]))
        return try await deployment(named: name, inEnvironment: environmentID, place: "'\(ref[..<slash])'")
    }

    /// A deployment of one environment by its exact name (names are DNS labels: lowercase already).
    func deployment(named name: String, inEnvironment environmentID: String, place: String = "this environment") async throws -> Schemas.Deployment {
        try await find("deployment", named: name, in: place, exact: true) { cursor in
            let page = try await client.listDeployments(path: .init(envID: environmentID), query: .init(q: name, limit: 200, cursor: cursor))
                .ok.body.json
            return (page.data, page.nextCursor)
        }
    }

    func deploymentID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "dep") { return ref }
        return try await deployment(ref).id
    }

    func userID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "usr") { return ref }
        return try await find("user", ref, by: "with the email", key: { (user: Schemas.User) in user.email }) { cursor in
            let page = try await client.listUsers(query: .init(limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }.id
    }

    func roleID(_ ref: String) async throws -> String {
        if ref.hasPrefix("role_") {
            return ref
        }
        return try await find("role", named: ref) { cursor in
            let page = try await client.listRoles(query: .init(limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }.id
    }
}

/// A resource found by its `name`.
protocol Named { var name: String { get } }
extension Schemas.Project: Named {}
extension Schemas.Environment: Named {}
extension Schemas.Space: Named {}
extension Schemas.Integration: Named {}
extension Schemas.CloudAccount: Named {}
extension Schemas.Deployment: Named {}
extension Schemas.Role: Named {}

/// Secrets and documents read from a file, or from stdin when the path is `-`.
enum Input {
    static func read(_ path: String, what: String) throws -> Data {
        if path == "-" { return Terminal.readStdin() }
        let expanded = (path as NSString).expandingTildeInPath
        guard let data = FileManager.default.contents(atPath: expanded) else {
            throw CLIError.usage("cannot read \(what) from \(path)")
        }
        return data
    }

    static func text(_ path: String, what: String) throws -> String {
        String(decoding: try read(path, what: what), as: UTF8.self)
    }

    /// `30d`, `12h`, `90m` or `3600s` as seconds.
    static func duration(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let number = Double(text.dropLast()), number > 0 else { return Double(text) }
        switch unit {
        case "s": return number
        case "m": return number * 60
        case "h": return number * 3600
        case "d": return number * 86400
        case "w": return number * 7 * 86400
        default: return nil
        }
    }

    /// A duration with its unit (`48h`, `2d`, `90m`) as whole hours, rounded up, within 1–720 (30 days): the
    /// `ttlHours` and `expiringWithinHours` of the API. A bare number is refused rather than guessed at.
    static func hours(_ text: String, flag: String) throws -> Int {
        guard let unit = text.last, unit.isLetter, let seconds = duration(text), seconds > 0 else {
            throw ValidationError("\(flag): '\(text)' is not a duration (e.g. 48h, 2d, 90m)")
        }
        let hours = (seconds / 3600).rounded(.up)
        guard hours <= 720 else { throw ValidationError("\(flag): '\(text)' is more than 720 hours (30 days)") }
        return Int(hours)
    }

    /// `KEY=VALUE` split at the first `=`; the key must not be empty, the value may be.
    static func assignment(_ entry: String, flag: String, shape: String) throws -> (key: String, value: String) {
        guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
            throw ValidationError("\(flag) takes \(shape) (got '\(entry)')")
        }
        return (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
    }

    /// RFC 3339, or a day `YYYY-MM-DD` (midnight UTC).
    static func date(_ text: String, flag: String) throws -> Date {
        if let date = Format.parseDate(text) { return date }
        if let date = Format.parseDate(text + "T00:00:00Z") { return date }
        throw CLIError.usage("\(flag): '\(text)' is not a date (use RFC 3339, e.g. 2025-01-31T12:00:00Z, or YYYY-MM-DD)")
    }
}
