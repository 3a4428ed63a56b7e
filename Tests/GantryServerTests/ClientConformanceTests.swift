import AsyncHTTPClient
import Foundation
import GantryAPI
import HTTPTypes
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import Testing

/// The server conforms to `openapi.yaml`: the typed client generated from the same document
/// drives a real socket through every catalog operation and decodes every answer.
@Suite("OpenAPI conformance")
struct ClientConformanceTests {
    struct Bearer: ClientMiddleware {
        let token: String
        func intercept(
            _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
            next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
        ) async throws -> (HTTPResponse, HTTPBody?) {
            var request = request
            request.headerFields[.authorization] = "Bearer \(token)"
            return try await next(request, body, baseURL)
        }
    }

    @Test("Every catalog operation answers what the document promises", arguments: TestDatabase.all)
    func walkthrough(_ db: TestDatabase) async throws {
        try await TestApp.run(db, mode: .live) { app in
            let port = try #require(app.client.port)
            let client = Client(
                serverURL: URL(string: "http://127.0.0.1:\(port)/api")!,
                transport: AsyncHTTPClientTransport(),
                middlewares: [Bearer(token: app.token)]
            )
            let me = try await client.getMe().ok.body.json.data
            #expect(me.user.email == "admin@localhost")

            let project = try await client.createProject(body: .json(.init(name: "checkout"))).created
            #expect(project.headers.eTag == "\"1\"")
            let projectID = try project.body.json.data.id
            _ = try await client.getProject(path: .init(projectID: projectID)).ok
            _ = try await client.updateProject(path: .init(projectID: projectID), body: .json(.init(description: "Checkout service"))).ok
            #expect(try await client.listProjects().ok.body.json.data.count == 1)

            let space = try await client.createSpace(body: .json(.init(
                name: "us-east", provider: .kubeconfig, kubeconfig: TestApp.kubeconfig()
            ))).created.body.json.data
            #expect(space.server == "https://127.0.0.1:9")
            _ = try await client.listSpaces().ok
            _ = try await client.getSpace(path: .init(spaceID: space.id)).ok

            let account = try await client.createCloudAccount(body: .json(.init(
                name: "aws-prod", provider: .aws, credentials: .init(accessKeyId: "AKIA1", secretAccessKey: "s3cr3t")
            ))).created.body.json.data
            _ = try await client.listCloudAccounts().ok
            _ = try await client.updateCloudAccount(path: .init(cloudAccountID: account.id), body: .json(.init(name: "aws-main"))).ok
            let integration = try await client.createIntegration(body: .json(.init(
                name: "ecr", kind: .ecr, registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com", cloudAccountId: account.id
            ))).created.body.json.data
            #expect(integration.hasCredentials == false)
            _ = try await client.listIntegrations().ok

            let environment = try await client.createEnvironment(
                path: .init(projectID: projectID),
                body: .json(.init(name: "prod-us-east", spaceId: space.id, namespace: "checkout-prod", registryIntegrationId: integration.id,
                                  registryUrl: "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout"))
            ).created.body.json.data
            _ = try await client.getEnvironment(path: .init(projectID: projectID, envID: environment.id)).ok
            _ = try await client.getEnvironmentById(path: .init(envID: environment.id)).ok
            _ = try await client.listEnvironments(path: .init(projectID: projectID)).ok

            let api = try await client.createDeployment(
                path: .init(envID: environment.id),
                body: .json(.init(name: "api", image: "ghcr.io/acme/api:1", resources: .init(cpuRequest: "250m", memoryRequest: "512Mi")))
            ).created.body.json.data
            let web = try await client.createDeployment(path: .init(envID: environment.id), body: .json(.init(name: "web", image: "ghcr.io/acme/web:1")))
                .created.body.json.data
            #expect(api.status == .pending)
            _ = try await client.updateDeployment(path: .init(deploymentID: api.id), body: .json(.init(canvasPosition: .init(x: 40, y: 80)))).ok
            _ = try await client.listDeployments(path: .init(envID: environment.id)).ok
            let connection = try await client.createConnection(
                path: .init(envID: environment.id),
                body: .json(.init(fromDeploymentId: web.id, toDeploymentId: api.id, sourceHint: .suggestion, injectedVar: "API_URL"))
            ).created.body.json.data
            #expect(try await client.acceptConnection(path: .init(connectionID: connection.id)).ok.body.json.data.sourceHint == .manual)
            _ = try await client.listConnections(path: .init(envID: environment.id)).ok

            let stats = try await client.getProjectStats().ok.body.json.data
            #expect(stats.first?.serviceCount == 2)
            #expect(stats.first?.statusBuckets.pending == 2)
            let preview = try await client.deleteProject(path: .init(projectID: projectID), query: .init(dryRun: true)).ok.body.json.data
            #expect(preview.deletable == false)

            _ = try await client.deleteConnection(path: .init(connectionID: connection.id)).noContent
            _ = try await client.deleteDeployment(path: .init(deploymentID: api.id)).noContent
            _ = try await client.deleteDeployment(path: .init(deploymentID: web.id)).noContent
            _ = try await client.deleteEnvironment(path: .init(projectID: projectID, envID: environment.id)).noContent
            _ = try await client.deleteIntegration(path: .init(integrationID: integration.id)).noContent
            _ = try await client.deleteCloudAccount(path: .init(cloudAccountID: account.id)).noContent
            _ = try await client.deleteSpace(path: .init(spaceID: space.id)).noContent
            _ = try await client.deleteProject(path: .init(projectID: projectID)).noContent
            _ = try await client.restoreProject(path: .init(projectID: projectID)).ok

            let token = try await client.createToken(body: .json(.init(name: "ci"))).created.body.json.data
            #expect(token.token.hasPrefix("gnt_"))
            #expect(try await client.listTokens().ok.body.json.data.contains { $0.id == token.id })
            _ = try await client.revokeToken(path: .init(tokenID: token.id)).noContent

            let missing = try await client.getProject(path: .init(projectID: "prj_00000000000000000000000000"))
            guard case .default(let status, let error) = missing else { Issue.record("expected an error answer"); return }
            #expect(status == 404)
            #expect(try error.body.json.error.code == .notFound)
        }
    }
}
