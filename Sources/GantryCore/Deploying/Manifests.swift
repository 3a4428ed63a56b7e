import Foundation

/// One Kubernetes object Gantry applies: where it lives and the body sent with server-side apply.
public struct Manifest: Sendable, Equatable {
    public var kind: ManifestKind
    public var name: String
    public var body: JSONValue

    /// The object's URL path in its namespace.
    public func path(namespace: String) -> String { kind.path(namespace: namespace, name: name) }

    /// How revisions remember what they applied, so the next one can prune what it no longer has.
    public var reference: String { "\(kind.rawValue)/\(name)" }

    /// The kind and name a `reference` names; nil for one this version does not know.
    public static func object(from reference: String) -> (kind: ManifestKind, name: String)? {
        let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let kind = ManifestKind(rawValue: parts[0]) else { return nil }
        return (kind, parts[1])
    }
}

public enum ManifestKind: String, Sendable, CaseIterable, Codable {
    case deployment = "Deployment", service = "Service", secret = "Secret", ingress = "Ingress"

    public var apiVersion: String {
        switch self {
        case .deployment: "apps/v1"
        case .service, .secret: "v1"
        case .ingress: "networking.k8s.io/v1"
        }
    }

    public func collectionPath(namespace: String) -> String {
        switch self {
        case .deployment: "/apis/apps/v1/namespaces/\(namespace)/deployments"
        case .service: "/api/v1/namespaces/\(namespace)/services"
        case .secret: "/api/v1/namespaces/\(namespace)/secrets"
        case .ingress: "/apis/networking.k8s.io/v1/namespaces/\(namespace)/ingresses"
        }
    }

    public func path(namespace: String, name: String) -> String { collectionPath(namespace: namespace) + "/" + name }
}

/// Who a set of objects belongs to: every object carries these labels (docs/api.md §7).
public struct ManifestOwner: Sendable, Equatable {
    public var name: String
    public var projectID: String
    public var environmentID: String
    public var deploymentID: String
    public var namespace: String
    public init(name: String, projectID: String, environmentID: String, deploymentID: String, namespace: String) {
        self.name = name; self.projectID = projectID; self.environmentID = environmentID
        self.deploymentID = deploymentID; self.namespace = namespace
    }
}

/// Renders a revision into the objects that make the cluster match it. Pure: the deployer sends what this returns.
public enum Manifests {
    public static let fieldManager = "gantry"
    public static let pullSecretName = "gantry-registry"
    /// Every object Gantry applies carries `managedByLabel: managedBy`; status sync reads only such pods.
    public static let managedByLabel = "app.kubernetes.io/managed-by"
    public static let managedBy = "gantry"
    public static let deploymentIDLabel = "gantry.dev/deployment-id"
    public static let environmentIDLabel = "gantry.dev/environment-id"
    public static let revisionAnnotation = "gantry.dev/revision"

    public static func labels(_ owner: ManifestOwner) -> [String: String] {
        [
            "app.kubernetes.io/name": owner.name,
            managedByLabel: managedBy,
            "gantry.dev/project-id": owner.projectID,
            environmentIDLabel: owner.environmentID,
            deploymentIDLabel: owner.deploymentID,
        ]
    }

    /// Every object of one revision, in apply order (what the Deployment references comes first).
    /// `secretValues` are the opened secret variables; `pullSecret` says whether `gantry-registry` exists for the namespace.
    public static func render(_ owner: ManifestOwner, revision: Int, spec: DeploySpec, secretValues: [String: String],
                              pullSecret: Bool) -> [Manifest] {
        var objects: [Manifest] = []
        if !secretValues.isEmpty {
            objects.append(secret(owner, revision: revision, values: secretValues))
        }
        objects.append(deployment(owner, revision: revision, spec: spec, secretNames: secretValues.keys.sorted(), pullSecret: pullSecret))
        if let port = spec.port {
            objects.append(service(owner, revision: revision, port: port))
            if let ingress = spec.ingress { objects.append(self.ingress(owner, revision: revision, ingress: ingress, port: port)) }
        }
        return objects
    }

    static func metadata(_ owner: ManifestOwner, name: String, revision: Int, extraAnnotations: [String: String] = [:]) -> JSONValue {
        var annotations = extraAnnotations
        annotations[revisionAnnotation] = String(revision)
        return .object([
            "name": .string(name),
            "namespace": .string(owner.namespace),
            "labels": strings(labels(owner)),
            "annotations": strings(annotations),
        ])
    }

