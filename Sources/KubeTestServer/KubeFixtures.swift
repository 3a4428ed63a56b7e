import Foundation

/// Kubernetes objects in their real JSON shapes, server-set fields included (uid, resourceVersion,
/// creationTimestamp, generation, defaulted spec fields), so real clients (kubectl, the Python client)
/// accept them. Each builder returns a JSON object as a `[String: any Sendable]` tree.
public enum KubeFixtures {
    public typealias Object = [String: any Sendable]

    static func meta(_ name: String, namespace: String?, generation: Int = 1, labels: [String: String] = [:],
                     annotations: [String: String] = [:], created: String = "2026-11-01T10:00:00Z") -> Object {
        var meta: Object = [
            "name": name, "uid": UUID().uuidString.lowercased(),
            "resourceVersion": "1001", "creationTimestamp": created, "generation": generation,
        ]
        if let namespace { meta["namespace"] = namespace }
        if !labels.isEmpty { meta["labels"] = labels }
        if !annotations.isEmpty { meta["annotations"] = annotations }
        return meta
    }

    public static func namespace(_ name: String, phase: String = "Active", labels: [String: String] = [:]) -> Object {
        ["metadata": meta(name, namespace: nil, generation: 0, labels: labels.merging(["kubernetes.io/metadata.name": name]) { a, _ in a }),
         "spec": ["finalizers": ["kubernetes"]], "status": ["phase": phase]]
    }

    public static func condition(_ type: String, _ status: String, reason: String) -> Object {
        ["type": type, "status": status, "reason": reason, "message": "\(type) is \(status) (\(reason))",
         "lastUpdateTime": "2026-11-01T10:05:00Z", "lastTransitionTime": "2026-11-01T10:05:00Z"]
    }

    /// A Deployment; by default complete and available with every replica ready.
    public static func deployment(
        _ name: String, namespace: String, replicas: Int = 2, generation: Int = 3, observedGeneration: Int? = nil,
        updated: Int? = nil, ready: Int? = nil, available: Int? = nil, paused: Bool = false, revision: Int = 3,
        conditions: [Object]? = nil, deleting: Bool = false
    ) -> Object {
        var metadata = meta(name, namespace: namespace, generation: generation, labels: ["app": name],
                            annotations: ["deployment.kubernetes.io/revision": String(revision)])
        if deleting { metadata["deletionTimestamp"] = "2026-11-02T10:00:00Z" }
        var spec: Object = [
            "replicas": replicas, "selector": ["matchLabels": ["app": name]], "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "strategy": ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": "25%", "maxSurge": "25%"]] as Object,
            "template": ["metadata": ["labels": ["app": name]], "spec": [
                "containers": [["name": name, "image": "registry.example.com/\(name):1.0", "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"]],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
            ] as Object] as Object,
        ]
        if paused { spec["paused"] = true }
        var status: Object = ["observedGeneration": observedGeneration ?? generation]
        let ready = ready ?? replicas, updated = updated ?? replicas, available = available ?? ready
        if replicas > 0 {
            status["replicas"] = max(replicas, updated)
            if updated > 0 { status["updatedReplicas"] = updated }
            if ready > 0 { status["readyReplicas"] = ready }
            if available > 0 { status["availableReplicas"] = available }
            if replicas - available > 0 { status["unavailableReplicas"] = replicas - available }
        }
        status["conditions"] = conditions ?? [
            condition("Available", available >= replicas ? "True" : "False", reason: available >= replicas ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable"),
            condition("Progressing", "True", reason: "NewReplicaSetAvailable"),
        ]
        return ["metadata": metadata, "spec": spec, "status": status]
    }

    public struct ContainerSpec: Sendable {
        public var cpu: String?
        public var memory: String?
        public var sidecar: Bool
        public init(cpu: String? = nil, memory: String? = nil, sidecar: Bool = false) {
            self.cpu = cpu; self.memory = memory; self.sidecar = sidecar
        }
    }

    public static func pod(
        _ name: String, namespace: String, phase: String = "Running", containers: [ContainerSpec],
        initContainers: [ContainerSpec] = [], overhead: [String: String]? = nil, owner: String? = nil
    ) -> Object {
        func container(_ spec: ContainerSpec, _ index: Int, prefix: String) -> Object {
            var requests: Object = [:]
            if let cpu = spec.cpu { requests["cpu"] = cpu }
            if let memory = spec.memory { requests["memory"] = memory }
            var object: Object = ["name": "\(prefix)-\(index)", "image": "registry.example.com/app:1.0", "resources": ["requests": requests],
                                  "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"]
            if spec.sidecar { object["restartPolicy"] = "Always" }
            return object
        }
        var spec: Object = [
            "containers": containers.enumerated().map { container($1, $0, prefix: "app") },
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "nodeName": "node-1", "schedulerName": "default-scheduler",
        ]
        if !initContainers.isEmpty { spec["initContainers"] = initContainers.enumerated().map { container($1, $0, prefix: "init") } }
        if let overhead { spec["overhead"] = overhead }
        var metadata = meta(name, namespace: namespace, generation: 0, labels: owner.map { ["app": $0] } ?? [:])
        if let owner {
            metadata["ownerReferences"] = [["apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "\(owner)-7d4b9c", "uid": "6f1e0000-0000-4000-8000-000000000001",
                                            "controller": true, "blockOwnerDeletion": true] as Object]
        }
        return ["metadata": metadata, "spec": spec, "status": ["phase": phase, "qosClass": "Burstable", "podIP": "10.0.0.7"]]
    }

    public static func ingressClass(_ name: String, controller: String, isDefault: Bool? = nil) -> Object {
        var annotations: [String: String] = [:]
        if let isDefault { annotations["ingressclass.kubernetes.io/is-default-class"] = isDefault ? "true" : "false" }
        return ["metadata": meta(name, namespace: nil, annotations: annotations), "spec": ["controller": controller]]
    }

    public static func issuer(_ name: String, namespace: String? = nil, ready: Bool) -> Object {
        ["metadata": meta(name, namespace: namespace),
         "spec": ["selfSigned": [String: String]()],
         "status": ["conditions": [condition("Ready", ready ? "True" : "False", reason: ready ? "IsReady" : "ErrInitIssuer")]]]
    }
}
