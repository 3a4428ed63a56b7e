import Crypto
import Foundation

/// AWS Signature Version 4 for one region and service: signs requests in the `Authorization` header or
/// presigns them into a URL, at the instant it is given (so tests can fix the clock).
///
/// Each step of the algorithm is a static function as well, so a signature can be checked independently
/// of the path that produced it. Paths are signed as non-S3 services expect: the path as sent, encoded once more.
public struct AWSSigner: Sendable {
    /// An access key, with the session token of temporary (STS) credentials.
    public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }

        /// The access key ID identifies the key (it is sent in clear in every request); the rest is secret.
        public var description: String {
            "AWS credentials \(accessKeyID) (secret access key <redacted>\(sessionToken == nil ? "" : ", session token <redacted>"))"
        }
        public var debugDescription: String { description }
        public var customMirror: Mirror { Mirror(self, children: ["accessKeyID": accessKeyID, "secret": "<redacted>"]) }
    }

    /// A request to sign. `url`'s path is taken as sent (percent-encoded); its query items are decoded
    /// before being canonically re-encoded.
    public struct Request: Sendable {
        public var method: String
        public var url: URL
        public var headers: [(name: String, value: String)]
        public var body: Data

        public init(method: String, url: URL, headers: [(name: String, value: String)] = [], body: Data = Data()) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
        }
    }

    /// A header-signed request: the headers to add, and every intermediate step for inspection.
    public struct Signature: Sendable, CustomStringConvertible {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signedHeaders: String
        /// Hex HMAC-SHA256 of the string to sign.
        public var signature: String
        public var authorization: String
        /// `X-Amz-Date`, `X-Amz-Security-Token` when there is one, and `Authorization`.
        public var headers: [(name: String, value: String)]

        public var description: String { "AWS SigV4 signature over \(signedHeaders) (<redacted>)" }
    }

    /// A presigned URL, and every intermediate step for inspection.
    public struct Presigned: Sendable, CustomStringConvertible {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signedHeaders: String
        public var signature: String
        /// The URL to send, with the signature (and any session token) in its query.
        public var url: String

        public var description: String { "AWS SigV4 presigned URL over \(signedHeaders) (<redacted>)" }
    }

    public static let algorithm = "AWS4-HMAC-SHA256"

    public var credentials: Credentials
    public var region: String
    public var service: String

    public init(credentials: Credentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    // MARK: - Signing

    /// Signs `request` as of `date` for the `Authorization` header. Adds `x-amz-date` (and
    /// `x-amz-security-token`) to the signed headers unless the request carries them; `host` comes from the URL.
    public func sign(_ request: Request, at date: Date) -> Signature {
        let (amzDate, dateStamp) = Self.timestamps(date)
        var headers = request.headers
        if !Self.has("host", in: headers) { headers.append(("host", Self.host(of: request.url))) }
        if !Self.has("x-amz-date", in: headers) { headers.append(("x-amz-date", amzDate)) }
        if let token = credentials.sessionToken, !Self.has("x-amz-security-token", in: headers) {
            headers.append(("x-amz-security-token", token))
        }
        let (canonical, signedHeaders) = Self.canonicalRequest(
            method: request.method, canonicalURI: Self.canonicalURI(path: Self.path(of: request.url)),
            canonicalQuery: Self.canonicalQuery(Self.queryItems(of: request.url)),
            headers: headers, payloadHash: Self.sha256Hex(request.body)
        )
        let scope = credentialScope(dateStamp: dateStamp)
        let stringToSign = Self.stringToSign(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        let signature = Self.signature(of: stringToSign, key: signingKey(dateStamp: dateStamp))
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"

        var added: [(name: String, value: String)] = []
        if !Self.has("x-amz-date", in: request.headers) { added.append(("X-Amz-Date", amzDate)) }
        if let token = credentials.sessionToken, !Self.has("x-amz-security-token", in: request.headers) {
            added.append(("X-Amz-Security-Token", token))
        }
        added.append(("Authorization", authorization))
        return Signature(canonicalRequest: canonical, stringToSign: stringToSign, signedHeaders: signedHeaders,
                         signature: signature, authorization: authorization, headers: added)
    }

    /// Presigns `request` as of `date`: the SigV4 parameters, `X-Amz-Expires` and any session token go in
    /// the query, which is signed together with `host` and the request's own headers.
    public func presign(_ request: Request, expiresIn seconds: Int, at date: Date) -> Presigned {
        let (amzDate, dateStamp) = Self.timestamps(date)
        var headers = request.headers
        if !Self.has("host", in: headers) { headers.append(("host", Self.host(of: request.url))) }
        let signedHeaders = Self.signedHeaderNames(headers)
        let scope = credentialScope(dateStamp: dateStamp)

        var query = Self.queryItems(of: request.url)
        query.append(("X-Amz-Algorithm", Self.algorithm))
        query.append(("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"))
        query.append(("X-Amz-Date", amzDate))
        query.append(("X-Amz-Expires", String(seconds)))
        if let token = credentials.sessionToken { query.append(("X-Amz-Security-Token", token)) }
        query.append(("X-Amz-SignedHeaders", signedHeaders))
        let canonicalQuery = Self.canonicalQuery(query)

        let path = Self.path(of: request.url)
        let (canonical, _) = Self.canonicalRequest(
            method: request.method, canonicalURI: Self.canonicalURI(path: path), canonicalQuery: canonicalQuery,
            headers: headers, payloadHash: Self.sha256Hex(request.body)
        )
        let stringToSign = Self.stringToSign(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        let signature = Self.signature(of: stringToSign, key: signingKey(dateStamp: dateStamp))
        let url = "\(request.url.scheme ?? "https")://\(Self.host(of: request.url))\(path)?\(canonicalQuery)&X-Amz-Signature=\(signature)"
        return Presigned(canonicalRequest: canonical, stringToSign: stringToSign, signedHeaders: signedHeaders,
                         signature: signature, url: url)
    }

    /// `<yyyyMMdd>/<region>/<service>/aws4_request`.
    public func credentialScope(dateStamp: String) -> String { "\(dateStamp)/\(region)/\(service)/aws4_request" }

    /// The key for `dateStamp` in this signer's region and service.
    public func signingKey(dateStamp: String) -> SymmetricKey {
        Self.signingKey(secretAccessKey: credentials.secretAccessKey, dateStamp: dateStamp, region: region, service: service)
    }

    // MARK: - The algorithm's steps

    /// Task 1: the canonical request, and the `;`-joined signed header names.
    public static func canonicalRequest(
        method: String, canonicalURI: String, canonicalQuery: String,
        headers: [(name: String, value: String)], payloadHash: String
    ) -> (request: String, signedHeaders: String) {
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(headers)
        let request = [method.uppercased(), canonicalURI, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        return (request, signedHeaders)
    }

    /// Lower-cased names with values trimmed and inner runs of spaces collapsed, repeated names' values
    /// joined by commas in order, sorted by name; each line ends in a newline.
    public static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (canonical: String, signedHeaders: String) {
        var byName: [String: [String]] = [:]
        for (name, value) in headers {
            byName[name.lowercased(), default: []].append(normalizedHeaderValue(value))
        }
        let names = byName.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let canonical = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    /// The canonical path: every byte outside RFC 3986's unreserved set and `/` percent-encoded. Given the
    /// path as sent (already encoded), this is the double encoding every service but S3 expects.
    public static func canonicalURI(path: String) -> String {
        path.isEmpty ? "/" : uriEncode(path, keepingSlash: true)
    }

    /// Names and values encoded, pairs sorted by name then value (by byte), joined with `&`.
    public static func canonicalQuery(_ items: [(name: String, value: String)]) -> String {
        items.map { (uriEncode($0.name, keepingSlash: false), uriEncode($0.value, keepingSlash: false)) }
            .sorted { lhs, rhs in
                lhs.0 == rhs.0 ? Array(lhs.1.utf8).lexicographicallyPrecedes(Array(rhs.1.utf8))
                    : Array(lhs.0.utf8).lexicographicallyPrecedes(Array(rhs.0.utf8))
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Task 2: the algorithm, the timestamp, the scope and the canonical request's SHA-256.
    public static func stringToSign(canonicalRequest: String, amzDate: String, scope: String) -> String {
        [algorithm, amzDate, scope, sha256Hex(Data(canonicalRequest.utf8))].joined(separator: "\n")
    }

    /// Task 3a: HMAC chain `"AWS4" + secret` → date → region → service → `aws4_request`.
    public static func signingKey(secretAccessKey: String, dateStamp: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data(("AWS4" + secretAccessKey).utf8))
        for part in [dateStamp, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// Task 3b: the hex HMAC-SHA256 of the string to sign.
    public static func signature(of stringToSign: String, key: SymmetricKey) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// `20150830T123600Z` and `20150830` for `date`, in UTC.
    public static func timestamps(_ date: Date) -> (amzDate: String, dateStamp: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        let dateStamp = "\(parts.year ?? 1970)\(two(parts.month))\(two(parts.day))"
        return ("\(dateStamp)T\(two(parts.hour))\(two(parts.minute))\(two(parts.second))Z", dateStamp)
    }

    public static func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    /// RFC 3986 percent-encoding of every byte but `A-Z a-z 0-9 - . _ ~` (and `/` when kept), upper-case hex.
    public static func uriEncode(_ text: String, keepingSlash: Bool) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepingSlash:
                encoded.append("/")
            default:
                encoded += "%" + hexByte(byte)
            }
        }
        return encoded
    }

    // MARK: - Helpers

    /// `host`, with `:port` when the port is not the scheme's default, as an HTTP client sends it.
    static func host(of url: URL) -> String {
        let host = url.host ?? ""
        guard let port = url.port else { return host }
        let isDefault = (url.scheme == "https" && port == 443) || (url.scheme == "http" && port == 80)
        return isDefault ? host : "\(host):\(port)"
    }

    static func path(of url: URL) -> String {
        let path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? "/"
        return path.isEmpty ? "/" : path
    }

    static func queryItems(of url: URL) -> [(name: String, value: String)] {
        guard let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQueryItems else { return [] }
        return items.map { ($0.name.removingPercentEncoding ?? $0.name, ($0.value ?? "").removingPercentEncoding ?? ($0.value ?? "")) }
    }

    static func signedHeaderNames(_ headers: [(name: String, value: String)]) -> String {
        canonicalHeaders(headers).signedHeaders
    }

    static func has(_ name: String, in headers: [(name: String, value: String)]) -> Bool {
        headers.contains { $0.name.lowercased() == name }
    }

    static func normalizedHeaderValue(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map(hexByte).joined().lowercased()
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
