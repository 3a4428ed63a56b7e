import ArgumentParser
import Foundation
import GantryAPI
import GantryCore

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign in to a Gantry server and save the token in a profile.",
        discussion: """
            The token comes from --token-stdin, the GANTRY_TOKEN variable, or a prompt that does not echo; \
            with --sso, from the server's single sign-on (the device flow, or a browser redirect to a loopback port), \
            as a 12-hour token. It is checked with GET /api/me before it is saved in the config file \
            (GANTRY_CONFIG, or $XDG_CONFIG_HOME/gantry/config.json, or ~/.config/gantry/config.json), written with mode 0600.
            """
    )

    @Option(help: ArgumentHelp("Server URL, e.g. https://gantry.example.com (GANTRY_SERVER).", valueName: "url"))
    var server: String?

    @Flag(help: "Read the token from stdin (e.g. `gantry login --server URL --token-stdin < token.txt`).")
    var tokenStdin = false

    @Flag(help: "Sign in with the server's single sign-on (OpenID Connect) and save a 12-hour token.")
    var sso = false

    @Flag(help: "With --sso: sign in through a browser redirected to a loopback port, even when the issuer offers the device flow.")
    var browser = false

    @Option(help: ArgumentHelp("Profile to save (default: the current profile, or 'default').", valueName: "name"))
    var profile: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output format.", valueName: "format"))
    var output: OutputFormat = .table

    /// Refused on purpose: a secret in argv lands in shell history and `ps`.
    @Option(name: .customLong("token"), help: .hidden)
    var refusedToken: String?

    func validate() throws {
        if refusedToken != nil {
            throw ValidationError("--token is not accepted: a token on the command line ends up in shell history and process lists; use --token-stdin, GANTRY_TOKEN or the prompt")
        }
        if sso, tokenStdin { throw ValidationError("--sso and --token-stdin cannot be combined") }
        if browser, !sso { throw ValidationError("--browser goes with --sso") }
    }

    struct Result: Encodable {
        var profile: String
        var server: String
        var user: String
        var organization: String
        var configFile: String
    }

    func run() async throws {
        try await CLI.guarded {
            let environment = ProcessInfo.processInfo.environment
            let store = ConfigStore.default
            var config = try store.load()
            let name = profile ?? environment["GANTRY_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? config.currentProfile ?? "default"
            guard let rawServer = server ?? environment["GANTRY_SERVER"].flatMap({ $0.isEmpty ? nil : $0 }) ?? config.profiles[name]?.server else {
                throw CLIError.usage("which server? pass --server URL (or set GANTRY_SERVER)")
            }
            let server = try ServerAddress.normalise(rawServer)
            if !server.lowercased().hasPrefix("https://"), !ServerAddress.isLoopback(server) {
                Terminal.warn("\(server) is not HTTPS: the token travels in clear")
            }
            let token = sso ? try await SignOn.signIn(server: server, browser: browser) : try readToken(environment)
            guard AccessToken.isWellFormed(token) else {
                throw CLIError.usage(sso ? "the server's sign-in answer is not a Gantry token" : "that is not a Gantry token (expected gnt_ followed by 40 letters and digits)")
            }
            let client = try Session.makeClient(server: server, token: token)
            let me = try await client.getMe().ok.body.json.data
            config.profiles[name] = Profile(server: server, token: token, user: me.user.email, organization: me.organization.name)
            config.currentProfile = name
            try store.save(config)
            let result = Result(profile: name, server: server, user: me.user.email, organization: me.organization.name, configFile: store.path)
            try Printer(format: output).done(
                "Logged in to \(server) as \(me.user.email) (organization \(me.organization.name)); saved as profile '\(name)'.", result)
        }
    }

    func readToken(_ environment: [String: String]) throws -> String {
        if tokenStdin {
            let text = String(decoding: Terminal.readStdin(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw CLIError.usage("--token-stdin: stdin was empty") }
            return text
        }
        if let token = environment["GANTRY_TOKEN"], !token.isEmpty { return token.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let typed = Terminal.readSecret(prompt: "Token: ") else {
            throw CLIError.usage("no token: pass --token-stdin, set GANTRY_TOKEN, or run on a terminal to be prompted")
        }
        let token = typed.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw CLIError.usage("no token entered") }
        return token
    }
}

struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forget a profile's token (the token itself stays valid until revoked: see `gantry tokens revoke`).")

    @Option(help: ArgumentHelp("Profile to remove (default: the current one).", valueName: "name"))
    var profile: String?

    @Flag(help: "Remove every profile.")
    var all = false

    func run() async throws {
        try await CLI.guarded {
            let store = ConfigStore.default
            var config = try store.load()
            if all {
                let names = config.profiles.keys.sorted()
                config = ConfigFile()
                try store.save(config)
                Terminal.out(names.isEmpty ? "No profiles to remove.\n" : "Removed profiles: \(names.joined(separator: ", ")).\n")
                return
            }
            let environment = ProcessInfo.processInfo.environment
            let name = profile ?? environment["GANTRY_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? config.currentProfile ?? "default"
            guard let removed = config.profiles.removeValue(forKey: name) else {
                throw CLIError.failure("not logged in with profile '\(name)'")
            }
            if config.currentProfile == name { config.currentProfile = config.profiles.keys.sorted().first }
            try store.save(config)
            Terminal.out("Logged out of \(removed.server) (profile '\(name)').\n")
        }
    }
}

struct Whoami: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the user, organization and grants behind the current token.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await CLI.run(global) { session in
            let me = try await session.client.getMe().ok.body.json.data
            switch session.printer.format {
            case .table:
                let grants = me.assignments.map { "\($0.roleId) on \($0.scope)" }
                Terminal.out(session.printer.details([
                    ("User", me.user.email), ("Name", Format.text(me.user.name)), ("User ID", me.user.id),
                    ("Organization", "\(me.organization.name) (\(me.organization.id))"),
                    ("Roles", grants.isEmpty ? "-" : grants.joined(separator: ", ")),
                    ("Server", session.server), ("Profile", session.profileName),
                ]))
            case .json, .yaml:
                try session.printer.encoded(me)
            }
        }
    }
}

struct Profiles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List saved profiles or switch the current one.", subcommands: [List.self, Use.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List saved profiles (never their tokens).")
        func run() async throws {
            try await CLI.guarded {
                let config = try ConfigStore.default.load()
                let rows = config.profiles.keys.sorted().map { name -> [String] in
                    let profile = config.profiles[name]!
                    return [name == config.currentProfile ? "*" : "", name, profile.server, Format.text(profile.user), Format.text(profile.organization)]
                }
                if rows.isEmpty { Terminal.line("no profiles; run: gantry login --server URL"); return }
                Terminal.out(Printer(format: .table).table(header: ["CURRENT", "NAME", "SERVER", "USER", "ORGANIZATION"], rows: rows))
            }
        }
    }

    struct Use: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a saved profile the current one.")
        @Argument(help: "Profile name.") var name: String
        func run() async throws {
            try await CLI.guarded {
                let store = ConfigStore.default
                var config = try store.load()
                guard config.profiles[name] != nil else { throw CLIError.usage("no profile named '\(name)'") }
                config.currentProfile = name
                try store.save(config)
                Terminal.out("Using profile '\(name)'.\n")
            }
        }
    }
}
