import Foundation
import GantryAPI
import GantryCore
import KubeClient

extension APIImplementation {
    func listSpaces(_ input: Operations.ListSpaces.Input) async throws -> Operations.ListSpaces.Output {
        let policy = try OperationTable.policy(Operations.ListSpaces.id)
        let query = try HTTPSupport.listQuery(q: input.query.q, limit: input.query.limit, cursor: input.query.cursor)
        let page = try await repositories.spaces.list(query, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Space.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createSpace(_ input: Operations.CreateSpace.Input) async throws -> Operations.CreateSpace.Output {
        let policy = try OperationTable.policy(Operations.CreateSpace.id)
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let caller = try RequestScope.caller()
        var validator = Validator()
        let name = validator.name(body.name)
        let provider = SpaceProvider(rawValue: body.provider.rawValue) ?? .kubeconfig
        let id = repositories.spaces.makeID()
        var new = NewSpace(name: name, provider: provider, cloudAccountID: nil, config: SpaceConfig(), server: nil, sealedKubeconfig: nil)
        new.pricing = body.pricing.flatMap { Self.pricing($0, into: &validator) }
        if provider == .kubeconfig {
            if body.cloudAccountId != nil { validator.fail("cloudAccountId", "is not used by kubeconfig spaces") }
            if body.config != nil { validator.fail("config", "is not used by kubeconfig spaces; pick a context with \"context\"") }
            if let yaml = body.kubeconfig {
                let kubeconfig = Self.parseKubeconfig(yaml, context: body.context, into: &validator)
                try validator.check()
                if let kubeconfig {
                    new.config = SpaceConfig(context: kubeconfig.contextName)
                    new.server = kubeconfig.server
                    new.sealedKubeconfig = try sealer.seal(Data(yaml.utf8), context: id)
                }
            } else {
                validator.fail("kubeconfig", "is required for provider kubeconfig: paste the kubeconfig YAML with inline data")
            }
        } else {
            if body.kubeconfig != nil { validator.fail("kubeconfig", "is only for provider kubeconfig") }
            if body.context != nil { validator.fail("context", "is only for provider kubeconfig") }
            new.config = Self.validateCloudConfig(body.config, provider: provider, into: &validator)
            if let accountID = body.cloudAccountId {
                validator.id(accountID, prefix: .cloudAccount, field: "cloudAccountId")
                try validator.check()
                let account = try await Self.liveCloudAccount(accountID, repositories: repositories, caller: caller, policy: policy)
                if account.provider.rawValue != provider.rawValue {
                    validator.fail("cloudAccountId", "is a \(account.provider.rawValue) account; a \(provider.rawValue) space needs a \(provider.rawValue) account")
                }
                new.cloudAccountID = accountID
            } else {
                validator.fail("cloudAccountId", "is required for provider \(provider.rawValue)")
            }
        }
        try validator.check()
        let space = try await repositories.spaces.create(new, id: id, by: caller, requiring: policy)
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/spaces/\(space.id)"), eTag: HTTPSupport.eTag(space.version)),
            body: .json(.init(data: .init(space)))
        ))
    }

