import ArgumentParser
import Foundation
import GantryAPI

/// `--wait`, `--timeout` and `--interval` of the commands that make revisions (`deploy`, `deployments rollback`).
struct RevisionWaitOptions: ParsableArguments {
    @Flag(help: "Follow each revision until it succeeds (exit 0), or fails or is superseded (exit 1).") var wait = false
    @Option(help: "With --wait: seconds to wait at most.") var timeout: Double = 600
    @Option(help: "With --wait: seconds between polls.") var interval: Double = 1

    func validate() throws {
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
        if interval <= 0 { throw ValidationError("--interval must be positive") }
    }
}

/// A revision and the name of its deployment, for progress lines.
struct StartedRevision {
    var name: String
    var revision: Schemas.Revision
}

extension Schemas.Revision.StatusPayload {
    /// A revision never changes after it ends.
    var isFinal: Bool { self == .succeeded || self == .failed || self == .superseded }
}

extension Session {
    /// Prints what was queued; with `--wait`, polls each revision (GET /deployments/{id}/revisions/{n}) until it ends or
    /// the deadline passes, printing one line per status it sees (queued → applying → applied → succeeded).
    /// Progress lines go to stdout in table mode and to stderr in JSON/YAML mode, where stdout carries the final
    /// revision(s). Exit 1 when any revision ends `failed` or `superseded`, or on the deadline.
    func follow(_ started: [StartedRevision], single: Bool, _ options: RevisionWaitOptions) async throws {
        var current = started
        var shown: [Schemas.Revision.StatusPayload?] = Array(repeating: nil, count: started.count)
        let progressToStdout = printer.format == .table
        func progress(_ index: Int) {
            let item = current[index]
            guard shown[index] != item.revision.status else { return }
            shown[index] = item.revision.status
            let status = item.revision.status.rawValue
            var detail = ""
            if let message = item.revision.message, !message.isEmpty, item.revision.status == .failed || item.revision.status == .superseded {
                detail = ": \(message)"
            }
            let prefix = "\(item.name): revision \(item.revision.number) "
            if progressToStdout {
                Terminal.out(prefix + (printer.colour ? Terminal.state(status) : status) + detail + "\n")
            } else {
                Terminal.line(prefix + status + detail)
            }
        }
        for index in current.indices { progress(index) }

        if options.wait {
            let deadline = Date().addingTimeInterval(options.timeout)
            while true {
                let open = current.indices.filter { !current[$0].revision.status.isFinal }
                if open.isEmpty { break }
                guard Date() < deadline else {
                    let waiting = open.map { "revision \(current[$0].revision.number) of \(current[$0].name) is \(current[$0].revision.status.rawValue)" }
                    throw CLIError.failure("timed out after \(Format.number(options.timeout))s: " + waiting.joined(separator: "; "))
                }
                try await Self.pause(options.interval, before: deadline)
                for index in open {
                    let revision = current[index].revision
                    current[index].revision = try await client.getRevision(
                        path: .init(deploymentID: revision.deploymentId, number: revision.number)
                    ).ok.body.json.data
                    progress(index)
                }
            }
        }

        switch printer.format {
        case .table:
            if current.isEmpty { Terminal.out("Nothing to deploy: no deployment has pending changes.\n") }
        case .json, .yaml:
            if single, let only = current.first { try printer.encoded(only.revision) } else { try printer.encoded(current.map(\.revision)) }
        }

        guard options.wait else { return }
        let unsuccessful = current.filter { $0.revision.status != .succeeded }
        guard unsuccessful.isEmpty else {
            throw CLIError.failure(unsuccessful.map { item in
                "revision \(item.revision.number) of \(item.name) \(item.revision.status.rawValue)" + (item.revision.message.map { ": \($0)" } ?? "")
            }.joined(separator: "\n"))
        }
    }
}

