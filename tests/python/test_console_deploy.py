"""Deploying from the web console (docs/console.md, docs/api.md §7), driven in a real browser.

Starts the fake Kubernetes API server (`kube-test-server`, demo scenario: IngressClasses nginx (default) and
traefik, cert-manager with the ready ClusterIssuer letsencrypt) and `gantry serve` with status sync every
second (GANTRY_SYNC_INTERVAL=1) and a fast deploy queue (GANTRY_DEPLOY_POLL_INTERVAL=0.2), so a revision
goes queued → applied → succeeded in a few seconds. The catalog is seeded through the API; the browser
then deploys, edits (env, secret env, ingress from discovery, health check), rolls back, deploys a whole
environment, uses the canvas, and reads the events timeline (with the Warning header of an unreachable
cluster). Every wait is bounded (WebDriverWait); the CI machine has two busy cores, so timeouts are generous.
"""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from gantry_process import free_port
# Helpers (not tests) of the console suite; `browser` is its fixture, which uses this module's `stack`.
from test_console import (  # noqa: F401
    assert_no_console_errors, browser, css, drain_log, go, kubeconfig, run_stack, shot, sign_in, visible, wait, wait_for,
)

DEPLOY_TIMEOUT = 60  # seconds for a revision to reach a final status on a busy machine


@pytest.fixture(scope="module")
def stack():
    # Status sync and the job runner look often, so revisions reach their final status within seconds.
    yield from run_stack("gantry-console-deploy-", {"GANTRY_SYNC_INTERVAL": "1", "GANTRY_DEPLOY_POLL_INTERVAL": "0.2"})


@pytest.fixture(scope="module")
def seed(stack):
    """A space on the fake cluster with one environment (namespace `storefront`, created by the first deploy)
    and two deployments; a second space whose cluster cannot be reached, for the events' Warning header."""
    api = stack["api"]
    live = api.ok("POST", "/spaces", {"name": "fake-cluster", "provider": "kubeconfig", "kubeconfig": kubeconfig(stack["cluster"], stack["ca"])})
    dead = api.ok("POST", "/spaces", {"name": "gone-cluster", "provider": "kubeconfig",
                                      "kubeconfig": kubeconfig(f"https://127.0.0.1:{free_port()}", stack["ca"])})
    project = api.ok("POST", "/projects", {"name": "Storefront"})
    production = api.ok("POST", f"/projects/{project['id']}/environments", {"name": "production", "spaceId": live["id"], "namespace": "storefront"})
    web = api.ok("POST", f"/environments/{production['id']}/deployments", {"name": "web", "image": "nginx:1.27", "replicas": 1, "port": 8080})
    worker = api.ok("POST", f"/environments/{production['id']}/deployments", {"name": "worker", "image": "shop/worker:1.0", "replicas": 1})
    offline = api.ok("POST", f"/projects/{project['id']}/environments", {"name": "offline", "spaceId": dead["id"], "namespace": "offline"})
    ghost = api.ok("POST", f"/environments/{offline['id']}/deployments", {"name": "ghost", "image": "shop/ghost:1"})
    return {"project": project, "production": production, "web": web, "worker": worker, "offline": offline, "ghost": ghost}


def env_page(driver, stack, seed, env="production"):
    go(driver, stack, f"/projects/{seed['project']['id']}/environments/{seed[env]['id']}")
    wait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#deployments-table tbody tr[data-deployment-id]"))


def row(driver, deployment_id):
    return css(driver, f'#deployments-table tr[data-deployment-id="{deployment_id}"]')


def revision_item(driver, deployment_id, number):
    return css(driver, f'[data-history-for="{deployment_id}"] li.revision[data-number="{number}"]')


def wait_revision(driver, deployment_id, number, status="succeeded", timeout=DEPLOY_TIMEOUT):
    """Waits until the history shows revision `number` in `status` (the page polls it every second)."""
    def reached(d):
        item = revision_item(d, deployment_id, number)
        current = item.get_attribute("data-status")
        if current == "failed" and status != "failed":
            raise AssertionError(f"revision {number} failed: {item.text}")
        return item if current == status else False
    return wait(driver, timeout).until(reached, message=f"revision {number} to be {status}")


def open_history(driver, deployment_id):
    """Opens the deployment's history row (the table re-renders as statuses change: read again until it holds)."""
    def opened(d):
        shown = d.find_elements(By.CSS_SELECTOR, f'tr.history-row[data-history-for="{deployment_id}"]')
        if shown and shown[0].is_displayed():
            return shown[0]
        toggle = row(d, deployment_id).find_element(By.CSS_SELECTOR, "[data-action=history]")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        return False
    return wait(driver, 30).until(opened, message="the history row to open")


