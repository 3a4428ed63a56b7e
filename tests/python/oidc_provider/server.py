"""A small, real OpenID Connect provider for Gantry's sign-on tests.

Built on Authlib (https://pypi.org/project/Authlib/) and served by Flask on werkzeug's threaded server:
the authorization code grant (authlib.oauth2.rfc6749) with PKCE (authlib.oauth2.rfc7636.CodeChallenge,
S256 only) and OpenID Connect ID tokens (authlib.oidc.core.grants.OpenIDCode), the device authorization
grant (authlib.oauth2.rfc8628), the UserInfo endpoint (authlib.oidc.core.UserInfoEndpoint), keys and
signatures from joserfc (Authlib's JOSE library). Only the storage (plain Python objects in memory),
the HTML pages and the /_test/ controls are written here.

Start
-----
    python tests/python/oidc_provider/server.py --port 0
    python -m tests.python.oidc_provider.server --port 0        # from the repository root

Once it listens it prints exactly one line to stdout, flushed, and nothing else ever goes to stdout:

    listening on http://127.0.0.1:PORT

The issuer is that URL (unless --issuer says otherwise). The request log goes to stderr (--quiet turns it
off). --exit-with-stdin makes it exit when its standard input closes, so a test that dies cannot leave it
running: start it with a pipe as stdin and keep the pipe open. SIGTERM/SIGINT stop it.

Options
-------
    --port N                     0 = pick a free port (default 0)
    --issuer URL                 default http://127.0.0.1:PORT
    --client ID:SECRET[:URI]     confidential client; repeat to add redirect URIs to the same ID; without a
                                 URI it accepts any loopback redirect URI (see below)
    --public-client ID           public client (no secret, token endpoint auth "none"), any loopback
                                 redirect URI, authorization code (PKCE required) and device grants
    --user EMAIL:PASSWORD[:GROUP,GROUP...[:unverified]]    add or replace a user
    --groups-claim NAME          name of the groups claim (default "groups")
    --id-token-ttl SECONDS       ID token lifetime (default 300)
    --access-token-ttl SECONDS   access token lifetime (default 3600)
    --device-interval SECONDS    polling interval announced by the device endpoint (default 1)
    --enforce-device-interval    answer "slow_down" to polls that come sooner than the interval
    --device-code-ttl SECONDS    device/user code lifetime (default 600)

Defaults
--------
Clients:
    gantry       confidential, secret "gantry-secret", client_secret_basic or client_secret_post, any loopback
                 redirect URI, grant authorization_code (PKCE optional but S256 only)
    gantry-cli   public, grants authorization_code (PKCE S256 required) and
                 urn:ietf:params:oauth:grant-type:device_code, any loopback redirect URI
A loopback redirect URI is http://127.0.0.1:<any port>/<any path> (also http://[::1]:... and
http://localhost:...), per RFC 8252 section 7.3. A --client given with the ID of a default replaces it.

Users (sign in with the email address as username):
    alice@example.com  password alice-pw  name "Alice Example"  groups platform, developers  email_verified true
    bob@example.com    password bob-pw    name "Bob Example"    groups developers            email_verified true
    carol@example.com  password carol-pw  name "Carol Example"  groups developers            email_verified false

Keys: an RSA 2048 key (kid "rsa-1", RS256) and an EC P-256 key (kid "ec-1", ES256), both in the JWKS.
ID tokens are signed RS256 with the current RSA key unless switched to ES256 (see /_test/signing-alg).

Endpoints
---------
    GET  /.well-known/openid-configuration   discovery (validated with authlib's OpenIDProviderMetadata)
    GET  /jwks                               public keys: {"keys": [{kty, kid, use: "sig", alg, ...}]}
    GET  /authorize                          HTML login form; POST /authorize signs in and redirects
         The form: inputs id="username", id="password"; buttons id="login" (sign in) and id="deny" (cancel,
         redirects with error=access_denied). Wrong credentials: the form again with status 401. There is
         no login session: every authorization request shows the form (so prompt=none always gives
         error=login_required). Scopes: openid, email, profile, groups (unknown scopes: invalid_scope).
    POST /token                              grant_type authorization_code or
                                             urn:ietf:params:oauth:grant-type:device_code. No refresh tokens.
    POST /device_authorization               RFC 8628 device authorization (client_id=gantry-cli, scope=...)
    GET  /device[?user_code=...]             HTML verification page: inputs id="user_code", id="username",
                                             id="password"; buttons id="approve" and id="deny"; POST /device
                                             approves (credentials checked) or denies the device code. Its
                                             result page has <p id="result">approved</p> (or denied).
    GET|POST /userinfo                       bearer access token -> the user's current claims (JSON)

ID tokens carry iss, sub, aud (the client ID, a string), exp, iat, auth_time, nonce (when the
authorization request had one), at_hash, email, email_verified, name and the groups claim (always, whatever
the scopes). The device grant's ID token has no nonce. An authorization code lives 10 minutes and can be
used once; a nonce can be used once per client; a device code once.

Test controls (JSON in, JSON out; errors are {"error": "..."} with status 400 or 404)
-------------
POST /_test/set-groups        {"user": "alice@example.com", "groups": ["developers"]}
    Replaces the user's groups. ID tokens and UserInfo issued afterwards carry the new groups.
    -> {"user": ..., "groups": [...]}
POST /_test/users             {"email": ..., "password"?: ..., "name"?: ..., "groups"?: [...],
                               "email_verified"?: bool}
    Adds a user (password required then) or changes the given fields of an existing one.
    -> the user without the password
POST /_test/rotate-key        {"alg"?: "RS256"|"ES256" (default: the current signing alg), "keep_old"?: true}
    Makes a NEW key (kid "rsa-2", "rsa-3", ... or "ec-2", ...) the signing key for that alg and only now
    publishes it in /jwks. With "keep_old": false every earlier key of that alg leaves /jwks (tokens signed
    with them no longer verify); by default they stay published.
    -> {"alg": ..., "kid": NEW, "previous_kid": OLD, "published_kids": [...]}
POST /_test/signing-alg       {"alg": "ES256"}  (or "RS256")
    ID tokens from now on are signed with that alg's current key. -> {"alg": ..., "kid": ...}
POST /_test/issue-id-token    {"user"?: "alice@example.com", "client_id"?: "gantry", "nonce"?: ...,
                               "alg"?: "RS256"|"ES256"|"none"|"HS256", "key"?: "current"|"unpublished"|KID,
                               "expires_in"?: SECONDS (negative: already expired),
                               "claims"?: {...}, "header"?: {...}, "bad_signature"?: bool}
    Returns an ID token for the user, as the token endpoint would make it, with changes:
      alg           signing alg (default: the current one). "none": header alg none and an empty
                    signature. "HS256": HMAC-SHA256 keyed with the current RSA public key's PEM (the
                    algorithm-confusion attack), header kid of that RSA key.
      key           "current" (default) the alg's signing key; "unpublished" a fresh key of that alg that
                    is never in /jwks (kid "unpublished-N"); or the kid of a published key (e.g. an old one
                    kept after rotation).
      claims/header merged over the made ones after everything else; a null value removes the claim or
                    header parameter (e.g. {"claims": {"aud": "someone-else"}}, {"header": {"kid": null}}).
                    A header "alg" that differs from the signing alg is kept as given (signature by alg).
      bad_signature the signature is corrupted after signing.
    -> {"id_token": "...", "header": {...}, "claims": {...}}
POST /_test/next-id-token     the same options except user, client_id and nonce (those come from the flow)
    The NEXT ID token issued by /token (any grant, any client) is made with these options, once; later ones
    are normal again. So a browser sign-in through Gantry can be made to receive a wrong aud, an expired
    token, alg none, a bad signature... An empty body {} clears a pending one. -> {"pending": bool}
GET  /_test/state
    -> {"issuer", "signing_alg", "signing_kids": {"RS256": kid, "ES256": kid}, "published_kids": [...],
        "users": {email: {...}}, "clients": [...], "counts": {"discovery", "jwks", "authorize", "token",
        "userinfo", "device_authorization"}}   (counts of requests served, e.g. to see a JWKS refetch)
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import os
import secrets
import signal
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    TokenMixin,
    UnauthorizedClientError,
    grants,
    list_to_scope,
    scope_to_list,
)
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, OpenIDToken, UserInfo, UserInfoEndpoint
from authlib.oidc.core.util import create_half_hash
from authlib.oidc.discovery import OpenIDProviderMetadata
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from flask import Flask, Response, jsonify, request
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

SCOPES = ["openid", "email", "profile", "groups"]
ALGS = ["RS256", "ES256"]
AUTHORIZATION_CODE_TTL = 600

DEFAULT_USERS = [
    ("alice@example.com", "alice-pw", "Alice Example", ["platform", "developers"], True),
    ("bob@example.com", "bob-pw", "Bob Example", ["developers"], True),
    ("carol@example.com", "carol-pw", "Carol Example", ["developers"], False),
]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact_json(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def is_loopback_redirect_uri(uri: str) -> bool:
    """RFC 8252 section 7.3: http, a loopback host, any port, any path; no fragment."""
    try:
        parts = urlsplit(uri)
        parts.port  # raises on a malformed port
    except ValueError:
        return False
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost") and not parts.fragment


def normalize_user_code(code: str) -> str:
    # RFC 8628 section 6.1: case-insensitive, punctuation ignored.
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


# ---------------------------------------------------------------------------------------------------------
# Models (plain objects, kept in memory)
# ---------------------------------------------------------------------------------------------------------

class User:
    def __init__(self, email, password, name, groups, email_verified):
        self.email = email
        self.password = password
        self.name = name
        self.groups = list(groups)
        self.email_verified = bool(email_verified)
        # A stable, opaque subject identifier, as real providers give.
        self.sub = str(uuid.uuid5(uuid.NAMESPACE_URL, "mailto:" + email.lower()))

    def get_user_id(self):
        return self.sub

    def public(self):
        return {"sub": self.sub, "email": self.email, "name": self.name, "groups": list(self.groups),
                "email_verified": self.email_verified}


class Client(ClientMixin):
    def __init__(self, client_id, secret=None, redirect_uris=(), any_loopback=False, grant_types=("authorization_code",)):
        self.client_id = client_id
        self.client_secret = secret
        self.redirect_uris = list(redirect_uris)
        self.any_loopback = any_loopback
        self.grant_types = list(grant_types)
        self.client_metadata = {}

    @property
    def public(self):
        return self.client_secret is None

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        if len(self.redirect_uris) == 1 and not self.any_loopback:
            return self.redirect_uris[0]
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        return list_to_scope([s for s in scope_to_list(scope) if s in SCOPES])

    def check_redirect_uri(self, redirect_uri):
        if redirect_uri in self.redirect_uris:
            return True
        return self.any_loopback and is_loopback_redirect_uri(redirect_uri)

    def check_client_secret(self, client_secret):
        return self.client_secret is not None and secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types

    def describe(self):
        return {"client_id": self.client_id, "public": self.public, "redirect_uris": self.redirect_uris,
                "any_loopback_redirect_uri": self.any_loopback, "grant_types": self.grant_types}


class AuthorizationCode(AuthorizationCodeMixin):
    def __init__(self, code, client_id, redirect_uri, scope, user_email, nonce, challenge, challenge_method, auth_time):
        self.code = code
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.user_email = user_email
        self.nonce = nonce
        self.code_challenge = challenge
        self.code_challenge_method = challenge_method
        self.auth_time = auth_time
        self.expires_at = time.time() + AUTHORIZATION_CODE_TTL

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return ["pwd"]


class Token(TokenMixin):
    def __init__(self, token, client, user):
        self.access_token = token["access_token"]
        self.scope = token.get("scope", "")
        self.expires_in = int(token.get("expires_in", 0))
        self.issued_at = time.time()
        self.client = client
        self.user = user

    def check_client(self, client):
        return client.get_client_id() == self.client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return False

    def get_user(self):
        return self.user

    def get_client(self):
        return self.client


# ---------------------------------------------------------------------------------------------------------
# The provider's state: users, clients, keys, codes, tokens
# ---------------------------------------------------------------------------------------------------------

class Provider:
    def __init__(self, options):
        self.issuer = None  # set once the port is known
        self.groups_claim = options.groups_claim
        self.id_token_ttl = options.id_token_ttl
        self.access_token_ttl = options.access_token_ttl
        self.device_interval = options.device_interval
        self.enforce_device_interval = options.enforce_device_interval
        self.device_code_ttl = options.device_code_ttl
        self.users: dict[str, User] = {}
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.used_nonces: set[tuple[str, str]] = set()
        self.tokens: dict[str, Token] = {}
        self.devices: dict[str, DeviceCredentialDict] = {}   # device_code -> credential
        self.device_grants: dict[str, tuple] = {}             # normalized user_code -> (user, approved)
        self.device_polls: dict[str, float] = {}              # device_code -> time of the last poll
        self.next_id_token = None
        self.counts = {k: 0 for k in ("discovery", "jwks", "authorize", "token", "userinfo", "device_authorization")}
        self.key_serial = {"RS256": 0, "ES256": 0}
        self.unpublished_serial = 0
        self.published = []                                   # joserfc keys in /jwks, in order
        self.signing_keys = {}                                # alg -> key
        self.signing_alg = "RS256"
        for alg in ALGS:
            self.signing_keys[alg] = self.new_key(alg)
            self.published.append(self.signing_keys[alg])

    # keys --------------------------------------------------------------------------------------------
    @staticmethod
    def generate_key(alg, kid):
        parameters = {"kid": kid, "use": "sig", "alg": alg}
        if alg == "RS256":
            return RSAKey.generate_key(2048, parameters=parameters)
        if alg == "ES256":
            return ECKey.generate_key("P-256", parameters=parameters)
        raise ValueError(f"unsupported alg {alg!r}; use one of {ALGS}")

    def new_key(self, alg):
        if alg not in ALGS:
            raise ValueError(f"unsupported alg {alg!r}; use one of {ALGS}")
        self.key_serial[alg] += 1
        prefix = "rsa" if alg == "RS256" else "ec"
        return self.generate_key(alg, f"{prefix}-{self.key_serial[alg]}")

    def jwks(self):
        return {"keys": [key.as_dict(private=False) for key in self.published]}

    def rotate(self, alg, keep_old=True):
        old = self.signing_keys[alg]
        new = self.new_key(alg)
        self.signing_keys[alg] = new
        if not keep_old:
            self.published = [k for k in self.published if k.alg != alg]
        self.published.append(new)
        return old, new

    # users and clients -------------------------------------------------------------------------------
    def authenticate(self, username, password):
        user = self.users.get((username or "").strip().lower())
        if user and password is not None and secrets.compare_digest(user.password.encode(), password.encode()):
            return user
        return None

    def add_user(self, email, password, name, groups, email_verified):
        self.users[email.lower()] = User(email, password, name, groups, email_verified)

    def user_claims(self, user):
        return {"sub": user.sub, "email": user.email, "email_verified": user.email_verified, "name": user.name,
                self.groups_claim: list(user.groups)}

    # ID tokens ---------------------------------------------------------------------------------------
    def base_id_claims(self, client_id, user, nonce=None, expires_in=None, access_token=None, alg=None, auth_time=None):
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": client_id, "iat": now,
                  "exp": now + (self.id_token_ttl if expires_in is None else int(expires_in)),
                  "auth_time": int(auth_time or now)}
        if nonce:
            claims["nonce"] = nonce
        if access_token and alg != "none":
            at_hash = create_half_hash(access_token, alg or self.signing_alg)
            if at_hash is not None:
                claims["at_hash"] = at_hash.decode("ascii")
        claims.update(self.user_claims(user))
        return claims

    def sign_id_token(self, claims, options=None):
        """Signs claims as an ID token. Without options (the normal path) joserfc signs with the current key;
        options are the /_test/ overrides (see the module docstring). Returns (token, header, claims)."""
        options = options or {}
        alg = options.get("alg") or self.signing_alg
        if alg not in ALGS + ["none", "HS256"]:
            raise ValueError(f"unsupported alg {alg!r}")
        if options.get("expires_in") is not None:
            claims["exp"] = int(time.time()) + int(options["expires_in"])
        key = None
        if alg in ALGS:
            choice = options.get("key") or "current"
            if choice == "current":
                key = self.signing_keys[alg]
            elif choice == "unpublished":
                self.unpublished_serial += 1
                key = self.generate_key(alg, f"unpublished-{self.unpublished_serial}")
            else:
                key = next((k for k in self.published if k.kid == choice), None)
                if key is None:
                    raise LookupError(f"no published key with kid {choice!r}")
                if key.alg != alg:
                    raise ValueError(f"key {choice!r} is for {key.alg}, not {alg}")
            header = {"typ": "JWT", "alg": alg, "kid": key.kid}
        elif alg == "HS256":
            header = {"typ": "JWT", "alg": "HS256", "kid": self.signing_keys["RS256"].kid}
        else:
            header = {"typ": "JWT", "alg": "none"}
        for name, value in (options.get("claims") or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        for name, value in (options.get("header") or {}).items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value

        if alg in ALGS and header.get("alg") == alg and not options:
            token = jwt.encode(header, claims, key, algorithms=[alg], default_type=None)
        else:
            signing_input = b64url(compact_json(header)) + "." + b64url(compact_json(claims))
            data = signing_input.encode("ascii")
            if alg == "none":
                signature = b""
            elif alg == "HS256":
                secret = self.signing_keys["RS256"].public_key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                signature = hmac.new(secret, data, hashlib.sha256).digest()
            elif alg == "RS256":
                signature = key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
            else:  # ES256: JWS wants r || s, 32 bytes each, not DER
                r, s = decode_dss_signature(key.private_key.sign(data, ec.ECDSA(hashes.SHA256())))
                signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            if options.get("bad_signature"):
                signature = bytes([signature[0] ^ 0x01]) + signature[1:] if signature else b"\x00" * 32
            token = signing_input + "." + b64url(signature)
        return token, header, claims

    # discovery ---------------------------------------------------------------------------------------
    def metadata(self):
        base = self.issuer
        return OpenIDProviderMetadata({
            "issuer": base,
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
            "jwks_uri": base + "/jwks",
            "userinfo_endpoint": base + "/userinfo",
            "device_authorization_endpoint": base + "/device_authorization",
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", DEVICE_CODE_GRANT_TYPE],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(ALGS),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "email",
                                 "email_verified", "name", self.groups_claim],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
        })


# ---------------------------------------------------------------------------------------------------------
# Authlib grants and endpoints wired to the provider
# ---------------------------------------------------------------------------------------------------------

PROVIDER: Provider = None  # set by create_app


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only; required of public clients already at the authorization endpoint."""
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        if not challenge and grant.request.client is not None and grant.request.client.public:
            raise InvalidRequestError("PKCE (code_challenge with S256) is required of public clients")


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, req):
        data = req.payload.data
        nonce = data.get("nonce")
        PROVIDER.codes[code] = AuthorizationCode(
            code=code, client_id=req.client.get_client_id(), redirect_uri=req.payload.redirect_uri,
            scope=req.scope, user_email=req.user.email.lower(), nonce=nonce,
            challenge=data.get("code_challenge"), challenge_method=data.get("code_challenge_method"),
            auth_time=int(time.time()))
        if nonce:
            PROVIDER.used_nonces.add((req.client.get_client_id(), nonce))

    def query_authorization_code(self, code, client):
        item = PROVIDER.codes.get(code)
        if item and item.client_id == client.get_client_id() and item.expires_at > time.time():
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        PROVIDER.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return PROVIDER.users.get(authorization_code.user_email)


