/// The `gantry` command-line client (issue 6): subcommands built on the typed client generated from openapi.yaml.
public enum GantryCLI {}
