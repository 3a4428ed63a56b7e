import Foundation
import Testing

/// docs/api.md §4, Deployment spaces: kubeconfig and cloud spaces, what a kubeconfig may hold, secrecy, names and deletes — on every database.
@Suite("Deployment spaces")
struct SpaceTests {
    /// Neither the cluster token nor the CA data may appear anywhere in an answer.
    static func expectNoSecrets(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!reply.text.contains(TestApp.clusterToken), "token leaked: \(reply.text)", sourceLocation: sourceLocation)
        #expect(!reply.text.contains(TestApp.caData), "CA data leaked: \(reply.text)", sourceLocation: sourceLocation)
        #expect(!reply.text.contains("MIIBdummy"), "CA certificate leaked: \(reply.text)", sourceLocation: sourceLocation)
    }

    /// A kubeconfig built by hand, for shapes the fixture cannot express.
    static func kubeconfig(cluster: String, user: String = "    token: \(TestApp.clusterToken)") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: c1
          cluster:
        \(cluster)
        contexts:
        - name: prod
          context: {cluster: c1, user: u1}
        users:
        - name: u1
          user:
        \(user)
        """
    }

    static let goodCluster = "    server: https://10.0.0.1:6443\n    certificate-authority-data: \(TestApp.caData)"

    func createCloudAccount(_ app: TestApp, provider: String = "aws", name: String = "acct-\(UUID().uuidString.prefix(6))") async throws -> String {
        let credentials: [String: Any] = switch provider {
        case "gcp": ["serviceAccountJson": #"{"type":"service_account"}"#]
        case "azure": ["tenantId": "t", "clientId": "c", "clientSecret": "s", "subscriptionId": "sub"]
        default: ["accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "aws-secret-key-value"]
        }
        let reply = try await app.post("/api/cloud-accounts", ["name": name, "provider": provider, "credentials": credentials])
        try #require(reply.status == 201, "create cloud account: \(reply.text)")
        return reply.id
    }

    // MARK: - Kubeconfig spaces

    @Test("A kubeconfig space is created with its current context, server and status active", arguments: TestDatabase.all)
    func kubeconfigSpace(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let reply = try await app.post("/api/spaces", ["name": "prod-cluster", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig()])
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.id.hasPrefix("spc_"))
            #expect(reply.header("Location") == "/api/spaces/\(reply.id)")
            #expect(reply.header("ETag") == "\"1\"")
            let data = reply.data
            #expect(data["name"] as? String == "prod-cluster")
            #expect(data["provider"] as? String == "kubeconfig")
            #expect(data["config"] as? [String: String] == ["context": "prod"])
            #expect(data["server"] as? String == "https://127.0.0.1:9")
            #expect(data["cloudAccountId"] is NSNull, "\(reply.text)")
            #expect(data["status"] as? String == "active")
            #expect(data["version"] as? Int == 1)
            #expect(data["kubeconfig"] == nil)
            Self.expectNoSecrets(reply)
        }
    }

    @Test("A requested context is the one stored", arguments: TestDatabase.all)
    func requestedContext(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let reply = try await app.post("/api/spaces", [
                "name": "staging", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig(server: "https://k8s.example.com"), "context": "staging",
            ])
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply["config"] as? [String: String] == ["context": "staging"])
            #expect(reply["server"] as? String == "https://k8s.example.com")
        }
    }

    @Test("A context the kubeconfig lacks is 400", arguments: TestDatabase.all)
    func unknownContext(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let reply = try await app.post("/api/spaces", [
                "name": "x", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig(), "context": "nowhere",
            ])
            #expect(reply.status == 400)
            #expect(reply.errorCode == "validation_failed")
            #expect(!reply.fieldNames.isEmpty)
            Self.expectNoSecrets(reply)
            #expect(try await app.get("/api/spaces").items.isEmpty)
        }
    }

    @Test("exec and auth-provider users are refused with 400", arguments: TestDatabase.all)
    func commandUsers(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let users = [
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: [eks, get-token]",
                "    auth-provider:\n      name: gcp\n      config: {cmd-path: /usr/bin/gcloud}",
                // Even alongside a token.
                "    token: \(TestApp.clusterToken)\n    exec:\n      command: sh",
            ]
            for user in users {
                let reply = try await app.post("/api/spaces", ["name": "x", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig(userFields: user)])
                #expect(reply.status == 400, "\(user): \(reply.text)")
                #expect(reply.errorCode == "validation_failed")
                Self.expectNoSecrets(reply)
            }
            #expect(try await app.get("/api/spaces").items.isEmpty)
        }
    }

    @Test("File paths in a kubeconfig are refused with 400", arguments: TestDatabase.all)
    func filePaths(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let kubeconfigs = [
                Self.kubeconfig(cluster: "    server: https://10.0.0.1:6443\n    certificate-authority: /etc/kubernetes/ca.crt"),
                Self.kubeconfig(cluster: Self.goodCluster, user: "    client-certificate: /home/me/client.crt\n    client-key-data: \(TestApp.caData)"),
                Self.kubeconfig(cluster: Self.goodCluster, user: "    client-certificate-data: \(TestApp.caData)\n    client-key: /home/me/client.key"),
                Self.kubeconfig(cluster: Self.goodCluster, user: "    tokenFile: /var/run/secrets/token"),
            ]
            for yaml in kubeconfigs {
                let reply = try await app.post("/api/spaces", ["name": "x", "provider": "kubeconfig", "kubeconfig": yaml])
                #expect(reply.status == 400, "\(yaml)\n\(reply.text)")
                #expect(reply.errorCode == "validation_failed")
                Self.expectNoSecrets(reply)
            }
            #expect(try await app.get("/api/spaces").items.isEmpty)
        }
    }

    @Test("A kubeconfig without a server is 400", arguments: TestDatabase.all)
    func missingServer(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for yaml in [Self.kubeconfig(cluster: "    certificate-authority-data: \(TestApp.caData)"), TestApp.kubeconfig(server: "")] {
                let reply = try await app.post("/api/spaces", ["name": "x", "provider": "kubeconfig", "kubeconfig": yaml])
                #expect(reply.status == 400, "\(reply.text)")
                #expect(reply.errorCode == "validation_failed")
                Self.expectNoSecrets(reply)
            }
        }
    }

    @Test("Unparsable CA data is 400", arguments: TestDatabase.all)
    func badCAData(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let notPEM = Data("hello, not a certificate".utf8).base64EncodedString()
            for ca in ["!!!not-base64!!!", notPEM] {
                let yaml = Self.kubeconfig(cluster: "    server: https://10.0.0.1:6443\n    certificate-authority-data: \"\(ca)\"")
                let reply = try await app.post("/api/spaces", ["name": "x", "provider": "kubeconfig", "kubeconfig": yaml])
                #expect(reply.status == 400, "\(ca): \(reply.text)")
                #expect(reply.errorCode == "validation_failed")
                Self.expectNoSecrets(reply)
            }
        }
    }

    @Test("A kubeconfig that is not YAML is 400", arguments: TestDatabase.all)
    func notYAML(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for text in ["{{{ : not yaml [", "just a sentence", "- a\n- list", "", "key: [unclosed"] {
                let reply = try await app.post("/api/spaces", ["name": "x", "provider": "kubeconfig", "kubeconfig": text])
                #expect(reply.status == 400, "\(text.debugDescription): \(reply.text)")
                #expect(reply.errorCode == "validation_failed")
            }
            let missing = try await app.post("/api/spaces", ["name": "x", "provider": "kubeconfig"])
            #expect(missing.status == 400)
            #expect(missing.fieldNames.contains("kubeconfig"))
        }
    }

    @Test("No answer ever carries the kubeconfig's token or CA data", arguments: TestDatabase.all)
    func secretsNeverReturned(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let created = try await app.post("/api/spaces", ["name": "secret", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig()])
            #expect(created.status == 201)
            Self.expectNoSecrets(created)
            Self.expectNoSecrets(try await app.get("/api/spaces/\(created.id)"))
            Self.expectNoSecrets(try await app.get("/api/spaces"))
            // A name clash, a bad patch and a good patch echo nothing either.
            let clash = try await app.post("/api/spaces", ["name": "SECRET", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig()])
            #expect(clash.status == 409)
            Self.expectNoSecrets(clash)
            let badPatch = try await app.patch("/api/spaces/\(created.id)", ["kubeconfig": TestApp.kubeconfig(), "context": "missing"])
            #expect(badPatch.status == 400)
            Self.expectNoSecrets(badPatch)
            let patched = try await app.patch("/api/spaces/\(created.id)", ["kubeconfig": TestApp.kubeconfig(), "context": "staging"])
            #expect(patched.status == 200, "\(patched.text)")
            #expect(patched["config"] as? [String: String] == ["context": "staging"])
            Self.expectNoSecrets(patched)
            // Wrong-typed kubeconfig: the validation error must not quote the value.
            let typed = try await app.post("/api/spaces", ["name": "t", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig(), "extra": TestApp.clusterToken])
            #expect(typed.status == 400)
            Self.expectNoSecrets(typed)
        }
    }

    @Test("PATCH with null for a space field is 400 naming it", arguments: TestDatabase.all)
    func patchNulls(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let space = try await app.createSpace("prod")
            for field in ["name", "kubeconfig", "context"] {
                let reply = try await app.patch("/api/spaces/\(space)", [field: NSNull()])
                #expect(reply.status == 400, "\(field): \(reply.text)")
                #expect(reply.fieldNames.contains(field), "\(field): \(reply.text)")
            }
            let fetched = try await app.get("/api/spaces/\(space)")
            #expect(fetched["version"] as? Int == 1)
            #expect(fetched["name"] as? String == "prod")
            let renamed = try await app.patch("/api/spaces/\(space)", ["name": "production"])
            #expect(renamed.status == 200)
            #expect(renamed["version"] as? Int == 2)
            #expect(renamed["config"] as? [String: String] == ["context": "prod"])
        }
    }

    @Test("Space names are unique ignoring case", arguments: TestDatabase.all)
    func uniqueNames(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let first = try await app.createSpace("Prod Cluster")
            let clash = try await app.post("/api/spaces", ["name": "prod cluster", "provider": "kubeconfig", "kubeconfig": TestApp.kubeconfig()])
            #expect(clash.status == 409)
            #expect(clash.errorCode == "conflict")
            #expect(clash.details["field"] as? String == "name")

            let other = try await app.createSpace("other")
            let renamed = try await app.patch("/api/spaces/\(other)", ["name": "PROD CLUSTER"])
            #expect(renamed.status == 409)
            #expect(renamed.details["field"] as? String == "name")

            // A deleted space frees its name.
            #expect(try await app.delete("/api/spaces/\(first)").status == 204)
            #expect(try await app.get("/api/spaces/\(first)").status == 404)
            _ = try await app.createSpace("PROD cluster")
        }
    }

    @Test("DELETE while a live environment uses the space is 409 has_children; afterwards 204", arguments: TestDatabase.all)
    func deleteInUse(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let project = try await app.createProject()
            let space = try await app.createSpace()
            let environment = try await app.createEnvironment(project: project, space: space)

            let blocked = try await app.delete("/api/spaces/\(space)")
            #expect(blocked.status == 409)
            #expect(blocked.errorCode == "has_children")
            #expect(blocked.details["environmentCount"] as? Int == 1)
            #expect(try await app.get("/api/spaces/\(space)").status == 200)

            #expect(try await app.delete("/api/projects/\(project)/environments/\(environment)").status == 204)
            let deleted = try await app.delete("/api/spaces/\(space)")
            #expect(deleted.status == 204)
            #expect(try await app.get("/api/spaces/\(space)").status == 404)
            #expect(try await app.get("/api/spaces").items.isEmpty)
        }
    }

    // MARK: - Cloud spaces

    @Test("An aws space with a live aws account is 201 with server null", arguments: TestDatabase.all)
    func awsSpace(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let account = try await createCloudAccount(app)
            let reply = try await app.post("/api/spaces", [
                "name": "eks", "provider": "aws", "cloudAccountId": account, "config": ["clusterName": "prod", "region": "eu-west-1"],
            ])
            #expect(reply.status == 201, "\(reply.text)")
            let data = reply.data
            #expect(data["provider"] as? String == "aws")
            #expect(data["cloudAccountId"] as? String == account)
            #expect(data["server"] is NSNull, "\(reply.text)")
            #expect(data["status"] as? String == "active")
            let config = data["config"] as? [String: Any]
            #expect(config?["clusterName"] as? String == "prod")
            #expect(config?["region"] as? String == "eu-west-1")
            #expect(!reply.text.contains("aws-secret-key-value"))
        }
    }

    @Test("A cloud space without config.region or clusterName is 400", arguments: TestDatabase.all)
    func cloudConfigRequired(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let account = try await createCloudAccount(app)
            let noRegion = try await app.post("/api/spaces", [
                "name": "eks", "provider": "aws", "cloudAccountId": account, "config": ["clusterName": "prod"],
            ])
            #expect(noRegion.status == 400)
            #expect(noRegion.errorCode == "validation_failed")
            #expect(noRegion.fieldNames.contains("config.region"), "\(noRegion.text)")

            let noCluster = try await app.post("/api/spaces", [
                "name": "eks", "provider": "aws", "cloudAccountId": account, "config": ["region": "eu-west-1"],
            ])
            #expect(noCluster.status == 400)
            #expect(noCluster.fieldNames.contains("config.clusterName"), "\(noCluster.text)")

            let noConfig = try await app.post("/api/spaces", ["name": "eks", "provider": "aws", "cloudAccountId": account])
            #expect(noConfig.status == 400)

            let noAccount = try await app.post("/api/spaces", [
                "name": "eks", "provider": "aws", "config": ["clusterName": "prod", "region": "eu-west-1"],
            ])
            #expect(noAccount.status == 400)
            #expect(noAccount.fieldNames.contains("cloudAccountId"))
            #expect(try await app.get("/api/spaces").items.isEmpty)
        }
    }

    @Test("A gcp account used for an aws space is 400 naming cloudAccountId", arguments: TestDatabase.all)
    func providerMismatch(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let gcp = try await createCloudAccount(app, provider: "gcp")
            let reply = try await app.post("/api/spaces", [
                "name": "eks", "provider": "aws", "cloudAccountId": gcp, "config": ["clusterName": "prod", "region": "eu-west-1"],
            ])
            #expect(reply.status == 400)
            #expect(reply.errorCode == "validation_failed")
            #expect(reply.fieldNames == ["cloudAccountId"])

            let unknown = try await app.post("/api/spaces", [
                "name": "eks", "provider": "aws", "cloudAccountId": "ca_00000000000000000000000000",
                "config": ["clusterName": "prod", "region": "eu-west-1"],
            ])
            #expect(unknown.status == 400)
            #expect(unknown.fieldNames == ["cloudAccountId"])
            #expect(try await app.get("/api/spaces").items.isEmpty)
        }
    }

    @Test("Deleting a cloud account in use by a space is 409 has_children", arguments: TestDatabase.all)
    func deleteAccountInUse(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let account = try await createCloudAccount(app)
            let space = try await app.post("/api/spaces", [
                "name": "eks", "provider": "aws", "cloudAccountId": account, "config": ["clusterName": "prod", "region": "eu-west-1"],
            ])
            try #require(space.status == 201, "\(space.text)")
            let blocked = try await app.delete("/api/cloud-accounts/\(account)")
            #expect(blocked.status == 409)
            #expect(blocked.errorCode == "has_children")
            #expect(blocked.details["spaceCount"] as? Int == 1)
            #expect(try await app.get("/api/cloud-accounts/\(account)").status == 200)

            #expect(try await app.delete("/api/spaces/\(space.id)").status == 204)
            #expect(try await app.delete("/api/cloud-accounts/\(account)").status == 204)
            #expect(try await app.get("/api/cloud-accounts/\(account)").status == 404)
        }
    }
}
