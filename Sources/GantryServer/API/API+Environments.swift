import Foundation
import GantryAPI
import GantryCore

extension APIImplementation {
    func listEnvironments(_ input: Operations.ListEnvironments.Input) async throws -> Operations.ListEnvironments.Output {
        let projectID = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        let query = try HTTPSupport.listQuery(q: input.query.q, limit: input.query.limit, cursor: input.query.cursor)
        let page = try await repositories.environments.list(in: projectID, query, for: try RequestScope.caller())
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Environment.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createEnvironment(_ input: Operations.CreateEnvironment.Input) async throws -> Operations.CreateEnvironment.Output {
        let policy = try OperationTable.policy(Operations.CreateEnvironment.id)
        let projectID = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        let name = validator.name(body.name)
        validator.namespace(body.namespace)
        validator.id(body.spaceId, prefix: .space, field: "spaceId")
        if let integration = body.registryIntegrationId { validator.id(integration, prefix: .integration, field: "registryIntegrationId") }
        if let url = body.registryUrl { validator.registryURL(url) }
        try validator.check()
        let environment = try await repositories.environments.create(
            in: projectID,
            NewEnvironment(name: name, spaceID: body.spaceId, namespace: body.namespace,
                           registryIntegrationID: body.registryIntegrationId, registryURL: body.registryUrl),
            by: try RequestScope.caller(), requiring: policy
        )
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/projects/\(projectID)/environments/\(environment.id)"),
                           eTag: HTTPSupport.eTag(environment.version)),
            body: .json(.init(data: .init(environment)))
        ))
    }

    func getEnvironment(_ input: Operations.GetEnvironment.Input) async throws -> Operations.GetEnvironment.Output {
        let policy = try OperationTable.policy(Operations.GetEnvironment.id)
        let projectID = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        let id = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let environment = try await repositories.environments.get(id, in: projectID, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(environment.version)), body: .json(.init(data: .init(environment)))))
    }

    func getEnvironmentById(_ input: Operations.GetEnvironmentById.Input) async throws -> Operations.GetEnvironmentById.Output {
        let policy = try OperationTable.policy(Operations.GetEnvironmentById.id)
        let id = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let environment = try await repositories.environments.get(id, in: nil, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(environment.version)), body: .json(.init(data: .init(environment)))))
    }

    func updateEnvironment(_ input: Operations.UpdateEnvironment.Input) async throws -> Operations.UpdateEnvironment.Output {
        let policy = try OperationTable.policy(Operations.UpdateEnvironment.id)
        let projectID = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        let id = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        HTTPSupport.rejectNulls(["name", "spaceId", "namespace"], into: &validator)
        let name = body.name.map { validator.name($0) }
        if let namespace = body.namespace { validator.namespace(namespace) }
        if let spaceID = body.spaceId { validator.id(spaceID, prefix: .space, field: "spaceId") }
        if let integration = body.registryIntegrationId { validator.id(integration, prefix: .integration, field: "registryIntegrationId") }
        if let url = body.registryUrl { validator.registryURL(url) }
        try validator.check()
        let patch = EnvironmentPatch(
            name: name, spaceID: body.spaceId, namespace: body.namespace,
            registryIntegrationID: HTTPSupport.patchField("registryIntegrationId", body.registryIntegrationId),
            registryURL: HTTPSupport.patchField("registryUrl", body.registryUrl)
        )
        let environment = try await repositories.environments.update(
            id, in: projectID, patch, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy
        )
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(environment.version)), body: .json(.init(data: .init(environment)))))
    }

    func deleteEnvironment(_ input: Operations.DeleteEnvironment.Input) async throws -> Operations.DeleteEnvironment.Output {
        let policy = try OperationTable.policy(Operations.DeleteEnvironment.id)
        let projectID = try HTTPSupport.pathID(input.path.projectID, .project, resource: "project")
        let id = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let dryRun = input.query.dryRun ?? false
        let preview = try await repositories.environments.delete(
            id, in: projectID, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), dryRun: dryRun, by: try RequestScope.caller(), requiring: policy
        )
        return dryRun ? .ok(.init(body: .json(.init(data: .init(preview))))) : .noContent(.init())
    }
}

extension Components.Schemas.Environment {
    init(_ environment: GantryCore.Environment) {
        self.init(
            id: environment.id, projectId: environment.projectID, name: environment.name, spaceId: environment.spaceID,
            namespace: environment.namespace, registryIntegrationId: environment.registryIntegrationID,
            registryUrl: environment.registryURL, createdAt: environment.createdAt, updatedAt: environment.updatedAt,
            createdBy: environment.createdBy, version: environment.version,
            additionalProperties: .nulls(["registryIntegrationId": environment.registryIntegrationID == nil, "registryUrl": environment.registryURL == nil])
        )
    }
}
