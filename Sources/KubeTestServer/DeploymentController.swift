import Foundation

extension FakeKubeAPIServer {
    /// `.immediate`: a good rollout completes before the write that caused it returns. `.manual`: the new
    /// ReplicaSet and its pods appear but stay unready until `completeRollouts()`, so a test can observe a
    /// revision mid-rollout.
    public enum RolloutMode: Sendable { case immediate, manual }
}

/// What the deployment controller, the ReplicaSet controller, the scheduler and the kubelet would do,
/// run synchronously after each write to a Deployment so tests see a settled cluster.
extension FakeKubeAPIServer.State {
    static let revisionAnnotation = "deployment.kubernetes.io/revision"
    static let controllerManager = "kube-controller-manager"

    enum ImageFate { case runs, pullFails, crashes }

    static func fate(_ image: String) -> ImageFate {
        if image.contains("does-not-exist") || image.contains("nonexistent") { return .pullFails }
        if image.contains("crashloop") { return .crashes }
        return .runs
    }

    /// The characters of generated names: no vowels, no look-alikes (`rand.SafeEncodeString`).
    static let nameAlphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    /// kube-controller-manager's `pod-template-hash`: FNV-32a of the template, its decimal digits mapped
    /// onto `nameAlphabet`.
    static func podTemplateHash(_ template: Object) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in JSONValue.data(template) { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return String(String(hash).utf8.map { nameAlphabet[Int($0) % nameAlphabet.count] })
    }

    func ownedBy(_ uid: String, _ plural: String, namespace: String) -> [Object] {
        scenario.items(plural, namespace: namespace).filter { object in
            ((object["metadata"] as? Object)?["ownerReferences"] as? [Object] ?? []).contains { $0["uid"] as? String == uid }
        }
    }

    /// Stores an object only the controllers write (ReplicaSets, pods), with a new resourceVersion when it changed.
    mutating func storeControlled(_ plural: String, namespace: String, _ object: Object) {
        let name = (object["metadata"] as? Object)?["name"] as? String ?? ""
        managed[ObjectKey(plural: plural, namespace: namespace, name: name)] = nil
        put(plural, namespace: namespace, name: name, object)
    }

