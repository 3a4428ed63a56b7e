import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

// This file holds the vocabulary every cloud credential provider shares: what they produce
// (`ClusterAccess`, `CloudToken`), how they fail (`CloudAuthError`), where they call
// (`CloudEndpoints`) and the one HTTP exchange they all make (`CloudHTTP`). They live together
// because the providers' files are the only others in CloudAuth/.

/// What a Kubernetes client needs to reach a cloud-managed cluster: the API server, the CA that
/// signs its certificate, and a bearer token (or, for some AKS local accounts, a client certificate)
/// that is good until `expiresAt`.
///
/// Its descriptions and mirror never show the token or the client key, so it may be logged.
public struct ClusterAccess: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The API server's https URL.
    public var server: String
    /// The PEM of the CA that signs the API server's certificate.
    public var caPEM: String
    /// The bearer token; empty when the cluster is reached with a client certificate only.
    public var token: String
    /// When the credential stops working (already less a provider's own safety margin).
    public var expiresAt: Date
    /// A client certificate (PEM), for AKS clusters with local accounts that issue one.
    public var clientCertificatePEM: String?
    /// The client certificate's private key (PEM).
    public var clientKeyPEM: String?

    public init(server: String, caPEM: String, token: String, expiresAt: Date,
                clientCertificatePEM: String? = nil, clientKeyPEM: String? = nil) {
        self.server = server
        self.caPEM = caPEM
        self.token = token
        self.expiresAt = expiresAt
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
    }

    public var description: String {
        let credential = token.isEmpty ? "none" : "<redacted \(token.count) characters>"
        let certificate = clientCertificatePEM == nil ? "" : ", client certificate with <redacted> key"
        return "ClusterAccess(server: \(server), CA: \(caPEM.utf8.count) bytes, token: \(credential)\(certificate), expires: \(expiresAt.formatted(.iso8601)))"
    }

    public var debugDescription: String { description }

    /// `dump()` and the debugger read the mirror, not `description`; give them the redacted view too.
    public var customMirror: Mirror {
        Mirror(self, children: ["server": server, "expiresAt": expiresAt, "credential": "<redacted>"])
    }
}

/// A bearer token a cloud issued, and when it stops working.
public struct CloudToken: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var value: String
    public var expiresAt: Date

    public init(value: String, expiresAt: Date) {
        self.value = value
        self.expiresAt = expiresAt
    }

    public var description: String { "CloudToken(<redacted>, expires: \(expiresAt.formatted(.iso8601)))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["expiresAt": expiresAt, "value": "<redacted>"]) }
}

/// Why a cloud credential could not be turned into cluster access.
///
/// Every message names the cloud call and what went wrong, never a secret: cloud answers are reduced
/// to their error code and message, and any secret Gantry sent is cut out of them before they are kept.
public enum CloudAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The cloud answered 401 or 403 (or an OAuth `invalid_client`/`invalid_grant`): the credentials are
    /// wrong, expired, or lack the permission for the call.
    case credentialsRefused(service: String, status: Int, detail: String)
    /// The cloud could not be reached: DNS, connection, TLS, or the deadline passed.
    case cloudUnreachable(service: String, reason: String)
    /// The cloud answered, but with another error status or with a body Gantry cannot use.
    case cloudError(service: String, status: Int?, detail: String)
    /// The credentials or names Gantry was given are malformed, so no call was made.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case let .credentialsRefused(service, status, detail):
            return "\(service) refused the credentials (HTTP \(status))\(Self.suffix(detail))"
        case let .cloudUnreachable(service, reason):
            return "\(service) could not be reached: \(reason)"
        case let .cloudError(service, status, detail):
            let code = status.map { " (HTTP \($0))" } ?? ""
            return "\(service) failed\(code)\(Self.suffix(detail))"
        case let .invalidConfiguration(message):
            return "invalid cloud credentials configuration: \(message)"
        }
    }

    private static func suffix(_ detail: String) -> String { detail.isEmpty ? "" : ": \(detail)" }
}

