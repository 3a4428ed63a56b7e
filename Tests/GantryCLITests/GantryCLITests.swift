import Testing
@testable import GantryCLI

@Suite("CLI target")
struct GantryCLITargetTests {
    @Test("The module links") func links() { _ = GantryCLI.self }
}
