import Foundation
import KubeTestServer
import Testing

/// Builders for the catalog a test needs, each asserting its own creation succeeded.
extension TestApp {
    static let caData = Data("-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n".utf8).base64EncodedString()
    static let clusterToken = "kube-token-4f8a9c2e-very-secret"

    /// A kubeconfig for the fake Kubernetes API server at `url`, trusting its real test CA.
    static func kubeconfig(fakeCluster url: URL, token: String = "test-cluster-token") -> String {
        kubeconfig(server: url.absoluteString, userFields: "    token: \(token)")
            .replacingOccurrences(of: caData, with: Data(TestCertificates.clusterCA.utf8).base64EncodedString())
    }

    static func kubeconfig(server: String = "https://127.0.0.1:9", context: String = "prod", userFields: String? = nil) -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: \(context)
        clusters:
        - name: c1
          cluster:
            server: \(server)
            certificate-authority-data: \(caData)
        contexts:
        - name: \(context)
          context: {cluster: c1, user: u1}
        - name: staging
          context: {cluster: c1, user: u1}
        users:
        - name: u1
          user:
        \(userFields ?? "    token: \(clusterToken)")
        """
    }

    func createProject(_ name: String = "checkout-\(UUID().uuidString.prefix(6))", description: String? = nil) async throws -> String {
        var body: [String: Any] = ["name": name]
        if let description { body["description"] = description }
        let reply = try await post("/api/projects", body)
        try #require(reply.status == 201, "create project: \(reply.text)")
        return reply.id
    }

    func createSpace(_ name: String = "space-\(UUID().uuidString.prefix(6))") async throws -> String {
        let reply = try await post("/api/spaces", ["name": name, "provider": "kubeconfig", "kubeconfig": Self.kubeconfig()])
        try #require(reply.status == 201, "create space: \(reply.text)")
        return reply.id
    }

    func createEnvironment(project: String, space: String, name: String = "prod", namespace: String? = nil) async throws -> String {
        let reply = try await post(
            "/api/projects/\(project)/environments",
            ["name": name, "spaceId": space, "namespace": namespace ?? "ns-\(UUID().uuidString.prefix(8).lowercased())"]
        )
        try #require(reply.status == 201, "create environment: \(reply.text)")
        return reply.id
    }

    func createDeployment(environment: String, name: String = "api") async throws -> String {
        let reply = try await post("/api/environments/\(environment)/deployments", ["name": name, "image": "ghcr.io/acme/\(name):1.0"])
        try #require(reply.status == 201, "create deployment: \(reply.text)")
        return reply.id
    }

    /// Project → space → environment → deployment, the usual starting point.
    func createTree() async throws -> (project: String, space: String, environment: String, deployment: String) {
        let project = try await createProject()
        let space = try await createSpace()
        let environment = try await createEnvironment(project: project, space: space)
        let deployment = try await createDeployment(environment: environment)
        return (project, space, environment, deployment)
    }

    /// A new member holding `role` at `scope`, and a token for them minted by the admin.
    func createMember(role: String, scope: String) async throws -> (user: String, token: String) {
        let user = try await post("/api/users", ["email": "m-\(UUID().uuidString.prefix(8))@example.com", "name": "Member"])
        try #require(user.status == 201, "create member: \(user.text)")
        let grant = try await post("/api/assignments", ["userId": user.id, "roleId": role, "scope": scope])
        try #require(grant.status == 201, "assign: \(grant.text)")
        return (user.id, try await mintToken(for: user.id))
    }

    func mintToken(for user: String) async throws -> String {
        let token = try await post("/api/users/\(user)/tokens", ["name": "t-\(UUID().uuidString.prefix(6))"])
        try #require(token.status == 201, "mint token: \(token.text)")
        return try #require(token["token"] as? String)
    }
}
