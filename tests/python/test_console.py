"""The web console (issue 5), driven in a real browser.

Starts the real `gantry serve` (SQLite, bootstrap token) and the fake Kubernetes API server
(`kube-test-server`), seeds a catalog through the API, then drives headless Chromium from Debian
(`chromium`, `chromium-driver`; scripts/test.sh installs both) over WebDriver with selenium:
sign in, dashboard cards from the stats, create a project and an environment from the UI (and see the
409 conflict inline), live stats and the cluster-error banner, the architecture canvas (nodes, arrows,
drag → PATCH canvasPosition, draw/accept/delete a connection), settings pages (forms, rows' Rename and
Delete), a revoked token, a narrow screen, and no console errors. A screenshot of each page goes to the
folder printed at the end (GANTRY_CONSOLE_SCREENSHOTS, default .build/console-screenshots).
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest


from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from browser import new_chromium, require_chromium  # noqa: E402
from gantry_process import GANTRY, REPO, free_port, new_token  # noqa: E402

KUBE_TEST_SERVER = os.path.join(REPO, ".build", "debug", "kube-test-server")
SHOTS = os.environ.get("GANTRY_CONSOLE_SCREENSHOTS", os.path.join(REPO, ".build", "console-screenshots"))
# Chrome logs every HTTP error answer as SEVERE "Failed to load resource"; the console expects and shows
# those (401 after a revoke, 409 conflicts, 502 from an unreachable cluster). Everything else counts.
EXPECTED_NETWORK_ERROR = "Failed to load resource: the server responded with a status of"



class API:
    def __init__(self, base, token):
        self.base = base
        self.token = token

    def call(self, method, path, body=None, token=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + "/api" + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token or self.token}")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, (json.loads(raw) if raw else None)

    def ok(self, method, path, body=None, **kwargs):
        status, payload = self.call(method, path, body, **kwargs)
        assert 200 <= status < 300, f"{method} {path} → {status} {payload}"
        return payload["data"] if payload and "data" in payload else payload

    def all(self, path):
        return self.ok("GET", path + ("&" if "?" in path else "?") + "limit=200")


def kubeconfig(server, ca_pem, token="test-cluster-token"):
    ca = base64.b64encode(ca_pem.encode()).decode()
    return f"""apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: {server}
    certificate-authority-data: {ca}
contexts:
- name: test
  context: {{cluster: test, user: deployer}}
users:
- name: deployer
  user:
    token: {token}
"""


def wait_for(predicate, timeout=10, interval=0.1, message="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message} (last: {last!r})")


def run_stack(prefix, extra_env=None, serve_flags=()):
    """A fake cluster and a fresh Gantry beside it, for one module's browser tests; yields what the tests use.
    `extra_env` sets GANTRY_* variables (a flag would win over them)."""
    require_chromium()
    for binary in (GANTRY, KUBE_TEST_SERVER):
        if not os.path.exists(binary):
            pytest.fail(f"{binary} is missing: run `swift build --build-tests` first")
    workdir = tempfile.mkdtemp(prefix=prefix)
    processes = []
    try:
        ca_file = os.path.join(workdir, "ca.pem")
        kube = subprocess.Popen([KUBE_TEST_SERVER, "--port", "0", "--ca-out", ca_file], stdout=subprocess.PIPE, text=True)
        processes.append(kube)
        line = kube.stdout.readline().strip()
        assert line.startswith("listening https://127.0.0.1:"), line
        cluster_url = line.split(" ", 1)[1]

        token = new_token()
        port = free_port()
        env = dict(os.environ, GANTRY_BOOTSTRAP_TOKEN=token, **(extra_env or {}))
        log_path = os.path.join(workdir, "gantry.log")
        log = open(log_path, "w")
        server = subprocess.Popen(
            [GANTRY, "serve", "--port", str(port), "--database", f"sqlite:{workdir}/g.db", "--rate-limit", "0",
             "--log-format", "text", *serve_flags],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        processes.append(server)
        base = f"http://127.0.0.1:{port}"

        def ready():
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    return r.status == 200
            except Exception:
                if server.poll() is not None:
                    raise AssertionError(f"gantry serve exited: {open(log_path).read()}")
                return False
        wait_for(ready, timeout=60, interval=0.2, message="gantry serve to be ready")
        yield {"base": base, "api": API(base, token), "token": token, "cluster": cluster_url, "ca": open(ca_file).read(),
               "workdir": workdir, "log": log_path}
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack():
    yield from run_stack("gantry-console-", serve_flags=("--sync-interval", "0"))


@pytest.fixture(scope="module")
def seed(stack):
    """Two spaces (a live fake cluster and an unreachable one), three projects, deployments and connections."""
    api = stack["api"]
    live = api.ok("POST", "/spaces", {"name": "test-cluster", "provider": "kubeconfig", "kubeconfig": kubeconfig(stack["cluster"], stack["ca"])})
    dead = api.ok("POST", "/spaces", {"name": "dead-cluster", "provider": "kubeconfig",
                                      "kubeconfig": kubeconfig(f"https://127.0.0.1:{free_port()}", stack["ca"])})
    shop = api.ok("POST", "/projects", {"name": "Shop", "description": "The web shop"})
    production = api.ok("POST", f"/projects/{shop['id']}/environments", {"name": "production", "spaceId": live["id"], "namespace": "shop"})
    staging = api.ok("POST", f"/projects/{shop['id']}/environments", {"name": "staging", "spaceId": live["id"], "namespace": "shop-staging"})
    deps = {}
    for name, image in (("web", "shop/web:1.4"), ("api", "shop/api:2.0"), ("db", "postgres:16"), ("stuck", "shop/worker:1"), ("idle", "shop/cron:1")):
        deps[name] = api.ok("POST", f"/environments/{production['id']}/deployments", {"name": name, "image": image, "replicas": 2})
    deps["web-staging"] = api.ok("POST", f"/environments/{staging['id']}/deployments", {"name": "web", "image": "shop/web:1.5"})
    connections = [
        api.ok("POST", f"/environments/{production['id']}/connections", {"fromDeploymentId": deps["web"]["id"], "toDeploymentId": deps["api"]["id"], "injectedVar": "API_URL"}),
        api.ok("POST", f"/environments/{production['id']}/connections", {"fromDeploymentId": deps["api"]["id"], "toDeploymentId": deps["db"]["id"], "sourceHint": "suggestion"}),
    ]
    tools = api.ok("POST", "/projects", {"name": "Internal tools"})
    tools_env = api.ok("POST", f"/projects/{tools['id']}/environments", {"name": "ops", "spaceId": dead["id"], "namespace": "tools"})
    api.ok("POST", f"/environments/{tools_env['id']}/deployments", {"name": "grafana", "image": "grafana/grafana:11"})
    empty = api.ok("POST", "/projects", {"name": "Empty"})
    return {"live": live, "dead": dead, "shop": shop, "production": production, "staging": staging, "deps": deps,
            "connections": connections, "tools": tools, "tools_env": tools_env, "empty": empty}


@pytest.fixture(scope="module")
def browser(stack):
    driver = new_chromium()
    os.makedirs(SHOTS, exist_ok=True)
    yield driver
    driver.quit()
    sys.__stderr__.write(f"\nconsole screenshots: {SHOTS}\n")


def drain_log(driver):
    driver.console_log.extend(driver.get_log("browser"))


def assert_no_console_errors(driver):
    """Nothing in the browser's log so far is SEVERE (but the HTTP error answers the console expects) or a warning."""
    drain_log(driver)
    severe = [entry for entry in driver.console_log
              if entry["level"] == "SEVERE" and EXPECTED_NETWORK_ERROR not in entry["message"]]
    assert not severe, severe
    warnings = [entry for entry in driver.console_log if entry["level"] == "WARNING"]
    assert not warnings, warnings


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def wait(driver, timeout=10):
    # Pages re-render parts of themselves: an element read mid-render is simply read again.
    return WebDriverWait(driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def css(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def visible(driver, selector, timeout=10):
    return wait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, selector)))


