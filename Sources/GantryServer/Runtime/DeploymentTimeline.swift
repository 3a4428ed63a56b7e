import Foundation
import GantryCore
import KubeClient
import NIOCore

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

extension Deployer {
    /// The cluster's events about the deployment `name` in the environment's namespace: from the space's cache while
    /// a rollout in the namespace is under way and the space is watched here, else one LIST.
    func clusterEvents(of name: String, in environment: Environment, org: String) async throws -> [DeploymentEvent] {
        let cache = watchedCache(space: environment.spaceID, namespace: environment.namespace)
        let live = try await onCluster(space: environment.spaceID, org: org) { client, deadline throws(KubeError) in
            let budget = deadline - NIODeadline.now()
            let state: any ClusterStateReader = cache.map { CachedClusterState(cache: $0, budget: budget) } ?? PollingClusterState(client: client, budget: budget)
            return try await state.events(in: environment.namespace)
        }
        return DeploymentTimeline.clusterEvents(live, deploymentName: name)
    }
}
