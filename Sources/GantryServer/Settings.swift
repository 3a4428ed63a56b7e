import Configuration
import Foundation
import GantryCore
import GantryStorage
import KubeClient

/// Which half of Gantry this process plays (docs/api.md §1).
public enum ServerRole: String, Sendable, CaseIterable {
    case all, config, deployer
}

/// A configuration problem the operator must fix; `gantry` exits 2 with its message.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Everything `serve` needs, read from a `ConfigReader` (main fills it from flags and `GANTRY_*` variables).
public struct Settings: Sendable {
    public var host: String
    public var port: Int
    public var database: DatabaseURL
    public var role: ServerRole
    public var secretKeyFile: String?
    public var rateLimit: Int
    public var bootstrapToken: String?
    /// Seconds between status-sync passes in the deployer role; 0 turns status sync off.
    public var syncInterval: Double
    /// Seconds one live call (§6) may take, cluster round trips and token minting included.
    public var clusterTimeout: Double
    /// Seconds a new pod may wait in an image-pull or crash loop before its revision fails (docs/api.md §7).
    public var rolloutFailureAfter: Double
    /// Seconds between looks for due deploy jobs when nothing woke the runner (a job queued by another process).
    public var deployPollInterval: Double
    /// Whether the deployer keeps watch-fed caches of the clusters it syncs (docs/api.md §6, "Watching clusters");
    /// off, status sync lists every namespace on every pass.
    public var watchClusters: Bool
    /// Seconds a replica's lease on the spaces it watches lasts unless renewed (renewed every third of it): how long
    /// the spaces of a replica that died stay unwatched.
    public var watchLease: Double
    /// Where the deployer reaches AWS, Google Cloud and Azure: the public clouds unless overridden for a
    /// sovereign cloud (AWS China, Azure Government), a private endpoint, or a test's fake cloud.
    public var cloudEndpoints: CloudEndpoints
    /// Single sign-on, when `--oidc-issuer` is set.
    public var signOn: SignOnSettings?

    public static let keys = (
        host: "host", port: "port", database: "database", role: "role", secretKeyFile: "secret-key-file",
        rateLimit: "rate-limit", logFormat: "log-format", bootstrapToken: "bootstrap-token", syncInterval: "sync-interval",
        clusterTimeout: "cluster-timeout", rolloutFailureAfter: "rollout-failure-after", deployPollInterval: "deploy-poll-interval",
        watchClusters: "watch-clusters", watchLease: "watch-lease", awsSTSEndpoint: "aws-sts-endpoint", awsEKSEndpoint: "aws-eks-endpoint",
        gcpTokenEndpoint: "gcp-token-endpoint", gcpContainerEndpoint: "gcp-container-endpoint",
        azureLoginEndpoint: "azure-login-endpoint", azureManagementEndpoint: "azure-management-endpoint",
        awsECREndpoint: "aws-ecr-endpoint", azureRegistryEndpoint: "azure-registry-endpoint"
    )

