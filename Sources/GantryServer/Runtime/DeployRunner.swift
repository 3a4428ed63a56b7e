import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Runs the durable deploy jobs (docs/api.md §7): applies revisions with server-side apply, prunes what the
/// previous revision had and this one does not, and tears deleted deployments down.
///
/// Jobs are leased from the database, so a runner that dies loses nothing (its lease runs out and another
/// takes the job over) and two replicas never run one job at once. Applying is idempotent, so a job run twice
/// after a crash does no harm.
final class DeployRunner: Service, Sendable {
    static let lease: TimeInterval = 60
    /// An unreachable cluster is retried this long, then the revision fails saying so.
    static let giveUpAfter: TimeInterval = 600

    let queue: any DeployQueueRepository
    let renewals: any PullSecretRenewalRepository
    let connector: ClusterConnector
    let sealer: CredentialSealer
    let owner: String
    let callBudget: TimeAmount
    let pollInterval: Duration
    let concurrency: Int
    let clock: @Sendable () -> Date
    let ready: AsyncLatch
    /// Where an applied revision is announced to status sync when clusters are watched: the cluster's own events may
    /// have come while the revision was still `applying`, and its rollout is tracked only once it is `applied`.
    let changes: ClusterChanges?
    let logger: Logger
    /// The pull secret's login, with the logins minted from cloud accounts cached for the life of the process.
    let registryLogins: RegistryLogins
    let kicked = Atomic<Bool>(false)
    let nextRenewalCheck = Mutex(Date.distantPast)
    let active = Atomic<Int>(0)

    init(queue: any DeployQueueRepository, renewals: any PullSecretRenewalRepository, connector: ClusterConnector, sealer: CredentialSealer, callBudget: TimeAmount,
         pollInterval: Duration, concurrency: Int = 8, clock: @escaping @Sendable () -> Date = { Date() }, ready: AsyncLatch,
         changes: ClusterChanges? = nil, logger: Logger) {
        self.queue = queue
        self.renewals = renewals
        self.connector = connector
        self.sealer = sealer
        self.owner = leaseOwner("deploy")
        self.callBudget = callBudget
        self.pollInterval = pollInterval
        self.concurrency = concurrency
        self.clock = clock
        self.ready = ready
        self.changes = changes
        self.logger = logger
        registryLogins = RegistryLogins(sealer: sealer, http: connector.http, endpoints: connector.endpoints,
                                        cache: RegistryLoginCache(refreshMargin: RegistryLogins.refreshMargin), clock: clock,
                                        logger: connector.logger)
    }

