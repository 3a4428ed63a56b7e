import Foundation
import GantryCore
import SQLKit

public protocol DeploymentRepository: Sendable {
    func create(in environmentID: String, _ new: NewDeployment, by caller: Caller) async throws -> Deployment
    func list(in environmentID: String, _ query: ListQuery, for caller: Caller) async throws -> Page<Deployment>
    func get(_ id: String, for caller: Caller) async throws -> Deployment
    func update(_ id: String, _ patch: DeploymentPatch, ifMatch: Int?, by caller: Caller) async throws -> Deployment
    /// Soft-deletes the deployment and its connections.
    func delete(_ id: String, ifMatch: Int?, by caller: Caller) async throws
}

public struct SQLDeploymentRepository: DeploymentRepository, AuditedRepository {
    static let columns = """
        d.id, d.project_id, d.environment_id, d.name, d.image, d.replicas, d.port, d.cpu_request, d.memory_request, d.status,
        d.last_deployed_at, d.canvas_x, d.canvas_y, d.created_at, d.updated_at, d.version
        """

    let database: any Database
    let ids: IDGenerator

    public init(database: any Database, ids: IDGenerator) {
        self.database = database
        self.ids = ids
    }

    static func nameTaken(_ name: String) -> AppError {
        .conflict(field: "name", "A deployment named '\(name)' already exists in this environment.")
    }

    public func create(in environmentID: String, _ new: NewDeployment, by caller: Caller) async throws -> Deployment {
        let now = Timestamp.now()
        let org = caller.organizationID
        return try await database.transaction { [database] sql in
            let environment = try await SQLEnvironmentRepository.fetchLive(environmentID, in: nil, org: org, lock: database.kind.lock(.share), on: sql)
            try caller.authorize(environment.target, resource: "environment")
            let taken = try await sql.raw("""
                SELECT id FROM deployments WHERE environment_id = \(bind: environmentID) AND name = \(bind: new.name) AND deleted_at IS NULL
                """).first()
            if taken != nil { throw Self.nameTaken(new.name) }
            let deployment = Deployment(
                id: ids.make(.deployment), projectID: environment.projectID, environmentID: environmentID, name: new.name, image: new.image,
                replicas: new.replicas, port: new.port, resources: new.resources, status: .pending, lastDeployedAt: nil,
                canvasPosition: new.canvasPosition, createdAt: Timestamp.date(now), updatedAt: Timestamp.date(now), version: 1
            )
            try await mappingUniqueViolation({ _ in Self.nameTaken(new.name) }) {
                try await sql.raw("""
                    INSERT INTO deployments (id, org_id, project_id, environment_id, name, image, replicas, port, cpu_request, memory_request,
                        status, canvas_x, canvas_y, created_at, updated_at, version)
                    VALUES (\(bind: deployment.id), \(bind: org), \(bind: environment.projectID), \(bind: environmentID), \(bind: new.name),
                        \(bind: new.image), \(bind: new.replicas), \(bind: new.port), \(bind: new.resources?.cpuRequest),
                        \(bind: new.resources?.memoryRequest), 'pending', \(bind: new.canvasPosition?.x), \(bind: new.canvasPosition?.y),
                        \(bind: now), \(bind: now), 1)
                    """).run()
            }
            try await record(Self.event("created", deployment, changes: Changes.created(deployment.auditFields)), by: caller, on: sql)
            return deployment
        }
    }

