import Foundation
import GantryAPI
import GantryCore
import KubeClient
import NIOCore

extension APIImplementation {
    /// The deployer's half; in the config role these routes answer 404 as if they did not exist.
    func liveDeployer() throws -> Deployer {
        guard let deployer else { throw AppError(.notFound, "This Gantry runs the config role; live runtime routes are served by the deployer.") }
        return deployer
    }

    func getEnvironmentStats(_ input: Operations.GetEnvironmentStats.Input) async throws -> Operations.GetEnvironmentStats.Output {
        let policy = try OperationTable.policy(Operations.GetEnvironmentStats.id)
        let deployer = try liveDeployer()
        let caller = try RequestScope.caller()
        let id = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let environment = try await repositories.environments.get(id, in: nil, for: caller, requiring: policy)
        let stats = if let cache = deployer.watchedCache(space: environment.spaceID, namespace: environment.namespace) {
            try cache.reading { cache throws(KubeError) in try EnvironmentStatsService.read(namespace: environment.namespace, cache: cache) }
        } else {
            try await deployer.stats.stats(environmentID: id) {
                try await deployer.onCluster(space: environment.spaceID, org: caller.organizationID) { client, deadline throws(KubeError) in
                    try await EnvironmentStatsService.read(namespace: environment.namespace, client: client, deadline: deadline)
                }
            }
        }
        return .ok(.init(body: .json(.init(data: .init(
            deploymentCount: stats.deploymentCount, runningCount: stats.runningCount, failedCount: stats.failedCount,
            cpuRequestedCores: stats.cpuRequestedCores, memoryRequestedGB: stats.memoryRequestedGB, podCount: stats.podCount,
            namespaceExists: stats.namespaceExists, observedAt: stats.observedAt
        )))))
    }

    /// docs/api.md §8: an estimate from the live pods' requests, not a bill.
    func getEnvironmentCost(_ input: Operations.GetEnvironmentCost.Input) async throws -> Operations.GetEnvironmentCost.Output {
        let policy = try OperationTable.policy(Operations.GetEnvironmentCost.id)
        let deployer = try liveDeployer()
        let caller = try RequestScope.caller()
        let id = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let environment = try await repositories.environments.get(id, in: nil, for: caller, requiring: policy)
        let (pricing, names) = try await repositories.costs.pricing(ofEnvironment: id, org: caller.organizationID)
        guard let pricing else {
            throw AppError.conflict(field: "pricing", "The environment's space has no prices; set them on the space (PATCH /spaces/\(environment.spaceID) "
                                    + "with pricing.cpuCoreHour, pricing.memoryGiBHour and pricing.currency) to estimate its cost.")
        }
        let reading = if let cache = deployer.watchedCache(space: environment.spaceID, namespace: environment.namespace) {
            try cache.reading { cache throws(KubeError) in
                try EnvironmentCostService.read(namespace: environment.namespace, deploymentNames: names, cache: cache)
            }
        } else {
            try await deployer.onCluster(space: environment.spaceID, org: caller.organizationID) { client, deadline throws(KubeError) in
                try await EnvironmentCostService.read(namespace: environment.namespace, deploymentNames: names, client: client, deadline: deadline)
            }
        }
        let requested = reading.requested
        let hourly = requested.hourly(at: pricing)
        return .ok(.init(body: .json(.init(data: .init(
            currency: pricing.currency, hourly: hourly.rounded(), monthly: hourly.times(Cost.hoursPerMonth).rounded(),
            cpuRequestedCores: Cost.rounded(requested.cores, places: 3), memoryRequestedGiB: Cost.rounded(requested.gibibytes, places: 2),
            podsWithoutRequests: reading.podsWithoutRequests,
            byDeployment: reading.lines.map { line in
                .init(name: line.name, pods: line.pods, cpuRequestedCores: Cost.rounded(line.requested.cores, places: 3),
                      memoryRequestedGiB: Cost.rounded(line.requested.gibibytes, places: 2), hourly: line.requested.hourly(at: pricing).rounded(),
                      additionalProperties: .nulls(["name": line.name == nil]))
            },
            basis: .requests, observedAt: reading.observedAt
        )))))
    }

    func getClusterDiscovery(_ input: Operations.GetClusterDiscovery.Input) async throws -> Operations.GetClusterDiscovery.Output {
        let policy = try OperationTable.policy(Operations.GetClusterDiscovery.id)
        let deployer = try liveDeployer()
        let caller = try RequestScope.caller()
        let id = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let environment = try await repositories.environments.get(id, in: nil, for: caller, requiring: policy)
        let found = try await deployer.discovery(of: environment, org: caller.organizationID)
        return .ok(.init(body: .json(.init(data: .init(
            ingressControllers: found.ingressControllers.map {
                .init(className: $0.className, controller: $0.controller, vendor: .init(rawValue: $0.vendor) ?? .other, isDefault: $0.isDefault)
            },
            certManagers: [.init(name: "cert-manager", installed: found.certManagerInstalled,
                                 issuers: found.issuers.map { .init(name: $0.name, kind: $0.kind == "Issuer" ? .issuer : .clusterIssuer, ready: $0.ready) })],
            observedAt: found.observedAt
        )))))
    }

    func listSpaceNamespaces(_ input: Operations.ListSpaceNamespaces.Input) async throws -> Operations.ListSpaceNamespaces.Output {
        let deployer = try liveDeployer()
        let caller = try RequestScope.caller()
        let spaceID = try HTTPSupport.pathID(input.path.spaceID, .space, resource: "deployment space")
        let namespaces = try await deployer.onCluster(space: spaceID, org: caller.organizationID) { client, deadline throws(KubeError) in
            try await client.list("/api/v1/namespaces", of: KubeNamespace.self, deadline: deadline)
        }
        let bindings = try await repositories.runtime.namespaceBindings(space: spaceID, org: caller.organizationID)
        let items = namespaces.map { Components.Schemas.SpaceNamespace($0, environmentID: bindings[$0.metadata.name]) }
        return .ok(.init(body: .json(.init(data: items, nextCursor: nil, additionalProperties: .nulls(["nextCursor": true])))))
    }

    func createSpaceNamespace(_ input: Operations.CreateSpaceNamespace.Input) async throws -> Operations.CreateSpaceNamespace.Output {
        let deployer = try liveDeployer()
        let caller = try RequestScope.caller()
        let spaceID = try HTTPSupport.pathID(input.path.spaceID, .space, resource: "deployment space")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        validator.namespace(body.name, field: "name")
        try validator.check()
        let created = try await deployer.onCluster(space: spaceID, org: caller.organizationID) { client, deadline throws(KubeError) in
            try await client.create("/api/v1/namespaces", KubeNamespace(name: body.name, labels: ["gantry.dev/managed": "true"]),
                                    as: KubeNamespace.self, deadline: deadline)
        }
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/space-discovery/\(spaceID)/namespaces/\(created.metadata.name)")),
            body: .json(.init(data: .init(created, environmentID: nil)))
        ))
    }
}

extension Components.Schemas.SpaceNamespace {
    init(_ namespace: KubeNamespace, environmentID: String?) {
        self.init(name: namespace.metadata.name, phase: namespace.status?.phase ?? "Active", environmentId: environmentID,
                  additionalProperties: .nulls(["environmentId": environmentID == nil]))
    }
}
