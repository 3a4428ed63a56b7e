"""The web console's single sign-on and "why can't I?" explanations, driven in a real browser.

Starts the test OpenID provider (tests/python/oidc_provider/server.py, Authlib) and the real `gantry serve`
with --oidc-* flags (group platform → role_admin@org, developers → role_viewer@org), then drives headless
Chromium from Debian over WebDriver: the sign-in screen offers "Sign in with SSO" beside the token field; the
button goes through the provider's real login page and back to the dashboard on the session cookie (alice's
email in the header); a change made with the cookie carries the CSRF header and succeeds; Sign out ends the
session on the server. As bob (viewer), refused changes show the explanation from GET /access/explain with the
policy, the scope by name and the roles that grant it. Without SSO configured (test_console.py's stack) the
button stays hidden, which test_sign_in_without_sso checks on its own server.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest


from selenium.webdriver.common.by import By  # noqa: E402

from browser import new_chromium, require_chromium  # noqa: E402
from gantry_process import GANTRY, Gantry, free_port, new_token, start_identity_provider  # noqa: E402
from test_console import (API, assert_no_console_errors, css, drain_log, shot,  # noqa: E402
                          visible, wait, wait_for)

# Chromium logs every HTTP error answer as SEVERE; the console expects some (401 from GET /api/me without a
# session, 403 refusals). assert_no_console_errors already lets exactly those through.


def start_provider(workdir):
    """The test identity provider on a free port; returns (process, issuer URL)."""
    return start_identity_provider(os.path.join(workdir, "oidc-provider.log"), "--quiet")


def start_gantry(workdir, extra=()):
    """`gantry serve` on SQLite with a bootstrap token; returns (process, base URL, token) once ready."""
    token = new_token()
    server = Gantry(f"sqlite:{workdir}/g-{free_port()}.db", token, workdir, extra).wait_ready(timeout=60)
    return server.process, server.base, token


def stop(process):
    if process.stdin:
        process.stdin.close()
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def sso():
    require_chromium()
    if not os.path.exists(GANTRY):
        pytest.fail(f"{GANTRY} is missing: run `swift build --build-tests` first")
    workdir = tempfile.mkdtemp(prefix="gantry-console-sso-")
    processes = []
    try:
        provider, issuer = start_provider(workdir)
        processes.append(provider)
        secret_file = os.path.join(workdir, "client-secret")
        with open(secret_file, "w") as f:
            f.write("gantry-secret\n")
        server, base, token = start_gantry(workdir, (
            "--oidc-issuer", issuer, "--oidc-client-id", "gantry", "--oidc-client-secret-file", secret_file,
            "--public-url", "{base}", "--oidc-group-role", "platform=role_admin@org",
            "--oidc-group-role", "developers=role_viewer@org"))
        processes.append(server)
        api = API(base, token)
        shop = api.ok("POST", "/projects", {"name": "Shop", "description": "The web shop"})
        yield {"base": base, "issuer": issuer, "api": api, "token": token, "shop": shop, "workdir": workdir}
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def browser():
    """A fresh Chromium per test: no cookie of one user's session reaches the next test."""
    driver = new_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def sso_sign_in(driver, stack, email, password):
    """From the sign-in screen through the SSO button and the provider's login page, back to the dashboard."""
    driver.get(stack["base"] + "/")
    visible(driver, "#signin-form")
    visible(driver, "#signin-sso", timeout=20).click()
    wait(driver, 30).until(lambda d: d.current_url.startswith(stack["issuer"]))
    visible(driver, "#username", timeout=30).send_keys(email)
    css(driver, "#password").send_keys(password)
    css(driver, "#login").click()
    wait(driver, 30).until(lambda d: d.current_url.startswith(stack["base"]))
    visible(driver, "#topbar", timeout=30)
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#whoami-user").text == email)


def cookie(driver):
    return next((c for c in driver.get_cookies() if c["name"] == "gantry_session"), None)


