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
            try await Self.pause(interval, before: deadline)
            deployment = try await client.getDeployment(path: .init(deploymentID: id)).ok.body.json.data
        }
        return deployment
    }

    /// Sleeps between two polls: `interval` seconds, or less when the deadline comes sooner (50 ms at the least).
    static func pause(_ interval: Double, before deadline: Date) async throws {
        try await Task.sleep(for: .milliseconds(Int(min(interval, max(0.05, deadline.timeIntervalSinceNow)) * 1000)))
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
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, Wait.self, Revisions.self, Rollback.self, Events.self],
        aliases: ["deployment"]
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
                try session.printer.one(try await session.deployment(deployment))
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a deployment in an environment.",
            discussion: """
                Creating never deploys: run `gantry deploy PROJECT/ENV/NAME` afterwards. \
                Secret variables are named with --secret-env NAME; their values are read from stdin, one line per name \
                in order, or prompted for without echo on a terminal — never taken from the command line.
                """
        )
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @Option(help: "Name: a DNS-1123 label, the Kubernetes Deployment's name.") var name: String
        @Option(help: "Container image.") var image: String
        @OptionGroup var spec: DeploymentSpecOptions
        @OptionGroup var waiting: WaitOptions
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try spec.validate(creating: true)
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let secrets = try spec.secretValues()
                let id = try await session.environmentID(environment)
                let created = try await session.client.createDeployment(
                    path: .init(envID: id),
                    body: .json(.init(name: name, image: image, replicas: spec.replicas, port: spec.port,
                                      resources: try spec.resources(), canvasPosition: try spec.position(),
                                      env: try spec.envList(), secretEnv: secrets.map { .init(additionalProperties: $0) },
                                      ingress: try spec.ingress(current: nil).value, healthCheck: try spec.healthCheck(current: nil).value))
                ).created.body.json.data
                let final = waiting.wait ? try await session.waitForDeployment(created.id, waiting) : created
                try session.finish(final, waited: waiting.wait)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a deployment's image, replicas, port, resources, variables, ingress, health check or canvas position.",
            discussion: """
                Changing a deployment never deploys it: it only sets pendingChanges; run `gantry deploy` to roll it out. \
                --env and --secret-env replace the whole list (secret values are write-only, so pass every secret you \
                want to keep); --ingress-* and --health-* change only the parts given.
                """
        )
        @Argument(help: "PROJECT/ENV/NAME or a deployment ID.") var deployment: String
        @Option(help: "Container image.") var image: String?
        @OptionGroup var spec: DeploymentSpecOptions
        @Option(help: "Only if the deployment is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var waiting: WaitOptions
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            try spec.validate(creating: false)
            if image == nil, !spec.changesSomething {
                throw ValidationError("nothing to change: pass --image, --replicas, --port, --cpu/--memory, --canvas, --env, --secret-env, --ingress-*, --health-* or a --clear/--no option")
            }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let secrets = try spec.secretValues()
                let current = try await session.deployment(deployment)
                let ingress = try spec.ingress(current: current.ingress)
                let healthCheck = try spec.healthCheck(current: current.healthCheck)
                var nulls: Set<String> = []
                if ingress.clear { nulls.insert("ingress") }
                if healthCheck.clear { nulls.insert("healthCheck") }
                let updated = try await ExplicitNulls.$fields.withValue(nulls) {
                    try await session.client.updateDeployment(
                        path: .init(deploymentID: current.id), headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }),
                        body: .json(.init(image: image, replicas: spec.replicas, port: spec.port,
                                          resources: try spec.resources(), canvasPosition: try spec.position(),
                                          env: try spec.envList(), secretEnv: secrets.map { .init(additionalProperties: $0) },
                                          ingress: ingress.value, healthCheck: healthCheck.value))
                    ).ok.body.json.data
                }
                let final = waiting.wait ? try await session.waitForDeployment(current.id, waiting) : updated
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
            return try await session.deployment(named: ref, inEnvironment: environmentID).id
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