def flags(element):
    return {el.get_attribute("data-flag") for el in element.find_elements(By.CSS_SELECTOR, "[data-flag]")}


def close_dialog(driver, button=".btn-primary", timeout=10):
    """Clicks `button` among the open dialog's actions (by default the primary one) and waits for the dialog to go."""
    visible(driver, f"dialog[open] .dialog-actions {button}").click()
    wait(driver, timeout).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))


# ---------------------------------------------------------------------------------------------------------------

def test_deploy_from_the_environment_page_reaches_succeeded(stack, seed, browser):
    driver = browser
    api = stack["api"]
    web = seed["web"]
    sign_in(driver, stack, stack["token"])
    env_page(driver, stack, seed)
    # Never deployed: flagged, the Deploy button is the primary one, and "Deploy all pending" counts both.
    assert flags(row(driver, web["id"])) == {"pending"}
    deploy = row(driver, web["id"]).find_element(By.CSS_SELECTOR, "[data-action=deploy]")
    assert deploy.text == "Deploy" and "btn-primary" in deploy.get_attribute("class")
    assert css(driver, "#deploy-all").get_attribute("data-count") == "2"
    deploy.click()
    # The history opens by itself on the new revision and follows it to succeeded.
    visible(driver, f'tr.history-row[data-history-for="{web["id"]}"]', timeout=30)
    item = wait_revision(driver, web["id"], 1)
    assert "admin@localhost" in item.text and "nginx:1.27" in item.text
    assert not item.find_elements(By.CSS_SELECTOR, "[data-action=rollback]")  # the newest one cannot be rolled back to
    revision = api.ok("GET", f"/deployments/{web['id']}/revisions/1")
    assert revision["status"] == "succeeded" and revision["finishedAt"]
    # The row follows: no longer pending, revision #1, and a quieter Redeploy.
    wait(driver, 30).until(lambda d: row(d, web["id"]).get_attribute("data-pending") == "false")
    assert row(driver, web["id"]).find_element(By.CSS_SELECTOR, ".dep-revision").text == "#1"
    redeploy = row(driver, web["id"]).find_element(By.CSS_SELECTOR, "[data-action=deploy]")
    assert redeploy.text == "Redeploy" and "btn-primary" not in redeploy.get_attribute("class")
    assert css(driver, "#deploy-all").get_attribute("data-count") == "1"
    # The timeline has Gantry's own events for the revision, newest first.
    history = css(driver, f'tr.history-row[data-history-for="{web["id"]}"]')
    wait(driver, 30).until(lambda d: history.find_elements(By.CSS_SELECTOR, "li.event[data-source=gantry]"))
    times = [el.get_attribute("datetime") for el in history.find_elements(By.CSS_SELECTOR, "li.event time")]
    assert times == sorted(times, reverse=True)
    assert not history.find_elements(By.CSS_SELECTOR, ".events-warning")
    shot(driver, "20-deploy-succeeded")
    drain_log(driver)