    func getSpace(_ input: Operations.GetSpace.Input) async throws -> Operations.GetSpace.Output {
        let policy = try OperationTable.policy(Operations.GetSpace.id)
        let id = try HTTPSupport.pathID(input.path.spaceID, .space, resource: "deployment space")
        let space = try await repositories.spaces.get(id, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(space.version)), body: .json(.init(data: .init(space)))))
    }

    func updateSpace(_ input: Operations.UpdateSpace.Input) async throws -> Operations.UpdateSpace.Output {
        let policy = try OperationTable.policy(Operations.UpdateSpace.id)
        let id = try HTTPSupport.pathID(input.path.spaceID, .space, resource: "deployment space")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let caller = try RequestScope.caller()
        let current = try await repositories.spaces.get(id, for: caller, requiring: policy)
        var validator = Validator()
        HTTPSupport.rejectNulls(["name", "kubeconfig", "context", "config"], into: &validator)
        var patch = SpacePatch(name: body.name.map { validator.name($0) })
        patch.pricing = HTTPSupport.patchField("pricing", body.pricing.flatMap { Self.pricing($0, into: &validator) })
        if current.provider == .kubeconfig {
            if body.config != nil { validator.fail("config", "is not used by kubeconfig spaces; pick a context with \"context\"") }
            if let yaml = body.kubeconfig {
                if let kubeconfig = Self.parseKubeconfig(yaml, context: body.context, into: &validator) {
                    patch.config = SpaceConfig(context: kubeconfig.contextName)
                    patch.server = kubeconfig.server
                    patch.sealedKubeconfig = try sealer.seal(Data(yaml.utf8), context: id)
                }
            } else if body.context != nil {
                validator.fail("context", "can only change together with a new kubeconfig (Gantry cannot read the stored one)")
            }
        } else {
            if body.kubeconfig != nil { validator.fail("kubeconfig", "is only for provider kubeconfig") }
            if body.context != nil { validator.fail("context", "is only for provider kubeconfig") }
            if let config = body.config {
                patch.config = Self.validateCloudConfig(config, provider: current.provider, into: &validator)
            }
        }
        try validator.check()
        let space = try await repositories.spaces.update(id, patch, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: caller, requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(space.version)), body: .json(.init(data: .init(space)))))
    }

    /// docs/api.md §8: non-negative prices and an ISO 4217 code; the decimals are kept as the client wrote them.
    static func pricing(_ body: Components.Schemas.SpacePricing, into validator: inout Validator) -> SpacePricing? {
        func price(_ value: Double, _ field: String) -> Decimal? {
            guard value.isFinite, (0...1_000_000).contains(value) else {
                validator.fail("pricing.\(field)", "must be a number from 0 to 1000000"); return nil
            }
            return SpacePricing.price(value)
        }
        let cpu = price(body.cpuCoreHour, "cpuCoreHour"), memory = price(body.memoryGiBHour, "memoryGiBHour")
        let currency = body.currency
        let isCode = currency.utf8.count == 3 && currency.utf8.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        if !isCode { validator.fail("pricing.currency", "must be an ISO 4217 code of three capital letters, such as USD or EUR") }
        guard let cpu, let memory, isCode else { return nil }
        return SpacePricing(cpuCoreHour: cpu, memoryGiBHour: memory, currency: currency)
    }

    func deleteSpace(_ input: Operations.DeleteSpace.Input) async throws -> Operations.DeleteSpace.Output {
        let policy = try OperationTable.policy(Operations.DeleteSpace.id)
        let id = try HTTPSupport.pathID(input.path.spaceID, .space, resource: "deployment space")
        try await repositories.spaces.delete(id, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy)
        return .noContent(.init())
    }

    // MARK: - Rules

    static func parseKubeconfig(_ yaml: String, context: String?, into validator: inout Validator) -> Kubeconfig? {
        do {
            return try Kubeconfig.parse(yaml, context: context)
        } catch {
            validator.fail(error.field, error.message)
            return nil
        }
    }

    static func validateCloudConfig(_ config: Components.Schemas.SpaceConfig?, provider: SpaceProvider, into validator: inout Validator) -> SpaceConfig {
        guard let config else {
            validator.fail("config", "is required for provider \(provider.rawValue): give clusterName and \(provider == .azure ? "resourceGroup" : "region")")
            return SpaceConfig()
        }
        if config.context != nil { validator.fail("config.context", "is only for provider kubeconfig") }
        validator.nonEmpty(config.clusterName, field: "config.clusterName")
        switch provider {
        case .aws:
            validator.nonEmpty(config.region, field: "config.region")
            if config.resourceGroup != nil { validator.fail("config.resourceGroup", "is only for provider azure") }
            if config.subscriptionId != nil { validator.fail("config.subscriptionId", "is only for provider azure") }
            if config.projectId != nil { validator.fail("config.projectId", "is only for provider gcp") }
        case .gcp:
            validator.nonEmpty(config.region, field: "config.region")
            if config.resourceGroup != nil { validator.fail("config.resourceGroup", "is only for provider azure") }
            if config.subscriptionId != nil { validator.fail("config.subscriptionId", "is only for provider azure") }
        case .azure:
            validator.nonEmpty(config.resourceGroup, field: "config.resourceGroup")
            if config.region != nil { validator.fail("config.region", "is not used by provider azure") }
            if config.projectId != nil { validator.fail("config.projectId", "is only for provider gcp") }
        case .kubeconfig:
            break
        }
        return SpaceConfig(
            clusterName: config.clusterName, region: config.region, resourceGroup: config.resourceGroup,
            subscriptionId: config.subscriptionId, projectId: config.projectId
        )
    }
}

extension Components.Schemas.Space {
    init(_ space: GantryCore.Space) {
        self.init(
            id: space.id, name: space.name, provider: .init(rawValue: space.provider.rawValue) ?? .kubeconfig,
            cloudAccountId: space.cloudAccountID,
            config: .init(
                context: space.config.context, clusterName: space.config.clusterName, region: space.config.region,
                resourceGroup: space.config.resourceGroup, subscriptionId: space.config.subscriptionId, projectId: space.config.projectId
            ),
            server: space.server, status: .init(rawValue: space.status.rawValue) ?? .active,
            pricing: space.pricing.map {
                .init(cpuCoreHour: Cost.rounded($0.cpuCoreHour, places: 12), memoryGiBHour: Cost.rounded($0.memoryGiBHour, places: 12), currency: $0.currency)
            },
            createdAt: space.createdAt, updatedAt: space.updatedAt, version: space.version,
            additionalProperties: .nulls(["cloudAccountId": space.cloudAccountID == nil, "server": space.server == nil, "pricing": space.pricing == nil])
        )
    }
}
