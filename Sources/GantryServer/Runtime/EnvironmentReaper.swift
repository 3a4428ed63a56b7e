import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore
import ServiceLifecycle

/// Expires preview environments (docs/api.md §8): when an environment's `expiresAt` has passed, deletes what Gantry
/// applied for it (every object labelled with the environment, and its pull secret), then the namespace when Gantry
/// created it for this environment, then soft-deletes the environment and its deployments with one `environment.expired`
/// audit entry.
///
/// The state lives in the environment row (see `EnvironmentExpiryRepository`): a reaper killed mid-expiry loses nothing,
/// two replicas never expire one environment together, and deleting in the cluster is idempotent, so work repeated
/// after a crash does no harm. An unreachable cluster is retried with backoff for ten minutes; after that the catalog
/// rows go anyway and the audit entry says what was left in the cluster.
final class EnvironmentReaper: Service, Sendable {
    static let lease: TimeInterval = 60
    static let giveUpAfter: TimeInterval = 600

    let expiries: any EnvironmentExpiryRepository
    let connector: ClusterConnector
    let owner: String
    let callBudget: TimeAmount
    let interval: Duration
    let concurrency: Int
    let clock: @Sendable () -> Date
    let ready: AsyncLatch
    let logger: Logger

    init(expiries: any EnvironmentExpiryRepository, connector: ClusterConnector, callBudget: TimeAmount, interval: Duration, concurrency: Int = 8,
         clock: @escaping @Sendable () -> Date, ready: AsyncLatch, logger: Logger) {
        self.expiries = expiries
        self.connector = connector
        self.owner = leaseOwner("reaper")
        self.callBudget = callBudget
        self.interval = interval
        self.concurrency = concurrency
        self.clock = clock
        self.ready = ready
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.ready.wait()
            while !Task.isCancelled {
                await self.expireDue()
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// Expires every due environment, a few at a time, until none is left.
    func expireDue() async {
        await withDiscardingTaskGroup { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while !Task.isCancelled, let due = await self.claim() {
                        await self.expire(due)
                    }
                }
            }
        }
    }

    func claim() async -> ExpiringEnvironment? {
        do {
            return try await expiries.claimDue(owner: owner, now: clock(), leaseFor: Self.lease)
        } catch {
            if !Task.isCancelled {
                logger.warning("expiring environments cannot be read", metadata: ["error": "\(LoggableError.describe(error))"])
            }
            return nil
        }
    }

    func expire(_ environment: ExpiringEnvironment) async {
        let id = environment.environmentID
        do {
            var outcome: [String: JSONValue]
            do {
                let namespaceDeleted = try await whileRenewing(every: Self.lease / 3, {
                    _ = try? await self.expiries.renew(id, owner: self.owner, until: self.clock().addingTimeInterval(Self.lease))
                }) {
                    try await self.tearDown(environment)
                }
                outcome = ["namespaceDeleted": .object(["from": .null, "to": .bool(namespaceDeleted)])]
            } catch let error as AppError where error.code == .notFound {
                // The space is gone: there is nothing left to delete from.
                outcome = ["teardown": .object(["from": .null, "to": .string("skipped: \(error.message)")])]
            } catch let error as AppError {
                let now = clock()
                guard now.timeIntervalSince(environment.failingSince ?? now) >= Self.giveUpAfter else {
                    // Soon after the first failure, then twice a minute: the cluster may be back in a moment or in a while.
                    try await expiries.retry(id, now: now, retryAt: now.addingTimeInterval(environment.failingSince == nil ? 5 : 30))
                    logger.warning("an expired environment could not be torn down; retrying",
                                   metadata: ["environment_id": "\(id)", "reason": "\(error.message)"])
                    return
                }
                outcome = ["teardown": .object(["from": .null, "to": .string("failed: \(error.message) (retried for 10 minutes; giving up)")])]
            }
            if try await expiries.finish(environment, outcome: outcome, now: clock()) {
                logger.info("environment expired", metadata: ["environment_id": "\(id)"])
            }
        } catch {
            // The lease runs out and the next pass takes it over: nothing is lost.
            if !Task.isCancelled {
                logger.warning("an environment's expiry could not be recorded", metadata: ["environment_id": "\(id)", "error": "\(LoggableError.describe(error))"])
            }
        }
    }

    /// Deletes what Gantry applied for the environment, then its namespace when Gantry made it; says whether it did.
    func tearDown(_ environment: ExpiringEnvironment) async throws -> Bool {
        let (client, space) = try await connector.client(forSpace: environment.spaceID, org: environment.organizationID)
        let deadline = NIODeadline.now() + callBudget
        let namespace = environment.namespace
        do {
            let selector = [("labelSelector", "\(Manifests.environmentIDLabel)=\(environment.environmentID)")]
            for kind in ManifestKind.allCases {
                for object in try await client.list(kind.collectionPath(namespace: namespace), query: selector, of: KubeObjectName.self, deadline: deadline) {
                    try await client.delete(kind.path(namespace: namespace, name: object.metadata.name), deadline: deadline)
                }
            }
            let existing: KubeNamespace
            do {
                existing = try await client.get(Manifests.namespacePath(namespace), as: KubeNamespace.self, deadline: deadline)
            } catch .notFound {
                return false
            }
            guard existing.metadata.labels?[Manifests.environmentIDLabel] == environment.environmentID else { return false }
            try await client.delete(Manifests.namespacePath(namespace), deadline: deadline)
            return true
        } catch {
            throw ClusterConnector.appError(error, space: space)
        }
    }
}
