import Foundation
import Yams

/// A kubeconfig reduced to what a catalog may store: one context's cluster and user, inline data only.
///
/// Gantry never runs a user's command or reads its disk, so `exec`, `auth-provider` and every
/// file path (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`) are refused.
public struct Kubeconfig: Sendable, Equatable {
    public var contextName: String
    public var server: String
    public var certificateAuthorityData: Data?
    public var insecureSkipTLSVerify: Bool
    public var tlsServerName: String?
    public var token: String?
    public var clientCertificateData: Data?
    public var clientKeyData: Data?

    /// Why a kubeconfig was refused; every message names a field, never a secret.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let field: String
        public let message: String
        public var description: String { "\(field): \(message)" }
        init(_ field: String, _ message: String) { self.field = field; self.message = message }
    }

    /// Parses and validates `yaml`, selecting `context` or else the file's `current-context`.
    public static func parse(_ yaml: String, context requested: String?) throws(Invalid) -> Kubeconfig {
        let root: [String: Any]
        do {
            guard let loaded = try Yams.load(yaml: yaml) as? [String: Any] else {
                throw Invalid("kubeconfig", "is not a YAML mapping; paste the whole kubeconfig file")
            }
            root = loaded
        } catch let error as Invalid {
            throw error
        } catch {
            throw Invalid("kubeconfig", "is not valid YAML")
        }
        let contexts = namedEntries(root["contexts"], key: "context")
        let clusters = namedEntries(root["clusters"], key: "cluster")
        let users = namedEntries(root["users"], key: "user")

        guard let contextName = requested ?? (root["current-context"] as? String), !contextName.isEmpty else {
            throw Invalid("context", "the kubeconfig has no current-context; name one with \"context\"")
        }
        guard let context = contexts[contextName] else {
            let known = contexts.keys.sorted().joined(separator: ", ")
            throw Invalid("context", "the kubeconfig has no context named '\(contextName)' (it has: \(known.isEmpty ? "none" : known))")
        }
        guard let clusterName = context["cluster"] as? String, let cluster = clusters[clusterName] else {
            throw Invalid("kubeconfig", "context '\(contextName)' names a cluster the file does not define")
        }
        let user: [String: Any]
        if let userName = context["user"] as? String {
            guard let found = users[userName] else {
                throw Invalid("kubeconfig", "context '\(contextName)' names a user the file does not define")
            }
            user = found
        } else {
            user = [:]
        }

        for field in ["certificate-authority"] where cluster[field] != nil {
            throw Invalid("kubeconfig", "cluster '\(clusterName)' uses \(field), a file path; inline it as certificate-authority-data")
        }
        for field in ["exec", "auth-provider"] where user[field] != nil {
            throw Invalid("kubeconfig", "user uses \(field), which would run a command; use a token or client certificate data instead")
        }
        for field in ["client-certificate", "client-key", "tokenFile"] where user[field] != nil {
            throw Invalid("kubeconfig", "user uses \(field), a file path; inline the data (client-certificate-data, client-key-data, token)")
        }
        if user["username"] != nil || user["password"] != nil {
            throw Invalid("kubeconfig", "basic authentication is not supported; use a token or client certificate data")
        }

        guard let server = cluster["server"] as? String, !server.isEmpty else {
            throw Invalid("kubeconfig", "cluster '\(clusterName)' has no server URL")
        }
        guard let url = URL(string: server), url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw Invalid("kubeconfig", "cluster '\(clusterName)' has a server that is not an http(s) URL")
        }

        var config = Kubeconfig(
            contextName: contextName, server: server, certificateAuthorityData: nil,
            insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] as? Bool ?? false,
            tlsServerName: cluster["tls-server-name"] as? String, token: user["token"] as? String,
            clientCertificateData: nil, clientKeyData: nil
        )
        if let text = cluster["certificate-authority-data"] as? String {
            guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }), isPEM(data, label: "CERTIFICATE") else {
                throw Invalid("kubeconfig", "cluster '\(clusterName)' has certificate-authority-data that is not a base64 PEM certificate")
            }
            config.certificateAuthorityData = data
        }
        if let text = user["client-certificate-data"] as? String {
            guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }), isPEM(data, label: "CERTIFICATE") else {
                throw Invalid("kubeconfig", "client-certificate-data is not a base64 PEM certificate")
            }
            config.clientCertificateData = data
        }
        if let text = user["client-key-data"] as? String {
            guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }), isPEM(data, label: "PRIVATE KEY") else {
                throw Invalid("kubeconfig", "client-key-data is not a base64 PEM private key")
            }
            config.clientKeyData = data
        }
        if (config.clientCertificateData == nil) != (config.clientKeyData == nil) {
            throw Invalid("kubeconfig", "client-certificate-data and client-key-data must be given together")
        }
        if config.token == nil && config.clientCertificateData == nil {
            throw Invalid("kubeconfig", "the user has no credentials; add a token or client-certificate-data and client-key-data")
        }
        if url.scheme == "https" && config.certificateAuthorityData == nil && !config.insecureSkipTLSVerify {
            throw Invalid("kubeconfig", "cluster '\(clusterName)' has no certificate-authority-data; Gantry trusts only the cluster's own CA")
        }
        return config
    }

    /// `[{name: x, <key>: {...}}]` → `[x: {...}]`.
    static func namedEntries(_ value: Any?, key: String) -> [String: [String: Any]] {
        var result: [String: [String: Any]] = [:]
        for entry in value as? [[String: Any]] ?? [] {
            if let name = entry["name"] as? String { result[name] = entry[key] as? [String: Any] ?? [:] }
        }
        return result
    }

    static func isPEM(_ data: Data, label: String) -> Bool {
        guard let text = String(data: data, encoding: .utf8) else { return false }
        return text.contains("-----BEGIN") && text.contains(label) && text.contains("-----END")
    }
}