def clear_input(element):
    """Empties a field the way a person does, so the page sees input events (WebDriver's clear() does not send them)."""
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.BACKSPACE)


def go(driver, stack, hash_path):
    driver.get(f"{stack['base']}/#{hash_path}")


def sign_in(driver, stack, token):
    driver.get(stack["base"] + "/")
    field = visible(driver, "#signin-form input[name=token]")
    field.clear()
    field.send_keys(token)
    css(driver, "#signin-form button[type=submit]").click()
    visible(driver, "#topbar")


# ---------------------------------------------------------------------------------------------------------------

def test_console_assets_and_routes(stack):
    def get(path, method="GET"):
        request = urllib.request.Request(stack["base"] + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    status, headers, body = get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'src="/console/js/app.js"' in body and b'rel="icon"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    for path, kind in (("/console/app.css", "text/css"), ("/console/js/app.js", "text/javascript"),
                       ("/console/js/pages/canvas.js", "text/javascript"), ("/console/favicon.svg", "image/svg+xml"),
                       ("/favicon.ico", "image/svg+xml")):
        status, headers, _ = get(path)
        assert status == 200, path
        assert headers["Content-Type"].startswith(kind), (path, headers["Content-Type"])
        assert headers["ETag"]
    # Revalidation answers 304.
    etag = get("/console/app.css")[1]["ETag"]
    request = urllib.request.Request(stack["base"] + "/console/app.css", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("expected 304")
    except urllib.error.HTTPError as error:
        assert error.code == 304
    # Unknown files and routes keep the JSON envelope; wrong methods are 405.
    status, headers, body = get("/console/missing.js")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    status, headers, body = get("/console/../Package.swift")
    assert status == 404
    status, headers, body = get("/api/no-such-route")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    status, headers, body = get("/", method="POST")
    assert status == 405 and json.loads(body)["error"]["code"] == "method_not_allowed"
    status, headers, body = get("/console/app.css", method="DELETE")
    assert status == 405 and headers["Allow"] == "GET"
    for path in ("/healthz", "/readyz", "/metrics", "/api/openapi.json"):
        assert get(path)[0] == 200, path


def test_sign_in(stack, seed, browser):
    driver = browser
    driver.get(stack["base"] + "/")
    field = visible(driver, "#signin-form input[name=token]")
    shot(driver, "01-sign-in")
    field.send_keys("not-a-token")
    css(driver, "#signin-form button[type=submit]").click()
    assert "not a Gantry token" in visible(driver, "#signin-status .alert").text
    field.clear()
    field.send_keys(new_token())  # well-formed but unknown: the API answers 401
    css(driver, "#signin-form button[type=submit]").click()
    wait(driver).until(lambda d: "not accepted" in d.find_element(By.CSS_SELECTOR, "#signin-status").text)
    field.clear()
    field.send_keys(stack["token"])
    css(driver, "#signin-form button[type=submit]").click()
    visible(driver, "#topbar")
    assert css(driver, "#whoami-user").text == "admin@localhost"
    assert driver.execute_script("return sessionStorage.getItem('gantry.token')") == stack["token"]
    assert driver.execute_script("return localStorage.length") == 0
    drain_log(driver)


def cards_by_name(driver):
    out = {}
    for card in driver.find_elements(By.CSS_SELECTOR, "#project-cards article.card"):
        name = card.find_element(By.CSS_SELECTOR, "h2").text
        out[name] = {
            "id": card.get_attribute("data-project-id"),
            "environments": int(card.find_element(By.CSS_SELECTOR, ".card-environments").get_attribute("data-count")),
            "services": int(card.find_element(By.CSS_SELECTOR, ".card-services").get_attribute("data-count")),
            "segments": {el.get_attribute("data-status"): int(el.get_attribute("data-count"))
                         for el in card.find_elements(By.CSS_SELECTOR, ".stackbar span")},
            "element": card,
        }
    return out


def test_dashboard_cards_match_stats(stack, seed, browser):
    driver = browser
    go(driver, stack, "/projects")
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#project-cards article.card")) == 3)
    stats = stack["api"].ok("GET", "/projects/stats")
    cards = cards_by_name(driver)
    assert set(cards) == {s["name"] for s in stats}
    for s in stats:
        card = cards[s["name"]]
        assert card["id"] == s["projectId"]
        assert card["environments"] == s["environmentCount"]
        assert card["services"] == s["serviceCount"]
        assert card["segments"] == {k: v for k, v in s["statusBuckets"].items() if v}
    assert cards["Shop"]["environments"] == 2 and cards["Shop"]["services"] == 6
    assert "never" in cards["Shop"]["element"].find_element(By.CSS_SELECTOR, ".card-last-deploy").text
    shot(driver, "02-dashboard")
    # Search filters through the stats call's q.
    search = css(driver, "#project-search")
    search.send_keys("tool")
    wait(driver).until(lambda d: list(cards_by_name(d)) == ["Internal tools"])
    assert "q=tool" in driver.current_url
    clear_input(search)
    search.send_keys("zzz")
    visible(driver, "#project-cards .empty")
    clear_input(search)
    wait(driver).until(lambda d: len(cards_by_name(d)) == 3)
    drain_log(driver)


def test_create_project_from_the_ui(stack, seed, browser):
    driver = browser
    go(driver, stack, "/projects")
    wait(driver).until(lambda d: len(cards_by_name(d)) == 3)
    css(driver, "#new-project").click()
    name = visible(driver, "#create-project-form input[name=name]")
    assert driver.switch_to.active_element == name
    name.send_keys("Payments")
    css(driver, "#create-project-form input[name=description]").send_keys("Card processing")
    css(driver, "#create-project-form button[type=submit]").click()
    wait(driver).until(lambda d: "Payments" in cards_by_name(d))
    card = cards_by_name(driver)["Payments"]
    assert card["environments"] == 0 and card["services"] == 0
    projects = {p["name"]: p for p in stack["api"].all("/projects")}
    assert projects["Payments"]["description"] == "Card processing"
    # A duplicate name: the API's 409 message appears inline, next to the name.
    css(driver, "#new-project").click()
    visible(driver, "#create-project-form input[name=name]").send_keys("payments")
    css(driver, "#create-project-form button[type=submit]").click()
    alert = visible(driver, "#create-project-form .alert-error")
    assert alert.get_attribute("data-error-code") == "conflict"
    assert "Request ID" in alert.text
    error = visible(driver, "#create-project-form .field[data-field=name] .field-error")
    assert error.text
    assert css(driver, "#create-project-form input[name=name]").get_attribute("aria-invalid") == "true"
    shot(driver, "03-create-project-conflict")
    drain_log(driver)


def test_project_page_environments(stack, seed, browser):
    driver = browser
    api = stack["api"]
    payments = {p["name"]: p for p in api.all("/projects")}["Payments"]
    go(driver, stack, "/projects")
    wait(driver).until(lambda d: "Payments" in cards_by_name(d))
    cards_by_name(driver)["Payments"]["element"].find_element(By.CSS_SELECTOR, "h2 a").click()
    assert visible(driver, "#project-name").text == "Payments"
    visible(driver, "#environment-list .empty")
    css(driver, "#new-environment").click()
    form = visible(driver, "#create-environment-form")
    form.find_element(By.NAME, "name").send_keys("live")
    Select(form.find_element(By.NAME, "spaceId")).select_by_value(seed["live"]["id"])
    form.find_element(By.NAME, "namespace").send_keys("payments")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#environments-table tbody tr"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#environments-table tbody tr")
    assert len(rows) == 1 and "live" in rows[0].text and "test-cluster" in rows[0].text and "payments" in rows[0].text
    envs = api.all(f"/projects/{payments['id']}/environments")
    assert [e["name"] for e in envs] == ["live"]

    # The same (space, namespace) as Shop's production: a 409 conflict, shown inline on the namespace field.
    css(driver, "#new-environment").click()
    form = visible(driver, "#create-environment-form")
    form.find_element(By.NAME, "name").send_keys("copy")
    Select(form.find_element(By.NAME, "spaceId")).select_by_value(seed["live"]["id"])
    form.find_element(By.NAME, "namespace").send_keys("shop")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    alert = visible(driver, "#create-environment-form .alert-error")
    assert alert.get_attribute("data-error-code") == "conflict"
    assert visible(driver, "#create-environment-form .field[data-field=namespace] .field-error").text
    # An invalid namespace: validation_failed with the field named.
    ns = form.find_element(By.NAME, "namespace")
    ns.clear()
    ns.send_keys("Kube_System")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#create-environment-form .alert-error").get_attribute("data-error-code") == "validation_failed")
    shot(driver, "04-project-environment-conflict")

    # The dashboard card counts follow.
    go(driver, stack, "/projects")
    wait(driver).until(lambda d: "Payments" in cards_by_name(d) and cards_by_name(d)["Payments"]["environments"] == 1)

    # Edit in a dialog (PATCH with If-Match), then delete after a dry run.
    go(driver, stack, f"/projects/{payments['id']}")
    visible(driver, "#environments-table tbody tr .btn").click()  # Edit
    dialog_form = visible(driver, "dialog #edit-environment-form")
    name = dialog_form.find_element(By.NAME, "name")
    clear_input(name)
    name.send_keys("live-eu")
    dialog_form.find_element(By.NAME, "registryUrl").send_keys("registry.example.com/payments")
    css(driver, "dialog .dialog-actions .btn-primary").click()
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog"))
    wait(driver).until(lambda d: "live-eu" in d.find_element(By.CSS_SELECTOR, "#environments-table tbody tr").text)
    env = api.all(f"/projects/{payments['id']}/environments")[0]
    assert env["name"] == "live-eu" and env["registryUrl"] == "registry.example.com/payments" and env["version"] == 2
    driver.find_element(By.CSS_SELECTOR, "#environments-table tbody tr .btn-danger").click()
    wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "dialog #confirm-delete"))).click()
    visible(driver, "#environment-list .empty")
    assert api.all(f"/projects/{payments['id']}/environments") == []

    # An environment with deployments: the dry run says what blocks the delete.
    go(driver, stack, f"/projects/{seed['shop']['id']}")
    row = visible(driver, f'#environments-table tr[data-environment-id="{seed["production"]["id"]}"]')
    row.find_element(By.CSS_SELECTOR, ".btn-danger").click()
    assert "5 live deployments" in visible(driver, "dialog .alert-warning").text
    assert not css(driver, "dialog #confirm-delete").is_displayed()
    css(driver, "dialog .dialog-actions .btn").click()
    drain_log(driver)


