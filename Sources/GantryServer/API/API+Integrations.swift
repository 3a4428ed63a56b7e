import Foundation
import GantryAPI
import GantryCore

extension APIImplementation {
    func listIntegrations(_ input: Operations.ListIntegrations.Input) async throws -> Operations.ListIntegrations.Output {
        let policy = try OperationTable.policy(Operations.ListIntegrations.id)
        let query = try HTTPSupport.listQuery(q: nil, limit: input.query.limit, cursor: input.query.cursor)
        let page = try await repositories.integrations.list(query, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Integration.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createIntegration(_ input: Operations.CreateIntegration.Input) async throws -> Operations.CreateIntegration.Output {
        let policy = try OperationTable.policy(Operations.CreateIntegration.id)
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let caller = try RequestScope.caller()
        var validator = Validator()
        let name = validator.name(body.name)
        let kind = IntegrationKind(rawValue: body.kind.rawValue) ?? .generic
        validator.registryHost(body.registry)
        if let credentials = body.credentials { Self.validate(credentials, into: &validator) }
        if let accountID = body.cloudAccountId {
            if !kind.acceptsCloudAccount {
                validator.fail("cloudAccountId", "only ecr, gar and acr integrations can authenticate through a cloud account")
            }
            validator.id(accountID, prefix: .cloudAccount, field: "cloudAccountId")
        }
        try validator.check()
        let id = repositories.integrations.makeID()
        let sealed = try body.credentials.map { try sealer.seal(try JSONEncoder().encode(["username": $0.username, "password": $0.password]), context: id) }
        let integration = try await repositories.integrations.create(
            id: id, name: name, kind: kind, registry: body.registry, cloudAccountID: body.cloudAccountId, sealedCredentials: sealed, by: caller, requiring: policy
        )
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/integrations/\(integration.id)"), eTag: HTTPSupport.eTag(integration.version)),
            body: .json(.init(data: .init(integration)))
        ))
    }

    func getIntegration(_ input: Operations.GetIntegration.Input) async throws -> Operations.GetIntegration.Output {
        let policy = try OperationTable.policy(Operations.GetIntegration.id)
        let id = try HTTPSupport.pathID(input.path.integrationID, .integration, resource: "registry integration")
        let integration = try await repositories.integrations.get(id, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(integration.version)), body: .json(.init(data: .init(integration)))))
    }

    func updateIntegration(_ input: Operations.UpdateIntegration.Input) async throws -> Operations.UpdateIntegration.Output {
        let policy = try OperationTable.policy(Operations.UpdateIntegration.id)
        let id = try HTTPSupport.pathID(input.path.integrationID, .integration, resource: "registry integration")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let caller = try RequestScope.caller()
        var validator = Validator()
        HTTPSupport.rejectNulls(["name", "registry", "credentials"], into: &validator)
        let name = body.name.map { validator.name($0) }
        if let registry = body.registry { validator.registryHost(registry) }
        if let credentials = body.credentials { Self.validate(credentials, into: &validator) }
        let cloudAccount = HTTPSupport.patchField("cloudAccountId", body.cloudAccountId)
        if case .set(let accountID) = cloudAccount {
            let current = try await repositories.integrations.get(id, for: caller, requiring: policy)
            if !current.kind.acceptsCloudAccount {
                validator.fail("cloudAccountId", "only ecr, gar and acr integrations can authenticate through a cloud account")
            }
            validator.id(accountID, prefix: .cloudAccount, field: "cloudAccountId")
        }
        try validator.check()
        let sealed = try body.credentials.map { try sealer.seal(try JSONEncoder().encode(["username": $0.username, "password": $0.password]), context: id) }
        let integration = try await repositories.integrations.update(
            id, IntegrationPatch(name: name, registry: body.registry, cloudAccountID: cloudAccount, sealedCredentials: sealed),
            ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: caller, requiring: policy
        )
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(integration.version)), body: .json(.init(data: .init(integration)))))
    }

    func deleteIntegration(_ input: Operations.DeleteIntegration.Input) async throws -> Operations.DeleteIntegration.Output {
        let policy = try OperationTable.policy(Operations.DeleteIntegration.id)
        let id = try HTTPSupport.pathID(input.path.integrationID, .integration, resource: "registry integration")
        try await repositories.integrations.delete(id, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy)
        return .noContent(.init())
    }

    static func validate(_ credentials: Components.Schemas.RegistryCredentials, into validator: inout Validator) {
        if credentials.username.isEmpty { validator.fail("credentials.username", "is required") }
        if credentials.password.isEmpty { validator.fail("credentials.password", "is required") }
    }
}

extension Components.Schemas.Integration {
    init(_ integration: GantryCore.Integration) {
        self.init(
            id: integration.id, name: integration.name, kind: .init(rawValue: integration.kind.rawValue) ?? .generic,
            registry: integration.registry, cloudAccountId: integration.cloudAccountID, hasCredentials: integration.hasCredentials,
            createdAt: integration.createdAt, updatedAt: integration.updatedAt, version: integration.version,
            additionalProperties: .nulls(["cloudAccountId": integration.cloudAccountID == nil])
        )
    }
}
