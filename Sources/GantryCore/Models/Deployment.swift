import Foundation

public struct ResourceRequests: Sendable, Equatable, Codable {
    public var cpuRequest: String
    public var memoryRequest: String
    public init(cpuRequest: String, memoryRequest: String) { self.cpuRequest = cpuRequest; self.memoryRequest = memoryRequest }
}

public struct CanvasPosition: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

public struct Deployment: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var environmentID: String
    public var name: String
    public var image: String
    public var replicas: Int
    public var port: Int?
    public var resources: ResourceRequests?
    public var status: DeploymentStatus
    public var lastDeployedAt: Date?
    public var canvasPosition: CanvasPosition?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int
    // Deploying (docs/api.md §7).
    public var env: [EnvVar] = []
    public var secretEnvNames: [String] = []
    /// Moves whenever the secret values are written; part of the spec in their place.
    public var secretEnvVersion = 0
    public var ingress: IngressSpec?
    public var healthCheck: HealthCheck?
    public var currentRevision: Int?
    public var pendingChanges = true
    public var drift: Drift?

    public init(id: String, projectID: String, environmentID: String, name: String, image: String, replicas: Int, port: Int?,
                resources: ResourceRequests?, status: DeploymentStatus, lastDeployedAt: Date?, canvasPosition: CanvasPosition?,
                createdAt: Date, updatedAt: Date, version: Int) {
        self.id = id; self.projectID = projectID; self.environmentID = environmentID; self.name = name; self.image = image
        self.replicas = replicas; self.port = port; self.resources = resources; self.status = status
        self.lastDeployedAt = lastDeployedAt; self.canvasPosition = canvasPosition; self.createdAt = createdAt
        self.updatedAt = updatedAt; self.version = version
    }

    /// The spec a deploy would freeze now, given the connection variables resolved for it.
    public func spec(injectedEnv: [EnvVar]) -> DeploySpec {
        DeploySpec(image: image, replicas: replicas, port: port, resources: resources, env: env, secretEnvNames: secretEnvNames,
                   secretEnvVersion: secretEnvVersion, ingress: ingress, healthCheck: healthCheck, injectedEnv: injectedEnv)
    }
}

/// Secret variables as the HTTP layer hands them to storage: sealed for the deployer, names in clear.
public struct SealedSecretEnv: Sendable, Equatable {
    public var sealed: String?
    public var names: [String]
    public init(sealed: String?, names: [String]) { self.sealed = sealed; self.names = names.sorted() }
    public static let empty = SealedSecretEnv(sealed: nil, names: [])
}

public struct NewDeployment: Sendable {
    public var name: String
    public var image: String
    public var replicas: Int
    public var port: Int?
    public var resources: ResourceRequests?
    public var canvasPosition: CanvasPosition?
    public var env: [EnvVar] = []
    public var secretEnv: SealedSecretEnv = .empty
    public var ingress: IngressSpec?
    public var healthCheck: HealthCheck?
    public init(name: String, image: String, replicas: Int, port: Int?, resources: ResourceRequests?, canvasPosition: CanvasPosition?) {
        self.name = name; self.image = image; self.replicas = replicas; self.port = port
        self.resources = resources; self.canvasPosition = canvasPosition
    }
}

public struct DeploymentPatch: Sendable {
    public var image: String?
    public var replicas: Int?
    public var port: PatchField<Int>
    public var resources: PatchField<ResourceRequests>
    public var canvasPosition: PatchField<CanvasPosition>
    public var env: [EnvVar]?
    /// Replaces the whole map when present.
    public var secretEnv: SealedSecretEnv?
    public var ingress: PatchField<IngressSpec> = .absent
    public var healthCheck: PatchField<HealthCheck> = .absent
    public init(image: String? = nil, replicas: Int? = nil, port: PatchField<Int> = .absent,
                resources: PatchField<ResourceRequests> = .absent, canvasPosition: PatchField<CanvasPosition> = .absent) {
        self.image = image; self.replicas = replicas; self.port = port; self.resources = resources; self.canvasPosition = canvasPosition
    }
}

public enum ConnectionSource: String, Sendable, CaseIterable {
    case manual, suggestion
}

public struct Connection: Sendable, Equatable {
    public var id: String
    public var environmentID: String
    public var fromDeploymentID: String
    public var toDeploymentID: String
    public var sourceHint: ConnectionSource
    public var injectedVar: String?
    public var createdAt: Date
    public init(id: String, environmentID: String, fromDeploymentID: String, toDeploymentID: String, sourceHint: ConnectionSource,
                injectedVar: String?, createdAt: Date) {
        self.id = id; self.environmentID = environmentID; self.fromDeploymentID = fromDeploymentID
        self.toDeploymentID = toDeploymentID; self.sourceHint = sourceHint; self.injectedVar = injectedVar; self.createdAt = createdAt
    }
}

extension Deployment {
    /// The fields an audit entry may show.
    public var auditFields: [String: JSONValue] {
        ["name": .string(name), "image": .string(image), "replicas": .int(replicas), "port": JSONValue(port),
         "resources": resources.map { .object(["cpuRequest": .string($0.cpuRequest), "memoryRequest": .string($0.memoryRequest)]) } ?? .null,
         "canvasPosition": canvasPosition.map { .object(["x": .double($0.x), "y": .double($0.y)]) } ?? .null,
         "env": .array(env.map { .object(["name": .string($0.name), "value": .string($0.value)]) }),
         "secretEnvNames": .array(secretEnvNames.map(JSONValue.string)),
         "ingress": ingress.map { .object(["host": .string($0.host), "path": .string($0.path), "className": .string($0.className),
                                           "tlsIssuer": JSONValue($0.tlsIssuer)]) } ?? .null,
         "healthCheck": healthCheck.map { .object(["path": .string($0.path), "port": JSONValue($0.port)]) } ?? .null]
    }
}

extension Connection {
    /// The fields an audit entry may show.
    public var auditFields: [String: JSONValue] {
        ["fromDeploymentId": .string(fromDeploymentID), "toDeploymentId": .string(toDeploymentID),
         "sourceHint": .string(sourceHint.rawValue), "injectedVar": JSONValue(injectedVar)]
    }
}

extension Deployment {
    /// Access checks place a deployment at its environment: grants stop at environment scope.
    public var target: Target { .environment(environmentID, project: projectID) }
}
