import ArgumentParser
import Foundation
import GantryAPI

/// Preview environments and cost (docs/api.md §8): `envs clone`, `envs extend`, `envs cost` and `projects cost`;
/// `envs list --expiring-within` and the prices of `spaces create/update` are beside their commands.
extension Envs {
    struct Clone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an environment into a new one of the same project (a preview), optionally expiring and deployed.",
            discussion: """
                The copy gets the chosen deployments (default: all) with their spec and secret variables (re-sealed, never \
                shown), the connections between them, and their ingress hosts prefixed with NEW- on the first label. With \
                --ttl the deployer tears the copy down and deletes it when the time is up; `gantry envs extend` moves that.
                """
        )
        @Argument(help: "The environment to copy: PROJECT/ENV or an environment ID.") var source: String
        @Argument(help: "The copy's name; it joins the source's project (PROJECT/NAME with that project is accepted too).") var name: String
        @Option(help: "Kubernetes namespace of the copy (a DNS-1123 label).") var namespace: String
        @Option(help: "Deployment space of the copy (ID or name; default: the source's).") var space: String?
        @Option(help: ArgumentHelp("Expire the copy after this long (e.g. 48h, 2d, 90m; rounded up to whole hours, 1–720).", valueName: "duration"))
        var ttl: String?
        @Option(help: ArgumentHelp("Copy only this deployment (name or ID; repeatable; default: all).", valueName: "deployment"))
        var only: [String] = []
        @Option(help: ArgumentHelp("Give the copy of deployment NAME this image (repeatable).", valueName: "NAME=REF")) var image: [String] = []
        @Option(help: ArgumentHelp("Give the copy of deployment NAME this many replicas (repeatable).", valueName: "NAME=N")) var replicas: [String] = []
        @Flag(help: "Queue revision 1 of every copy (needs deployments:deploy).") var deploy = false
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if let ttl { _ = try Input.hours(ttl, flag: "--ttl") }
            _ = try overrides()
        }

        /// `--image` and `--replicas`, by deployment name.
        func overrides() throws -> [String: Schemas.CloneOverride] {
            var overrides: [String: Schemas.CloneOverride] = [:]
            for entry in image {
                let (name, reference) = try Input.assignment(entry, flag: "--image", shape: "NAME=REF")
                guard !reference.isEmpty, !reference.contains(where: \.isWhitespace) else {
                    throw ValidationError("--image \(name)=: give an image reference, e.g. \(name)=ghcr.io/acme/\(name):2")
                }
                guard overrides[name]?.image == nil else { throw ValidationError("--image \(name) is given twice") }
                overrides[name, default: .init()].image = reference
            }
            for entry in replicas {
                let (name, count) = try Input.assignment(entry, flag: "--replicas", shape: "NAME=N")
                guard let number = Int(count), (0...1000).contains(number) else {
                    throw ValidationError("--replicas \(name)=\(count): give a number from 0 to 1000")
                }
                guard overrides[name]?.replicas == nil else { throw ValidationError("--replicas \(name) is given twice") }
                overrides[name, default: .init()].replicas = number
            }
            return overrides
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let source = try await session.environment(self.source)
                let name = try await Self.name(self.name, joining: source, session)
                var spaceID: String?
                if let space { spaceID = try await session.spaceID(space) }
                var deploymentIDs: [String]?
                if !only.isEmpty {
                    var ids: [String] = []
                    for ref in only {
                        if Session.looksLikeID(ref, prefix: "dep") {
                            ids.append(ref)
                        } else {
                            ids.append(try await session.deployment(named: ref, inEnvironment: source.id, place: "'\(self.source)'").id)
                        }
                    }
                    deploymentIDs = ids
                }
                let overrides = try overrides()
                let body = Schemas.EnvironmentClone(
                    name: name, namespace: namespace, spaceId: spaceID, ttlHours: try ttl.map { try Input.hours($0, flag: "--ttl") },
                    deploymentIds: deploymentIDs, overrides: overrides.isEmpty ? nil : .init(additionalProperties: overrides),
                    deploy: deploy ? true : nil)
                let created = try await session.client.cloneEnvironment(path: .init(envID: source.id), body: .json(body)).created.body.json.data
                try session.printer.one(created)
            }
        }

        /// NEW, or PROJECT/NEW naming the source's project: a clone cannot change project.
        static func name(_ given: String, joining source: Schemas.Environment, _ session: Session) async throws -> String {
            guard given.contains("/") else { return given }
            let (projectRef, name) = try Session.splitEnvironment(given)
            guard try await session.projectID(projectRef) == source.projectId else {
                throw CLIError.usage("'\(given)': a clone joins the source's project; give the new name alone")
            }
            return name
        }
    }

    struct Extend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set when an environment expires: --ttl from now, or --never.",
            discussion: "When the time is up the deployer tears the environment down and deletes it (within 30 s).")
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @Option(help: ArgumentHelp("Expire this long from now (e.g. 24h, 2d; rounded up to whole hours, 1–720).", valueName: "duration"))
        var ttl: String?
        @Flag(help: "Never expire: clear the expiry.") var never = false
        @Option(help: "Only if the environment is still at this version (If-Match; default: the version just read).") var ifMatch: Int?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            switch (ttl, never) {
            case (nil, false): throw ValidationError("pass --ttl DURATION (e.g. 24h) or --never")
            case (.some, true): throw ValidationError("pass --ttl or --never, not both")
            case (let ttl?, false): _ = try Input.hours(ttl, flag: "--ttl")
            case (nil, true): break
            }
        }

        func run() async throws {
            try await CLI.run(global) { session in
                let current = try await session.environment(environment)
                let expiresAt = try ttl.map { Date().addingTimeInterval(Double(try Input.hours($0, flag: "--ttl")) * 3600) }
                // --never is an explicit `"expiresAt": null` (absent would keep the expiry).
                let updated = try await ExplicitNulls.$fields.withValue(never ? ["expiresAt"] : []) {
                    try await session.client.updateEnvironment(
                        path: .init(projectID: current.projectId, envID: current.id),
                        headers: .init(ifMatch: "\"\(ifMatch ?? current.version)\""),
                        body: .json(.init(expiresAt: expiresAt))
                    ).ok.body.json.data
                }
                try session.printer.one(updated)
            }
        }
    }

    struct Cost: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Estimated cost of an environment: its live pods' resource requests at its space's prices.",
            discussion: "An estimate from requests, not a bill. The space needs prices: gantry spaces update SPACE --cpu-core-hour P --memory-gib-hour P.")
        @Argument(help: "PROJECT/ENV or an environment ID.") var environment: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let environment = try await session.environment(self.environment)
                let cost: Schemas.EnvironmentCost
                do {
                    cost = try await session.client.getEnvironmentCost(path: .init(envID: environment.id)).ok.body.json.data
                } catch {
                    // 409 with details.field pricing: the space has no prices. Say how to set them.
                    guard var api = APIError.unwrapped(error), api.status == 409, api.field == "pricing" else { throw error }
                    let space = (try? await session.client.getSpace(path: .init(spaceID: environment.spaceId)).ok.body.json.data.name)
                        ?? environment.spaceId
                    let shown = space.contains(where: \.isWhitespace) ? "'\(space)'" : space
                    api.hint = "hint: set the space's prices first: gantry spaces update \(shown) --cpu-core-hour PRICE --memory-gib-hour PRICE [--currency USD]"
                    throw api
                }
                try session.printer.summary(cost, fields: cost.fields, note: Schemas.EnvironmentCost.note, rows: cost.byDeployment, noun: "pods")
            }
        }
    }
}

extension Projects {
    struct Cost: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Estimated cost of a project from its catalog: replicas × requests × each space's prices (no cluster call).")
        @Argument(help: "Project ID or name.") var project: String
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CLI.run(global) { session in
                let id = try await session.projectID(project)
                let cost = try await session.client.getProjectCost(path: .init(projectID: id)).ok.body.json.data
                try session.printer.summary(cost, fields: cost.fields, note: Schemas.ProjectCost.note, rows: cost.byEnvironment, noun: "environments")
            }
        }
    }
}
