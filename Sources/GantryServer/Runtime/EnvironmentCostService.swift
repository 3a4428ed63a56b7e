import Foundation
import GantryCore
import KubeClient
import NIOCore

/// docs/api.md §8 `GET /environments/{envID}/cost`: the namespace's live pods' effective requests (the same sums as
/// stats), grouped by the Gantry deployment that owns them, priced by the caller.
enum EnvironmentCostService {
    struct Line: Sendable {
        /// nil for pods no live Gantry deployment of the environment owns.
        var name: String?
        var pods = 0
        var requested = RequestedCapacity()
    }

    struct Reading: Sendable {
        var lines: [Line] = []
        var podsWithoutRequests = 0
        var observedAt = Date()

        var requested: RequestedCapacity {
            lines.reduce(into: RequestedCapacity()) { $0.add($1.requested) }
        }
    }

    static func read(namespace: String, deploymentNames: [String: String], client: KubernetesClient,
                     deadline: NIODeadline) async throws(KubeError) -> Reading {
        guard try await EnvironmentStatsService.namespaceExists(namespace, client: client, deadline: deadline) else { return Reading() }
        return try reading(pods: try await EnvironmentStatsService.livePods(namespace, client: client, deadline: deadline), deploymentNames: deploymentNames)
    }

    /// From a watched space's cache: no cluster call.
    static func read(namespace: String, deploymentNames: [String: String], cache: SpaceCache) throws(KubeError) -> Reading {
        guard cache.namespaceExists(namespace) else { return Reading() }
        return try reading(pods: cache.livePods(in: namespace), deploymentNames: deploymentNames)
    }

    static func reading(pods: [KubePod], deploymentNames: [String: String]) throws(KubeError) -> Reading {
        var reading = Reading()
        var byName: [String?: Line] = [:]
        var requests = EnvironmentStatsService.PodRequests()
        for pod in pods {
            let name = pod.metadata.labels?[Manifests.deploymentIDLabel].flatMap { deploymentNames[$0] }
            let request = try requests.of(pod)
            byName[name, default: Line(name: name)].pods += 1
            byName[name, default: Line(name: name)].requested.add(cpuMilli: request.cpuMilli, memoryBytes: request.memoryBytes)
            if !requestsAnything(pod) { reading.podsWithoutRequests += 1 }
        }
        // Gantry's deployments by name, then the pods it does not own.
        reading.lines = byName.values.sorted { ($0.name ?? "\u{10FFFF}") < ($1.name ?? "\u{10FFFF}") }
        reading.observedAt = Date()
        return reading
    }

    /// Whether any container of the pod (init, sidecar or app) requests CPU or memory.
    static func requestsAnything(_ pod: KubePod) -> Bool {
        let containers = (pod.spec?.initContainers ?? []) + (pod.spec?.containers ?? [])
        return containers.contains { container in
            let requests = container.resources?.requests ?? [:]
            return requests["cpu"] != nil || requests["memory"] != nil
        }
    }
}