/// `gantry deploy`: makes revisions from the catalog and hands them to the deployer (docs/api.md §7).
struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy one deployment (PROJECT/ENV/NAME), or every deployment of an environment that has pending changes (PROJECT/ENV).",
        discussion: """
            Each deploy makes a new numbered revision and queues it; --wait follows it until it succeeds (exit 0), or \
            fails or is superseded (exit 1, with the revision's message). A deploy refused before anything was queued \
            (422 preflight_failed) lists each failed check.
            """
    )
    @Argument(help: "PROJECT/ENV/NAME or dep_… for one deployment; PROJECT/ENV or env_… for every pending one.") var target: String
    @Option(help: ArgumentHelp("Deploy this image: the deployment takes it first (one deployment only).", valueName: "ref")) var image: String?
    @OptionGroup var waiting: RevisionWaitOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if image != nil, !Session.isDeploymentRef(target) {
            throw ValidationError("--image needs one deployment: PROJECT/ENV/NAME or a deployment ID")
        }
    }

    func run() async throws {
        try await CLI.run(global) { session in
            if Session.isDeploymentRef(target) {
                let deployment = try await session.deployment(target)
                let revision = try await session.client.deployDeployment(
                    path: .init(deploymentID: deployment.id), body: .json(.init(image: image))
                ).accepted.body.json.data
                try await session.follow([StartedRevision(name: deployment.name, revision: revision)], single: true, waiting)
            } else {
                let environment = try await session.environment(target)
                let revisions = try await session.client.deployEnvironment(path: .init(envID: environment.id)).accepted.body.json.data
                var names: [String: String] = [:]
                if !revisions.isEmpty {
                    let deployments = try await session.everything { cursor in
                        let page = try await session.client.listDeployments(path: .init(envID: environment.id), query: .init(limit: 200, cursor: cursor))
                            .ok.body.json
                        return (page.data, page.nextCursor)
                    }
                    for deployment in deployments { names[deployment.id] = deployment.name }
                }
                let started = revisions.map { StartedRevision(name: names[$0.deploymentId] ?? $0.deploymentId, revision: $0) }
                try await session.follow(started, single: false, waiting)
            }
        }
    }
}

extension Deployments {
    struct Revisions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a deployment's revisions, newest first; with a NUMBER, show that revision.", aliases: ["revision", "history"])
        @Argument(help: "PROJECT/ENV/NAME or a deployment ID.") var deployment: String
        @Argument(help: "A revision number: show that one revision.") var number: Int?
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.deploymentID(deployment)
                if let number {
                    try session.printer.one(try await session.client.getRevision(path: .init(deploymentID: id, number: number)).ok.body.json.data)
                    return
                }
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listRevisions(path: .init(deploymentID: id), query: .init(limit: limit, cursor: cursor))
                        .ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "revisions")
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy an earlier revision's spec again, as a new revision; the deployment takes that revision's values back.")
        @Argument(help: "PROJECT/ENV/NAME or a deployment ID.") var deployment: String
        @Option(help: ArgumentHelp("The revision to go back to.", valueName: "n")) var to: Int
        @OptionGroup var waiting: RevisionWaitOptions
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if to < 1 { throw ValidationError("--to must be a revision number (1 or more)") }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let current = try await session.deployment(deployment)
                let revision = try await session.client.rollbackDeployment(
                    path: .init(deploymentID: current.id), body: .json(.init(revision: to))
                ).accepted.body.json.data
                try await session.follow([StartedRevision(name: current.name, revision: revision)], single: true, waiting)
            }
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A deployment's timeline: Gantry's revision events and the cluster's events, newest first.")
        @Argument(help: "PROJECT/ENV/NAME or a deployment ID.") var deployment: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.deploymentID(deployment)
                let answer = try await session.client.listDeploymentEvents(path: .init(deploymentID: id)).ok
                if let warning = answer.headers.warning { Terminal.warn(Self.warningText(warning)) }
                try session.printer.list(answer.body.json.data, noun: "events")
            }
        }

        /// The text of a `Warning: 199 - "text"` header (RFC 9111 §5.5), or the header as it came.
        static func warningText(_ header: String) -> String {
            guard let open = header.firstIndex(of: "\""), let close = header.lastIndex(of: "\""), open < close else { return header }
            return String(header[header.index(after: open)..<close])
        }
    }
}
