import Testing
@testable import KubeClient

/// Placeholder so the target exists while the client lands; replaced by the client's suites.
@Suite("KubeClient target")
struct KubeClientTargetTests {
    @Test("The module links") func links() { #expect(Bool(true)) }
}
