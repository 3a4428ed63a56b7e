import Synchronization

/// Requests waiting for a pooled PostgreSQL connection, and whether the probe says PostgreSQL is down.
///
/// A request that is still waiting when PostgreSQL goes down is told at once, so it can answer 503 instead of
/// hanging until PostgreSQL returns. Waiters park on a continuation, not a timer: a cancelled `Task.sleep`
/// keeps its memory until its deadline passes, which under load adds up to megabytes.
final class OutageGate: Sendable {
    private enum Entry {
        case waiting(CheckedContinuation<Bool, Never>)
        case settled(down: Bool)
    }

    private struct State {
        var isDown = false
        var nextTicket = 0
        var entries: [Int: Entry] = [:]
    }

    private let state = Mutex(State())

    var isDown: Bool { state.withLock { $0.isDown } }

    /// Tickets not yet discarded (for tests: every request's ticket is forgotten when it ends).
    var ticketsHeld: Int { state.withLock { $0.entries.count } }

    /// Records the probe's verdict; going down releases every waiter with `true`. Returns whether it changed.
    func setDown(_ down: Bool) -> Bool {
        let (changed, released) = state.withLock { state -> (Bool, [CheckedContinuation<Bool, Never>]) in
            guard state.isDown != down else { return (false, []) }
            state.isDown = down
            guard down else { return (true, []) }
            var released: [CheckedContinuation<Bool, Never>] = []
            for (ticket, entry) in state.entries {
                guard case .waiting(let continuation) = entry else { continue }
                released.append(continuation)
                state.entries[ticket] = .settled(down: true)
            }
            return (true, released)
        }
        for continuation in released { continuation.resume(returning: true) }
        return changed
    }

    func ticket() -> Int {
        state.withLock { state in
            defer { state.nextTicket &+= 1 }
            return state.nextTicket
        }
    }

    /// Suspends until the ticket is settled: `true` if PostgreSQL went down first, `false` once the request
    /// holds a connection (or is cancelled).
    func outcome(of ticket: Int) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let settled = state.withLock { state -> Bool? in
                    // A request that already holds its connection is never told to give up.
                    if case .settled(let down)? = state.entries[ticket] { return down }
                    if state.isDown { return true }
                    state.entries[ticket] = .waiting(continuation)
                    return nil
                }
                if let settled { continuation.resume(returning: settled) }
            }
        } onCancel: {
            settle(ticket)
        }
    }

    /// The request holds a connection (or gave up): its waiter, if any, returns `false`.
    func settle(_ ticket: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            switch state.entries[ticket] {
            case .waiting(let continuation)?:
                state.entries[ticket] = .settled(down: false)
                return continuation
            case .settled?:
                return nil
            case nil:
                state.entries[ticket] = .settled(down: false)
                return nil
            }
        }
        waiter?.resume(returning: false)
    }

    /// Forgets the ticket once its request is over.
    func discard(_ ticket: Int) {
        state.withLock { _ = $0.entries.removeValue(forKey: ticket) }
    }
}
