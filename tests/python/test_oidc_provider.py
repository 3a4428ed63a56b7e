"""The test OpenID provider (tests/python/oidc_provider/server.py) behaves as a real one does.

Each test starts its own provider on a free port and talks to it with standard clients only: Authlib's
OAuth2Session (authlib.integrations.requests_client) or requests by hand, discovery checked with
authlib's OpenIDProviderMetadata, and every ID token verified with joserfc (Authlib's JOSE library)
against the keys fetched from the provider's JWKS.
"""
import base64
import hashlib
import http.server
import os
import secrets
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import KeySet
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import new_chromium, require_chromium  # noqa: E402
from gantry_process import start_identity_provider  # noqa: E402
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REDIRECT_URI = "http://127.0.0.1:9/callback"   # nothing listens there: redirects are read, not followed
SCOPE = "openid email profile groups"
TIMEOUT = 10


class Provider:
    def __init__(self, process, base, log_path):
        self.process = process
        self.base = base
        self.log_path = log_path
        self.http = requests.Session()
        self.config = self.get("/.well-known/openid-configuration").json()

    def get(self, path, **kwargs):
        return self.http.get(self.base + path, timeout=TIMEOUT, **kwargs)

    def post(self, path, **kwargs):
        return self.http.post(self.base + path, timeout=TIMEOUT, **kwargs)

    def control(self, path, body=None):
        response = self.post("/_test/" + path, json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    def keys(self):
        return KeySet.import_key_set(requests.get(self.config["jwks_uri"], timeout=TIMEOUT).json())

    def log(self):
        with open(self.log_path) as f:
            return f.read()


@pytest.fixture
def provider(tmp_path):
    log_path = tmp_path / "oidc-provider.log"
    process, issuer = start_identity_provider(log_path)
    try:
        yield Provider(process, issuer, log_path)
    finally:
        process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()


def verify(provider, id_token, audience="gantry", nonce=None, algorithms=("RS256", "ES256")):
    """Verifies an ID token as a relying party would: signature against the JWKS, then the claims."""
    token = jwt.decode(id_token, provider.keys(), algorithms=list(algorithms))
    claims = {"iss": {"essential": True, "value": provider.config["issuer"]},
              "aud": {"essential": True, "value": audience},
              "exp": {"essential": True}, "iat": {"essential": True}, "sub": {"essential": True}}
    if nonce is not None:
        claims["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(**claims).validate(token.claims)
    return token


def start_sign_in(provider, client_id="gantry", client_secret="gantry-secret", redirect_uri=REDIRECT_URI, **params):
    session = OAuth2Session(client_id, client_secret, scope=SCOPE, redirect_uri=redirect_uri,
                            code_challenge_method="S256")
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(provider.config["authorization_endpoint"],
                                                  code_verifier=verifier, nonce=nonce, **params)
    return session, url, state, verifier, nonce


def submit_login(provider, url, username, password):
    """What a browser does: load the login page, fill in the form, submit; returns the redirect."""
    page = provider.http.get(url, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    for element in ('id="username"', 'id="password"', 'id="login"'):
        assert element in page.text
    response = provider.http.post(url, data={"username": username, "password": password, "action": "login"},
                                  allow_redirects=False, timeout=TIMEOUT)
    return response


def sign_in(provider, username="alice@example.com", password="alice-pw", **kwargs):
    session, url, state, verifier, nonce = start_sign_in(provider, **kwargs)
    response = submit_login(provider, url, username, password)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state] and "code" in query
    token = session.fetch_token(provider.config["token_endpoint"], authorization_response=location, timeout=TIMEOUT,
                                code_verifier=verifier)
    return token, nonce


def test_discovery_and_jwks(provider):
    config = provider.config
    OpenIDProviderMetadata(config).validate()
    assert config["issuer"] == provider.base
    for name, path in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"), ("jwks_uri", "/jwks"),
                       ("userinfo_endpoint", "/userinfo"), ("device_authorization_endpoint", "/device_authorization")]:
        assert config[name] == provider.base + path
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert DEVICE_GRANT in config["grant_types_supported"]
    keys = requests.get(config["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert {(k["kty"], k["kid"], k["alg"]) for k in keys} == {("RSA", "rsa-1", "RS256"), ("EC", "ec-1", "ES256")}
    assert keys[1]["crv"] == "P-256" and all("d" not in k for k in keys)


def test_code_flow_with_pkce_gives_a_verified_id_token(provider):
    # A wrong password shows the form again and redirects nowhere.
    _, url, _, _, _ = start_sign_in(provider)
    refused = submit_login(provider, url, "alice@example.com", "not-her-password")
    assert refused.status_code == 401 and 'id="error"' in refused.text and "Location" not in refused.headers

    token, nonce = sign_in(provider)
    id_token = verify(provider, token["id_token"], nonce=nonce)
    assert id_token.header["alg"] == "RS256" and id_token.header["kid"] == "rsa-1"
    claims = id_token.claims
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
    assert claims["groups"] == ["platform", "developers"] and claims["name"] == "Alice Example"
    assert claims["exp"] > time.time() > claims["iat"] - 5

    userinfo = provider.get("/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == claims["sub"]
    assert provider.get("/userinfo", headers={"Authorization": "Bearer nonsense"}).status_code == 401

    # An unverified email is told as such (the relying party refuses it).
    token, nonce = sign_in(provider, "carol@example.com", "carol-pw")
    assert verify(provider, token["id_token"], nonce=nonce).claims["email_verified"] is False


def test_token_endpoint_refuses_a_wrong_pkce_verifier_and_a_reused_code(provider):
    session, url, state, verifier, nonce = start_sign_in(provider)
    location = submit_login(provider, url, "bob@example.com", "bob-pw").headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    auth = ("gantry", "gantry-secret")
    wrong = provider.post("/token", data={**form, "code_verifier": secrets.token_urlsafe(48)}, auth=auth)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = provider.post("/token", data=form, auth=auth)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    bad_secret = provider.post("/token", data={**form, "code_verifier": verifier}, auth=("gantry", "wrong"))
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    good = provider.post("/token", data={**form, "code_verifier": verifier}, auth=auth)
    assert good.status_code == 200, good.text
    verify(provider, good.json()["id_token"], nonce=nonce)
    reused = provider.post("/token", data={**form, "code_verifier": verifier}, auth=auth)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_public_client_uses_loopback_redirects_and_must_use_pkce(provider):
    loopback = "http://127.0.0.1:53123/oidc/callback"
    token, nonce = sign_in(provider, "bob@example.com", "bob-pw", client_id="gantry-cli", client_secret=None,
                           redirect_uri=loopback)
    assert verify(provider, token["id_token"], audience="gantry-cli", nonce=nonce).claims["groups"] == ["developers"]

    # No PKCE: refused back to the client with an error.
    plain = provider.get("/authorize", params={"response_type": "code", "client_id": "gantry-cli", "scope": SCOPE,
                                               "redirect_uri": loopback, "state": "s1"}, allow_redirects=False)
    query = parse_qs(urlsplit(plain.headers["Location"]).query)
    assert plain.status_code == 302 and query["error"] == ["invalid_request"] and query["state"] == ["s1"]
    # A redirect URI off the loopback: an error page, no redirect.
    elsewhere = provider.get("/authorize", params={"response_type": "code", "client_id": "gantry-cli", "scope": SCOPE,
                                                   "redirect_uri": "https://evil.example/cb", "state": "s1",
                                                   "code_challenge": "x" * 43, "code_challenge_method": "S256"},
                             allow_redirects=False)
    assert elsewhere.status_code == 400 and "Location" not in elsewhere.headers
    # Cancel on the login page: access_denied with the state.
    _, url, state, _, _ = start_sign_in(provider)
    denied = provider.http.post(url, data={"action": "deny"}, allow_redirects=False, timeout=TIMEOUT)
    query = parse_qs(urlsplit(denied.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == [state] and "code" not in query


def test_device_flow(provider):
    start = provider.post("/device_authorization", data={"client_id": "gantry-cli", "scope": SCOPE})
    assert start.status_code == 200, start.text
    grant = start.json()
    assert grant["verification_uri"] == provider.base + "/device" and grant["interval"] >= 1
    poll = {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"], "client_id": "gantry-cli"}
    pending = provider.post("/token", data=poll)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"

    page = provider.get("/device", params={"user_code": grant["user_code"]})
    assert all(f'id="{i}"' in page.text for i in ("user_code", "username", "password", "approve"))
    wrong = provider.post("/device", data={"user_code": grant["user_code"], "username": "bob@example.com",
                                           "password": "nope", "action": "approve"})
    assert wrong.status_code == 401
    # The user may type the code in lower case and without the dash.
    typed = grant["user_code"].replace("-", "").lower()
    approved = provider.post("/device", data={"user_code": typed, "username": "bob@example.com",
                                              "password": "bob-pw", "action": "approve"})
    assert approved.status_code == 200 and '<p id="result">approved</p>' in approved.text

    deadline = time.monotonic() + 10
    while True:
        response = provider.post("/token", data=poll)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        assert response.json()["error"] in ("authorization_pending", "slow_down")
        time.sleep(0.05)
    assert response.status_code == 200, response.text
    claims = verify(provider, response.json()["id_token"], audience="gantry-cli").claims
    assert claims["email"] == "bob@example.com" and claims["groups"] == ["developers"] and "nonce" not in claims
    used = provider.post("/token", data=poll)
    assert used.status_code == 400 and used.json()["error"] == "invalid_grant"

    # A denied device code: access_denied. The confidential web client may not use the device grant.
    grant = provider.post("/device_authorization", data={"client_id": "gantry-cli", "scope": SCOPE}).json()
    provider.post("/device", data={"user_code": grant["user_code"], "action": "deny"})
    denied = provider.post("/token", data={**poll, "device_code": grant["device_code"]})
    assert denied.status_code == 400 and denied.json()["error"] == "access_denied"
    web = provider.post("/device_authorization", data={"scope": SCOPE}, auth=("gantry", "gantry-secret"))
    assert web.status_code == 400 and web.json()["error"] == "unauthorized_client"


def test_key_rotation_publishes_the_new_kid_only_after_rotating(provider):
    token, _ = sign_in(provider)
    old_keys = provider.keys()
    assert jwt.decode(token["id_token"], old_keys, algorithms=["RS256"]).header["kid"] == "rsa-1"

    rotated = provider.control("rotate-key")
    assert rotated["kid"] == "rsa-2" and rotated["previous_kid"] == "rsa-1"
    assert {k.kid for k in old_keys} == {"rsa-1", "ec-1"}
    token, nonce = sign_in(provider)
    new_token = verify(provider, token["id_token"], nonce=nonce)
    assert new_token.header["kid"] == "rsa-2"
    with pytest.raises(JoseError):   # a relying party with the old JWKS cannot verify it: it must refetch
        jwt.decode(token["id_token"], old_keys, algorithms=["RS256"])

    provider.control("rotate-key", {"keep_old": False})
    assert {k.kid for k in provider.keys()} == {"rsa-3", "ec-1"}


def test_group_change_shows_in_the_next_id_token(provider):
    token, nonce = sign_in(provider)
    assert verify(provider, token["id_token"], nonce=nonce).claims["groups"] == ["platform", "developers"]
    assert provider.control("set-groups", {"user": "alice@example.com", "groups": ["developers"]}) == \
        {"user": "alice@example.com", "groups": ["developers"]}
    token, nonce = sign_in(provider)
    assert verify(provider, token["id_token"], nonce=nonce).claims["groups"] == ["developers"]
    userinfo = provider.get("/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert userinfo["groups"] == ["developers"]


def test_es256_signing(provider):
    assert provider.control("signing-alg", {"alg": "ES256"}) == {"alg": "ES256", "kid": "ec-1"}
    token, nonce = sign_in(provider)
    id_token = verify(provider, token["id_token"], nonce=nonce, algorithms=["ES256"])
    assert id_token.header == {"alg": "ES256", "kid": "ec-1", "typ": "JWT"}
    expected_at_hash = hashlib.sha256(token["access_token"].encode()).digest()[:16]
    assert id_token.claims["at_hash"] == base64.urlsafe_b64encode(expected_at_hash).rstrip(b"=").decode()
    rotated = provider.control("rotate-key")
    assert rotated["alg"] == "ES256" and rotated["kid"] == "ec-2"
    token, nonce = sign_in(provider)
    assert verify(provider, token["id_token"], nonce=nonce).header["kid"] == "ec-2"


def test_forged_id_tokens_for_refusal_tests(provider):
    def issue(**options):
        return provider.control("issue-id-token", options)["id_token"]

    good = verify(provider, issue(nonce="n1"), nonce="n1").claims
    assert good["email"] == "alice@example.com" and good["aud"] == "gantry"
    assert verify(provider, issue(alg="ES256", user="bob@example.com")).claims["email"] == "bob@example.com"

    with pytest.raises(InvalidClaimError):
        verify(provider, issue(client_id="someone-else"))
    with pytest.raises(InvalidClaimError):
        verify(provider, issue(claims={"iss": "http://evil.example"}))
    with pytest.raises(ExpiredTokenError):
        verify(provider, issue(expires_in=-60))
    with pytest.raises(BadSignatureError):
        verify(provider, issue(bad_signature=True))
    with pytest.raises(BadSignatureError):
        verify(provider, issue(alg="ES256", bad_signature=True))
    none = issue(alg="none")
    assert none.endswith(".")  # an unsigned token: header alg none, empty signature
    with pytest.raises(JoseError):
        verify(provider, none)
    with pytest.raises(JoseError):
        verify(provider, issue(alg="HS256"))
    unpublished = provider.control("issue-id-token", {"key": "unpublished"})
    assert unpublished["header"]["kid"].startswith("unpublished-")
    with pytest.raises(JoseError):
        verify(provider, unpublished["id_token"])
    header_only = provider.control("issue-id-token", {"header": {"kid": None}, "claims": {"email_verified": None}})
    assert "kid" not in header_only["header"] and "email_verified" not in header_only["claims"]

    # The next token from the token endpoint is forged once, then they are normal again.
    assert provider.control("next-id-token", {"claims": {"aud": "someone-else"}}) == {"pending": True}
    token, nonce = sign_in(provider)
    with pytest.raises(InvalidClaimError):
        verify(provider, token["id_token"], nonce=nonce)
    token, nonce = sign_in(provider)
    verify(provider, token["id_token"], nonce=nonce)
    state = provider.get("/_test/state").json()
    assert state["counts"]["token"] == 2 and state["signing_kids"] == {"RS256": "rsa-1", "ES256": "ec-1"}


class Callback(http.server.BaseHTTPRequestHandler):
    """The relying party's redirect URI, for the browser test: records the query it is called with."""
    received = []

    def do_GET(self):
        self.received.append(self.path)  # (and the browser's /favicon.ico)
        body = b"<p id='done'>signed in</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_browser_fills_in_the_login_form_and_the_device_page(provider):
    require_chromium()
    callback = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (Callback,), {"received": []}))
    threading.Thread(target=callback.serve_forever, daemon=True).start()
    driver = new_chromium(log_console=False)
    try:
        wait = WebDriverWait(driver, 20)
        redirect_uri = f"http://127.0.0.1:{callback.server_port}/callback"
        session, url, state, verifier, nonce = start_sign_in(provider, redirect_uri=redirect_uri)
        driver.get(url)
        wait.until(EC.element_to_be_clickable((By.ID, "login")))
        driver.find_element(By.ID, "username").send_keys("alice@example.com")
        driver.find_element(By.ID, "password").send_keys("alice-pw")
        driver.find_element(By.ID, "login").click()
        wait.until(EC.presence_of_element_located((By.ID, "done")))
        received = [p for p in callback.RequestHandlerClass.received if p.startswith("/callback?")]
        assert len(received) == 1 and parse_qs(urlsplit(received[0]).query)["state"] == [state]
        token = session.fetch_token(provider.config["token_endpoint"], authorization_response=redirect_uri + received[0][len("/callback"):],
                                    code_verifier=verifier, timeout=TIMEOUT)
        assert verify(provider, token["id_token"], nonce=nonce).claims["email"] == "alice@example.com"

        grant = provider.post("/device_authorization", data={"client_id": "gantry-cli", "scope": SCOPE}).json()
        driver.get(grant["verification_uri_complete"])
        wait.until(EC.element_to_be_clickable((By.ID, "approve")))
        assert driver.find_element(By.ID, "user_code").get_attribute("value") == grant["user_code"]
        driver.find_element(By.ID, "username").send_keys("bob@example.com")
        driver.find_element(By.ID, "password").send_keys("bob-pw")
        driver.find_element(By.ID, "approve").click()
        assert wait.until(EC.presence_of_element_located((By.ID, "result"))).text == "approved"
        response = provider.post("/token", data={"grant_type": DEVICE_GRANT, "device_code": grant["device_code"],
                                                 "client_id": "gantry-cli"})
        assert response.status_code == 200, response.text
        assert verify(provider, response.json()["id_token"], audience="gantry-cli").claims["email"] == "bob@example.com"
    finally:
        driver.quit()
        callback.shutdown()
        callback.server_close()