def test_project_rename_delete_restore(stack, seed, browser):
    driver = browser
    api = stack["api"]
    # Shop has live children: the dry run says what blocks the delete.
    go(driver, stack, f"/projects/{seed['shop']['id']}")
    visible(driver, "#environments-table")
    shot(driver, "05-project")
    css(driver, "#delete-project").click()
    blocked = visible(driver, "dialog #delete-blocked")
    assert "2 live environments" in blocked.text and "6 live deployments" in blocked.text
    assert not css(driver, "dialog #confirm-delete").is_displayed()
    driver.find_element(By.CSS_SELECTOR, "dialog").send_keys(Keys.ESCAPE)
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog"))

    # Empty: rename it, delete it, restore it.
    go(driver, stack, f"/projects/{seed['empty']['id']}")
    visible(driver, "#edit-project").click()
    name = visible(driver, "#edit-project-form input[name=name]")
    name.clear()
    name.send_keys("Sandbox")
    css(driver, "#edit-project-form button[type=submit]").click()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#project-name").text == "Sandbox")
    assert api.ok("GET", f"/projects/{seed['empty']['id']}")["name"] == "Sandbox"
    css(driver, "#delete-project").click()
    confirm = wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "dialog #confirm-delete")))
    confirm.click()
    visible(driver, "#project-deleted")
    assert api.call("GET", f"/projects/{seed['empty']['id']}")[0] == 404
    css(driver, "#restore-project").click()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#project-name") and d.find_element(By.CSS_SELECTOR, "#project-name").text == "Sandbox")
    assert api.ok("GET", f"/projects/{seed['empty']['id']}")["name"] == "Sandbox"
    drain_log(driver)


