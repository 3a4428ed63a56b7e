import Hummingbird
import Logging
import ServiceLifecycle

/// Runs `app` while `body` runs, then shuts it down gracefully.
///
/// Cancelling a Hummingbird server's task instead can drop a connection that was accepted but not yet
/// served, and NIO traps on that ("Deinited NIOAsyncWriter without calling finish()", swift-nio#2637): a
/// test that stopped its fake server that way crashed the whole test process now and then. A graceful
/// shutdown drains what was accepted; cancellation stays as the fallback for a request that never ends.
func servingUntilDone<App: ApplicationProtocol, T: Sendable>(
    _ app: App, logger: Logger, ready: @escaping @Sendable () async throws -> Void, _ body: @Sendable () async throws -> T
) async throws -> T {
    let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
    return try await withThrowingTaskGroup(of: T?.self, returning: T.self) { group in
        group.addTask { try await services.run(); return nil }
        let result: Result<T, any Error>
        do {
            try await ready()
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        await services.triggerGracefulShutdown()
        group.addTask { try? await Task.sleep(for: .seconds(10)); return nil }
        _ = try? await group.next()
        group.cancelAll()
        return try result.get()
    }
}