/// The base URL of every cloud service the providers call. Production values are the defaults;
/// tests point them at a local fake. `{region}` in an AWS template is replaced by the region.
public struct CloudEndpoints: Sendable, Equatable {
    /// AWS STS, whose presigned `GetCallerIdentity` URL is the EKS token.
    public var awsSTS: String
    /// The EKS API (`DescribeCluster`).
    public var awsEKS: String
    /// Where to exchange a Google JWT assertion; nil uses the service account's `token_uri`.
    public var googleTokenURI: String?
    /// The GKE API (`projects.locations.clusters.get`).
    public var googleContainer: String
    /// Microsoft Entra ID (Azure AD), for client-credentials tokens.
    public var azureLogin: String
    /// Azure Resource Manager (`listClusterUserCredential`).
    public var azureResourceManager: String
    /// The ECR API (`GetAuthorizationToken`), for registry pull secrets.
    public var awsECR: String
    /// An Azure Container Registry's token exchange (`/oauth2/exchange`); `{registry}` is replaced by the registry host.
    public var azureContainerRegistry: String

    public init(
        awsSTS: String = "https://sts.{region}.amazonaws.com",
        awsEKS: String = "https://eks.{region}.amazonaws.com",
        googleTokenURI: String? = nil,
        googleContainer: String = "https://container.googleapis.com",
        azureLogin: String = "https://login.microsoftonline.com",
        azureResourceManager: String = "https://management.azure.com",
        awsECR: String = "https://api.ecr.{region}.amazonaws.com",
        azureContainerRegistry: String = "https://{registry}"
    ) {
        self.awsSTS = awsSTS
        self.awsEKS = awsEKS
        self.googleTokenURI = googleTokenURI
        self.googleContainer = googleContainer
        self.azureLogin = azureLogin
        self.azureResourceManager = azureResourceManager
        self.awsECR = awsECR
        self.azureContainerRegistry = azureContainerRegistry
    }

    public static let production = CloudEndpoints()

    /// Every service at one base URL, e.g. a fake cloud on `http://127.0.0.1:port`.
    public static func allAt(_ base: String) -> CloudEndpoints {
        let base = base.hasSuffix("/") ? String(base.dropLast()) : base
        return CloudEndpoints(awsSTS: base, awsEKS: base, googleTokenURI: base + "/token",
                              googleContainer: base, azureLogin: base, azureResourceManager: base, awsECR: base, azureContainerRegistry: base)
    }

    /// `template` with `{region}` filled in and no trailing slash, ready for a path to be appended.
    static func resolve(_ template: String, region: String = "") -> String {
        let url = template.replacingOccurrences(of: "{region}", with: region)
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}

/// The single HTTP exchange every provider makes, with the failure mapping they share.
enum CloudHTTP {
    /// Cloud answers Gantry reads are small JSON documents; a kubeconfig is the largest.
    static let maxBodyBytes = 4 * 1024 * 1024

    /// Sends `request` and returns the body of a 2xx answer; every other outcome becomes a `CloudAuthError`
    /// whose text has had each of `secrets` cut out.
    static func send(
        _ request: HTTPClientRequest, service: String, secrets: [String], isTokenEndpoint: Bool = false,
        client: HTTPClient, deadline: NIODeadline, logger: Logger?
    ) async throws(CloudAuthError) -> Data {
        let started = NIODeadline.now()
        let status: Int
        let body: Data
        do {
            let response = try await client.execute(request, deadline: deadline, logger: logger)
            status = Int(response.status.code)
            body = Data(buffer: try await response.body.collect(upTo: maxBodyBytes))
        } catch is NIOTooManyBytesError {
            throw .cloudError(service: service, status: nil, detail: "the answer is larger than \(maxBodyBytes) bytes")
        } catch {
            logger?.debug("cloud call failed", metadata: ["service": "\(service)"])
            throw .cloudUnreachable(service: service, reason: redact(reason(for: error), secrets: secrets))
        }
        let elapsed = (NIODeadline.now() - started).nanoseconds / 1_000_000
        logger?.debug("cloud call", metadata: ["service": "\(service)", "status": "\(status)", "ms": "\(elapsed)"])
        if (200..<300).contains(status) { return body }

        let (code, message) = errorSummary(body)
        let detail = redact([code, message].compactMap { $0 }.joined(separator: ": "), secrets: secrets)
        // OAuth token endpoints answer a bad client secret or a badly signed assertion with 400 or 401 and
        // one of these codes (RFC 6749 §5.2); they are refusals of the credentials, not cloud faults.
        let refusedCodes: Set<String> = ["invalid_client", "invalid_grant", "unauthorized_client"]
        if status == 401 || status == 403 || (isTokenEndpoint && code.map(refusedCodes.contains) == true) {
            throw .credentialsRefused(service: service, status: status, detail: detail)
        }
        throw .cloudError(service: service, status: status, detail: detail)
    }

