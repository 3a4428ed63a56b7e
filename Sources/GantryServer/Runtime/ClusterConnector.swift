import AsyncHTTPClient
import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging

/// Opens a space's sealed credentials (only the deployer's key can) and makes a client for its cluster.
/// Failures become CONTRACT.md §6's errors, naming the space and never a credential.
struct ClusterConnector: Sendable {
    let runtime: any RuntimeRepository
    let sealer: CredentialSealer
    let http: HTTPClient
    let logger: Logger

    func client(forSpace spaceID: String, org: String) async throws -> (KubernetesClient, space: String) {
        let credentials = try await runtime.credentials(forSpace: spaceID, org: org)
        let space = credentials.name
        guard sealer.canOpen else {
            throw AppError(.clusterAuthFailed, "Space '\(space)': this process holds no key to open cluster credentials (is it the config role?).")
        }
        let connection: ClusterConnection
        switch credentials.provider {
        case .kubeconfig:
            guard let sealed = credentials.sealedKubeconfig,
                  let yaml = try? String(decoding: sealer.open(sealed, context: spaceID), as: UTF8.self) else {
                throw AppError(.clusterAuthFailed, "Space '\(space)': its kubeconfig cannot be opened with this deployer's key.")
            }
            do {
                connection = try ClusterConnection(kubeconfig: try Kubeconfig.parse(yaml, context: credentials.config.context))
            } catch {
                throw AppError(.clusterAuthFailed, "Space '\(space)': its stored kubeconfig is not usable.")
            }
        case .aws, .gcp, .azure:
            throw AppError(.clusterAuthFailed, "Space '\(space)': minting \(credentials.provider.rawValue) cluster tokens is not available in this build.")
        }
        do {
            return (try KubernetesClient(http: http, connection: connection, logger: logger), space)
        } catch {
            throw Self.appError(error, space: space)
        }
    }

    /// CONTRACT.md §6's failure codes for a cluster error.
    static func appError(_ error: KubeError, space: String) -> AppError {
        switch error {
        case .authentication(let status, _):
            AppError(.clusterAuthFailed, "Space '\(space)': the cluster refused Gantry's credentials (HTTP \(status)); check the identity's RBAC or renew its token.")
        case .unreachable(let detail):
            AppError(.clusterUnreachable, "Space '\(space)': \(detail).")
        case .timeout:
            AppError(.clusterTimeout, "Space '\(space)': the cluster did not answer within the deadline.")
        case .notFound(let message):
            AppError(.clusterError, "Space '\(space)': the cluster does not serve what Gantry asked for (\(message)).")
        case .server(let status, _, let message):
            AppError(.clusterError, "Space '\(space)': the cluster answered \(status): \(message)")
        case .invalidConfiguration(let detail):
            AppError(.clusterAuthFailed, "Space '\(space)': \(detail).")
        }
    }
}

/// Runs cluster work under the call's deadline, mapping cluster errors to the contract's.
func withCluster<T>(space: String, _ work: () async throws(KubeError) -> T) async throws -> T {
    do {
        return try await work()
    } catch {
        throw ClusterConnector.appError(error, space: space)
    }
}
