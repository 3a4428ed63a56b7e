import AsyncHTTPClient
import Foundation
import GantryCore
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// `gantry login --sso` (docs/api.md §9, "OpenID Connect: the CLI"): the server names the issuer and its public CLI
/// client (`GET /auth/config`); the CLI gets an ID token from the issuer with the device authorization grant
/// (RFC 8628) when the issuer offers it, else a loopback redirect (RFC 8252) with PKCE S256; the server turns that
/// ID token into a 12-hour personal access token (`POST /auth/exchange`). No token is ever printed.
enum SignOn {
    static let scope = "openid email profile"

    struct ServerConfig: Decodable {
        var issuer: String
        var clientId: String
    }

    struct Discovery: Decodable {
        var issuer: String
        var authorization_endpoint: String?
        var token_endpoint: String
        var device_authorization_endpoint: String?
    }

    struct Exchanged: Decodable {
        struct Data: Decodable {
            var token: String
            var expiresAt: String?
        }
        var data: Data
    }

    /// Signs in and returns a Gantry token (`gnt_…`) for `server`.
    /// `browser`: the loopback redirect even when the issuer offers the device flow.
    static func signIn(server: String, browser: Bool = false) async throws -> String {
        let config = try await serverConfig(server)
        let issuer = config.issuer.hasSuffix("/") ? String(config.issuer.dropLast()) : config.issuer
        let discovery = try await fetchJSON(Discovery.self, issuer + "/.well-known/openid-configuration", what: "the issuer's discovery document")
        let idToken: String
        if let device = discovery.device_authorization_endpoint, !browser || discovery.authorization_endpoint == nil {
            idToken = try await deviceFlow(endpoint: device, tokenEndpoint: discovery.token_endpoint, clientID: config.clientId)
        } else if let authorize = discovery.authorization_endpoint {
            idToken = try await loopbackFlow(authorize: authorize, tokenEndpoint: discovery.token_endpoint, clientID: config.clientId)
        } else {
            throw CLIError.failure("the issuer \(issuer) offers neither the device flow nor an authorization endpoint")
        }
        return try await exchange(server: server, idToken: idToken)
    }

    static func serverConfig(_ server: String) async throws -> ServerConfig {
        let (status, body) = try await send(HTTPClientRequest(url: server + "/auth/config"), what: server)
        if status == 404 { throw CLIError.failure("single sign-on is not configured on \(server); sign in with a token instead") }
        guard status == 200, let config = try? JSONDecoder().decode(ServerConfig.self, from: body) else {
            throw CLIError.failure("unexpected answer to GET /auth/config from \(server): HTTP \(status)")
        }
        return config
    }

    // MARK: Device authorization grant (RFC 8628)

    struct DeviceAuthorization: Decodable {
        var device_code: String
        var user_code: String
        var verification_uri: String?
        var verification_url: String?
        var verification_uri_complete: String?
        var expires_in: Int?
        var interval: Int?
    }

    struct TokenAnswer: Decodable {
        var id_token: String?
        var error: String?
        var error_description: String?
    }

    static func deviceFlow(endpoint: String, tokenEndpoint: String, clientID: String) async throws -> String {
        let (status, body) = try await postForm(endpoint, ["client_id": clientID, "scope": scope], what: "the issuer")
        guard status == 200, let device = try? JSONDecoder().decode(DeviceAuthorization.self, from: body) else {
            throw CLIError.failure("the issuer refused the device authorization request: \(describeOAuthError(status, body))")
        }
        guard let uri = device.verification_uri ?? device.verification_url else {
            throw CLIError.failure("the issuer's device authorization answer has no verification_uri")
        }
        Terminal.line("To sign in, open \(uri) and enter \(device.user_code)")
        var interval = max(device.interval ?? 5, 1)
        let deadline = Date().addingTimeInterval(TimeInterval(device.expires_in ?? 600))
        let form = ["grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": device.device_code, "client_id": clientID]
        while true {
            try await Task.sleep(for: .seconds(interval))
            guard Date() < deadline else { throw CLIError.failure("the sign-in code expired before it was approved; run gantry login --sso again") }
            let (status, body) = try await postForm(tokenEndpoint, form, what: "the issuer")
            let answer = try? JSONDecoder().decode(TokenAnswer.self, from: body)
            if status == 200 {
                guard let idToken = answer?.id_token, !idToken.isEmpty else {
                    throw CLIError.failure("the issuer's token answer has no id_token (is the openid scope allowed for \(clientID)?)")
                }
                return idToken
            }
            switch answer?.error {
            case "authorization_pending": continue
            case "slow_down": interval += 5
            case "access_denied": throw CLIError.failure("the sign-in was denied")
            case "expired_token": throw CLIError.failure("the sign-in code expired before it was approved; run gantry login --sso again")
            default: throw CLIError.failure("the issuer refused the sign-in: \(describeOAuthError(status, body))")
            }
        }
    }

