import Configuration
import Foundation
import GantryCore

/// Single sign-on's settings (docs/api.md §9). Without `--oidc-issuer` there are none and `/auth/*` is not served.
public struct SignOnSettings: Sendable {
    public var issuer: String
    public var clientID: String
    /// Nil for a public client, which proves itself with PKCE alone.
    public var clientSecret: String?
    /// The public client the CLI uses for the device flow (`GET /auth/config`); never given a secret.
    public var cliClientID: String
    /// The browser-facing base URL, without a trailing slash.
    public var publicURL: String
    public var organization: String?
    public var groupsClaim: String
    public var mappings: [GroupRoleMapping]

    public var redirectURI: String { publicURL + "/auth/callback" }
    /// The session cookie is `Secure` when the console is served over https.
    public var secureCookie: Bool { publicURL.hasPrefix("https://") }

    public static let keys = (
        issuer: "oidc-issuer", clientID: "oidc-client-id", clientSecretFile: "oidc-client-secret-file", publicURL: "public-url",
        organization: "oidc-organization", groupsClaim: "oidc-groups-claim", groupRole: "oidc-group-role", cliClientID: "oidc-cli-client-id"
    )

    /// Reads and checks the settings; any problem is a `ConfigurationError` naming the setting (exit 2).
    /// `--oidc-group-role` repeats; in the environment, `GANTRY_OIDC_GROUP_ROLE` holds them separated by commas.
    static func read(_ reader: ConfigReader) throws -> SignOnSettings? {
        guard let issuer = reader.string(forKey: ConfigKey(keys.issuer)).map(trimmingSlash) else { return nil }
        guard Self.isAllowedURL(issuer) else {
            throw ConfigurationError("--oidc-issuer must be an https:// URL (http:// only on loopback, for tests), got '\(issuer)'")
        }
        guard let clientID = reader.string(forKey: ConfigKey(keys.clientID)), !clientID.isEmpty else {
            throw ConfigurationError("--oidc-client-id is required with --oidc-issuer")
        }
        guard let publicURL = reader.string(forKey: ConfigKey(keys.publicURL)).map(trimmingSlash), !publicURL.isEmpty else {
            throw ConfigurationError("--public-url is required with --oidc-issuer (the browser-facing base URL, for <public-url>/auth/callback)")
        }
        guard let parsed = URL(string: publicURL), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ConfigurationError("--public-url must be an http:// or https:// URL, got '\(publicURL)'")
        }
        var secret: String?
        if let path = reader.string(forKey: ConfigKey(keys.clientSecretFile)) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError("--oidc-client-secret-file: cannot read \(path)")
            }
            secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard secret?.isEmpty == false else { throw ConfigurationError("--oidc-client-secret-file: \(path) is empty") }
        }
        var mappings: [GroupRoleMapping] = []
        for text in (reader.string(forKey: ConfigKey(keys.groupRole)) ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
            where !text.isEmpty {
            guard let mapping = GroupRoleMapping(parsing: text) else {
                throw ConfigurationError("--oidc-group-role must look like GROUP=ROLE_ID@SCOPE, e.g. platform=role_admin@org "
                                         + "or devs=role_developer@project:prj_…; got '\(text)'")
            }
            mappings.append(mapping)
        }
        let organization = reader.string(forKey: ConfigKey(keys.organization))
        if let organization, !IDGenerator.isValid(organization, prefix: .organization) {
            throw ConfigurationError("--oidc-organization must be an organization ID (org_…), got '\(organization)'")
        }
        return SignOnSettings(
            issuer: issuer, clientID: clientID, clientSecret: secret, cliClientID: reader.string(forKey: ConfigKey(keys.cliClientID)) ?? clientID,
            publicURL: publicURL, organization: organization, groupsClaim: reader.string(forKey: ConfigKey(keys.groupsClaim), default: "groups"),
            mappings: mappings
        )
    }

    static func trimmingSlash(_ text: String) -> String { text.hasSuffix("/") ? String(text.dropLast()) : text }

    /// ID tokens and client secrets travel to the issuer: TLS, except on this machine.
    static func isAllowedURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let host = url.host, url.query == nil else { return false }
        return url.scheme == "https" || (url.scheme == "http" && ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host))
    }
}
