import GantryCore
import Testing

@Suite("Data rules")
struct RulesTests {
    @Test("DNS-1123 labels", arguments: [("checkout-prod", true), ("a", true), ("a1-b2", true), ("Prod", false), ("-a", false), ("a-", false),
                                         ("a_b", false), ("", false), (String(repeating: "a", count: 63), true), (String(repeating: "a", count: 64), false)])
    func dnsLabel(_ value: String, _ valid: Bool) {
        #expect(Rules.isDNSLabel(value) == valid)
    }

    @Test("Reserved namespaces are refused", arguments: ["kube-system", "kube-public", "kube-node-lease"])
    func reserved(_ namespace: String) {
        var validator = Validator()
        validator.namespace(namespace)
        #expect(validator.errors.map(\.field) == ["namespace"])
    }

    @Test("Registry URLs are host[:port]/path without a scheme", arguments: [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout", true), ("ghcr.io/acme/api", true), ("localhost:5000/x", true),
        ("registry.example.com", true), ("https://ghcr.io/acme", false), ("ghcr.io/acme api", false), ("", false), ("ghcr.io:99999/x", false),
    ])
    func registryURL(_ value: String, _ valid: Bool) {
        #expect(Rules.isRegistryURL(value) == valid)
    }

    @Test("Kubernetes quantities", arguments: [("250m", true), ("0.5", true), ("512Mi", true), ("1G", true), ("1e3", true), (".5", true),
                                              ("1Gi", true), ("abc", false), ("-1", false), ("1.2.3", false), ("1 Gi", false), ("1KiB", false)])
    func quantity(_ value: String, _ valid: Bool) {
        #expect(Rules.isQuantity(value) == valid)
    }

    @Test("Names are trimmed and checked")
    func names() {
        var validator = Validator()
        #expect(validator.name("  checkout ") == "checkout")
        #expect(validator.errors.isEmpty)
        _ = validator.name("   ")
        _ = validator.name(String(repeating: "x", count: 101))
        _ = validator.name("bad\u{7}name")
        #expect(validator.errors.count == 3)
    }

    @Test("Names compare ignoring case")
    func nameKey() {
        #expect(Rules.nameKey("Checkout") == Rules.nameKey("CHECKOUT"))
        #expect(Rules.nameKey("Ärger") == Rules.nameKey("ärger"))
    }

    @Test("Injected variable names", arguments: [("API_URL", true), ("_X", true), ("api_url", false), ("1X", false), ("A-B", false)])
    func envVar(_ value: String, _ valid: Bool) {
        #expect(Rules.isEnvVarName(value) == valid)
    }
}
