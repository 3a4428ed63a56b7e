import ArgumentParser
import Foundation

struct Completion: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a shell completion script.",
        discussion: """
            bash: gantry completion bash > /etc/bash_completion.d/gantry
            zsh:  gantry completion zsh > "${fpath[1]}/_gantry"
            fish: gantry completion fish > ~/.config/fish/completions/gantry.fish
            """
    )

    enum Shell: String, ExpressibleByArgument, CaseIterable { case bash, zsh, fish }

    @Argument(help: "bash, zsh or fish.") var shell: Shell

    /// The script describes the whole `gantry` command tree, which only the executable's root command knows:
    /// ask it, through swift-argument-parser's `--generate-completion-script`.
    func run() async throws {
        try await CLI.guarded {
            guard let executable = Bundle.main.executableURL else { throw CLIError.failure("cannot locate the gantry executable") }
            let process = Process()
            process.executableURL = executable
            process.arguments = ["--generate-completion-script", shell.rawValue]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let script = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0, !script.isEmpty else { throw CLIError.failure("could not generate the \(shell.rawValue) completion script") }
            FileHandle.standardOutput.write(script)
        }
    }
}