class IDTokenMaker:
    """Makes the ID token for Authlib's OpenIDToken/OpenIDCode extensions, with the provider's keys and the
    pending /_test/next-id-token options, if any."""

    def get_client_algorithm(self, client):
        return PROVIDER.signing_alg

    def generate_user_info(self, user, scope):
        return UserInfo(PROVIDER.user_claims(user))

    def encode_id_token(self, token, req):
        options = PROVIDER.next_id_token
        PROVIDER.next_id_token = None
        alg = (options or {}).get("alg") or PROVIDER.signing_alg
        code = req.authorization_code
        claims = PROVIDER.base_id_claims(
            req.client.get_client_id(), req.user, nonce=code.get_nonce() if code else None,
            access_token=token.get("access_token"), alg=alg,
            auth_time=code.get_auth_time() if code else None)
        id_token, _, _ = PROVIDER.sign_id_token(claims, options)
        return id_token


class OIDCCode(IDTokenMaker, OpenIDCode):
    def exists_nonce(self, nonce, req):
        return (req.payload.client_id, nonce) in PROVIDER.used_nonces


class OIDCDeviceToken(IDTokenMaker, OpenIDToken):
    pass


class DeviceEndpoint(DeviceAuthorizationEndpoint):
    def authenticate_client(self, req):
        client = super().authenticate_client(req)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("The client may not use the device authorization grant")
        return client

    def create_endpoint_response(self, req):
        self.INTERVAL = PROVIDER.device_interval
        self.EXPIRES_IN = PROVIDER.device_code_ttl
        return super().create_endpoint_response(req)

    def get_verification_uri(self):
        return PROVIDER.issuer + "/device"

    def save_device_credential(self, client_id, scope, data):
        PROVIDER.devices[data["device_code"]] = DeviceCredentialDict(
            client_id=client_id, scope=scope, expires_at=time.time() + data["expires_in"], **data)


