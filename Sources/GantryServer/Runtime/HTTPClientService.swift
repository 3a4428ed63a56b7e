import AsyncHTTPClient
import ServiceLifecycle

/// Shuts the cluster HTTP client down when the application stops (it must be shut down before release).
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
