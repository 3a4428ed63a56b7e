import Foundation
import GantryAPI
import GantryCore

extension APIImplementation {
    func listConnections(_ input: Operations.ListConnections.Input) async throws -> Operations.ListConnections.Output {
        let policy = try OperationTable.policy(Operations.ListConnections.id)
        let environmentID = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let page = try await repositories.connections.list(
            in: environmentID, try PageRequest.parse(limit: input.query.limit, cursor: input.query.cursor), for: try RequestScope.caller(), requiring: policy
        )
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Connection.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createConnection(_ input: Operations.CreateConnection.Input) async throws -> Operations.CreateConnection.Output {
        let policy = try OperationTable.policy(Operations.CreateConnection.id)
        let environmentID = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        validator.id(body.fromDeploymentId, prefix: .deployment, field: "fromDeploymentId")
        validator.id(body.toDeploymentId, prefix: .deployment, field: "toDeploymentId")
        if let name = body.injectedVar, !Rules.isEnvVarName(name) {
            validator.fail("injectedVar", "must be an environment variable name: upper-case letters, digits and '_', not starting with a digit")
        }
        try validator.check()
        let connection = try await repositories.connections.create(
            in: environmentID, from: body.fromDeploymentId, to: body.toDeploymentId,
            sourceHint: body.sourceHint.flatMap { ConnectionSource(rawValue: $0.rawValue) } ?? .manual,
            injectedVar: body.injectedVar, by: try RequestScope.caller(), requiring: policy
        )
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/connections/\(connection.id)")),
            body: .json(.init(data: .init(connection)))
        ))
    }

    func deleteConnection(_ input: Operations.DeleteConnection.Input) async throws -> Operations.DeleteConnection.Output {
        let policy = try OperationTable.policy(Operations.DeleteConnection.id)
        let id = try HTTPSupport.pathID(input.path.connectionID, .connection, resource: "connection")
        try await repositories.connections.delete(id, by: try RequestScope.caller(), requiring: policy)
        return .noContent(.init())
    }

    func acceptConnection(_ input: Operations.AcceptConnection.Input) async throws -> Operations.AcceptConnection.Output {
        let policy = try OperationTable.policy(Operations.AcceptConnection.id)
        let id = try HTTPSupport.pathID(input.path.connectionID, .connection, resource: "connection")
        let connection = try await repositories.connections.accept(id, by: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: .init(connection)))))
    }
}

extension Components.Schemas.Connection {
    init(_ connection: GantryCore.Connection) {
        self.init(
            id: connection.id, environmentId: connection.environmentID, fromDeploymentId: connection.fromDeploymentID,
            toDeploymentId: connection.toDeploymentID, sourceHint: .init(rawValue: connection.sourceHint.rawValue) ?? .manual,
            injectedVar: connection.injectedVar, createdAt: connection.createdAt,
            additionalProperties: .nulls(["injectedVar": connection.injectedVar == nil])
        )
    }
}
