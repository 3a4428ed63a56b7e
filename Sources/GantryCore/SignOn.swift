/// `--oidc-group-role GROUP=ROLE_ID@SCOPE` (docs/api.md §9): members of the identity provider's group hold the role
/// at the scope, kept in step at every sign-in.
public struct GroupRoleMapping: Sendable, Equatable, Hashable {
    public var group: String
    public var roleID: String
    public var scope: Scope

    public init(group: String, roleID: String, scope: Scope) {
        self.group = group
        self.roleID = roleID
        self.scope = scope
    }

    /// Parses `GROUP=ROLE_ID@SCOPE`, e.g. `platform=role_admin@org` or `devs=role_developer@project:prj_…`; nil when
    /// malformed. The group is everything before the last `=` that precedes the role, so a group may hold `=`.
    public init?(parsing text: String) {
        guard let at = text.lastIndex(of: "@"), let equals = text[..<at].lastIndex(of: "=") else { return nil }
        let group = String(text[..<equals]), roleID = String(text[text.index(after: equals)..<at])
        guard !group.isEmpty, !roleID.isEmpty, roleID.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
              let scope = Scope(parsing: String(text[text.index(after: at)...])) else { return nil }
        self.init(group: group, roleID: roleID, scope: scope)
    }

    /// The role grants a member of `groups` should hold from the mappings (each once).
    public static func desired(_ mappings: [GroupRoleMapping], groups: Set<String>) -> Set<RoleGrant> {
        Set(mappings.filter { groups.contains($0.group) }.map { RoleGrant(roleID: $0.roleID, scope: $0.scope) })
    }
}

/// A role at a scope, as an assignment holds it.
public struct RoleGrant: Sendable, Hashable {
    public var roleID: String
    public var scope: Scope

    public init(roleID: String, scope: Scope) {
        self.roleID = roleID
        self.scope = scope
    }
}

/// Who the identity provider says signed in, once its ID token has been verified.
public struct SignedInIdentity: Sendable, Equatable {
    public var email: String
    public var name: String
    public var groups: Set<String>

    public init(email: String, name: String, groups: Set<String>) {
        self.email = email
        self.name = name
        self.groups = groups
    }
}
