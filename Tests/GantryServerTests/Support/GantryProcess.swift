import Foundation
import Testing

/// The real `gantry` binary, run as an operator would run it.
final class GantryProcess: @unchecked Sendable {
    static var binary: URL { built("gantry") }

    /// The package's root directory.
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// A product of this package's debug build.
    static func built(_ name: String) -> URL {
        repositoryRoot.appendingPathComponent(".build/debug/\(name)")
    }

    let process = Process()
    private let stderrPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let lock = NSLock()
    private var stderrData = Data()

    init(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, executable: URL = GantryProcess.binary) throws {
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GANTRY_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardError = stderrPipe
        process.standardOutput = stdoutPipe
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock(); self.stderrData.append(data); self.lock.unlock()
        }
        let input = Pipe()
        if stdin != nil { process.standardInput = input }
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
    }

    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: stderrData, as: UTF8.self) }
    var stdout: String { String(decoding: stdoutPipe.fileHandleForReading.readToEndRetryingInterrupts(), as: UTF8.self) }

    /// Waits for the process to exit (at most `timeout` seconds) and returns its status.
    func wait(timeout: Double = 20) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else { process.terminate(); throw CancellationError() }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(100))
        return process.terminationStatus
    }

    /// Waits until stderr contains `text`.
    func waitFor(_ text: String, timeout: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !stderr.contains(text) {
            guard Date() < deadline, process.isRunning else {
                Issue.record("gantry never printed '\(text)'; stderr: \(stderr)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Runs a one-shot command to completion.
    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try GantryProcess(arguments, environment: environment, stdin: stdin)
        let status = try await process.wait()
        return (status, process.stdout, process.stderr)
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

/// curl, the way a person would call the running server.
/// One request with curl. The output is read off the cooperative thread pool: blocking a pool thread here
/// would starve the in-process servers other tests run at the same time.
func curl(_ arguments: [String]) async throws -> (status: Int, body: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s", "-w", "\n%{http_code}"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    let output: Data = try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            do {
                try process.run()
                let data = pipe.fileHandleForReading.readToEndRetryingInterrupts()
                process.waitUntilExit()
                continuation.resume(returning: data)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
    let lines = String(decoding: output, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gantry-proc-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