    mutating func syncDeployment(namespace: String, name: String) {
        guard let deploymentType = ResourceType.named("deployments"),
              let deployment = scenario.find("deployments", namespace: namespace, name: name) else { return }
        let metadata = deployment["metadata"] as? Object ?? [:]
        let uid = metadata["uid"] as? String ?? ""
        let spec = deployment["spec"] as? Object ?? [:]
        let replicas = spec["replicas"] as? Int ?? 1
        let template = spec["template"] as? Object ?? [:]
        let hash = Self.podTemplateHash(template)
        let rsName = "\(name)-\(hash)"
        let key = ObjectKey(plural: "deployments", namespace: namespace, name: name)
        var sets = ownedBy(uid, "replicasets", namespace: namespace)
        func revision(_ set: Object) -> Int {
            Int(((set["metadata"] as? Object)?["annotations"] as? Object)?[Self.revisionAnnotation] as? String ?? "") ?? 0
        }
        let maxRevision = sets.map(revision).max() ?? 0
        var current = sets.first { FakeKubeAPIServer.name($0) == rsName }
        let currentRevision = current.map(revision)
        let newRevision = currentRevision == maxRevision ? maxRevision : maxRevision + 1
        // A new template (or a rollback to an old one) starts a rollout.
        if currentRevision != newRevision {
            if rolloutMode == .manual { pendingRollouts.insert(key) } else { pendingRollouts.remove(key) }
            deadlineExceeded.remove(key)
        }

        // The new ReplicaSet: created, or brought forward as the newest revision (a rollback).
        let podLabels = ((template["metadata"] as? Object)?["labels"] as? Object ?? [:]).merging(["pod-template-hash": hash]) { _, b in b }
        var set = current ?? [
            "metadata": ["name": rsName, "namespace": namespace, "uid": UUID().uuidString.lowercased(), "creationTimestamp": Self.now(),
                         "generation": 1, "labels": podLabels,
                         "ownerReferences": [["apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid,
                                              "controller": true, "blockOwnerDeletion": true] as Object]] as Object,
            "spec": ["replicas": 0,
                     "selector": ["matchLabels": (((spec["selector"] as? Object)?["matchLabels"] as? Object) ?? [:]).merging(["pod-template-hash": hash]) { _, b in b }] as Object,
                     "template": template.merging(["metadata": ((template["metadata"] as? Object) ?? [:]).merging(["labels": podLabels]) { _, b in b }]) { _, b in b }] as Object,
        ]
        var setMetadata = set["metadata"] as? Object ?? [:]
        setMetadata["annotations"] = ((setMetadata["annotations"] as? Object) ?? [:]).merging([
            Self.revisionAnnotation: String(newRevision), "deployment.kubernetes.io/desired-replicas": String(replicas),
            "deployment.kubernetes.io/max-replicas": String(replicas + Int((Double(replicas) * 0.25).rounded(.up))),
        ]) { _, b in b }
        set["metadata"] = setMetadata
        let previousScale = (set["spec"] as? Object)?["replicas"] as? Int ?? 0
        if previousScale != replicas {
            var setSpec = set["spec"] as? Object ?? [:]
            setSpec["replicas"] = replicas
            set["spec"] = setSpec
            recordEvent("Deployment", deployment, reason: "ScalingReplicaSet",
                        message: "Scaled \(replicas > previousScale ? "up" : "down") replica set \(rsName) from \(previousScale) to \(replicas)",
                        component: "deployment-controller")
        }
        storeControlled("replicasets", namespace: namespace, set)
        current = scenario.find("replicasets", namespace: namespace, name: rsName)

        // Its pods, to the wanted count.
        let pending = pendingRollouts.contains(key)
        var pods = ownedBy((setMetadata["uid"] as? String) ?? "", "pods", namespace: namespace)
        while pods.count < replicas {
            let pod = makePod(set: current ?? set, template: template, labels: podLabels, pending: pending)
            storeControlled("pods", namespace: namespace, pod)
            recordEvent("ReplicaSet", current ?? set, reason: "SuccessfulCreate", message: "Created pod: \(FakeKubeAPIServer.name(pod) ?? "")", component: "replicaset-controller")
            recordPodEvents(pod, pending: pending)
            pods.append(pod)
        }
        while pods.count > replicas, let pod = pods.popLast() {
            put("pods", namespace: namespace, name: FakeKubeAPIServer.name(pod) ?? "", nil)
            recordEvent("ReplicaSet", current ?? set, reason: "SuccessfulDelete", message: "Deleted pod: \(FakeKubeAPIServer.name(pod) ?? "")", component: "replicaset-controller")
        }
        pods = ownedBy((setMetadata["uid"] as? String) ?? "", "pods", namespace: namespace)
        let newReady = pods.filter(Self.isReady).count

        // Old ReplicaSets go to zero once the new one is fully available; until then they keep serving.
        sets = ownedBy(uid, "replicasets", namespace: namespace)
        var oldPods = 0, oldReady = 0
        for old in sets where FakeKubeAPIServer.name(old) != rsName {
            let oldName = FakeKubeAPIServer.name(old) ?? ""
            let oldUID = (old["metadata"] as? Object)?["uid"] as? String ?? ""
            var owned = ownedBy(oldUID, "pods", namespace: namespace)
            let scale = (old["spec"] as? Object)?["replicas"] as? Int ?? 0
            if newReady >= replicas {
                for pod in owned { put("pods", namespace: namespace, name: FakeKubeAPIServer.name(pod) ?? "", nil) }
                owned = []
                if scale != 0 {
                    var scaled = old
                    var oldSpec = scaled["spec"] as? Object ?? [:]
                    oldSpec["replicas"] = 0
                    scaled["spec"] = oldSpec
                    storeControlled("replicasets", namespace: namespace, scaled)
                    recordEvent("Deployment", deployment, reason: "ScalingReplicaSet", message: "Scaled down replica set \(oldName) from \(scale) to 0",
                                component: "deployment-controller")
                }
            }
            oldPods += owned.count
            oldReady += owned.filter(Self.isReady).count
            setReplicaSetStatus(namespace: namespace, name: oldName, pods: owned)
        }
        setReplicaSetStatus(namespace: namespace, name: rsName, pods: pods)

        // The Deployment's status, as kubectl rollout status reads it.
        let total = pods.count + oldPods, ready = newReady + oldReady
        let complete = pods.count == replicas && total == replicas && newReady == replicas
        let now = Self.now()
        let generation = metadata["generation"] as? Int ?? 1
        let maxUnavailable = Int((Double(replicas) * 0.25).rounded(.down))
        let timedOut = deadlineExceeded.contains(key)
        updateManaged(deploymentType, namespace: namespace, name: name) { record in
            var base = record.base
            var baseMetadata = base["metadata"] as? Object ?? [:]
            var annotations = baseMetadata["annotations"] as? Object ?? [:]
            annotations[Self.revisionAnnotation] = String(newRevision)
            baseMetadata["annotations"] = annotations
            base["metadata"] = baseMetadata
            let oldConditions = ((base["status"] as? Object)?["conditions"] as? [Object]) ?? []
            func condition(_ type: String, _ status: String, _ reason: String, _ message: String) -> Object {
                let previous = oldConditions.first { $0["type"] as? String == type }
                let same = previous?["status"] as? String == status
                let unchanged = same && previous?["reason"] as? String == reason
                return ["type": type, "status": status, "reason": reason, "message": message,
                        "lastUpdateTime": unchanged ? (previous?["lastUpdateTime"] as? String ?? now) : now,
                        "lastTransitionTime": same ? (previous?["lastTransitionTime"] as? String ?? now) : now]
            }
            let available = ready >= replicas - maxUnavailable
                ? condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
                : condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
            let progressing = timedOut
                ? condition("Progressing", "False", "ProgressDeadlineExceeded", "ReplicaSet \"\(rsName)\" has timed out progressing.")
                : complete
                    ? condition("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet \"\(rsName)\" has successfully progressed.")
                    : condition("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"\(rsName)\" is progressing.")
            var status: Object = ["observedGeneration": generation, "conditions": [available, progressing]]
            if total > 0 { status["replicas"] = total }
            if !pods.isEmpty { status["updatedReplicas"] = pods.count }
            if ready > 0 { status["readyReplicas"] = ready; status["availableReplicas"] = ready }
            if replicas - ready > 0 { status["unavailableReplicas"] = replicas - ready }
            base["status"] = status
            record.base = base
            record.own(Self.controllerManager, apiVersion: "apps/v1", paths: [["f:metadata", "f:annotations", "f:\(Self.revisionAnnotation)"]], time: now)
            record.own(Self.controllerManager, apiVersion: "apps/v1", paths: FieldPaths.leaves(status, prefix: ["f:status"]).keys.filter { $0.count <= 2 },
                       subresource: "status", time: now)
        }
        if complete { pendingRollouts.remove(key) }
    }

