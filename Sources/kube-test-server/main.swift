import Foundation
import KubeTestServer

// The fake Kubernetes API server as a process, for kubectl, the Python client and the benchmark:
//   kube-test-server [--port N] [--token T] [--scenario demo|large] [--deployments N] [--pods N] [--ca-out FILE] [--slow SECONDS] [--url-file FILE] [--request-log FILE]
// --slow delays every namespace read (GET /api/v1/namespaces/…) by that long: an in-flight request on demand.
// --request-log FILE: on SIGUSR1, writes every request served so far to FILE ("METHOD path[?query]" a line, after a
// "requests N" line), atomically, for the benchmark's count of cluster calls.
// Prints "listening <url>" once ready; stops on SIGTERM or SIGINT.
var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard flag.hasPrefix("--"), let value = arguments.popFirst() else {
        FileHandle.standardError.write(Data("usage: kube-test-server [--port N] [--token T] [--scenario demo|large] [--deployments N] [--pods N] [--ca-out FILE] [--slow SECONDS]\n".utf8))
        exit(2)
    }
    options[String(flag.dropFirst(2))] = value
}
let scenario: FakeKubeAPIServer.Scenario = options["scenario"] == "large"
    ? .large(deployments: Int(options["deployments"] ?? "") ?? 500, pods: Int(options["pods"] ?? "") ?? 2000)
    : .demo
if let path = options["ca-out"] { try TestCertificates.clusterCA.write(toFile: path, atomically: true, encoding: .utf8) }
let server = FakeKubeAPIServer(scenario, token: options["token"] ?? "test-cluster-token")
if let slow = options["slow"].flatMap(Double.init) { server.inject(.slow("/api/v1/namespaces/", .milliseconds(Int64(slow * 1000)))) }
/// Dumps the request log to `path` on each SIGUSR1.
func installRequestLog(_ server: FakeKubeAPIServer, path: String) -> any DispatchSourceSignal {
    signal(SIGUSR1, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: DispatchQueue(label: "request-log"))
    source.setEventHandler {
        let requests = server.requests
        let lines = ["requests \(requests.count)"] + requests.map { "\($0.method) \($0.path)\($0.query.isEmpty ? "" : "?" + $0.query)" }
        try? (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
    source.resume()
    return source
}
let requestLog = options["request-log"].map { installRequestLog(server, path: $0) }
let urlFile = options["url-file"]
try await server.serve(port: Int(options["port"] ?? "") ?? 0) { url in
    // Written straight to the descriptor so whoever waits on the line sees it at once (stdout is buffered).
    FileHandle.standardOutput.write(Data("listening \(url.absoluteString)\n".utf8))
    if let urlFile { try? url.absoluteString.write(toFile: urlFile, atomically: true, encoding: .utf8) }
}