    // MARK: Loopback redirect (RFC 8252) with PKCE S256 (RFC 7636)

    static func loopbackFlow(authorize: String, tokenEndpoint: String, clientID: String, timeout: TimeInterval = 300) async throws -> String {
        let listener = try LoopbackListener()
        defer { listener.close() }
        let redirectURI = "http://127.0.0.1:\(listener.port)/callback"
        let verifier = OAuthText.random()
        let challenge = OAuthText.codeChallenge(for: verifier)
        let state = OAuthText.random(bytes: 16), nonce = OAuthText.random(bytes: 16)
        guard var components = URLComponents(string: authorize) else {
            throw CLIError.failure("the issuer's authorization endpoint '\(authorize)' is not a URL")
        }
        components.percentEncodedQueryItems = (components.percentEncodedQueryItems ?? []) + [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI), ("scope", scope),
            ("state", state), ("nonce", nonce), ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ].map { URLQueryItem(name: $0.0, value: OAuthText.formEncode($0.1)) }
        guard let url = components.string else { throw CLIError.failure("cannot build the authorization URL") }
        Terminal.line("To sign in, open \(url) in a browser on this machine")
        let query = try await listener.waitForRedirect(path: "/callback", deadline: Date().addingTimeInterval(timeout))
        guard query["state"] == state else { throw CLIError.failure("the sign-in redirect carried the wrong state; try again") }
        if let error = query["error"] {
            throw CLIError.failure(error == "access_denied" ? "the sign-in was denied" : "the issuer refused the sign-in: \(error)")
        }
        guard let code = query["code"], !code.isEmpty else { throw CLIError.failure("the sign-in redirect carried no code") }
        let (status, body) = try await postForm(tokenEndpoint, [
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirectURI, "client_id": clientID, "code_verifier": verifier,
        ], what: "the issuer")
        guard status == 200, let idToken = (try? JSONDecoder().decode(TokenAnswer.self, from: body))?.id_token, !idToken.isEmpty else {
            throw CLIError.failure("the issuer refused the authorization code: \(describeOAuthError(status, body))")
        }
        // The server verifies the signature; the nonce ties the token to this request.
        guard OAuthText.jwtSegment(idToken, 1)?["nonce"] as? String == nonce else {
            throw CLIError.failure("the ID token's nonce does not match this sign-in; try again")
        }
        return idToken
    }

    // MARK: Exchange

    static func exchange(server: String, idToken: String) async throws -> String {
        var request = HTTPClientRequest(url: server + "/auth/exchange")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(["idToken": idToken])))
        let (status, body) = try await send(request, what: server)
        guard status == 201 || status == 200 else {
            if let envelope = try? JSONDecoder().decode(ErrorEnvelopeMiddleware.Envelope.self, from: body) {
                throw APIError(status: status, code: envelope.error.code, message: "the server refused the sign-in: " + envelope.error.message,
                               requestId: envelope.error.requestId, details: nil)
            }
            throw CLIError.failure("the server refused the sign-in: HTTP \(status)")
        }
        guard let exchanged = try? JSONDecoder().decode(Exchanged.self, from: body) else {
            throw CLIError.failure("unexpected answer to POST /auth/exchange from \(server)")
        }
        return exchanged.data.token
    }

    // MARK: HTTP

    static func send(_ request: HTTPClientRequest, what: String) async throws -> (Int, Data) {
        var request = request
        request.headers.replaceOrAdd(name: "User-Agent", value: "gantry-cli")
        request.headers.replaceOrAdd(name: "Accept", value: "application/json")
        do {
            let response = try await Session.httpClient.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), Data(body.readableBytesView))
        } catch {
            throw CLIError.failure("cannot reach \(what): \(CLI.describe(transport: error))")
        }
    }

    static func fetchJSON<T: Decodable>(_ type: T.Type, _ url: String, what: String) async throws -> T {
        let (status, body) = try await send(HTTPClientRequest(url: url), what: url)
        guard status == 200 else { throw CLIError.failure("cannot read \(what) at \(url): HTTP \(status)") }
        do { return try JSONDecoder().decode(type, from: body) } catch {
            throw CLIError.failure("\(what) at \(url) is not valid")
        }
    }

    static func postForm(_ url: String, _ fields: [String: String], what: String) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let form = fields.keys.sorted().map { "\($0)=\(OAuthText.formEncode(fields[$0]!))" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: form))
        return try await send(request, what: what)
    }

    /// `error` and `error_description` of an OAuth error answer (never the body otherwise: it could hold a token).
    static func describeOAuthError(_ status: Int, _ body: Data) -> String {
        guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: body), let error = answer.error else { return "HTTP \(status)" }
        return error + (answer.error_description.map { " (\($0))" } ?? "")
    }
}

