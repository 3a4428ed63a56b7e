import Foundation
import KubeClient
import Testing

@Suite("Kubeconfig parsing")
struct KubeconfigTests {
    static let ca = Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8).base64EncodedString()

    static func yaml(cluster: String = "    certificate-authority-data: \(ca)", user: String = "    token: abc") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: c1
          cluster:
            server: https://10.0.0.1:6443
        \(cluster)
        contexts:
        - name: prod
          context: {cluster: c1, user: u1}
        - name: other
          context: {cluster: c1, user: u1}
        users:
        - name: u1
          user:
        \(user)
        """
    }

    @Test("The current context is chosen unless one is named")
    func contextSelection() throws {
        #expect(try Kubeconfig.parse(Self.yaml(), context: nil).contextName == "prod")
        #expect(try Kubeconfig.parse(Self.yaml(), context: "other").contextName == "other")
        let parsed = try Kubeconfig.parse(Self.yaml(), context: nil)
        #expect(parsed.server == "https://10.0.0.1:6443")
        #expect(parsed.token == "abc")
        #expect(parsed.certificateAuthorityData != nil)
    }

    @Test("Client certificate data is accepted")
    func clientCertificate() throws {
        let key = Data("-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n".utf8).base64EncodedString()
        let parsed = try Kubeconfig.parse(Self.yaml(user: "    client-certificate-data: \(Self.ca)\n    client-key-data: \(key)"), context: nil)
        #expect(parsed.clientCertificateData != nil && parsed.clientKeyData != nil)
    }

    @Test("Anything that would run a command or read a file is refused", arguments: [
        "    exec:\n      command: aws", "    auth-provider:\n      name: gcp", "    tokenFile: /var/run/token",
        "    client-certificate: /tmp/c.pem\n    client-key: /tmp/k.pem",
    ])
    func refusedUsers(_ user: String) {
        #expect(throws: Kubeconfig.Invalid.self) { try Kubeconfig.parse(Self.yaml(user: user), context: nil) }
    }

    @Test("A CA file path, unparsable CA data, an unknown context or no credentials are refused")
    func refusedOther() {
        #expect(throws: Kubeconfig.Invalid.self) { try Kubeconfig.parse(Self.yaml(cluster: "    certificate-authority: /ca.pem"), context: nil) }
        #expect(throws: Kubeconfig.Invalid.self) { try Kubeconfig.parse(Self.yaml(cluster: "    certificate-authority-data: bm90IGEgY2VydA=="), context: nil) }
        #expect(throws: Kubeconfig.Invalid.self) { try Kubeconfig.parse(Self.yaml(), context: "missing") }
        #expect(throws: Kubeconfig.Invalid.self) { try Kubeconfig.parse(Self.yaml(user: "    {}"), context: nil) }
        #expect(throws: Kubeconfig.Invalid.self) { try Kubeconfig.parse("not: [yaml", context: nil) }
    }

    @Test("Errors never quote the credentials")
    func errorsAreClean() {
        do {
            _ = try Kubeconfig.parse(Self.yaml(user: "    token: s3cr3t-value\n    exec:\n      command: x"), context: nil)
            Issue.record("expected a refusal")
        } catch {
            #expect(!error.description.contains("s3cr3t-value"))
        }
    }
}