class DeviceGrant(DeviceCodeGrant):
    def query_device_credential(self, device_code):
        return PROVIDER.devices.get(device_code)

    def query_user_grant(self, user_code):
        return PROVIDER.device_grants.get(normalize_user_code(user_code))

    def should_slow_down(self, credential):
        now = time.time()
        last = PROVIDER.device_polls.get(credential["device_code"])
        PROVIDER.device_polls[credential["device_code"]] = now
        return bool(PROVIDER.enforce_device_interval and last is not None and now - last < PROVIDER.device_interval)

    def validate_token_request(self):
        device_code = self.request.payload.data.get("device_code")
        if device_code and device_code not in PROVIDER.devices:
            # Unknown, or already exchanged for tokens: a device code is good for one token response.
            self.authenticate_token_endpoint_client()
            raise InvalidGrantError("Invalid or used 'device_code'")
        return super().validate_token_request()

    def create_token_response(self):
        result = super().create_token_response()
        credential = self.request.credential
        PROVIDER.devices.pop(credential["device_code"], None)
        PROVIDER.device_grants.pop(normalize_user_code(credential["user_code"]), None)
        PROVIDER.device_polls.pop(credential["device_code"], None)
        return result


class TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return PROVIDER.tokens.get(token_string)


class ProviderUserInfo(UserInfoEndpoint):
    def get_issuer(self):
        return PROVIDER.issuer

    def generate_user_info(self, user, scope):
        return UserInfo(PROVIDER.user_claims(user))


