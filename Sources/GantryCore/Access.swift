/// Where an assignment applies (docs/api.md §3): the organization, one project, or one environment.
/// A grant covers its scope and everything below it.
public enum Scope: Hashable, Sendable, CustomStringConvertible {
    case organization
    case project(String)
    case environment(String)

    /// Parses `org`, `project:<prj id>` or `environment:<env id>`; nil for anything else.
    public init?(parsing text: String) {
        if text == "org" { self = .organization; return }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "project" where IDGenerator.isValid(parts[1], prefix: .project): self = .project(parts[1])
        case "environment" where IDGenerator.isValid(parts[1], prefix: .environment): self = .environment(parts[1])
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .organization: "org"
        case .project(let id): "project:\(id)"
        case .environment(let id): "environment:\(id)"
        }
    }
}

/// What a request acts on, with its place in the hierarchy so grants higher up can cover it.
/// Deployments and connections act on their environment: grants stop at environment scope.
public enum Target: Sendable, Equatable {
    case organization
    case project(String)
    case environment(String, project: String)
}

/// One assignment as the access check needs it: its scope, the project above an environment
/// scope, and the role's policies.
public struct Grant: Sendable, Equatable {
    public var scope: Scope
    /// For an environment scope, the project it belongs to (an environment never changes project).
    public var projectID: String?
    public var policies: Set<String>

    public init(scope: Scope, projectID: String? = nil, policies: Set<String>) {
        self.scope = scope
        self.projectID = projectID
        self.policies = policies
    }

    func covers(_ target: Target) -> Bool {
        switch (scope, target) {
        case (.organization, _): true
        case (.project(let p), .project(let q)): p == q
        case (.project(let p), .environment(_, let q)): p == q
        case (.environment(let e), .environment(let f, _)): e == f
        default: false
        }
    }

    var readsSomething: Bool { policies.contains { $0.hasSuffix(":read") } }
}

/// Which rows of a list the caller may see: all of them, or only those with these IDs.
public enum Visible: Sendable, Equatable {
    case all
    case only(Set<String>)

    public var isEmpty: Bool { if case .only(let ids) = self { ids.isEmpty } else { false } }
}

/// The caller's grants, and every access decision of docs/api.md §3, with no I/O.
public struct Permissions: Sendable, Equatable {
    public var grants: [Grant]

    public init(grants: [Grant]) { self.grants = grants }

    public func allows(_ policy: String, on target: Target) -> Bool {
        grants.contains { $0.policies.contains(policy) && $0.covers(target) }
    }

    /// A project is visible with `projects:read` on it, or any read on one of its environments;
    /// an environment with any read covering it. Organization-level resources are never hidden (403, not 404).
    public func sees(_ target: Target) -> Bool {
        switch target {
        case .organization:
            return true
        case .project(let id):
            return allows("projects:read", on: target)
                || grants.contains { $0.readsSomething && $0.projectID == id }
        case .environment:
            return grants.contains { $0.readsSomething && $0.covers(target) }
        }
    }

    /// Allowed, or the error the caller gets: 404 naming `resource` when it cannot see the target, else 403.
    /// Reading a project is seeing it, so an environment grant reads the project above it.
    public func authorize(_ policy: String, on target: Target, resource: String) throws {
        if allows(policy, on: target) { return }
        if policy == "projects:read", case .project = target, sees(target) { return }
        if sees(target) {
            throw AppError(.forbidden, "Your role does not grant \(policy) on this \(resource); ask an organization admin for access.")
        }
        throw AppError.notFound(resource)
    }

    /// The projects a list or the stats may show.
    public var visibleProjects: Visible {
        if allows("projects:read", on: .organization) { return .all }
        var ids = Set<String>()
        for grant in grants {
            if case .project(let id) = grant.scope, grant.policies.contains("projects:read") { ids.insert(id) }
            if case .environment = grant.scope, grant.readsSomething, let project = grant.projectID { ids.insert(project) }
        }
        return .only(ids)
    }

    /// Within a visible project, the environments the caller may read with `policy`.
    public func visibleEnvironments(in projectID: String, policy: String = "environments:read") -> Visible {
        if allows(policy, on: .project(projectID)) { return .all }
        return .only(Set(grants.compactMap { grant in
            guard case .environment(let id) = grant.scope, grant.projectID == projectID, grant.policies.contains(policy) else { return nil }
            return id
        }))
    }

    /// For aggregates across projects: the projects whose every environment the caller reads, and the
    /// single environments it reads elsewhere. nil when it reads every environment of the organization.
    public var readableEnvironments: (projects: Set<String>, environments: Set<String>)? {
        if allows("environments:read", on: .organization) { return nil }
        var projects = Set<String>(), environments = Set<String>()
        for grant in grants where grant.policies.contains("environments:read") {
            switch grant.scope {
            case .organization: return nil
            case .project(let id): projects.insert(id)
            case .environment(let id): environments.insert(id)
            }
        }
        return (projects, environments)
    }
}
