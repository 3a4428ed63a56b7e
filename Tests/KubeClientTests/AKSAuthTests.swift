import AsyncHTTPClient
import Foundation
import KubeTestServer
import NIOCore
import Testing
@testable import KubeClient

@Suite("AKS credentials")
struct AKSAuthTests {
    static let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    static let clientSecret = "Qx8Q~client-secret.value_with+odd/chars="
    static let principal = AKSAuth.ServicePrincipal(tenantID: tenant, clientID: "80faf920-1908-4b52-b5ef-a8e7bedfc67a", clientSecret: clientSecret)
    static let date = Date(timeIntervalSince1970: 1_750_000_000)
    static let armToken = "eyJ.arm-token.sig"
    static let aadToken = "eyJ.aks-aad-token.sig"
    static let tokenPath = "/\(tenant)/oauth2/v2.0/token"
    static let credentialPath = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/shop-rg/providers/Microsoft.ContainerService"
        + "/managedClusters/shop/listClusterUserCredential"
    static let server = "https://shop-dns-4f2c1b.hcp.westeurope.azmk8s.io:443"

    static func auth(endpoints: CloudEndpoints = .production) throws -> AKSAuth {
        try AKSAuth(servicePrincipal: principal, subscriptionID: "0b1f6471-1bf0-4dda-aec3-cb9272f09590", resourceGroup: "shop-rg",
                    clusterName: "shop", httpClient: .shared, endpoints: endpoints, clock: { date })
    }

