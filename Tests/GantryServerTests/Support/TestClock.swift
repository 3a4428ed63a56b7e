import Foundation
import Synchronization

/// The deployer's clock in a test: real time plus however far the test has moved it, so a ten-minute limit or a
/// 60 s lease is reached by `advance(by:)` instead of by waiting.
final class TestClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)

    var now: Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
}
