import AsyncHTTPClient
import Foundation
import GantryCore
import JWTKit
import Logging
import NIOCore
import NIOHTTP1

/// The identity provider as Gantry uses it (docs/api.md §9): its discovery document, its signing keys (fetched
/// again when a token names a key Gantry has not seen, as after a rotation), the code-for-token exchange, and ID
/// token verification. Every refusal is a 401 that names what was wrong and never carries a token.
actor OpenIDProvider {
    struct Discovery: Decodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksUri: String
        var deviceAuthorizationEndpoint: String?
    }

    /// The claims Gantry checks. `aud` may be one string or a list; jwt-kit reads both.
    struct IDTokenClaims: JWTPayload {
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var nonce: String?
        var email: String?
        var emailVerified: Bool?
        var name: String?

        enum CodingKeys: String, CodingKey {
            case iss, aud, exp, nbf, nonce, email, name
            case emailVerified = "email_verified"
        }

        // Each claim is checked by `verify(idToken:…)`, which names the one that failed.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    let settings: SignOnSettings
    let http: HTTPClient
    let clock: @Sendable () -> Date
    let logger: Logger
    private var discovery: Discovery?
    private var keys: JWTKeyCollection?
    private var knownKeyIDs: Set<String> = []
    /// When a token naming an unknown key last made Gantry fetch the keys again.
    private var unknownKeyRefreshAt = Date.distantPast

    init(settings: SignOnSettings, http: HTTPClient, clock: @escaping @Sendable () -> Date, logger: Logger) {
        self.settings = settings
        self.http = http
        self.clock = clock
        self.logger = logger
    }

    static func unreachable(_ what: String) -> AppError {
        AppError(.unavailable, "The identity provider cannot be reached (\(what)); try again shortly.")
    }

    func configuration() async throws -> Discovery {
        if let discovery { return discovery }
        let found: Discovery = try await getJSON(settings.issuer + "/.well-known/openid-configuration", what: "discovery")
        guard SignOnSettings.trimmingSlash(found.issuer) == settings.issuer else {
            throw AppError(.unavailable, "The identity provider's discovery document names another issuer; check --oidc-issuer.")
        }
        discovery = found
        return found
    }

    /// Where `/auth/login` sends the browser: the authorization code flow with PKCE (S256), `state` and `nonce`.
    func authorizationURL(state: String, nonce: String, codeChallenge: String) async throws -> String {
        var components = URLComponents(string: try await configuration().authorizationEndpoint)
        let existing = components?.queryItems ?? []
        components?.queryItems = existing + [
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: settings.clientID),
            URLQueryItem(name: "redirect_uri", value: settings.redirectURI), URLQueryItem(name: "scope", value: "openid email profile"),
            URLQueryItem(name: "state", value: state), URLQueryItem(name: "nonce", value: nonce),
            URLQueryItem(name: "code_challenge", value: codeChallenge), URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        guard let url = components?.string else { throw Self.unreachable("authorization endpoint") }
        return url
    }

    /// Trades the authorization code (with the login's PKCE verifier) for an ID token.
    func exchange(code: String, codeVerifier: String) async throws -> String {
        let endpoint = try await configuration().tokenEndpoint
        var form = URLComponents()
        form.queryItems = [
            URLQueryItem(name: "grant_type", value: "authorization_code"), URLQueryItem(name: "code", value: code),
            URLQueryItem(name: "redirect_uri", value: settings.redirectURI), URLQueryItem(name: "code_verifier", value: codeVerifier),
            URLQueryItem(name: "client_id", value: settings.clientID),
        ]
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        if let secret = settings.clientSecret {
            let pair = "\(OAuthText.formEncode(settings.clientID)):\(OAuthText.formEncode(secret))"
            request.headers.add(name: "Authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        }
        // `+` in a form body is a space: percent-encode it, which URLComponents leaves alone.
        request.body = .bytes(ByteBuffer(string: (form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(10))
        } catch {
            throw Self.unreachable("token endpoint")
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        struct Answer: Decodable { var idToken: String?; var error: String?; var errorDescription: String? }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let answer = try? decoder.decode(Answer.self, from: body)
        guard response.status == .ok, let idToken = answer?.idToken else {
            let reason = answer?.error.map { "\($0)" + (answer?.errorDescription.map { ": \($0)" } ?? "") } ?? "HTTP \(response.status.code)"
            throw AppError(.unauthenticated, "The identity provider refused the sign-in (\(reason)); start again from the sign-in page.")
        }
        return idToken
    }

    /// Verifies an ID token's signature against the issuer's keys and checks `iss`, `aud` (one of `audiences`), `exp`,
    /// `nbf`, `nonce` (when one is expected) and a verified `email`; returns who signed in.
    func verify(idToken: String, nonce: String?, audiences: [String]) async throws -> SignedInIdentity {
        let claims = try await verified(idToken)
        let now = clock()
        func refuse(_ why: String) -> AppError { AppError(.unauthenticated, "The ID token was refused: \(why).") }
        guard SignOnSettings.trimmingSlash(claims.iss.value) == settings.issuer else { throw refuse("it was issued by another issuer") }
        guard audiences.contains(where: { claims.aud.value.contains($0) }) else { throw refuse("it was issued for another client") }
        // A minute of leeway for clocks that differ a little.
        guard claims.exp.value.addingTimeInterval(60) > now else { throw refuse("it has expired") }
        if let nbf = claims.nbf, nbf.value > now.addingTimeInterval(60) { throw refuse("it is not valid yet") }
        if let nonce, claims.nonce != nonce { throw refuse("its nonce does not match this sign-in") }
        guard let email = claims.email, !email.isEmpty else { throw refuse("it carries no email") }
        guard claims.emailVerified == true else { throw refuse("the identity provider has not verified the email \(email)") }
        return SignedInIdentity(email: email, name: claims.name ?? email, groups: Self.groups(in: idToken, claim: settings.groupsClaim))
    }

    /// The token's signature checked with the key its `kid` names. A `kid` Gantry has not seen makes it fetch the
    /// provider's keys again (at most every 10 s, so forged kids cannot make it hammer the provider); a token
    /// without a `kid`, or naming a key the provider does not publish, is refused.
    private func verified(_ idToken: String) async throws -> IDTokenClaims {
        guard let kid = OAuthText.jwtSegment(idToken, 0)?["kid"] as? String else {
            throw AppError(.unauthenticated, "The ID token was refused: its header names no signing key (kid).")
        }
        var keys = try await signingKeys()
        if !knownKeyIDs.contains(kid), clock().timeIntervalSince(unknownKeyRefreshAt) >= 10 {
            unknownKeyRefreshAt = clock()
            keys = try await signingKeys(refresh: true)
        }
        guard knownKeyIDs.contains(kid) else {
            throw AppError(.unauthenticated, "The ID token was refused: it was signed with a key the identity provider does not publish.")
        }
        do {
            return try await keys.verify(idToken, as: IDTokenClaims.self)
        } catch {
            throw AppError(.unauthenticated, "The ID token was refused: its signature or format is invalid.")
        }
    }

    private func signingKeys(refresh: Bool = false) async throws -> JWTKeyCollection {
        if let keys, !refresh { return keys }
        let jwks: JWKS = try await getJSON(try await configuration().jwksUri, what: "signing keys", snakeCase: false)
        let collection = JWTKeyCollection()
        var known: Set<String> = []
        for key in jwks.keys {
            // Keys of kinds Gantry does not verify with (e.g. encryption keys) are left out, not fatal.
            do {
                try await collection.add(jwk: key)
                if let kid = key.keyIdentifier?.string { known.insert(kid) }
            } catch {
                logger.debug("an identity provider key was skipped", metadata: ["error": "\(error)"])
            }
        }
        keys = collection
        knownKeyIDs = known
        return collection
    }

    /// The groups claim, read from the (already verified) payload: its name is configured, so it is not a field.
    static func groups(in idToken: String, claim: String) -> Set<String> {
        guard let payload = OAuthText.jwtSegment(idToken, 1) else { return [] }
        if let list = payload[claim] as? [String] { return Set(list) }
        if let one = payload[claim] as? String { return [one] }
        return []
    }

    private func getJSON<T: Decodable>(_ url: String, what: String, snakeCase: Bool = true) async throws -> T {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            guard response.status == .ok else { throw Self.unreachable("\(what): HTTP \(response.status.code)") }
            let body = try await response.body.collect(upTo: 1 << 20)
            let decoder = JSONDecoder()
            if snakeCase { decoder.keyDecodingStrategy = .convertFromSnakeCase }
            return try decoder.decode(T.self, from: body)
        } catch let error as AppError {
            throw error
        } catch {
            throw Self.unreachable(what)
        }
    }
}
