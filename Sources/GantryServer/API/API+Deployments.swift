import Foundation
import GantryAPI
import GantryCore

extension APIImplementation {
    func listDeployments(_ input: Operations.ListDeployments.Input) async throws -> Operations.ListDeployments.Output {
        let policy = try OperationTable.policy(Operations.ListDeployments.id)
        let environmentID = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        let query = try HTTPSupport.listQuery(q: input.query.q, limit: input.query.limit, cursor: input.query.cursor)
        let page = try await repositories.deployments.list(in: environmentID, query, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Deployment.init), nextCursor: page.nextCursor, additionalProperties: .nulls(["nextCursor": page.nextCursor == nil])))))
    }

    func createDeployment(_ input: Operations.CreateDeployment.Input) async throws -> Operations.CreateDeployment.Output {
        let policy = try OperationTable.policy(Operations.CreateDeployment.id)
        let environmentID = try HTTPSupport.pathID(input.path.envID, .environment, resource: "environment")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        validator.dnsLabel(body.name, field: "name")
        Self.validateDeployment(image: body.image, replicas: body.replicas, port: body.port, resources: body.resources,
                                canvasPosition: body.canvasPosition, into: &validator)
        let spec = Self.validateSpec(env: body.env, secretEnv: body.secretEnv?.additionalProperties, ingress: body.ingress,
                                     healthCheck: body.healthCheck, into: &validator)
        if spec.ingress != nil, body.port == nil { validator.fail("ingress", "needs a port: the Ingress routes to the deployment's Service") }
        try validator.check()
        let id = repositories.deployments.makeID()
        var new = NewDeployment(
            name: body.name, image: body.image.trimmingCharacters(in: .whitespaces), replicas: body.replicas ?? 1, port: body.port,
            resources: body.resources.map(ResourceRequests.init), canvasPosition: body.canvasPosition.map(GantryCore.CanvasPosition.init)
        )
        new.env = spec.env ?? []
        new.secretEnv = try seal(body.secretEnv?.additionalProperties ?? [:], deploymentID: id)
        new.ingress = spec.ingress
        new.healthCheck = spec.healthCheck
        let deployment = try await repositories.deployments.create(in: environmentID, new, id: id, by: try RequestScope.caller(), requiring: policy)
        return .created(.init(
            headers: .init(location: HTTPSupport.location("/deployments/\(deployment.id)"), eTag: HTTPSupport.eTag(deployment.version)),
            body: .json(.init(data: .init(deployment)))
        ))
    }

    func getDeployment(_ input: Operations.GetDeployment.Input) async throws -> Operations.GetDeployment.Output {
        let policy = try OperationTable.policy(Operations.GetDeployment.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        let deployment = try await repositories.deployments.get(id, for: try RequestScope.caller(), requiring: policy)
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(deployment.version)), body: .json(.init(data: .init(deployment)))))
    }

    func updateDeployment(_ input: Operations.UpdateDeployment.Input) async throws -> Operations.UpdateDeployment.Output {
        let policy = try OperationTable.policy(Operations.UpdateDeployment.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        guard case .json(let body) = input.body else { throw AppError(.unsupportedMediaType, "Send JSON.") }
        var validator = Validator()
        HTTPSupport.rejectNulls(["image", "replicas"], into: &validator)
        HTTPSupport.rejectNulls(["env", "secretEnv"], into: &validator)
        Self.validateDeployment(image: body.image, replicas: body.replicas, port: body.port, resources: body.resources,
                                canvasPosition: body.canvasPosition, into: &validator)
        let spec = Self.validateSpec(env: body.env, secretEnv: body.secretEnv?.additionalProperties, ingress: body.ingress,
                                     healthCheck: body.healthCheck, into: &validator)
        try validator.check()
        var patch = DeploymentPatch(
            image: body.image?.trimmingCharacters(in: .whitespaces), replicas: body.replicas,
            port: HTTPSupport.patchField("port", body.port),
            resources: HTTPSupport.patchField("resources", body.resources.map(ResourceRequests.init)),
            canvasPosition: HTTPSupport.patchField("canvasPosition", body.canvasPosition.map(GantryCore.CanvasPosition.init))
        )
        patch.env = spec.env
        patch.secretEnv = try body.secretEnv.map { try seal($0.additionalProperties, deploymentID: id) }
        patch.ingress = HTTPSupport.patchField("ingress", spec.ingress)
        patch.healthCheck = HTTPSupport.patchField("healthCheck", spec.healthCheck)
        let deployment = try await repositories.deployments.update(
            id, patch, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy
        )
        return .ok(.init(headers: .init(eTag: HTTPSupport.eTag(deployment.version)), body: .json(.init(data: .init(deployment)))))
    }

    func deleteDeployment(_ input: Operations.DeleteDeployment.Input) async throws -> Operations.DeleteDeployment.Output {
        let policy = try OperationTable.policy(Operations.DeleteDeployment.id)
        let id = try HTTPSupport.pathID(input.path.deploymentID, .deployment, resource: "deployment")
        try await repositories.deployments.delete(id, ifMatch: HTTPSupport.expectedVersion(input.headers.ifMatch), by: try RequestScope.caller(), requiring: policy)
        return .noContent(.init())
    }

    /// `fieldPrefix` names where the fields sit in the body (`overrides.web.` for a clone's overrides).
    static func validateDeployment(
        image: String?, replicas: Int?, port: Int?, resources: Components.Schemas.Resources?,
        canvasPosition: Components.Schemas.CanvasPosition?, fieldPrefix: String = "", into validator: inout Validator
    ) {
        if let image {
            let trimmed = image.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.count > 512 || trimmed.contains(where: { $0.isWhitespace }) {
                validator.fail(fieldPrefix + "image", "must be a container image reference such as ghcr.io/acme/checkout:1.4.2, without spaces")
            }
        }
        if let replicas, !(0...1000).contains(replicas) { validator.fail(fieldPrefix + "replicas", "must be between 0 and 1000") }
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

extension APIImplementation {
    /// The deploy fields of a create or update body, checked (docs/api.md §7).
    static func validateSpec(
        env: [Components.Schemas.EnvVar]?, secretEnv: [String: String]?, ingress: Components.Schemas.IngressSpec?,
        healthCheck: Components.Schemas.HealthCheck?, into validator: inout Validator
    ) -> (env: [EnvVar]?, ingress: IngressSpec?, healthCheck: HealthCheck?) {
        if let env {
            if env.count > 100 { validator.fail("env", "may hold at most 100 variables (got \(env.count))") }
            var seen: Set<String> = []
            for (index, variable) in env.enumerated() {
                if !Rules.isContainerVariableName(variable.name) {
                    validator.fail("env[\(index)].name", "must be a variable name: letters, digits and '_', not starting with a digit")
                } else if !seen.insert(variable.name).inserted {
                    validator.fail("env[\(index)].name", "'\(variable.name)' is listed twice")
                }
            }
        }
        if let secretEnv {
            if secretEnv.count > 100 { validator.fail("secretEnv", "may hold at most 100 variables (got \(secretEnv.count))") }
            let plain = Set(env?.map(\.name) ?? [])
            for name in secretEnv.keys.sorted() {
                if !Rules.isContainerVariableName(name) {
                    validator.fail("secretEnv.\(name)", "must be a variable name: letters, digits and '_', not starting with a digit")
                } else if plain.contains(name) {
                    validator.fail("secretEnv.\(name)", "is also a plain variable in env; a name can be one or the other")
                }
            }
            if secretEnv.values.reduce(0, { $0 + $1.utf8.count }) > 512 * 1024 {
                validator.fail("secretEnv", "values may total at most 512 KiB")
            }
        }
        var spec: IngressSpec?
        if let ingress {
            if !Rules.isIngressHost(ingress.host) { validator.fail("ingress.host", "must be a DNS name such as shop.example.com") }
            let path = ingress.path ?? "/"
            if !path.hasPrefix("/") || path.contains(where: \.isWhitespace) { validator.fail("ingress.path", "must start with '/' and hold no spaces") }
            if !Rules.isHost(ingress.className) || ingress.className.contains(":") {
                validator.fail("ingress.className", "must name an IngressClass of the cluster (see the environment's cluster discovery)")
            }
            if let issuer = ingress.tlsIssuer, !Rules.isHost(issuer) || issuer.contains(":") {
                validator.fail("ingress.tlsIssuer", "must name a cert-manager ClusterIssuer")
            }
            spec = IngressSpec(host: ingress.host, path: path, className: ingress.className, tlsIssuer: ingress.tlsIssuer)
        }
        var check: HealthCheck?
        if let healthCheck {
            if !healthCheck.path.hasPrefix("/") { validator.fail("healthCheck.path", "must start with '/'") }
            if let port = healthCheck.port, !(1...65535).contains(port) { validator.fail("healthCheck.port", "must be between 1 and 65535") }
            check = HealthCheck(path: healthCheck.path, port: healthCheck.port)
        }
        return (env?.map { EnvVar(name: $0.name, value: $0.value) }, spec, check)
    }

    /// Secret variables sealed for the deployer and bound to their deployment; `{}` clears them.
    func seal(_ values: [String: String], deploymentID: String) throws -> SealedSecretEnv {
        guard !values.isEmpty else { return .empty }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return SealedSecretEnv(sealed: try sealer.seal(try encoder.encode(values), context: deploymentID), names: Array(values.keys))
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
            env: deployment.env.map { .init(name: $0.name, value: $0.value) }, secretEnvNames: deployment.secretEnvNames,
            ingress: deployment.ingress.map(Components.Schemas.IngressSpec.init), healthCheck: deployment.healthCheck.map(Components.Schemas.HealthCheck.init),
            currentRevision: deployment.currentRevision, pendingChanges: deployment.pendingChanges,
            drift: deployment.drift.map { .init(fields: $0.fields.compactMap(Components.Schemas.Drift.FieldsPayloadPayload.init(rawValue:)), detectedAt: $0.detectedAt) },
            createdAt: deployment.createdAt, updatedAt: deployment.updatedAt, version: deployment.version,
            additionalProperties: .nulls([
                "port": deployment.port == nil, "resources": deployment.resources == nil,
                "lastDeployedAt": deployment.lastDeployedAt == nil, "canvasPosition": deployment.canvasPosition == nil,
                "ingress": deployment.ingress == nil, "healthCheck": deployment.healthCheck == nil,
                "currentRevision": deployment.currentRevision == nil, "drift": deployment.drift == nil,
            ])
        )
    }
}

extension Components.Schemas.IngressSpec {
    init(_ ingress: IngressSpec) {
        self.init(host: ingress.host, path: ingress.path, className: ingress.className, tlsIssuer: ingress.tlsIssuer)
    }
}

extension Components.Schemas.HealthCheck {
    init(_ check: HealthCheck) {
        self.init(path: check.path, port: check.port)
    }
}