/// A one-shot HTTP listener on 127.0.0.1 and a free port, for the browser's redirect back to the CLI.
final class LoopbackListener: @unchecked Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw CLIError.failure("cannot open a loopback socket for the sign-in redirect") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        guard bound == 0, listen(socket, 8) == 0 else {
            Glibc.close(socket)
            throw CLIError.failure("cannot listen on 127.0.0.1 for the sign-in redirect: \(String(cString: strerror(errno)))")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        descriptor = socket
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(descriptor) }

    /// The query of the first request for `path` (other requests, e.g. a favicon, get 404), before `deadline`.
    func waitForRedirect(path: String, deadline: Date) async throws -> [String: String] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.accept(path: path, deadline: deadline) })
            }
        }
    }

    private func accept(path: String, deadline: Date) throws -> [String: String] {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw CLIError.failure("no sign-in redirect arrived in time; run gantry login --sso again") }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining, 1) * 1000))
            if ready <= 0 { continue }
            let connection = Glibc.accept(descriptor, nil, nil)
            if connection < 0 { continue }
            defer { Glibc.close(connection) }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request = Data()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while request.count < 64 * 1024, request.range(of: Data("\r\n\r\n".utf8)) == nil {
                let count = buffer.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                request.append(contentsOf: buffer[0..<count])
            }
            let firstLine = String(decoding: request, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
            let parts = firstLine.split(separator: " ")
            guard parts.count >= 2, parts[0] == "GET", let components = URLComponents(string: String(parts[1])), components.path == path else {
                respond(connection, status: "404 Not Found", text: "Not found.")
                continue
            }
            var query: [String: String] = [:]
            for item in components.queryItems ?? [] where query[item.name] == nil { query[item.name] = item.value ?? "" }
            let failed = query["error"] != nil || query["code"] == nil
            respond(connection, status: "200 OK", text: failed ? "Sign-in failed; see the terminal." : "Signed in to Gantry. You can close this window.")
            return query
        }
    }

    private func respond(_ connection: Int32, status: String, text: String) {
        let body = "<!doctype html><meta charset=utf-8><title>Gantry</title><p>\(text)</p>\n"
        let response = "HTTP/1.1 \(status)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Cache-Control: no-store\r\nConnection: close\r\n\r\n" + body
        _ = Array(response.utf8).withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
    }
}
