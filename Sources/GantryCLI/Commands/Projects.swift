import ArgumentParser
import Foundation
import GantryAPI

struct Projects: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projects",
        abstract: "Projects: list, get, create, rename, update, delete, restore, stats, cost.",
        subcommands: [List.self, Get.self, Create.self, Rename.self, Update.self, Delete.self, Restore.self, Stats.self, Cost.self],
        aliases: ["project"]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List projects.", aliases: ["ls"])
        @Option(name: [.customShort("q"), .long], help: "Only names containing this text (case-insensitive).") var query: String?
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listProjects(query: .init(q: query, limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "projects")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a project.")
        @Argument(help: "Project ID or name.") var project: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                try session.printer.one(try await session.project(project))
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a project.")
        @Argument(help: "Name (1–100 characters, unique in the organization).") var name: String
        @Option(help: "Description.") var description: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let created = try await session.client.createProject(body: .json(.init(name: name, description: description)))
                    .created.body.json.data
                try session.printer.one(created)
            }
        }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename a project.")
        @Argument(help: "Project ID or name.") var project: String
        @Argument(help: "New name.") var newName: String
        @Option(help: "Only if the project is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.projectID(project)
                let updated = try await session.client.updateProject(
                    path: .init(projectID: id), headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }), body: .json(.init(name: newName))
                ).ok.body.json.data
                try session.printer.one(updated)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a project's name or description.")
        @Argument(help: "Project ID or name.") var project: String
        @Option(help: "New name.") var name: String?
        @Option(help: "New description (\"\" clears it).") var description: String?
        @Option(help: "Only if the project is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if name == nil, description == nil { throw ValidationError("nothing to change: pass --name and/or --description") }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.projectID(project)
                let updated = try await session.client.updateProject(
                    path: .init(projectID: id), headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }),
                    body: .json(.init(name: name, description: description))
                ).ok.body.json.data
                try session.printer.one(updated)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a project (soft: `gantry projects restore` undoes it within 30 days).", aliases: ["rm"])
        @Argument(help: "Project ID or name.") var project: String
        @Flag(help: "Only say whether it can be deleted, and what it holds.") var dryRun = false
        @Option(help: "Only if the project is still at this version (If-Match).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.projectID(project)
                let answer = try await session.client.deleteProject(
                    path: .init(projectID: id), query: .init(dryRun: dryRun ? true : nil), headers: .init(ifMatch: ifMatch.map { "\"\($0)\"" }))
                if dryRun {
                    try session.printer.one(try answer.ok.body.json.data)
                } else {
                    _ = try answer.noContent
                    try session.printer.done("Deleted project \(id).", Deleted(id: id))
                }
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Undo the deletion of a project (within 30 days).")
        @Argument(help: "Project ID (a deleted project has no name to look up).") var projectID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let restored = try await session.client.restoreProject(path: .init(projectID: projectID)).ok.body.json.data
                try session.printer.one(restored)
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Environments, services and deployment states per project.")
        @Option(name: [.customShort("q"), .long], help: "Only project names containing this text.") var query: String?
        @Option(help: "Projects per page (1–200); without it, every project in one answer.") var limit: Int?
        @Option(help: "Start after this cursor.") var cursor: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let page = try await session.client.getProjectStats(query: .init(q: query, limit: limit, cursor: cursor)).ok.body.json
                if let next = page.nextCursor { Terminal.line("more results: --cursor \(next)") }
                try session.printer.list(page.data, noun: "projects")
            }
        }
    }
}