    public init(reader: ConfigReader) throws {
        host = reader.string(forKey: ConfigKey(Self.keys.host), default: "127.0.0.1")
        let portText = reader.string(forKey: ConfigKey(Self.keys.port), default: "8080")
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigurationError("--port must be a number from 0 to 65535 (got '\(portText)')")
        }
        self.port = port
        do {
            database = try DatabaseURL(reader.string(forKey: ConfigKey(Self.keys.database), default: "sqlite:gantry.db"))
        } catch {
            throw ConfigurationError("--database: \(error)")
        }
        let roleText = reader.string(forKey: ConfigKey(Self.keys.role), default: "all")
        guard let role = ServerRole(rawValue: roleText) else { throw ConfigurationError("--role must be all, config or deployer (got '\(roleText)')") }
        self.role = role
        secretKeyFile = reader.string(forKey: ConfigKey(Self.keys.secretKeyFile))
        let rateText = reader.string(forKey: ConfigKey(Self.keys.rateLimit), default: "1200")
        guard let rate = Int(rateText), rate >= 0 else { throw ConfigurationError("--rate-limit must be a whole number ≥ 0 (got '\(rateText)')") }
        rateLimit = rate
        syncInterval = try Self.seconds(reader, Self.keys.syncInterval, default: "30", "≥ 0") { $0 >= 0 }
        clusterTimeout = try Self.seconds(reader, Self.keys.clusterTimeout, default: "10", "from 0 to 300") { $0 > 0 && $0 <= 300 }
        rolloutFailureAfter = try Self.seconds(reader, Self.keys.rolloutFailureAfter, default: "120", "≥ 0") { $0 >= 0 }
        deployPollInterval = try Self.seconds(reader, Self.keys.deployPollInterval, default: "1", "from 0 to 60", name: Self.variable(for: Self.keys.deployPollInterval)) {
            $0 > 0 && $0 <= 60
        }
        let watchText = reader.string(forKey: ConfigKey(Self.keys.watchClusters), default: "true")
        guard let watch = Bool(watchText) else { throw ConfigurationError("--watch-clusters must be true or false (got '\(watchText)')") }
        watchClusters = watch
        watchLease = try Self.seconds(reader, Self.keys.watchLease, default: "15", "from 1 to 600") { $0 >= 1 && $0 <= 600 }
        cloudEndpoints = try Self.cloudEndpoints(reader)
        signOn = try SignOnSettings.read(reader)
        bootstrapToken = reader.string(forKey: ConfigKey(Self.keys.bootstrapToken), isSecret: true)
        if let token = bootstrapToken, !AccessToken.isWellFormed(token) {
            throw ConfigurationError("GANTRY_BOOTSTRAP_TOKEN must look like gnt_ followed by 40 letters and digits")
        }
    }

    /// A number of seconds that `allowed` accepts, else exit 2 with one line naming the setting (`--flag`, or the
    /// variable for settings that have no flag) and the rule.
    static func seconds(_ reader: ConfigReader, _ key: String, default fallback: String, _ rule: String, name: String? = nil,
                        allowed: (Double) -> Bool) throws -> Double {
        let text = reader.string(forKey: ConfigKey(key), default: fallback)
        guard let value = Double(text), value.isFinite, allowed(value) else {
            throw ConfigurationError("\(name ?? "--" + key) must be a number of seconds \(rule) (got '\(text)')")
        }
        return value
    }

    /// The environment variable that sets `key`: `cluster-timeout` → `GANTRY_CLUSTER_TIMEOUT`.
    public static func variable(for key: String) -> String {
        "GANTRY_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    public static let cloudEndpointKeys = [
        keys.awsSTSEndpoint, keys.awsEKSEndpoint, keys.gcpTokenEndpoint, keys.gcpContainerEndpoint, keys.azureLoginEndpoint, keys.azureManagementEndpoint,
        keys.awsECREndpoint, keys.azureRegistryEndpoint,
    ]

    static func cloudEndpoints(_ reader: ConfigReader) throws -> CloudEndpoints {
        /// The configured endpoint, if any. Credentials and signed tokens travel to these: TLS, except to
        /// this machine (a local proxy or a test).
        func endpoint(_ key: String) throws -> String? {
            guard let value = reader.string(forKey: ConfigKey(key)) else { return nil }
            let sample = value.replacingOccurrences(of: "{region}", with: "us-east-1").replacingOccurrences(of: "{registry}", with: "example.azurecr.io")
            guard let url = URL(string: sample), let host = url.host, url.query == nil,
                  url.scheme == "https" || (url.scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host)) else {
                throw ConfigurationError("\(variable(for: key)) must be an https:// URL without a query (http:// only to this machine), got '\(value)'")
            }
            return value
        }
        let defaults = CloudEndpoints.production
        return CloudEndpoints(
            awsSTS: try endpoint(keys.awsSTSEndpoint) ?? defaults.awsSTS,
            awsEKS: try endpoint(keys.awsEKSEndpoint) ?? defaults.awsEKS,
            googleTokenURI: try endpoint(keys.gcpTokenEndpoint) ?? defaults.googleTokenURI,
            googleContainer: try endpoint(keys.gcpContainerEndpoint) ?? defaults.googleContainer,
            azureLogin: try endpoint(keys.azureLoginEndpoint) ?? defaults.azureLogin,
            azureResourceManager: try endpoint(keys.azureManagementEndpoint) ?? defaults.azureResourceManager,
            awsECR: try endpoint(keys.awsECREndpoint) ?? defaults.awsECR,
            azureContainerRegistry: try endpoint(keys.azureRegistryEndpoint) ?? defaults.azureContainerRegistry
        )
    }

    /// The key file in force: the flag, else `gantry.key` beside a SQLite file; PostgreSQL requires the flag.
    public func resolvedKeyFile() throws -> (path: String?, createIfMissing: Bool) {
        if let secretKeyFile { return (secretKeyFile, false) }
        switch database {
        case .sqliteFile(let path):
            let directory = (path as NSString).deletingLastPathComponent
            return ((directory.isEmpty ? "" : directory + "/") + "gantry.key", true)
        case .sqliteMemory:
            return (nil, true)
        case .postgres:
            throw ConfigurationError("--secret-key-file (GANTRY_SECRET_KEY_FILE) is required with PostgreSQL; create one with `gantry keygen`")
        }
    }

    /// Loads the sealing key: a private key for roles `all` and `deployer`, the public half for `config`.
    public func loadSealer() throws -> CredentialSealer {
        let (path, createIfMissing) = try resolvedKeyFile()
        guard let path else { return CredentialSealer(privateKey: .init()) }
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            guard createIfMissing, role != .config else {
                throw ConfigurationError("cannot read the secret key file \(path): it does not exist")
            }
            let line = SecretKeyFile.generatePrivateKey() + "\n"
            guard manager.createFile(atPath: path, contents: Data(line.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ConfigurationError("cannot create the secret key file \(path)")
            }
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read the secret key file \(path)")
        }
        do {
            let raw = try SecretKeyFile.decode(text)
            if role == .config { return CredentialSealer(publicKey: try .init(rawRepresentation: raw)) }
            return CredentialSealer(privateKey: try .init(rawRepresentation: raw))
        } catch {
            throw ConfigurationError("the secret key file \(path) is invalid: \(SecretKeyFile.KeyFileError.notAKey)")
        }
    }
}
