import Foundation
import Synchronization
import GantryCore
import GantryServer
import KubeTestServer
import Testing

/// docs/api.md §7 "What is applied", the image pull secret: `gantry-registry` in the environment's namespace, from
/// the registry integration's username/password or from a login minted from its cloud account (ECR against the
/// fake cloud), referenced by the pods, and deleted when the environment no longer has an integration.
@Suite("Registry pull secrets")
struct RegistryPullSecretTests {
    static let ecrRegistry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    static let awsSecret = "aws-secret-access-key/for+pull-secrets"
    static let ecrPassword = "ecr-minted-password-4be1"

    /// The fast deployer settings with every cloud endpoint at the fake cloud.
    static func settings(cloud base: String) -> [String: String] {
        DeployingTests.fast.merging(CloudSpaceTests.settings(cloud: base)) { $1 }
    }

    static func ecrAnswer(password: String = ecrPassword, expiresAt: Date = Date().addingTimeInterval(12 * 3600)) -> FakeCloud.Reply {
        .json(["authorizationData": [[
            "authorizationToken": Data("AWS:\(password)".utf8).base64EncodedString(),
            "expiresAt": expiresAt.timeIntervalSince1970,
            "proxyEndpoint": "https://\(ecrRegistry)",
        ] as [String: any Sendable]]])
    }

    /// Points the environment at `integration` (or at none with nil).
    static func setIntegration(_ app: TestApp, _ environment: String, _ integration: String?) async throws {
        let project = try #require(try await app.get("/api/environments/\(environment)")["projectId"] as? String)
        let reply = try await app.patch("/api/projects/\(project)/environments/\(environment)",
                                        ["registryIntegrationId": integration.map { $0 as Any } ?? NSNull()])
        try #require(reply.status == 200, "environment: \(reply.text)")
    }

    /// An ECR integration through an AWS cloud account.
    static func ecrIntegration(_ app: TestApp) async throws -> String {
        let account = try await app.post("/api/cloud-accounts", ["name": "aws-\(UUID().uuidString.prefix(6))", "provider": "aws",
                                                                 "credentials": ["accessKeyId": "AKIDEXAMPLE", "secretAccessKey": awsSecret]])
        try #require(account.status == 201, "cloud account: \(account.text)")
        let integration = try await app.post("/api/integrations", ["name": "ecr-\(UUID().uuidString.prefix(6))", "kind": "ecr",
                                                                   "registry": ecrRegistry, "cloudAccountId": account.id])
        try #require(integration.status == 201, "integration: \(integration.text)")
        return integration.id
    }

    /// The `.dockerconfigjson` auths entry of `gantry-registry`, with the secret's type.
    static func pullSecretEntry(_ cluster: FakeKubeAPIServer, registry: String) throws -> (type: String?, entry: [String: Any]) {
        let secret = try #require(cluster.object("secrets", namespace: "shop", name: "gantry-registry"))
        let data = try #require(secret["data"] as? [String: any Sendable])
        let encoded = try #require(data[".dockerconfigjson"] as? String)
        let decoded = try #require(Data(base64Encoded: encoded))
        let config = try #require(try JSONSerialization.jsonObject(with: decoded) as? [String: Any])
        let auths = try #require(config["auths"] as? [String: Any])
        let entry = try #require(auths[registry] as? [String: Any], "auths: \(auths.keys.sorted())")
        return (secret["type"] as? String, entry)
    }

    /// The Deployment's `imagePullSecrets` names.
    static func imagePullSecrets(_ cluster: FakeKubeAPIServer, name: String = "web") -> [String] {
        let live = cluster.object("deployments", namespace: "shop", name: name)
        let spec = live?["spec"] as? [String: any Sendable]
        let template = (spec?["template"] as? [String: any Sendable])?["spec"] as? [String: any Sendable]
        return (template?["imagePullSecrets"] as? [any Sendable])?.compactMap { ($0 as? [String: any Sendable])?["name"] as? String } ?? []
    }