def test_edit_form_fills_ingress_from_discovery(stack, seed, browser):
    driver = browser
    api = stack["api"]
    web = seed["web"]
    env_page(driver, stack, seed)
    row(driver, web["id"]).find_element(By.CSS_SELECTOR, "[data-action=edit]").click()
    form = visible(driver, "dialog[open] #edit-deployment-form")
    # Plain variable and a secret one.
    form.find_element(By.CSS_SELECTOR, "[data-action=add-env]").click()
    form.find_element(By.CSS_SELECTOR, 'input[name="env[0].name"]').send_keys("GREETING")
    form.find_element(By.CSS_SELECTOR, 'input[name="env[0].value"]').send_keys("hello")
    form.find_element(By.CSS_SELECTOR, "[data-action=add-secret]").click()
    secret_row = form.find_elements(By.CSS_SELECTOR, ".secret-rows .kv-row")[0]
    secret_row.find_element(By.CSS_SELECTOR, "input.kv-name").send_keys("API_KEY")
    secret_row.find_element(By.CSS_SELECTOR, "input.kv-value").send_keys("s3cret-value")
    # Ingress: the class list is the cluster's IngressClasses with the default preselected; TLS lists ready ClusterIssuers.
    form.find_element(By.CSS_SELECTOR, "[data-action=toggle-ingress]").click()
    class_select = wait(driver, 30).until(lambda d: (el := form.find_element(By.CSS_SELECTOR, 'select[name="ingress.className"]')).is_enabled() and el)
    classes = Select(class_select)
    assert [o.get_attribute("value") for o in classes.options] == ["nginx", "traefik"]
    assert classes.first_selected_option.get_attribute("value") == "nginx"
    issuers = Select(wait(driver, 30).until(lambda d: (el := form.find_element(By.CSS_SELECTOR, 'select[name="ingress.tlsIssuer"]')).is_enabled() and el))
    assert [o.get_attribute("value") for o in issuers.options] == ["", "letsencrypt"]
    assert issuers.first_selected_option.get_attribute("value") == ""
    form.find_element(By.CSS_SELECTOR, 'input[name="ingress.host"]').send_keys("shop.example.com")
    issuers.select_by_value("letsencrypt")
    form.find_element(By.CSS_SELECTOR, "[data-action=toggle-health]").click()
    form.find_element(By.CSS_SELECTOR, 'input[name="healthCheck.path"]').send_keys("/healthz")
    shot(driver, "21-deploy-edit-form")
    close_dialog(driver, "button[type=submit]", timeout=20)

    saved = api.ok("GET", f"/deployments/{web['id']}")
    assert saved["ingress"] == {"host": "shop.example.com", "path": "/", "className": "nginx", "tlsIssuer": "letsencrypt"}
    assert saved["env"] == [{"name": "GREETING", "value": "hello"}]
    assert saved["secretEnvNames"] == ["API_KEY"]
    assert saved["healthCheck"]["path"] == "/healthz"
    assert saved["pendingChanges"] is True
    wait(driver, 20).until(lambda d: row(d, web["id"]).get_attribute("data-pending") == "true")

    # Reopened: the secret's name is shown, never its value; keeping it sends no secretEnv.
    row(driver, web["id"]).find_element(By.CSS_SELECTOR, "[data-action=edit]").click()
    form = visible(driver, "dialog[open] #edit-deployment-form")
    assert "API_KEY" in form.find_element(By.CSS_SELECTOR, ".secret-stored").text
    assert "s3cret-value" not in driver.page_source
    assert Select(form.find_element(By.CSS_SELECTOR, 'select[name="ingress.className"]')).first_selected_option.get_attribute("value") == "nginx"
    close_dialog(driver, ".btn:not([type=submit])")

    # Deploying applies it: revision 2 carries the ingress and reaches succeeded.
    row(driver, web["id"]).find_element(By.CSS_SELECTOR, "[data-action=deploy]").click()
    open_history(driver, web["id"])
    wait_revision(driver, web["id"], 2)
    revision = api.ok("GET", f"/deployments/{web['id']}/revisions/2")
    assert revision["ingress"]["className"] == "nginx" and revision["secretEnvNames"] == ["API_KEY"]
    drain_log(driver)


def test_preflight_refusal_shows_the_checks(stack, seed, browser):
    driver = browser
    api = stack["api"]
    worker = api.ok("GET", f"/deployments/{seed['worker']['id']}")
    # An IngressClass the cluster does not have (set through the API: the form only offers real ones).
    api.ok("PATCH", f"/deployments/{worker['id']}", {"port": 9000, "ingress": {"host": "worker.example.com", "className": "missing-class"}},
           headers={"If-Match": f'"{worker["version"]}"'})
    env_page(driver, stack, seed)
    row(driver, worker["id"]).find_element(By.CSS_SELECTOR, "[data-action=deploy]").click()
    box = visible(driver, "dialog[open] #deploy-error", timeout=30)
    assert box.find_element(By.CSS_SELECTOR, ".alert").get_attribute("data-error-code") == "preflight_failed"
    checks = box.find_elements(By.CSS_SELECTOR, ".preflight-checks li")
    assert checks and "missing-class" in checks[0].text and checks[0].get_attribute("data-check") == "ingress.className"
    shot(driver, "22-deploy-preflight")
    close_dialog(driver, ".btn")
    assert api.ok("GET", f"/deployments/{worker['id']}/revisions") == []
    # Put it right for the next tests.
    worker = api.ok("GET", f"/deployments/{worker['id']}")
    api.ok("PATCH", f"/deployments/{worker['id']}", {"ingress": None}, headers={"If-Match": f'"{worker["version"]}"'})
    drain_log(driver)


