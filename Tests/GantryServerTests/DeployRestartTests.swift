import Foundation
import GantryCore
import GantryServer
import KubeTestServer
import Testing

/// docs/api.md §7 "Jobs" with the real binary: a deployer killed with SIGKILL in the middle of applying a revision
/// loses nothing; once its 60 s lease runs out, the restarted deployer takes the job over and the revision succeeds.
@Suite("Deploy jobs survive SIGKILL")
struct DeployRestartTests {
    @Test("A deployer killed mid-apply leaves the revision applying; after a restart it finishes", arguments: TestDatabase.all)
    func killedMidApply(_ db: TestDatabase) async throws {
        let cluster = DeployingTests.cluster()
        // The first PATCH of the Deployment hangs, so the job is in flight when the process is killed.
        cluster.inject(.init(path: "/apis/apps/v1/namespaces/shop/deployments/web", status: 200, delay: .seconds(600), times: 1))
        try await cluster.run { url in
            let directory = try temporaryDirectory()
            let keyFile = "\(directory)/deployer.key"
            try Data((SecretKeyFile.generatePrivateKey() + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
            let database = try await db.makeURL()
            let token = AccessToken.generate()
            let port = try freePort()
            let arguments = ["serve", "--port", String(port), "--database", database, "--secret-key-file", keyFile, "--sync-interval", "1",
                             "--log-format", "text"]
            let environment = ["GANTRY_BOOTSTRAP_TOKEN": token, "GANTRY_DEPLOY_POLL_INTERVAL": "0.2"]
            let api = API(port: port, token: token)

            let first = try GantryProcess(arguments, environment: environment)
            try await first.waitFor("listening", timeout: 60)
            let space = try await api.post("/api/spaces", ["name": "fake", "provider": "kubeconfig",
                                                           "kubeconfig": TestApp.kubeconfig(fakeCluster: url)])
            let project = try await api.post("/api/projects", ["name": "shop"])
            let env = try await api.post("/api/projects/\(project)/environments", ["name": "prod", "spaceId": space, "namespace": "shop"])
            let deployment = try await api.post("/api/environments/\(env)/deployments", ["name": "web", "image": "ghcr.io/acme/web:1.0", "port": 8080])
            _ = try await api.post("/api/deployments/\(deployment)/deploy", [:])
            try await DeployingTests.waitUntil("the deployer is applying the Deployment") {
                cluster.requests.contains { $0.method == "PATCH" && $0.path == "/apis/apps/v1/namespaces/shop/deployments/web" }
            }
            kill(first.process.processIdentifier, SIGKILL)
            _ = try await first.wait()

            let second = try GantryProcess(arguments, environment: environment)
            defer { second.process.terminate() }
            try await second.waitFor("listening", timeout: 60)
            #expect(try await api.revisionStatus(deployment, 1) == "applying", "the killed job is still held by the dead process")
            // The lease is 60 s; the restarted deployer takes the job over once it has run out.
            try await DeployingTests.waitUntil("revision 1 succeeds after the restart", within: 150) {
                try await api.revisionStatus(deployment, 1) == "succeeded"
            }
            // Applying is idempotent, so a loaded machine may repeat a PATCH that timed out; what must not happen is the
            // job finishing twice or a second revision appearing.
            let patches = cluster.requests.filter { $0.method == "PATCH" && $0.path == "/apis/apps/v1/namespaces/shop/deployments/web" }
            #expect(patches.count >= 2, "the killed attempt and the one that finished")
            #expect(try await api.revisionStatus(deployment, 2) == nil, "no second revision")
            let applied = try await api.eventReasons(deployment).filter { $0 == "RevisionApplied" }
            #expect(applied.count == 1, "the job finished once")
            #expect(cluster.object("deployments", namespace: "shop", name: "web") != nil)
        }
    }

    /// The API of a running process, over loopback with curl.
    struct API {
        let port: Int
        let token: String

        func post(_ path: String, _ body: [String: Any]) async throws -> String {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            let reply = try await curl(["-X", "POST", "http://127.0.0.1:\(port)\(path)", "-H", "Authorization: Bearer \(token)",
                                        "-H", "Content-Type: application/json", "-d", json])
            try #require((200..<300).contains(reply.status), "\(path): \(reply.body)")
            let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
            return (object?["data"] as? [String: Any])?["id"] as? String ?? ""
        }

        func eventReasons(_ deployment: String) async throws -> [String] {
            let reply = try await curl(["http://127.0.0.1:\(port)/api/deployments/\(deployment)/events", "-H", "Authorization: Bearer \(token)"])
            let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
            return (object?["data"] as? [[String: Any]])?.filter { $0["source"] as? String == "gantry" }.compactMap { $0["reason"] as? String } ?? []
        }

        func revisionStatus(_ deployment: String, _ number: Int) async throws -> String? {
            let reply = try await curl(["http://127.0.0.1:\(port)/api/deployments/\(deployment)/revisions/\(number)",
                                        "-H", "Authorization: Bearer \(token)"])
            let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
            return (object?["data"] as? [String: Any])?["status"] as? String
        }
    }
}
