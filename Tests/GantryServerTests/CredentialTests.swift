import Foundation
import GantryStorage
import SQLKit
import Testing

/// docs/api.md §4: cloud accounts and registry integrations — credential shapes, write-only secrets, sealed storage — on every database.
@Suite("Credentials: cloud accounts and integrations")
struct CredentialTests {
    static let awsSecret = "aws-SECRET-wJalrXUtnFEMI-K7MDENG"
    static let awsSession = "aws-SESSION-token-FwoGZXIvYXdzE"
    static let gcpSecret = #"{"type":"service_account","private_key":"gcp-PRIVATE-KEY-9f8e7d"}"#
    static let azureSecret = "azure-CLIENT-SECRET-3c4d5e"
    static let registryPassword = "registry-PASSWORD-8a7b6c"

    static let awsCredentials: [String: String] = ["accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": awsSecret]
    static let gcpCredentials: [String: String] = ["serviceAccountJson": gcpSecret]
    static let azureCredentials: [String: String] = [
        "tenantId": "tenant-1", "clientId": "client-1", "clientSecret": azureSecret, "subscriptionId": "sub-1",
    ]

    /// None of the secrets used in these tests may appear in `reply`.
    static func expectNoSecrets(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in [awsSecret, awsSession, "gcp-PRIVATE-KEY-9f8e7d", azureSecret, registryPassword] {
            #expect(!reply.text.contains(secret), "secret leaked: \(reply.text)", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Cloud accounts

    @Test("Each provider's credential fields create an account; the answer has no credentials", arguments: TestDatabase.all)
    func createPerProvider(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            var withOptional = Self.awsCredentials
            withOptional["sessionToken"] = Self.awsSession
            withOptional["roleArn"] = "arn:aws:iam::123456789012:role/gantry"
            let cases: [(String, String, [String: String])] = [
                ("aws", "aws", Self.awsCredentials), ("aws-full", "aws", withOptional),
                ("gcp", "gcp", Self.gcpCredentials), ("azure", "azure", Self.azureCredentials),
            ]
            for (name, provider, credentials) in cases {
                let reply = try await app.post("/api/cloud-accounts", ["name": name, "provider": provider, "credentials": credentials])
                #expect(reply.status == 201, "\(name): \(reply.text)")
                #expect(reply.id.hasPrefix("ca_"))
                #expect(reply.header("Location") == "/api/cloud-accounts/\(reply.id)")
                #expect(reply["provider"] as? String == provider)
                #expect(reply["name"] as? String == name)
                #expect(reply["version"] as? Int == 1)
                #expect(reply["credentials"] == nil)
                Self.expectNoSecrets(reply)
            }
            #expect(try await app.get("/api/cloud-accounts").items.count == 4)
        }
    }

    @Test("Missing required credential fields are 400 naming each", arguments: TestDatabase.all)
    func missingFields(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let cases: [(String, [String: Any], [String])] = [
                ("aws", ["accessKeyId": "AKIA"], ["credentials.secretAccessKey"]),
                ("aws", ["secretAccessKey": Self.awsSecret], ["credentials.accessKeyId"]),
                ("gcp", [:], ["credentials.serviceAccountJson"]),
                ("azure", ["tenantId": "t", "clientId": "c"], ["credentials.clientSecret", "credentials.subscriptionId"]),
                ("aws", ["accessKeyId": "", "secretAccessKey": Self.awsSecret], ["credentials.accessKeyId"]),
            ]
            for (provider, credentials, fields) in cases {
                let reply = try await app.post("/api/cloud-accounts", ["name": "a", "provider": provider, "credentials": credentials])
                #expect(reply.status == 400, "\(provider) \(credentials.keys.sorted())")
                #expect(reply.errorCode == "validation_failed")
                #expect(Set(reply.fieldNames) == Set(fields), "\(reply.text)")
                Self.expectNoSecrets(reply)
            }
            let noCredentials = try await app.post("/api/cloud-accounts", ["name": "a", "provider": "aws"])
            #expect(noCredentials.status == 400)
            #expect(noCredentials.fieldNames.contains("credentials"))
            #expect(try await app.get("/api/cloud-accounts").items.isEmpty)
        }
    }

