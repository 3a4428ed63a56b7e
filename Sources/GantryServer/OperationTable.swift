import GantryCore

/// What an operation needs from its caller (docs/api.md §3).
enum Requirement: Sendable, Equatable {
    /// Any authenticated caller: it acts on itself (`/me`, its own tokens) or reads public facts (`/policies`).
    case caller
    /// The policy held at `org` scope; otherwise 403.
    case organization(String)
    /// The policy held at a scope covering the resource the operation acts on; checked where the resource is
    /// read (404 when the caller cannot see it, 403 when it can see but not do this). Lists are filtered in SQL.
    case resource(String)

    var policy: String? {
        switch self {
        case .caller: nil
        case .organization(let policy), .resource(let policy): policy
        }
    }
}

/// Every operation of `openapi.yaml` and its access rule. The router refuses to start when an operation is
/// missing, and a test compares this table with the document, so no route can ship unprotected.
/// `AuthorizationMiddleware` applies `org`-scoped rules by the operation ID the OpenAPI runtime routed to; a rule on a
/// resource is checked where the resource is read, with the policy the handler takes from here (`policy(_:)`).
enum OperationTable {
    /// The policy an operation checks on the resources it reads. Handlers pass it to each repository call, so the call
    /// site says what it checks (`environments.get` from the runtime routes checks `runtime:read`). An operation
    /// without a policy is refused, never let through.
    static func policy(_ operationID: String) throws -> String {
        guard let policy = requirements[operationID]?.policy else {
            throw AppError(.forbidden, "This operation has no access rule; it is refused.")
        }
        return policy
    }

    static let requirements: [String: Requirement] = [
        "getMe": .caller,
        "listTokens": .caller,
        "createToken": .caller,
        "revokeToken": .caller,
        "listPolicies": .caller,
        "explainAccess": .caller,

        "listProjects": .resource("projects:read"),
        "getProjectStats": .resource("projects:read"),
        "createProject": .organization("projects:write"),
        "getProject": .resource("projects:read"),
        "updateProject": .resource("projects:write"),
        "deleteProject": .resource("projects:delete"),
        "restoreProject": .resource("projects:write"),

        "listEnvironments": .resource("environments:read"),
        "createEnvironment": .resource("environments:write"),
        "getEnvironment": .resource("environments:read"),
        "getEnvironmentById": .resource("environments:read"),
        "updateEnvironment": .resource("environments:write"),
        "deleteEnvironment": .resource("environments:delete"),
        // Preview environments and cost (docs/api.md §8). Cloning also needs deployments:deploy when it deploys the copies.
        "listAllEnvironments": .resource("environments:read"),
        "cloneEnvironment": .resource("environments:write"),
        "getProjectCost": .resource("projects:read"),
        "getEnvironmentCost": .resource("runtime:read"),

        "listDeployments": .resource("deployments:read"),
        "createDeployment": .resource("deployments:write"),
        "getDeployment": .resource("deployments:read"),
        "updateDeployment": .resource("deployments:write"),
        "deleteDeployment": .resource("deployments:delete"),

        // Deploying (docs/api.md §7).
        "deployDeployment": .resource("deployments:deploy"),
        "rollbackDeployment": .resource("deployments:deploy"),
        "deployEnvironment": .resource("deployments:deploy"),
        "listRevisions": .resource("deployments:read"),
        "getRevision": .resource("deployments:read"),
        "listDeploymentEvents": .resource("runtime:read"),

        // Connections follow deployments' policies.
        "listConnections": .resource("deployments:read"),
        "createConnection": .resource("deployments:write"),
        "acceptConnection": .resource("deployments:write"),
        "deleteConnection": .resource("deployments:delete"),

        "listSpaces": .organization("spaces:read"),
        "getSpace": .organization("spaces:read"),
        "createSpace": .organization("spaces:write"),
        "updateSpace": .organization("spaces:write"),
        "deleteSpace": .organization("spaces:write"),

        "listCloudAccounts": .organization("cloud-accounts:read"),
        "getCloudAccount": .organization("cloud-accounts:read"),
        "createCloudAccount": .organization("cloud-accounts:write"),
        "updateCloudAccount": .organization("cloud-accounts:write"),
        "deleteCloudAccount": .organization("cloud-accounts:write"),

        "listIntegrations": .organization("integrations:read"),
        "getIntegration": .organization("integrations:read"),
        "createIntegration": .organization("integrations:write"),
        "updateIntegration": .organization("integrations:write"),
        "deleteIntegration": .organization("integrations:write"),

        "listUsers": .organization("members:read"),
        "getUser": .organization("members:read"),
        "createUser": .organization("members:write"),
        "deleteUser": .organization("members:write"),
        "createUserToken": .organization("members:write"),
        "listRoles": .organization("members:read"),
        "getRole": .organization("members:read"),
        "createRole": .organization("members:write"),
        "replaceRole": .organization("members:write"),
        "deleteRole": .organization("members:write"),
        "listAssignments": .organization("members:read"),
        "createAssignment": .organization("members:write"),
        "deleteAssignment": .organization("members:write"),

        // Live runtime (docs/api.md §6, deployer role).
        "getEnvironmentStats": .resource("runtime:read"),
        "getClusterDiscovery": .resource("runtime:read"),
        "listSpaceNamespaces": .organization("runtime:read"),
        "createSpaceNamespace": .organization("spaces:write"),

        "listAuditLogs": .organization("audit:read"),
        "exportAuditLogs": .organization("audit:read"),
        "verifyAuditLog": .organization("audit:read"),
    ]
}