# ---------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 26rem; margin: 3rem auto; }}
label {{ display: block; margin-top: .8rem; }} input {{ width: 100%; padding: .3rem; }}
.error {{ color: #b00020; }} button {{ margin-top: 1rem; margin-right: .5rem; }}
</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def page(title, body, status=200):
    return Response(PAGE.format(title=html.escape(title), body=body), status=status,
                    content_type="text/html; charset=utf-8")


def login_page(client, scope, error=None, username="", status=200):
    e = html.escape
    error_html = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    body = f"""<p>Sign in to continue to <strong id="client">{e(client.get_client_id())}</strong>
(scopes: {e(scope or "none")}).</p>
{error_html}
<form method="post" action="{e(request.full_path)}">
<label for="username">Email</label>
<input id="username" name="username" type="text" autocomplete="username" value="{e(username)}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" id="login" name="action" value="login">Sign in</button>
<button type="submit" id="deny" name="action" value="deny">Cancel</button>
</form>"""
    return page("Sign in", body, status)


def device_page(user_code="", error=None, username="", status=200):
    e = html.escape
    error_html = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    body = f"""<p>Enter the code shown on your device, and sign in to approve it.</p>
{error_html}
<form method="post" action="/device">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" type="text" autocomplete="off" value="{e(user_code)}">
<label for="username">Email</label>
<input id="username" name="username" type="text" autocomplete="username" value="{e(username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" id="approve" name="action" value="approve">Approve</button>
<button type="submit" id="deny" name="action" value="deny">Deny</button>
</form>"""
    return page("Device sign-in", body, status)


def error_page(error: OAuth2Error, status=400):
    e = html.escape
    body = (f'<p class="error" id="error">{e(error.error or "error")}</p>'
            f'<p id="error_description">{e(error.description or "")}</p>')
    return page("Sign-in error", body, status)


# ---------------------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------------------

def json_error(message, status=400):
    return jsonify({"error": message}), status


def create_app(provider: Provider):
    global PROVIDER
    PROVIDER = provider
    app = Flask("oidc_provider")
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": provider.access_token_ttl,
                                              DEVICE_CODE_GRANT_TYPE: provider.access_token_ttl}
    app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES

    def save_token(token, req):
        provider.tokens[token["access_token"]] = Token(token, req.client, req.user)

    server = AuthorizationServer(app, query_client=provider.clients.get, save_token=save_token)
    server.register_grant(CodeGrant, [S256CodeChallenge(required=True), OIDCCode(require_nonce=False)])
    server.register_grant(DeviceGrant, [OIDCDeviceToken()])
    server.register_endpoint(DeviceEndpoint)
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator())
    server.register_endpoint(ProviderUserInfo(resource_protector=protector))

    @app.get("/.well-known/openid-configuration")
    def discovery():
        provider.counts["discovery"] += 1
        return jsonify(dict(provider.metadata()))

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)  # so a browser on the login page logs no 404

    @app.get("/jwks")
    def jwks():
        provider.counts["jwks"] += 1
        return jsonify(provider.jwks())

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize():
        provider.counts["authorize"] += 1
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            if error.redirect_uri:
                return server.handle_error_response(None, error)
            return error_page(error)
        client = grant.request.client
        scope = grant.request.scope
        if request.method == "GET":
            return login_page(client, scope)
        if request.form.get("action") == "deny":
            return server.create_authorization_response(grant=grant, grant_user=None)
        username = request.form.get("username", "")
        user = provider.authenticate(username, request.form.get("password"))
        if user is None:
            return login_page(client, scope, error="Invalid email or password.", username=username, status=401)
        return server.create_authorization_response(grant=grant, grant_user=user)

    @app.post("/token")
    def token():
        provider.counts["token"] += 1
        return server.create_token_response()

    @app.post("/device_authorization")
    def device_authorization():
        provider.counts["device_authorization"] += 1
        return server.create_endpoint_response(DeviceEndpoint.ENDPOINT_NAME)

    @app.route("/device", methods=["GET", "POST"])
    def device():
        if request.method == "GET":
            return device_page(request.args.get("user_code", ""))
        raw_code = request.form.get("user_code", "")
        code = normalize_user_code(raw_code)
        credential = next((c for c in provider.devices.values() if normalize_user_code(c["user_code"]) == code), None)
        username = request.form.get("username", "")
        if not code or credential is None or credential.is_expired():
            return device_page(raw_code, "Unknown or expired code.", username, status=400)
        if code in provider.device_grants:
            return device_page(raw_code, "This code has already been used.", username, status=400)
        if request.form.get("action") == "deny":
            provider.device_grants[code] = (None, False)
            return page("Device sign-in", '<p id="result">denied</p>')
        user = provider.authenticate(username, request.form.get("password"))
        if user is None:
            return device_page(raw_code, "Invalid email or password.", username, status=401)
        provider.device_grants[code] = (user, True)
        return page("Device sign-in",
                    f'<p id="result">approved</p><p>Signed in as {html.escape(user.email)}; '
                    f'return to your device.</p>')

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo():
        provider.counts["userinfo"] += 1
        return server.create_endpoint_response(ProviderUserInfo.ENDPOINT_NAME)

    # test controls -----------------------------------------------------------------------------------
    def body():
        data = request.get_json(force=True, silent=True)
        return data if isinstance(data, dict) else {}

    def id_token_options(data):
        options = {k: data[k] for k in ("alg", "key", "expires_in", "claims", "header", "bad_signature")
                   if data.get(k) is not None}
        for name in ("claims", "header"):
            if name in options and not isinstance(options[name], dict):
                raise ValueError(f"{name!r} must be an object")
        if options.get("alg") and options["alg"] not in ALGS + ["none", "HS256"]:
            raise ValueError(f"unsupported alg {options['alg']!r}")
        return options

    @app.post("/_test/set-groups")
    def set_groups():
        data = body()
        user = provider.users.get(str(data.get("user", "")).lower())
        if user is None:
            return json_error("unknown user", 404)
        groups = data.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            return json_error("'groups' must be a list of strings")
        user.groups = list(groups)
        return jsonify({"user": user.email, "groups": user.groups})

    @app.post("/_test/users")
    def upsert_user():
        data = body()
        email = data.get("email")
        if not isinstance(email, str) or "@" not in email:
            return json_error("'email' is required")
        user = provider.users.get(email.lower())
        if user is None:
            if not isinstance(data.get("password"), str):
                return json_error("'password' is required for a new user")
            provider.add_user(email, data["password"], data.get("name") or email.split("@")[0],
                              data.get("groups") or [], data.get("email_verified", True))
            user = provider.users[email.lower()]
        else:
            for field in ("password", "name", "groups", "email_verified"):
                if field in data:
                    setattr(user, field, list(data[field]) if field == "groups" else data[field])
        return jsonify(user.public())

    @app.post("/_test/rotate-key")
    def rotate_key():
        data = body()
        alg = data.get("alg") or provider.signing_alg
        if alg not in ALGS:
            return json_error(f"unsupported alg {alg!r}")
        old, new = provider.rotate(alg, keep_old=data.get("keep_old", True) is not False)
        return jsonify({"alg": alg, "kid": new.kid, "previous_kid": old.kid,
                        "published_kids": [k.kid for k in provider.published]})

    @app.post("/_test/signing-alg")
    def signing_alg():
        alg = body().get("alg")
        if alg not in ALGS:
            return json_error(f"'alg' must be one of {ALGS}")
        provider.signing_alg = alg
        return jsonify({"alg": alg, "kid": provider.signing_keys[alg].kid})

    @app.post("/_test/issue-id-token")
    def issue_id_token():
        data = body()
        user = provider.users.get(str(data.get("user") or "alice@example.com").lower())
        if user is None:
            return json_error("unknown user", 404)
        try:
            options = id_token_options(data)
            alg = options.get("alg") or provider.signing_alg
            claims = provider.base_id_claims(data.get("client_id") or "gantry", user, nonce=data.get("nonce"),
                                             access_token=None, alg=alg)
            token, header, claims = provider.sign_id_token(claims, options)
        except LookupError as error:
            return json_error(str(error), 404)
        except ValueError as error:
            return json_error(str(error))
        return jsonify({"id_token": token, "header": header, "claims": claims})

    @app.post("/_test/next-id-token")
    def next_id_token():
        try:
            options = id_token_options(body())
        except ValueError as error:
            return json_error(str(error))
        provider.next_id_token = options or None
        return jsonify({"pending": provider.next_id_token is not None})

    @app.get("/_test/state")
    def state():
        return jsonify({
            "issuer": provider.issuer,
            "signing_alg": provider.signing_alg,
            "signing_kids": {alg: key.kid for alg, key in provider.signing_keys.items()},
            "published_kids": [k.kid for k in provider.published],
            "users": {u.email: u.public() for u in provider.users.values()},
            "clients": [c.describe() for c in provider.clients.values()],
            "counts": dict(provider.counts),
        })

    # One request at a time: the state above is plain objects shared by the server's threads.
    lock = threading.Lock()
    wsgi_app = app.wsgi_app

    def locked_wsgi_app(environ, start_response):
        with lock:
            response = wsgi_app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                if hasattr(response, "close"):
                    response.close()

    app.wsgi_app = locked_wsgi_app
    return app


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description="A small OpenID provider (Authlib) for Gantry's sign-on tests.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--issuer", help="issuer URL (default http://127.0.0.1:PORT)")
    parser.add_argument("--client", action="append", default=[], metavar="ID:SECRET[:REDIRECT_URI]")
    parser.add_argument("--public-client", action="append", default=[], metavar="ID")
    parser.add_argument("--user", action="append", default=[], metavar="EMAIL:PASSWORD[:GROUPS[:unverified]]")
    parser.add_argument("--groups-claim", default="groups")
    parser.add_argument("--id-token-ttl", type=int, default=300)
    parser.add_argument("--access-token-ttl", type=int, default=3600)
    parser.add_argument("--device-interval", type=int, default=1)
    parser.add_argument("--enforce-device-interval", action="store_true")
    parser.add_argument("--device-code-ttl", type=int, default=600)
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when standard input closes")
    return parser.parse_args(argv)


