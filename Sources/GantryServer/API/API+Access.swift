import Foundation
import GantryAPI
import GantryCore

extension APIImplementation {
    // MARK: - Members

    func listUsers(_ input: Operations.ListUsers.Input) async throws -> Operations.ListUsers.Output {
        let policy = try OperationTable.policy(Operations.ListUsers.id)
        let page = try await repositories.access.listUsers(
            try PageRequest.parse(limit: input.query.limit, cursor: input.query.cursor), for: try RequestScope.caller(), requiring: policy
        )
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.User.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createUser(_ input: Operations.CreateUser.Input) async throws -> Operations.CreateUser.Output {
        let policy = try OperationTable.policy(Operations.CreateUser.id)
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        let email = body.email.trimmingCharacters(in: .whitespaces)
        validator.email(email)
        let name = validator.name(body.name)
        try validator.check()
        let user = try await repositories.access.createUser(email: email, name: name, by: try RequestScope.caller(), requiring: policy)
        return .created(.init(headers: .init(location: HTTPSupport.location("/users/\(user.id)")), body: .json(.init(data: .init(user)))))
    }

    func getUser(_ input: Operations.GetUser.Input) async throws -> Operations.GetUser.Output {
        let policy = try OperationTable.policy(Operations.GetUser.id)
        let id = try HTTPSupport.pathID(input.path.userID, .user, resource: "member")
        return .ok(.init(body: .json(.init(data: .init(try await repositories.access.getUser(id, for: try RequestScope.caller(), requiring: policy))))))
    }

    func deleteUser(_ input: Operations.DeleteUser.Input) async throws -> Operations.DeleteUser.Output {
        let policy = try OperationTable.policy(Operations.DeleteUser.id)
        let id = try HTTPSupport.pathID(input.path.userID, .user, resource: "member")
        try await repositories.access.deleteUser(id, by: try RequestScope.caller(), requiring: policy)
        return .noContent(.init())
    }

    func createUserToken(_ input: Operations.CreateUserToken.Input) async throws -> Operations.CreateUserToken.Output {
        let userID = try HTTPSupport.pathID(input.path.userID, .user, resource: "member")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let (location, token) = try await mintToken(body, for: userID)
        return .created(.init(headers: .init(location: location), body: .json(.init(data: token))))
    }

    /// A new token for `userID`; the response is the only place its secret ever appears.
    func mintToken(_ body: Components.Schemas.TokenCreate, for userID: String?) async throws -> (location: String, Components.Schemas.CreatedToken) {
        let caller = try RequestScope.caller()
        var validator = Validator()
        let name = validator.name(body.name)
        if let expiresAt = body.expiresAt, expiresAt <= Date() { validator.fail("expiresAt", "must be in the future") }
        try validator.check()
        let (info, secret) = try await repositories.identity.createToken(name: name, expiresAt: body.expiresAt, for: userID ?? caller.userID, by: caller)
        let location = HTTPSupport.location(userID == nil ? "/tokens/\(info.id)" : "/users/\(userID!)/tokens/\(info.id)")
        return (location, .init(
            id: info.id, name: info.name, createdAt: info.createdAt, expiresAt: info.expiresAt, lastUsedAt: nil, revokedAt: nil, token: secret,
            additionalProperties: .nulls(["expiresAt": info.expiresAt == nil, "lastUsedAt": true, "revokedAt": true])
        ))
    }

    // MARK: - Policies and roles

    func listPolicies(_ input: Operations.ListPolicies.Input) async throws -> Operations.ListPolicies.Output {
        .ok(.init(body: .json(.init(data: Policies.all, nextCursor: nil, additionalProperties: .nulls(["nextCursor": true])))))
    }

    func explainAccess(_ input: Operations.ExplainAccess.Input) async throws -> Operations.ExplainAccess.Output {
        var validator = Validator()
        // The document lists the policies as an enum, so the runtime refuses an unknown one before this; the check
        // stays for a document and a server that drift apart.
        let action = input.query.action.rawValue
        if !Policies.all.contains(action) {
            validator.fail("action", "must be one of the policies GET /policies lists, e.g. deployments:deploy")
        }
        let resource = input.query.resource
        if resource != "org", ![.project, .environment, .deployment].contains(where: { IDGenerator.isValid(resource, prefix: $0) }) {
            validator.fail("resource", "must be org, or a project (prj_…), environment (env_…) or deployment (dep_…) ID")
        }
        if let userID = input.query.userId, !IDGenerator.isValid(userID, prefix: .user) { validator.fail("userId", "must be a member ID (usr_…)") }
        try validator.check()
        let explanation = try await repositories.access.explain(action, resource: resource, userID: input.query.userId,
                                                                for: try RequestScope.caller())
        return .ok(.init(body: .json(.init(data: .init(
            allowed: explanation.allowed, visible: explanation.visible,
            grants: explanation.grants.map { .init(assignmentId: $0.assignmentID, roleId: $0.roleID, scope: $0.scope, policy: $0.policy) },
            reason: explanation.reason, additionalProperties: .nulls(["reason": explanation.reason == nil])
        )))))
    }

    func listRoles(_ input: Operations.ListRoles.Input) async throws -> Operations.ListRoles.Output {
        let policy = try OperationTable.policy(Operations.ListRoles.id)
        let page = try await repositories.access.listRoles(
            try PageRequest.parse(limit: input.query.limit, cursor: input.query.cursor), for: try RequestScope.caller(), requiring: policy
        )
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Role.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createRole(_ input: Operations.CreateRole.Input) async throws -> Operations.CreateRole.Output {
        let policy = try OperationTable.policy(Operations.CreateRole.id)
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let role = try await repositories.access.createRole(try Self.roleDraft(body), by: try RequestScope.caller(), requiring: policy)
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/roles/\(role.id)"), eTag: HTTPSupport.eTag(role.version)),
            body: .json(.init(data: .init(role)))
        ))
    }

