import ArgumentParser
import Foundation
import GantryAPI
import OpenAPIRuntime

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The organization's audit log: list, export as NDJSON, verify the hash chain.",
        subcommands: [List.self, Export.self, Verify.self]
    )

    /// The filters `list` and `export` share; project, environment and deployment roll up.
    struct Filters: ParsableArguments {
        @Option(help: "Project (ID or name), with everything below it.") var project: String?
        @Option(help: "Environment (PROJECT/ENV or ID), with everything below it.") var environment: String?
        @Option(help: "Deployment (PROJECT/ENV/NAME or ID).") var deployment: String?
        @Option(help: "Actor's email.") var actor: String?
        @Option(help: "Action, e.g. project.created.") var action: String?
        @Option(help: "Resource type, e.g. project.") var resourceType: String?
        @Option(help: "Resource ID.") var resourceId: String?
        @Option(help: "From this time (RFC 3339 or YYYY-MM-DD).") var from: String?
        @Option(help: "Up to this time (RFC 3339 or YYYY-MM-DD).") var to: String?

        struct Resolved {
            var projectId, environmentId, deploymentId: String?
            var from, to: Date?
        }

        func resolve(_ session: Session) async throws -> Resolved {
            Resolved(
                projectId: try await project.asyncMap { try await session.projectID($0) },
                environmentId: try await environment.asyncMap { try await session.environmentID($0) },
                deploymentId: try await deployment.asyncMap { try await session.deploymentID($0) },
                from: try from.map { try Input.date($0, flag: "--from") },
                to: try to.map { try Input.date($0, flag: "--to") }
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List audit entries, newest first.", aliases: ["ls"])
        @OptionGroup var filters: Filters
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let ids = try await filters.resolve(session)
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listAuditLogs(query: .init(
                        limit: limit, cursor: cursor, projectId: ids.projectId, environmentId: ids.environmentId, deploymentId: ids.deploymentId,
                        actor: filters.actor, action: filters.action, resourceType: filters.resourceType, resourceId: filters.resourceId,
                        from: ids.from, to: ids.to
                    )).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "audit entries")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stream every matching entry as NDJSON (one JSON object per line) to stdout.")
        @OptionGroup var filters: Filters
        @Option(help: "Profile in the config file (GANTRY_PROFILE; default: the current one).") var profile: String?

        func run() async throws {
            try await CLI.run(profile: profile, format: .json) { session in
                let ids = try await filters.resolve(session)
                let body = try await session.client.exportAuditLogs(query: .init(
                    projectId: ids.projectId, environmentId: ids.environmentId, deploymentId: ids.deploymentId,
                    actor: filters.actor, action: filters.action, resourceType: filters.resourceType, resourceId: filters.resourceId,
                    from: ids.from, to: ids.to
                )).ok.body.applicationXNdjson
                for try await chunk in body {
                    FileHandle.standardOutput.write(Data(chunk))
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the audit hash chain; exit 1 when it is broken.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let result = try await session.client.verifyAuditLog().ok.body.json.data
                try session.printer.one(result)
                if !result.ok { throw CLIError.failure("the audit chain is broken at \(result.firstBadId ?? "an unknown entry")") }
            }
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