def test_rollback_to_revision_1(stack, seed, browser):
    driver = browser
    api = stack["api"]
    web = seed["web"]
    env_page(driver, stack, seed)
    open_history(driver, web["id"])
    wait(driver, 30).until(lambda d: revision_item(d, web["id"], 2).get_attribute("data-status") == "succeeded")
    first = revision_item(driver, web["id"], 1)
    first.find_element(By.CSS_SELECTOR, "[data-action=rollback]").click()
    dialog = visible(driver, "dialog[open]")
    assert "revision 1" in dialog.text
    close_dialog(driver)
    item = wait_revision(driver, web["id"], 3)
    assert item.get_attribute("data-rollback-of") == "1"
    assert "rollback of #1" in item.text
    revision = api.ok("GET", f"/deployments/{web['id']}/revisions/3")
    assert revision["rollbackOf"] == 1 and revision["status"] == "succeeded"
    # The catalog took revision 1's values back: no ingress, no variables.
    restored = api.ok("GET", f"/deployments/{web['id']}")
    assert restored["ingress"] is None and restored["env"] == [] and restored["secretEnvNames"] == []
    wait(driver, 30).until(lambda d: row(d, web["id"]).find_element(By.CSS_SELECTOR, ".dep-revision").text == "#3")
    # Now 3 is current, and 1 and 2 can be rolled back to.
    wait(driver, 30).until(lambda d: revision_item(d, web["id"], 3).find_elements(By.CSS_SELECTOR, ".badge.current"))
    assert revision_item(driver, web["id"], 2).find_elements(By.CSS_SELECTOR, "[data-action=rollback]")
    assert visible(driver, f'tr.history-row[data-history-for="{web["id"]}"]')  # still open across the re-renders
    drain_log(driver)


def test_deploy_all_pending(stack, seed, browser):
    driver = browser
    api = stack["api"]
    worker = seed["worker"]
    env_page(driver, stack, seed)
    button = css(driver, "#deploy-all")
    assert button.get_attribute("data-count") == "1" and button.is_enabled()
    button.click()
    dialog = visible(driver, "dialog[open]")
    assert "worker" in dialog.text
    close_dialog(driver)
    open_history(driver, worker["id"])
    wait_revision(driver, worker["id"], 1)
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#deploy-all").get_attribute("data-count") == "0")
    assert not css(driver, "#deploy-all").is_enabled()
    assert api.ok("GET", f"/deployments/{worker['id']}")["pendingChanges"] is False
    # The screenshot of the page with the deploying UI: flags, buttons, both histories open.
    open_history(driver, seed["web"]["id"])
    driver.execute_script("document.getElementById('deployments-title').scrollIntoView()")
    shot(driver, "23-deploy-environment")
    # A phone-sized screen: nothing sticks out of the page with a history open.
    driver.set_window_size(390, 844)
    try:
        wait(driver).until(lambda d: d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"))
        driver.execute_script("document.getElementById('deployments-title').scrollIntoView()")
        shot(driver, "23-deploy-environment-narrow")
    finally:
        driver.set_window_size(1280, 800)
    drain_log(driver)


def test_canvas_flags_and_deploys(stack, seed, browser):
    driver = browser
    api = stack["api"]
    worker = api.ok("GET", f"/deployments/{seed['worker']['id']}")
    api.ok("PATCH", f"/deployments/{worker['id']}", {"replicas": 2}, headers={"If-Match": f'"{worker["version"]}"'})
    go(driver, stack, f"/projects/{seed['project']['id']}/canvas")
    wait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg#canvas[data-ready=true]"))
    node = css(driver, f'g.node[data-deployment-id="{worker["id"]}"]')
    assert node.get_attribute("data-pending") == "true"
    assert css(driver, f'g.node[data-deployment-id="{seed["web"]["id"]}"]').get_attribute("data-pending") == "false"
    assert "pending" in node.find_element(By.CSS_SELECTOR, ".node-flags").text
    # Nothing selected: a Deploy all pending button per environment.
    assert css(driver, f'#deploy-all-{seed["production"]["id"]}').get_attribute("data-count") == "1"
    driver.execute_script("arguments[0].dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}))", node)
    side = visible(driver, "#canvas-side [data-action=deploy]")
    assert side.text == "Deploy"
    wait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#canvas-side [data-history-for="{worker["id"]}"] li.revision[data-number="1"]'))
    side.click()
    wait(driver, DEPLOY_TIMEOUT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, '#canvas-side li.revision[data-number="2"]').get_attribute("data-status") == "succeeded")
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, f'g.node[data-deployment-id="{worker["id"]}"]').get_attribute("data-pending") == "false")
    assert visible(driver, "#canvas-side [data-action=deploy]").text == "Redeploy"
    shot(driver, "24-deploy-canvas")
    drain_log(driver)


