import Foundation
import GantryAPI
import GantryCore
import KubeClient
import NIOCore

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
        var pending: [DeploySpec] = []
        var cursor: String?
        repeat {
            let page = try await repositories.deployments.list(in: environmentID, ListQuery(page: PageRequest(limit: 200, after: cursor)), for: caller, requiring: policy)
            pending += page.items.filter(\.pendingChanges).map { $0.spec(injectedEnv: []) }
            cursor = page.nextCursor.flatMap(Cursor.decode)
        } while cursor != nil
        try await preflight(pending, environmentID: environmentID, caller: caller, policy: policy)
        let revisions = try await repositories.revisions.deployPending(in: environmentID, by: caller, requiring: policy)
        deployer?.runner?.kick()
        return .accepted(.init(body: .json(.init(data: revisions.map(Components.Schemas.Revision.init)))))
    }

    func listRevisions(_ input: Operations.ListRevisions.Input) async throws -> Operations.ListRevisions.Output {
        let policy = try OperationTable.policy(Operations.ListRevisions.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        let page = try await repositories.revisions.list(id, try Self.revisionPage(limit: input.query.limit, cursor: input.query.cursor),
                                                         for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Revision.init), nextCursor: page.nextCursor,
                                            additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    /// A page of revisions. Their cursor holds a revision number (`Cursor.encode("2")`, as the repository writes it), which
    /// `PageRequest.parse` refuses for not being an ID: every nextCursor of this list used to answer 400.
    static func revisionPage(limit: Int?, cursor: String?) throws -> PageRequest {
        let page = try PageRequest.parse(limit: limit, cursor: nil)
        guard let cursor else { return page }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard cursor.count <= 200, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
              text.hasPrefix("v1:"), let number = Int(text.dropFirst(3)), number > 0 else {
            throw AppError.validation([FieldError("cursor", "is not a cursor this server issued; pass the nextCursor of the previous page")])
        }
        return PageRequest(limit: page.limit, after: String(number))
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
            let live = try await deployer.onCluster(space: environment.spaceID, org: caller.organizationID) { client, deadline throws(KubeError) in
                try await PollingClusterState(client: client, budget: deadline - NIODeadline.now()).events(in: environment.namespace)
            }
            events += DeploymentTimeline.clusterEvents(live, deploymentName: deployment.name)
        } catch let error as AppError where error.code.status >= 500 {
            // Quotes would end the warning's quoted text early.
            warning = "199 - \"cluster events unavailable: \(error.message.replacingOccurrences(of: "\"", with: "'"))\""
        }
        events.sort { $0.time > $1.time }
        return .ok(.init(headers: .init(warning: warning), body: .json(.init(data: events.map(Components.Schemas.DeploymentEvent.init)))))
    }

    /// Refusals that need no cluster (an image that cannot be pulled by any runtime) and, when the deployer can
    /// reach the cluster, the ingress class and TLS issuer. A cluster that cannot be reached fails nothing here:
    /// the revision is queued and its job retries.
    func preflight(_ specs: [DeploySpec], environmentID: String, caller: Caller, policy: String) async throws {
        var checks: [JSONValue] = []
        func fail(_ check: String, _ message: String) {
            checks.append(.object(["check": .string(check), "message": .string(message)]))
        }
        for spec in specs {
            if spec.image.trimmingCharacters(in: .whitespaces).isEmpty {
                fail("image", "The deployment has no image; set one before deploying.")
            } else if !Rules.isImageReference(spec.image) {
                fail("image", "'\(spec.image)' is not a valid image reference (expected [registry/]repository[:tag][@digest], lowercase repository).")
            }
        }
        let ingresses = specs.compactMap(\.ingress)
        if !ingresses.isEmpty, let deployer {
            let environment = try await repositories.environments.get(environmentID, in: nil, for: caller, requiring: policy)
            let found = try? await deployer.onCluster(space: environment.spaceID, org: caller.organizationID) { client, deadline throws(KubeError) in
                try await ClusterDiscoveryService.discover(namespace: environment.namespace, client: client, deadline: deadline)
            }
            if let found {
                let classes = found.ingressControllers.map(\.className)
                let issuers = found.issuers.filter { $0.kind == "ClusterIssuer" }
                for ingress in ingresses {
                    if !classes.contains(ingress.className) {
                        let known = classes.isEmpty ? "it has none" : "it has \(classes.sorted().joined(separator: ", "))"
                        fail("ingress.className", "IngressClass '\(ingress.className)' does not exist on the cluster; \(known).")
                    }
                    if let issuer = ingress.tlsIssuer {
                        if !found.certManagerInstalled {
                            fail("ingress.tlsIssuer", "cert-manager is not installed on the cluster, so '\(issuer)' cannot issue a certificate.")
                        } else if let match = issuers.first(where: { $0.name == issuer }) {
                            if !match.ready { fail("ingress.tlsIssuer", "ClusterIssuer '\(issuer)' exists but is not Ready.") }
                        } else {
                            fail("ingress.tlsIssuer", "ClusterIssuer '\(issuer)' does not exist on the cluster.")
                        }
                    }
                }
            }
        }
        guard checks.isEmpty else {
            throw AppError(.preflightFailed, "The deploy was refused before anything was queued: \(checks.count) check(s) failed; see details.checks.",
                           details: ["checks": .array(checks)])
        }
    }
}

/// The cluster's side of a deployment's timeline.
enum DeploymentTimeline {
    /// Events about the Deployment, its ReplicaSets (`<name>-<hash>`) and their pods (`<name>-<hash>-<suffix>`).
    static func clusterEvents(_ events: [KubeEvent], deploymentName: String) -> [DeploymentEvent] {
        let prefix = deploymentName + "-"
        return events.compactMap { event in
            let ours = switch event.kind {
            case "Deployment": event.name == deploymentName
            case "ReplicaSet": event.name.hasPrefix(prefix) && !event.name.dropFirst(prefix.count).contains("-")
            case "Pod": event.name.hasPrefix(prefix) && event.name.dropFirst(prefix.count).split(separator: "-").count == 2
            default: false
            }
            guard ours else { return nil }
            let time = event.time.flatMap { try? Date($0, strategy: .iso8601) } ?? Date(timeIntervalSince1970: 0)
            return DeploymentEvent(time: time, source: .kubernetes, warning: event.type == "Warning", reason: event.reason,
                                   message: event.message, object: "\(event.kind)/\(event.name)", count: event.count)
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
