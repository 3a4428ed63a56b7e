import AsyncHTTPClient
import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore

/// The deployer role's parts: it alone opens cluster credentials. Absent in the config role.
struct Deployer: Sendable {
    /// CONTRACT.md §6: 10 s per call unless configured.
    var callBudget: TimeAmount = .seconds(10)
    let connector: ClusterConnector
    let stats = EnvironmentStatsService()
}
