import ArgumentParser
import Foundation
import GantryAPI

/// `--wait`, `--timeout` and `--interval` of the commands whose result converges through status sync.
struct WaitOptions: ParsableArguments {
    @Flag(help: "Wait until the status leaves pending/deploying (exit 1 if it ends failed, degraded or unknown).") var wait = false
    @Option(help: "Seconds to wait at most.") var timeout: Double = 300
    @Option(help: "Seconds between polls.") var interval: Double = 2

    func validate() throws {
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
        if interval <= 0 { throw ValidationError("--interval must be positive") }
    }
}

extension Session {
    /// Polls a deployment until its status settles. Exit 1 on timeout or on a bad final state.
    func waitForDeployment(_ id: String, _ options: WaitOptions) async throws -> Schemas.Deployment {
        try await waitForDeployment(id, timeout: options.timeout, interval: options.interval)
    }

    func waitForDeployment(_ id: String, timeout: Double, interval: Double) async throws -> Schemas.Deployment {
        let deadline = Date().addingTimeInterval(timeout)
        var deployment = try await client.getDeployment(path: .init(deploymentID: id)).ok.body.json.data
        while deployment.status == .pending || deployment.status == .deploying {
            guard Date() < deadline else {
                throw CLIError.failure("timed out after \(Format.number(timeout))s waiting for deployment \(deployment.name) (\(id)); status is \(deployment.status.rawValue)")
            }
            try await Task.sleep(for: .milliseconds(Int(min(interval, max(0.05, deadline.timeIntervalSinceNow)) * 1000)))
            deployment = try await client.getDeployment(path: .init(deploymentID: id)).ok.body.json.data
        }
        return deployment
    }

    func finish(_ deployment: Schemas.Deployment, waited: Bool) throws {
        try printer.one(deployment)
        if waited, [.failed, .degraded, .unknown].contains(deployment.status) {
            throw CLIError.failure("deployment \(deployment.name) is \(deployment.status.rawValue)")
        }
    }
}

struct Deployments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployments",
        abstract: "Deployments, addressed as PROJECT/ENV/NAME or by deployment ID.",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, Wait.self],
        aliases: ["deployment", "deploy"]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an environment's deployments.", aliases: ["ls"])
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @Option(name: [.customShort("q"), .long], help: "Only names containing this text.") var query: String?
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.environmentID(environment)
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listDeployments(path: .init(envID: id), query: .init(q: query, limit: limit, cursor: cursor))
                        .ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "deployments")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a deployment.")
        @Argument(help: "PROJECT/ENV/NAME or a deployment ID.") var deployment: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.deploymentID(deployment)
                try session.printer.one(try await session.client.getDeployment(path: .init(deploymentID: id)).ok.body.json.data)
            }
        }
    }

    /// `--cpu 250m --memory 512Mi` → `resources`; both or neither.
    static func resources(cpu: String?, memory: String?) throws -> Schemas.Resources? {
        switch (cpu, memory) {
        case (nil, nil): return nil
        case let (cpu?, memory?): return .init(cpuRequest: cpu, memoryRequest: memory)
        default: throw ValidationError("--cpu and --memory go together")
        }
    }

    static func position(_ text: String?) throws -> Schemas.CanvasPosition? {
        guard let text else { return nil }
        let parts = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2 else { throw ValidationError("--canvas must be X,Y (e.g. 40,80)") }
        return .init(x: parts[0], y: parts[1])
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a deployment in an environment.")
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @Option(help: "Name: a DNS-1123 label, the Kubernetes Deployment's name.") var name: String
        @Option(help: "Container image.") var image: String
        @Option(help: "Replicas.") var replicas: Int?
        @Option(help: "Container port.") var port: Int?
        @Option(help: "CPU request, e.g. 250m (with --memory).") var cpu: String?
        @Option(help: "Memory request, e.g. 512Mi (with --cpu).") var memory: String?
        @Option(help: "Canvas position X,Y.") var canvas: String?
        @OptionGroup var waiting: WaitOptions
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            _ = try Deployments.resources(cpu: cpu, memory: memory)
            _ = try Deployments.position(canvas)
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.environmentID(environment)
                let created = try await session.client.createDeployment(
                    path: .init(envID: id),
                    body: .json(.init(name: name, image: image, replicas: replicas, port: port,
                                      resources: try Deployments.resources(cpu: cpu, memory: memory), canvasPosition: try Deployments.position(canvas)))
                ).created.body.json.data
                let final = waiting.wait ? try await session.waitForDeployment(created.id, waiting) : created
                try session.finish(final, waited: waiting.wait)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a deployment's image, replicas, port, resources or canvas position.")
        @Argument(help: "PROJECT/ENV/NAME or a deployment ID.") var deployment: String
        @Option(help: "Container image.") var image: String?
        @Option(help: "Replicas.") var replicas: Int?
        @Option(help: "Container port.") var port: Int?
        @Option(help: "CPU request (with --memory).") var cpu: String?
        @Option(help: "Memory request (with --cpu).") var memory: String?
        @Option(help: "Canvas position X,Y.") var canvas: String?
        @Option(help: "Only if the deployment is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var waiting: WaitOptions
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            _ = try Deployments.resources(cpu: cpu, memory: memory)
            _ = try Deployments.position(canvas)
            if image == nil, replicas == nil, port == nil, cpu == nil, canvas == nil {
                throw ValidationError("nothing to change: pass --image, --replicas, --port, --cpu/--memory or --canvas")
            }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.deploymentID(deployment)
                let updated = try await session.client.updateDeployment(
                    path: .init(deploymentID: id), headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }),
                    body: .json(.init(image: image, replicas: replicas, port: port,
                                      resources: try Deployments.resources(cpu: cpu, memory: memory), canvasPosition: try Deployments.position(canvas)))
                ).ok.body.json.data
                let final = waiting.wait ? try await session.waitForDeployment(id, waiting) : updated
                try session.finish(final, waited: waiting.wait)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a deployment and its connections.", aliases: ["rm"])
        @Argument(help: "PROJECT/ENV/NAME or a deployment ID.") var deployment: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.deploymentID(deployment)
                _ = try await session.client.deleteDeployment(path: .init(deploymentID: id)).noContent
                try session.printer.done("Deleted deployment \(id).", Deleted(id: id))
            }
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Wait until a deployment's status leaves pending/deploying.")
        @Argument(help: "PROJECT/ENV/NAME or a deployment ID.") var deployment: String
        @Option(help: "Seconds to wait at most.") var timeout: Double = 300
        @Option(help: "Seconds between polls.") var interval: Double = 2
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if timeout <= 0 || interval <= 0 { throw ValidationError("--timeout and --interval must be positive") }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.deploymentID(deployment)
                try session.finish(try await session.waitForDeployment(id, timeout: timeout, interval: interval), waited: true)
            }
        }
    }
}

