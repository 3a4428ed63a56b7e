import Foundation
import GantryCore
import GantryServer
import KubeTestServer
import Testing

/// EKS, GKE and AKS spaces through the server's routes: a cloud account and a space made by the API, the
/// deployer minting a cluster token from a fake cloud (every cloud endpoint pointed at it by configuration),
/// then reading the fake cluster with that token. No secret reaches an answer.
@Suite("Cloud spaces end to end")
struct CloudSpaceTests {
    typealias Fixtures = KubeFixtures

    /// Two deployments and two pods in `shop`: 2 deployments, 1.5 cores, 3 GiB.
    static func cluster() -> FakeKubeAPIServer {
        var scenario = FakeKubeAPIServer.Scenario()
        scenario.namespaces = [Fixtures.namespace("shop")]
        scenario.add("deployments", in: "shop", [Fixtures.deployment("web", namespace: "shop", replicas: 2),
                                                 Fixtures.deployment("worker", namespace: "shop", replicas: 1)])
        scenario.add("pods", in: "shop", [Fixtures.pod("web-1", namespace: "shop", containers: [.init(cpu: "1", memory: "2Gi")]),
                                          Fixtures.pod("worker-1", namespace: "shop", containers: [.init(cpu: "500m", memory: "1Gi")])])
        // Any bearer token: the test reads the one presented from the recorded requests.
        return FakeKubeAPIServer(scenario, token: nil)
    }

    /// Every cloud API of the deployer at the fake cloud, as an operator would set GANTRY_*_ENDPOINT.
    static func settings(cloud base: String) -> [String: String] {
        Dictionary(uniqueKeysWithValues: Settings.cloudEndpointKeys.map { key in
            (key, key == Settings.keys.gcpTokenEndpoint ? base + "/token" : base)
        })
    }

    static let caData = Data(TestCertificates.clusterCA.utf8).base64EncodedString()

