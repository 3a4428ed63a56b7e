import Synchronization

/// A fair async mutual-exclusion lock: SQLite allows one writer, so write transactions queue here
/// instead of interleaving their statements on the shared connection.
struct AsyncLock: Sendable {
    private let slot = SlotPool(count: 1)

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await slot.withSlot { _ in try await body() }
    }
}

/// Opens once and stays open: lets work wait until a service has started.
public final class AsyncLatch: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    public func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    public func wait() async {
        if state.withLock({ $0.isOpen }) { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state -> Bool in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }
}

/// Hands out `count` slots (connection indices), one holder at a time each; later callers wait their turn, first come first served.
final class SlotPool: Sendable {
    private struct State {
        var free: [Int]
        var waiters: [CheckedContinuation<Int, Never>] = []
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(free: Array((0..<count).reversed())))
    }

    func withSlot<T: Sendable>(_ body: (Int) async throws -> T) async throws -> T {
        let slot = await acquire()
        defer { release(slot) }
        return try await body(slot)
    }

    private func acquire() async -> Int {
        // A free slot is taken without suspending: a suspension costs every read a trip through its executor's queue.
        // Slots are only free while nobody waits (`release` hands them to waiters first), so this jumps no queue.
        if let slot = state.withLock({ $0.free.popLast() }) { return slot }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            let slot = state.withLock { state -> Int? in
                if let slot = state.free.popLast() { return slot }
                state.waiters.append(continuation)
                return nil
            }
            if let slot { continuation.resume(returning: slot) }
        }
    }

    private func release(_ slot: Int) {
        let next = state.withLock { state -> CheckedContinuation<Int, Never>? in
            if state.waiters.isEmpty {
                state.free.append(slot)
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume(returning: slot)
    }
}