def test_sign_in_with_sso_make_a_change_and_sign_out(sso, browser):
    driver = browser
    driver.get(sso["base"] + "/")
    visible(driver, "#signin-form input[name=token]")
    button = visible(driver, "#signin-sso", timeout=20)
    assert button.text == "Sign in with SSO"
    shot(driver, "sso-01-sign-in")

    sso_sign_in(driver, sso, "alice@example.com", "alice-pw")
    session = cookie(driver)
    assert session and session["httpOnly"]
    # Signed in on the cookie alone: no token in storage, and the page cannot read the cookie.
    assert driver.execute_script("return sessionStorage.getItem('gantry.token')") is None
    assert "gantry_session" not in driver.execute_script("return document.cookie")
    wait(driver, 20).until(lambda d: "Shop" in d.find_element(By.CSS_SELECTOR, "#project-cards").text)
    shot(driver, "sso-02-dashboard")

    # A change with the cookie: the console sends X-Gantry-CSRF, so the API accepts it.
    css(driver, "#new-project").click()
    visible(driver, "#create-project-form input[name=name]").send_keys("Payments")
    css(driver, "#create-project-form button[type=submit]").click()
    wait(driver, 20).until(lambda d: "Payments" in d.find_element(By.CSS_SELECTOR, "#project-cards").text)
    projects = {p["name"]: p for p in sso["api"].all("/projects")}
    assert "Payments" in projects

    # A reload keeps the session (GET /api/me with the cookie).
    driver.refresh()
    wait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, "#whoami-user").text == "alice@example.com")

    # Sign out ends the session on the server and shows the sign-in screen.
    css(driver, "#signout").click()
    visible(driver, "#signin-form", timeout=20)
    assert "signed out" in visible(driver, "#signin-message").text
    wait(driver, 20).until(lambda d: cookie(d) is None)
    request = urllib.request.Request(sso["base"] + "/api/me", headers={"Cookie": f"gantry_session={session['value']}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    driver.refresh()
    visible(driver, "#signin-form", timeout=20)
    assert css(driver, "#topbar").get_attribute("hidden") is not None
    shot(driver, "sso-03-signed-out")
    assert_no_console_errors(driver)


def test_refusals_are_explained(sso, browser):
    """bob is a viewer. A button for what he may not do says so before the click, with GET /access/explain's sentence,
    and a click shows the sentence instead of starting the action; a 403 the console could not foresee (a request it
    sends anyway, as after a role changed while the page was open) is explained with the same sentence."""
    driver = browser
    sso_sign_in(driver, sso, "bob@example.com", "bob-pw")
    wait(driver, 20).until(lambda d: "Shop" in d.find_element(By.CSS_SELECTOR, "#project-cards").text)

    def refused(selector):
        return wait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, f"{selector}[data-denied=true]"),
                                      message=f"{selector} to be marked refused")

    def click_for_sentence(button):
        button.click()
        alert = visible(driver, "dialog[open] .alert-error")
        assert alert.get_attribute("data-error-code") == "forbidden", alert.get_attribute("outerHTML")
        return alert.find_element(By.CSS_SELECTOR, ".alert-message").text

    def close_dialog():
        css(driver, "dialog[open] .dialog-actions .btn-primary").click()
        wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

    # Creating a project needs projects:write on the organization.
    sentence = "You need projects:write on the organization; roles that grant it: admin."
    new_project = refused("#new-project")
    assert new_project.get_attribute("title") == sentence
    assert click_for_sentence(new_project) == sentence
    assert not driver.find_elements(By.CSS_SELECTOR, "#create-project-form")
    shot(driver, "sso-04-refused-create")
    close_dialog()
    # The API's own 403 for the same request, sent through the console's client: explained the same way.
    message = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/console/js/api.js')
          .then(({ api }) => api.post('/projects', { name: "Bob's project" }))
          .then(() => done('created'), (error) => done(error.message));
    """)
    assert message == sentence, message
    assert "Bob's project" not in {p["name"] for p in sso["api"].all("/projects")}

    # Renaming Shop needs projects:write on it: the sentence names the project, not its ID.
    driver.get(f"{sso['base']}/#/projects/{sso['shop']['id']}")
    edit = refused("#edit-project")
    title = edit.get_attribute("title")
    assert title.startswith("You need projects:write on project Shop; roles that grant it: admin"), title
    assert sso["shop"]["id"] not in title
    assert refused("#delete-project").get_attribute("title").startswith("You need projects:delete on project Shop")
    assert refused("#new-environment").get_attribute("title").startswith("You need environments:write on project Shop")
    assert click_for_sentence(edit) == title
    assert not driver.find_elements(By.CSS_SELECTOR, "#edit-project-form")
    shot(driver, "sso-05-refused-rename")
    close_dialog()
    assert sso["api"].ok("GET", f"/projects/{sso['shop']['id']}")["name"] == "Shop"
    assert_no_console_errors(driver)


def test_token_sign_in_still_works_beside_sso(sso, browser):
    driver = browser
    driver.get(sso["base"] + "/")
    visible(driver, "#signin-sso", timeout=20)
    field = visible(driver, "#signin-form input[name=token]")
    field.send_keys(sso["token"])
    css(driver, "#signin-form button[type=submit]").click()
    wait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, "#whoami-user").text == "admin@localhost")
    assert cookie(driver) is None
    css(driver, "#signout").click()
    visible(driver, "#signin-form", timeout=20)
    assert driver.execute_script("return sessionStorage.getItem('gantry.token')") is None
    drain_log(driver)
    assert_no_console_errors(driver)


def test_sign_in_without_sso(browser, tmp_path):
    """Without --oidc-issuer, GET /auth/config is 404 and the console offers the token field only."""
    process, base, _ = start_gantry(str(tmp_path))
    try:
        driver = browser
        driver.get(base + "/")
        visible(driver, "#signin-form input[name=token]")
        panel = css(driver, "#signin-sso-panel")
        wait(driver, 20).until(lambda d: d.execute_script(
            "return performance.getEntriesByType('resource').some((e) => e.name.endsWith('/auth/config'))"))
        assert not panel.is_displayed()
        assert_no_console_errors(driver)
    finally:
        stop(process)
