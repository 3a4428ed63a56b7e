/// Every policy string of docs/api.md §3, `resource:action`.
public enum Policies {
    public static let all: [String] = [
        "projects:read", "projects:write", "projects:delete",
        "environments:read", "environments:write", "environments:delete",
        "deployments:read", "deployments:write", "deployments:delete", "deployments:deploy",
        "spaces:read", "spaces:write",
        "integrations:read", "integrations:write",
        "cloud-accounts:read", "cloud-accounts:write",
        "runtime:read", "audit:read",
        "members:read", "members:write",
    ]

    static let readsForEveryone = all.filter { $0.hasSuffix(":read") && $0 != "audit:read" && $0 != "members:read" }

    /// The built-in roles: fixed IDs, not editable.
    public static let builtInRoles: [(id: String, name: String, description: String, policies: [String])] = [
        (BuiltInRole.admin, "admin", "Every policy.", all),
        (BuiltInRole.developer, "developer", "Reads the catalog, changes environments and deployments, deploys, reads live runtime.",
         readsForEveryone + ["environments:write", "deployments:write", "deployments:delete", "deployments:deploy"]),
        (BuiltInRole.viewer, "viewer", "Reads the catalog and live runtime.", readsForEveryone),
    ]
}