    mutating func setReplicaSetStatus(namespace: String, name: String, pods: [Object]) {
        guard var set = scenario.find("replicasets", namespace: namespace, name: name) else { return }
        let ready = pods.filter(Self.isReady).count
        var status: Object = ["replicas": pods.count, "fullyLabeledReplicas": pods.count,
                              "observedGeneration": (set["metadata"] as? Object)?["generation"] as? Int ?? 1]
        if ready > 0 { status["readyReplicas"] = ready; status["availableReplicas"] = ready }
        guard !JSONValue.same(set["status"], status) else { return }
        set["status"] = status
        storeControlled("replicasets", namespace: namespace, set)
    }

    static func isReady(_ pod: Object) -> Bool {
        ((pod["status"] as? Object)?["conditions"] as? [Object] ?? []).contains { $0["type"] as? String == "Ready" && $0["status"] as? String == "True" }
    }

    mutating func makePod(set: Object, template: Object, labels: Object, pending: Bool) -> Object {
        let setMetadata = set["metadata"] as? Object ?? [:]
        let setName = setMetadata["name"] as? String ?? ""
        let namespace = setMetadata["namespace"] as? String ?? ""
        podSerial += 1
        let alphabet = Self.nameAlphabet
        var seed = UInt32(truncatingIfNeeded: podSerial &* 2_654_435_761)
        let suffix = String((0..<5).map { _ in
            let char = alphabet[Int(seed % UInt32(alphabet.count))]
            seed = seed / UInt32(alphabet.count) &+ 7919
            return char
        })
        let name = "\(setName)-\(suffix)"
        let uid = UUID().uuidString.lowercased()
        var spec = Defaults.podSpec(template["spec"] as? Object ?? [:])
        spec["nodeName"] = "node-1"
        let containers = spec["containers"] as? [Object] ?? []
        let now = Self.now()
        let fates = containers.map { Self.fate($0["image"] as? String ?? "") }
        let pullFails = fates.contains(.pullFails), crashes = fates.contains(.crashes)
        let statuses: [Object] = containers.map { container in
            let containerName = container["name"] as? String ?? "", image = container["image"] as? String ?? ""
            var status: Object = ["name": containerName, "image": image, "imageID": "", "restartCount": 0, "started": false, "ready": false]
            switch Self.fate(image) {
            case .pullFails:
                status["state"] = ["waiting": ["reason": "ImagePullBackOff", "message": "Back-off pulling image \"\(image)\""] as Object] as Object
            case .crashes:
                status["restartCount"] = 3
                status["imageID"] = "\(image)@sha256:" + String(repeating: "c", count: 64)
                status["state"] = ["waiting": ["reason": "CrashLoopBackOff",
                                               "message": "back-off 10s restarting failed container=\(containerName) pod=\(name)"] as Object] as Object
                status["lastState"] = ["terminated": ["exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now,
                                                     "containerID": "containerd://" + String(repeating: "d", count: 64)] as Object] as Object
            case .runs where pending:
                status["state"] = ["waiting": ["reason": "ContainerCreating"]] as Object
            case .runs:
                status["imageID"] = "\(image)@sha256:" + String(repeating: "a", count: 64)
                status["containerID"] = "containerd://" + String(repeating: "b", count: 64)
                status["state"] = ["running": ["startedAt": now]] as Object
                status["started"] = true
                status["ready"] = !pullFails && !crashes
            }
            return status
        }
        let ready = !pending && !pullFails && !crashes
        let phase = pullFails || (pending && !crashes) ? "Pending" : "Running"
        let condition = { (type: String, ok: Bool) -> Object in ["type": type, "status": ok ? "True" : "False", "lastTransitionTime": now] }
        let requests = containers.reduce(into: (cpu: false, memory: false)) { found, container in
            let requests = ((container["resources"] as? Object)?["requests"] as? Object) ?? [:]
            found.cpu = found.cpu || requests["cpu"] != nil
            found.memory = found.memory || requests["memory"] != nil
        }
        return [
            "metadata": ["name": name, "generateName": "\(setName)-", "namespace": namespace, "uid": uid, "creationTimestamp": now, "labels": labels,
                         "ownerReferences": [["apiVersion": "apps/v1", "kind": "ReplicaSet", "name": setName, "uid": setMetadata["uid"] as? String ?? "",
                                              "controller": true, "blockOwnerDeletion": true] as Object]] as Object,
            "spec": spec,
            "status": ["phase": phase, "hostIP": "10.0.0.1", "podIP": "10.244.0.\(podSerial % 250 + 2)", "startTime": now,
                       "qosClass": requests.cpu || requests.memory ? "Burstable" : "BestEffort",
                       "conditions": [condition("Initialized", true), condition("Ready", ready), condition("ContainersReady", ready), condition("PodScheduled", true)],
                       "containerStatuses": statuses] as Object,
        ]
    }

