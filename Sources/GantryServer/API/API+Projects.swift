import Foundation
import GantryAPI
import GantryCore

extension APIImplementation {
    func listProjects(_ input: Operations.ListProjects.Input) async throws -> Operations.ListProjects.Output {
        let query = try HTTPSupport.listQuery(q: input.query.q, limit: input.query.limit, cursor: input.query.cursor)
        let page = try await repositories.projects.list(query, for: try RequestScope.caller())
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Project.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createProject(_ input: Operations.CreateProject.Input) async throws -> Operations.CreateProject.Output {
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        let name = validator.name(body.name)
        validator.description(body.description ?? "")
        try validator.check()
        let project = try await repositories.projects.create(name: name, description: body.description ?? "", by: try RequestScope.caller())
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/projects/\(project.id)"), eTag: HTTPSupport.eTag(project.version)),
            body: .json(.init(data: .init(project)))
        ))
    }

    func getProjectStats(_ input: Operations.GetProjectStats.Input) async throws -> Operations.GetProjectStats.Output {
        let query = try HTTPSupport.listQuery(q: input.query.q, limit: input.query.limit, cursor: input.query.cursor)
        let paged = input.query.limit != nil || input.query.cursor != nil
        let page = try await repositories.projects.stats(query, paged: paged, for: try RequestScope.caller())
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.ProjectStats.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func getProject(_ input: Operations.GetProject.Input) async throws -> Operations.GetProject.Output {
        let policy = try OperationTable.policy(Operations.GetProject.id)
        let id = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        let project = try await repositories.projects.get(id, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(project.version)), body: .json(.init(data: .init(project)))))
    }

    /// docs/api.md §8: the catalog's estimate, with no cluster call.
    func getProjectCost(_ input: Operations.GetProjectCost.Input) async throws -> Operations.GetProjectCost.Output {
        let policy = try OperationTable.policy(Operations.GetProjectCost.id)
        let id = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        let cost = try CatalogCost.estimate(try await repositories.costs.catalogRequests(ofProject: id, for: try RequestScope.caller(), requiring: policy))
        let lines = cost.lines.map { line in
            Components.Schemas.EnvironmentCatalogCost(
                environmentId: line.environmentID, name: line.name, hourly: line.hourly.map { $0.rounded() },
                monthly: line.hourly.map { $0.times(Cost.hoursPerMonth).rounded() }, deploymentsWithoutRequests: line.deploymentsWithoutRequests,
                additionalProperties: line.hourly == nil ? .nulls(["hourly": true, "monthly": true]) : .init()
            )
        }
        return .ok(.init(body: .json(.init(data: .init(
            currency: cost.currency, hourly: cost.hourly.rounded(), monthly: cost.monthly.rounded(),
            deploymentsWithoutRequests: cost.deploymentsWithoutRequests, byEnvironment: lines, basis: .catalog,
            additionalProperties: .nulls(["currency": cost.currency == nil])
        )))))
    }

    func updateProject(_ input: Operations.UpdateProject.Input) async throws -> Operations.UpdateProject.Output {
        let policy = try OperationTable.policy(Operations.UpdateProject.id)
        let id = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        HTTPSupport.rejectNulls(["name", "description"], into: &validator)
        let name = body.name.map { validator.name($0) }
        if let description = body.description { validator.description(description) }
        try validator.check()
        let project = try await repositories.projects.update(
            id, ProjectPatch(name: name, description: body.description),
            ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy
        )
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(project.version)), body: .json(.init(data: .init(project)))))
    }

    func deleteProject(_ input: Operations.DeleteProject.Input) async throws -> Operations.DeleteProject.Output {
        let policy = try OperationTable.policy(Operations.DeleteProject.id)
        let id = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        let dryRun = input.query.dryRun ?? false
        let preview = try await repositories.projects.delete(
            id, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), dryRun: dryRun, by: try RequestScope.caller(), requiring: policy
        )
        return dryRun ? .ok(.init(body: .json(.init(data: .init(preview))))) : .noContent(.init())
    }

    func restoreProject(_ input: Operations.RestoreProject.Input) async throws -> Operations.RestoreProject.Output {
        let policy = try OperationTable.policy(Operations.RestoreProject.id)
        let id = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        let project = try await repositories.projects.restore(id, by: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(project.version)), body: .json(.init(data: .init(project)))))
    }
}

extension Components.Schemas.Project {
    init(_ project: GantryCore.Project) {
        self.init(
            id: project.id, name: project.name, description: project.description, createdAt: project.createdAt,
            updatedAt: project.updatedAt, createdBy: project.createdBy, version: project.version
        )
    }
}

extension Components.Schemas.DeletionPreview {
    init(_ preview: GantryCore.DeletionPreview) {
        self.init(deletable: preview.deletable, environmentCount: preview.environmentCount, deploymentCount: preview.deploymentCount)
    }
}

extension Components.Schemas.ProjectStats {
    init(_ stats: GantryCore.ProjectStats) {
        let buckets = stats.statusBuckets
        self.init(
            projectId: stats.projectID, name: stats.name, environmentCount: stats.environmentCount, serviceCount: stats.serviceCount,
            statusBuckets: .init(
                running: buckets[.running] ?? 0, deploying: buckets[.deploying] ?? 0, degraded: buckets[.degraded] ?? 0,
                failed: buckets[.failed] ?? 0, stopped: buckets[.stopped] ?? 0, pending: buckets[.pending] ?? 0,
                unknown: buckets[.unknown] ?? 0
            ),
            lastDeployAt: stats.lastDeployAt,
            additionalProperties: .nulls(["lastDeployAt": stats.lastDeployAt == nil])
        )
    }
}
