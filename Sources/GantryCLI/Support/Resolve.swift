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

    func project(_ ref: String) async throws -> Schemas.Project {
        if Self.looksLikeID(ref, prefix: "prj") {
            return try await client.getProject(path: .init(projectID: ref)).ok.body.json.data
        }
        let matches = try await everything { cursor in
            let page = try await client.listProjects(query: .init(q: ref, limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }
        guard let match = matches.first(where: { $0.name.lowercased() == ref.lowercased() }) else {
            throw CLIError.failure("no project named '\(ref)'")
        }
        return match
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
        let matches = try await everything { cursor in
            let page = try await client.listEnvironments(path: .init(projectID: projectID), query: .init(q: name, limit: 200, cursor: cursor))
                .ok.body.json
            return (page.data, page.nextCursor)
        }
        guard let match = matches.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            throw CLIError.failure("no environment named '\(name)' in project '\(projectRef)'")
        }
        return match
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
        let matches = try await everything { cursor in
            let page = try await client.listSpaces(query: .init(q: ref, limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }
        guard let match = matches.first(where: { $0.name.lowercased() == ref.lowercased() }) else {
            throw CLIError.failure("no deployment space named '\(ref)'")
        }
        return match.id
    }

    func integrationID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "int") { return ref }
        let all = try await everything { cursor in
            let page = try await client.listIntegrations(query: .init(limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }
        guard let match = all.first(where: { $0.name.lowercased() == ref.lowercased() }) else {
            throw CLIError.failure("no integration named '\(ref)'")
        }
        return match.id
    }

    func cloudAccountID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "ca") { return ref }
        let all = try await everything { cursor in
            let page = try await client.listCloudAccounts(query: .init(limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }
        guard let match = all.first(where: { $0.name.lowercased() == ref.lowercased() }) else {
            throw CLIError.failure("no cloud account named '\(ref)'")
        }
        return match.id
    }

    /// `dep_…` or `PROJECT/ENV/NAME` (split at the last `/`: deployment names are DNS labels).
    func deploymentID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "dep") { return ref }
        guard let slash = ref.lastIndex(of: "/"), ref[..<slash].contains("/") else {
            throw CLIError.usage("'\(ref)' is not a deployment: expected PROJECT/ENV/NAME or a deployment ID (dep_…)")
        }
        let name = String(ref[ref.index(after: slash)...])
        let environmentID = try await environmentID(String(ref[..<slash]))
        let matches = try await everything { cursor in
            let page = try await client.listDeployments(path: .init(envID: environmentID), query: .init(q: name, limit: 200, cursor: cursor))
                .ok.body.json
            return (page.data, page.nextCursor)
        }
        guard let match = matches.first(where: { $0.name == name }) else {
            throw CLIError.failure("no deployment named '\(name)' in '\(ref[..<slash])'")
        }
        return match.id
    }

    func userID(_ ref: String) async throws -> String {
        if Self.looksLikeID(ref, prefix: "usr") { return ref }
        let all = try await everything { cursor in
            let page = try await client.listUsers(query: .init(limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }
        guard let match = all.first(where: { $0.email.lowercased() == ref.lowercased() }) else {
            throw CLIError.failure("no user with the email '\(ref)'")
        }
        return match.id
    }

    func roleID(_ ref: String) async throws -> String {
        if ref.hasPrefix("role_") {
            return ref
        }
        let all = try await everything { cursor in
            let page = try await client.listRoles(query: .init(limit: 200, cursor: cursor)).ok.body.json
            return (page.data, page.nextCursor)
        }
        guard let match = all.first(where: { $0.name.lowercased() == ref.lowercased() }) else {
            throw CLIError.failure("no role named '\(ref)'")
        }
        return match.id
    }
}

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

    /// RFC 3339, or a day `YYYY-MM-DD` (midnight UTC).
    static func date(_ text: String, flag: String) throws -> Date {
        if let date = Format.parseDate(text) { return date }
        if let date = Format.parseDate(text + "T00:00:00Z") { return date }
        throw CLIError.usage("\(flag): '\(text)' is not a date (use RFC 3339, e.g. 2025-01-31T12:00:00Z, or YYYY-MM-DD)")
    }
}
