import AsyncHTTPClient
import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore

/// Opens a space's sealed credentials (only the deployer's key can) and makes a client for its cluster.
/// Failures become docs/api.md §6's errors, naming the space and never a credential.
struct ClusterConnector: Sendable {
    let runtime: any RuntimeRepository
    let sealer: CredentialSealer
    let http: HTTPClient
    let logger: Logger
    var endpoints: CloudEndpoints = .production
    /// Minted cloud tokens per space, kept until shortly before they expire.
    let tokens = TokenCache<String>(refreshMargin: 60)

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
            let access: ClusterAccess
            do {
                access = try await tokens.access(for: spaceID) { try await mint(credentials) }
            } catch let error as AppError {
                throw error
            } catch let error as CloudAuthError {
                throw Self.appError(error, space: space)
            }
            guard let server = URL(string: access.server) else {
                throw AppError(.clusterError, "Space '\(space)': the cloud reported a cluster endpoint that is not a URL.")
            }
            let credential: ClusterConnection.Credential = if let certificate = access.clientCertificatePEM, let key = access.clientKeyPEM {
                .clientCertificate(certificatePEM: certificate, keyPEM: key)
            } else {
                .bearer(access.token)
            }
            connection = ClusterConnection(server: server, caPEM: access.caPEM, credential: credential)
        }
        do {
            return (try KubernetesClient(http: http, connection: connection, logger: logger), space)
        } catch {
            throw Self.appError(error, space: space)
        }
    }

    /// Endpoint, CA and a token for a managed cluster, from its cloud account's credentials.
    func mint(_ credentials: SpaceCredentials) async throws -> ClusterAccess {
        let space = credentials.name
        guard let accountID = credentials.cloudAccountID, let sealed = credentials.sealedCloudCredentials,
              let opened = try? sealer.open(sealed, context: accountID),
              let fields = try? JSONDecoder().decode([String: String].self, from: opened) else {
            throw AppError(.clusterAuthFailed, "Space '\(space)': its cloud account's credentials cannot be opened with this deployer's key.")
        }
        let config = credentials.config
        let deadline = NIODeadline.now() + .seconds(10)
        func field(_ name: String) -> String { fields[name] ?? "" }
        switch credentials.provider {
        case .aws:
            return try await EKSAuth(
                credentials: .init(accessKeyID: field("accessKeyId"), secretAccessKey: field("secretAccessKey"), sessionToken: fields["sessionToken"]),
                region: config.region ?? "", clusterName: config.clusterName ?? "", httpClient: http, endpoints: endpoints, logger: logger
            ).clusterAccess(deadline: deadline)
        case .gcp:
            let account = try GKEAuth.ServiceAccount.parse(json: Data(field("serviceAccountJson").utf8))
            let project = config.projectId ?? (try? JSONDecoder().decode([String: String].self, from: Data(field("serviceAccountJson").utf8)))?["project_id"] ?? ""
            return try await GKEAuth(serviceAccount: account, project: project, location: config.region ?? "", cluster: config.clusterName ?? "",
                                     httpClient: http, endpoints: endpoints, logger: logger).clusterAccess(deadline: deadline)
        case .azure:
            return try await AKSAuth(
                servicePrincipal: .init(tenantID: field("tenantId"), clientID: field("clientId"), clientSecret: field("clientSecret")),
                subscriptionID: config.subscriptionId ?? field("subscriptionId"), resourceGroup: config.resourceGroup ?? "",
                clusterName: config.clusterName ?? "", httpClient: http, endpoints: endpoints, logger: logger
            ).clusterAccess(deadline: deadline)
        case .kubeconfig:
            throw AppError(.clusterAuthFailed, "Space '\(space)': a kubeconfig space mints no cloud token.")
        }
    }

    static func appError(_ error: CloudAuthError, space: String) -> AppError {
        switch error {
        case .credentialsRefused(let service, let status, _):
            AppError(.clusterAuthFailed, "Space '\(space)': \(service) refused the cloud account's credentials (HTTP \(status)).")
        case .cloudUnreachable(let service, _):
            AppError(.clusterUnreachable, "Space '\(space)': \(service) cannot be reached.")
        case .cloudError(let service, let status, _):
            AppError(.clusterError, "Space '\(space)': \(service) answered \(status.map(String.init) ?? "something unreadable") while Gantry looked the cluster up.")
        case .invalidConfiguration(let detail):
            AppError(.clusterAuthFailed, "Space '\(space)': \(detail).")
        }
    }

    /// docs/api.md §6's failure codes for a cluster error.
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
