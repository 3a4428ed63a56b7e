import Foundation
import GantryCore
import SQLKit

/// Organization members, roles and assignments (docs/api.md §3). Every change is audited.
public protocol AccessRepository: Sendable {
    func listUsers(_ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<User>
    func createUser(email: String, name: String, by caller: Caller, requiring policy: String) async throws -> User
    func getUser(_ id: String, for caller: Caller, requiring policy: String) async throws -> User
    /// Soft-deletes a member: their tokens stop working and their assignments end.
    func deleteUser(_ id: String, by caller: Caller, requiring policy: String) async throws

    func listRoles(_ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<Role>
    func createRole(_ draft: RoleDraft, by caller: Caller, requiring policy: String) async throws -> Role
    func getRole(_ id: String, for caller: Caller, requiring policy: String) async throws -> Role
    func replaceRole(_ id: String, _ draft: RoleDraft, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Role
    func deleteRole(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws

    func listAssignments(_ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<Assignment>
    func createAssignment(userID: String, roleID: String, scope: Scope, by caller: Caller, requiring policy: String) async throws -> Assignment
    func deleteAssignment(_ id: String, by caller: Caller, requiring policy: String) async throws

    /// Whether `userID` (the caller when nil) may do `action` on `resource` (`org` or a project, environment or
    /// deployment ID), and which assignments say so. Asking about someone else needs members:read at `org`.
    func explain(_ action: String, resource: String, userID: String?, for caller: Caller) async throws -> AccessExplanation
}

/// A `users` row as stored: an organization member.
struct UserRow: LiveRow {
    static let resource = "member"
    static let table = "users"
    static let columns = "id, email, name"

    var id: String
    var email: String
    var name: String

    var user: User { User(id: id, email: email, name: name) }
}

/// A `roles` row as stored. Built-in roles belong to no organization and are visible to every one.
struct RoleRow: LiveRow {
    static let resource = "role"
    static let table = "roles"
    static let columns = "id, name, description, policies, built_in, version"

    static func ofOrganization(_ org: String) -> SQLQueryString { "(roles.org_id = \(bind: org) OR roles.org_id IS NULL)" }

    var id: String
    var name: String
    var description: String
    var policies: String
    var builtIn: Int
    var version: Int

    var role: Role {
        get throws {
            Role(id: id, name: name, description: description, policies: try JSONColumn.decode([String].self, from: policies),
                 builtIn: builtIn != 0, version: version)
        }
    }
}

/// An `assignments` row as stored; `scope_project_id` is the project above an environment scope.
struct AssignmentRow: LiveRow {
    static let resource = "assignment"
    static let table = "assignments"
    static let alias = "a"
    static let columns = "a.id, a.user_id, a.role_id, a.scope, a.scope_project_id, a.source"

    var id: String
    var userId: String
    var roleId: String
    var scope: String
    var scopeProjectId: String?
    var source: String?

    var assignment: Assignment { Assignment(id: id, userID: userId, roleID: roleId, scope: scope, source: source) }
}

public struct SQLAccessRepository: AccessRepository {
    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    // MARK: - Users

    static func emailTaken(_ email: String) -> AppError {
        .conflict(field: "email", "A member with email '\(email)' already exists in this organization.")
    }

    public func listUsers(_ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<User> {
        try caller.permissions.authorize(policy, on: .organization, resource: "member")
        let fragments = SQLFragments.page(page)
        let rows = try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: UserRow.columns) FROM users WHERE org_id = \(bind: caller.organizationID) AND deleted_at IS NULL"
                + fragments.filter + fragments.tail).all(UserRow.self)
        }
        return Page(rows: rows.map(\.user), limit: page.limit, key: \.id)
    }

    public func createUser(email: String, name: String, by caller: Caller, requiring policy: String) async throws -> User {
        try caller.permissions.authorize(policy, on: .organization, resource: "member")
        let user = User(id: ids.make(.user), email: email, name: name)
        return try await database.transaction { [ids] sql in
            let existing = try await sql.raw("""
                SELECT id FROM users WHERE org_id = \(bind: caller.organizationID) AND email_key = \(bind: email.lowercased()) AND deleted_at IS NULL
                """).first()
            if existing != nil { throw Self.emailTaken(email) }
            try await mappingUniqueViolation({ _ in Self.emailTaken(email) }) {
                try await sql.raw("""
                    INSERT INTO users (id, org_id, email, email_key, name, created_at)
                    VALUES (\(bind: user.id), \(bind: caller.organizationID), \(bind: email), \(bind: email.lowercased()), \(bind: name), \(bind: Timestamp.now()))
                    """).run()
            }
            try await AuditTrail.record(
                AuditEvent("created", "user", user.id, changes: Changes.created(["email": .string(email), "name": .string(name)])),
                by: caller, ids: ids, on: sql
            )
            return user
        }
    }

    public func getUser(_ id: String, for caller: Caller, requiring policy: String) async throws -> User {
        try caller.permissions.authorize(policy, on: .organization, resource: "member")
        return try await database.read { sql in try await UserRow.fetchLive(id, org: caller.organizationID, lock: nil, on: sql).user }
    }

    public func deleteUser(_ id: String, by caller: Caller, requiring policy: String) async throws {
        try caller.permissions.authorize(policy, on: .organization, resource: "member")
        try await database.accessTransaction { [ids] sql in
            let user = try await UserRow.fetchLive(id, org: caller.organizationID, lock: RowLocking(.update, of: UserRow.alias), on: sql).user
            let adminGrants = try await Self.lockOrgAdminGrants(org: caller.organizationID, on: sql)
            if !adminGrants.isEmpty, adminGrants.allSatisfy({ $0.userID == id }) {
                throw Self.lastAdmin
            }
            let now = Timestamp.now()
            try await sql.raw("UPDATE users SET deleted_at = \(bind: now) WHERE id = \(bind: id)").run()
            try await sql.raw("UPDATE assignments SET deleted_at = \(bind: now) WHERE user_id = \(bind: id) AND deleted_at IS NULL").run()
            try await sql.raw("UPDATE tokens SET revoked_at = \(bind: now) WHERE user_id = \(bind: id) AND revoked_at IS NULL").run()
            try await AuditTrail.record(
                AuditEvent("deleted", "user", id, changes: ["email": .object(["from": .string(user.email), "to": .null])]),
                by: caller, ids: ids, on: sql
            )
        }
    }

    // MARK: - Roles

    static func roleNameTaken(_ name: String) -> AppError {
        .conflict(field: "name", "A role named '\(name)' already exists (built-in role names are taken too).")
    }

    static let builtInUnchangeable = AppError(.forbidden, "Built-in roles cannot be changed or deleted; create a custom role instead.")

    public func listRoles(_ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<Role> {
        try caller.permissions.authorize(policy, on: .organization, resource: "role")
        let fragments = SQLFragments.page(page)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: RoleRow.columns) FROM roles WHERE (org_id = \(bind: caller.organizationID) OR org_id IS NULL) AND deleted_at IS NULL
                """ + fragments.filter + fragments.tail).all(RoleRow.self)
        }
        return Page(rows: try rows.map { try $0.role }, limit: page.limit, key: \.id)
    }

    public func createRole(_ draft: RoleDraft, by caller: Caller, requiring policy: String) async throws -> Role {
        try caller.permissions.authorize(policy, on: .organization, resource: "role")
        let role = Role(id: ids.make(.role), name: draft.name, description: draft.description, policies: draft.policies, builtIn: false, version: 1)
        return try await database.transaction { [ids] sql in
            try await Self.ensureRoleNameFree(draft.name, excluding: nil, org: caller.organizationID, on: sql)
            let now = Timestamp.now()
            try await mappingUniqueViolation({ _ in Self.roleNameTaken(draft.name) }) {
                try await sql.raw("""
                    INSERT INTO roles (id, org_id, name, name_key, description, policies, built_in, created_at, updated_at, version)
                    VALUES (\(bind: role.id), \(bind: caller.organizationID), \(bind: role.name), \(bind: Rules.nameKey(role.name)),
                        \(bind: role.description), \(bind: try JSONColumn.encode(role.policies)), 0, \(bind: now), \(bind: now), 1)
                    """).run()
            }
            try await AuditTrail.record(
                AuditEvent("created", "role", role.id, changes: Changes.created(role.auditFields)), by: caller, ids: ids, on: sql
            )
            return role
        }
    }

    public func getRole(_ id: String, for caller: Caller, requiring policy: String) async throws -> Role {
        try caller.permissions.authorize(policy, on: .organization, resource: "role")
        return try await database.read { sql in try await RoleRow.fetchLive(id, org: caller.organizationID, lock: nil, on: sql).role }
    }

    public func replaceRole(_ id: String, _ draft: RoleDraft, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Role {
        try caller.permissions.authorize(policy, on: .organization, resource: "role")
        return try await database.accessTransaction { [ids] sql in
            let before = try await RoleRow.fetchLive(id, org: caller.organizationID, lock: RowLocking(.update, of: RoleRow.alias), on: sql).role
            guard !before.builtIn else { throw Self.builtInUnchangeable }
            try checkVersion(ifMatch, current: before.version)
            try await Self.ensureRoleNameFree(draft.name, excluding: id, org: caller.organizationID, on: sql)
            let after = Role(id: id, name: draft.name, description: draft.description, policies: draft.policies, builtIn: false, version: before.version + 1)
            try await mappingUniqueViolation({ _ in Self.roleNameTaken(draft.name) }) {
                try await sql.raw("""
                    UPDATE roles SET name = \(bind: after.name), name_key = \(bind: Rules.nameKey(after.name)), description = \(bind: after.description),
                        policies = \(bind: try JSONColumn.encode(after.policies)), updated_at = \(bind: Timestamp.now()), version = \(bind: after.version)
                    WHERE id = \(bind: id)
                    """).run()
            }
            try await AuditTrail.record(
                AuditEvent("updated", "role", id, changes: Changes.diff(before.auditFields, after.auditFields)),
                by: caller, ids: ids, on: sql
            )
            return after
        }
    }

    public func deleteRole(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws {
        try caller.permissions.authorize(policy, on: .organization, resource: "role")
        try await database.accessTransaction { [ids] sql in
            let role = try await RoleRow.fetchLive(id, org: caller.organizationID, lock: RowLocking(.update, of: RoleRow.alias), on: sql).role
            guard !role.builtIn else { throw Self.builtInUnchangeable }
            try checkVersion(ifMatch, current: role.version)
            let assignments = try await sql.raw("""
                SELECT COUNT(*) AS n FROM assignments WHERE role_id = \(bind: id) AND deleted_at IS NULL
                """).first(decodingColumn: "n", as: Int.self) ?? 0
            if assignments > 0 {
                throw hasChildren("Role '\(role.name)' is still assigned \(assignments) time(s); delete those assignments first.",
                                  ["assignmentCount": .int(assignments)])
            }
            try await sql.raw("UPDATE roles SET deleted_at = \(bind: Timestamp.now()) WHERE id = \(bind: id)").run()
            try await AuditTrail.record(
                AuditEvent("deleted", "role", id, changes: ["name": .object(["from": .string(role.name), "to": .null])]),
                by: caller, ids: ids, on: sql
            )
        }
    }

    static func ensureRoleNameFree(_ name: String, excluding id: String?, org: String, on sql: any SQLDatabase) async throws {
        let clash = try await sql.raw("""
            SELECT id FROM roles WHERE (org_id = \(bind: org) OR org_id IS NULL) AND name_key = \(bind: Rules.nameKey(name)) AND deleted_at IS NULL
            """).all(decodingColumn: "id", as: String.self)
        if clash.contains(where: { $0 != id }) { throw roleNameTaken(name) }
    }

    // MARK: - Assignments

    static let lastAdmin = AppError(
        .conflict, "This is the organization's last org-scoped admin assignment; grant role_admin at org scope to someone else first.",
        details: ["field": .string("roleId")]
    )

    public func listAssignments(_ page: PageRequest, for caller: Caller, requiring policy: String) async throws -> Page<Assignment> {
        try caller.permissions.authorize(policy, on: .organization, resource: "assignment")
        let fragments = SQLFragments.page(page)
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: AssignmentRow.columns) FROM assignments a WHERE a.org_id = \(bind: caller.organizationID) AND a.deleted_at IS NULL
                """ + fragments.filter + fragments.tail).all(AssignmentRow.self)
        }
        return Page(rows: rows.map(\.assignment), limit: page.limit, key: \.id)
    }

    public func createAssignment(userID: String, roleID: String, scope: Scope, by caller: Caller, requiring policy: String) async throws -> Assignment {
        try caller.permissions.authorize(policy, on: .organization, resource: "assignment")
        let assignment = Assignment(id: ids.make(.assignment), userID: userID, roleID: roleID, scope: scope.description)
        let org = caller.organizationID
        return try await database.accessTransaction { [ids] sql in
            var invalid: [FieldError] = []
            func share(_ table: String) -> SQLQueryString { "\(RowLocking(.share, of: table))" }
            if try await sql.raw("SELECT id FROM users WHERE id = \(bind: userID) AND org_id = \(bind: org) AND deleted_at IS NULL" + share("users")).first() == nil {
                invalid.append(FieldError("userId", "No such member in your organization."))
            }
            if try await sql.raw("""
                SELECT id FROM roles WHERE id = \(bind: roleID) AND (org_id = \(bind: org) OR org_id IS NULL) AND deleted_at IS NULL
                """ + share("roles")).first() == nil {
                invalid.append(FieldError("roleId", "No such role; GET /roles lists them."))
            }
            var projectID: String?, environmentID: String?
            switch scope {
            case .organization: break
            case .project(let id):
                projectID = id
                if try await sql.raw("SELECT id FROM projects WHERE id = \(bind: id) AND org_id = \(bind: org) AND deleted_at IS NULL" + share("projects")).first() == nil {
                    invalid.append(FieldError("scope", "No such live project in your organization."))
                }
            case .environment(let id):
                environmentID = id
                let found = try await sql.raw("SELECT project_id FROM environments WHERE id = \(bind: id) AND org_id = \(bind: org) AND deleted_at IS NULL"
                    + share("environments")).first(decodingColumn: "project_id", as: String.self)
                if let found { projectID = found } else {
                    invalid.append(FieldError("scope", "No such live environment in your organization."))
                }
            }
            if !invalid.isEmpty { throw AppError.validation(invalid) }
            let taken = AppError.conflict(field: "scope", "This member already holds this role at this scope.")
            if try await sql.raw("""
                SELECT id FROM assignments WHERE user_id = \(bind: userID) AND role_id = \(bind: roleID) AND scope = \(bind: assignment.scope) AND deleted_at IS NULL
                """).first() != nil { throw taken }
            try await mappingUniqueViolation({ _ in taken }) {
                try await sql.raw("""
                    INSERT INTO assignments (id, org_id, user_id, role_id, scope, scope_project_id, created_at)
                    VALUES (\(bind: assignment.id), \(bind: org), \(bind: userID), \(bind: roleID), \(bind: assignment.scope),
                        \(bind: environmentID == nil ? nil : projectID), \(bind: Timestamp.now()))
                    """).run()
            }
            try await AuditTrail.record(
                AuditEvent("created", "assignment", assignment.id, projectID: projectID, environmentID: environmentID, changes: Changes.created(
                    ["userId": .string(userID), "roleId": .string(roleID), "scope": .string(assignment.scope)]
                )),
                by: caller, ids: ids, on: sql
            )
            return assignment
        }
    }

    public func deleteAssignment(_ id: String, by caller: Caller, requiring policy: String) async throws {
        try caller.permissions.authorize(policy, on: .organization, resource: "assignment")
        let org = caller.organizationID
        try await database.accessTransaction { [ids] sql in
            let row = try await AssignmentRow.fetchLive(id, org: org, lock: RowLocking(.update, of: AssignmentRow.alias), on: sql)
            let assignment = row.assignment
            if assignment.roleID == BuiltInRole.admin, assignment.scope == "org" {
                let grants = try await Self.lockOrgAdminGrants(org: org, on: sql)
                if grants.allSatisfy({ $0.id == id }) { throw Self.lastAdmin }
            }
            try await sql.raw("UPDATE assignments SET deleted_at = \(bind: Timestamp.now()) WHERE id = \(bind: id)").run()
            var projectID: String?, environmentID: String?
            switch Scope(parsing: assignment.scope) {
            case .project(let project)?: projectID = project
            case .environment(let environment)?:
                environmentID = environment
                projectID = row.scopeProjectId
            default: break
            }
            try await AuditTrail.record(
                AuditEvent("deleted", "assignment", id, projectID: projectID, environmentID: environmentID, changes: [
                    "userId": .object(["from": .string(assignment.userID), "to": .null]),
                    "roleId": .object(["from": .string(assignment.roleID), "to": .null]),
                    "scope": .object(["from": .string(assignment.scope), "to": .null]),
                ]),
                by: caller, ids: ids, on: sql
            )
        }
    }

    /// The live org-scoped admin assignments of live members, locked so two concurrent removals cannot
    /// both see "one other admin left" and remove the last two.
    static func lockOrgAdminGrants(org: String, on sql: any SQLDatabase) async throws -> [Assignment] {
        try await sql.raw("""
            SELECT \(unsafeRaw: AssignmentRow.columns) FROM assignments a JOIN users u ON u.id = a.user_id
            WHERE a.org_id = \(bind: org) AND a.role_id = \(bind: BuiltInRole.admin) AND a.scope = 'org'
                AND a.deleted_at IS NULL AND u.deleted_at IS NULL\(RowLocking(.update, of: AssignmentRow.alias))
            """).all(AssignmentRow.self).map(\.assignment)
    }

    // MARK: - Why can't I?

    public func explain(_ action: String, resource: String, userID: String?, for caller: Caller) async throws -> AccessExplanation {
        let org = caller.organizationID
        let subject = userID ?? caller.userID
        if subject != caller.userID, !caller.permissions.allows("members:read", on: .organization) {
            throw AppError.forbidden("members:read", on: .organization,
                                     "Asking about another member needs members:read at organization scope; ask about yourself instead.")
        }
        struct Held: Decodable { var id: String; var roleId: String; var scope: String; var scopeProjectId: String?; var policies: String }
        struct RoleGrant: Decodable { var name: String; var policies: String }
        return try await database.read { sql in
            _ = try await UserRow.fetchLive(subject, org: org, lock: nil, on: sql)
            let target = try await Self.target(of: resource, org: org, on: sql)
            let held = try await sql.raw("""
                SELECT a.id, a.role_id, a.scope, a.scope_project_id, r.policies FROM assignments a JOIN roles r ON r.id = a.role_id
                WHERE a.user_id = \(bind: subject) AND a.org_id = \(bind: org) AND a.deleted_at IS NULL AND r.deleted_at IS NULL
                ORDER BY a.id
                """).all(Held.self).compactMap { row -> HeldAssignment? in
                guard let scope = Scope(parsing: row.scope) else { return nil }
                return HeldAssignment(assignmentID: row.id, roleID: row.roleId,
                                      grant: Grant(scope: scope, projectID: row.scopeProjectId,
                                                   policies: Set(try JSONColumn.decode([String].self, from: row.policies))))
            }
            let granting = try await sql.raw("""
                SELECT name, policies FROM roles WHERE \(RoleRow.ofOrganization(org)) AND deleted_at IS NULL ORDER BY name
                """).all(RoleGrant.self).filter { try JSONColumn.decode([String].self, from: $0.policies).contains(action) }.map(\.name)
            return AccessExplanation.explain(action, on: target, resource: Self.resourceName(resource), assignments: held, rolesGranting: granting)
        }
    }

    /// What `resource` names in the hierarchy, or nil when no live row of the organization has that ID.
    static func target(of resource: String, org: String, on sql: any SQLDatabase) async throws -> Target? {
        struct Place: Decodable { var environmentId: String?; var projectId: String }
        if resource == "org" { return .organization }
        if IDGenerator.isValid(resource, prefix: .project) {
            return try await sql.raw("""
                SELECT NULL AS environment_id, id AS project_id FROM projects WHERE id = \(bind: resource) AND org_id = \(bind: org) AND deleted_at IS NULL
                """).first(Place.self).map { .project($0.projectId) }
        }
        let table: SQLQueryString = IDGenerator.isValid(resource, prefix: .environment)
            ? "SELECT id AS environment_id, project_id FROM environments" : "SELECT environment_id, project_id FROM deployments"
        return try await sql.raw(table + " WHERE id = \(bind: resource) AND org_id = \(bind: org) AND deleted_at IS NULL")
            .first(Place.self).flatMap { place in place.environmentId.map { .environment($0, project: place.projectId) } }
    }

    static func resourceName(_ resource: String) -> String {
        if resource == "org" { return "organization" }
        if IDGenerator.isValid(resource, prefix: .project) { return "project" }
        return IDGenerator.isValid(resource, prefix: .environment) ? "environment" : "deployment"
    }
}
