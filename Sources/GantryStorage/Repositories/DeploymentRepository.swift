import Foundation
import GantryCore
import SQLKit

public protocol DeploymentRepository: Sendable {
    /// Reserves an ID before sealing, so sealed secret variables are bound to the row they belong to.
    func makeID() -> String
    func create(in environmentID: String, _ new: NewDeployment, id: String, by caller: Caller, requiring policy: String) async throws -> Deployment
    func list(in environmentID: String, _ query: ListQuery, for caller: Caller, requiring policy: String) async throws -> Page<Deployment>
    func get(_ id: String, for caller: Caller, requiring policy: String) async throws -> Deployment
    func update(_ id: String, _ patch: DeploymentPatch, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Deployment
    /// Soft-deletes the deployment and its connections, and queues the teardown of what was applied for it.
    func delete(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws
}

/// A `deployments` row as stored; the one place its columns are read. Live only while its environment and project are.
struct DeploymentRow: LiveRow {
    static let resource = "deployment"
    static let table = "deployments"
    static let alias = "d"
    static let liveParents = (
        joins: " JOIN environments e ON e.id = d.environment_id JOIN projects p ON p.id = d.project_id",
        conditions: " AND e.deleted_at IS NULL AND p.deleted_at IS NULL"
    )
    static let columns = """
        d.id, d.project_id, d.environment_id, d.name, d.image, d.replicas, d.port, d.cpu_request, d.memory_request, d.status,
        d.last_deployed_at, d.canvas_x, d.canvas_y, d.created_at, d.updated_at, d.version, d.env, d.secret_env_names,
        d.secret_env_version, d.ingress, d.health_check, d.current_revision, d.current_spec, d.drift
        """

    var id: String
    var projectId: String
    var environmentId: String
    var name: String
    var image: String
    var replicas: Int
    var port: Int?
    var cpuRequest: String?
    var memoryRequest: String?
    var status: String
    var lastDeployedAt: Int64?
    var canvasX: Double?
    var canvasY: Double?
    var createdAt: Int64
    var updatedAt: Int64
    var version: Int
    var env: String
    var secretEnvNames: String
    var secretEnvVersion: Int
    var ingress: String?
    var healthCheck: String?
    var currentRevision: Int?
    var currentSpec: String?
    var drift: String?

    /// The deployment, with `pendingChanges` judged against the connection variables it would get now.
    func deployment(injectedEnv: [EnvVar]) throws -> Deployment {
        var deployment = Deployment(
            id: id, projectID: projectId, environmentID: environmentId, name: name, image: image, replicas: replicas, port: port,
            resources: cpuRequest.flatMap { cpu in memoryRequest.map { ResourceRequests(cpuRequest: cpu, memoryRequest: $0) } },
            status: DeploymentStatus(rawValue: status) ?? .unknown, lastDeployedAt: lastDeployedAt.map(Timestamp.date),
            canvasPosition: canvasX.flatMap { x in canvasY.map { CanvasPosition(x: x, y: $0) } },
            createdAt: Timestamp.date(createdAt), updatedAt: Timestamp.date(updatedAt), version: version
        )
        deployment.env = try JSONColumn.decode([EnvVar].self, from: env)
        deployment.secretEnvNames = try JSONColumn.decode([String].self, from: secretEnvNames)
        deployment.secretEnvVersion = secretEnvVersion
        deployment.ingress = try ingress.map { try JSONColumn.decode(IngressSpec.self, from: $0) }
        deployment.healthCheck = try healthCheck.map { try JSONColumn.decode(HealthCheck.self, from: $0) }
        deployment.currentRevision = currentRevision
        deployment.drift = try drift.map { try JSONColumn.decode(Drift.self, from: $0) }
        deployment.pendingChanges = currentSpec != deployment.spec(injectedEnv: injectedEnv).canonicalJSON
        return deployment
    }
}

public struct SQLDeploymentRepository: DeploymentRepository, AuditedRepository {
    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    static func nameTaken(_ name: String) -> AppError {
        .conflict(field: "name", "A deployment named '\(name)' already exists in this environment.")
    }

    public func makeID() -> String { ids.make(.deployment) }

    public func create(in environmentID: String, _ new: NewDeployment, id: String, by caller: Caller, requiring policy: String) async throws -> Deployment {
        let now = Timestamp.now()
        let org = caller.organizationID
        return try await database.transaction { sql in
            let environment = try await EnvironmentRow.fetchLive(environmentID, org: org, lock: RowLocking(.share, of: EnvironmentRow.alias), on: sql).environment
            try caller.permissions.authorize(policy, on: environment.target, resource: "environment")
            let taken = try await sql.raw("""
                SELECT id FROM deployments WHERE environment_id = \(bind: environmentID) AND name = \(bind: new.name) AND deleted_at IS NULL
                """).first()
            if taken != nil { throw Self.nameTaken(new.name) }
            var deployment = Deployment(
                id: id, projectID: environment.projectID, environmentID: environmentID, name: new.name, image: new.image,
                replicas: new.replicas, port: new.port, resources: new.resources, status: .pending, lastDeployedAt: nil,
                canvasPosition: new.canvasPosition, createdAt: Timestamp.date(now), updatedAt: Timestamp.date(now), version: 1
            )
            deployment.env = new.env
            deployment.secretEnvNames = new.secretEnv.names
            deployment.ingress = new.ingress
            deployment.healthCheck = new.healthCheck
            try await mappingUniqueViolation({ _ in Self.nameTaken(new.name) }) {
                try await Self.insert([(deployment, new.secretEnv.sealed)], org: org, now: now, on: sql)
            }
            try await record(Self.event("created", deployment, changes: Changes.created(deployment.auditFields)), by: caller, on: sql)
            return deployment
        }
    }

    public func list(in environmentID: String, _ query: ListQuery, for caller: Caller, requiring policy: String) async throws -> Page<Deployment> {
        let page = SQLFragments.page(query.page, column: "d.id")
        let (rows, injected) = try await database.read { sql in
            let environment = try await EnvironmentRow.fetchLive(environmentID, org: caller.organizationID, lock: nil, on: sql).environment
            try caller.permissions.authorize(policy, on: environment.target, resource: "environment")
            let rows = try await sql.raw("""
                SELECT \(unsafeRaw: DeploymentRow.columns) FROM deployments d
                WHERE d.environment_id = \(bind: environmentID) AND d.org_id = \(bind: caller.organizationID) AND d.deleted_at IS NULL
                """ + SQLFragments.nameFilter(query, column: "LOWER(d.name)") + page.filter + page.tail).all(DeploymentRow.self)
            return (rows, try await InjectedEnv.resolve(environment: environmentID, on: sql))
        }
        return Page(rows: try rows.map { try $0.deployment(injectedEnv: injected[$0.id] ?? []) }, limit: query.page.limit, key: \.id)
    }

    public func get(_ id: String, for caller: Caller, requiring policy: String) async throws -> Deployment {
        let deployment = try await database.read { sql in try await Self.fetchLive(id, org: caller.organizationID, lock: nil, on: sql) }
        try caller.permissions.authorize(policy, on: deployment.target, resource: "deployment")
        return deployment
    }

    public func update(_ id: String, _ patch: DeploymentPatch, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws -> Deployment {
        try await database.transaction { sql in
            var deployment = try await Self.fetchLive(id, org: caller.organizationID, lock: RowLocking(.update, of: "d"), on: sql)
            try caller.permissions.authorize(policy, on: deployment.target, resource: "deployment")
            try checkVersion(ifMatch, current: deployment.version)
            let before = deployment
            deployment.image = patch.image ?? deployment.image
            deployment.replicas = patch.replicas ?? deployment.replicas
            deployment.port = patch.port.applied(to: deployment.port)
            deployment.resources = patch.resources.applied(to: deployment.resources)
            deployment.canvasPosition = patch.canvasPosition.applied(to: deployment.canvasPosition)
            deployment.env = patch.env ?? deployment.env
            deployment.ingress = patch.ingress.applied(to: deployment.ingress)
            deployment.healthCheck = patch.healthCheck.applied(to: deployment.healthCheck)
            if deployment.ingress != nil, deployment.port == nil {
                throw AppError.validation([FieldError("ingress", "needs a port: the Ingress routes to the deployment's Service")])
            }
            if let secretEnv = patch.secretEnv {
                deployment.secretEnvNames = secretEnv.names
                deployment.secretEnvVersion += 1
            }
            let now = Timestamp.now()
            deployment.version += 1
            deployment.updatedAt = Timestamp.date(now)
            let secrets: SQLQueryString = patch.secretEnv.map {
                ", sealed_secret_env = \(bind: $0.sealed), secret_env_version = \(bind: deployment.secretEnvVersion)"
            } ?? ""
            try await sql.raw("""
                UPDATE deployments SET image = \(bind: deployment.image), replicas = \(bind: deployment.replicas), port = \(bind: deployment.port),
                    cpu_request = \(bind: deployment.resources?.cpuRequest), memory_request = \(bind: deployment.resources?.memoryRequest),
                    cpu_milli = \(bind: deployment.resources?.scheduled?.cpuMilli), memory_bytes = \(bind: deployment.resources?.scheduled?.memoryBytes),
                    canvas_x = \(bind: deployment.canvasPosition?.x), canvas_y = \(bind: deployment.canvasPosition?.y),
                    env = \(bind: try JSONColumn.encode(deployment.env)), secret_env_names = \(bind: try JSONColumn.encode(deployment.secretEnvNames)),
                    ingress = \(bind: try deployment.ingress.map(JSONColumn.encode)),
                    health_check = \(bind: try deployment.healthCheck.map(JSONColumn.encode)),
                    updated_at = \(bind: now), version = \(bind: deployment.version)
                """ + secrets + " WHERE id = \(bind: id)").run()
            var changes = Changes.diff(before.auditFields, deployment.auditFields)
            if patch.secretEnv != nil { changes["secretEnv"] = Changes.replacedSecret }
            try await record(Self.event("updated", deployment, changes: changes), by: caller, on: sql)
            return try await Self.fetchLive(id, org: caller.organizationID, lock: nil, on: sql)
        }
    }

    public func delete(_ id: String, ifMatch: Int?, by caller: Caller, requiring policy: String) async throws {
        try await database.transaction { [ids] sql in
            let deployment = try await Self.fetchLive(id, org: caller.organizationID, lock: RowLocking(.update, of: "d"), on: sql)
            try caller.permissions.authorize(policy, on: deployment.target, resource: "deployment")
            try checkVersion(ifMatch, current: deployment.version)
            let now = Timestamp.now()
            try await sql.raw("""
                UPDATE connections SET deleted_at = \(bind: now)
                WHERE (from_deployment_id = \(bind: id) OR to_deployment_id = \(bind: id)) AND deleted_at IS NULL
                """).run()
            try await sql.raw("UPDATE deployments SET deleted_at = \(bind: now) WHERE id = \(bind: id)").run()
            try await DeployQueue.queueTeardown(of: deployment, org: caller.organizationID, ids: ids, now: now, on: sql)
            try await record(Self.event("deleted", deployment, changes: Changes.deleted(at: now)), by: caller, on: sql)
        }
    }

    /// The one way deployment rows are written new (a create, a clone's copies), with their sealed secret variables;
    /// at most 500 rows a statement, under the databases' limits on bound parameters.
    static func insert(_ rows: [(deployment: Deployment, sealedSecretEnv: String?)], org: String, now: Int64, on sql: any SQLDatabase) async throws {
        for start in stride(from: 0, to: rows.count, by: 500) {
            var insert = sql.insert(into: "deployments").columns(
                "id", "org_id", "project_id", "environment_id", "name", "image", "replicas", "port", "cpu_request", "memory_request",
                "cpu_milli", "memory_bytes", "status", "canvas_x", "canvas_y", "created_at", "updated_at", "version", "env",
                "sealed_secret_env", "secret_env_names", "ingress", "health_check"
            )
            for (deployment, sealed) in rows[start..<min(start + 500, rows.count)] {
                insert = insert.values(
                    SQLBind(deployment.id), SQLBind(org), SQLBind(deployment.projectID), SQLBind(deployment.environmentID), SQLBind(deployment.name),
                    SQLBind(deployment.image), SQLBind(deployment.replicas), SQLBind(deployment.port), SQLBind(deployment.resources?.cpuRequest),
                    SQLBind(deployment.resources?.memoryRequest), SQLBind(deployment.resources?.scheduled?.cpuMilli),
                    SQLBind(deployment.resources?.scheduled?.memoryBytes), SQLBind(deployment.status.rawValue), SQLBind(deployment.canvasPosition?.x),
                    SQLBind(deployment.canvasPosition?.y), SQLBind(now), SQLBind(now), SQLBind(deployment.version),
                    SQLBind(try JSONColumn.encode(deployment.env)), SQLBind(sealed), SQLBind(try JSONColumn.encode(deployment.secretEnvNames)),
                    SQLBind(try deployment.ingress.map(JSONColumn.encode)), SQLBind(try deployment.healthCheck.map(JSONColumn.encode))
                )
            }
            try await insert.run()
        }
    }

    static func event(_ verb: String, _ deployment: Deployment, changes: [String: JSONValue]) -> AuditEvent {
        AuditEvent(verb, "deployment", deployment.id, projectID: deployment.projectID, environmentID: deployment.environmentID,
                   deploymentID: deployment.id, changes: changes)
    }

    /// A live deployment of the organization (its environment and project live too), optionally locked.
    static func fetchLive(_ id: String, org: String, lock: RowLocking?, on sql: any SQLDatabase) async throws -> Deployment {
        let row = try await DeploymentRow.fetchLive(id, org: org, lock: lock, on: sql)
        return try row.deployment(injectedEnv: try await InjectedEnv.resolve(environment: row.environmentId, on: sql)[row.id] ?? [])
    }
}

/// Connection variables (docs/api.md §7): for each live connection with an `injectedVar`, the URL of its target's Service.
enum InjectedEnv {
    /// Per deployment of the environment, its variables sorted by name.
    static func resolve(environment environmentID: String, on sql: any SQLDatabase) async throws -> [String: [EnvVar]] {
        struct Row: Decodable { var fromDeploymentId: String; var injectedVar: String; var name: String; var port: Int?; var namespace: String }
        let rows = try await sql.raw("""
            SELECT c.from_deployment_id, c.injected_var, t.name, t.port, e.namespace
            FROM connections c JOIN deployments t ON t.id = c.to_deployment_id JOIN environments e ON e.id = c.environment_id
            WHERE c.environment_id = \(bind: environmentID) AND c.deleted_at IS NULL AND c.injected_var IS NOT NULL AND t.deleted_at IS NULL
            ORDER BY c.injected_var, c.id
            """).all(Row.self)
        var variables: [String: [EnvVar]] = [:]
        for row in rows {
            let port = row.port.map { ":\($0)" } ?? ""
            variables[row.fromDeploymentId, default: []].append(
                EnvVar(name: row.injectedVar, value: "http://\(row.name).\(row.namespace).svc.cluster.local\(port)"))
        }
        return variables
    }
}