    static func deadline() -> NIODeadline { .now() + .seconds(10) }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// A user kubeconfig as listClusterUserCredential returns it, with `user` as the user's YAML body.
    static func kubeconfig(user: String) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: shop
          cluster:
            server: \(server)
            certificate-authority-data: \(base64(TestCertificates.clusterCA))
        contexts:
        - name: shop
          context:
            cluster: shop
            user: clusterUser_shop-rg_shop
        current-context: shop
        users:
        - name: clusterUser_shop-rg_shop
          user:
        \(user)
        """
    }

    static let kubeloginUser = """
            exec:
              apiVersion: client.authentication.k8s.io/v1beta1
              command: kubelogin
              args:
              - get-token
              - --environment
              - AzurePublicCloud
              - --server-id
              - 6dae42f8-4368-4678-94ff-3960e28e3630
              - --client-id
              - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
              - --tenant-id
              - \(tenant)
              - --login
              - devicecode
              provideClusterInfo: false
        """

    /// Answers tokens by scope (ARM or the AKS AAD server app) and the kubeconfig, like Azure does.
    static func answerAzure(_ fake: FakeCloud, kubeconfig: String) {
        fake.answer("POST", tokenPath) { request in
            let scope = request.formFields["scope"] ?? ""
            let token = scope == "https://management.azure.com/.default" ? armToken : aadToken
            return .json(["token_type": "Bearer", "expires_in": scope.hasPrefix("6dae42f8") ? 3000 : 3599, "access_token": token])
        }
        fake.answer("POST", credentialPath, with: .json(["kubeconfigs": [["name": "clusterUser", "value": base64(kubeconfig)]]]))
    }

    @Test("A static kubeconfig token is used as is, fetched with an ARM client-credentials token")
    func staticToken() async throws {
        try await FakeCloud.run { fake, base in
            Self.answerAzure(fake, kubeconfig: Self.kubeconfig(user: "    token: local-account-token"))
            let access = try await Self.auth(endpoints: .allAt(base)).clusterAccess(deadline: Self.deadline())
            #expect(access.server == Self.server)
            #expect(access.caPEM == TestCertificates.clusterCA)
            #expect(access.token == "local-account-token")
            #expect(access.expiresAt == Self.date.addingTimeInterval(AKSAuth.staticCredentialLifetime))

            let tokenRequests = fake.requests(to: Self.tokenPath)
            try #require(tokenRequests.count == 1)
            #expect(tokenRequests[0].formFields == [
                "client_id": "80faf920-1908-4b52-b5ef-a8e7bedfc67a", "client_secret": Self.clientSecret,
                "grant_type": "client_credentials", "scope": "https://management.azure.com/.default",
            ])
            let credentialRequest = try #require(fake.requests(to: Self.credentialPath).first)
            #expect(credentialRequest.method == "POST")
            #expect(credentialRequest.query == "api-version=2024-02-01")
            #expect(credentialRequest.headers["content-length"] == "0")
            #expect(credentialRequest.headers["authorization"] == "Bearer \(Self.armToken)")
        }
    }

    @Test("A kubelogin (AAD) kubeconfig gets a token for the AKS AAD server application instead")
    func aadToken() async throws {
        try await FakeCloud.run { fake, base in
            Self.answerAzure(fake, kubeconfig: Self.kubeconfig(user: Self.kubeloginUser))
            let access = try await Self.auth(endpoints: .allAt(base)).clusterAccess(deadline: Self.deadline())
            #expect(access.server == Self.server)
            #expect(access.caPEM == TestCertificates.clusterCA)
            #expect(access.token == Self.aadToken)
            #expect(access.expiresAt == Self.date.addingTimeInterval(3000))
            #expect(access.clientCertificatePEM == nil)

            let scopes = fake.requests(to: Self.tokenPath).map { $0.formFields["scope"] }
            #expect(scopes == ["https://management.azure.com/.default", "6dae42f8-4368-4678-94ff-3960e28e3630/.default"])
        }
    }

    @Test("A kubeconfig with a client certificate gives the certificate and key, and no token")
    func clientCertificate() async throws {
        let user = """
                client-certificate-data: \(Self.base64(TestCertificates.clientCertificate))
                client-key-data: \(Self.base64(TestCertificates.clientKey))
            """
        try await FakeCloud.run { fake, base in
            Self.answerAzure(fake, kubeconfig: Self.kubeconfig(user: user))
            let access = try await Self.auth(endpoints: .allAt(base)).clusterAccess(deadline: Self.deadline())
            #expect(access.token == "")
            #expect(access.clientCertificatePEM == TestCertificates.clientCertificate)
            #expect(access.clientKeyPEM == TestCertificates.clientKey)
            #expect(fake.requests(to: Self.tokenPath).count == 1)
        }
    }

    @Test("A refused client secret is a refusal of the credentials, and the secret is not in the message")
    func refusedSecret() async throws {
        try await FakeCloud.run { fake, base in
            fake.answer("POST", Self.tokenPath, with: .json([
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided (\(Self.clientSecret)).",
            ], status: 401))
            let error = await #expect(throws: CloudAuthError.self) {
                try await Self.auth(endpoints: .allAt(base)).clusterAccess(deadline: Self.deadline())
            }
            guard case .credentialsRefused(service: "Azure AD token", status: 401, let detail) = error else {
                Issue.record("expected credentialsRefused, got \(String(describing: error))")
                return
            }
            #expect(detail.contains("AADSTS7000215"))
            #expect(!String(describing: error!).contains(Self.clientSecret))
        }
    }

    @Test("A principal without rights on the cluster is refused by ARM")
    func refusedByResourceManager() async throws {
        try await FakeCloud.run { fake, base in
            Self.answerAzure(fake, kubeconfig: "")
            fake.answer("POST", Self.credentialPath, with: .json(
                ["error": ["code": "AuthorizationFailed", "message": "The client does not have authorization to perform action."]], status: 403))
            let error = await #expect(throws: CloudAuthError.self) {
                try await Self.auth(endpoints: .allAt(base)).clusterAccess(deadline: Self.deadline())
            }
            #expect(error == .credentialsRefused(service: "AKS listClusterUserCredential", status: 403,
                                                 detail: "AuthorizationFailed: The client does not have authorization to perform action."))
            #expect(!String(describing: error!).contains(Self.armToken))
        }
    }

    @Test("A kubeconfig without a CA is a cloud error naming the problem")
    func kubeconfigWithoutCA() async throws {
        let yaml = Self.kubeconfig(user: "    token: local-account-token")
            .split(separator: "\n").filter { !$0.contains("certificate-authority-data") }.joined(separator: "\n")
        try await FakeCloud.run { fake, base in
            Self.answerAzure(fake, kubeconfig: yaml)
            let error = await #expect(throws: CloudAuthError.self) {
                try await Self.auth(endpoints: .allAt(base)).clusterAccess(deadline: Self.deadline())
            }
            #expect(String(describing: error!).contains("certificate-authority-data"))
            #expect(!String(describing: error!).contains("local-account-token"))
        }
    }

    @Test("A service principal describes itself without its client secret")
    func redaction() {
        var dumped = ""
        dump(Self.principal, to: &dumped)
        for text in [String(describing: Self.principal), String(reflecting: Self.principal), dumped] {
            #expect(!text.contains(Self.clientSecret))
            #expect(text.contains(Self.principal.clientID))
        }
    }
}
