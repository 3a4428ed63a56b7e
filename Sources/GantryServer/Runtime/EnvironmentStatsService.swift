import Foundation
import GantryCore
import KubeClient
import NIOCore
import Synchronization

/// docs/api.md §6 `GET /environments/{envID}/stats`: read live, cached up to 15 s per environment.
final class EnvironmentStatsService: Sendable {
    struct Stats: Sendable, Equatable {
        var deploymentCount = 0, runningCount = 0, failedCount = 0, podCount = 0
        var cpuMilli: Int64 = 0, memoryBytes: Int64 = 0
        var namespaceExists = false
        var observedAt = Date()

        /// Cores to 3 decimals: millicores are exact.
        var cpuRequestedCores: Double { Double(cpuMilli) / 1000 }
        /// GiB (2^30 bytes) to 2 decimals, half up, computed on integers.
        var memoryRequestedGB: Double { Double((Int128(memoryBytes) * 100 + (1 << 29)) >> 30) / 100 }
    }

    static let cacheLifetime: TimeInterval = 15
    static let terminalPhases: Set<String> = ["Succeeded", "Failed"]

    let cache = Mutex<[String: Stats]>([:])
    /// Reads under way: requests that miss the cache together share one read of the cluster (one credential
    /// opening, one set of LIST calls) instead of each starting its own when a popular answer expires.
    let inFlight = Mutex<[String: Task<Stats, any Error>]>([:])

    /// A reading younger than 15 s, if there is one: answered without opening credentials or calling the cluster.
    func cached(environmentID: String, now: Date = Date()) -> Stats? {
        guard let cached = cache.withLock({ $0[environmentID] }), now.timeIntervalSince(cached.observedAt) < Self.cacheLifetime else { return nil }
        return cached
    }

    /// The cached reading, else the one under way for this environment, else a new one made by `read`.
    /// A read outlives a requester that goes away: the others still wait for it.
    func stats(environmentID: String, read: @escaping @Sendable () async throws -> Stats) async throws -> Stats {
        if let cached = cached(environmentID: environmentID) { return cached }
        let flight = inFlight.withLock { flights in
            if let running = flights[environmentID] { return running }
            let started = Task { [self] in
                let stats = try await read()
                cache.withLock { $0[environmentID] = stats }
                return stats
            }
            flights[environmentID] = started
            return started
        }
        defer { inFlight.withLock { if $0[environmentID] == flight { $0[environmentID] = nil } } }
        return try await flight.value
    }

    static func read(namespace: String, client: KubernetesClient, deadline: NIODeadline) async throws(KubeError) -> Stats {
        guard try await namespaceExists(namespace, client: client, deadline: deadline) else { return Stats() }
        async let deploymentsCall = Result { () async throws(KubeError) -> [KubeDeployment] in
            try await client.list("/apis/apps/v1/namespaces/\(namespace)/deployments", of: KubeDeployment.self, deadline: deadline)
        }
        async let podsCall = Result { () async throws(KubeError) -> [KubePod] in
            try await livePods(namespace, client: client, deadline: deadline)
        }
        return try summarize(deployments: try await deploymentsCall.get(), pods: try await podsCall.get())
    }

    /// The same reading from a watched space's cache: no cluster call, current as of the watch (docs/api.md §6).
    static func read(namespace: String, cache: SpaceCache) throws(KubeError) -> Stats {
        guard cache.namespaceExists(namespace) else { return Stats() }
        return try summarize(deployments: cache.deployments.items(in: namespace).map(\.rollout.deployment), pods: cache.livePods(in: namespace))
    }

    static func summarize(deployments: [KubeDeployment], pods: [KubePod]) throws(KubeError) -> Stats {
        var stats = Stats()
        stats.namespaceExists = true
        stats.deploymentCount = deployments.count
        for deployment in deployments {
            let health = DeploymentHealth(deployment)
            if health.isRunning { stats.runningCount += 1 }
            if health.isFailed { stats.failedCount += 1 }
        }
        stats.podCount = pods.count
        var requests = PodRequests()
        for pod in pods {
            let request = try requests.of(pod)
            stats.cpuMilli = stats.cpuMilli.addingReportingOverflow(request.cpuMilli).overflow ? .max : stats.cpuMilli + request.cpuMilli
            stats.memoryBytes = stats.memoryBytes.addingReportingOverflow(request.memoryBytes).overflow ? .max : stats.memoryBytes + request.memoryBytes
        }
        stats.observedAt = Date()
        return stats
    }

    static func namespaceExists(_ namespace: String, client: KubernetesClient, deadline: NIODeadline) async throws(KubeError) -> Bool {
        do {
            _ = try await client.get("/api/v1/namespaces/\(namespace)", as: KubeNamespace.self, deadline: deadline)
            return true
        } catch .notFound {
            return false
        }
    }

    /// The namespace's pods that hold their requests: neither Succeeded nor Failed.
    static func livePods(_ namespace: String, client: KubernetesClient, deadline: NIODeadline) async throws(KubeError) -> [KubePod] {
        try await client.list("/api/v1/namespaces/\(namespace)/pods", query: [("fieldSelector", "status.phase!=Succeeded,status.phase!=Failed")],
                              of: KubePod.self, deadline: deadline).filter(holdsRequests)
    }

    /// A pod neither Succeeded nor Failed: the scheduler still counts its requests.
    static func holdsRequests(_ pod: KubePod) -> Bool { !terminalPhases.contains(pod.status?.phase ?? "") }

    /// Replicas share their template, so a namespace holds few distinct pod specs: each is added up once.
    struct PodRequests {
        var bySpec: [KubePod.Spec?: (cpuMilli: Int64, memoryBytes: Int64)] = [:]

        mutating func of(_ pod: KubePod) throws(KubeError) -> (cpuMilli: Int64, memoryBytes: Int64) {
            if let known = bySpec[pod.spec] { return known }
            let request = try podRequest(pod)
            bySpec[pod.spec] = request
            return request
        }
    }

    static func podRequest(_ pod: KubePod) throws(KubeError) -> (cpuMilli: Int64, memoryBytes: Int64) {
        func requests(_ container: KubePod.Container) -> ContainerRequests {
            ContainerRequests(requests: (container.resources?.requests ?? [:]).mapValues(\.text), isSidecar: container.restartPolicy == "Always")
        }
        do {
            return try PodRequest.effective(
                initContainers: (pod.spec?.initContainers ?? []).map(requests), containers: (pod.spec?.containers ?? []).map(requests),
                overhead: (pod.spec?.overhead ?? [:]).mapValues(\.text)
            )
        } catch {
            throw KubeError.server(status: 200, reason: nil, message: "pod \(pod.metadata.name) has a request that is not a Kubernetes quantity")
        }
    }
}

extension Result where Failure == KubeError {
    init(_ body: () async throws(KubeError) -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