def test_create_form_variables_and_clearing_secrets(stack, seed, browser):
    driver = browser
    api = stack["api"]
    env_page(driver, stack, seed)
    css(driver, "#new-deployment").click()
    form = visible(driver, "#create-deployment-form")
    assert driver.switch_to.active_element == form.find_element(By.NAME, "name")
    form.find_element(By.NAME, "name").send_keys("cache")
    form.find_element(By.NAME, "image").send_keys("redis:7")
    form.find_element(By.NAME, "port").send_keys("6379")
    add_env = form.find_element(By.CSS_SELECTOR, "[data-action=add-env]")
    add_env.click()
    add_env.click()
    form.find_element(By.CSS_SELECTOR, 'input[name="env[0].name"]').send_keys("1BAD")
    form.find_element(By.CSS_SELECTOR, 'input[name="env[1].name"]').send_keys("MODE")
    form.find_element(By.CSS_SELECTOR, 'input[name="env[1].value"]').send_keys("lru")
    form.find_element(By.CSS_SELECTOR, "[data-action=add-secret]").click()
    secret = form.find_elements(By.CSS_SELECTOR, ".secret-rows .kv-row")[0]
    secret.find_element(By.CSS_SELECTOR, "input.kv-name").send_keys("PASSWORD")
    secret.find_element(By.CSS_SELECTOR, "input.kv-value").send_keys("pw-123")
    # A bad name is refused in the page, next to its row, before anything is sent.
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert visible(driver, '#create-deployment-form .kv-row[data-field="env[0].name"] .field-error').text
    assert visible(driver, "#create-deployment-form .alert-error").get_attribute("data-error-code") == "validation_failed"
    # Removing that row renumbers the other one.
    form.find_elements(By.CSS_SELECTOR, "[data-action=remove-env]")[0].click()
    assert form.find_element(By.CSS_SELECTOR, 'input[name="env[0].name"]').get_attribute("value") == "MODE"
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, 20).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#create-deployment-form"))
    cache = next(d for d in api.all(f"/environments/{seed['production']['id']}/deployments") if d["name"] == "cache")
    assert cache["env"] == [{"name": "MODE", "value": "lru"}] and cache["secretEnvNames"] == ["PASSWORD"] and cache["port"] == 6379
    wait(driver, 20).until(lambda d: flags(row(d, cache["id"])) == {"pending"})

    # Edit: the stored secret is named, its value is not there; "Change" then no rows clears them ({}).
    row(driver, cache["id"]).find_element(By.CSS_SELECTOR, "[data-action=edit]").click()
    form = visible(driver, "dialog[open] #edit-deployment-form")
    assert "PASSWORD" in form.find_element(By.CSS_SELECTOR, ".secret-stored").text
    assert "pw-123" not in driver.page_source
    form.find_element(By.CSS_SELECTOR, "[data-action=change-secrets]").click()
    value = form.find_element(By.CSS_SELECTOR, ".secret-rows input.kv-value")
    assert value.get_attribute("value") == "" and value.get_attribute("type") == "password"
    assert "replaces every secret variable" in form.find_element(By.CSS_SELECTOR, ".secret-explain").text
    form.find_element(By.CSS_SELECTOR, "[data-action=remove-secret]").click()
    close_dialog(driver, "button[type=submit]", timeout=20)
    wait_for(lambda: api.ok("GET", f"/deployments/{cache['id']}")["secretEnvNames"] == [], timeout=20, message="the secrets to be cleared")
    drain_log(driver)


def test_events_show_the_warning_header_when_the_cluster_is_unreachable(stack, seed, browser):
    driver = browser
    ghost = seed["ghost"]
    env_page(driver, stack, seed, env="offline")
    history = open_history(driver, ghost["id"])
    warning = wait(driver, 60).until(lambda d: history.find_element(By.CSS_SELECTOR, ".events-warning"))
    assert "cluster events unavailable" in warning.text and "gone-cluster" in warning.text
    assert "%20" not in warning.text and '199 - "' not in warning.text  # the header's text, not its wire form
    shot(driver, "25-deploy-events-warning")
    drain_log(driver)


