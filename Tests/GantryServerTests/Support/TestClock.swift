import Foundation
import Synchronization

/// A clock in a test: real time plus however far the test has moved it, so a ten-minute limit or a 60 s lease is
/// reached by `advance(by:)` instead of by waiting. A frozen clock moves only when the test moves it, for counts that
/// time passing would change (a rate limit refilling while a loaded machine runs the test).
final class TestClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)
    private let frozenAt: Date?

    init(frozen: Bool = false) { frozenAt = frozen ? Date() : nil }

    var now: Date { (frozenAt ?? Date()).addingTimeInterval(offset.withLock { $0 }) }

    func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
}