def test_environment_page_live_stats_and_discovery(stack, seed, browser):
    driver = browser
    go(driver, stack, f"/projects/{seed['shop']['id']}/environments/{seed['production']['id']}")
    assert visible(driver, "#environment-name").text == "production"
    wait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#stat-deployments .value"))
    assert css(driver, "#stat-deployments .value").text == "3"  # web, stuck, idle in namespace shop
    assert css(driver, "#stat-running .value").text == "1"
    assert css(driver, "#stat-failed .value").text == "1"
    assert css(driver, "#observed-at").get_attribute("datetime").endswith("Z")
    assert css(driver, "#auto-refresh").is_selected()
    rows = wait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ingress-classes tbody tr"))
    by_class = {r.get_attribute("data-class-name"): r.text for r in rows}
    assert "default" in by_class["nginx"] and "default" not in by_class["traefik"]
    certs = css(driver, "#cluster-discovery .cert-manager")
    assert certs.get_attribute("data-installed") == "true" and "letsencrypt" in certs.text and "ready" in certs.text
    deployments = driver.find_elements(By.CSS_SELECTOR, "#deployments-table tbody tr")
    assert len(deployments) == 5
    assert all(r.find_element(By.CSS_SELECTOR, ".badge").get_attribute("data-status") == "pending" for r in deployments)
    css(driver, "#refresh-stats").click()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#refresh-stats").is_enabled())
    assert not driver.find_elements(By.CSS_SELECTOR, "#stats-banner .alert")
    shot(driver, "06-environment-live")

    # A namespace the cluster lacks: zeros and a note, not an error.
    go(driver, stack, f"/projects/{seed['shop']['id']}/environments/{seed['staging']['id']}")
    visible(driver, "#namespace-missing", timeout=20)
    assert css(driver, "#stat-pods .value").text == "0"
    drain_log(driver)


def test_cluster_error_banner_names_the_space(stack, seed, browser):
    driver = browser
    go(driver, stack, f"/projects/{seed['tools']['id']}/environments/{seed['tools_env']['id']}")
    banner = visible(driver, "#stats-banner .cluster-error", timeout=30)
    assert "dead-cluster" in banner.text
    assert banner.get_attribute("data-error-code") in ("cluster_unreachable", "cluster_timeout")
    assert "Request ID" in banner.text
    visible(driver, "#cluster-discovery .cluster-error", timeout=30)
    # The rest of the page still works.
    assert len(driver.find_elements(By.CSS_SELECTOR, "#deployments-table tbody tr")) == 1
    shot(driver, "07-environment-cluster-error")
    drain_log(driver)


def open_canvas(driver, stack, project_id):
    go(driver, stack, f"/projects/{project_id}/canvas")
    wait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg#canvas[data-ready=true]"))
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "svg#canvas").get_attribute("data-zoom"))


def node(driver, deployment_id):
    return driver.find_element(By.CSS_SELECTOR, f'g.node[data-deployment-id="{deployment_id}"]')