    @Test("ECR through a cloud account: gantry-registry holds AWS and the minted password, and the pods use it", arguments: TestDatabase.all)
    func ecrThroughCloudAccount(_ db: TestDatabase) async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/", with: Self.ecrAnswer())
            try await DeployingTests.withDeployer(db, settings: Self.settings(cloud: base)) { app, cluster, environment in
                try await Self.setIntegration(app, environment, try await Self.ecrIntegration(app))
                let deployment = try await DeployingTests.createDeployment(app, environment)
                #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
                let done = try await DeployingTests.waitForRevision(app, deployment, 1, in: ["succeeded", "failed"])
                #expect(done["status"] as? String == "succeeded", "\(done.text)")

                let (type, entry) = try Self.pullSecretEntry(cluster, registry: Self.ecrRegistry)
                #expect(type == "kubernetes.io/dockerconfigjson")
                #expect(entry["username"] as? String == "AWS")
                #expect(entry["password"] as? String == Self.ecrPassword)
                #expect(entry["auth"] as? String == Data("AWS:\(Self.ecrPassword)".utf8).base64EncodedString())
                let secret = cluster.object("secrets", namespace: "shop", name: "gantry-registry")
                #expect(DeployingTests.labels(secret)["gantry.dev/environment-id"] == environment)
                #expect(DeployingTests.labels(secret)["gantry.dev/deployment-id"] == nil, "shared by the environment's deployments")
                #expect(Self.imagePullSecrets(cluster) == ["gantry-registry"])

                let request = try #require(cloud.requests(to: "/").first)
                #expect(request.headers["x-amz-target"] == "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
                #expect(request.headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") == true)
                #expect(request.headers["authorization"]?.contains("/eu-west-1/ecr/aws4_request") == true)

                // A second deploy reuses the login while it has hours to live.
                #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
                try await DeployingTests.waitForRevision(app, deployment, 2, in: ["succeeded"])
                #expect(cloud.requests(to: "/").count == 1, "one GetAuthorizationToken for both deploys")

                let answers = [try await app.get("/api/deployments/\(deployment)/revisions"), try await app.get("/api/audit-logs"),
                               try await app.get("/api/deployments/\(deployment)/events")]
                for answer in answers {
                    #expect(!answer.text.contains(Self.ecrPassword) && !answer.text.contains(Self.awsSecret), "\(answer.text.prefix(300))")
                }
            }
        }
    }

    @Test("A minted login is renewed in the cluster before it expires, with no deploy", arguments: TestDatabase.all)
    func mintedLoginRenewed(_ db: TestDatabase) async throws {
        let clock = TestClock()
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/", with: Self.ecrAnswer())
            try await DeployingTests.withDeployer(db, settings: Self.settings(cloud: base), clock: clock) { app, cluster, environment in
                try await Self.setIntegration(app, environment, try await Self.ecrIntegration(app))
                let deployment = try await DeployingTests.createDeployment(app, environment)
                #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
                try await DeployingTests.waitForRevision(app, deployment, 1, in: ["succeeded"])
                #expect(try Self.pullSecretEntry(cluster, registry: Self.ecrRegistry).entry["password"] as? String == Self.ecrPassword)

                // Eleven hours and fifty-five minutes later the 12 h login has five minutes left: a new one goes in.
                let renewed = "ecr-renewed-password-77c2"
                cloud.answer("POST", "/", with: Self.ecrAnswer(password: renewed, expiresAt: Date().addingTimeInterval(24 * 3600)))
                clock.advance(by: 12 * 3600 - 5 * 60)
                try await DeployingTests.waitUntil("gantry-registry holds the renewed login") {
                    try Self.pullSecretEntry(cluster, registry: Self.ecrRegistry).entry["password"] as? String == renewed
                }
                #expect(cloud.requests(to: "/").count == 2, "one mint for the deploy, one for the renewal")
                #expect(try await app.get("/api/deployments/\(deployment)/revisions").items.count == 1, "renewing is not a deploy")

                // The renewed login lives another day: nothing more is minted in the meantime.
                try await Task.sleep(for: .seconds(1))
                #expect(cloud.requests(to: "/").count == 2)
            }
        }
    }

    /// Deploys `web` with an integration of `kind` for `registry` through a new cloud account, and returns the
    /// pull secret's auths entry once the revision succeeded.
    static func deployThroughAccount(_ db: TestDatabase, cloud base: String, provider: String, credentials: [String: String],
                                     kind: String, registry: String) async throws -> [String: Any] {
        let entry = Mutex<[String: String]>([:])
        try await DeployingTests.withDeployer(db, settings: Self.settings(cloud: base)) { app, cluster, environment in
            let account = try await app.post("/api/cloud-accounts", ["name": "acct", "provider": provider, "credentials": credentials])
            try #require(account.status == 201, "cloud account: \(account.text)")
            let integration = try await app.post("/api/integrations", ["name": kind, "kind": kind, "registry": registry, "cloudAccountId": account.id])
            try #require(integration.status == 201, "integration: \(integration.text)")
            try await Self.setIntegration(app, environment, integration.id)
            let deployment = try await DeployingTests.createDeployment(app, environment)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            let done = try await DeployingTests.waitForRevision(app, deployment, 1, in: ["succeeded", "failed"])
            #expect(done["status"] as? String == "succeeded", "\(done.text)")
            #expect(Self.imagePullSecrets(cluster) == ["gantry-registry"])
            let found = try Self.pullSecretEntry(cluster, registry: registry).entry
            entry.withLock { $0 = found.compactMapValues { $0 as? String } }
        }
        return entry.withLock { $0 }
    }

    @Test("GAR through a cloud account: user oauth2accesstoken, password the service account's access token", arguments: TestDatabase.all)
    func garThroughCloudAccount(_ db: TestDatabase) async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/token", with: .json(["access_token": "ya29.pull-secret-token", "expires_in": 3599, "token_type": "Bearer"]))
            let serviceAccount = try String(decoding: JSONSerialization.data(withJSONObject: [
                "type": "service_account", "project_id": "shop-prod", "client_email": "puller@shop-prod.iam.gserviceaccount.com",
                "private_key": TestCertificates.serviceAccountKey, "token_uri": "https://oauth2.googleapis.com/token",
            ]), as: UTF8.self)
            let entry = try await Self.deployThroughAccount(db, cloud: base, provider: "gcp", credentials: ["serviceAccountJson": serviceAccount],
                                                            kind: "gar", registry: "europe-docker.pkg.dev")
            #expect(entry["username"] as? String == "oauth2accesstoken")
            #expect(entry["password"] as? String == "ya29.pull-secret-token")
        }
    }

    @Test("ACR through a cloud account: the ARM token exchanged at the registry; the all-zero user", arguments: TestDatabase.all)
    func acrThroughCloudAccount(_ db: TestDatabase) async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/tenant-1/oauth2/v2.0/token", with: .json(["token_type": "Bearer", "expires_in": 3599, "access_token": "arm-token"]))
            cloud.answer("POST", "/oauth2/exchange", with: .json(["refresh_token": "acr-refresh-token"]))
            let entry = try await Self.deployThroughAccount(
                db, cloud: base, provider: "azure",
                credentials: ["tenantId": "tenant-1", "clientId": "client-1", "clientSecret": "azure-client-secret~x", "subscriptionId": "sub-1"],
                kind: "acr", registry: "shopregistry.azurecr.io")
            #expect(entry["username"] as? String == "00000000-0000-0000-0000-000000000000")
            #expect(entry["password"] as? String == "acr-refresh-token")
            let exchange = try #require(cloud.requests(to: "/oauth2/exchange").first)
            #expect(exchange.formFields == ["grant_type": "access_token", "service": "shopregistry.azurecr.io", "tenant": "tenant-1",
                                            "access_token": "arm-token"])
        }
    }

    @Test("Username/password integration: gantry-registry holds them; dropping the integration deletes it", arguments: TestDatabase.all)
    func usernamePasswordThenRemoved(_ db: TestDatabase) async throws {
        try await DeployingTests.withDeployer(db) { app, cluster, environment in
            let integration = try await app.post("/api/integrations", [
                "name": "ghcr", "kind": "ghcr", "registry": "ghcr.io", "credentials": ["username": "acme-bot", "password": "ghp_planted_9d2f"],
            ])
            try #require(integration.status == 201, "\(integration.text)")
            try await Self.setIntegration(app, environment, integration.id)
            let deployment = try await DeployingTests.createDeployment(app, environment)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            let done = try await DeployingTests.waitForRevision(app, deployment, 1, in: ["succeeded", "failed"])
            #expect(done["status"] as? String == "succeeded", "\(done.text)")
            let (type, entry) = try Self.pullSecretEntry(cluster, registry: "ghcr.io")
            #expect(type == "kubernetes.io/dockerconfigjson")
            #expect(entry["username"] as? String == "acme-bot")
            #expect(entry["password"] as? String == "ghp_planted_9d2f")
            #expect(Self.imagePullSecrets(cluster) == ["gantry-registry"])

            try await Self.setIntegration(app, environment, nil)
            #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
            let second = try await DeployingTests.waitForRevision(app, deployment, 2, in: ["succeeded", "failed"])
            #expect(second["status"] as? String == "succeeded", "\(second.text)")
            #expect(cluster.object("secrets", namespace: "shop", name: "gantry-registry") == nil, "the pull secret was deleted")
            #expect(Self.imagePullSecrets(cluster).isEmpty)
        }
    }

    @Test("ECR refusing the account's keys fails the revision naming the integration, without a credential", arguments: TestDatabase.all)
    func refusedCredentialsFailTheRevision(_ db: TestDatabase) async throws {
        try await FakeCloud.run { cloud, base in
            cloud.answer("POST", "/", with: .json([
                "__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid: \(Self.awsSecret)",
            ], status: 400))
            try await DeployingTests.withDeployer(db, settings: Self.settings(cloud: base)) { app, cluster, environment in
                try await Self.setIntegration(app, environment, try await Self.ecrIntegration(app))
                let deployment = try await DeployingTests.createDeployment(app, environment)
                #expect(try await app.post("/api/deployments/\(deployment)/deploy").status == 202)
                let failed = try await DeployingTests.waitForRevision(app, deployment, 1, in: ["failed", "succeeded"])
                #expect(failed["status"] as? String == "failed")
                let message = failed["message"] as? String ?? ""
                #expect(message.contains("ECR registry integration for '\(Self.ecrRegistry)'"), "\(message)")
                #expect(message.contains("refused"), "\(message)")
                #expect(!failed.text.contains(Self.awsSecret))
                #expect(cluster.object("secrets", namespace: "shop", name: "gantry-registry") == nil)
                #expect(cluster.object("deployments", namespace: "shop", name: "web") == nil, "nothing applied after the refusal")
            }
        }
    }
}
