import AsyncHTTPClient
import Crypto
import Foundation
import GantryCore
import GantryStorage
import KubeClient
import Logging
import NIOCore

/// The login the image pull secret `gantry-registry` carries (docs/api.md §7 "What is applied"): the registry
/// integration's username and password, or, for an ECR, GAR/GCR or ACR integration that uses a cloud account, a
/// token minted from the account's credentials and renewed before it expires.
///
/// Failures name the integration's kind and registry and never a credential or token: a refused or unusable
/// credential is a `DeployRefusal` (the revision fails), a cloud that cannot be reached or answers 5xx an
/// `AppError` the runner retries.
struct RegistryLogins: Sendable {
    /// How long a minted login must still have to live when it goes into a pull secret. Minted logins live
    /// 1 h (Google) to 12 h (ECR); a deploy after this margin mints again.
    static let refreshMargin: TimeInterval = 10 * 60

    let sealer: CredentialSealer
    let http: HTTPClient
    let endpoints: CloudEndpoints
    let cache: RegistryLoginCache<String>
    let clock: @Sendable () -> Date
    let logger: Logger?
    let callBudget: TimeAmount

    init(sealer: CredentialSealer, http: HTTPClient, endpoints: CloudEndpoints, cache: RegistryLoginCache<String>,
         clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger? = nil, callBudget: TimeAmount = .seconds(10)) {
        self.sealer = sealer
        self.http = http
        self.endpoints = endpoints
        self.cache = cache
        self.clock = clock
        self.logger = logger
        self.callBudget = callBudget
    }

    /// The login for `registry`, or nil when the integration has neither a cloud account nor credentials.
    /// `expiresAt` is nil for a username and password, which do not expire. `fresh` mints a new login even when the
    /// cached one still has time left: the renewal of a pull secret must outlive the login it replaces.
    func login(_ registry: RegistryAccess, fresh: Bool = false) async throws -> (username: String, password: String, expiresAt: Date?)? {
        let kind = IntegrationKind(rawValue: registry.kind) ?? .generic
        if let accountID = registry.cloudAccountID, kind.acceptsCloudAccount {
            let minted = try await minted(registry, kind: kind, accountID: accountID, fresh: fresh)
            return (minted.username, minted.password, minted.expiresAt)
        }
        guard let sealed = registry.sealedCredentials else { return nil }
        guard let opened = try? sealer.open(sealed, context: registry.integrationID),
              let fields = try? JSONDecoder().decode([String: String].self, from: opened),
              let username = fields["username"], let password = fields["password"] else {
            throw DeployRefusal("\(Self.name(registry)): its credentials cannot be opened with this deployer's key.")
        }
        return (username, password, nil)
    }

    /// A cached or freshly minted login from the integration's cloud account. The credentials are opened only to
    /// mint: a login served from the cache costs no decryption.
    func minted(_ registry: RegistryAccess, kind: IntegrationKind, accountID: String, fresh: Bool) async throws -> RegistryLogin {
        let name = Self.name(registry)
        guard let sealed = registry.sealedCloudCredentials else {
            throw DeployRefusal("\(name): its cloud account's credentials cannot be opened with this deployer's key.")
        }
        let expected = switch kind {
        case .ecr: "aws"
        case .gar: "gcp"
        default: "azure"
        }
        guard registry.cloudProvider == expected else {
            throw DeployRefusal("\(name): its cloud account is \(registry.cloudProvider.map { "a \($0)" } ?? "of no known provider") account; "
                                + "\(kind.rawValue.uppercased()) needs an \(expected) account.")
        }
        // A new sealing of the account's credentials (they were changed) is a new key: the old login is not reused.
        let fingerprint = SHA256.hash(data: Data(sealed.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        let key = [registry.integrationID, kind.rawValue, registry.registry, accountID, fingerprint].joined(separator: "|")
        if fresh { await cache.invalidate(key) }
        do {
            return try await cache.login(for: key) { [sealer] in
                guard let opened = try? sealer.open(sealed, context: accountID),
                      let fields = try? JSONDecoder().decode([String: String].self, from: opened) else {
                    throw DeployRefusal("\(name): its cloud account's credentials cannot be opened with this deployer's key.")
                }
                return try await mint(kind: kind, registry: registry.registry, fields: fields)
            }
        } catch let error as CloudAuthError {
            throw Self.failure(error, integration: name)
        }
    }

    func mint(kind: IntegrationKind, registry: String, fields: [String: String]) async throws(CloudAuthError) -> RegistryLogin {
        let tokens = RegistryTokens(httpClient: http, endpoints: endpoints, clock: clock, logger: logger)
        let deadline = NIODeadline.now() + callBudget
        func field(_ name: String) -> String { fields[name] ?? "" }
        switch kind {
        case .ecr:
            return try await tokens.ecr(
                credentials: .init(accessKeyID: field("accessKeyId"), secretAccessKey: field("secretAccessKey"), sessionToken: fields["sessionToken"]),
                registry: registry, deadline: deadline)
        case .gar:
            let account = try GKEAuth.ServiceAccount.parse(json: Data(field("serviceAccountJson").utf8))
            return try await tokens.google(serviceAccount: account, deadline: deadline)
        default:
            return try await tokens.azure(
                servicePrincipal: .init(tenantID: field("tenantId"), clientID: field("clientId"), clientSecret: field("clientSecret")),
                registry: registry, deadline: deadline)
        }
    }

    /// "The ECR registry integration for '…'": how every message names it.
    static func name(_ registry: RegistryAccess) -> String {
        let kind = IntegrationKind(rawValue: registry.kind).map { $0 == .generic ? "" : $0.rawValue.uppercased() + " " } ?? ""
        return "The \(kind)registry integration for '\(registry.registry)'"
    }

    /// Refusals and malformed credentials fail the revision; an unreachable or failing cloud is retried.
    static func failure(_ error: CloudAuthError, integration name: String) -> any Error {
        switch error {
        case .credentialsRefused(let service, let status, _):
            return DeployRefusal("\(name): \(service) refused its cloud account's credentials (HTTP \(status)).")
        case .invalidConfiguration(let detail):
            return DeployRefusal("\(name): \(detail).")
        case .cloudUnreachable(let service, _):
            return AppError(.clusterUnreachable, "\(name): \(service) cannot be reached.")
        case .cloudError(let service, let status, _):
            let answered = "\(name): \(service) answered \(status.map { "HTTP \($0)" } ?? "something unreadable") while Gantry minted its pull secret."
            if let status, status < 500, status != 429 { return DeployRefusal(answered) }
            return AppError(.clusterUnreachable, answered)
        }
    }
}