    /// Creates the account, the space and an environment on `shop`, reads its stats and checks the figures
    /// and that no secret of `secrets` appears in any answer.
    static func statsThroughSpace(_ app: TestApp, provider: String, credentials: [String: Any], config: [String: Any],
                                  secrets: [String]) async throws {
        let account = try await app.post("/api/cloud-accounts", ["name": "acct", "provider": provider, "credentials": credentials])
        try #require(account.status == 201, "cloud account: \(account.text)")
        let space = try await app.post("/api/spaces", ["name": "managed", "provider": provider, "cloudAccountId": account.id, "config": config])
        try #require(space.status == 201, "space: \(space.text)")
        let project = try await app.createProject()
        let environment = try await app.createEnvironment(project: project, space: space.id, namespace: "shop")
        let stats = try await app.get("/api/environments/\(environment)/stats")
        #expect(stats.status == 200, "\(stats.text)")
        #expect(stats.data["deploymentCount"] as? Int == 2)
        #expect(stats.data["podCount"] as? Int == 2)
        #expect(stats.data["cpuRequestedCores"] as? Double == 1.5)
        #expect(stats.data["memoryRequestedGB"] as? Double == 3)
        #expect(stats.data["namespaceExists"] as? Bool == true)
        let discovery = try await app.get("/api/environments/\(environment)/cluster-discovery")
        #expect(discovery.status == 200, "\(discovery.text)")
        for reply in [account, space, stats, discovery] {
            for secret in secrets { #expect(!reply.text.contains(secret), "a secret in \(reply.text)") }
        }
    }

    /// The bearer tokens the cluster was shown.
    static func presentedTokens(_ cluster: FakeKubeAPIServer) -> Set<String> {
        Set(cluster.requests.compactMap { $0.authorization?.replacingOccurrences(of: "Bearer ", with: "") })
    }

    @Test("EKS: DescribeCluster signed with the account's keys, then a presigned STS token for the cluster", arguments: TestDatabase.all)
    func eks(_ db: TestDatabase) async throws {
        let secret = "aws-secret-access-key/for+tests"
        let cluster = Self.cluster()
        try await cluster.run { kube in
            try await FakeCloud.run { cloud, base in
                cloud.answer("GET", "/clusters/prod", with: .json(["cluster": [
                    "name": "prod", "status": "ACTIVE", "endpoint": kube.absoluteString, "certificateAuthority": ["data": Self.caData] as [String: any Sendable],
                ] as [String: any Sendable]]))
                try await TestApp.run(db, settings: Self.settings(cloud: base)) { app in
                    try await Self.statsThroughSpace(app, provider: "aws", credentials: ["accessKeyId": "AKIDEXAMPLE", "secretAccessKey": secret],
                                                     config: ["clusterName": "prod", "region": "eu-west-1"], secrets: [secret])
                }
                let describe = try #require(cloud.requests(to: "/clusters/prod").first)
                #expect(describe.headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") == true)
                #expect(describe.headers["authorization"]?.contains("/eu-west-1/eks/aws4_request") == true)
                let tokens = Self.presentedTokens(cluster)
                #expect(tokens.count == 1, "one minted token, cached across the calls: \(tokens)")
                #expect(tokens.first?.hasPrefix("k8s-aws-v1.") == true)
                #expect(cloud.requests(to: "/clusters/prod").count == 1, "the cluster is described once while its token lives")
            }
        }
    }

    @Test("GKE: a JWT-bearer grant for the service account, then clusters.get, then the access token at the cluster", arguments: TestDatabase.all)
    func gke(_ db: TestDatabase) async throws {
        let accessToken = "ya29.gke-access-token-for-tests"
        let cluster = Self.cluster()
        try await cluster.run { kube in
            try await FakeCloud.run { cloud, base in
                cloud.answer("POST", "/token", with: .json(["access_token": accessToken, "expires_in": 3599, "token_type": "Bearer"]))
                cloud.answer("GET", "/v1/projects/shop-prod/locations/europe-west1/clusters/main", with: .json([
                    "name": "main", "status": "RUNNING", "endpoint": "\(kube.host!):\(kube.port!)",
                    "masterAuth": ["clusterCaCertificate": Self.caData] as [String: any Sendable],
                ]))
                let serviceAccount = try String(decoding: JSONSerialization.data(withJSONObject: [
                    "type": "service_account", "project_id": "shop-prod", "client_email": "deployer@shop-prod.iam.gserviceaccount.com",
                    "private_key": TestCertificates.serviceAccountKey, "token_uri": "https://oauth2.googleapis.com/token",
                ]), as: UTF8.self)
                try await TestApp.run(db, settings: Self.settings(cloud: base)) { app in
                    try await Self.statsThroughSpace(app, provider: "gcp", credentials: ["serviceAccountJson": serviceAccount],
                                                     config: ["clusterName": "main", "region": "europe-west1"],
                                                     secrets: ["BEGIN PRIVATE KEY", accessToken])
                }
                let grant = try #require(cloud.requests(to: "/token").first)
                #expect(grant.formFields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
                #expect(grant.formFields["assertion"]?.split(separator: ".").count == 3)
                #expect(Self.presentedTokens(cluster) == [accessToken])
            }
        }
    }

    @Test("AKS: a client-credentials token for ARM, then listClusterUserCredential's kubeconfig at the cluster", arguments: TestDatabase.all)
    func aks(_ db: TestDatabase) async throws {
        let clientSecret = "azure-client-secret~for.tests"
        let clusterToken = "aks-local-account-token"
        let cluster = Self.cluster()
        try await cluster.run { kube in
            try await FakeCloud.run { cloud, base in
                cloud.answer("POST", "/tenant-1/oauth2/v2.0/token", with: .json(["token_type": "Bearer", "expires_in": 3599, "access_token": "arm-token"]))
                let kubeconfig = """
                    apiVersion: v1
                    kind: Config
                    current-context: shop
                    clusters:
                    - name: shop
                      cluster: {server: "\(kube.absoluteString)", certificate-authority-data: \(Self.caData)}
                    contexts:
                    - name: shop
                      context: {cluster: shop, user: clusterUser}
                    users:
                    - name: clusterUser
                      user: {token: \(clusterToken)}
                    """
                cloud.answer("POST", "/subscriptions/sub-1/resourceGroups/shop-rg/providers/Microsoft.ContainerService/managedClusters/shop/listClusterUserCredential",
                             with: .json(["kubeconfigs": [["name": "clusterUser", "value": Data(kubeconfig.utf8).base64EncodedString()] as [String: any Sendable]]]))
                try await TestApp.run(db, settings: Self.settings(cloud: base)) { app in
                    try await Self.statsThroughSpace(
                        app, provider: "azure",
                        credentials: ["tenantId": "tenant-1", "clientId": "client-1", "clientSecret": clientSecret, "subscriptionId": "sub-1"],
                        config: ["clusterName": "shop", "resourceGroup": "shop-rg"], secrets: [clientSecret, clusterToken]
                    )
                }
                let login = try #require(cloud.requests(to: "/tenant-1/oauth2/v2.0/token").first)
                #expect(login.formFields["grant_type"] == "client_credentials")
                #expect(login.formFields["client_secret"] == clientSecret)
                #expect(Self.presentedTokens(cluster) == [clusterToken])
            }
        }
    }

    @Test("A cloud endpoint that is not https (except to this machine) stops the server at start")
    func endpointsMustBeTLS() async throws {
        await #expect(throws: ConfigurationError.self) {
            try await TestApp.run(.sqlite, settings: [Settings.keys.awsEKSEndpoint: "http://eks.example.com"]) { _ in }
        }
    }
}