    func getRole(_ input: Operations.GetRole.Input) async throws -> Operations.GetRole.Output {
        let policy = try OperationTable.policy(Operations.GetRole.id)
        let role = try await repositories.access.getRole(try Self.roleID(input.path.roleID), for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(role.version)), body: .json(.init(data: .init(role)))))
    }

    func replaceRole(_ input: Operations.ReplaceRole.Input) async throws -> Operations.ReplaceRole.Output {
        let policy = try OperationTable.policy(Operations.ReplaceRole.id)
        let id = try Self.roleID(input.path.roleID)
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let role = try await repositories.access.replaceRole(
            id, try Self.roleDraft(body), ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy
        )
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(role.version)), body: .json(.init(data: .init(role)))))
    }

    func deleteRole(_ input: Operations.DeleteRole.Input) async throws -> Operations.DeleteRole.Output {
        let policy = try OperationTable.policy(Operations.DeleteRole.id)
        let id = try Self.roleID(input.path.roleID)
        try await repositories.access.deleteRole(id, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy)
        return .noContent(.init())
    }

    /// Built-in role IDs are words (`role_admin`), custom ones ULIDs.
    static func roleID(_ id: String) throws -> String {
        guard Policies.builtInRoles.contains(where: { $0.id == id }) || IDGenerator.isValid(id, prefix: .role) else {
            throw AppError.notFound("role")
        }
        return id
    }

    static func roleDraft(_ body: Components.Schemas.RoleWrite) throws -> RoleDraft {
        var validator = Validator()
        let name = validator.name(body.name)
        validator.description(body.description ?? "")
        validator.policies(body.policies)
        try validator.check()
        return RoleDraft(name: name, description: body.description ?? "", policies: body.policies)
    }

    // MARK: - Assignments

    func listAssignments(_ input: Operations.ListAssignments.Input) async throws -> Operations.ListAssignments.Output {
        let policy = try OperationTable.policy(Operations.ListAssignments.id)
        let page = try await repositories.access.listAssignments(
            try PageRequest.parse(limit: input.query.limit, cursor: input.query.cursor), for: try RequestScope.caller(), requiring: policy
        )
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Assignment.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createAssignment(_ input: Operations.CreateAssignment.Input) async throws -> Operations.CreateAssignment.Output {
        let policy = try OperationTable.policy(Operations.CreateAssignment.id)
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        validator.id(body.userId, prefix: .user, field: "userId")
        if (try? Self.roleID(body.roleId)) == nil { validator.fail("roleId", "No such role; GET /roles lists them.") }
        let scope = validator.scope(body.scope)
        try validator.check()
        let assignment = try await repositories.access.createAssignment(userID: body.userId, roleID: body.roleId, scope: scope!, by: try RequestScope.caller(), requiring: policy)
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/assignments/\(assignment.id)")), body: .json(.init(data: .init(assignment)))
        ))
    }

    func deleteAssignment(_ input: Operations.DeleteAssignment.Input) async throws -> Operations.DeleteAssignment.Output {
        let policy = try OperationTable.policy(Operations.DeleteAssignment.id)
        let id = try HTTPSupport.pathID(input.path.assignmentID, .assignment, resource: "assignment")
        try await repositories.access.deleteAssignment(id, by: try RequestScope.caller(), requiring: policy)
        return .noContent(.init())
    }
}

extension Components.Schemas.User {
    init(_ user: User) { self.init(id: user.id, email: user.email, name: user.name) }
}

extension Components.Schemas.Role {
    init(_ role: Role) {
        self.init(id: role.id, name: role.name, description: role.description, policies: role.policies, builtIn: role.builtIn, version: role.version)
    }
}

extension Components.Schemas.Assignment {
    init(_ assignment: Assignment) {
        self.init(id: assignment.id, userId: assignment.userID, roleId: assignment.roleID, scope: assignment.scope, source: assignment.source,
                  additionalProperties: .nulls(["source": assignment.source == nil]))
    }
}
