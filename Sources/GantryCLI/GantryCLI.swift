import ArgumentParser

/// The `gantry` command-line client (issue 6): subcommands built on the typed client generated from openapi.yaml.
///
/// The executable registers `GantryCLI.commands` beside `serve`, `migrate`, `keygen` and `admin`.
/// Exit codes: 0 ok, 1 an API or runtime error (message and request id on stderr), 2 usage.
public enum GantryCLI {
    public static var commands: [any ParsableCommand.Type] {
        [
            Login.self, Logout.self, Whoami.self, Profiles.self,
            Projects.self, Envs.self, Spaces.self, Deployments.self, Deploy.self, Connections.self,
            Integrations.self, CloudAccounts.self,
            Tokens.self, Users.self, Roles.self, Assignments.self, Access.self, Audit.self,
            Completion.self,
        ]
    }
}
