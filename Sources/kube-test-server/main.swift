import Foundation
import KubeTestServer
import Synchronization

// The fake Kubernetes API server as a process, for kubectl, the Python client and the benchmark:
//   kube-test-server [--port N] [--token T] [--scenario demo|large] [--deployments N] [--pods N] [--ca-out FILE] [--slow SECONDS] [--url-file FILE] [--request-log FILE]
//                    [--clusters N] [--namespaces K] [--deployments-per-namespace M] [--replicas R] [--churn PER_SECOND]
//                    [--history N] [--history-seconds S] [--bookmark-interval SECONDS] [--kubeconfig-out FILE]
// --slow delays every namespace read (GET /api/v1/namespaces/…) by that long: an in-flight request on demand.
// --request-log FILE: on SIGUSR1, writes every request served so far to FILE ("METHOD path[?query]" a line, after a
// "requests N" line), atomically, for the benchmark's count of cluster calls.
// --clusters N: N independent clusters c-0…c-(N-1) in this process, each under https://127.0.0.1:PORT/clusters/c-i
// (the printed URL is the base, without a cluster path); each is seeded with --scenario, or with --namespaces K
// namespaces ns-0… of --deployments-per-namespace M Deployments app-0… of --replicas R (default 1) with their
// ReplicaSets and pods settled. --kubeconfig-out FILE writes a kubeconfig with one context per cluster (named as it).
// --churn R: R Deployment changes a second (an annotation bump or a replica change), each in a random cluster.
// --history N, --history-seconds S: changes kept per cluster for watches from a resourceVersion, at most N and none
// older than S (default 10000 and 300 s; 1000 and 60 s with --clusters);
// --bookmark-interval S: seconds between BOOKMARK events of watches that allow them (default 1).
// Prints "listening <url>" once ready; stops on SIGTERM or SIGINT.
func parseOptions() -> [String: String] {
    var options: [String: String] = [:]
    var arguments = CommandLine.arguments.dropFirst()
    while let flag = arguments.popFirst() {
        guard flag.hasPrefix("--"), let value = arguments.popFirst() else {
            FileHandle.standardError.write(Data("""
                usage: kube-test-server [--port N] [--token T] [--scenario demo|large] [--deployments N] [--pods N] [--ca-out FILE] [--slow SECONDS]
                                        [--url-file FILE] [--request-log FILE] [--clusters N] [--namespaces K] [--deployments-per-namespace M]
                                        [--replicas R] [--churn PER_SECOND] [--history N] [--history-seconds S] [--bookmark-interval SECONDS]
                                        [--kubeconfig-out FILE]

                """.utf8))
            exit(2)
        }
        options[String(flag.dropFirst(2))] = value
    }
    return options
}
let options = parseOptions()
let clusterCount = options["clusters"].flatMap { Int($0) }
let namespacesPerCluster = options["namespaces"].flatMap { Int($0) }
func scenario() -> FakeKubeAPIServer.Scenario {
    if let namespacesPerCluster {
        return .fleet(namespaces: namespacesPerCluster, deployments: Int(options["deployments-per-namespace"] ?? "") ?? 5,
                      replicas: Int(options["replicas"] ?? "") ?? 1)
    }
    return options["scenario"] == "large"
        ? .large(deployments: Int(options["deployments"] ?? "") ?? 500, pods: Int(options["pods"] ?? "") ?? 2000)
        : .demo
}
if let path = options["ca-out"] { try TestCertificates.clusterCA.write(toFile: path, atomically: true, encoding: .utf8) }
let token = options["token"] ?? "test-cluster-token"
let history = options["history"].flatMap { Int($0) } ?? (clusterCount == nil ? 10_000 : 1_000)
let historySeconds = options["history-seconds"].flatMap(Double.init) ?? (clusterCount == nil ? 300 : 60)
let bookmarkInterval = Duration.milliseconds(Int64((options["bookmark-interval"].flatMap(Double.init) ?? 1) * 1000))
func makeCluster() -> FakeKubeAPIServer {
    let server = FakeKubeAPIServer(scenario(), token: token, historyLimit: history,
                                   historyMaxAge: .milliseconds(Int64(historySeconds * 1000)), bookmarkInterval: bookmarkInterval,
                                   recordRequests: clusterCount == nil || options["request-log"] != nil)
    if namespacesPerCluster != nil { server.settle() }
    if clusterCount != nil { server.setEventLimit(500) }
    if let slow = options["slow"].flatMap(Double.init) { server.inject(.slow("/api/v1/namespaces/", .milliseconds(Int64(slow * 1000)))) }
    return server
}
/// Clusters are built (and settled) on every core at once: half a million objects take a while.
func makeClusters(_ count: Int) -> [FakeKubeAPIServer] {
    let built = Mutex<[Int: FakeKubeAPIServer]>([:])
    DispatchQueue.concurrentPerform(iterations: count) { index in
        let cluster = makeCluster()
        built.withLock { $0[index] = cluster }
    }
    return built.withLock { built in (0..<count).map { built[$0]! } }
}
let fleet = clusterCount.map { count in
    let built = makeClusters(count)
    return FakeKubeFleet(count: count) { built[$0] }
}
let server = fleet == nil ? makeCluster() : nil
let clusters = fleet?.all ?? [server!]

