import Foundation
import GantryAPI
import GantryCore

/// Deploying (docs/api.md §7): deploy, roll back, revisions and the timeline.
extension APIImplementation {
    func deployDeployment(_ input: Operations.DeployDeployment.Input) async throws -> Operations.DeployDeployment.Output {
        let policy = try OperationTable.policy(Operations.DeployDeployment.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        let caller = try RequestScope.caller()
        var image: String?
        if case .json(let body)? = input.body, let requested = body.image {
            var validator = Validator()
            Self.validateDeployment(image: requested, replicas: nil, port: nil, resources: nil, canvasPosition: nil, into: &validator)
            try validator.check()
            image = requested.trimmingCharacters(in: .whitespaces)
        }
        var deployment = try await repositories.deployments.get(id, for: caller, requiring: policy)
        deployment.image = image ?? deployment.image
        try await preflight([deployment.spec(injectedEnv: [])], environmentID: deployment.environmentID, caller: caller, policy: policy)
        let revision = try await repositories.revisions.deploy(id, GantryCore.DeployRequest(image: image), by: caller, requiring: policy)
        deployer?.runner?.kick()
        return .accepted(.init(body: .json(.init(data: .init(revision)))))
    }

    func rollbackDeployment(_ input: Operations.RollbackDeployment.Input) async throws -> Operations.RollbackDeployment.Output {
        let policy = try OperationTable.policy(Operations.RollbackDeployment.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        let caller = try RequestScope.caller()
        guard body.revision >= 1 else { throw AppError.validation([FieldError("revision", "must be a revision number (1 or more)")]) }
        let target = try await repositories.revisions.get(id, number: body.revision, for: caller, requiring: policy)
        let deployment = try await repositories.deployments.get(id, for: caller, requiring: policy)
        try await preflight([target.spec], environmentID: deployment.environmentID, caller: caller, policy: policy)
        let revision = try await repositories.revisions.deploy(id, GantryCore.DeployRequest(rollbackTo: body.revision), by: caller, requiring: policy)
        deployer?.runner?.kick()
        return .accepted(.init(body: .json(.init(data: .init(revision)))))
    }

    func deployEnvironment(_ input: Operations.DeployEnvironment.Input) async throws -> Operations.DeployEnvironment.Output {
        let policy = try OperationTable.policy(Operations.DeployEnvironment.id)
        let environmentID = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let caller = try RequestScope.caller()
        let pending = try await repositories.revisions.pendingSpecs(in: environmentID, for: caller, requiring: policy)
        try await preflight(pending, environmentID: environmentID, caller: caller, policy: policy)
        let revisions = try await repositories.revisions.deployPending(in: environmentID, by: caller, requiring: policy)
        deployer?.runner?.kick()
        return .accepted(.init(body: .json(.init(data: revisions.map(Components.Schemas.Revision.init)))))
    }

    func listRevisions(_ input: Operations.ListRevisions.Input) async throws -> Operations.ListRevisions.Output {
        let policy = try OperationTable.policy(Operations.ListRevisions.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        // Revisions are keyed by number, newest first: their cursor holds the last number given out.
        let page = try await repositories.revisions.list(id, try PageRequest.parse(limit: input.query.limit, cursor: input.query.cursor,
                                                                                    isKey: { Int($0).map { $0 > 0 } ?? false }),
                                                         for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Revision.init), nextCursor: page.nextCursor,
                                            additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func getRevision(_ input: Operations.GetRevision.Input) async throws -> Operations.GetRevision.Output {
        let policy = try OperationTable.policy(Operations.GetRevision.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        let revision = try await repositories.revisions.get(id, number: input.path.number, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: .init(revision)))))
    }

    func listDeploymentEvents(_ input: Operations.ListDeploymentEvents.Input) async throws -> Operations.ListDeploymentEvents.Output {
        let policy = try OperationTable.policy(Operations.ListDeploymentEvents.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        let caller = try RequestScope.caller()
        let deployment = try await repositories.deployments.get(id, for: caller, requiring: policy)
        var events = try await repositories.revisions.events(id, for: caller, requiring: policy)
        var warning: String?
        do {
            guard let deployer else { throw AppError(.clusterUnreachable, "this process runs the config role, which holds no cluster credentials") }
            let environment = try await repositories.environments.get(deployment.environmentID, in: nil, for: caller, requiring: policy)
            events += try await deployer.clusterEvents(of: deployment.name, in: environment, org: caller.organizationID)
        } catch let error as AppError where error.code.status >= 500 {
            // Quotes would end the warning's quoted text early.
            warning = "199 - \"cluster events unavailable: \(error.message.replacingOccurrences(of: "\"", with: "'"))\""
        }
        events.sort { $0.time > $1.time }
        return .ok(.init(headers: .init(warning: warning), body: .json(.init(data: events.map(Components.Schemas.DeploymentEvent.init)))))
    }

    /// Preflight (docs/api.md §7): the rules are `Preflight.checks`; the cluster half runs only where a deployer
    /// can read the environment's cluster.
    func preflight(_ specs: [DeploySpec], environmentID: String, caller: Caller, policy: String) async throws {
        var discovery: ClusterDiscoveryService.Discovery?
        if specs.contains(where: { $0.ingress != nil }), let deployer {
            let environment = try await repositories.environments.get(environmentID, in: nil, for: caller, requiring: policy)
            discovery = await deployer.discoveryIfReachable(environment, org: caller.organizationID)
        }
        let checks = Preflight.checks(specs, discovery: discovery)
        guard checks.isEmpty else {
            throw AppError(.preflightFailed, "The deploy was refused before anything was queued: \(checks.count) check(s) failed; see details.checks.",
                           details: ["checks": .array(checks.map { .object(["check": .string($0.check), "message": .string($0.message)]) })])
        }
    }
}

extension Components.Schemas.Revision {
    init(_ revision: GantryCore.Revision) {
        let spec = revision.spec
        self.init(
            id: revision.id, deploymentId: revision.deploymentID, number: revision.number, image: spec.image, replicas: spec.replicas,
            port: spec.port, resources: spec.resources.map { .init(cpuRequest: $0.cpuRequest, memoryRequest: $0.memoryRequest) },
            env: spec.env.map { .init(name: $0.name, value: $0.value) }, secretEnvNames: spec.secretEnvNames,
            ingress: spec.ingress.map(Components.Schemas.IngressSpec.init), healthCheck: spec.healthCheck.map(Components.Schemas.HealthCheck.init),
            injectedEnv: spec.injectedEnv.map { .init(name: $0.name, value: $0.value) },
            status: .init(rawValue: revision.status.rawValue) ?? .failed, message: revision.message, rollbackOf: revision.rollbackOf,
            createdBy: revision.createdBy, createdAt: revision.createdAt, appliedAt: revision.appliedAt, finishedAt: revision.finishedAt,
            additionalProperties: .nulls([
                "port": spec.port == nil, "resources": spec.resources == nil, "ingress": spec.ingress == nil, "healthCheck": spec.healthCheck == nil,
                "message": revision.message == nil, "rollbackOf": revision.rollbackOf == nil, "appliedAt": revision.appliedAt == nil,
                "finishedAt": revision.finishedAt == nil,
            ])
        )
    }
}

extension Components.Schemas.DeploymentEvent {
    init(_ event: GantryCore.DeploymentEvent) {
        self.init(time: event.time, source: event.source == .gantry ? .gantry : .kubernetes, _type: event.warning ? .warning : .normal,
                  reason: event.reason, message: event.message, object: event.object, count: event.count)
    }
}
