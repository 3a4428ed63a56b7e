import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

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

/// A fake server as tests and the `kube-test-server` executable run it: one cluster (`FakeKubeAPIServer`) or many
/// behind path prefixes (`FakeKubeFleet`).
public protocol FakeServing: Sendable {
    associatedtype Server: ApplicationProtocol
    /// The Hummingbird application on `port` (0: a free one); `onReady` gets the base URL once the port is bound.
    func application(port: Int, onReady: @escaping @Sendable (URL) -> Void) throws -> Server
}

extension FakeServing {
    /// Serves on 127.0.0.1 at a free port until `body` returns; `body` gets the base URL.
    public func run<T: Sendable>(_ body: @Sendable (URL) async throws -> T) async throws -> T {
        let bound = Mutex<URL?>(nil)
        let app = try application(port: 0) { url in bound.withLock { $0 = url } }
        return try await servingUntilDone(app, logger: app.logger, ready: {
            while bound.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(5)) }
        }) {
            try await body(bound.withLock { $0 }!)
        }
    }

    /// Serves until the process gets SIGTERM or SIGINT; `onReady` gets the base URL once the port is bound.
    public func serve(port: Int, onReady: @escaping @Sendable (URL) -> Void) async throws {
        try await application(port: port, onReady: onReady).runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}
