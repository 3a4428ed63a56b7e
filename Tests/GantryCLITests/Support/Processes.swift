import Foundation
import GantryCore
import Testing

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

func binary(_ name: String) -> URL { repositoryRoot.appendingPathComponent(".build/debug/\(name)") }

/// The environment of a child: ours without any GANTRY_* or colour settings, plus `extra`.
func childEnvironment(_ extra: [String: String]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GANTRY_") && $0.key != "XDG_CONFIG_HOME" }
    environment.merge(extra) { $1 }
    return environment
}

struct Finished {
    var status: Int32
    var stdout: String
    var stderr: String
    var output: String { stdout + stderr }
}

/// Runs a program to completion, reading both pipes on dispatch threads (never blocking the test's executor).
func runProgram(_ executable: URL, _ arguments: [String], environment: [String: String], stdin: String? = nil, timeout: Double = 60) async throws -> Finished {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = environment
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    async let stdoutData = readToEnd(out.fileHandleForReading)
    async let stderrData = readToEnd(err.fileHandleForReading)
    let (stdoutBytes, stderrBytes) = await (stdoutData, stderrData)
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning {
        if Date() > deadline { process.terminate(); throw CancellationError() }
        try await Task.sleep(for: .milliseconds(10))
    }
    return Finished(status: process.terminationStatus, stdout: String(decoding: stdoutBytes, as: UTF8.self),
                    stderr: String(decoding: stderrBytes, as: UTF8.self))
}

private func readToEnd(_ handle: FileHandle) async -> Data {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: handle.readToEndRetryingInterrupts()) }
    }
}

/// A long-running child whose output is collected as it comes, e.g. `gantry serve`.
final class Background: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var collected = Data()

    init(_ executable: URL, _ arguments: [String], environment: [String: String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock(); self.collected.append(data); self.lock.unlock()
        }
        try process.run()
    }

    var output: String { lock.lock(); defer { lock.unlock() }; return String(decoding: collected, as: UTF8.self) }

    /// Waits for `text` in the output; the line that holds it.
    @discardableResult
    func waitFor(_ text: String, timeout: Double = 60) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let line = output.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            guard Date() < deadline, process.isRunning else {
                Issue.record("never printed '\(text)': \(output)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

/// A free TCP port on loopback.
func freePort() throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gantry-cli-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// `gantry serve` on a free port with a fresh SQLite file and a bootstrap token we chose.
final class GantryServer: Sendable {
    let url: String
    let token: String
    let directory: String
    let process: Background

    init(syncInterval: Int = 0, environment: [String: String] = [:]) async throws {
        directory = try temporaryDirectory()
        token = AccessToken.generate()
        let port = try freePort()
        url = "http://127.0.0.1:\(port)"
        process = try Background(binary("gantry"), [
            "serve", "--port", String(port), "--database", "sqlite:\(directory)/g.db", "--rate-limit", "0",
            "--sync-interval", String(syncInterval),
        ], environment: childEnvironment(environment.merging(["GANTRY_BOOTSTRAP_TOKEN": token]) { $1 }))
        do { try await process.waitFor("listening") } catch { process.stop(); throw error }
    }

    func stop() { process.stop() }
}

/// The fake Kubernetes API server (`kube-test-server`, scenario `demo`: namespace `shop` with web, stuck and idle),
/// and a kubeconfig with inline CA data and token that reaches it.
final class KubeServer: Sendable {
    let process: Background
    let kubeconfig: String
    static let clusterToken = "kube-token-cli-tests-3f9a"

    init() async throws {
        let directory = try temporaryDirectory()
        process = try Background(binary("kube-test-server"), ["--token", Self.clusterToken, "--ca-out", "\(directory)/ca.pem"],
                                 environment: childEnvironment([:]))
        let line: String
        do { line = try await process.waitFor("listening") } catch { process.stop(); throw error }
        let url = String(line.split(separator: " ").last ?? "")
        let ca = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/ca.pem")).base64EncodedString()
        kubeconfig = """
            apiVersion: v1
            kind: Config
            current-context: fake
            clusters:
            - name: c1
              cluster:
                server: \(url)
                certificate-authority-data: \(ca)
            contexts:
            - name: fake
              context: {cluster: c1, user: u1}
            users:
            - name: u1
              user:
                token: \(Self.clusterToken)
            """
    }

    func stop() { process.stop() }
}
