import ArgumentParser
import Foundation
import GantryAPI

struct Envs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "envs",
        abstract: "Environments, addressed as PROJECT/ENV (names or IDs) or by environment ID.",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, Clone.self, Extend.self, Stats.self, Cost.self, Discover.self],
        aliases: ["env", "environments"]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a project's environments, or every visible environment when no project is given.", aliases: ["ls"])
        @Argument(help: "Project ID or name (default: every project).") var project: String?
        @Option(name: [.customShort("q"), .long], help: "Only names containing this text (case-insensitive).") var query: String?
        @Option(help: "Only environments on this deployment space (ID or name).") var space: String?
        @Option(help: ArgumentHelp("Only environments that expire within this time (e.g. 24h, 3d; whole hours, 1–720).", valueName: "duration"))
        var expiringWithin: String?
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if let expiringWithin { _ = try Input.hours(expiringWithin, flag: "--expiring-within") }
        }

        /// One list across projects (GET /environments), its filters combined; without a project, each row names its project.
        func run() async throws {
            try await CLI.run(global) { session in
                var projectID: String?, spaceID: String?
                if let project { projectID = try await session.projectID(project) }
                if let space { spaceID = try await session.spaceID(space) }
                let hours = try expiringWithin.map { try Input.hours($0, flag: "--expiring-within") }
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listAllEnvironments(query: .init(
                        q: query, limit: limit, cursor: cursor, projectId: projectID, spaceId: spaceID, expiringWithinHours: hours
                    )).ok.body.json
                    return (page.data, page.nextCursor)
                }
                if project != nil {
                    try session.printer.list(items, noun: "environments")
                    return
                }
                var projectNames: [String: String] = [:]
                if session.printer.format == .table, !items.isEmpty {
                    let projects = try await session.everything { cursor in
                        let page = try await session.client.listProjects(query: .init(limit: 200, cursor: cursor)).ok.body.json
                        return (page.data, page.nextCursor)
                    }
                    for project in projects { projectNames[project.id] = project.name }
                }
                try session.printer.list(items.map { EnvironmentRow(project: projectNames[$0.projectId] ?? $0.projectId, environment: $0) },
                                         noun: "environments")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an environment.")
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                try session.printer.one(try await session.environment(environment))
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an environment: PROJECT/ENV bound to a space and namespace.")
        @Argument(help: "PROJECT/ENV: the project (ID or name) and the new environment's name.") var environment: String
        @Option(help: "Deployment space (ID or name).") var space: String
        @Option(help: "Kubernetes namespace (a DNS-1123 label).") var namespace: String
        @Option(help: "Registry integration (ID or name).") var registryIntegration: String?
        @Option(help: "Registry URL, host[:port]/path.") var registryUrl: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let (projectRef, name) = try Session.splitEnvironment(environment)
                let projectID = try await session.projectID(projectRef)
                let spaceID = try await session.spaceID(space)
                var integrationID: String?
                if let registryIntegration { integrationID = try await session.integrationID(registryIntegration) }
                let created = try await session.client.createEnvironment(
                    path: .init(projectID: projectID),
                    body: .json(.init(name: name, spaceId: spaceID, namespace: namespace, registryIntegrationId: integrationID, registryUrl: registryUrl))
                ).created.body.json.data
                try session.printer.one(created)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an environment's name, space, namespace or registry.")
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @Option(help: "New name.") var name: String?
        @Option(help: "Deployment space (ID or name).") var space: String?
        @Option(help: "Kubernetes namespace.") var namespace: String?
        @Option(help: "Registry integration (ID or name).") var registryIntegration: String?
        @Option(help: "Registry URL, host[:port]/path.") var registryUrl: String?
        @Flag(help: "Unset the registry integration.") var clearRegistryIntegration = false
        @Flag(help: "Unset the registry URL.") var clearRegistryUrl = false
        @Flag(help: "Unset both the registry integration and the registry URL.") var clearRegistry = false
        @Option(help: "Only if the environment is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        var clearsIntegration: Bool { clearRegistry || clearRegistryIntegration }
        var clearsURL: Bool { clearRegistry || clearRegistryUrl }

        func validate() throws {
            if name == nil, space == nil, namespace == nil, registryIntegration == nil, registryUrl == nil, !clearsIntegration, !clearsURL {
                throw ValidationError("nothing to change: pass --name, --space, --namespace, --registry-integration, --registry-url or a --clear-registry option")
            }
            if clearsIntegration, registryIntegration != nil { throw ValidationError("pass --registry-integration or clear it, not both") }
            if clearsURL, registryUrl != nil { throw ValidationError("pass --registry-url or clear it, not both") }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let current = try await session.environment(environment)
                var spaceID: String?
                if let space { spaceID = try await session.spaceID(space) }
                var integrationID: String?
                if let registryIntegration { integrationID = try await session.integrationID(registryIntegration) }
                // The generated body leaves out nil fields; a clear is an explicit null (docs/api.md §4 Environments).
                var nulls: Set<String> = []
                if clearsIntegration { nulls.insert("registryIntegrationId") }
                if clearsURL { nulls.insert("registryUrl") }
                let updated = try await ExplicitNulls.$fields.withValue(nulls) {
                    try await session.client.updateEnvironment(
                        path: .init(projectID: current.projectId, envID: current.id),
                        headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }),
                        body: .json(.init(name: name, spaceId: spaceID, namespace: namespace, registryIntegrationId: integrationID, registryUrl: registryUrl))
                    ).ok.body.json.data
                }
                try session.printer.one(updated)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an environment (refused while it holds deployments).", aliases: ["rm"])
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @Flag(help: "Only say whether it can be deleted, and what it holds.") var dryRun = false
        @Option(help: "Only if the environment is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let current = try await session.environment(environment)
                let answer = try await session.client.deleteEnvironment(
                    path: .init(projectID: current.projectId, envID: current.id), query: .init(dryRun: dryRun ? true : nil),
                    headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }))
                if dryRun {
                    try session.printer.one(try answer.ok.body.json.data)
                } else {
                    _ = try answer.noContent
                    try session.printer.done("Deleted environment \(current.id).", Deleted(id: current.id))
                }
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Live numbers from the cluster: deployments, pods, requested CPU and memory.")
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.environmentID(environment)
                try session.printer.one(try await session.client.getEnvironmentStats(path: .init(envID: id)).ok.body.json.data)
            }
        }
    }

    struct Discover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ingress controllers and cert-manager issuers on the environment's cluster.")
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.environmentID(environment)
                let discovery = try await session.client.getClusterDiscovery(path: .init(envID: id)).ok.body.json.data
                switch session.printer.format {
                case .table:
                    Terminal.out(session.printer.table(header: Schemas.ClusterDiscovery.columns, rows: discovery.rows))
                case .json, .yaml:
                    try session.printer.encoded(discovery)
                }
            }
        }
    }
}
