/// How a Deployment's rollout stands, read from its spec and status exactly as docs/api.md §6 defines
/// running and failed; the rest refines what status sync reports.
public enum DeploymentHealth: Sendable, Equatable {
    /// Rollout complete (observed generation current, updated = ready = desired) and `Available=True`.
    case running
    /// `Progressing=False` with `ProgressDeadlineExceeded`, or `ReplicaFailure=True`.
    case failed
    /// `spec.replicas` is 0.
    case scaledToZero
    /// Rollout complete but fewer ready replicas than desired or `Available` not `True`.
    case degraded
    /// A rollout is under way (or paused, or being deleted): neither running nor failed.
    case inProgress

    public init(_ deployment: KubeDeployment) {
        let desired = deployment.spec?.replicas ?? 1
        let status = deployment.status
        let conditions = status?.conditions ?? []
        func condition(_ type: String) -> Condition? { conditions.first { $0.type == type } }
        if desired == 0 { self = .scaledToZero; return }
        if let progressing = condition("Progressing"), progressing.status == "False", progressing.reason == "ProgressDeadlineExceeded" {
            self = .failed; return
        }
        if condition("ReplicaFailure")?.status == "True" { self = .failed; return }
        if deployment.metadata.deletionTimestamp != nil || deployment.spec?.paused == true { self = .inProgress; return }
        let generationSeen = (status?.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0)
        let updated = status?.updatedReplicas ?? 0, ready = status?.readyReplicas ?? 0
        let available = condition("Available")?.status == "True"
        if generationSeen, updated == desired, ready == desired, available { self = .running; return }
        // Every replica is on the current template, yet not all of it serves: complete but degraded.
        let rolloutComplete = generationSeen && updated == desired && (status?.replicas ?? 0) <= desired
            && condition("Progressing")?.reason == "NewReplicaSetAvailable"
        self = rolloutComplete ? .degraded : .inProgress
    }

    /// What docs/api.md §6's `runningCount` counts.
    public var isRunning: Bool { self == .running }
    /// What docs/api.md §6's `failedCount` counts.
    public var isFailed: Bool { self == .failed }
}

/// The vendor docs/api.md §6 names for an IngressClass's `spec.controller`.
public enum IngressVendor {
    static let prefixes: [(String, String)] = [
        ("k8s.io/ingress-nginx", "nginx"), ("nginx.org/ingress-controller", "nginx"),
        ("traefik.io/", "traefik"), ("haproxy.org/", "haproxy"), ("haproxy-ingress.github.io/", "haproxy"),
        ("projectcontour.io/", "contour"), ("istio.io/", "istio"), ("ingress-controllers.konghq.com/", "kong"),
        ("ingress.k8s.aws/alb", "aws-alb"), ("k8s.io/ingress-gce", "gce"), ("azure/application-gateway", "azure-agic"),
    ]

    /// A key matches the controller exactly, or as a prefix followed by `/` (charts append class names).
    public static func of(_ controller: String) -> String {
        for (key, vendor) in prefixes {
            if key.hasSuffix("/") ? controller.hasPrefix(key) : (controller == key || controller.hasPrefix(key + "/")) { return vendor }
        }
        return "other"
    }
}

extension KubeDeployment {
    /// kubectl's `rollout status` (once `.running` holds): every replica is on the new template, none of the old
    /// ones is left, and the new ones are available. `.running` alone counts ready replicas of any template, so old
    /// pods that still serve beside a new one stuck pulling its image would pass it; a revision must not.
    public var rolloutFinished: Bool {
        let desired = spec?.replicas ?? 1
        let updated = status?.updatedReplicas ?? 0
        return updated >= desired && (status?.replicas ?? 0) <= updated && (status?.availableReplicas ?? 0) >= updated
    }
}
