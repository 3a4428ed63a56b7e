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

extension Target {
    /// The scope an assignment would need to name to grant something on exactly this target.
    public var scope: Scope {
        switch self {
        case .organization: .organization
        case .project(let id): .project(id)
        case .environment(let id, _): .environment(id)
        }
    }
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

    /// The reads that act on an environment or what it holds (its deployments and connections, its live runtime).
    /// Organization-level reads (spaces, integrations, cloud accounts, members, audit) and `projects:read` are not
    /// reads "on an environment" (docs/api.md §3), whatever scope they are granted at.
    public static let environmentReads: Set<String> = ["environments:read", "deployments:read", "runtime:read"]

    /// This grant reads the environments it covers.
    var readsEnvironments: Bool { !policies.isDisjoint(with: Self.environmentReads) }

    /// This grant reads environments of `projectID`: at `org` or that project's scope it covers all of them
    /// (present and future), at an environment's scope that one.
    func readsEnvironments(of projectID: String) -> Bool {
        guard readsEnvironments else { return false }
        switch scope {
        case .organization: return true
        case .project(let id): return id == projectID
        case .environment: return self.projectID == projectID
        }
    }
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

    /// Visibility (docs/api.md §3): a project is visible with `projects:read` on it, or any read on one of its
    /// environments (`environmentReads`, held at `org` scope, the project's scope or one of its environments' scopes);
    /// an environment is visible with any of those reads covering it ("it then sees only the environments it may
    /// read"). Organization-level resources are never hidden (403, not 404).
    public func sees(_ target: Target) -> Bool {
        switch target {
        case .organization:
            return true
        case .project(let id):
            return allows("projects:read", on: target) || grants.contains { $0.readsEnvironments(of: id) }
        case .environment:
            return grants.contains { $0.readsEnvironments && $0.covers(target) }
        }
    }

    /// Allowed, or the error the caller gets: 404 naming `resource` when it cannot see the target (whatever else
    /// it holds: a write without a read on something hidden is still 404), else 403 when it lacks `policy`.
    /// Reading a project or an environment is seeing it: whoever sees one may read it, so an environment grant
    /// reads the project above it, and a `deployments:read` grant reads its environment.
    public func authorize(_ policy: String, on target: Target, resource: String) throws {
        guard sees(target) else { throw AppError.notFound(resource) }
        if allows(policy, on: target) { return }
        if policy == "projects:read", case .project = target { return }
        if policy == "environments:read", case .environment = target { return }
        throw AppError.forbidden(policy, on: target, "Your role does not grant \(policy) on this \(resource); ask an organization admin for access.")
    }

    /// The projects a list or the stats may show: those `sees` allows.
    public var visibleProjects: Visible {
        if grants.contains(where: { $0.scope == .organization && ($0.policies.contains("projects:read") || $0.readsEnvironments) }) {
            return .all
        }
        var ids = Set<String>()
        for grant in grants {
            switch grant.scope {
            case .organization:
                continue
            case .project(let id):
                if grant.policies.contains("projects:read") || grant.readsEnvironments { ids.insert(id) }
            case .environment:
                if grant.readsEnvironments, let project = grant.projectID { ids.insert(project) }
            }
        }
        return .only(ids)
    }

    /// Within a visible project, the environments the caller may see (and so read): those `sees` allows.
    public func visibleEnvironments(in projectID: String) -> Visible {
        if grants.contains(where: { $0.readsEnvironments && $0.covers(.project(projectID)) }) { return .all }
        return .only(Set(grants.compactMap { grant in
            guard case .environment(let id) = grant.scope, grant.projectID == projectID, grant.readsEnvironments else { return nil }
            return id
        }))
    }

    /// For aggregates across projects: the projects whose every environment the caller sees, and the
    /// single environments it sees elsewhere. nil when it sees every environment of the organization.
    public var readableEnvironments: (projects: Set<String>, environments: Set<String>)? {
        var projects = Set<String>(), environments = Set<String>()
        for grant in grants where grant.readsEnvironments {
            switch grant.scope {
            case .organization: return nil
            case .project(let id): projects.insert(id)
            case .environment(let id): environments.insert(id)
            }
        }
        return (projects, environments)
    }
}
