import GantryStorage
import Synchronization

/// Namespaces whose cluster state changed, from the space caches' watches to status sync: a change wakes status sync
/// at once instead of waiting for its next pass, which is how a change shows in the catalog within a second or two.
final class ClusterChanges: Sendable {
    private struct State {
        var pending: [SyncSpace: Set<String>] = [:]
        /// When the oldest pending change was noted: status sync's lag is measured from it.
        var since: ContinuousClock.Instant?
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func note(_ space: SyncSpace, namespaces: Set<String>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.pending[space, default: []].formUnion(namespaces)
            if state.since == nil { state.since = .now }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The changes noted since the last call, and when the oldest of them was noted.
    func take() -> (changes: [SyncSpace: Set<String>], since: ContinuousClock.Instant?) {
        state.withLock { state in
            defer { state.pending = [:]; state.since = nil }
            return (state.pending, state.since)
        }
    }

    /// Returns when a change is pending or after `timeout`. One waiter at a time (status sync's loop).
    func wait(upTo timeout: Duration) async {
        guard timeout > .zero else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForChange() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForChange() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.pending.isEmpty || Task.isCancelled { return true }
                    state.waiter?.resume()
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