def test_canvas_renders_and_drag_saves_position(stack, seed, browser):
    driver = browser
    api = stack["api"]
    open_canvas(driver, stack, seed["shop"]["id"])
    nodes = driver.find_elements(By.CSS_SELECTOR, "g.node")
    assert len(nodes) == 6
    assert {n.get_attribute("data-deployment-id") for n in nodes} == {d["id"] for d in seed["deps"].values()}
    edges = driver.find_elements(By.CSS_SELECTOR, "g.edge")
    assert {e.get_attribute("data-connection-id") for e in edges} == {c["id"] for c in seed["connections"]}
    hints = {e.get_attribute("data-connection-id"): e.get_attribute("class") for e in edges}
    assert "suggestion" in hints[seed["connections"][1]["id"]] and "suggestion" not in hints[seed["connections"][0]["id"]]
    for e in edges:
        assert e.find_element(By.CSS_SELECTOR, ".edge-line").get_attribute("marker-end").startswith("url(#arrow")
    groups = driver.find_elements(By.CSS_SELECTOR, "g.env-group")
    assert {g.get_attribute("data-environment-id") for g in groups} == {seed["production"]["id"], seed["staging"]["id"]}
    shot(driver, "08-canvas")

    web = seed["deps"]["web"]
    assert api.ok("GET", f"/deployments/{web['id']}")["canvasPosition"] is None
    element = node(driver, web["id"])
    x0, y0 = float(element.get_attribute("data-x")), float(element.get_attribute("data-y"))
    zoom = float(driver.find_element(By.CSS_SELECTOR, "svg#canvas").get_attribute("data-zoom"))
    ActionChains(driver).click_and_hold(element).move_by_offset(40, 20).move_by_offset(80, 40).release().perform()
    position = wait_for(lambda: api.ok("GET", f"/deployments/{web['id']}")["canvasPosition"], message="canvasPosition to be saved")
    assert abs(position["x"] - (x0 + 120 / zoom)) <= 2 and abs(position["y"] - (y0 + 60 / zoom)) <= 2, (position, x0, y0, zoom)
    assert api.ok("GET", f"/deployments/{web['id']}")["version"] == web["version"] + 1
    # Reload: the node is drawn at the stored position.
    open_canvas(driver, stack, seed["shop"]["id"])
    element = node(driver, web["id"])
    assert (float(element.get_attribute("data-x")), float(element.get_attribute("data-y"))) == (position["x"], position["y"])

    # Keyboard: focus a node and move it with the arrow keys; the position is saved too.
    api_node = seed["deps"]["api"]
    element = node(driver, api_node["id"])
    driver.execute_script("arguments[0].focus()", element)
    x1 = float(element.get_attribute("data-x"))
    ActionChains(driver).send_keys(Keys.ARROW_RIGHT).send_keys(Keys.ARROW_RIGHT).perform()
    position = wait_for(lambda: api.ok("GET", f"/deployments/{api_node['id']}")["canvasPosition"], message="keyboard move to be saved")
    assert position["x"] == round(x1 + 20)
    drain_log(driver)


def test_canvas_draw_accept_and_delete_connections(stack, seed, browser):
    driver = browser
    api = stack["api"]
    production = seed["production"]["id"]
    stuck, idle = seed["deps"]["stuck"], seed["deps"]["idle"]
    open_canvas(driver, stack, seed["shop"]["id"])

    # Shift-drag from one node onto another draws a connection.
    source, target = node(driver, stuck["id"]), node(driver, idle["id"])
    (ActionChains(driver).key_down(Keys.SHIFT).click_and_hold(source).move_by_offset(5, 5)
     .move_to_element(target).release().key_up(Keys.SHIFT).perform())

    def created():
        return [c for c in api.all(f"/environments/{production}/connections")
                if c["fromDeploymentId"] == stuck["id"] and c["toDeploymentId"] == idle["id"]]
    connection = wait_for(created, message="the drawn connection")[0]
    assert connection["sourceHint"] == "manual"
    edge = wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, f'g.edge[data-connection-id="{connection["id"]}"]'))
    shot(driver, "09-canvas-connected")

    # Drag from the handle works too (db → web).
    db, web = seed["deps"]["db"], seed["deps"]["web"]
    handle = node(driver, db["id"]).find_element(By.CSS_SELECTOR, ".handle")
    ActionChains(driver).click_and_hold(handle).move_by_offset(10, 0).move_to_element(node(driver, web["id"])).release().perform()
    wait_for(lambda: [c for c in api.all(f"/environments/{production}/connections")
                      if c["fromDeploymentId"] == db["id"] and c["toDeploymentId"] == web["id"]], message="the handle connection")

    # Accept the suggestion from the side panel.
    suggestion = seed["connections"][1]
    driver.execute_script("arguments[0].focus()", driver.find_element(By.CSS_SELECTOR, f'g.edge[data-connection-id="{suggestion["id"]}"]'))
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    visible(driver, "#accept-connection").click()
    wait_for(lambda: {c["id"]: c for c in api.all(f"/environments/{production}/connections")}[suggestion["id"]]["sourceHint"] == "manual",
             message="the suggestion to be accepted")
    wait(driver).until(lambda d: "suggestion" not in d.find_element(By.CSS_SELECTOR, f'g.edge[data-connection-id="{suggestion["id"]}"]').get_attribute("class"))

    # Delete the drawn connection: select it, delete, confirm.
    edge = driver.find_element(By.CSS_SELECTOR, f'g.edge[data-connection-id="{connection["id"]}"]')
    driver.execute_script("arguments[0].focus()", edge)
    ActionChains(driver).send_keys(Keys.DELETE).perform()
    visible(driver, "dialog .btn-danger").click()
    wait_for(lambda: not created(), message="the connection to be deleted")
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'g.edge[data-connection-id="{connection["id"]}"]'))

    # Zoom and fit keep working.
    zoom = float(driver.find_element(By.CSS_SELECTOR, "svg#canvas").get_attribute("data-zoom"))
    driver.find_element(By.CSS_SELECTOR, "button[aria-label='Zoom in']").click()
    wait(driver).until(lambda d: float(d.find_element(By.CSS_SELECTOR, "svg#canvas").get_attribute("data-zoom")) > zoom)
    css(driver, "#fit-canvas").click()
    drain_log(driver)


def test_canvas_with_200_deployments(stack, seed, browser):
    driver = browser
    api = stack["api"]
    project = api.ok("POST", "/projects", {"name": "Big"})
    env = api.ok("POST", f"/projects/{project['id']}/environments", {"name": "load", "spaceId": seed["live"]["id"], "namespace": "load"})
    ids = [api.ok("POST", f"/environments/{env['id']}/deployments", {"name": f"svc-{i}", "image": "busybox"})["id"] for i in range(200)]
    for i in range(0, 150):
        api.ok("POST", f"/environments/{env['id']}/connections", {"fromDeploymentId": ids[i], "toDeploymentId": ids[i + 50]})
    started = time.time()
    open_canvas(driver, stack, project["id"])
    assert len(driver.find_elements(By.CSS_SELECTOR, "g.node")) == 200
    assert len(driver.find_elements(By.CSS_SELECTOR, "g.edge")) == 150
    load_seconds = time.time() - started
    # Drag one node in 30 steps and time the frames the browser needed.
    element = node(driver, ids[0])
    chain = ActionChains(driver).click_and_hold(element)
    for _ in range(30):
        chain = chain.move_by_offset(3, 2)
    moved = time.time()
    chain.release().perform()
    drag_seconds = time.time() - moved
    wait_for(lambda: api.ok("GET", f"/deployments/{ids[0]}")["canvasPosition"], message="the big canvas drag to be saved")
    shot(driver, "10-canvas-200")
    assert load_seconds < 10, load_seconds
    assert drag_seconds < 10, drag_seconds
    drain_log(driver)