    static func deployment(_ owner: ManifestOwner, revision: Int, spec: DeploySpec, secretNames: [String], pullSecret: Bool) -> Manifest {
        var env: [JSONValue] = (spec.env + spec.injectedEnv).map { .object(["name": .string($0.name), "value": .string($0.value)]) }
        env += secretNames.map { name in
            .object(["name": .string(name), "valueFrom": .object(["secretKeyRef": .object(["name": .string(owner.name + "-env"), "key": .string(name)])])])
        }
        var container: [String: JSONValue] = ["name": .string(owner.name), "image": .string(spec.image)]
        if let port = spec.port {
            container["ports"] = .array([.object(["containerPort": .int(port), "protocol": .string("TCP")])])
        }
        if let resources = spec.resources {
            container["resources"] = .object(["requests": .object(["cpu": .string(resources.cpuRequest), "memory": .string(resources.memoryRequest)])])
        }
        if !env.isEmpty { container["env"] = .array(env) }
        if let check = spec.healthCheck, let port = check.port ?? spec.port {
            container["readinessProbe"] = .object(["httpGet": .object(["path": .string(check.path), "port": .int(port)])])
        }
        let selector: JSONValue = .object([deploymentIDLabel: .string(owner.deploymentID)])
        var podSpec: [String: JSONValue] = ["containers": .array([.object(container)])]
        if pullSecret { podSpec["imagePullSecrets"] = .array([.object(["name": .string(pullSecretName)])]) }
        let body: JSONValue = .object([
            "apiVersion": .string("apps/v1"), "kind": .string("Deployment"),
            "metadata": metadata(owner, name: owner.name, revision: revision),
            "spec": .object([
                "replicas": .int(spec.replicas),
                "selector": .object(["matchLabels": selector]),
                "template": .object([
                    // The revision is a pod label too, so the new ReplicaSet's pods can be told from the old ones' by a selector.
                    "metadata": .object(["labels": strings(labels(owner).merging([revisionAnnotation: String(revision)]) { a, _ in a }),
                                         "annotations": strings([revisionAnnotation: String(revision)])]),
                    "spec": .object(podSpec),
                ]),
            ]),
        ])
        return Manifest(kind: .deployment, name: owner.name, body: body)
    }

    static func service(_ owner: ManifestOwner, revision: Int, port: Int) -> Manifest {
        let body: JSONValue = .object([
            "apiVersion": .string("v1"), "kind": .string("Service"),
            "metadata": metadata(owner, name: owner.name, revision: revision),
            "spec": .object([
                "type": .string("ClusterIP"),
                "selector": .object([deploymentIDLabel: .string(owner.deploymentID)]),
                "ports": .array([.object(["name": .string("http"), "port": .int(port), "targetPort": .int(port), "protocol": .string("TCP")])]),
            ]),
        ])
        return Manifest(kind: .service, name: owner.name, body: body)
    }

    static func secret(_ owner: ManifestOwner, revision: Int, values: [String: String]) -> Manifest {
        // Server-side apply keeps `data` (base64); `stringData` is write-only and merges badly.
        let data = values.mapValues { JSONValue.string(Data($0.utf8).base64EncodedString()) }
        let body: JSONValue = .object([
            "apiVersion": .string("v1"), "kind": .string("Secret"),
            "metadata": metadata(owner, name: owner.name + "-env", revision: revision),
            "type": .string("Opaque"),
            "data": .object(data),
        ])
        return Manifest(kind: .secret, name: owner.name + "-env", body: body)
    }

    static func ingress(_ owner: ManifestOwner, revision: Int, ingress: IngressSpec, port: Int) -> Manifest {
        var annotations: [String: String] = [:]
        var spec: [String: JSONValue] = [
            "ingressClassName": .string(ingress.className),
            "rules": .array([.object([
                "host": .string(ingress.host),
                "http": .object(["paths": .array([.object([
                    "path": .string(ingress.path), "pathType": .string("Prefix"),
                    "backend": .object(["service": .object(["name": .string(owner.name), "port": .object(["number": .int(port)])])]),
                ])])]),
            ])]),
        ]
        if let issuer = ingress.tlsIssuer {
            annotations["cert-manager.io/cluster-issuer"] = issuer
            spec["tls"] = .array([.object(["hosts": .array([.string(ingress.host)]), "secretName": .string(owner.name + "-tls")])])
        }
        let body: JSONValue = .object([
            "apiVersion": .string("networking.k8s.io/v1"), "kind": .string("Ingress"),
            "metadata": metadata(owner, name: owner.name, revision: revision, extraAnnotations: annotations),
            "spec": .object(spec),
        ])
        return Manifest(kind: .ingress, name: owner.name, body: body)
    }

    public static func namespacePath(_ name: String) -> String { "/api/v1/namespaces/\(name)" }

    /// Where the namespace's shared pull secret lives.
    public static func pullSecretPath(namespace: String) -> String { ManifestKind.secret.path(namespace: namespace, name: pullSecretName) }

    /// The namespace, created when missing and labelled as the environment's.
    public static func namespace(_ name: String, environmentID: String) -> JSONValue {
        .object([
            "apiVersion": .string("v1"), "kind": .string("Namespace"),
            "metadata": .object(["name": .string(name), "labels": strings(["gantry.dev/managed": "true", environmentIDLabel: environmentID])]),
        ])
    }

    /// `gantry-registry`: shared by the namespace's deployments, so it carries no deployment label.
    public static func pullSecret(namespace: String, projectID: String, environmentID: String, registry: String,
                                  username: String, password: String) -> JSONValue {
        let auth = Data("\(username):\(password)".utf8).base64EncodedString()
        let config: JSONValue = .object(["auths": .object([registry: .object([
            "username": .string(username), "password": .string(password), "auth": .string(auth),
        ])])])
        let json = String(decoding: config.sortedJSON, as: UTF8.self)
        return .object([
            "apiVersion": .string("v1"), "kind": .string("Secret"),
            "metadata": .object([
                "name": .string(pullSecretName), "namespace": .string(namespace),
                "labels": strings([managedByLabel: managedBy, "gantry.dev/project-id": projectID, environmentIDLabel: environmentID]),
            ]),
            "type": .string("kubernetes.io/dockerconfigjson"),
            "data": .object([".dockerconfigjson": .string(Data(json.utf8).base64EncodedString())]),
        ])
    }

    static func strings(_ map: [String: String]) -> JSONValue { .object(map.mapValues(JSONValue.string)) }
}
