import Foundation
import GantryCore
import KubeTestServer
import Testing

/// docs/api.md §6 roles: a config process and a deployer process on one database, and the shipped nginx
/// example routing the live paths to the deployer.
@Suite("Split roles")
struct SplitRolesTests {
    static var nginx: String? {
        ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("Config answers the live routes with 404, the deployer serves them, and nginx routes each path to its role")
    func split() async throws {
        // The cluster runs as its own process: this test blocks on curl, and must not starve the fake server of threads.
        let directory = try temporaryDirectory()
        let kube = try GantryProcess(["--port", "0", "--url-file", "\(directory)/kube.url"], executable: GantryProcess.built("kube-test-server"))
        defer { kube.process.terminate() }
        var clusterURL: String?
        for _ in 0..<200 where clusterURL == nil {
            clusterURL = try? String(contentsOfFile: "\(directory)/kube.url", encoding: .utf8)
            if clusterURL == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let cluster = try #require(clusterURL.flatMap(URL.init(string:)), "kube-test-server did not start")
        do {
            let privateKey = try await GantryProcess.run(["keygen"])
            let deployerKey = "\(directory)/deployer.key", configKey = "\(directory)/config.key"
            try privateKey.stdout.write(toFile: deployerKey, atomically: true, encoding: .utf8)
            let publicKey = try await GantryProcess.run(["keygen", "--public"], stdin: privateKey.stdout)
            try publicKey.stdout.write(toFile: configKey, atomically: true, encoding: .utf8)
            let token = AccessToken.generate()
            let database = "sqlite:\(directory)/shared.db"
            let configPort = try freePort(), deployerPort = try freePort()
            let config = try GantryProcess(["serve", "--role", "config", "--port", String(configPort), "--database", database,
                                            "--secret-key-file", configKey], environment: ["GANTRY_BOOTSTRAP_TOKEN": token])
            defer { config.process.terminate() }
            try await config.waitFor("listening")
            let deployer = try GantryProcess(["serve", "--role", "deployer", "--port", String(deployerPort), "--database", database,
                                              "--secret-key-file", deployerKey, "--sync-interval", "0", "--cluster-timeout", "60"])
            defer { deployer.process.terminate() }
            try await deployer.waitFor("listening")

            func call(_ port: Int, _ path: String, json: String? = nil) async throws -> (status: Int, body: String) {
                var arguments = ["http://127.0.0.1:\(port)\(path)", "-H", "Authorization: Bearer \(token)"]
                if let json { arguments += ["-H", "Content-Type: application/json", "-d", json] }
                return try await curl(arguments)
            }
            func id(_ reply: (status: Int, body: String)) throws -> String {
                let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
                return try #require((object?["data"] as? [String: Any])?["id"] as? String, "\(reply.body)")
            }
            // The catalog is written through the config role, which can seal but never open.
            let kubeconfig = TestApp.kubeconfig(fakeCluster: cluster)
            let spaceBody = String(decoding: try JSONSerialization.data(withJSONObject: ["name": "fake", "provider": "kubeconfig", "kubeconfig": kubeconfig]), as: UTF8.self)
            let space = try id(try await call(configPort, "/api/spaces", json: spaceBody))
            let project = try id(try await call(configPort, "/api/projects", json: #"{"name":"checkout"}"#))
            let environment = try id(try await call(configPort, "/api/projects/\(project)/environments",
                                              json: #"{"name":"prod","spaceId":"\#(space)","namespace":"shop"}"#))

            #expect(try await call(configPort, "/api/environments/\(environment)/stats").status == 404)
            let stats = try await call(deployerPort, "/api/environments/\(environment)/stats")
            #expect(stats.status == 200, "\(stats.body)")
            #expect(stats.body.contains(#""deploymentCount":3"#))

            guard let nginx = Self.nginx else {
                Issue.record("nginx is not installed; scripts/test.sh installs it")
                return
            }
            let proxyPort = try freePort()
            let template = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("deploy/nginx/gantry-split.conf"), encoding: .utf8)
            let site = template.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(configPort)")
                .replacingOccurrences(of: "127.0.0.1:8081", with: "127.0.0.1:\(deployerPort)")
                .replacingOccurrences(of: "127.0.0.1:8000", with: "127.0.0.1:\(proxyPort)")
            let conf = """
                daemon off; pid \(directory)/nginx.pid; error_log \(directory)/nginx-error.log;
                events {}
                http {
                    access_log off; client_body_temp_path \(directory); proxy_temp_path \(directory);
                    fastcgi_temp_path \(directory); uwsgi_temp_path \(directory); scgi_temp_path \(directory);
                    \(site)
                }
                """
            try conf.write(toFile: "\(directory)/nginx.conf", atomically: true, encoding: .utf8)
            let proxy = Process()
            proxy.executableURL = URL(fileURLWithPath: nginx)
            proxy.arguments = ["-c", "\(directory)/nginx.conf", "-p", directory]
            try proxy.run()
            defer { proxy.terminate() }
            var through: (status: Int, body: String) = (0, "")
            for _ in 0..<50 {
                through = (try? await call(proxyPort, "/api/environments/\(environment)/stats")) ?? (0, "")
                if through.status != 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(through.status == 200, "\(through.body)")
            #expect(try await call(proxyPort, "/api/projects/\(project)").status == 200)
            #expect(try await call(proxyPort, "/api/space-discovery/\(space)/namespaces").body.contains(#""name":"shop""#))
        }
    }
}