    /// What the scheduler and the kubelet report about a new pod.
    mutating func recordPodEvents(_ pod: Object, pending: Bool) {
        let name = FakeKubeAPIServer.name(pod) ?? "", namespace = (pod["metadata"] as? Object)?["namespace"] as? String ?? ""
        recordEvent("Pod", pod, reason: "Scheduled", message: "Successfully assigned \(namespace)/\(name) to node-1", component: "default-scheduler")
        for container in (pod["spec"] as? Object)?["containers"] as? [Object] ?? [] {
            let image = container["image"] as? String ?? "", containerName = container["name"] as? String ?? ""
            recordEvent("Pod", pod, reason: "Pulling", message: "Pulling image \"\(image)\"", component: "kubelet")
            switch Self.fate(image) {
            case .pullFails:
                recordEvent("Pod", pod, reason: "Failed", message: "Failed to pull image \"\(image)\": rpc error: code = NotFound desc = failed to pull and unpack image \"\(image)\": failed to resolve reference \"\(image)\": \(image): not found",
                            type: "Warning", component: "kubelet")
                recordEvent("Pod", pod, reason: "Failed", message: "Error: ErrImagePull", type: "Warning", component: "kubelet")
                recordEvent("Pod", pod, reason: "BackOff", message: "Back-off pulling image \"\(image)\"", component: "kubelet")
                recordEvent("Pod", pod, reason: "Failed", message: "Error: ImagePullBackOff", type: "Warning", component: "kubelet")
            case .crashes:
                recordPulledAndStarted(pod, image: image, container: containerName)
                recordEvent("Pod", pod, reason: "BackOff", message: "Back-off restarting failed container \(containerName) in pod \(name)_\(namespace)(\((pod["metadata"] as? Object)?["uid"] as? String ?? ""))",
                            type: "Warning", component: "kubelet")
            case .runs where pending:
                continue
            case .runs:
                recordPulledAndStarted(pod, image: image, container: containerName)
            }
        }
    }

