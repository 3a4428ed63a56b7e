import Foundation
import GantryCore
import GantryStorage
import HTTPTypes
import Hummingbird
import NIOCore

/// `/auth/*` (docs/api.md §9): the console's sign-in with the authorization code flow, logout, and the CLI's
/// exchange of an ID token for a 12-hour personal access token. Served only when single sign-on is configured.
struct SignOnRoutes {
    static let cookieName = "gantry_session"
    /// How long a login may take between `/auth/login` and `/auth/callback`.
    static let loginLifetime: TimeInterval = 10 * 60
    static let paths: [(String, Set<HTTPRequest.Method>)] = [
        ("/auth/config", [.get]), ("/auth/login", [.get]), ("/auth/callback", [.get]), ("/auth/logout", [.post]), ("/auth/exchange", [.post]),
    ]

    let settings: SignOnSettings
    let provider: OpenIDProvider
    let signOn: any SignOnRepository
    let clock: @Sendable () -> Date

    func register(on router: Router<AppRequestContext>) {
        let auth = router.group("auth")
        auth.get("config") { _, _ in
            try Self.json(.ok, ["issuer": settings.issuer, "clientId": settings.cliClientID])
        }
        auth.get("login") { _, _ in try await login() }
        auth.get("callback") { request, _ in try await callback(request) }
        auth.post("logout") { request, _ in try await logout(request) }
        auth.post("exchange") { request, context in try await exchange(request, context: context) }
    }

    func login() async throws -> Response {
        let state = OAuthText.random(), nonce = OAuthText.random(), verifier = OAuthText.random(bytes: 48)
        let location = try await provider.authorizationURL(state: state, nonce: nonce, codeChallenge: OAuthText.codeChallenge(for: verifier))
        try await signOn.begin(state: state, nonce: nonce, codeVerifier: verifier, now: clock())
        return Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// The browser comes back from the identity provider: one use of the login's `state`, the code traded with its
    /// PKCE verifier, the ID token checked against the login's `nonce`, then the session cookie. Any failure is a 4xx
    /// with the error envelope, sets no cookie and creates nothing.
    func callback(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        if let error = query["error"].map(String.init) {
            let description = query["error_description"].map { ": \($0)" } ?? ""
            throw AppError(.unauthenticated, "The identity provider did not sign you in (\(error)\(description)).")
        }
        guard let state = query["state"].map(String.init), let code = query["code"].map(String.init), !state.isEmpty, !code.isEmpty else {
            throw AppError(.badRequest, "The sign-in callback needs the code and state the identity provider sends; start again from /auth/login.")
        }
        guard let login = try await signOn.consume(state: state, now: clock(), maxAge: Self.loginLifetime) else {
            throw AppError(.badRequest, "This sign-in is unknown, was already used, or took longer than 10 minutes; start again from /auth/login.")
        }
        let idToken = try await provider.exchange(code: code, codeVerifier: login.codeVerifier)
        let identity = try await provider.verify(idToken: idToken, nonce: login.nonce, audiences: [settings.clientID])
        let session = try await signOn.signIn(identity, organization: settings.organization, mappings: settings.mappings, issuing: .session, now: clock())
        var response = Response(status: .found, headers: [.location: "/", .cacheControl: "no-store"])
        response.setCookie(try sessionCookie(session.secret, maxAge: Int(SQLSignOnRepository.sessionLifetime)))
        return response
    }

    /// Ends this session only (the user's other sessions and tokens go on).
    func logout(_ request: Request) async throws -> Response {
        if let secret = Self.sessionSecret(request) { try await signOn.endSession(secret: secret, now: clock()) }
        var response = Response(status: .noContent)
        response.setCookie(try sessionCookie("", maxAge: 0))
        return response
    }

    /// The CLI's sign-in: an ID token from the device flow (or a loopback redirect) for a `cli-sso` token.
    func exchange(_ request: Request, context: AppRequestContext) async throws -> Response {
        struct Body: Decodable { var idToken: String }
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        guard let body = try? JSONDecoder().decode(Body.self, from: buffer) else {
            throw AppError.validation("idToken", "send {\"idToken\": \"…\"} with the ID token the identity provider issued")
        }
        let identity = try await provider.verify(idToken: body.idToken, nonce: nil, audiences: [settings.cliClientID, settings.clientID])
        let issued = try await signOn.signIn(identity, organization: settings.organization, mappings: settings.mappings, issuing: .cliToken, now: clock())
        return try Self.json(.created, ["data": [
            "id": issued.tokenID, "name": "cli-sso", "token": issued.secret, "expiresAt": try RFC3339DateTranscoder().encode(issued.expiresAt),
            "userId": issued.userID, "organizationId": issued.organizationID,
        ]])
    }

    /// `gantry_session` as docs/api.md §9 sets it (`Secure` when the public URL is https); empty with `maxAge: 0` to end it.
    func sessionCookie(_ secret: String, maxAge: Int) throws -> Cookie {
        try Cookie.validated(name: Self.cookieName, value: secret, maxAge: maxAge, path: "/", secure: settings.secureCookie, httpOnly: true,
                             sameSite: .lax)
    }

    static func sessionSecret(_ request: Request) -> String? {
        request.cookies[cookieName].map(\.value).flatMap { $0.isEmpty ? nil : $0 }
    }

    static func json(_ status: HTTPResponse.Status, _ object: [String: Any]) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