/// Dumps the request log to `path` on each SIGUSR1.
func installRequestLog(_ clusters: [FakeKubeAPIServer], path: String) -> any DispatchSourceSignal {
    signal(SIGUSR1, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: DispatchQueue(label: "request-log"))
    source.setEventHandler {
        let requests = clusters.flatMap(\.requests)
        let lines = ["requests \(requests.count)"] + requests.map { "\($0.method) \($0.path)\($0.query.isEmpty ? "" : "?" + $0.query)" }
        try? (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
    source.resume()
    return source
}
let requestLog = options["request-log"].map { installRequestLog(clusters, path: $0) }
let churn = options["churn"].flatMap(Double.init).map { rate in Task { await FakeKubeAPIServer.churn(clusters, perSecond: rate) } }
let urlFile = options["url-file"], kubeconfigFile = options["kubeconfig-out"], caFile = options["ca-out"]

/// A kubeconfig with one cluster, user and context per fleet cluster, the first one current.
func kubeconfig(_ base: URL, ids: [String]) -> String {
    var text = "apiVersion: v1\nkind: Config\ncurrent-context: \(ids.first ?? "")\nclusters:\n"
    for id in ids {
        text += "- name: \(id)\n  cluster:\n    server: \(FakeKubeFleet.url(base, cluster: id).absoluteString)\n"
        text += caFile.map { "    certificate-authority: \($0)\n" } ?? "    insecure-skip-tls-verify: true\n"
    }
    text += "contexts:\n" + ids.map { "- name: \($0)\n  context: {cluster: \($0), user: \($0)}\n" }.joined()
    text += "users:\n" + ids.map { "- name: \($0)\n  user:\n    token: \(token)\n" }.joined()
    return text
}
let onReady: @Sendable (URL) -> Void = { url in
    if let kubeconfigFile { try? kubeconfig(url, ids: fleet?.ids ?? []).write(toFile: kubeconfigFile, atomically: true, encoding: .utf8) }
    // Written straight to the descriptor so whoever waits on the line sees it at once (stdout is buffered).
    FileHandle.standardOutput.write(Data("listening \(url.absoluteString)\n".utf8))
    if let urlFile { try? url.absoluteString.write(toFile: urlFile, atomically: true, encoding: .utf8) }
}
if let fleet {
    try await fleet.serve(port: Int(options["port"] ?? "") ?? 0, onReady: onReady)
} else {
    try await server!.serve(port: Int(options["port"] ?? "") ?? 0, onReady: onReady)
}
churn?.cancel()
