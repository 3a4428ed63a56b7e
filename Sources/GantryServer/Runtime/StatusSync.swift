import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Keeps every catalog deployment's `status` and `lastDeployedAt` in step with the Kubernetes Deployment of
/// the same name in its environment's namespace (docs/api.md §6). One pass lists each namespace's
/// Deployments once; spaces are visited a few at a time; a space that fails is retried with exponential
/// backoff, and its failure is logged when it starts and when it ends, not on every pass.
final class StatusSync: Service, Sendable {
    struct SpaceKey: Hashable, Sendable { var org: String; var space: String }
    struct Backoff: Sendable { var failures: Int; var retryAt: ContinuousClock.Instant }

    let runtime: any RuntimeRepository
    let connector: ClusterConnector
    let interval: Duration
    let maximumBackoff: Duration
    let concurrentSpaces: Int
    let logger: Logger
    /// Opens once migrations have run: the first pass must not read tables that do not exist yet.
    let ready: AsyncLatch
    let backoff = Mutex<[SpaceKey: Backoff]>([:])

    init(runtime: any RuntimeRepository, connector: ClusterConnector, interval: Duration, maximumBackoff: Duration = .seconds(900),
         concurrentSpaces: Int = 4, ready: AsyncLatch, logger: Logger) {
        self.ready = ready
        self.runtime = runtime
        self.connector = connector
        self.interval = interval
        self.maximumBackoff = maximumBackoff
        self.concurrentSpaces = concurrentSpaces
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.ready.wait()
            while !Task.isCancelled {
                do {
                    try await self.syncOnce()
                } catch {
                    self.logger.warning("status sync could not read the catalog", metadata: ["error": "\(String(describing: type(of: error)))"])
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// One pass over every space whose backoff has elapsed.
    func syncOnce(now: ContinuousClock.Instant = .now) async throws {
        let due = try await runtime.syncSpaces()
            .map { SpaceKey(org: $0.organizationID, space: $0.spaceID) }
            .filter { key in backoff.withLock { $0[key].map { $0.retryAt <= now } ?? true } }
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for key in due {
                if running >= concurrentSpaces { await group.next(); running -= 1 }
                group.addTask { await self.sync(key, now: now) }
                running += 1
            }
        }
    }

    func sync(_ key: SpaceKey, now: ContinuousClock.Instant) async {
        let namespaces: [String]
        do {
            namespaces = try await runtime.syncNamespaces(space: key.space, org: key.org)
        } catch {
            logger.warning("status sync could not read the catalog", metadata: ["space_id": "\(key.space)", "error": "\(String(describing: type(of: error)))"])
            return
        }
        do {
            let (client, space) = try await connector.client(forSpace: key.space, org: key.org)
            for namespace in namespaces {
                let targets = try await runtime.syncTargets(space: key.space, org: key.org, namespace: namespace)
                let live: [KubeDeployment]
                do {
                    live = try await client.list("/apis/apps/v1/namespaces/\(namespace)/deployments", of: KubeDeployment.self,
                                                 deadline: NIODeadline.now() + .seconds(10))
                } catch {
                    throw ClusterConnector.appError(error, space: space)
                }
                let byName = Dictionary(live.map { ($0.metadata.name, $0) }) { first, _ in first }
                for target in targets {
                    let observation = Self.observe(byName[target.name])
                    let newRevision = observation.completedRevision.map { $0 != target.observedRevision } ?? false
                    // Most deployments look the same pass after pass: those cost no write transaction.
                    guard observation.status != target.status || newRevision else { continue }
                    try await runtime.recordObserved(target, status: observation.status, revision: observation.completedRevision,
                                                     deployedAt: newRevision ? Date() : nil)
                }
            }
            let recovered = backoff.withLock { $0.removeValue(forKey: key) != nil }
            if recovered { logger.info("status sync reaches the space again", metadata: ["space_id": "\(key.space)"]) }
        } catch {
            await markUnknown(key, namespaces: namespaces)
            let failures = backoff.withLock { state -> Int in
                let failures = (state[key]?.failures ?? 0) + 1
                let delay = min(maximumBackoff, interval * (1 << min(failures, 16)))
                state[key] = Backoff(failures: failures, retryAt: now + delay)
                return failures
            }
            if failures == 1 {
                let message = (error as? AppError)?.message ?? "the catalog could not be read"
                logger.warning("status sync cannot reach a space; backing off", metadata: ["space_id": "\(key.space)", "reason": "\(message)"])
            }
        }
    }

    /// Credentials refused or cluster unreachable: the truth is unknown until the space answers again.
    func markUnknown(_ key: SpaceKey, namespaces: [String]) async {
        for namespace in namespaces {
            let targets = (try? await runtime.syncTargets(space: key.space, org: key.org, namespace: namespace)) ?? []
            for target in targets where target.status != .unknown {
                _ = try? await runtime.recordObserved(target, status: .unknown, revision: nil, deployedAt: nil)
            }
        }
    }

    /// docs/api.md §6's mapping, and the revision whose rollout is complete (for `lastDeployedAt`).
    static func observe(_ deployment: KubeDeployment?) -> (status: DeploymentStatus, completedRevision: String?) {
        guard let deployment else { return (.pending, nil) }
        let revision = deployment.metadata.annotations?["deployment.kubernetes.io/revision"]
        switch DeploymentHealth(deployment) {
        case .scaledToZero: return (.stopped, nil)
        case .failed: return (.failed, nil)
        case .running: return (.running, revision)
        case .degraded: return (.degraded, revision)
        case .inProgress: return (.deploying, nil)
        }
    }
}