def test_settings_pages(stack, seed, browser):
    driver = browser
    for tab in ("spaces", "integrations", "cloud-accounts", "tokens", "members", "roles", "assignments", "audit"):
        go(driver, stack, f"/settings/{tab}")
        visible(driver, f"#settings-{tab}")
        wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"#settings-{tab} .loading"))
        assert not driver.find_elements(By.CSS_SELECTOR, f"#settings-{tab} .alert-error"), tab
        shot(driver, f"11-settings-{tab}")
    # Spaces are listed with their status; the audit log shows what the tests did.
    go(driver, stack, "/settings/spaces")
    rows = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#spaces-table tbody tr"))
    assert {r.get_attribute("data-space-id") for r in rows} == {seed["live"]["id"], seed["dead"]["id"]}
    go(driver, stack, f"/settings/audit?projectId={seed['shop']['id']}")
    rows = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr"))
    actions = {r.get_attribute("data-action") for r in rows}
    assert {"project.created", "environment.created", "deployment.updated", "connection.created"} <= actions, actions
    # Filter by action.
    action = css(driver, "#audit-filters input[name=action]")
    action.send_keys("connection.deleted")
    css(driver, "#audit-filters button[type=submit]").click()
    wait(driver).until(lambda d: {r.get_attribute("data-action") for r in d.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr")} == {"connection.deleted"})

    # Create a token: the secret is shown once.
    go(driver, stack, "/settings/tokens")
    visible(driver, "#settings-tokens .panel-header .btn-primary").click()
    visible(driver, "#create-token-form input[name=name]").send_keys("from the console")
    css(driver, "#create-token-form button[type=submit]").click()
    secret = visible(driver, "#new-token-secret .token-value").text
    assert secret.startswith("gnt_") and len(secret) == 44
    assert stack["api"].ok("GET", "/me", token=secret)["user"]["email"] == "admin@localhost"
    wait(driver).until(lambda d: any("from the console" in r.text for r in d.find_elements(By.CSS_SELECTOR, "#tokens-table tbody tr")))
    drain_log(driver)


def test_settings_forms(stack, seed, browser):
    driver = browser
    api = stack["api"]
    # A cloud account: the credentials go in and never come back.
    go(driver, stack, "/settings/cloud-accounts")
    visible(driver, "#settings-cloud-accounts .panel-header .btn-primary").click()
    form = visible(driver, "#create-cloud-account-form")
    form.find_element(By.NAME, "name").send_keys("aws-main")
    form.find_element(By.NAME, "credentials.accessKeyId").send_keys("AKIAEXAMPLEEXAMPLE00")
    form.find_element(By.NAME, "credentials.secretAccessKey").send_keys("very-secret-value")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#cloud-accounts-table tbody tr"))
    account = [a for a in api.all("/cloud-accounts") if a["name"] == "aws-main"][0]
    assert "very-secret-value" not in driver.page_source and "very-secret-value" not in json.dumps(account)

    # An EKS space from the provider form.
    go(driver, stack, "/settings/spaces")
    visible(driver, "#settings-spaces .panel-header .btn-primary").click()
    form = visible(driver, "#create-space-form")
    form.find_element(By.NAME, "name").send_keys("eks-prod")
    Select(form.find_element(By.NAME, "provider")).select_by_value("aws")
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#create-space-form select[name=cloudAccountId] option[value]:not([value=''])"))
    Select(form.find_element(By.NAME, "cloudAccountId")).select_by_value(account["id"])
    form.find_element(By.NAME, "config.clusterName").send_keys("prod")
    form.find_element(By.NAME, "config.region").send_keys("eu-west-1")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: any(r.text.startswith("eks-prod") for r in d.find_elements(By.CSS_SELECTOR, "#spaces-table tbody tr")))
    space = [sp for sp in api.all("/spaces") if sp["name"] == "eks-prod"][0]
    assert space["provider"] == "aws" and space["cloudAccountId"] == account["id"]
    assert space["config"]["clusterName"] == "prod" and space["config"]["region"] == "eu-west-1"
    # A kubeconfig that runs a command is refused, with the API's message inline.
    visible(driver, "#settings-spaces .panel-header .btn-primary").click()
    form = visible(driver, "#create-space-form")
    form.find_element(By.NAME, "name").send_keys("bad")
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#create-space-form textarea[name=kubeconfig]"))
    driver.execute_script("arguments[0].value = arguments[1]", form.find_element(By.NAME, "kubeconfig"),
                          "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {server: 'https://k.example'}\n"
                          "contexts:\n- name: c\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user:\n    exec: {command: /bin/sh}\n")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert visible(driver, "#create-space-form .alert-error").get_attribute("data-error-code") == "validation_failed"

    # A registry integration with write-only credentials.
    go(driver, stack, "/settings/integrations")
    visible(driver, "#settings-integrations .panel-header .btn-primary").click()
    form = visible(driver, "#create-integration-form")
    form.find_element(By.NAME, "name").send_keys("ghcr")
    Select(form.find_element(By.NAME, "kind")).select_by_value("ghcr")
    form.find_element(By.NAME, "registry").send_keys("ghcr.io")
    form.find_element(By.NAME, "username").send_keys("bot")
    form.find_element(By.NAME, "password").send_keys("ghp_secret")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#integrations-table tbody tr"))
    integration = [i for i in api.all("/integrations") if i["name"] == "ghcr"][0]
    assert integration["hasCredentials"] is True

    # A member, a custom role and an assignment of it on a project.
    go(driver, stack, "/settings/members")
    visible(driver, "#settings-members .panel-header .btn-primary").click()
    form = visible(driver, "#create-member-form")
    form.find_element(By.NAME, "email").send_keys("dev@example.com")
    form.find_element(By.NAME, "name").send_keys("Dev")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: any("dev@example.com" in r.text for r in d.find_elements(By.CSS_SELECTOR, "#members-table tbody tr")))
    user = [u for u in api.all("/users") if u["email"] == "dev@example.com"][0]

    go(driver, stack, "/settings/roles")
    visible(driver, "#settings-roles .panel-header .btn-primary").click()
    form = visible(driver, "#create-role-form")
    form.find_element(By.NAME, "name").send_keys("reader")
    for policy in ("projects:read", "environments:read", "deployments:read"):
        form.find_element(By.CSS_SELECTOR, f"input[name=policies][value='{policy}']").click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: any("reader" in r.text for r in d.find_elements(By.CSS_SELECTOR, "#roles-table tbody tr")))
    role = [r for r in api.all("/roles") if r["name"] == "reader"][0]
    assert sorted(role["policies"]) == ["deployments:read", "environments:read", "projects:read"]

    go(driver, stack, "/settings/assignments")
    visible(driver, "#settings-assignments .panel-header .btn-primary").click()
    form = visible(driver, "#create-assignment-form")
    Select(form.find_element(By.NAME, "userId")).select_by_value(user["id"])
    Select(form.find_element(By.NAME, "roleId")).select_by_value(role["id"])
    Select(form.find_element(By.NAME, "scopeKind")).select_by_value("project")
    Select(visible(driver, "#create-assignment-form select[name=projectId]")).select_by_value(seed["shop"]["id"])
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: any("dev@example.com" in r.text and "Shop" in r.text
                                     for r in d.find_elements(By.CSS_SELECTOR, "#assignments-table tbody tr")))
    assert any(a["userId"] == user["id"] and a["roleId"] == role["id"] and a["scope"] == f"project:{seed['shop']['id']}"
               for a in api.all("/assignments"))

    # A token minted for the member: shown once; signing in with it shows only what the role allows.
    go(driver, stack, "/settings/members")
    row = visible(driver, f'#members-table tr[data-user-id="{user["id"]}"]')
    row.find_element(By.CSS_SELECTOR, ".btn").click()
    visible(driver, "dialog #member-token-form input[name=name]").send_keys("dev laptop")
    css(driver, "dialog #member-token-form button[type=submit]").click()
    member_token = visible(driver, "dialog #new-token-secret .token-value").text
    css(driver, "dialog .dialog-actions .btn").click()
    css(driver, "#signout").click()
    sign_in(driver, stack, member_token)
    go(driver, stack, "/projects")
    wait(driver).until(lambda d: list(cards_by_name(d)) == ["Shop"])
    go(driver, stack, "/settings/spaces")
    assert "cannot see" in visible(driver, "#settings-spaces .alert-warning").text
    go(driver, stack, f"/projects/{seed['shop']['id']}")
    # The role has no projects:write: the button says so before the click, and the click explains instead of editing.
    edit = wait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, "#edit-project[data-denied=true]"))
    assert edit.get_attribute("title").startswith("You need projects:write on project Shop"), edit.get_attribute("title")
    edit.click()
    assert visible(driver, "dialog[open] .alert-error").get_attribute("data-error-code") == "forbidden"
    assert not driver.find_elements(By.CSS_SELECTOR, "#edit-project-form")
    shot(driver, "11-member-forbidden")
    css(driver, "dialog[open] .dialog-actions .btn-primary").click()
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    css(driver, "#signout").click()
    sign_in(driver, stack, stack["token"])
    drain_log(driver)


