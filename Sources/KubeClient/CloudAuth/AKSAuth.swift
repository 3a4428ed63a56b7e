import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Yams

/// Azure Kubernetes Service access from a service principal's client secret.
///
/// An Azure Resource Manager token fetches the cluster's user kubeconfig (`listClusterUserCredential`),
/// which gives the server and CA. Clusters with local accounts put a static token or client certificate
/// in it, which Gantry uses as is. Microsoft Entra ID (AAD) clusters put an `exec` (kubelogin) or
/// `auth-provider` user there instead; Gantry runs no commands, so it does what kubelogin's `spn` mode
/// does: a client-credentials token for the AKS AAD server application, sent as the bearer token.
public struct AKSAuth: Sendable {
    /// A service principal and its client secret.
    public struct ServicePrincipal: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        public var tenantID: String
        public var clientID: String
        public var clientSecret: String

        public init(tenantID: String, clientID: String, clientSecret: String) {
            self.tenantID = tenantID
            self.clientID = clientID
            self.clientSecret = clientSecret
        }

        public var description: String { "Azure service principal \(clientID) in tenant \(tenantID) (client secret <redacted>)" }
        public var debugDescription: String { description }
        public var customMirror: Mirror { Mirror(self, children: ["tenantID": tenantID, "clientID": clientID, "clientSecret": "<redacted>"]) }
    }

    /// The application every AKS-managed AAD cluster's API server accepts tokens for.
    public static let aadServerApplicationID = "6dae42f8-4368-4678-94ff-3960e28e3630"
    public static let resourceManagerScope = "https://management.azure.com/.default"
    public static let apiVersion = "2024-02-01"
    /// How long a static kubeconfig credential is served before the kubeconfig is fetched again: local
    /// account credentials do not say when they expire, but they change when certificates are rotated.
    public static let staticCredentialLifetime: TimeInterval = 3600

    public let servicePrincipal: ServicePrincipal
    public let subscriptionID: String
    public let resourceGroup: String
    public let clusterName: String
    public let endpoints: CloudEndpoints
    let httpClient: HTTPClient
    let clock: @Sendable () -> Date
    let logger: Logger?

    public init(
        servicePrincipal: ServicePrincipal, subscriptionID: String, resourceGroup: String, clusterName: String,
        httpClient: HTTPClient, endpoints: CloudEndpoints = .production,
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger? = nil
    ) throws(CloudAuthError) {
        let names = [("tenant ID", servicePrincipal.tenantID), ("client ID", servicePrincipal.clientID), ("subscription ID", subscriptionID),
                     ("resource group", resourceGroup), ("cluster name", clusterName)]
        for (field, value) in names where !CloudHTTP.isPlainName(value) {
            throw .invalidConfiguration("the Azure \(field) may contain only letters, digits, '-', '_' and '.'")
        }
        guard !servicePrincipal.clientSecret.isEmpty else {
            throw .invalidConfiguration("the Azure client secret is required")
        }
        self.servicePrincipal = servicePrincipal
        self.subscriptionID = subscriptionID
        self.resourceGroup = resourceGroup
        self.clusterName = clusterName
        self.httpClient = httpClient
        self.endpoints = endpoints
        self.clock = clock
        self.logger = logger
    }

    /// The server and CA from the user kubeconfig, with its static credential or else an AAD token.
    public func clusterAccess(deadline: NIODeadline) async throws(CloudAuthError) -> ClusterAccess {
        let armToken = try await token(scope: Self.resourceManagerScope, deadline: deadline)
        let yaml = try await userKubeconfig(armToken: armToken.value, deadline: deadline)
        let user = try Self.kubeconfigUser(yaml)

        if user.hasStaticCredential {
            let config = try Self.parse(yaml)
            return ClusterAccess(
                server: config.server, caPEM: try Self.caPEM(config), token: config.token ?? "",
                expiresAt: clock().addingTimeInterval(Self.staticCredentialLifetime),
                clientCertificatePEM: config.clientCertificateData.flatMap { String(data: $0, encoding: .utf8) },
                clientKeyPEM: config.clientKeyData.flatMap { String(data: $0, encoding: .utf8) }
            )
        }
        // The user would run kubelogin; validate the server and CA through the same parser with the
        // user swapped for a placeholder token, then mint the token kubelogin would have.
        let config = try Self.parse(try Self.replacingUser(in: yaml, named: user.name))
        let aad = try await token(scope: "\(user.serverApplicationID)/.default", deadline: deadline)
        return ClusterAccess(server: config.server, caPEM: try Self.caPEM(config), token: aad.value, expiresAt: aad.expiresAt)
    }

    /// A client-credentials token for `scope` from Microsoft Entra ID.
    public func token(scope: String, deadline: NIODeadline) async throws(CloudAuthError) -> CloudToken {
        let service = "Azure AD token"
        let now = clock()
        let base = CloudEndpoints.resolve(endpoints.azureLogin)
        let body = CloudHTTP.formEncoded([
            ("client_id", servicePrincipal.clientID),
            ("client_secret", servicePrincipal.clientSecret),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ])
        let request = CloudHTTP.request("\(base)/\(servicePrincipal.tenantID)/oauth2/v2.0/token", method: .POST,
                                        headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        let answer = try await CloudHTTP.send(request, service: service, secrets: [servicePrincipal.clientSecret],
                                              isTokenEndpoint: true, client: httpClient, deadline: deadline, logger: logger)
        let token = try CloudHTTP.decode(CloudHTTP.OAuthTokenAnswer.self, from: answer, service: service)
        return CloudToken(value: token.accessToken, expiresAt: now.addingTimeInterval(TimeInterval(token.expiresIn)))
    }

    /// `listClusterUserCredential`: the first kubeconfig, decoded to YAML.
    public func userKubeconfig(armToken: String, deadline: NIODeadline) async throws(CloudAuthError) -> String {
        struct CredentialResults: Decodable {
            struct Credential: Decodable { var name: String?; var value: String }
            var kubeconfigs: [Credential]
        }
        let service = "AKS listClusterUserCredential"
        let base = CloudEndpoints.resolve(endpoints.azureResourceManager)
        let path = "/subscriptions/\(subscriptionID)/resourceGroups/\(resourceGroup)/providers/Microsoft.ContainerService"
            + "/managedClusters/\(clusterName)/listClusterUserCredential?api-version=\(Self.apiVersion)"
        let request = CloudHTTP.request(base + path, method: .POST, headers: [("Authorization", "Bearer \(armToken)")], body: Data())
        let body = try await CloudHTTP.send(request, service: service, secrets: [armToken, servicePrincipal.clientSecret],
                                            client: httpClient, deadline: deadline, logger: logger)
        let results = try CloudHTTP.decode(CredentialResults.self, from: body, service: service)
        guard let first = results.kubeconfigs.first,
              let data = Data(base64Encoded: first.value.filter { !$0.isWhitespace }),
              let yaml = String(data: data, encoding: .utf8) else {
            throw .cloudError(service: service, status: 200, detail: "the answer has no base64 kubeconfig")
        }
        return yaml
    }

    // MARK: - Reading the kubeconfig

    struct KubeconfigUser {
        var name: String
        var hasStaticCredential: Bool
        /// The AAD application the API server expects tokens for, from kubelogin's `--server-id` or the
        /// legacy azure auth-provider's `apiserver-id`.
        var serverApplicationID: String
    }

    static let kubeconfigService = "AKS user kubeconfig"

    /// The current context's user, and what kind of credential it carries.
    static func kubeconfigUser(_ yaml: String) throws(CloudAuthError) -> KubeconfigUser {
        guard let root = (try? Yams.load(yaml: yaml)) as? [String: Any],
              let contextName = root["current-context"] as? String,
              let context = Kubeconfig.namedEntries(root["contexts"], key: "context")[contextName],
              let userName = context["user"] as? String,
              let user = Kubeconfig.namedEntries(root["users"], key: "user")[userName] else {
            throw .cloudError(service: kubeconfigService, status: nil, detail: "the kubeconfig has no user for its current context")
        }
        var serverID = aadServerApplicationID
        if let exec = user["exec"] as? [String: Any], let args = exec["args"] as? [String],
           let flag = args.firstIndex(of: "--server-id"), flag + 1 < args.count {
            serverID = args[flag + 1]
        } else if let provider = user["auth-provider"] as? [String: Any], let config = provider["config"] as? [String: Any],
                  let id = config["apiserver-id"] as? String {
            serverID = id
        }
        guard CloudHTTP.isPlainName(serverID) else {
            throw .cloudError(service: kubeconfigService, status: nil, detail: "the kubeconfig names an AAD server application that is not an ID")
        }
        let hasStatic = user["exec"] == nil && user["auth-provider"] == nil
            && (user["token"] != nil || user["client-certificate-data"] != nil)
        return KubeconfigUser(name: userName, hasStaticCredential: hasStatic, serverApplicationID: serverID)
    }

    /// `yaml` with user `name` reduced to a placeholder token, so the shared parser checks the rest.
    static func replacingUser(in yaml: String, named name: String) throws(CloudAuthError) -> String {
        do {
            guard var root = try Yams.load(yaml: yaml) as? [String: Any], let users = root["users"] as? [[String: Any]] else {
                throw CloudAuthError.cloudError(service: kubeconfigService, status: nil, detail: "the kubeconfig has no users")
            }
            root["users"] = users.map { entry -> [String: Any] in
                guard entry["name"] as? String == name else { return entry }
                return ["name": name, "user": ["token": "aad-token-placeholder"]]
            }
            return try Yams.dump(object: root)
        } catch let error as CloudAuthError {
            throw error
        } catch {
            throw .cloudError(service: kubeconfigService, status: nil, detail: "the kubeconfig is not valid YAML")
        }
    }

    static func parse(_ yaml: String) throws(CloudAuthError) -> Kubeconfig {
        do {
            return try Kubeconfig.parse(yaml, context: nil)
        } catch {
            throw .cloudError(service: kubeconfigService, status: nil, detail: error.description)
        }
    }

    static func caPEM(_ config: Kubeconfig) throws(CloudAuthError) -> String {
        guard let data = config.certificateAuthorityData, let pem = String(data: data, encoding: .utf8) else {
            throw .cloudError(service: kubeconfigService, status: nil, detail: "the kubeconfig has no certificate-authority-data")
        }
        return pem
    }
}