    mutating func recordPulledAndStarted(_ pod: Object, image: String, container: String) {
        recordEvent("Pod", pod, reason: "Pulled", message: "Successfully pulled image \"\(image)\" in 1.021s (1.021s including waiting). Image size: 12345678 bytes.", component: "kubelet")
        recordEvent("Pod", pod, reason: "Created", message: "Created container: \(container)", component: "kubelet")
        recordEvent("Pod", pod, reason: "Started", message: "Started container \(container)", component: "kubelet")
    }

    /// Finishes every rollout held back by `.manual` mode: pods of good images start and become ready.
    mutating func completeRollouts() {
        let keys = pendingRollouts
        pendingRollouts.removeAll()
        for key in keys {
            guard let namespace = key.namespace else { continue }
            for pod in scenario.items("pods", namespace: namespace) where Self.isContainerCreating(pod) {
                var started = pod
                var status = started["status"] as? Object ?? [:]
                let now = Self.now()
                let containers = (status["containerStatuses"] as? [Object] ?? []).map { container -> Object in
                    var container = container
                    if ((container["state"] as? Object)?["waiting"] as? Object)?["reason"] as? String == "ContainerCreating" {
                        let image = container["image"] as? String ?? ""
                        container["state"] = ["running": ["startedAt": now]] as Object
                        container["imageID"] = "\(image)@sha256:" + String(repeating: "a", count: 64)
                        container["started"] = true
                    }
                    return container
                }
                let allRunning = containers.allSatisfy { ($0["state"] as? Object)?["running"] != nil }
                status["containerStatuses"] = containers.map { container -> Object in
                    var container = container
                    container["ready"] = allRunning
                    return container
                }
                if allRunning {
                    status["phase"] = "Running"
                    status["conditions"] = (status["conditions"] as? [Object] ?? []).map { condition -> Object in
                        var condition = condition
                        if ["Ready", "ContainersReady"].contains(condition["type"] as? String ?? "") { condition["status"] = "True"; condition["lastTransitionTime"] = now }
                        return condition
                    }
                }
                started["status"] = status
                storeControlled("pods", namespace: namespace, started)
                for container in containers { recordPulledAndStarted(started, image: container["image"] as? String ?? "", container: container["name"] as? String ?? "") }
            }
            syncDeployment(namespace: namespace, name: key.name)
        }
    }

    static func isContainerCreating(_ pod: Object) -> Bool {
        ((pod["status"] as? Object)?["containerStatuses"] as? [Object] ?? []).contains {
            (($0["state"] as? Object)?["waiting"] as? Object)?["reason"] as? String == "ContainerCreating"
        }
    }
}
