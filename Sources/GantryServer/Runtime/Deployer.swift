import AsyncHTTPClient
import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore

/// The deployer role's parts: it alone opens cluster credentials. Absent in the config role.
struct Deployer: Sendable {
    /// docs/api.md §6: 10 s per call unless configured.
    var callBudget: TimeAmount = .seconds(10)
    let connector: ClusterConnector
    let stats = EnvironmentStatsService()
    /// Runs the deploy jobs; absent when this process only serves (tests that drive jobs themselves).
    var runner: DeployRunner?
    /// The watch-fed caches of the spaces this replica watches; nil when watching is off or status sync is.
    var watches: SpaceWatches?

    /// Runs `work` against a space's cluster within the call budget (connecting, and minting a cloud token,
    /// included); cluster errors become docs/api.md §6's, naming the space.
    func onCluster<T>(space spaceID: String, org: String, _ work: (KubernetesClient, NIODeadline) async throws(KubeError) -> T) async throws -> T {
        let deadline = NIODeadline.now() + callBudget
        let (client, space) = try await connector.client(forSpace: spaceID, org: org)
        do {
            return try await work(client, deadline)
        } catch {
            throw ClusterConnector.appError(error, space: space)
        }
    }

    /// The cache of a space this replica watches, when it is healthy and covers `namespace` (an environment with no
    /// live deployment is not watched): live reads then need no cluster call.
    func watchedCache(space spaceID: String, namespace: String) -> SpaceCache? {
        guard let cache = watches?.cache(forSpace: spaceID), cache.namespaces.contains(namespace) else { return nil }
        return cache
    }
}
