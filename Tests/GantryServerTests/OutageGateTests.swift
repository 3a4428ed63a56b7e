@testable import GantryStorage
import Testing

/// How requests waiting for a PostgreSQL connection learn of an outage (PostgresBackend.failingFast).
@Suite("Outage gate")
struct OutageGateTests {
    @Test("A request still waiting for a connection is told at once when PostgreSQL goes down")
    func waiterReleasedByOutage() async throws {
        let gate = OutageGate()
        let ticket = gate.ticket()
        async let down = gate.outcome(of: ticket)
        try await waitUntil { gate.ticketsHeld == 1 }
        #expect(gate.setDown(true))
        #expect(await down)
        gate.discard(ticket)
        #expect(gate.ticketsHeld == 0)
    }

    @Test("A request that already holds its connection is never told to give up")
    func leasedRequestKeepsGoing() async {
        let gate = OutageGate()
        let ticket = gate.ticket()
        gate.settle(ticket)
        #expect(gate.setDown(true))
        #expect(await gate.outcome(of: ticket) == false)
        gate.discard(ticket)
        #expect(gate.ticketsHeld == 0)
    }

    @Test("While PostgreSQL is down a new waiter is told at once; once it is back, waiters wait for their lease")
    func downThenBack() async throws {
        let gate = OutageGate()
        #expect(gate.setDown(true))
        #expect(!gate.setDown(true), "an unchanged verdict is not a change")
        #expect(await gate.outcome(of: gate.ticket()))
        #expect(gate.setDown(false))
        let ticket = gate.ticket()
        async let leased = gate.outcome(of: ticket)
        try await waitUntil { gate.ticketsHeld >= 1 }
        gate.settle(ticket)
        #expect(await leased == false)
    }

    @Test("A cancelled waiter returns without an outage")
    func cancelledWaiter() async {
        let gate = OutageGate()
        let ticket = gate.ticket()
        let waiter = Task { await gate.outcome(of: ticket) }
        waiter.cancel()
        #expect(await waiter.value == false)
        gate.discard(ticket)
        #expect(gate.ticketsHeld == 0)
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        let start = ContinuousClock.now
        while !condition() {
            guard ContinuousClock.now - start < .seconds(5) else { Issue.record("timed out"); return }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
