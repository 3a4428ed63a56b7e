import Foundation
import GantryAPI
import GantryCore
import GantryStorage

extension APIImplementation {
    func listCloudAccounts(_ input: Operations.ListCloudAccounts.Input) async throws -> Operations.ListCloudAccounts.Output {
        let policy = try OperationTable.policy(Operations.ListCloudAccounts.id)
        let query = try HTTPSupport.listQuery(q: nil, limit: input.query.limit, cursor: input.query.cursor)
        let page = try await repositories.cloudAccounts.list(query, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.CloudAccount.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createCloudAccount(_ input: Operations.CreateCloudAccount.Input) async throws -> Operations.CreateCloudAccount.Output {
        let policy = try OperationTable.policy(Operations.CreateCloudAccount.id)
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        let name = validator.name(body.name)
        let provider = CloudProvider(rawValue: body.provider.rawValue) ?? .aws
        let credentials = Self.credentialFields(body.credentials)
        CloudCredentialRules.validate(credentials, provider: provider, into: &validator)
        try validator.check()
        let id = repositories.cloudAccounts.makeID()
        let sealed = try sealer.seal(try JSONEncoder().encode(credentials), context: id)
        let account = try await repositories.cloudAccounts.create(
            id: id, name: name, provider: provider, sealedCredentials: sealed, by: try RequestScope.caller(), requiring: policy
        )
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/cloud-accounts/\(account.id)"), eTag: HTTPSupport.eTag(account.version)),
            body: .json(.init(data: .init(account)))
        ))
    }

    func getCloudAccount(_ input: Operations.GetCloudAccount.Input) async throws -> Operations.GetCloudAccount.Output {
        let policy = try OperationTable.policy(Operations.GetCloudAccount.id)
        let id = try HTTPSupport.pathID(input.path.cloudAccountID, .cloudAccount, resource: "cloud account")
        let account = try await repositories.cloudAccounts.get(id, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(account.version)), body: .json(.init(data: .init(account)))))
    }

    func updateCloudAccount(_ input: Operations.UpdateCloudAccount.Input) async throws -> Operations.UpdateCloudAccount.Output {
        let policy = try OperationTable.policy(Operations.UpdateCloudAccount.id)
        let id = try HTTPSupport.pathID(input.path.cloudAccountID, .cloudAccount, resource: "cloud account")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let caller = try RequestScope.caller()
        var validator = Validator()
        HTTPSupport.rejectNulls(["name", "credentials"], into: &validator)
        let name = body.name.map { validator.name($0) }
        var sealed: String?
        if let credentials = body.credentials {
            let current = try await repositories.cloudAccounts.get(id, for: caller, requiring: policy)
            let fields = Self.credentialFields(credentials)
            CloudCredentialRules.validate(fields, provider: current.provider, into: &validator)
            try validator.check()
            sealed = try sealer.seal(try JSONEncoder().encode(fields), context: id)
        }
        try validator.check()
        let account = try await repositories.cloudAccounts.update(
            id, name: name, sealedCredentials: sealed, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: caller, requiring: policy
        )
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(account.version)), body: .json(.init(data: .init(account)))))
    }

    func deleteCloudAccount(_ input: Operations.DeleteCloudAccount.Input) async throws -> Operations.DeleteCloudAccount.Output {
        let policy = try OperationTable.policy(Operations.DeleteCloudAccount.id)
        let id = try HTTPSupport.pathID(input.path.cloudAccountID, .cloudAccount, resource: "cloud account")
        try await repositories.cloudAccounts.delete(id, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy)
        return .noContent(.init())
    }

    /// The credential fields a client sent, by their contract names.
    static func credentialFields(_ credentials: Components.Schemas.CloudCredentials) -> [String: String] {
        let pairs: [(String, String?)] = [
            ("accessKeyId", credentials.accessKeyId), ("secretAccessKey", credentials.secretAccessKey),
            ("sessionToken", credentials.sessionToken), ("roleArn", credentials.roleArn),
            ("serviceAccountJson", credentials.serviceAccountJson), ("tenantId", credentials.tenantId),
            ("clientId", credentials.clientId), ("clientSecret", credentials.clientSecret), ("subscriptionId", credentials.subscriptionId),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    /// A cloud account referenced from a request body: unknown or deleted is a 400 on that field, not a 404.
    static func liveCloudAccount(_ id: String, repositories: Repositories, caller: Caller, policy: String) async throws -> GantryCore.CloudAccount {
        do {
            return try await repositories.cloudAccounts.get(id, for: caller, requiring: policy)
        } catch let error as AppError where error.code == .notFound {
            throw AppError.validation("cloudAccountId", "no live cloud account \(id) exists in this organization")
        }
    }
}

extension Components.Schemas.CloudAccount {
    init(_ account: GantryCore.CloudAccount) {
        self.init(
            id: account.id, name: account.name, provider: .init(rawValue: account.provider.rawValue) ?? .aws,
            createdAt: account.createdAt, updatedAt: account.updatedAt, version: account.version
        )
    }
}