    public func list(in environmentID: String, _ query: ListQuery, for caller: Caller) async throws -> Page<Deployment> {
        let page = SQLFragments.page(query.page, column: "d.id")
        let rows = try await database.read { sql in
            let environment = try await SQLEnvironmentRepository.fetchLive(environmentID, in: nil, org: caller.organizationID, lock: "", on: sql)
            try caller.authorize(environment.target, resource: "environment")
            return try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM deployments d
                WHERE d.environment_id = \(bind: environmentID) AND d.org_id = \(bind: caller.organizationID) AND d.deleted_at IS NULL
                """ + SQLFragments.nameFilter(query, column: "LOWER(d.name)") + page.filter + page.tail).all()
        }
        return Page(rows: try rows.map(Self.deployment), limit: query.page.limit, key: \.id)
    }

    public func get(_ id: String, for caller: Caller) async throws -> Deployment {
        let deployment = try await database.read { sql in try await Self.fetchLive(id, org: caller.organizationID, lock: "", on: sql) }
        try caller.authorize(deployment.target, resource: "deployment")
        return deployment
    }

    public func update(_ id: String, _ patch: DeploymentPatch, ifMatch: Int?, by caller: Caller) async throws -> Deployment {
        try await database.transaction { [database] sql in
            var deployment = try await Self.fetchLive(id, org: caller.organizationID, lock: database.kind.lock(.update), on: sql)
            try caller.authorize(deployment.target, resource: "deployment")
            try checkVersion(ifMatch, current: deployment.version)
            let before = deployment
            deployment.image = patch.image ?? deployment.image
            deployment.replicas = patch.replicas ?? deployment.replicas
            deployment.port = patch.port.applied(to: deployment.port)
            deployment.resources = patch.resources.applied(to: deployment.resources)
            deployment.canvasPosition = patch.canvasPosition.applied(to: deployment.canvasPosition)
            let now = Timestamp.now()
            deployment.version += 1
            deployment.updatedAt = Timestamp.date(now)
            try await sql.raw("""
                UPDATE deployments SET image = \(bind: deployment.image), replicas = \(bind: deployment.replicas), port = \(bind: deployment.port),
                    cpu_request = \(bind: deployment.resources?.cpuRequest), memory_request = \(bind: deployment.resources?.memoryRequest),
                    canvas_x = \(bind: deployment.canvasPosition?.x), canvas_y = \(bind: deployment.canvasPosition?.y),
                    updated_at = \(bind: now), version = \(bind: deployment.version)
                WHERE id = \(bind: id)
                """).run()
            try await record(Self.event("updated", deployment, changes: Changes.diff(before.auditFields, deployment.auditFields)), by: caller, on: sql)
            return deployment
        }
    }

    public func delete(_ id: String, ifMatch: Int?, by caller: Caller) async throws {
        try await database.transaction { [database] sql in
            let deployment = try await Self.fetchLive(id, org: caller.organizationID, lock: database.kind.lock(.update), on: sql)
            try caller.authorize(deployment.target, resource: "deployment")
            try checkVersion(ifMatch, current: deployment.version)
            let now = Timestamp.now()
            try await sql.raw("""
                UPDATE connections SET deleted_at = \(bind: now)
                WHERE (from_deployment_id = \(bind: id) OR to_deployment_id = \(bind: id)) AND deleted_at IS NULL
                """).run()
            try await sql.raw("UPDATE deployments SET deleted_at = \(bind: now) WHERE id = \(bind: id)").run()
            try await record(Self.event("deleted", deployment, changes: Changes.deleted(at: now)), by: caller, on: sql)
        }
    }

    static func event(_ verb: String, _ deployment: Deployment, changes: [String: JSONValue]) -> AuditEvent {
        AuditEvent(verb, "deployment", deployment.id, projectID: deployment.projectID, environmentID: deployment.environmentID,
                   deploymentID: deployment.id, changes: changes)
    }

    static func fetchLive(_ id: String, org: String, lock: String, on sql: any SQLDatabase) async throws -> Deployment {
        // A deployment is visible only while its environment and project are live.
        guard let row = try await sql.raw("""
            SELECT \(unsafeRaw: columns) FROM deployments d
            JOIN environments e ON e.id = d.environment_id JOIN projects p ON p.id = d.project_id
            WHERE d.id = \(bind: id) AND d.org_id = \(bind: org) AND d.deleted_at IS NULL AND e.deleted_at IS NULL AND p.deleted_at IS NULL
            """ + SQLQueryString(lock.isEmpty ? "" : lock + " OF d")).first() else {
            throw AppError.notFound("deployment")
        }
        return try deployment(row)
    }

    static func deployment(_ row: any SQLRow) throws -> Deployment {
        let cpu = try row.optionalString("cpu_request")
        let memory = try row.optionalString("memory_request")
        let x = try row.double("canvas_x")
        let y = try row.double("canvas_y")
        return Deployment(
            id: try row.string("id"), projectID: try row.string("project_id"), environmentID: try row.string("environment_id"),
            name: try row.string("name"), image: try row.string("image"), replicas: try row.int("replicas"), port: try row.optionalInt("port"),
            resources: cpu.flatMap { cpu in memory.map { ResourceRequests(cpuRequest: cpu, memoryRequest: $0) } },
            status: DeploymentStatus(rawValue: try row.string("status")) ?? .unknown, lastDeployedAt: try row.optionalDate("last_deployed_at"),
            canvasPosition: x.flatMap { x in y.map { CanvasPosition(x: x, y: $0) } },
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"), version: try row.int("version")
        )
    }
}