struct Connections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "Service connections between deployments of one environment.",
        subcommands: [List.self, Create.self, Accept.self, Delete.self],
        aliases: ["connection", "conn"]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an environment's connections.", aliases: ["ls"])
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.environmentID(environment)
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listConnections(path: .init(envID: id), query: .init(limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "connections")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connect two deployments of an environment (FROM calls TO).")
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @Option(help: "Calling deployment: name in the environment, or ID.") var from: String
        @Option(help: "Called deployment: name in the environment, or ID.") var to: String
        @Option(help: "Environment variable injected into FROM, e.g. API_URL.") var injectVar: String?
        @Flag(help: "Record it as a suggestion rather than a manual connection.") var suggestion = false
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let environmentID = try await session.environmentID(environment)
                let fromID = try await resolve(from, in: environmentID, session)
                let toID = try await resolve(to, in: environmentID, session)
                let created = try await session.client.createConnection(
                    path: .init(envID: environmentID),
                    body: .json(.init(fromDeploymentId: fromID, toDeploymentId: toID, sourceHint: suggestion ? .suggestion : .manual, injectedVar: injectVar))
                ).created.body.json.data
                try session.printer.one(created)
            }
        }

        func resolve(_ ref: String, in environmentID: String, _ session: Session) async throws -> String {
            if Session.looksLikeID(ref, prefix: "dep") { return ref }
            let matches = try await session.everything { cursor in
                let page = try await session.client.listDeployments(path: .init(envID: environmentID), query: .init(q: ref, limit: 200, cursor: cursor))
                    .ok.body.json
                return (page.data, page.nextCursor)
            }
            guard let match = matches.first(where: { $0.name == ref }) else { throw CLIError.failure("no deployment named '\(ref)' in this environment") }
            return match.id
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn a suggested connection into a manual one.")
        @Argument(help: "Connection ID.") var connectionID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                try session.printer.one(try await session.client.acceptConnection(path: .init(connectionID: connectionID)).ok.body.json.data)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a connection.", aliases: ["rm"])
        @Argument(help: "Connection ID.") var connectionID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                _ = try await session.client.deleteConnection(path: .init(connectionID: connectionID)).noContent
                try session.printer.done("Deleted connection \(connectionID).", Deleted(id: connectionID))
            }
        }
    }
}
