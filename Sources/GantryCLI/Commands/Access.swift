import ArgumentParser
import Foundation
import GantryAPI

/// `gantry access explain`: "why can't I?" (docs/api.md §9, `GET /access/explain`).
struct Access: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: "Who may do what: explain an access decision.", subcommands: [Explain.self])

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Whether a member may do ACTION on RESOURCE, which assignments grant it, or why not.",
            discussion: """
                ACTION is a policy such as deployments:deploy (`gantry roles policies` lists them). RESOURCE is `org`, \
                a project, environment or deployment ID, or PROJECT, PROJECT/ENV or PROJECT/ENV/DEPLOYMENT. \
                Asking about another member (--user) needs members:read at org scope.
                """)

        @Argument(help: "A policy, e.g. deployments:deploy.") var action: String
        @Argument(help: "org, PROJECT, PROJECT/ENV, PROJECT/ENV/DEPLOYMENT, or an ID (prj_…, env_…, dep_…).") var resource: String
        @Option(help: ArgumentHelp("The member to ask about, by email or ID (default: you).", valueName: "email")) var user: String?
        @OptionGroup var global: GlobalOptions

        /// The answer as JSON/YAML: `reason` always present, `null` when allowed.
        struct Result: Encodable {
            struct Grant: Encodable {
                var assignmentId: String
                var roleId: String
                var scope: String
                var policy: String
            }
            var action: String
            var resource: String
            var userId: String?
            var allowed: Bool
            var visible: Bool
            var grants: [Grant]
            var reason: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(action, forKey: .action)
                try container.encode(resource, forKey: .resource)
                try container.encodeIfPresent(userId, forKey: .userId)
                try container.encode(allowed, forKey: .allowed)
                try container.encode(visible, forKey: .visible)
                try container.encode(grants, forKey: .grants)
                try container.encode(reason, forKey: .reason)
            }

            enum CodingKeys: String, CodingKey { case action, resource, userId, allowed, visible, grants, reason }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let resourceID = try await session.accessResource(resource)
                let userID = try await user.asyncMap { try await session.userID($0) }
                guard let policy = Operations.ExplainAccess.Input.Query.ActionPayload(rawValue: action) else {
                    throw ValidationError("'\(action)' is not a policy; `gantry roles policies` lists them (e.g. deployments:deploy).")
                }
                let answer = try await session.client.explainAccess(query: .init(action: policy, resource: resourceID, userId: userID))
                    .ok.body.json.data
                let result = Result(
                    action: action, resource: resourceID, userId: userID, allowed: answer.allowed, visible: answer.visible,
                    grants: answer.grants.map { .init(assignmentId: $0.assignmentId, roleId: $0.roleId, scope: $0.scope, policy: $0.policy) },
                    reason: answer.reason)
                switch session.printer.format {
                case .table:
                    let who = user ?? "you"
                    let verdict = answer.allowed ? "allowed" : (answer.visible ? "not allowed" : "not allowed (cannot see it)")
                    var out = session.printer.details([
                        ("Action", action), ("Resource", resourceID == resource ? resource : "\(resource) (\(resourceID))"),
                        ("User", userID.map { "\(who) (\($0))" } ?? who),
                        ("Allowed", Format.yesNo(answer.allowed)), ("Visible", Format.yesNo(answer.visible)),
                        ("Verdict", verdict), ("Reason", Format.text(answer.reason)),
                    ])
                    if !result.grants.isEmpty {
                        out += "\n" + session.printer.table(
                            header: ["ASSIGNMENT", "ROLE", "SCOPE", "POLICY"],
                            rows: result.grants.map { [$0.assignmentId, $0.roleId, $0.scope, $0.policy] })
                    }
                    Terminal.out(out)
                case .json, .yaml:
                    try session.printer.encoded(result)
                }
            }
        }
    }
}

extension Session {
    /// `org`, an ID (`prj_…`, `env_…`, `dep_…`), or `PROJECT`, `PROJECT/ENV`, `PROJECT/ENV/DEPLOYMENT` as an ID.
    func accessResource(_ ref: String) async throws -> String {
        if ref.lowercased() == "org" { return "org" }
        for prefix in ["prj", "env", "dep"] where Self.looksLikeID(ref, prefix: prefix) { return ref }
        switch ref.filter({ $0 == "/" }).count {
        case 0: return try await projectID(ref)
        case 1: return try await environmentID(ref)
        default: return try await deploymentID(ref)
        }
    }
}
