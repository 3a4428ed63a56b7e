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
            registryURL: HTTPSupport.patchField("registryUrl", body.registryUrl),
            expiresAt: HTTPSupport.patchField("expiresAt", body.expiresAt)
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

// MARK: - Preview environments (docs/api.md §8)

extension APIImplementation {
    func listAllEnvironments(_ input: Operations.ListAllEnvironments.Input) async throws -> Operations.ListAllEnvironments.Output {
        let query = try HTTPSupport.listQuery(q: input.query.q, limit: input.query.limit, cursor: input.query.cursor)
        var validator = Validator()
        if let projectID = input.query.projectId { validator.id(projectID, prefix: .project, field: "projectId") }
        if let spaceID = input.query.spaceId { validator.id(spaceID, prefix: .space, field: "spaceId") }
        if let hours = input.query.expiringWithinHours, !(1...720).contains(hours) {
            validator.fail("expiringWithinHours", "must be a whole number of hours from 1 to 720")
        }
        try validator.check()
        let filter = EnvironmentFilter(projectID: input.query.projectId, spaceID: input.query.spaceId,
                                       expiringBefore: input.query.expiringWithinHours.map { Date().addingTimeInterval(Double($0) * 3600) })
        let page = try await repositories.environments.listAll(query, filter, for: try RequestScope.caller())
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Environment.init), nextCursor: page.nextCursor,
                                           additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func cloneEnvironment(_ input: Operations.CloneEnvironment.Input) async throws -> Operations.CloneEnvironment.Output {
        let policy = try OperationTable.policy(Operations.CloneEnvironment.id)
        let sourceID = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        let name = validator.name(body.name)
        validator.namespace(body.namespace)
        if let spaceID = body.spaceId { validator.id(spaceID, prefix: .space, field: "spaceId") }
        if let hours = body.ttlHours, !(1...720).contains(hours) { validator.fail("ttlHours", "must be a whole number of hours from 1 to 720") }
        for (index, id) in (body.deploymentIds ?? []).enumerated() { validator.id(id, prefix: .deployment, field: "deploymentIds[\(index)]") }
        if let ids = body.deploymentIds, Set(ids).count != ids.count { validator.fail("deploymentIds", "lists a deployment more than once") }
        var overrides: [String: CloneRequest.Override] = [:]
        for (deploymentName, override) in body.overrides?.additionalProperties ?? [:] {
            Self.validateDeployment(image: override.image, replicas: override.replicas, port: nil, resources: nil, canvasPosition: nil,
                                    fieldPrefix: "overrides.\(deploymentName).", into: &validator)
            overrides[deploymentName] = .init(image: override.image?.trimmingCharacters(in: .whitespaces), replicas: override.replicas)
        }
        try validator.check()
        let request = CloneRequest(
            name: name, namespace: body.namespace, spaceID: body.spaceId,
            expiresAt: body.ttlHours.map { Date().addingTimeInterval(Double($0) * 3600) }, deploymentIDs: body.deploymentIds,
            overrides: overrides, deploy: body.deploy ?? false
        )
        let sealer = self.sealer
        let environment = try await repositories.environments.clone(
            sourceID, request, reseal: { sealed, from, to in try sealer.rebind(sealed, from: from, to: to) },
            by: try RequestScope.caller(), requiring: policy, deployPolicy: try OperationTable.policy(Operations.DeployEnvironment.id)
        )
        if request.deploy { deployer?.runner?.kick() }
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/projects/\(environment.projectID)/environments/\(environment.id)"),
                           eTag: HTTPSupport.eTag(environment.version)),
            body: .json(.init(data: .init(environment)))
        ))
    }
}

extension Components.Schemas.Environment {
    init(_ environment: GantryCore.Environment) {
        self.init(
            id: environment.id, projectId: environment.projectID, name: environment.name, spaceId: environment.spaceID,
            namespace: environment.namespace, registryIntegrationId: environment.registryIntegrationID,
            registryUrl: environment.registryURL, createdAt: environment.createdAt, updatedAt: environment.updatedAt,
            createdBy: environment.createdBy, version: environment.version, clonedFromId: environment.clonedFromID,
            expiresAt: environment.expiresAt,
            additionalProperties: .nulls([
                "registryIntegrationId": environment.registryIntegrationID == nil, "registryUrl": environment.registryURL == nil,
                "clonedFromId": environment.clonedFromID == nil, "expiresAt": environment.expiresAt == nil,
            ])
        )
    }
}