def test_deploy_and_rollback_are_marked_refused_for_a_viewer(stack, seed, browser):
    """A member who may read the environment but not deploy in it sees every Deploy, "Deploy all pending" and Roll
    back button marked refused, with GET /access/explain's sentence, before clicking; a click shows that sentence and
    asks the API nothing."""
    driver = browser
    api = stack["api"]
    web = seed["web"]
    viewer = api.ok("POST", "/users", {"email": "viewer@example.com", "name": "Viewer"})
    api.ok("POST", "/assignments", {"userId": viewer["id"], "roleId": "role_viewer", "scope": f"project:{seed['project']['id']}"})
    token = api.ok("POST", f"/users/{viewer['id']}/tokens", {"name": "viewer-browser"})["token"]
    revisions = len(api.ok("GET", f"/deployments/{web['id']}/revisions"))
    assert revisions >= 2, api.ok("GET", f"/deployments/{web['id']}/revisions")  # the earlier tests deployed and rolled back: Roll back buttons exist
    css(driver, "#signout").click()
    sign_in(driver, stack, token)
    env_page(driver, stack, seed)
    sentence = "You need deployments:deploy on environment production; roles that grant it: admin, developer."

    def deploy_button(d):
        return row(d, web["id"]).find_element(By.CSS_SELECTOR, "[data-action=deploy]")
    wait(driver, 20).until(lambda d: deploy_button(d).get_attribute("data-denied") == "true", message="Deploy to be marked refused")
    assert deploy_button(driver).get_attribute("title") == sentence
    assert deploy_button(driver).get_attribute("aria-disabled") == "true"
    wait(driver, 20).until(lambda d: css(d, "#deploy-all").get_attribute("data-denied") == "true")
    history = open_history(driver, web["id"])
    rollback = wait(driver, 20).until(lambda d: history.find_element(By.CSS_SELECTOR, "[data-action=rollback][data-denied=true]"))
    assert rollback.get_attribute("title") == sentence
    shot(driver, "26-deploy-refused-for-viewer")

    deploy_button(driver).click()
    dialog = visible(driver, "dialog[open]")
    assert sentence in dialog.text and "web was not deployed" in dialog.text
    close_dialog(driver)
    assert len(api.ok("GET", f"/deployments/{web['id']}/revisions")) == revisions
    # The API was not asked: its 403 would be in the browser's log as a failed request.
    entries = driver.get_log("browser")
    driver.console_log.extend(entries)
    assert not [e for e in entries if "/deploy" in e["message"]], entries
    # The canvas's side panel says the same for the service's Edit.
    go(driver, stack, f"/projects/{seed['project']['id']}/canvas")
    wait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg#canvas[data-ready=true]"))
    node = css(driver, f'g.node[data-deployment-id="{web["id"]}"]')
    driver.execute_script("arguments[0].dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}))", node)
    edit = wait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, "#canvas-side [data-action=edit][data-denied=true]"))
    assert edit.get_attribute("title").startswith("You need deployments:write on environment production"), edit.get_attribute("title")
    assert css(driver, "#canvas-side [data-action=deploy]").get_attribute("data-denied") == "true"
    # On the project page, an environment's Edit asks about the project first and, refused there, about the
    # environment: the sentence names the environment.
    go(driver, stack, f"/projects/{seed['project']['id']}")
    row_edit = wait(driver, 20).until(
        lambda d: d.find_element(By.CSS_SELECTOR, '#environments-table button[aria-label="Edit production"][data-denied=true]'))
    assert row_edit.get_attribute("title").startswith("You need environments:write on environment production"), row_edit.get_attribute("title")
    # Signed out and in again as the admin through the form, without loading the page again (the console's own
    # state survives): the answer about the viewer is not reused.
    css(driver, "#signout").click()
    field = visible(driver, "#signin-form input[name=token]")
    field.clear()
    field.send_keys(stack["token"])
    css(driver, "#signin-form button[type=submit]").click()
    visible(driver, "#topbar")
    marker = driver.execute_script("window.gantryNoReload = true; return window.gantryNoReload")
    env_page(driver, stack, seed)
    assert marker and driver.execute_script("return window.gantryNoReload === true"), "the page was loaded again"
    wait(driver, 20).until(lambda d: deploy_button(d).get_attribute("data-denied") == "false", message="Deploy to be allowed again")
    assert deploy_button(driver).get_attribute("aria-disabled") is None


def test_no_console_errors(browser):
    assert_no_console_errors(browser)