    /// Something was queued in this process: look now instead of at the next poll.
    func kick() { kicked.store(true, ordering: .relaxed) }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.ready.wait()
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled {
                    if self.active.load(ordering: .relaxed) < self.concurrency, let job = await self.claimNext() {
                        self.active.add(1, ordering: .relaxed)
                        group.addTask {
                            await self.work(job)
                            self.active.subtract(1, ordering: .relaxed)
                            self.kick()
                        }
                        continue
                    }
                    await self.renewDuePullSecrets()
                    await self.idle()
                }
            }
        }
    }

    func claimNext() async -> DeployJob? {
        do {
            return try await queue.claim(owner: owner, now: clock(), leaseFor: Self.lease)
        } catch {
            // Shutting down cancels the claim in flight: that is not worth a warning.
            if !Task.isCancelled {
                logger.warning("deploy jobs cannot be read", metadata: ["error": "\(LoggableError.describe(error))"])
            }
            return nil
        }
    }

    /// Waits for a kick or the poll interval, whichever comes first.
    func idle() async {
        let until = ContinuousClock.now + pollInterval
        while ContinuousClock.now < until, !Task.isCancelled {
            if kicked.exchange(false, ordering: .relaxed) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Runs one job while keeping its lease, and records how it ended.
    func work(_ job: DeployJob) async {
        await whileRenewing(every: Self.lease / 3, {
            let held = (try? await self.queue.renew(job, owner: self.owner, until: self.clock().addingTimeInterval(Self.lease))) ?? false
            if !held { self.logger.warning("a deploy job's lease was lost", metadata: ["job_id": "\(job.id)"]) }
        }) {
            await self.perform(job)
        }
    }

    func perform(_ job: DeployJob) async {
        do {
            switch job.kind {
            case .apply: try await apply(job)
            case .teardown: try await tearDown(job)
            }
        } catch {
            await handle(error, of: job)
        }
    }

    // MARK: - Apply

    func apply(_ job: DeployJob) async throws {
        let target = try await queue.target(of: job)
        guard let revision = target.revision, try await queue.markApplying(job) else {
            try await queue.finishSkipped(job)
            return
        }
        let (client, space) = try await connector.client(forSpace: target.spaceID, org: job.organizationID)
        let deadline = NIODeadline.now() + callBudget
        let namespace = target.owner.namespace
        do {
            try await ensureNamespace(target, space: space, client: client, deadline: deadline)
            let pullSecret = try await syncPullSecret(target, client: client, deadline: deadline)
            let secrets = try openSecrets(target.sealedSecretEnv, deploymentID: job.deploymentID)
            let manifests = Manifests.render(target.owner, revision: revision.number, spec: revision.spec, secretValues: secrets,
                                             pullSecret: pullSecret.written)
            for manifest in manifests {
                try await send(manifest, namespace: namespace, client: client, deadline: deadline)
            }
            let applied = manifests.map(\.reference)
            for reference in target.previouslyApplied where !applied.contains(reference) {
                guard let object = Manifest.object(from: reference) else { continue }
                try await client.delete(object.kind.path(namespace: namespace, name: object.name), deadline: deadline)
            }
            try await queue.finishApplied(job, revision: revision.number, spec: revision.spec, applied: applied, now: clock())
            changes?.note(SyncSpace(organizationID: job.organizationID, spaceID: target.spaceID), namespaces: [namespace])
            try await renewals.schedule(environmentID: target.owner.environmentID, at: pullSecret.renewAt)
            logger.info("revision applied", metadata: ["deployment_id": "\(job.deploymentID)", "revision": "\(revision.number)"])
        } catch let error as KubeError {
            throw ClusterConnector.appError(error, space: space)
        }
    }

    /// Applies one object; a refusal (a 4xx other than throttling) becomes the revision's message.
    func send(_ manifest: Manifest, namespace: String, client: KubernetesClient, deadline: NIODeadline) async throws {
        let failure: KubeError?
        do {
            try await client.apply(manifest.path(namespace: namespace), body: manifest.body.sortedJSON,
                                   fieldManager: Manifests.fieldManager, deadline: deadline)
            failure = nil
        } catch {
            failure = error
        }
        guard let failure else { return }
        if Self.isRefusal(failure) {
            throw DeployRefusal("The cluster refused the \(manifest.kind.rawValue) '\(manifest.name)': \(Self.clusterWords(failure))")
        }
        throw failure
    }

    /// The namespace is created (and labelled as the environment's) when missing; one that another environment owns is refused.
    func ensureNamespace(_ target: DeployTarget, space: String, client: KubernetesClient, deadline: NIODeadline) async throws {
        let namespace = target.owner.namespace
        let label = Manifests.environmentIDLabel
        let existing: KubeNamespace?
        do {
            existing = try await client.get(Manifests.namespacePath(namespace), as: KubeNamespace.self, deadline: deadline)
        } catch .notFound {
            existing = nil
        }
        if let owner = existing?.metadata.labels?[label] {
            guard owner == target.owner.environmentID else {
                throw DeployRefusal("Namespace '\(namespace)' on space '\(space)' belongs to another Gantry environment (\(owner)); "
                                    + "choose another namespace for this environment.")
            }
            return
        }
        // One that exists without Gantry's label is someone else's (a team's, a platform's): used as it is, never
        // labelled, so expiring the environment (docs/api.md §8) deletes only Gantry's objects in it, not the namespace.
        if existing != nil { return }
        try await client.apply(Manifests.namespacePath(namespace),
                               body: Manifests.namespace(namespace, environmentID: target.owner.environmentID).sortedJSON,
                               fieldManager: Manifests.fieldManager, deadline: deadline)
    }

    /// `gantry-registry` from the environment's registry integration, or deleted when there is none. Says whether pods
    /// should reference it, and when a minted login in it must be renewed.
    func syncPullSecret(_ target: DeployTarget, client: KubernetesClient, deadline: NIODeadline) async throws -> (written: Bool, renewAt: Date?) {
        guard let registry = target.registry, let login = try await registryLogins.login(registry) else {
            try await client.delete(Manifests.pullSecretPath(namespace: target.owner.namespace), deadline: deadline)
            return (false, nil)
        }
        try await writePullSecret(namespace: target.owner.namespace, projectID: target.owner.projectID, environmentID: target.owner.environmentID,
                                  registry: registry.registry, login: (login.username, login.password), client: client, deadline: deadline)
        return (true, login.expiresAt.map { $0.addingTimeInterval(-RegistryLogins.refreshMargin) })
    }

    func writePullSecret(namespace: String, projectID: String, environmentID: String, registry: String, login: (username: String, password: String),
                         client: KubernetesClient, deadline: NIODeadline) async throws {
        let secret = Manifests.pullSecret(namespace: namespace, projectID: projectID, environmentID: environmentID, registry: registry,
                                          username: login.username, password: login.password)
        try await client.apply(Manifests.pullSecretPath(namespace: namespace), body: secret.sortedJSON, fieldManager: Manifests.fieldManager,
                               deadline: deadline)
    }

    // MARK: - Pull secret renewal

    /// Renewals are due 10 minutes before a login expires: looking twice a minute is plenty, and spares SQLite's one
    /// writer a transaction on every idle turn of a busy runner.
    static let renewalCheckInterval: TimeInterval = 30

    /// Writes a freshly minted login into every pull secret whose login is about to expire, one environment at a time.
    func renewDuePullSecrets() async {
        let now = clock()
        guard nextRenewalCheck.withLock({ next in
            guard now >= next else { return false }
            next = now.addingTimeInterval(Self.renewalCheckInterval)
            return true
        }) else { return }
        while !Task.isCancelled {
            let environmentID: String?
            do {
                environmentID = try await renewals.claimDue(owner: owner, now: clock(), leaseFor: Self.lease)
            } catch {
                if !Task.isCancelled {
                    logger.warning("pull secret renewals cannot be read", metadata: ["error": "\(LoggableError.describe(error))"])
                }
                return
            }
            guard let environmentID else { return }
            await renewPullSecret(of: environmentID)
        }
    }

    func renewPullSecret(of environmentID: String) async {
        do {
            guard let target = try await renewals.target(environmentID: environmentID), target.liveDeployments > 0,
                  let registry = target.registry, let login = try await registryLogins.login(registry, fresh: true), let expiresAt = login.expiresAt else {
                // Deleted, emptied, or no longer minting: nothing expires any more (teardown and deploys handle the secret itself).
                try await renewals.schedule(environmentID: environmentID, at: nil)
                return
            }
            let (client, space) = try await connector.client(forSpace: target.spaceID, org: target.organizationID)
            do {
                try await writePullSecret(namespace: target.namespace, projectID: target.projectID, environmentID: environmentID,
                                          registry: registry.registry, login: (login.username, login.password), client: client,
                                          deadline: NIODeadline.now() + callBudget)
            } catch let error as KubeError {
                throw ClusterConnector.appError(error, space: space)
            }
            try await renewals.schedule(environmentID: environmentID, at: expiresAt.addingTimeInterval(-RegistryLogins.refreshMargin))
            logger.info("pull secret renewed", metadata: ["environment_id": "\(environmentID)"])
        } catch {
            if Task.isCancelled { return }
            // The login in the cluster is still good for a while: try again in a minute.
            logger.warning("a pull secret could not be renewed", metadata: ["environment_id": "\(environmentID)", "error": "\(LoggableError.describe(error))"])
            try? await renewals.schedule(environmentID: environmentID, at: clock().addingTimeInterval(60))
        }
    }

    func openSecrets(_ sealed: String?, deploymentID: String) throws -> [String: String] {
        guard let sealed else { return [:] }
        guard let opened = try? sealer.open(sealed, context: deploymentID),
              let values = try? JSONDecoder().decode([String: String].self, from: opened) else {
            throw DeployRefusal("The deployment's secret variables cannot be opened with this deployer's key.")
        }
        return values
    }

    // MARK: - Teardown

    func tearDown(_ job: DeployJob) async throws {
        let target = try await queue.target(of: job)
        let (client, space) = try await connector.client(forSpace: target.spaceID, org: job.organizationID)
        let deadline = NIODeadline.now() + callBudget
        let namespace = target.owner.namespace
        do {
            for kind in ManifestKind.allCases {
                let found = try await client.list(kind.collectionPath(namespace: namespace),
                                                  query: [("labelSelector", "\(Manifests.deploymentIDLabel)=\(job.deploymentID)")],
                                                  of: KubeObjectName.self, deadline: deadline)
                for object in found {
                    try await client.delete(kind.path(namespace: namespace, name: object.metadata.name), deadline: deadline)
                }
            }
            if !target.environmentHasOtherDeployments {
                try await client.delete(Manifests.pullSecretPath(namespace: namespace), deadline: deadline)
            }
        } catch {
            throw ClusterConnector.appError(error, space: space)
        }
        try await queue.finishTeardown(job, now: clock())
        logger.info("deployment torn down", metadata: ["deployment_id": "\(job.deploymentID)"])
    }

    // MARK: - Failures

    /// A refusal ends the revision at once; a cluster that cannot be reached is retried with backoff for ten minutes.
    func handle(_ error: any Error, of job: DeployJob) async {
        let now = clock()
        let message: String
        var permanent = false
        switch error {
        case let refusal as DeployRefusal:
            message = refusal.message
            permanent = true
        case let error as AppError:
            message = error.message
            // A space or deployment that no longer exists will not come back by waiting.
            permanent = error.code == .notFound || error.code == .clusterError
        default:
            message = "The deployer could not record its progress."
            if Task.isCancelled { return }
            logger.warning("a deploy job failed", metadata: ["job_id": "\(job.id)", "error": "\(LoggableError.describe(error))"])
        }
        do {
            let failingFor = now.timeIntervalSince(job.firstFailureAt ?? now)
            if permanent || failingFor >= Self.giveUpAfter {
                let final = permanent ? message : "\(message) (retried for \(Int(Self.giveUpAfter / 60)) minutes; giving up)"
                if job.kind == .apply {
                    try await queue.finishFailed(job, message: final, now: now)
                } else {
                    logger.warning("a teardown gave up", metadata: ["deployment_id": "\(job.deploymentID)", "reason": "\(final)"])
                    try await queue.finishSkipped(job)
                }
                return
            }
            let delay = min(60, 2 * pow(2, Double(max(job.attempts - 1, 0))))
            try await queue.retry(job, error: message, now: now, retryAt: now.addingTimeInterval(delay))
            if job.firstFailureAt == nil {
                logger.warning("a deploy job will be retried", metadata: ["job_id": "\(job.id)", "reason": "\(message)"])
            }
        } catch {
            // The lease runs out and the job is taken over: nothing is lost.
            if !Task.isCancelled {
                logger.warning("a deploy job's outcome could not be recorded", metadata: ["job_id": "\(job.id)", "error": "\(LoggableError.describe(error))"])
            }
        }
    }

    /// A 4xx other than throttling: the cluster will say the same again.
    static func isRefusal(_ error: KubeError) -> Bool {
        if case .server(let status, _, _) = error { return (400..<500).contains(status) && status != 408 && status != 429 }
        return false
    }

    static func clusterWords(_ error: KubeError) -> String {
        if case .server(_, _, let message) = error { return message }
        return error.summary
    }
}

/// A reason the deployer will not retry: the cluster refused an object, or the namespace is someone else's.
struct DeployRefusal: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