def row_button(row, label):
    return [b for b in row.find_elements(By.CSS_SELECTOR, "button") if b.text == label][0]


def rename_row(driver, selector, name):
    """The row's Rename: the dialog's name field emptied and typed, saved, and the row shows the new name."""
    row_button(visible(driver, selector), "Rename").click()
    field = visible(driver, "dialog #rename-form input[name=name]")
    clear_input(field)
    field.send_keys(name)
    css(driver, "dialog .dialog-actions .btn-primary").click()
    wait(driver).until(lambda d: name in d.find_element(By.CSS_SELECTOR, selector).text)


def delete_row(driver, selector, label="Delete", question=None):
    """The row's danger button (`label`), confirmed (the dialog asks `question`, when given); the row goes."""
    row_button(visible(driver, selector), label).click()
    if question:
        assert question in visible(driver, "dialog h2").text
    visible(driver, "dialog .dialog-actions .btn-danger").click()
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, selector))


def test_settings_rename_and_delete_rows(stack, seed, browser):
    """The rows' Rename / Delete (Remove, Revoke) buttons: a rename dialog, a confirmation, the API call, the
    list re-read; a refusal lands in the section's status area and the row stays."""
    driver = browser
    api = stack["api"]
    # Rename, then delete, an integration.
    integration = api.ok("POST", "/integrations", {"name": "row-reg", "kind": "generic", "registry": "registry.example"})
    selector = f'#integrations-table tr[data-integration-id="{integration["id"]}"]'
    go(driver, stack, "/settings/integrations")
    rename_row(driver, selector, "row-registry")
    assert api.ok("GET", f"/integrations/{integration['id']}")["name"] == "row-registry"
    delete_row(driver, selector, question="Delete row-registry?")
    assert api.call("GET", f"/integrations/{integration['id']}")[0] == 404

    # Rename a space; deleting one that environments use is refused in the section's status area.
    selector = f'#spaces-table tr[data-space-id="{seed["dead"]["id"]}"]'
    go(driver, stack, "/settings/spaces")
    rename_row(driver, selector, "gone-cluster")
    row_button(css(driver, selector), "Delete").click()
    visible(driver, "dialog .dialog-actions .btn-danger").click()
    visible(driver, "#settings-spaces .section-status .alert-error")
    assert css(driver, selector).is_displayed()
    api.ok("PATCH", f"/spaces/{seed['dead']['id']}", {"name": "dead-cluster"})

    # A cloud account: delete; cancelling the confirmation keeps it.
    account = api.ok("POST", "/cloud-accounts", {"name": "row-account", "provider": "aws",
                                                  "credentials": {"accessKeyId": "AKIAROWROWROWROW0000", "secretAccessKey": "x"}})
    selector = f'#cloud-accounts-table tr[data-cloud-account-id="{account["id"]}"]'
    go(driver, stack, "/settings/cloud-accounts")
    row_button(visible(driver, selector), "Delete").click()
    visible(driver, "dialog .dialog-actions .btn:not(.btn-danger)").click()
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog"))
    assert css(driver, selector).is_displayed()
    delete_row(driver, selector)

    # A token: Revoke (labelled for screen readers), then no button on the revoked row.
    token = api.ok("POST", "/tokens", {"name": "row-token"})
    selector = f'#tokens-table tr[data-token-id="{token["id"]}"]'
    go(driver, stack, "/settings/tokens")
    revoke = visible(driver, selector).find_element(By.CSS_SELECTOR, ".btn-danger")
    assert revoke.text == "Revoke" and revoke.get_attribute("aria-label") == "Revoke token row-token"
    revoke.click()
    visible(driver, "dialog .dialog-actions .btn-danger").click()
    wait(driver).until(lambda d: "revoked" in d.find_element(By.CSS_SELECTOR, selector).text)
    assert not css(driver, selector).find_elements(By.CSS_SELECTOR, "button")

    # Members: no Remove on your own row; Remove another member, and their assignment goes from the list.
    me = api.ok("GET", "/me")["user"]
    member = api.ok("POST", "/users", {"email": "row@example.com", "name": "Row"})
    viewer = [r for r in api.all("/roles") if r["name"] == "viewer"][0]
    assignment = api.ok("POST", "/assignments", {"userId": member["id"], "roleId": viewer["id"], "scope": "org"})
    go(driver, stack, "/settings/members")
    assert not visible(driver, f'#members-table tr[data-user-id="{me["id"]}"]').find_elements(By.CSS_SELECTOR, ".btn-danger")
    go(driver, stack, f"/settings/assignments?userId={member['id']}")
    delete_row(driver, f'#assignments-table tr[data-assignment-id="{assignment["id"]}"]', "Remove", question="Remove this role?")
    visible(driver, "#settings-assignments .empty")
    go(driver, stack, "/settings/members")
    delete_row(driver, f'#members-table tr[data-user-id="{member["id"]}"]', "Remove")

    # Roles: built-in ones have no buttons; a custom one is deleted.
    role = api.ok("POST", "/roles", {"name": "row-role", "description": "", "policies": ["projects:read"]})
    go(driver, stack, "/settings/roles")
    assert not visible(driver, f'#roles-table tr[data-role-id="{viewer["id"]}"]').find_elements(By.CSS_SELECTOR, "button")
    delete_row(driver, f'#roles-table tr[data-role-id="{role["id"]}"]')
    drain_log(driver)


