import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GantryCore
import Testing

/// The real OpenID provider of the sign-on tests (`tests/python/oidc_provider/server.py`, Authlib on Flask; its users,
/// clients and controls are in its module docstring), on a free loopback port for one test.
final class TestIdentityProvider: @unchecked Sendable {
    let process = Process()
    let issuer: String
    private let stdin = Pipe()

    /// `GANTRY_TEST_PYTHON`, else the repository's `.build-venv`.
    static var python: String {
        ProcessInfo.processInfo.environment["GANTRY_TEST_PYTHON"] ?? repositoryRoot.appendingPathComponent(".build-venv/bin/python").path
    }

    private init() async throws {
        process.executableURL = URL(fileURLWithPath: Self.python)
        // --exit-with-stdin: it exits when our end of the pipe closes, even if this test process dies.
        process.arguments = [repositoryRoot.appendingPathComponent("tests/python/oidc_provider/server.py").path,
                             "--port", "0", "--quiet", "--exit-with-stdin"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        try process.run()
        let line = try await Self.firstLine(stdout.fileHandleForReading)
        guard line.hasPrefix("listening on "), let url = line.components(separatedBy: "listening on ").last else {
            process.terminate()
            throw SignOnTestError("the identity provider did not start: '\(line)' (is \(Self.python) set up with tests/python/requirements.txt?)")
        }
        issuer = url
    }

    static func run<T>(_ body: (TestIdentityProvider) async throws -> T) async throws -> T {
        let provider = try await TestIdentityProvider()
        defer { provider.stop() }
        return try await body(provider)
    }

    func stop() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
    }

    /// Approves (or denies) a device code at the provider's verification form, as the person would in a browser;
    /// returns the result page's text.
    @discardableResult
    func device(userCode: String, email: String, password: String, action: String = "approve") async throws -> String {
        let form = ["user_code": userCode, "username": email, "password": password, "action": action]
            .map { "\($0.key)=\(Self.formEncode($0.value))" }.joined(separator: "&")
        var request = URLRequest(url: URL(string: issuer + "/device")!)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(form.utf8)
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        let text = String(decoding: data, as: UTF8.self)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw SignOnTestError("/device answered \((response as? HTTPURLResponse)?.statusCode ?? 0): \(text.prefix(300))")
        }
        return text
    }

    /// Signs in at the provider's login form for `authorizeURL`, as a browser would, and follows the redirect back
    /// (to the CLI's loopback listener); returns the status and text of the page the redirect lands on.
    func logIn(at authorizeURL: String, email: String, password: String) async throws -> (status: Int, text: String) {
        let form = "username=\(Self.formEncode(email))&password=\(Self.formEncode(password))&action=login"
        var request = URLRequest(url: URL(string: authorizeURL)!)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(form.utf8)
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func get(_ url: String) async throws -> (status: Int, text: String) {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The settings that point a Gantry at this provider: confidential client `gantry` for the console, public
    /// client `gantry-cli` for the CLI.
    func serveArguments(publicURL: String, groupRoles: [String]) throws -> [String] {
        let secretFile = try temporaryDirectory() + "/oidc-secret"
        try Data("gantry-secret\n".utf8).write(to: URL(fileURLWithPath: secretFile))
        return ["--oidc-issuer", issuer, "--oidc-client-id", "gantry", "--oidc-client-secret-file", secretFile,
                "--public-url", publicURL, "--oidc-cli-client-id", "gantry-cli"]
            + groupRoles.flatMap { ["--oidc-group-role", $0] }
    }

    static func formEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// Up to the first newline, read on a dispatch thread (a blocking read would starve the test executor).
    static func firstLine(_ handle: FileHandle) async throws -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var data = Data()
                while !data.contains(UInt8(ascii: "\n")) {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    data.append(chunk)
                }
                continuation.resume(returning: String(decoding: data, as: UTF8.self).components(separatedBy: "\n").first ?? "")
            }
        }
    }
}

/// `gantry serve` with single sign-on at `provider`, on a free port, a fresh SQLite file and a bootstrap token.
final class SignOnGantryServer: Sendable {
    let url: String
    let token: String
    let process: Background

    init(provider: TestIdentityProvider, groupRoles: [String] = []) async throws {
        let directory = try temporaryDirectory()
        token = AccessToken.generate()
        let port = try freePort()
        url = "http://127.0.0.1:\(port)"
        process = try Background(binary("gantry"), [
            "serve", "--port", String(port), "--database", "sqlite:\(directory)/g.db", "--rate-limit", "0", "--sync-interval", "0",
        ] + provider.serveArguments(publicURL: url, groupRoles: groupRoles),
        environment: childEnvironment(["GANTRY_BOOTSTRAP_TOKEN": token]))
        do { try await process.waitFor("listening") } catch { process.stop(); throw error }
    }

    func stop() { process.stop() }
}

/// A config file and HOME of its own, for `gantry` runs that share a login.
struct CLIProfile {
    let home: String
    let configPath: String

    init() throws {
        home = try temporaryDirectory()
        configPath = home + "/config.json"
    }

    var environment: [String: String] { childEnvironment(["GANTRY_CONFIG": configPath, "HOME": home]) }

    func run(_ arguments: [String]) async throws -> Finished {
        try await runProgram(binary("gantry"), arguments, environment: environment)
    }

    /// The saved token of the current profile.
    func savedToken() throws -> String? {
        let data = try Data(contentsOf: URL(fileURLWithPath: configPath))
        let config = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let current = config?["currentProfile"] as? String
        return ((config?["profiles"] as? [String: Any])?[current ?? "default"] as? [String: Any])?["token"] as? String
    }
}

extension Background {
    /// Waits for the process to exit within `timeout` seconds; its exit status.
    func exitStatus(within timeout: Double) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else {
                Issue.record("still running after \(Int(timeout)) s: \(output)")
                stop()
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }
}

struct SignOnTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A JSON Web Token somewhere in `output` (header and payload are base64url JSON, so both start with `eyJ`), or nil.
/// Matching "eyJ" alone also matched the random PKCE challenge printed in the sign-in URL, once in a few thousand runs.
func jwt(in output: String) -> Substring? {
    output.firstMatch(of: #/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/#)?.0
}