    /// Decodes a successful answer; on failure says which service's answer was unreadable, never echoing
    /// the body (a token response carries the token).
    static func decode<T: Decodable>(_ type: T.Type, from body: Data, service: String) throws(CloudAuthError) -> T {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw .cloudError(service: service, status: 200, detail: "the answer is not the expected JSON (\(fieldPath(of: error)))")
        }
    }

    /// Builds a request with a JSON `Accept` header.
    static func request(_ url: String, method: HTTPMethod, headers: [(String, String)] = [], body: Data? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        // A known-length body makes the client send Content-Length, even 0, which ARM's POST actions require.
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        return request
    }

    /// `application/x-www-form-urlencoded` for OAuth token requests.
    static func formEncoded(_ fields: [(String, String)]) -> Data {
        // RFC 3986 unreserved only: `+`, `/` and `=` in a JWT or a client secret must arrive intact.
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let encoded = fields.map { name, value in
            "\(name.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }
        return Data(encoded.joined(separator: "&").utf8)
    }

    /// Replaces every occurrence of a secret, and caps the length so a cloud cannot flood an error.
    static func redact(_ text: String, secrets: [String]) -> String {
        var text = text
        for secret in secrets where secret.count >= 4 {
            text = text.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    /// The error code and message of the error shapes AWS, Google, Azure AD and ARM answer with.
    static func errorSummary(_ body: Data) -> (code: String?, message: String?) {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return (nil, body.isEmpty ? nil : "the answer is not JSON")
        }
        // OAuth (Google, Azure AD): {"error": "invalid_grant", "error_description": "…"}
        if let code = object["error"] as? String {
            return (code, object["error_description"] as? String)
        }
        // Google APIs and ARM: {"error": {"code": 404 | "ResourceNotFound", "status": "NOT_FOUND", "message": "…"}}
        if let error = object["error"] as? [String: Any] {
            let code = (error["status"] as? String) ?? (error["code"] as? String) ?? (error["code"] as? Int).map(String.init)
            return (code, error["message"] as? String)
        }
        // AWS REST-JSON: {"__type": "…", "message": "…"} or {"Message": "…"}
        let code = (object["__type"] as? String) ?? (object["code"] as? String)
        return (code, (object["message"] as? String) ?? (object["Message"] as? String))
    }

    static func reason(for error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout: return "timed out"
            case .cancelled: return "cancelled"
            default: return String(describing: error)
            }
        }
        if error is CancellationError { return "cancelled" }
        return String(describing: error)
    }

    /// Which JSON field a decoding error is about, without the value.
    static func fieldPath(of error: any Error) -> String {
        guard let error = error as? DecodingError else { return "unreadable" }
        switch error {
        case let .keyNotFound(key, context):
            return "missing " + (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            return "wrong type at " + context.codingPath.map(\.stringValue).joined(separator: ".")
        case .dataCorrupted:
            return "not JSON"
        @unknown default:
            return "unreadable"
        }
    }

    /// Decodes a base64 PEM certificate as the clouds return cluster CAs, or says it is not one.
    static func certificatePEM(fromBase64 text: String, service: String) throws(CloudAuthError) -> String {
        guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }),
              let pem = String(data: data, encoding: .utf8),
              pem.contains("-----BEGIN CERTIFICATE-----") else {
            throw .cloudError(service: service, status: 200, detail: "the cluster CA is not a base64 PEM certificate")
        }
        return pem
    }

    /// True when `name` can sit in a URL path segment or host label as is.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 256
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    /// An OAuth 2.0 token answer (RFC 6749 §5.1), as Google and Microsoft Entra ID send it.
    struct OAuthTokenAnswer: Decodable {
        var accessToken: String
        var expiresIn: Int

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case expiresIn = "expires_in"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            accessToken = try container.decode(String.self, forKey: .accessToken)
            // Azure AD's v1 endpoint sends expires_in as a string; everyone else as a number.
            if let seconds = try? container.decode(Int.self, forKey: .expiresIn) {
                expiresIn = seconds
            } else if let text = try? container.decode(String.self, forKey: .expiresIn), let seconds = Int(text) {
                expiresIn = seconds
            } else {
                // No lifetime given: assume a short one, so a cache refreshes early rather than late.
                expiresIn = 300
            }
        }
    }
}