def test_narrow_screen(stack, seed, browser):
    driver = browser
    driver.set_window_size(390, 844)
    try:
        for path in ("/projects", f"/projects/{seed['shop']['id']}", f"/projects/{seed['shop']['id']}/environments/{seed['production']['id']}",
                     "/settings/tokens"):
            go(driver, stack, path)
            wait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "main h1")
                                   and not d.find_elements(By.CSS_SELECTOR, "main .loading"), message=path)
            width = driver.execute_script("return document.documentElement.scrollWidth")
            inner = driver.execute_script("return window.innerWidth")
            assert width <= inner + 1, (path, width, inner)
        shot(driver, "12-narrow-settings")
        go(driver, stack, "/projects")
        wait(driver).until(lambda d: len(cards_by_name(d)) >= 3)
        shot(driver, "12-narrow-dashboard")
        open_canvas(driver, stack, seed["shop"]["id"])
        shot(driver, "12-narrow-canvas")
    finally:
        driver.set_window_size(1280, 800)
    drain_log(driver)


def test_keyboard_reaches_controls_with_visible_focus(stack, seed, browser):
    driver = browser
    go(driver, stack, "/projects")
    wait(driver).until(lambda d: len(cards_by_name(d)) >= 3)
    driver.execute_script("document.getElementById('skip-link').focus()")
    seen = set()
    for _ in range(12):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        seen.add(active.get_attribute("id") or active.text)
        # The focused control, or the card a card's title link stands for, shows an outline.
        outline = driver.execute_script(
            "const el = arguments[0].closest('.card') || arguments[0]; return getComputedStyle(el).outlineStyle", active)
        assert outline != "none", active.get_attribute("outerHTML")[:120]
    assert "signout" in seen and "new-project" in seen and "project-search" in seen, seen
    drain_log(driver)


def test_revoked_token_shows_sign_in_with_a_message(stack, seed, browser):
    driver = browser
    api = stack["api"]
    created = api.ok("POST", "/tokens", {"name": "browser"})
    css(driver, "#signout").click()
    visible(driver, "#signin-form")
    assert driver.execute_script("return sessionStorage.getItem('gantry.token')") is None
    sign_in(driver, stack, created["token"])
    go(driver, stack, "/projects")
    wait(driver).until(lambda d: len(cards_by_name(d)) >= 3)
    api.ok("DELETE", f"/tokens/{created['id']}")
    # The next API call answers 401: the console drops the token and says why.
    css(driver, "#project-search").send_keys("s")
    message = visible(driver, "#signin-message")
    assert "revoked" in message.text
    assert driver.execute_script("return sessionStorage.getItem('gantry.token')") is None
    shot(driver, "13-revoked-token")
    # And on a fresh load with a revoked token in storage.
    driver.execute_script("sessionStorage.setItem('gantry.token', arguments[0])", created["token"])
    driver.refresh()
    assert "revoked" in visible(driver, "#signin-message").text
    drain_log(driver)


def test_no_console_errors(browser):
    assert_no_console_errors(browser)
