import ArgumentParser
import Foundation
import GantryAPI

struct Spaces: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spaces",
        abstract: "Deployment spaces: the registered Kubernetes clusters.",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, Namespaces.self, CreateNamespace.self],
        aliases: ["space"]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List deployment spaces.", aliases: ["ls"])
        @Option(name: [.customShort("q"), .long], help: "Only names containing this text (case-insensitive).") var query: String?
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listSpaces(query: .init(q: query, limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "spaces")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a deployment space.")
        @Argument(help: "Space ID or name.") var space: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.spaceID(space)
                try session.printer.one(try await session.client.getSpace(path: .init(spaceID: id)).ok.body.json.data)
            }
        }
    }

    /// `--cpu-core-hour`, `--memory-gib-hour` and `--currency`: a space's prices, for cost estimates from requests.
    struct PricingOptions: ParsableArguments {
        @Option(help: ArgumentHelp("Price of one requested CPU core for one hour (with --memory-gib-hour).", valueName: "price"))
        var cpuCoreHour: Double?
        @Option(help: ArgumentHelp("Price of one requested GiB of memory for one hour (with --cpu-core-hour).", valueName: "price"))
        var memoryGibHour: Double?
        @Option(help: ArgumentHelp("ISO 4217 code of the prices (default USD).", valueName: "code")) var currency: String?

        var given: Bool { cpuCoreHour != nil || memoryGibHour != nil || currency != nil }

        func validate() throws { _ = try pricing() }

        /// The pricing to send; nil when no price flag is given. Both prices or neither.
        func pricing() throws -> Schemas.SpacePricing? {
            switch (cpuCoreHour, memoryGibHour) {
            case (nil, nil):
                if currency != nil { throw ValidationError("--currency goes with --cpu-core-hour and --memory-gib-hour") }
                return nil
            case let (cpu?, memory?):
                guard cpu >= 0, memory >= 0 else { throw ValidationError("prices must not be negative") }
                let code = (currency ?? "USD").uppercased()
                guard code.count == 3, code.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                    throw ValidationError("--currency takes an ISO 4217 code, e.g. USD or EUR (got '\(currency ?? "")')")
                }
                return .init(cpuCoreHour: cpu, memoryGiBHour: memory, currency: code)
            default:
                throw ValidationError("--cpu-core-hour and --memory-gib-hour go together: give both prices")
            }
        }
    }

    enum Provider: String, ExpressibleByArgument, CaseIterable {
        case kubeconfig, aws, gcp, azure
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a cluster, from a kubeconfig file or through a cloud account.",
            discussion: """
                With --kubeconfig the file must carry its credentials inline (token or client certificate data): \
                the server refuses exec plugins, auth providers and file paths. Use - to read it from stdin.
                """
        )
        @Argument(help: "Name (unique in the organization).") var name: String
        @Option(help: "kubeconfig, aws, gcp or azure (default: kubeconfig).") var provider: Provider = .kubeconfig
        @Option(help: ArgumentHelp("kubeconfig file, or - for stdin.", valueName: "file"), completion: .file()) var kubeconfig: String?
        @Option(help: "Context in the kubeconfig (default: its current context).") var context: String?
        @Option(help: "Cloud account (ID or name), for aws, gcp and azure.") var cloudAccount: String?
        @Option(help: "Cluster name (aws, gcp, azure).") var clusterName: String?
        @Option(help: "Region (aws, gcp).") var region: String?
        @Option(help: "Resource group (azure).") var resourceGroup: String?
        @Option(help: "Subscription ID (azure).") var subscriptionId: String?
        @Option(help: "GCP project ID (gcp).") var gcpProject: String?
        @OptionGroup var prices: PricingOptions
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if provider == .kubeconfig, kubeconfig == nil { throw ValidationError("--kubeconfig FILE is required for a kubeconfig space") }
            if provider != .kubeconfig, cloudAccount == nil { throw ValidationError("--cloud-account is required for a \(provider.rawValue) space") }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let body: Schemas.SpaceCreate
                if provider == .kubeconfig {
                    let document = try Input.text(kubeconfig ?? "-", what: "the kubeconfig")
                    body = .init(name: name, provider: .kubeconfig, kubeconfig: document, context: context, pricing: try prices.pricing())
                } else {
                    let accountID = try await session.cloudAccountID(cloudAccount ?? "")
                    body = .init(
                        name: name, provider: .init(rawValue: provider.rawValue)!, cloudAccountId: accountID,
                        config: .init(clusterName: clusterName, region: region, resourceGroup: resourceGroup, subscriptionId: subscriptionId, projectId: gcpProject),
                        pricing: try prices.pricing())
                }
                try session.printer.one(try await session.client.createSpace(body: .json(body)).created.body.json.data)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename a space, replace its kubeconfig, or set or clear its prices.")
        @Argument(help: "Space ID or name.") var space: String
        @Option(help: "New name.") var name: String?
        @Option(help: ArgumentHelp("New kubeconfig file, or - for stdin.", valueName: "file"), completion: .file()) var kubeconfig: String?
        @Option(help: "Context in the kubeconfig.") var context: String?
        @OptionGroup var prices: PricingOptions
        @Flag(help: "Remove the space's prices (its environments' costs are then unknown).") var clearPricing = false
        @Option(help: "Only if the space is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if name == nil, kubeconfig == nil, context == nil, !prices.given, !clearPricing {
                throw ValidationError("nothing to change: pass --name, --kubeconfig, --context, --cpu-core-hour and --memory-gib-hour, or --clear-pricing")
            }
            if clearPricing, prices.given { throw ValidationError("pass prices or --clear-pricing, not both") }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.spaceID(space)
                let document = try kubeconfig.map { try Input.text($0, what: "the kubeconfig") }
                // Clearing is an explicit `"pricing": null`; without it the generated body leaves pricing out (kept).
                let updated = try await ExplicitNulls.$fields.withValue(clearPricing ? ["pricing"] : []) {
                    try await session.client.updateSpace(
                        path: .init(spaceID: id), headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }),
                        body: .json(.init(name: name, kubeconfig: document, context: context, pricing: try prices.pricing()))
                    ).ok.body.json.data
                }
                try session.printer.one(updated)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a space (refused while environments use it).", aliases: ["rm"])
        @Argument(help: "Space ID or name.") var space: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.spaceID(space)
                _ = try await session.client.deleteSpace(path: .init(spaceID: id)).noContent
                try session.printer.done("Deleted space \(id).", Deleted(id: id))
            }
        }
    }

    struct Namespaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the cluster's live namespaces and the environments bound to them.")
        @Argument(help: "Space ID or name.") var space: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.spaceID(space)
                try session.printer.list(try await session.client.listSpaceNamespaces(path: .init(spaceID: id)).ok.body.json.data, noun: "namespaces")
            }
        }
    }

    struct CreateNamespace: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a namespace on the cluster (labelled gantry.dev/managed=true).")
        @Argument(help: "Space ID or name.") var space: String
        @Argument(help: "Namespace name.") var namespace: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.spaceID(space)
                let created = try await session.client.createSpaceNamespace(path: .init(spaceID: id), body: .json(.init(name: namespace)))
                    .created.body.json.data
                try session.printer.one(created)
            }
        }
    }
}
