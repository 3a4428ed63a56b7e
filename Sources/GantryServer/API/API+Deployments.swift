import Foundation
import GantryAPI
import GantryCore

extension APIImplementation {
    func listDeployments(_ input: Operations.ListDeployments.Input) async throws -> Operations.ListDeployments.Output {
        let environmentID = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let query = try HTTPSupport.listQuery(q: input.query.q, limit: input.query.limit, cursor: input.query.cursor)
        let page = try await repositories.deployments.list(in: environmentID, query, for: try RequestScope.caller())
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Deployment.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createDeployment(_ input: Operations.CreateDeployment.Input) async throws -> Operations.CreateDeployment.Output {
        let environmentID = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        validator.dnsLabel(body.name, field: "name")
        Self.validateDeployment(image: body.image, replicas: body.replicas, port: body.port, resources: body.resources,
                                canvasPosition: body.canvasPosition, into: &validator)
        try validator.check()
        let deployment = try await repositories.deployments.create(
            in: environmentID,
            NewDeployment(
                name: body.name, image: body.image.trimmingCharacters(in: .whitespaces), replicas: body.replicas ?? 1, port: body.port,
                resources: body.resources.map(ResourceRequests.init), canvasPosition: body.canvasPosition.map(GantryCore.CanvasPosition.init)
            ),
            by: try RequestScope.caller()
        )
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/deployments/\(deployment.id)"), eTag: HTTPSupport.eTag(deployment.version)),
            body: .json(.init(data: .init(deployment)))
        ))
    }

    func getDeployment(_ input: Operations.GetDeployment.Input) async throws -> Operations.GetDeployment.Output {
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        let deployment = try await repositories.deployments.get(id, for: try RequestScope.caller())
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(deployment.version)), body: .json(.init(data: .init(deployment)))))
    }

    func updateDeployment(_ input: Operations.UpdateDeployment.Input) async throws -> Operations.UpdateDeployment.Output {
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        HTTPSupport.rejectNulls(["image", "replicas"], into: &validator)
        Self.validateDeployment(image: body.image, replicas: body.replicas, port: body.port, resources: body.resources,
                                canvasPosition: body.canvasPosition, into: &validator)
        try validator.check()
        let patch = DeploymentPatch(
            image: body.image?.trimmingCharacters(in: .whitespaces), replicas: body.replicas,
            port: HTTPSupport.patchField("port", body.port),
            resources: HTTPSupport.patchField("resources", body.resources.map(ResourceRequests.init)),
            canvasPosition: HTTPSupport.patchField("canvasPosition", body.canvasPosition.map(GantryCore.CanvasPosition.init))
        )
        let deployment = try await repositories.deployments.update(
            id, patch, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller()
        )
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(deployment.version)), body: .json(.init(data: .init(deployment)))))
    }

    func deleteDeployment(_ input: Operations.DeleteDeployment.Input) async throws -> Operations.DeleteDeployment.Output {
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        try await repositories.deployments.delete(id, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller())
        return .noContent(.init())
    }

    static func validateDeployment(
        image: String?, replicas: Int?, port: Int?, resources: Components.Schemas.Resources?,
        canvasPosition: Components.Schemas.CanvasPosition?, into validator: inout Validator
    ) {
        if let image {
            let trimmed = image.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.count > 512 || trimmed.contains(where: { $0.isWhitespace }) {
                validator.fail("image", "must be a container image reference such as ghcr.io/acme/checkout:1.4.2, without spaces")
            }
        }
        if let replicas, !(0...1000).contains(replicas) { validator.fail("replicas", "must be between 0 and 1000") }
        if let port, !(1...65535).contains(port) { validator.fail("port", "must be between 1 and 65535") }
        if let resources {
            validator.quantity(resources.cpuRequest, field: "resources.cpuRequest")
            validator.quantity(resources.memoryRequest, field: "resources.memoryRequest")
        }
        if let canvasPosition, !canvasPosition.x.isFinite || !canvasPosition.y.isFinite || abs(canvasPosition.x) > 1e7 || abs(canvasPosition.y) > 1e7 {
            validator.fail("canvasPosition", "x and y must be finite numbers within ±10,000,000")
        }
    }
}

extension ResourceRequests {
    init(_ resources: Components.Schemas.Resources) {
        self.init(cpuRequest: resources.cpuRequest, memoryRequest: resources.memoryRequest)
    }
}

extension GantryCore.CanvasPosition {
    init(_ position: Components.Schemas.CanvasPosition) {
        self.init(x: position.x, y: position.y)
    }
}

extension Components.Schemas.Deployment {
    init(_ deployment: GantryCore.Deployment) {
        self.init(
            id: deployment.id, projectId: deployment.projectID, environmentId: deployment.environmentID, name: deployment.name,
            image: deployment.image, replicas: deployment.replicas, port: deployment.port,
            resources: deployment.resources.map { .init(cpuRequest: $0.cpuRequest, memoryRequest: $0.memoryRequest) },
            status: .init(rawValue: deployment.status.rawValue) ?? .unknown, lastDeployedAt: deployment.lastDeployedAt,
            canvasPosition: deployment.canvasPosition.map { .init(x: $0.x, y: $0.y) },
            createdAt: deployment.createdAt, updatedAt: deployment.updatedAt, version: deployment.version,
            additionalProperties: .nulls([
                "port": deployment.port == nil, "resources": deployment.resources == nil,
                "lastDeployedAt": deployment.lastDeployedAt == nil, "canvasPosition": deployment.canvasPosition == nil,
            ])
        )
    }
}
