import Foundation

/// A plain environment variable of a container.
public struct EnvVar: Sendable, Equatable, Codable, Hashable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// The Ingress a deployment asks for: `host`/`path` routed to its Service.
public struct IngressSpec: Sendable, Equatable, Codable {
    public var host: String
    public var path: String
    public var className: String
    public var tlsIssuer: String?
    public init(host: String, path: String = "/", className: String, tlsIssuer: String? = nil) {
        self.host = host; self.path = path; self.className = className; self.tlsIssuer = tlsIssuer
    }
}

/// An HTTP readiness probe; `port` nil means the deployment's port.
public struct HealthCheck: Sendable, Equatable, Codable {
    public var path: String
    public var port: Int?
    public init(path: String, port: Int? = nil) { self.path = path; self.port = port }
}

/// Where the live Deployment no longer matches the current revision.
public struct Drift: Sendable, Equatable, Codable {
    public var fields: [String]
    public var detectedAt: Date
    public init(fields: [String], detectedAt: Date) { self.fields = fields; self.detectedAt = detectedAt }
}

/// Everything that decides what is applied to the cluster. A revision freezes one; a deployment has
/// pending changes when the spec it would make now differs from its current revision's.
///
/// Secret values are not part of it (the config role cannot read them back): `secretEnvVersion` moves
/// whenever they are written, so a change of secrets is a change of spec without the spec holding them.
public struct DeploySpec: Sendable, Equatable, Codable {
    public var image: String
    public var replicas: Int
    public var port: Int?
    public var resources: ResourceRequests?
    public var env: [EnvVar]
    public var secretEnvNames: [String]
    public var secretEnvVersion: Int
    public var ingress: IngressSpec?
    public var healthCheck: HealthCheck?
    public var injectedEnv: [EnvVar]

    public init(image: String, replicas: Int, port: Int?, resources: ResourceRequests?, env: [EnvVar], secretEnvNames: [String],
                secretEnvVersion: Int, ingress: IngressSpec?, healthCheck: HealthCheck?, injectedEnv: [EnvVar]) {
        self.image = image; self.replicas = replicas; self.port = port; self.resources = resources; self.env = env
        self.secretEnvNames = secretEnvNames; self.secretEnvVersion = secretEnvVersion; self.ingress = ingress
        self.healthCheck = healthCheck; self.injectedEnv = injectedEnv
    }

    /// One text per spec (sorted keys), so two specs compare as strings in SQL and in Swift.
    public var canonicalJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public static func decode(_ text: String) throws -> DeploySpec {
        try JSONDecoder().decode(DeploySpec.self, from: Data(text.utf8))
    }
}



public enum RevisionStatus: String, Sendable, CaseIterable, Codable {
    case queued, applying, applied, succeeded, failed, superseded

    /// A revision is never edited after it ends.
    public var isFinal: Bool { self == .succeeded || self == .failed || self == .superseded }
}

/// An immutable, numbered snapshot of a deployment's spec, applied by the deployer.
public struct Revision: Sendable, Equatable {
    public var id: String
    public var deploymentID: String
    public var number: Int
    public var spec: DeploySpec
    public var status: RevisionStatus
    public var message: String?
    public var rollbackOf: Int?
    public var createdBy: String
    public var createdAt: Date
    public var appliedAt: Date?
    public var finishedAt: Date?

    public init(id: String, deploymentID: String, number: Int, spec: DeploySpec, status: RevisionStatus, message: String?,
                rollbackOf: Int?, createdBy: String, createdAt: Date, appliedAt: Date?, finishedAt: Date?) {
        self.id = id; self.deploymentID = deploymentID; self.number = number; self.spec = spec; self.status = status
        self.message = message; self.rollbackOf = rollbackOf; self.createdBy = createdBy; self.createdAt = createdAt
        self.appliedAt = appliedAt; self.finishedAt = finishedAt
    }
}

/// One entry of a deployment's timeline.
public struct DeploymentEvent: Sendable, Equatable {
    public enum Source: String, Sendable { case gantry, kubernetes }
    public var time: Date
    public var source: Source
    public var warning: Bool
    public var reason: String
    public var message: String
    public var object: String
    public var count: Int

    public init(time: Date, source: Source, warning: Bool, reason: String, message: String, object: String, count: Int = 1) {
        self.time = time; self.source = source; self.warning = warning; self.reason = reason; self.message = message
        self.object = object; self.count = count
    }
}

/// What the deploy routes ask of the repository.
public struct DeployRequest: Sendable {
    /// Set the catalog's image first (one audit entry covers both).
    public var image: String?
    /// Take revision n's values back (`rollbackOf: n`).
    public var rollbackTo: Int?
    public init(image: String? = nil, rollbackTo: Int? = nil) { self.image = image; self.rollbackTo = rollbackTo }
}
