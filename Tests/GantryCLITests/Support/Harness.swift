import Foundation
import Testing

/// Runs `gantry` CLI commands against one server with their own HOME and config file, keeping a transcript.
final class CLI: @unchecked Sendable {
    let server: GantryServer
    let home: String
    let configPath: String
    private let lock = NSLock()
    private var transcript: [(arguments: [String], result: Finished)] = []

    init(_ server: GantryServer) throws {
        self.server = server
        home = try temporaryDirectory()
        configPath = home + "/config.json"
    }

    /// `gantry ARGS` with GANTRY_CONFIG and HOME pointing into this harness's directory.
    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws -> Finished {
        var extra = ["GANTRY_CONFIG": configPath, "HOME": home]
        extra.merge(environment) { $1 }
        let result = try await runProgram(binary("gantry"), arguments, environment: childEnvironment(extra), stdin: stdin)
        lock.withLock { transcript.append((arguments, result)) }
        return result
    }

    /// Runs and requires exit 0; returns stdout.
    func ok(_ arguments: [String], stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let result = try await run(arguments, stdin: stdin)
        #expect(result.status == 0, "gantry \(arguments.joined(separator: " ")) → \(result.status)\n\(result.stderr)", sourceLocation: sourceLocation)
        return result.stdout
    }

    /// Runs with `-o json` and decodes stdout.
    func json(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> Any {
        let stdout = try await ok(arguments + ["-o", "json"], sourceLocation: sourceLocation)
        return try JSONSerialization.jsonObject(with: Data(stdout.utf8))
    }

    func login() async throws {
        let result = try await run(["login", "--server", server.url, "--token-stdin"], stdin: server.token + "\n")
        try #require(result.status == 0, "login: \(result.stderr)")
    }

    var commands: [(arguments: [String], result: Finished)] { lock.withLock { transcript } }
}

/// IDs, timestamps and request ids replaced by placeholders of the same width, so the columns stay aligned.
func normalised(_ text: String) -> String {
    text.replacing(#/\b(org|usr|tok|prj|env|spc|ca|int|dep|conn|role|asgn|log|rev)_[0-9a-z]{26}\b/#) { "\($0.1)_" + String(repeating: "X", count: 26) }
        .replacing(#/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/#) { _ in "YYYY-MM-DDTHH:MM:SSZ" }
        .replacing(#/req_[0-9a-f]{32}/#) { _ in "req_" + String(repeating: "X", count: 32) }
}

/// Compares normalised output with `Golden/NAME`; `GANTRY_UPDATE_GOLDEN=1` rewrites the file instead.
func expectGolden(_ name: String, _ actual: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Golden/\(name)").path
    let text = normalised(actual)
    if ProcessInfo.processInfo.environment["GANTRY_UPDATE_GOLDEN"] == "1" {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
        Issue.record("missing golden file \(path); run with GANTRY_UPDATE_GOLDEN=1 to create it. Output:\n\(text)", sourceLocation: sourceLocation)
        return
    }
    #expect(text == expected, "table output differs from Golden/\(name)", sourceLocation: sourceLocation)
}

func fileMode(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
}
