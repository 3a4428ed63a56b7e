import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// The real OpenID provider the sign-on tests run against (`tests/python/oidc_provider`, Authlib served by Flask),
/// started on a free loopback port for one test and stopped after it. Its users, clients and `/_test/` controls are
/// described in its module docstring.
final class IdentityProvider: @unchecked Sendable {
    let process: Process
    let issuer: String
    let http: HTTPClient
    private let stdin = Pipe()

    /// The venv `scripts/test.sh` prepares (`GANTRY_TEST_PYTHON`), else the repository's `.build-venv`.
    static var python: String {
        ProcessInfo.processInfo.environment["GANTRY_TEST_PYTHON"] ?? GantryProcess.repositoryRoot.appendingPathComponent(".build-venv/bin/python").path
    }

    private init() async throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [GantryProcess.repositoryRoot.appendingPathComponent("tests/python/oidc_provider/server.py").path,
                             "--port", "0", "--quiet", "--exit-with-stdin"]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        try process.run()
        // Its one line of output says where it listens, once it does.
        let line = try await Self.firstLine(stdout.fileHandleForReading, within: 60)
        guard let url = line.components(separatedBy: "listening on ").last, line.hasPrefix("listening on ") else {
            process.terminate()
            throw IdentityProviderError("the identity provider did not start: '\(line)' (is \(Self.python) set up with tests/python/requirements.txt?)")
        }
        issuer = url
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    }

    static func run<T: Sendable>(_ body: (IdentityProvider) async throws -> T) async throws -> T {
        let provider = try await IdentityProvider()
        do {
            let result = try await body(provider)
            await provider.stop()
            return result
        } catch {
            await provider.stop()
            throw error
        }
    }

    func stop() async {
        try? stdin.fileHandleForWriting.close()
        process.terminate()
        try? await http.shutdown()
    }

    /// The settings that point a Gantry at this provider, with its confidential client `gantry`.
    func settings(groupRoles: [String] = [], publicURL: String = "http://127.0.0.1:8080") throws -> [String: String] {
        let secretFile = FileManager.default.temporaryDirectory.appendingPathComponent("gantry-oidc-\(UUID().uuidString)").path
        try Data("gantry-secret\n".utf8).write(to: URL(fileURLWithPath: secretFile))
        var settings = ["oidc-issuer": issuer, "oidc-client-id": "gantry", "oidc-client-secret-file": secretFile, "public-url": publicURL,
                        "oidc-cli-client-id": "gantry-cli"]
        if !groupRoles.isEmpty { settings["oidc-group-role"] = groupRoles.joined(separator: ",") }
        return settings
    }

    /// Signs in at the provider's real login form for the authorization request `/auth/login` redirected to, and
    /// returns where the provider sends the browser back (Gantry's callback, with `code` and `state`).
    func logIn(at authorizeURL: String, email: String, password: String) async throws -> String {
        var request = HTTPClientRequest(url: authorizeURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let form = "username=\(Self.formEncode(email))&password=\(Self.formEncode(password))&action=login"
        request.body = .bytes(ByteBuffer(string: form))
        let response = try await http.execute(request, timeout: .seconds(30))
        guard response.status == .found, let location = response.headers.first(name: "Location") else {
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            throw IdentityProviderError("the login form answered \(response.status.code): \(body.prefix(300))")
        }
        return location
    }

    /// POSTs to one of the provider's `/_test/` controls and returns its JSON answer.
    @discardableResult
    func control(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: issuer + "/_test/" + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await http.execute(request, timeout: .seconds(30))
        let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .ok, let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw IdentityProviderError("/_test/\(path) answered \(response.status.code): \(String(decoding: data, as: UTF8.self))")
        }
        return object
    }

    /// How many times each endpoint was called (`jwks`, `token`, …).
    func requestCounts() async throws -> [String: Int] {
        let response = try await http.execute(HTTPClientRequest(url: issuer + "/_test/state"), timeout: .seconds(30))
        let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        let state = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return state?["counts"] as? [String: Int] ?? [:]
    }

    static func formEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// Reads up to the first newline off the pool's threads: a blocking read here would starve other tests.
    static func firstLine(_ handle: FileHandle, within seconds: Double) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
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

struct IdentityProviderError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
