import Foundation

/// What Swift tests use to look at and steer the cluster behind the API.
extension FakeKubeAPIServer {
    /// The object the cluster holds now (`resource` is the plural: `deployments`, `pods`, `events`…); nil when absent.
    public func object(_ resource: String, namespace: String?, name: String) -> Object? {
        objects(resource, namespace: namespace).first { Self.name($0) == name }
    }

    /// Every object of a resource in a namespace (all namespaces when nil); events in their core `v1` form.
    public func objects(_ resource: String, namespace: String?) -> [Object] {
        state.withLock { state in
            resource == "events"
                ? state.eventObjects(namespace: namespace, fieldSelector: nil, eventsAPI: false)
                : state.scenario.items(resource, namespace: namespace)
        }
    }

    /// Changes a live object as `kubectl edit` would: an Update by `kubectl-edit` that takes over the fields
    /// it changes, bumps a Deployment's generation when its spec changes, and lets the controller react.
    public func edit(_ resource: String, namespace: String, name: String, _ change: @Sendable (inout Object) -> Void) {
        guard let type = ResourceType.named(resource) else { return }
        state.withLock { state in
            _ = state.edit(type, namespace: type.namespaced ? namespace : nil, name: name, manager: "kubectl-edit", change)
        }
    }

    public func setRolloutMode(_ mode: RolloutMode) { state.withLock { $0.rolloutMode = mode } }

    /// Finishes every rollout `.manual` mode held back whose images can run.
    public func completeRollouts() { state.withLock { $0.completeRollouts() } }

    /// Marks a Deployment `Progressing=False` with reason `ProgressDeadlineExceeded`, as if its deadline had passed.
    public func setProgressDeadlineExceeded(namespace: String, name: String) {
        state.withLock { state in
            state.deadlineExceeded.insert(ObjectKey(plural: "deployments", namespace: namespace, name: name))
            state.syncDeployment(namespace: namespace, name: name)
        }
    }
}
