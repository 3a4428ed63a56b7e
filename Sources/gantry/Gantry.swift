import ArgumentParser
import Configuration
import Foundation
import GantryCLI
import GantryCore
import GantryServer
import GantryStorage
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

@main
struct Gantry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A catalog for Kubernetes deployment platforms.",
        subcommands: [Serve.self, Migrate.self, Backup.self, Keygen.self, Admin.self] + GantryCLI.commands
    )

    /// ArgumentParser exits 64 on a usage error; the contract says 2, with one clear line.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("gantry: \(error.description)\n".utf8))
            Foundation.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data("gantry: \(fullMessage(for: error))\n".utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Flags shared by every command that opens the database, each falling back to its `GANTRY_*` variable.
struct ServerOptions: ParsableArguments {
    @Option(help: "Listen address (GANTRY_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Listen port (GANTRY_PORT, default 8080).") var port: String?
    @Option(help: "sqlite:PATH, sqlite::memory: or postgres://… (GANTRY_DATABASE_URL, default sqlite:gantry.db).") var database: String?
    @Option(help: "all, config or deployer (GANTRY_ROLE, default all).") var role: String?
    @Option(help: "File holding the X25519 key (GANTRY_SECRET_KEY_FILE).") var secretKeyFile: String?
    @Option(help: "Requests per minute per token; 0 disables (GANTRY_RATE_LIMIT, default 1200).") var rateLimit: String?
    @Option(help: "json or text (GANTRY_LOG_FORMAT, default json).") var logFormat: String?
    @Option(help: "Seconds between status-sync passes in the deployer role; 0 turns it off (GANTRY_SYNC_INTERVAL, default 30).") var syncInterval: String?
    @Option(help: "Seconds one live-runtime call may take (GANTRY_CLUSTER_TIMEOUT, default 10).") var clusterTimeout: String?
    @Option(help: "Seconds a new pod may wait in an image-pull or crash loop before its revision fails (GANTRY_ROLLOUT_FAILURE_AFTER, default 120).") var rolloutFailureAfter: String?
    @Option(help: "true or false: keep watch-fed caches of the clusters instead of listing them every pass (GANTRY_WATCH_CLUSTERS, default true).") var watchClusters: String?
    @Option(help: "Seconds a deployer's lease on the spaces it watches lasts unless renewed (GANTRY_WATCH_LEASE, default 15).") var watchLease: String?
    @Option(help: "OpenID Connect issuer URL; turns single sign-on on (GANTRY_OIDC_ISSUER).") var oidcIssuer: String?
    @Option(help: "The console's OpenID client ID (GANTRY_OIDC_CLIENT_ID).") var oidcClientId: String?
    @Option(help: "File holding the client secret (GANTRY_OIDC_CLIENT_SECRET_FILE).") var oidcClientSecretFile: String?
    @Option(help: "The browser-facing base URL; the redirect URI is <public-url>/auth/callback (GANTRY_PUBLIC_URL).") var publicUrl: String?
    @Option(help: "Organization ID new users join (GANTRY_OIDC_ORGANIZATION, default the only one).") var oidcOrganization: String?
    @Option(help: "The ID token claim listing the user's groups (GANTRY_OIDC_GROUPS_CLAIM, default groups).") var oidcGroupsClaim: String?
    @Option(help: "GROUP=ROLE_ID@SCOPE, repeatable (GANTRY_OIDC_GROUP_ROLE, comma-separated).") var oidcGroupRole: [String] = []
    @Option(help: "The public client the CLI uses for the device flow (GANTRY_OIDC_CLI_CLIENT_ID, default --oidc-client-id).") var oidcCliClientId: String?

    /// Flags first, then `GANTRY_*` variables (`--cluster-timeout` / `GANTRY_CLUSTER_TIMEOUT`) through swift-configuration's
    /// environment provider. Flags are the values ArgumentParser parsed (the last of a repeated flag wins, as users expect).
    var reader: ConfigReader {
        let database = AbsoluteConfigKey(ConfigKey(Settings.keys.database))
        let variables = EnvironmentVariablesProvider(secretsSpecifier: .specific(["GANTRY_BOOTSTRAP_TOKEN"]))
            .mapKeys { key in
                // The one variable not named after its flag: `--database` is GANTRY_DATABASE_URL.
                (key == database ? AbsoluteConfigKey(ConfigKey("database-url")) : key).prepending(ConfigKey("gantry"))
            }
        let given: [(String, String?)] = [
            (Settings.keys.host, host), (Settings.keys.port, port), (Settings.keys.database, self.database), (Settings.keys.role, role),
            (Settings.keys.secretKeyFile, secretKeyFile), (Settings.keys.rateLimit, rateLimit), (Settings.keys.logFormat, logFormat),
            (Settings.keys.syncInterval, syncInterval), (Settings.keys.clusterTimeout, clusterTimeout),
            (Settings.keys.rolloutFailureAfter, rolloutFailureAfter), (Settings.keys.watchClusters, watchClusters), (Settings.keys.watchLease, watchLease),
            (SignOnSettings.keys.issuer, oidcIssuer), (SignOnSettings.keys.clientID, oidcClientId),
            (SignOnSettings.keys.clientSecretFile, oidcClientSecretFile), (SignOnSettings.keys.publicURL, publicUrl),
            (SignOnSettings.keys.organization, oidcOrganization), (SignOnSettings.keys.groupsClaim, oidcGroupsClaim),
            (SignOnSettings.keys.groupRole, oidcGroupRole.isEmpty ? nil : oidcGroupRole.joined(separator: ",")),
            (SignOnSettings.keys.cliClientID, oidcCliClientId),
        ]
        let flags = InMemoryProvider(values: Dictionary(uniqueKeysWithValues: given.compactMap { key, value in
            value.map { (AbsoluteConfigKey(ConfigKey(key)), ConfigValue(.string($0), isSecret: false)) }
        }))
        return ConfigReader(providers: [flags, variables])
    }

    func bootstrapLogging() throws {
        let format = logFormat ?? ProcessInfo.processInfo.environment["GANTRY_LOG_FORMAT"] ?? "json"
        switch format {
        case "json": LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        case "text": LoggingSystem.bootstrap(StreamLogHandler.standardError)
        default: throw ConfigurationError("--log-format must be json or text (got '\(format)')")
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the API, the console and (role all) both roles.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        try options.bootstrapLogging()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "gantry")
        let app = try await buildApplication(reader: options.reader, logger: logger, metrics: registry)
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        try await ServiceGroup(configuration: configuration).run()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply database migrations and exit.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        try options.bootstrapLogging()
        try await withDatabase(options) { database, logger in
            let applied = try await Migrator(logger: logger).migrate(database)
            print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
        }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Copy a SQLite database online, consistently, while Gantry serves it.")
    @OptionGroup var options: ServerOptions
    @Option(help: "The new file to write; it must not exist.") var to: String

    func run() async throws {
        let settings = try Settings(reader: options.reader)
        do {
            try await SQLiteBackup.copy(database: settings.database, to: to, logger: Logger(label: "gantry"))
        } catch let failure as SQLiteBackup.Failure {
            FileHandle.standardError.write(Data("gantry: \(failure.description)\n".utf8))
            Foundation.exit(1)
        }
        print("backup written to \(to)")
    }
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a new secret key, or with --public the public half of one read from stdin.")
    @Flag(help: "Read a private key on stdin and print its public half (all a config-role process needs).") var `public` = false

    func run() throws {
        if `public` {
            let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            do { print(try SecretKeyFile.publicHalf(ofPrivateKey: input)) } catch { throw ConfigurationError("stdin: \(SecretKeyFile.KeyFileError.notAKey)") }
        } else {
            print(SecretKeyFile.generatePrivateKey())
        }
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Work on the database directly.", subcommands: [CreateOrganization.self])

    struct CreateOrganization: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization, its admin user and a token.")
        @Option(help: "The organization's name.") var name: String
        @Option(help: "The admin user's email.") var adminEmail: String
        @OptionGroup var options: ServerOptions

        func run() async throws {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            var validator = Validator()
            let name = validator.name(name)
            if !adminEmail.contains("@") { validator.fail("admin-email", "must be an email address") }
            do { try validator.check() } catch { throw ConfigurationError(error.message) }
            try await withDatabase(options) { database, logger in
                try await Migrator(logger: logger).migrate(database)
                let (_, token) = try await Repositories(database: database).identity.createOrganization(
                    name: name, adminEmail: adminEmail, tokenSecret: nil
                )
                print("token: \(token)")
            }
        }
    }
}

/// Opens the database for a one-shot command, running its pool while `work` runs.
func withDatabase(_ options: ServerOptions, _ work: @escaping @Sendable (any MigratableDatabase, Logger) async throws -> Void) async throws {
    var logger = Logger(label: "gantry")
    logger.logLevel = .warning
    let settings = try Settings(reader: options.reader)
    let opened = try await OpenedDatabase.open(settings.database, logger: logger)
    do {
        try await opened.whileRunning(logger: logger) { [logger] database in try await work(database, logger) }
    } catch let error as AppError {
        throw ConfigurationError(error.message)
    } catch let error as ConfigurationError {
        throw error
    } catch {
        throw ConfigurationError("cannot use the database \(settings.database.redacted): \(error)")
    }
}
