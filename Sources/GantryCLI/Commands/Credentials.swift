import ArgumentParser
import Foundation
import GantryAPI
import Yams

struct CloudAccounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloud-accounts",
        abstract: "Cloud accounts (AWS, GCP, Azure) whose credentials reach managed clusters and registries.",
        discussion: "Credentials come from a file or stdin, never from a flag, and no answer ever shows them.",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self],
        aliases: ["cloud-account"]
    )

    enum Provider: String, ExpressibleByArgument, CaseIterable { case aws, gcp, azure }

    /// A credentials file: JSON or YAML with the contract's fields; for gcp, the service-account key file itself.
    static func credentials(_ path: String, provider: Provider?) throws -> Schemas.CloudCredentials {
        let text = try Input.text(path, what: "the credentials")
        if provider == .gcp, !text.contains("serviceAccountJson") {
            return .init(serviceAccountJson: text)
        }
        do {
            return try YAMLDecoder().decode(Schemas.CloudCredentials.self, from: text)
        } catch {
            throw CLIError.usage("""
                \(path == "-" ? "stdin" : path) is not a credentials document: expected JSON or YAML with \
                accessKeyId/secretAccessKey[/sessionToken/roleArn] (aws), serviceAccountJson (gcp) or \
                tenantId/clientId/clientSecret/subscriptionId (azure)
                """)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List cloud accounts.", aliases: ["ls"])
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listCloudAccounts(query: .init(limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "cloud accounts")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a cloud account (never its credentials).")
        @Argument(help: "Cloud account ID or name.") var account: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.cloudAccountID(account)
                try session.printer.one(try await session.client.getCloudAccount(path: .init(cloudAccountID: id)).ok.body.json.data)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a cloud account from a credentials file (or - for stdin).")
        @Argument(help: "Name.") var name: String
        @Option(help: "aws, gcp or azure.") var provider: Provider
        @Option(help: ArgumentHelp("Credentials file (JSON or YAML; for gcp the key file), or - for stdin.", valueName: "file"), completion: .file())
        var credentialsFile: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let credentials = try CloudAccounts.credentials(credentialsFile, provider: provider)
                let created = try await session.client.createCloudAccount(
                    body: .json(.init(name: name, provider: .init(rawValue: provider.rawValue)!, credentials: credentials))
                ).created.body.json.data
                try session.printer.one(created)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename a cloud account or rotate its credentials.")
        @Argument(help: "Cloud account ID or name.") var account: String
        @Option(help: "New name.") var name: String?
        @Option(help: ArgumentHelp("New credentials file, or - for stdin.", valueName: "file"), completion: .file()) var credentialsFile: String?
        @Option(help: "Only if the account is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if name == nil, credentialsFile == nil { throw ValidationError("nothing to change: pass --name or --credentials-file") }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.cloudAccountID(account)
                var credentials: Schemas.CloudCredentials?
                if let credentialsFile {
                    let current = try await session.client.getCloudAccount(path: .init(cloudAccountID: id)).ok.body.json.data
                    credentials = try CloudAccounts.credentials(credentialsFile, provider: Provider(rawValue: current.provider.rawValue))
                }
                let updated = try await session.client.updateCloudAccount(
                    path: .init(cloudAccountID: id), headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }),
                    body: .json(.init(name: name, credentials: credentials))
                ).ok.body.json.data
                try session.printer.one(updated)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a cloud account.", aliases: ["rm"])
        @Argument(help: "Cloud account ID or name.") var account: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.cloudAccountID(account)
                _ = try await session.client.deleteCloudAccount(path: .init(cloudAccountID: id)).noContent
                try session.printer.done("Deleted cloud account \(id).", Deleted(id: id))
            }
        }
    }
}

struct Integrations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integrations",
        abstract: "Container registry integrations.",
        discussion: "A registry password comes from --password-stdin or --password-file, never from a flag.",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self],
        aliases: ["integration"]
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable { case ecr, gar, acr, dockerhub, ghcr, generic }

    /// `--username` with a password from stdin or a file.
    struct Secret: ParsableArguments {
        @Option(help: "Registry username.") var username: String?
        @Flag(help: "Read the registry password from stdin.") var passwordStdin = false
        @Option(help: ArgumentHelp("Read the registry password from this file.", valueName: "file"), completion: .file()) var passwordFile: String?
        /// Refused on purpose: a secret in argv lands in shell history and `ps`.
        @Option(name: .customLong("password"), help: .hidden) var refusedPassword: String?

        func validate() throws {
            if refusedPassword != nil {
                throw ValidationError("--password is not accepted: use --password-stdin or --password-file")
            }
            if passwordStdin, passwordFile != nil { throw ValidationError("pass --password-stdin or --password-file, not both") }
            if (username == nil) != (!passwordStdin && passwordFile == nil) {
                throw ValidationError("--username goes with --password-stdin or --password-file")
            }
        }

        func credentials() throws -> Schemas.RegistryCredentials? {
            guard let username else { return nil }
            let raw = passwordStdin ? String(decoding: Terminal.readStdin(), as: UTF8.self) : try Input.text(passwordFile ?? "-", what: "the password")
            let password = raw.trimmingCharacters(in: .newlines)
            guard !password.isEmpty else { throw CLIError.usage("the registry password is empty") }
            return .init(username: username, password: password)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registry integrations.", aliases: ["ls"])
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listIntegrations(query: .init(limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "integrations")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an integration (never its password).")
        @Argument(help: "Integration ID or name.") var integration: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.integrationID(integration)
                try session.printer.one(try await session.client.getIntegration(path: .init(integrationID: id)).ok.body.json.data)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a registry integration.")
        @Argument(help: "Name.") var name: String
        @Option(help: "ecr, gar, acr, dockerhub, ghcr or generic.") var kind: Kind
        @Option(help: "Registry host, e.g. ghcr.io.") var registry: String
        @Option(help: "Cloud account (ID or name) instead of a password, for ecr, gar and acr.") var cloudAccount: String?
        @OptionGroup var secret: Secret
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let accountID = try await cloudAccount.asyncMap { try await session.cloudAccountID($0) }
                let created = try await session.client.createIntegration(body: .json(.init(
                    name: name, kind: .init(rawValue: kind.rawValue)!, registry: registry, cloudAccountId: accountID, credentials: try secret.credentials()
                ))).created.body.json.data
                try session.printer.one(created)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an integration's name, registry, cloud account or password.")
        @Argument(help: "Integration ID or name.") var integration: String
        @Option(help: "New name.") var name: String?
        @Option(help: "Registry host.") var registry: String?
        @Option(help: "Cloud account (ID or name).") var cloudAccount: String?
        @OptionGroup var secret: Secret
        @Option(help: "Only if the integration is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.integrationID(integration)
                let accountID = try await cloudAccount.asyncMap { try await session.cloudAccountID($0) }
                let updated = try await session.client.updateIntegration(
                    path: .init(integrationID: id), headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }),
                    body: .json(.init(name: name, registry: registry, cloudAccountId: accountID, credentials: try secret.credentials()))
                ).ok.body.json.data
                try session.printer.one(updated)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an integration.", aliases: ["rm"])
        @Argument(help: "Integration ID or name.") var integration: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.integrationID(integration)
                _ = try await session.client.deleteIntegration(path: .init(integrationID: id)).noContent
                try session.printer.done("Deleted integration \(id).", Deleted(id: id))
            }
        }
    }
}
