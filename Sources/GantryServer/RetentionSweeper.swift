import Foundation
import GantryStorage
import Logging
import ServiceLifecycle

/// Sweeps the rows that only ever expire (`RetentionRepository`) once at start and every ten minutes after. Every
/// replica sweeps: the deletes are by age, so two sweeps at once delete each row once.
struct RetentionSweeper: Service {
    static let interval: Duration = .seconds(600)

    let retention: any RetentionRepository
    let clock: @Sendable () -> Date
    let ready: AsyncLatch
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await ready.wait()
            while !Task.isCancelled {
                do {
                    try await retention.sweep(now: clock())
                } catch where !Task.isCancelled {
                    logger.warning("expired idempotency keys and idle rate limits could not be swept", metadata: ["error": "\(LoggableError.describe(error))"])
                } catch {}
                try? await Task.sleep(for: Self.interval)
            }
        }
    }
}
