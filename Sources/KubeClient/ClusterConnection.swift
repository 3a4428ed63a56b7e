import Foundation
import NIOSSL

/// Everything needed to talk to one cluster: where it is, the only CA to trust, and who we are.
public struct ClusterConnection: Sendable {
    public enum Credential: Sendable {
        case bearer(String)
        case clientCertificate(certificatePEM: String, keyPEM: String)
    }

    public var server: URL
    /// The cluster CA (possibly a bundle). The system trust store is never consulted.
    public var caPEM: String
    /// Overrides the name verified in the server's certificate (kubeconfig `tls-server-name`).
    public var tlsServerName: String?
    public var credential: Credential

    public init(server: URL, caPEM: String, tlsServerName: String? = nil, credential: Credential) {
        self.server = server
        self.caPEM = caPEM
        self.tlsServerName = tlsServerName
        self.credential = credential
    }

    /// From a parsed kubeconfig; an https server without CA data was refused when it was stored.
    public init(kubeconfig: Kubeconfig) throws(KubeError) {
        guard let server = URL(string: kubeconfig.server) else { throw KubeError.invalidConfiguration("the server URL is not valid") }
        let credential: Credential
        if let token = kubeconfig.token {
            credential = .bearer(token)
        } else if let certificate = kubeconfig.clientCertificateData, let key = kubeconfig.clientKeyData {
            credential = .clientCertificate(certificatePEM: String(decoding: certificate, as: UTF8.self), keyPEM: String(decoding: key, as: UTF8.self))
        } else {
            throw KubeError.invalidConfiguration("the kubeconfig has neither a token nor a client certificate")
        }
        self.init(
            server: server, caPEM: kubeconfig.certificateAuthorityData.map { String(decoding: $0, as: UTF8.self) } ?? "",
            tlsServerName: kubeconfig.tlsServerName, credential: credential
        )
    }

    /// When Gantry runs in a pod: the service account's token and CA, and the API server from the environment.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws(KubeError) -> ClusterConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            throw KubeError.invalidConfiguration("not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)")
        }
        guard let token = try? String(contentsOfFile: directory + "/token", encoding: .utf8),
              let ca = try? String(contentsOfFile: directory + "/ca.crt", encoding: .utf8) else {
            throw KubeError.invalidConfiguration("the pod's service-account token or CA cannot be read")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        guard let server = URL(string: "https://\(hostPart):\(port)") else { throw KubeError.invalidConfiguration("KUBERNETES_SERVICE_HOST is not a host") }
        return ClusterConnection(server: server, caPEM: ca, credential: .bearer(token.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// TLS that trusts exactly the cluster's CA and presents the client certificate when there is one.
    func tlsConfiguration() throws(KubeError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            let roots = try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8))
            guard !roots.isEmpty else { throw KubeError.invalidConfiguration("the cluster CA holds no certificate") }
            tls.trustRoots = .certificates(roots)
            tls.additionalTrustRoots = []
            if case .clientCertificate(let certificatePEM, let keyPEM) = credential {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
            }
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError.invalidConfiguration("the cluster CA or client certificate cannot be read")
        }
        tls.certificateVerification = .fullVerification
        return tls
    }
}