    @Test("A credential field of another provider is 400 naming it", arguments: TestDatabase.all)
    func foreignFields(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            var awsPlusGCP = Self.awsCredentials
            awsPlusGCP["serviceAccountJson"] = Self.gcpSecret
            var gcpPlusAzure = Self.gcpCredentials
            gcpPlusAzure["clientSecret"] = Self.azureSecret
            var azurePlusAWS = Self.azureCredentials
            azurePlusAWS["secretAccessKey"] = Self.awsSecret
            let cases: [(String, [String: String], String)] = [
                ("aws", awsPlusGCP, "credentials.serviceAccountJson"),
                ("gcp", gcpPlusAzure, "credentials.clientSecret"),
                ("azure", azurePlusAWS, "credentials.secretAccessKey"),
                ("gcp", ["serviceAccountJson": Self.gcpSecret, "sessionToken": Self.awsSession], "credentials.sessionToken"),
            ]
            for (provider, credentials, field) in cases {
                let reply = try await app.post("/api/cloud-accounts", ["name": "a", "provider": provider, "credentials": credentials])
                #expect(reply.status == 400, "\(provider) with \(field)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == [field], "\(reply.text)")
                Self.expectNoSecrets(reply)
            }
            // A field no provider knows is refused too, and its value is not echoed.
            let unknown = try await app.post("/api/cloud-accounts", [
                "name": "a", "provider": "aws", "credentials": ["accessKeyId": "AKIA", "secretAccessKey": Self.awsSecret, "password": Self.registryPassword],
            ])
            #expect(unknown.status == 400)
            #expect(unknown.errorCode == "validation_failed")
            Self.expectNoSecrets(unknown)
            #expect(try await app.get("/api/cloud-accounts").items.isEmpty)
        }
    }

    @Test("Credentials never appear in get, list, patch or error answers", arguments: TestDatabase.all)
    func cloudSecretsNeverReturned(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let created = try await app.post("/api/cloud-accounts", ["name": "prod", "provider": "aws", "credentials": Self.awsCredentials])
            #expect(created.status == 201)
            Self.expectNoSecrets(created)
            Self.expectNoSecrets(try await app.get("/api/cloud-accounts/\(created.id)"))
            Self.expectNoSecrets(try await app.get("/api/cloud-accounts"))

            var rotated = Self.awsCredentials
            rotated["sessionToken"] = Self.awsSession
            let patched = try await app.patch("/api/cloud-accounts/\(created.id)", ["name": "prod-2", "credentials": rotated])
            #expect(patched.status == 200, "\(patched.text)")
            #expect(patched["name"] as? String == "prod-2")
            #expect(patched["version"] as? Int == 2)
            Self.expectNoSecrets(patched)

            // Patching with another provider's fields is refused without echoing them.
            let badPatch = try await app.patch("/api/cloud-accounts/\(created.id)", ["credentials": Self.azureCredentials])
            #expect(badPatch.status == 400)
            #expect(badPatch.errorCode == "validation_failed")
            Self.expectNoSecrets(badPatch)

            // A duplicate name and a mistyped body echo nothing either.
            let clash = try await app.post("/api/cloud-accounts", ["name": "PROD-2", "provider": "aws", "credentials": Self.awsCredentials])
            #expect(clash.status == 409)
            #expect(clash.details["field"] as? String == "name")
            Self.expectNoSecrets(clash)
            let mistyped = try await app.post("/api/cloud-accounts", ["name": "x", "provider": "aws", "credentials": Self.awsSecret])
            #expect(mistyped.status == 400)
            Self.expectNoSecrets(mistyped)
            let badProvider = try await app.post("/api/cloud-accounts", ["name": "x", "provider": "oracle", "credentials": Self.awsCredentials])
            #expect(badProvider.status == 400)
            Self.expectNoSecrets(badProvider)
        }
    }

    @Test("PATCH with null for a non-nullable field is 400 naming it", arguments: TestDatabase.all)
    func patchNulls(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let account = try await app.post("/api/cloud-accounts", ["name": "prod", "provider": "aws", "credentials": Self.awsCredentials])
            try #require(account.status == 201)
            for field in ["name", "credentials"] {
                let reply = try await app.patch("/api/cloud-accounts/\(account.id)", [field: NSNull()])
                #expect(reply.status == 400, "\(field): \(reply.text)")
                #expect(reply.fieldNames == [field], "\(field): \(reply.text)")
            }
            let integration = try await app.post("/api/integrations", ["name": "ecr", "kind": "ecr", "registry": "ecr.example.com", "cloudAccountId": account.id])
            try #require(integration.status == 201)
            for field in ["name", "registry", "credentials"] {
                let reply = try await app.patch("/api/integrations/\(integration.id)", [field: NSNull()])
                #expect(reply.status == 400, "\(field): \(reply.text)")
                #expect(reply.fieldNames == [field], "\(field): \(reply.text)")
            }
            // cloudAccountId is nullable: null clears it.
            let cleared = try await app.patch("/api/integrations/\(integration.id)", ["cloudAccountId": NSNull()])
            #expect(cleared.status == 200, "\(cleared.text)")
            let data = (try JSONSerialization.jsonObject(with: cleared.body) as? [String: Any])?["data"] as? [String: Any]
            #expect(data?["cloudAccountId"] is NSNull)
            #expect(cleared["version"] as? Int == 2)
            #expect(try await app.get("/api/cloud-accounts/\(account.id)")["version"] as? Int == 1)
        }
    }

    @Test("Cloud-account credentials are stored sealed", arguments: TestDatabase.all)
    func cloudSealedAtRest(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let created = try await app.post("/api/cloud-accounts", ["name": "prod", "provider": "azure", "credentials": Self.azureCredentials])
            try #require(created.status == 201)
            let id = created.id
            let sealed = try await withDirectDatabase(url: app.databaseURL) { database in
                try await database.read { sql in
                    try await sql.raw("SELECT sealed_credentials FROM cloud_accounts WHERE id = \(bind: id)").first()?
                        .decode(column: "sealed_credentials", as: String.self)
                }
            }
            let value = try #require(sealed)
            #expect(value.hasPrefix("g1."))
            #expect(!value.contains(Self.azureSecret))
            #expect(!value.contains("tenant-1"))
            // Not merely base64 of the plaintext either.
            let decoded = Data(base64Encoded: String(value.dropFirst(3))).map { String(decoding: $0, as: UTF8.self) } ?? ""
            #expect(!decoded.contains(Self.azureSecret))
        }
    }

    // MARK: - Integrations

    @Test("Every integration kind is accepted; another kind is 400", arguments: TestDatabase.all)
    func kinds(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for kind in ["ecr", "gar", "acr", "dockerhub", "ghcr", "generic"] {
                let reply = try await app.post("/api/integrations", ["name": "reg-\(kind)", "kind": kind, "registry": "\(kind).example.com"])
                #expect(reply.status == 201, "\(kind): \(reply.text)")
                #expect(reply.id.hasPrefix("int_"))
                #expect(reply["kind"] as? String == kind)
                #expect(reply["hasCredentials"] as? Bool == false)
                let data = (try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])?["data"] as? [String: Any]
                #expect(data?["cloudAccountId"] is NSNull, "\(reply.text)")
            }
            for kind in ["quay", "ECR", ""] {
                let reply = try await app.post("/api/integrations", ["name": "bad", "kind": kind, "registry": "quay.io"])
                #expect(reply.status == 400, "\(kind)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["kind"], "\(reply.text)")
            }
            #expect(try await app.get("/api/integrations").items.count == 6)
        }
    }

    @Test("registry must be a host without scheme or path", arguments: TestDatabase.all)
    func registryHost(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            for registry in ["https://ghcr.io", "ghcr.io/acme", "ghcr.io acme", "", "registry.example.com:99999", "-bad.example.com"] {
                let reply = try await app.post("/api/integrations", ["name": "r", "kind": "generic", "registry": registry])
                #expect(reply.status == 400, "\(registry.debugDescription)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["registry"], "\(registry.debugDescription): \(reply.text)")
            }
            for (index, registry) in ["ghcr.io", "registry.example.com:5000", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "localhost"].enumerated() {
                let reply = try await app.post("/api/integrations", ["name": "r\(index)", "kind": "generic", "registry": registry])
                #expect(reply.status == 201, "\(registry): \(reply.text)")
                #expect(reply["registry"] as? String == registry)
            }
            let integration = try await app.post("/api/integrations", ["name": "p", "kind": "generic", "registry": "ghcr.io"])
            let patched = try await app.patch("/api/integrations/\(integration.id)", ["registry": "https://ghcr.io"])
            #expect(patched.status == 400)
            #expect(patched.fieldNames == ["registry"])
        }
    }

    @Test("Registry credentials are write-only: hasCredentials true, the password nowhere", arguments: TestDatabase.all)
    func registryCredentialsWriteOnly(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let created = try await app.post("/api/integrations", [
                "name": "ghcr", "kind": "ghcr", "registry": "ghcr.io", "credentials": ["username": "robot", "password": Self.registryPassword],
            ])
            #expect(created.status == 201, "\(created.text)")
            #expect(created["hasCredentials"] as? Bool == true)
            #expect(created["credentials"] == nil)
            Self.expectNoSecrets(created)

            let fetched = try await app.get("/api/integrations/\(created.id)")
            #expect(fetched["hasCredentials"] as? Bool == true)
            Self.expectNoSecrets(fetched)
            Self.expectNoSecrets(try await app.get("/api/integrations"))

            let renamed = try await app.patch("/api/integrations/\(created.id)", ["name": "ghcr-2"])
            #expect(renamed.status == 200)
            #expect(renamed["hasCredentials"] as? Bool == true)
            Self.expectNoSecrets(renamed)

            // An integration without credentials gains them by PATCH.
            let bare = try await app.post("/api/integrations", ["name": "bare", "kind": "dockerhub", "registry": "docker.io"])
            #expect(bare["hasCredentials"] as? Bool == false)
            let added = try await app.patch("/api/integrations/\(bare.id)", ["credentials": ["username": "u", "password": Self.registryPassword]])
            #expect(added.status == 200, "\(added.text)")
            #expect(added["hasCredentials"] as? Bool == true)
            Self.expectNoSecrets(added)
            #expect(try await app.get("/api/integrations/\(bare.id)")["hasCredentials"] as? Bool == true)

            // Incomplete or mistyped credentials are refused without echoing the password.
            for credentials: Any in [["password": Self.registryPassword], ["username": "u", "password": ""], Self.registryPassword,
                                     ["username": "u", "password": Self.registryPassword, "token": Self.registryPassword]] {
                let reply = try await app.post("/api/integrations", ["name": "x", "kind": "generic", "registry": "r.example.com", "credentials": credentials])
                #expect(reply.status == 400, "\(reply.text)")
                #expect(reply.errorCode == "validation_failed")
                Self.expectNoSecrets(reply)
            }
        }
    }

    @Test("cloudAccountId is only for ecr, gar and acr", arguments: TestDatabase.all)
    func cloudAccountOnlyForCloudRegistries(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let account = try await app.post("/api/cloud-accounts", ["name": "aws", "provider": "aws", "credentials": Self.awsCredentials])
            try #require(account.status == 201)
            for kind in ["dockerhub", "ghcr", "generic"] {
                let reply = try await app.post("/api/integrations", [
                    "name": "r-\(kind)", "kind": kind, "registry": "r.example.com", "cloudAccountId": account.id,
                ])
                #expect(reply.status == 400, "\(kind)")
                #expect(reply.errorCode == "validation_failed")
                #expect(reply.fieldNames == ["cloudAccountId"], "\(reply.text)")
            }
            let ecr = try await app.post("/api/integrations", [
                "name": "ecr", "kind": "ecr", "registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "cloudAccountId": account.id,
            ])
            #expect(ecr.status == 201, "\(ecr.text)")
            #expect(ecr["cloudAccountId"] as? String == account.id)
            #expect(ecr["hasCredentials"] as? Bool == false)

            // Unknown accounts are a 400 on the field, not a 404.
            let unknown = try await app.post("/api/integrations", [
                "name": "gar", "kind": "gar", "registry": "europe-docker.pkg.dev", "cloudAccountId": "ca_00000000000000000000000000",
            ])
            #expect(unknown.status == 400)
            #expect(unknown.fieldNames == ["cloudAccountId"])

            // PATCH applies the same rule, and an account in use by an integration cannot be deleted.
            let ghcr = try await app.post("/api/integrations", ["name": "ghcr", "kind": "ghcr", "registry": "ghcr.io"])
            let patched = try await app.patch("/api/integrations/\(ghcr.id)", ["cloudAccountId": account.id])
            #expect(patched.status == 400)
            #expect(patched.fieldNames == ["cloudAccountId"])
            let blocked = try await app.delete("/api/cloud-accounts/\(account.id)")
            #expect(blocked.status == 409)
            #expect(blocked.errorCode == "has_children")
            #expect(blocked.details["integrationCount"] as? Int == 1)
        }
    }

    @Test("Registry credentials and kubeconfigs are stored sealed", arguments: TestDatabase.all)
    func registrySealedAtRest(_ db: TestDatabase) async throws {
        try await TestApp.run(db) { app in
            let created = try await app.post("/api/integrations", [
                "name": "ghcr", "kind": "ghcr", "registry": "ghcr.io", "credentials": ["username": "robot", "password": Self.registryPassword],
            ])
            try #require(created.status == 201)
            let space = try await app.createSpace()
            let id = created.id
            let (sealed, kubeconfig) = try await withDirectDatabase(url: app.databaseURL) { database in
                try await database.read { sql in
                    let credentials = try await sql.raw("SELECT sealed_credentials FROM integrations WHERE id = \(bind: id)").first()?
                        .decode(column: "sealed_credentials", as: String.self)
                    let kubeconfig = try await sql.raw("SELECT sealed_kubeconfig FROM spaces WHERE id = \(bind: space)").first()?
                        .decode(column: "sealed_kubeconfig", as: String.self)
                    return (credentials, kubeconfig)
                }
            }
            let value = try #require(sealed)
            #expect(value.hasPrefix("g1."))
            #expect(!value.contains(Self.registryPassword))
            #expect(!value.contains("robot"))
            let sealedKubeconfig = try #require(kubeconfig)
            #expect(sealedKubeconfig.hasPrefix("g1."))
            #expect(!sealedKubeconfig.contains(TestApp.clusterToken))
            #expect(!sealedKubeconfig.contains(TestApp.caData))
        }
    }
}