def build_provider(options) -> Provider:
    provider = Provider(options)
    for email, password, name, groups, verified in DEFAULT_USERS:
        provider.add_user(email, password, name, groups, verified)
    for spec in options.user:
        parts = spec.split(":")
        if len(parts) < 2 or "@" not in parts[0]:
            raise SystemExit(f"--user {spec!r}: expected EMAIL:PASSWORD[:GROUP,GROUP...[:unverified]]")
        groups = [g for g in parts[2].split(",") if g] if len(parts) > 2 else []
        verified = not (len(parts) > 3 and parts[3] == "unverified")
        provider.add_user(parts[0], parts[1], parts[0].split("@")[0].capitalize(), groups, verified)

    provider.clients["gantry"] = Client("gantry", "gantry-secret", any_loopback=True)
    provider.clients["gantry-cli"] = Client("gantry-cli", None, any_loopback=True,
                                            grant_types=("authorization_code", DEVICE_CODE_GRANT_TYPE))
    given = {}
    for spec in options.client:
        parts = spec.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise SystemExit(f"--client {spec!r}: expected CLIENT_ID:SECRET[:REDIRECT_URI]")
        client = given.get(parts[0])
        if client is None or client.client_secret != parts[1]:
            client = given[parts[0]] = Client(parts[0], parts[1])
        if len(parts) == 3 and parts[2]:
            client.redirect_uris.append(parts[2])
        client.any_loopback = not client.redirect_uris
    provider.clients.update(given)
    for client_id in options.public_client:
        provider.clients[client_id] = Client(client_id, None, any_loopback=True,
                                             grant_types=("authorization_code", DEVICE_CODE_GRANT_TYPE))
    return provider


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def main(argv=None):
    options = parse_args(sys.argv[1:] if argv is None else argv)
    provider = build_provider(options)
    app = create_app(provider)
    handler = QuietHandler if options.quiet else WSGIRequestHandler
    httpd = make_server("127.0.0.1", options.port, app, threaded=True, request_handler=handler)
    base = f"http://127.0.0.1:{httpd.server_port}"
    provider.issuer = (options.issuer or base).rstrip("/")
    provider.metadata().validate()

    def stop(*_):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if options.exit_with_stdin:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except (OSError, ValueError):
                pass
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()

    print(f"listening on {base}", flush=True)
    print(f"oidc provider: issuer {provider.issuer}, clients {sorted(provider.clients)}, "
          f"users {sorted(provider.users)}", file=sys.stderr, flush=True)
    httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
