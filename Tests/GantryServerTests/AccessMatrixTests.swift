import Foundation
import GantryCore
import GantryAPI
@testable import GantryServer
import Testing

/// docs/api.md §3: every built-in role × scope × operation gets the status the operation table implies.
/// Expectations are derived from `OperationTable` by a small oracle written from the contract's words,
/// so a new operation without a call here, or a rule the code does not enforce, fails the suite.
@Suite("Access matrix")
struct AccessMatrixTests {
    enum ScopeKind: String, CaseIterable { case org, project, environment }

    /// The resource a call acts on, for the oracle.
    enum On { case organization, project, deletedProject, environment }

    struct Call {
        let method: String
        let path: String
        var body: [String: Any]?
        let on: On
    }

    /// The fixture one role/scope pair runs against, made by the admin.
    struct World {
        var project = "", deletedProject = "", environment = "", space = "", spareSpace = "", deployment = "", spareDeployment = ""
        var connection = "", cloudAccount = "", integration = "", user = "", spareUser = "", role = "", spareRole = "", assignment = ""

        static func make(_ admin: TestApp) async throws -> World {
            var w = World()
            w.project = try await admin.createProject()
            w.deletedProject = try await admin.createProject()
            #expect(try await admin.delete("/api/projects/\(w.deletedProject)").status == 204)
            w.space = try await admin.createSpace()
            w.spareSpace = try await admin.createSpace()
            w.environment = try await admin.createEnvironment(project: w.project, space: w.space)
            w.deployment = try await admin.createDeployment(environment: w.environment, name: "api")
            let worker = try await admin.createDeployment(environment: w.environment, name: "worker")
            w.spareDeployment = try await admin.createDeployment(environment: w.environment, name: "spare")
            // Revision 1 exists for the revision reads and the rollback.
            try #require(try await admin.post("/api/deployments/\(w.deployment)/deploy").status == 202, "deploy fixture")
            w.connection = try await admin.post("/api/environments/\(w.environment)/connections",
                                                ["fromDeploymentId": w.deployment, "toDeploymentId": worker]).id
            w.cloudAccount = try await admin.post("/api/cloud-accounts", ["name": "aws-\(UUID().uuidString.prefix(6))", "provider": "aws",
                "credentials": ["accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]]).id
            w.integration = try await admin.post("/api/integrations", ["name": "ghcr-\(UUID().uuidString.prefix(6))", "kind": "ghcr", "registry": "ghcr.io"]).id
            w.user = try await admin.post("/api/users", ["email": "x-\(UUID().uuidString.prefix(6))@example.com", "name": "X"]).id
            w.spareUser = try await admin.post("/api/users", ["email": "y-\(UUID().uuidString.prefix(6))@example.com", "name": "Y"]).id
            w.role = try await admin.post("/api/roles", ["name": "r-\(UUID().uuidString.prefix(6))", "policies": ["projects:read"]]).id
            w.spareRole = try await admin.post("/api/roles", ["name": "s-\(UUID().uuidString.prefix(6))", "policies": ["projects:read"]]).id
            w.assignment = try await admin.post("/api/assignments", ["userId": w.user, "roleId": w.role, "scope": "org"]).id
            for id in [w.connection, w.cloudAccount, w.integration, w.user, w.spareUser, w.role, w.spareRole, w.assignment] {
                try #require(!id.isEmpty, "fixture")
            }
            return w
        }

        /// The resource an explanation asks about for a call on `on` (`GET /access/explain?resource=`).
        func resource(_ on: On) -> String {
            switch on {
            case .organization: "org"
            case .project: project
            case .deletedProject: deletedProject
            case .environment: environment
            }
        }

        /// The scope a refusal of a call on `on` names in `details.scope`.
        func refusalScope(_ on: On, requirement: Requirement) -> String {
            if case .organization = requirement { return "org" }
            return on == .environment ? "environment:\(environment)" : "project:\(resource(on))"
        }

        func scope(_ kind: ScopeKind) -> String {
            switch kind {
            case .org: "org"
            case .project: "project:\(project)"
            case .environment: "environment:\(environment)"
            }
        }
    }

    static func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// One call per operation; deletes and the token revocation come last, in `order`.
    static func calls(_ w: World, spareToken: String) -> [String: Call] {
        [
            "getMe": Call(method: "GET", path: "/api/me", on: .organization),
            "listTokens": Call(method: "GET", path: "/api/tokens", on: .organization),
            "createToken": Call(method: "POST", path: "/api/tokens", body: ["name": "ci"], on: .organization),
            "revokeToken": Call(method: "DELETE", path: "/api/tokens/\(spareToken)", on: .organization),
            "listPolicies": Call(method: "GET", path: "/api/policies", on: .organization),
            "explainAccess": Call(method: "GET", path: "/api/access/explain?action=projects:read&resource=\(w.project)", on: .organization),
            "listProjects": Call(method: "GET", path: "/api/projects", on: .organization),
            "getProjectStats": Call(method: "GET", path: "/api/projects/stats", on: .organization),
            "createProject": Call(method: "POST", path: "/api/projects", body: ["name": unique("p")], on: .organization),
            "getProject": Call(method: "GET", path: "/api/projects/\(w.project)", on: .project),
            "updateProject": Call(method: "PATCH", path: "/api/projects/\(w.project)", body: ["description": "changed"], on: .project),
            "deleteProject": Call(method: "DELETE", path: "/api/projects/\(w.project)", on: .project),
            "restoreProject": Call(method: "POST", path: "/api/projects/\(w.deletedProject)/restore", on: .deletedProject),
            "listEnvironments": Call(method: "GET", path: "/api/projects/\(w.project)/environments", on: .project),
            "createEnvironment": Call(method: "POST", path: "/api/projects/\(w.project)/environments",
                                      body: ["name": unique("e"), "spaceId": w.space, "namespace": unique("ns")], on: .project),
            "getEnvironment": Call(method: "GET", path: "/api/projects/\(w.project)/environments/\(w.environment)", on: .environment),
            "getEnvironmentById": Call(method: "GET", path: "/api/environments/\(w.environment)", on: .environment),
            "updateEnvironment": Call(method: "PATCH", path: "/api/projects/\(w.project)/environments/\(w.environment)",
                                      body: ["registryUrl": "ghcr.io/acme"], on: .environment),
            "deleteEnvironment": Call(method: "DELETE", path: "/api/projects/\(w.project)/environments/\(w.environment)", on: .environment),
            "listAllEnvironments": Call(method: "GET", path: "/api/environments", on: .organization),
            "cloneEnvironment": Call(method: "POST", path: "/api/environments/\(w.environment)/clone",
                                     body: ["name": unique("c"), "namespace": unique("ns")], on: .environment),
            "getProjectCost": Call(method: "GET", path: "/api/projects/\(w.project)/cost", on: .project),
            "getEnvironmentCost": Call(method: "GET", path: "/api/environments/\(w.environment)/cost", on: .environment),
            "listDeployments": Call(method: "GET", path: "/api/environments/\(w.environment)/deployments", on: .environment),
            "createDeployment": Call(method: "POST", path: "/api/environments/\(w.environment)/deployments",
                                     body: ["name": unique("d"), "image": "ghcr.io/acme/d:1"], on: .environment),
            "getDeployment": Call(method: "GET", path: "/api/deployments/\(w.deployment)", on: .environment),
            "updateDeployment": Call(method: "PATCH", path: "/api/deployments/\(w.deployment)", body: ["replicas": 2], on: .environment),
            "deleteDeployment": Call(method: "DELETE", path: "/api/deployments/\(w.spareDeployment)", on: .environment),
            "deployDeployment": Call(method: "POST", path: "/api/deployments/\(w.deployment)/deploy", on: .environment),
            "rollbackDeployment": Call(method: "POST", path: "/api/deployments/\(w.deployment)/rollback", body: ["revision": 1], on: .environment),
            "deployEnvironment": Call(method: "POST", path: "/api/environments/\(w.environment)/deploy", on: .environment),
            "listRevisions": Call(method: "GET", path: "/api/deployments/\(w.deployment)/revisions", on: .environment),
            "getRevision": Call(method: "GET", path: "/api/deployments/\(w.deployment)/revisions/1", on: .environment),
            "listDeploymentEvents": Call(method: "GET", path: "/api/deployments/\(w.deployment)/events", on: .environment),
            "listConnections": Call(method: "GET", path: "/api/environments/\(w.environment)/connections", on: .environment),
            "createConnection": Call(method: "POST", path: "/api/environments/\(w.environment)/connections",
                                     body: ["fromDeploymentId": w.spareDeployment, "toDeploymentId": w.deployment], on: .environment),
            "acceptConnection": Call(method: "POST", path: "/api/connections/\(w.connection)/accept", on: .environment),
            "deleteConnection": Call(method: "DELETE", path: "/api/connections/\(w.connection)", on: .environment),
            "listSpaces": Call(method: "GET", path: "/api/spaces", on: .organization),
            "getSpace": Call(method: "GET", path: "/api/spaces/\(w.space)", on: .organization),
            "createSpace": Call(method: "POST", path: "/api/spaces",
                                body: ["name": unique("s"), "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig()], on: .organization),
            "updateSpace": Call(method: "PATCH", path: "/api/spaces/\(w.space)", body: ["name": unique("s")], on: .organization),
            "deleteSpace": Call(method: "DELETE", path: "/api/spaces/\(w.spareSpace)", on: .organization),
            "listCloudAccounts": Call(method: "GET", path: "/api/cloud-accounts", on: .organization),
            "getCloudAccount": Call(method: "GET", path: "/api/cloud-accounts/\(w.cloudAccount)", on: .organization),
            "createCloudAccount": Call(method: "POST", path: "/api/cloud-accounts", body: ["name": unique("ca"), "provider": "aws",
                "credentials": ["accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]], on: .organization),
            "updateCloudAccount": Call(method: "PATCH", path: "/api/cloud-accounts/\(w.cloudAccount)", body: ["name": unique("ca")], on: .organization),
            "deleteCloudAccount": Call(method: "DELETE", path: "/api/cloud-accounts/\(w.cloudAccount)", on: .organization),
            "listIntegrations": Call(method: "GET", path: "/api/integrations", on: .organization),
            "getIntegration": Call(method: "GET", path: "/api/integrations/\(w.integration)", on: .organization),
            "createIntegration": Call(method: "POST", path: "/api/integrations", body: ["name": unique("i"), "kind": "generic", "registry": "r.example.com"], on: .organization),
            "updateIntegration": Call(method: "PATCH", path: "/api/integrations/\(w.integration)", body: ["name": unique("i")], on: .organization),
            "deleteIntegration": Call(method: "DELETE", path: "/api/integrations/\(w.integration)", on: .organization),
            "listUsers": Call(method: "GET", path: "/api/users", on: .organization),
            "getUser": Call(method: "GET", path: "/api/users/\(w.user)", on: .organization),
            "createUser": Call(method: "POST", path: "/api/users", body: ["email": "\(unique("u"))@example.com", "name": "U"], on: .organization),
            "deleteUser": Call(method: "DELETE", path: "/api/users/\(w.spareUser)", on: .organization),
            "createUserToken": Call(method: "POST", path: "/api/users/\(w.user)/tokens", body: ["name": "bot"], on: .organization),
            "listRoles": Call(method: "GET", path: "/api/roles", on: .organization),
            "getRole": Call(method: "GET", path: "/api/roles/\(w.role)", on: .organization),
            "createRole": Call(method: "POST", path: "/api/roles", body: ["name": unique("r"), "policies": ["audit:read"]], on: .organization),
            "replaceRole": Call(method: "PUT", path: "/api/roles/\(w.role)", body: ["name": unique("r"), "policies": ["projects:read"]], on: .organization),
            "deleteRole": Call(method: "DELETE", path: "/api/roles/\(w.spareRole)", on: .organization),
            "listAssignments": Call(method: "GET", path: "/api/assignments", on: .organization),
            "createAssignment": Call(method: "POST", path: "/api/assignments", body: ["userId": w.user, "roleId": "role_viewer", "scope": "org"], on: .organization),
            "deleteAssignment": Call(method: "DELETE", path: "/api/assignments/\(w.assignment)", on: .organization),
            "getEnvironmentStats": Call(method: "GET", path: "/api/environments/\(w.environment)/stats", on: .environment),
            "getClusterDiscovery": Call(method: "GET", path: "/api/environments/\(w.environment)/cluster-discovery", on: .environment),
            "listSpaceNamespaces": Call(method: "GET", path: "/api/space-discovery/\(w.space)/namespaces", on: .organization),
            "createSpaceNamespace": Call(method: "POST", path: "/api/space-discovery/\(w.space)/namespaces", body: ["name": unique("ns")], on: .organization),
            "listAuditLogs": Call(method: "GET", path: "/api/audit-logs", on: .organization),
            "exportAuditLogs": Call(method: "GET", path: "/api/audit-logs/export", on: .organization),
            "verifyAuditLog": Call(method: "GET", path: "/api/audit-logs/verify", on: .organization),
        ]
    }

    static let last = [
        "deleteConnection", "deleteDeployment", "deleteEnvironment", "deleteProject", "deleteSpace", "deleteCloudAccount",
        "deleteIntegration", "deleteUser", "deleteRole", "deleteAssignment", "revokeToken",
    ]

    static var order: [String] {
        OperationTable.requirements.keys.filter { !last.contains($0) }.sorted() + last
    }

    enum Expect: Equatable { case allowed, status(Int) }

    /// The reads "on an environment" in the sense of docs/api.md §3's visibility rule: they act on an environment or
    /// on what it holds (deployments, connections, live runtime). Organization-level reads (spaces, integrations, cloud
    /// accounts, members, audit) and `projects:read` are not reads on an environment, at whatever scope they are held.
    static let environmentReads: Set<String> = ["environments:read", "deployments:read", "runtime:read"]

    /// The contract's rules, restated for any set of policies held at one scope:
    /// - a grant covers its scope and below; organization-level resources need an `org` grant (else 403);
    /// - a project is visible with `projects:read` covering it, or any read on one of its environments (a read held at
    ///   `org` or the project's scope reads all of its environments, present and future; one at an environment's
    ///   scope reads that environment);
    /// - "it then sees only the environments it may read": an environment is visible with a read on it; reading a
    ///   project or an environment is seeing it, so a visible one may be read (GET) even without `projects:read` /
    ///   `environments:read` themselves;
    /// - what the caller cannot see is 404 whatever else it holds (a write without a read is 404, not 403); what it
    ///   sees but may not do is 403; lists are filtered, never refused: listing a visible project's environments
    ///   answers 200 with only the visible ones — possibly none (`projects:read` alone) — rather than 403, since 403
    ///   would confirm environments it may not see and the rule says it "sees only the environments it may read".
    static func expect(_ operation: String, on target: On, policies: Set<String>, scope: ScopeKind) -> Expect {
        let readsEnvironments = !policies.isDisjoint(with: environmentReads)
        func covers(_ target: On) -> Bool {
            switch (scope, target) {
            case (.org, _): true
            case (.project, .project), (.project, .environment): true
            case (.environment, .environment): true
            default: false
            }
        }
        func visible(_ target: On) -> Bool {
            switch target {
            case .organization:
                true
            case .project, .deletedProject:
                // The fixture's environment belongs to `project`; the deleted project has none.
                (policies.contains("projects:read") && covers(target))
                    || (readsEnvironments && (covers(target) || (scope == .environment && target == .project)))
            case .environment:
                readsEnvironments && covers(target)
            }
        }
        switch OperationTable.requirements[operation]! {
        case .caller:
            return .allowed
        case .organization(let policy):
            return scope == .org && policies.contains(policy) ? .allowed : .status(403)
        case .resource(let policy):
            if operation == "listProjects" || operation == "getProjectStats" || operation == "listAllEnvironments" { return .allowed }
            // A clone is made from an environment the caller sees, into its project: the write must cover the project.
            if operation == "cloneEnvironment" {
                guard visible(.environment) else { return .status(404) }
                return policies.contains(policy) && covers(.project) ? .allowed : .status(403)
            }
            if operation == "listEnvironments" { return visible(.project) ? .allowed : .status(404) }
            guard visible(target) else { return .status(404) }
            if policies.contains(policy) && covers(target) { return .allowed }
            if policy == "projects:read" && (target == .project || target == .deletedProject) { return .allowed }   // reading a project is seeing it
            if policy == "environments:read" && target == .environment { return .allowed }   // likewise an environment
            return .status(403)
        }
    }

    /// Whether a list answer shows the fixture's project or environment, from the same rule.
    static func listed(_ operation: String, policies: Set<String>, scope: ScopeKind) -> (id: KeyPath<World, String>, key: String, shown: Bool)? {
        let readsEnvironments = !policies.isDisjoint(with: environmentReads)
        let projectVisible = (policies.contains("projects:read") && scope != .environment) || readsEnvironments
        switch operation {
        case "listProjects": return (\.project, "id", projectVisible)
        case "getProjectStats": return (\.project, "projectId", projectVisible)
        case "listEnvironments", "listAllEnvironments": return (\.environment, "id", readsEnvironments)
        default: return nil
        }
    }

    /// Runs every operation as `caller` and checks each answer against the oracle; returns (allowed, refused) counts.
    static func check(
        _ caller: TestApp, world: World, spareToken: String, policies: Set<String>, scope: ScopeKind, label: String
    ) async throws -> (Int, Int) {
        var allowedAnswers = 0, refusals = 0
        let calls = Self.calls(world, spareToken: spareToken)
        try await Self.checkExplanations(caller, world: world, calls: calls, policies: policies, scope: scope, label: label)
        for operation in Self.order {
            guard let call = calls[operation] else { continue }   // `tableCoversDocument` names any operation without a call
            let reply = try await caller.request(.init(call.method)!, call.path, json: call.body)
            let expected = Self.expect(operation, on: call.on, policies: policies, scope: scope)
            let context = "\(label) at \(scope.rawValue): \(operation) → \(reply.status) \(reply.text.prefix(160))"
            switch expected {
            case .allowed:
                // 409: a delete refused for its children; 502: the fixture's cluster is unreachable (access was granted).
                #expect(reply.status < 400 || [409, 502].contains(reply.status), "\(context)")
                allowedAnswers += 1
                if let listed = Self.listed(operation, policies: policies, scope: scope) {
                    let ids = reply.items.compactMap { $0[listed.key] as? String }
                    #expect(ids.contains(world[keyPath: listed.id]) == listed.shown,
                            "\(context): the fixture should\(listed.shown ? "" : " not") be listed")
                }
            case .status(let status):
                #expect(reply.status == status, "\(context), expected \(status)")
                #expect(reply.errorCode == (status == 403 ? "forbidden" : "not_found"), "\(context)")
                if status == 403, let requirement = OperationTable.requirements[operation] {
                    let details = (reply.json["error"] as? [String: Any])?["details"] as? [String: Any]
                    #expect(details?["policy"] as? String == requirement.policy, "\(context): details.policy")
                    // A clone is refused at the project it would join, not at the environment it copies.
                    let refusedOn = operation == "cloneEnvironment" ? On.project : call.on
                    #expect(details?["scope"] as? String == world.refusalScope(refusedOn, requirement: requirement), "\(context): details.scope")
                }
                refusals += 1
            }
        }
        return (allowedAnswers, refusals)
    }

    /// `GET /access/explain` agrees with the answer each operation gets: asked, before any call changes the world, about
    /// every (policy, resource) an operation checks, it says allowed exactly when the oracle does, and not visible exactly
    /// when the answer is 404. Lists (filtered, never refused) and the restore of a deleted project (a row no read shows)
    /// are not explained.
    static func checkExplanations(_ caller: TestApp, world: World, calls: [String: Call], policies: Set<String>, scope: ScopeKind,
                                  label: String) async throws {
        let unexplained: Set<String> = ["listProjects", "getProjectStats", "listEnvironments", "listAllEnvironments", "restoreProject", "cloneEnvironment"]
        var asked: [String: (policy: String, resource: String, expected: Expect)] = [:]
        for operation in Self.order where !unexplained.contains(operation) {
            guard let call = calls[operation], let policy = OperationTable.requirements[operation]?.policy else { continue }
            let resource = world.resource(call.on)
            let key = "\(policy) \(resource)"
            if asked[key] == nil { asked[key] = (policy, resource, Self.expect(operation, on: call.on, policies: policies, scope: scope)) }
        }
        for (policy, resource, expected) in asked.values {
            let reply = try await caller.get("/api/access/explain?action=\(policy)&resource=\(resource)")
            let context = "\(label) at \(scope.rawValue): explain \(policy) on \(resource) → \(reply.text.prefix(300))"
            try #require(reply.status == 200, "\(context)")
            #expect(reply["allowed"] as? Bool == (expected == .allowed), "\(context), expected \(expected)")
            #expect(reply["visible"] as? Bool == (expected != .status(404)), "\(context), expected \(expected)")
            let grants = reply["grants"] as? [[String: Any]] ?? []
            #expect(grants.allSatisfy { $0["policy"] as? String == policy }, "\(context)")
            if expected != .allowed { #expect(reply["reason"] as? String != nil, "\(context): a refusal says why") }
        }
    }

    @Test("Every operation in the document has an access rule and a matrix call, and nothing else does")
    func tableCoversDocument() throws {
        let yaml = try APIDocument.yaml()
        let documented = Set(try OpenAPIDocuments(yaml: yaml, basePath: "/api").operations.values)
        #expect(documented == Set(OperationTable.requirements.keys))
        #expect(Set(Self.calls(World(), spareToken: "").keys) == Set(OperationTable.requirements.keys))
    }

    /// A fresh world and a member holding `role` at `scope` in it; every operation run as that member and checked.
    static func check(role: String, policies: Set<String>, scope: ScopeKind, label: String, admin: TestApp) async throws -> (Int, Int) {
        let world = try await World.make(admin)
        let member = try await admin.createMember(role: role, scope: world.scope(scope))
        let caller = admin.acting(as: member.token)
        let spare = try await caller.post("/api/tokens", ["name": "spare"])
        try #require(spare.status == 201)
        return try await check(caller, world: world, spareToken: spare.id, policies: policies, scope: scope, label: label)
    }

    @Test("Each built-in role at org, project and environment scope gets the table's status for every operation", arguments: TestDatabase.all)
    func matrix(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { admin in
            var allowedAnswers = 0, refusals = 0
            for (role, _, policies) in Policies.builtInRoles.map({ ($0.id, $0.name, Set($0.policies)) }) {
                for scope in ScopeKind.allCases {
                    let (allowed, refused) = try await Self.check(role: role, policies: policies, scope: scope, label: role, admin: admin)
                    allowedAnswers += allowed
                    refusals += refused
                }
            }
            // Not vacuous: both outcomes occur many times.
            #expect(allowedAnswers > 100 && refusals > 100, "allowed \(allowedAnswers), refused \(refusals)")
        }
    }

    /// Custom roles: each single policy, and a few pairs, at each scope.
    static let customPolicySets: [Set<String>] = Policies.all.map { [$0] } + [
        ["projects:read", "projects:write"], ["environments:read", "environments:write"],
        ["projects:read", "environments:write"], ["deployments:read", "deployments:write"],
        ["environments:read", "deployments:write"],
    ]

    @Test("Custom roles holding one policy (or a pair) at org, project and environment scope get the rule's status for every operation",
          arguments: TestDatabase.all, ScopeKind.allCases)
    func customRoleMatrix(_ db: TestDatabase, _ scope: ScopeKind) async throws {
        try await TestApp.run(db, settings: [Settings.keys.rateLimit: "0"]) { admin in
            var allowedAnswers = 0, refusals = 0
            for policies in Self.customPolicySets {
                let label = policies.sorted().joined(separator: "+")
                let role = try await admin.post("/api/roles", ["name": Self.unique("custom"), "policies": policies.sorted()])
                try #require(role.status == 201, "\(label): \(role.text)")
                let (allowed, refused) = try await Self.check(role: role.id, policies: policies, scope: scope, label: label, admin: admin)
                allowedAnswers += allowed
                refusals += refused
            }
            #expect(allowedAnswers > 100 && refusals > 100, "allowed \(allowedAnswers), refused \(refusals)")
        }
    }
}
