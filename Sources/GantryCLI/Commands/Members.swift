import ArgumentParser
import Foundation
import GantryAPI

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Personal access tokens: list yours, create one (shown once), revoke.",
        subcommands: [List.self, Create.self, Revoke.self],
        aliases: ["token"]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your tokens (never their secrets).", aliases: ["ls"])
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listTokens(query: .init(limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "tokens")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print its secret, once.",
            discussion: "With --user, an admin mints a token for another member (service accounts, automation).")
        @Argument(help: "A name to recognise it by.") var name: String
        @Option(help: "Lifetime: 30d, 12h, 90m… (default: no expiry).") var expiresIn: String?
        @Option(help: "Expiry time (RFC 3339 or YYYY-MM-DD).") var expiresAt: String?
        @Option(help: "For this member (user ID or email) instead of yourself.") var user: String?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if expiresIn != nil, expiresAt != nil { throw ValidationError("pass --expires-in or --expires-at, not both") }
            if let expiresIn, Input.duration(expiresIn) == nil { throw ValidationError("--expires-in: '\(expiresIn)' is not a duration (e.g. 30d, 12h, 90m)") }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                var expiry: Date?
                if let expiresIn, let seconds = Input.duration(expiresIn) { expiry = Date().addingTimeInterval(seconds) }
                if let expiresAt { expiry = try Input.date(expiresAt, flag: "--expires-at") }
                let body = Schemas.TokenCreate(name: name, expiresAt: expiry)
                let created: Schemas.CreatedToken
                if let user {
                    let userID = try await session.userID(user)
                    created = try await session.client.createUserToken(path: .init(userID: userID), body: .json(body)).created.body.json.data
                } else {
                    created = try await session.client.createToken(body: .json(body)).created.body.json.data
                }
                try session.printer.one(created)
                if session.printer.format == .table { Terminal.line("Copy the token now: it is not shown again.") }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token at once.")
        @Argument(help: "Token ID (tok_…).") var tokenID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                _ = try await session.client.revokeToken(path: .init(tokenID: tokenID)).noContent
                try session.printer.done("Revoked token \(tokenID).", Deleted(id: tokenID))
            }
        }
    }
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Organization members.", subcommands: [List.self, Get.self, Create.self, Delete.self], aliases: ["user"])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List members.", aliases: ["ls"])
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listUsers(query: .init(limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "users")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a member.")
        @Argument(help: "User ID or email.") var user: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.userID(user)
                try session.printer.one(try await session.client.getUser(path: .init(userID: id)).ok.body.json.data)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a member (then grant a role with `gantry assignments create`).")
        @Option(help: "Email (unique in the organization).") var email: String
        @Option(help: "Display name.") var name: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                try session.printer.one(try await session.client.createUser(body: .json(.init(email: email, name: name))).created.body.json.data)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a member.", aliases: ["rm"])
        @Argument(help: "User ID or email.") var user: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.userID(user)
                _ = try await session.client.deleteUser(path: .init(userID: id)).noContent
                try session.printer.done("Deleted user \(id).", Deleted(id: id))
            }
        }
    }
}

struct Roles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles", abstract: "Roles: named sets of policies.",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, Policies.self], aliases: ["role"])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List roles.", aliases: ["ls"])
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listRoles(query: .init(limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "roles")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a role and its policies.")
        @Argument(help: "Role ID or name.") var role: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.roleID(role)
                try session.printer.one(try await session.client.getRole(path: .init(roleID: id)).ok.body.json.data)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a role.")
        @Argument(help: "Name.") var name: String
        @Option(name: .customLong("policy"), help: "A policy (repeat), e.g. --policy projects:read --policy environments:write.") var policies: [String] = []
        @Option(help: "Description.") var description: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let created = try await session.client.createRole(body: .json(.init(name: name, description: description, policies: policies)))
                    .created.body.json.data
                try session.printer.one(created)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a role's name, description or policies (what you omit is kept).")
        @Argument(help: "Role ID or name.") var role: String
        @Option(help: "New name.") var name: String?
        @Option(name: .customLong("policy"), help: "The new policy list (repeat).") var policies: [String] = []
        @Option(help: "New description.") var description: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.roleID(role)
                let current = try await session.client.getRole(path: .init(roleID: id)).ok
                let role = try current.body.json.data
                let updated = try await session.client.replaceRole(
                    path: .init(roleID: id), headers: .init(ifMatch: "\"\(role.version)\""),
                    body: .json(.init(name: name ?? role.name, description: description ?? role.description,
                                      policies: policies.isEmpty ? role.policies : policies))
                ).ok.body.json.data
                try session.printer.one(updated)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a role.", aliases: ["rm"])
        @Argument(help: "Role ID or name.") var role: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.roleID(role)
                _ = try await session.client.deleteRole(path: .init(roleID: id)).noContent
                try session.printer.done("Deleted role \(id).", Deleted(id: id))
            }
        }
    }

    struct Policies: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every policy a role can hold.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let policies = try await session.client.listPolicies().ok.body.json.data
                try session.printer.list(policies.map { PolicyRow(policy: $0) }, noun: "policies")
            }
        }
    }
}

struct Assignments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assignments", abstract: "Role grants: a user holds a role at a scope (org, project:<id>, environment:<id>).",
        subcommands: [List.self, Create.self, Delete.self], aliases: ["assignment"])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List assignments.", aliases: ["ls"])
        @OptionGroup var list: ListOptions
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let items = try await session.pages(list) { limit, cursor in
                    let page = try await session.client.listAssignments(query: .init(limit: limit, cursor: cursor)).ok.body.json
                    return (page.data, page.nextCursor)
                }
                try session.printer.list(items, noun: "assignments")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a role.")
        @Option(help: "User ID or email.") var user: String
        @Option(help: "Role ID or name.") var role: String
        @Option(help: "org, project:PROJECT or environment:PROJECT/ENV (names or IDs).") var scope: String = "org"
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let userID = try await session.userID(user)
                let roleID = try await session.roleID(role)
                let resolvedScope: String
                if scope.hasPrefix("project:") {
                    resolvedScope = "project:" + (try await session.projectID(String(scope.dropFirst("project:".count))))
                } else if scope.hasPrefix("environment:") {
                    resolvedScope = "environment:" + (try await session.environmentID(String(scope.dropFirst("environment:".count))))
                } else {
                    resolvedScope = scope
                }
                let created = try await session.client.createAssignment(body: .json(.init(userId: userID, roleId: roleID, scope: resolvedScope)))
                    .created.body.json.data
                try session.printer.one(created)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a grant.", aliases: ["rm"])
        @Argument(help: "Assignment ID.") var assignmentID: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                _ = try await session.client.deleteAssignment(path: .init(assignmentID: assignmentID)).noContent
                try session.printer.done("Deleted assignment \(assignmentID).", Deleted(id: assignmentID))
            }
        }
    }
}
