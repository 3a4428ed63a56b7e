/// One assignment of a user with what its role holds, as an explanation lists it.
public struct HeldAssignment: Sendable, Equatable {
    public var assignmentID: String
    public var roleID: String
    public var grant: Grant

    public init(assignmentID: String, roleID: String, grant: Grant) {
        self.assignmentID = assignmentID
        self.roleID = roleID
        self.grant = grant
    }
}

/// The answer to "why can't I?" (docs/api.md §9): whether a user may do `action` on a resource, every assignment
/// that grants it there, or, when none does, what would.
public struct AccessExplanation: Sendable, Equatable {
    public struct GrantingAssignment: Sendable, Equatable {
        public var assignmentID: String
        public var roleID: String
        public var scope: String
        public var policy: String
    }

    public var allowed: Bool
    public var visible: Bool
    public var grants: [GrantingAssignment]
    public var reason: String?

    /// Decides with the same rule every route applies (`Permissions.authorize`), so an explanation can never
    /// disagree with the answer the route gives. `target` is nil for a resource that does not exist (it is
    /// explained as one the user cannot see, which discloses nothing); `rolesGranting` names the organization's roles
    /// that hold `action`.
    public static func explain(_ action: String, on target: Target?, resource: String, assignments: [HeldAssignment],
                               rolesGranting: [String]) -> AccessExplanation {
        let permissions = Permissions(grants: assignments.map(\.grant))
        guard let target, permissions.sees(target) else {
            return AccessExplanation(
                allowed: false, visible: false, grants: [],
                reason: "This \(resource) is hidden from the user: seeing it needs projects:read on its project or a read "
                    + "(environments:read, deployments:read or runtime:read) covering it, at its scope or one above.")
        }
        let grants = assignments.filter { $0.grant.policies.contains(action) && $0.grant.covers(target) }.map {
            GrantingAssignment(assignmentID: $0.assignmentID, roleID: $0.roleID, scope: $0.grant.scope.description, policy: action)
        }
        let allowed = (try? permissions.authorize(action, on: target, resource: resource)) != nil
        if allowed {
            return AccessExplanation(allowed: true, visible: true, grants: grants,
                                     reason: grants.isEmpty ? "Seeing this \(resource) is reading it: a read on it or below makes it visible." : nil)
        }
        let roles = rolesGranting.isEmpty ? "no role of the organization holds it" : "roles that grant it: \(rolesGranting.joined(separator: ", "))"
        return AccessExplanation(
            allowed: false, visible: true, grants: [],
            reason: "No assignment grants \(action) on \(target.scope) or a scope above it; \(roles).")
    }
}
