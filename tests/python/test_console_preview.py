"""Preview environments and cost in the web console (issue 15), driven in a real browser.

Starts the fake Kubernetes API server and `gantry serve` with a fast deploy queue (as test_console_deploy.py does),
seeds a project whose three deployments (two with resource requests, one without) are deployed through the API so
the fake cluster runs their pods, then: the Cost panel before the space has prices (a hint, not an error), the
space's Pricing dialog in Settings → Spaces, the Cost panel's table against the live pods, the project page's cost
line from the catalog, cloning an environment through the Clone form (a 409 next to the name, then a TTL, one
deployment left out and an image override) to the new environment's "Preview · expires in …" badge and its Extend,
a clone without expiry that deploys at once, and the dashboard's "Expiring soon" strip. Every wait is bounded; the CI machine has two busy cores, so they are
generous.
"""
import datetime
import re

import pytest
from selenium.webdriver.common.by import By

# Helpers (not tests) of the console suite; `browser` is its fixture, which uses this module's `stack`.
from test_console import (  # noqa: F401
    assert_no_console_errors, browser, clear_input, css, drain_log, go, kubeconfig, run_stack, shot, sign_in, visible, wait,
    wait_for,
)

DEPLOY_TIMEOUT = 90  # seconds for the seeded revisions to succeed on a busy machine
PRICES = {"cpuCoreHour": 0.04, "memoryGiBHour": 0.005, "currency": "USD"}


@pytest.fixture(scope="module")
def stack():
    yield from run_stack("gantry-console-preview-", {"GANTRY_SYNC_INTERVAL": "1", "GANTRY_DEPLOY_POLL_INTERVAL": "0.2"})


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def hours_from_now(text):
    return (parse_time(text) - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 3600


@pytest.fixture(scope="module")
def seed(stack):
    """One space on the fake cluster (no prices yet). Project Shop: environment production (namespace preview-shop)
    with web (2 × 250m / 512Mi), worker (1 × 500m / 1Gi) and bare (1, no requests), all deployed. Project Previews:
    environment staging (namespace pv-staging) with api and worker, never deployed, to clone; and qa, which expires
    in 3 hours without being a clone."""
    api = stack["api"]
    space = api.ok("POST", "/spaces", {"name": "preview-cluster", "provider": "kubeconfig", "kubeconfig": kubeconfig(stack["cluster"], stack["ca"])})
    shop = api.ok("POST", "/projects", {"name": "Shop"})
    production = api.ok("POST", f"/projects/{shop['id']}/environments", {"name": "production", "spaceId": space["id"], "namespace": "preview-shop"})
    deps = {
        "web": api.ok("POST", f"/environments/{production['id']}/deployments",
                      {"name": "web", "image": "nginx:1.27", "replicas": 2, "resources": {"cpuRequest": "250m", "memoryRequest": "512Mi"}}),
        "worker": api.ok("POST", f"/environments/{production['id']}/deployments",
                         {"name": "worker", "image": "shop/worker:1.0", "replicas": 1, "resources": {"cpuRequest": "500m", "memoryRequest": "1Gi"}}),
        "bare": api.ok("POST", f"/environments/{production['id']}/deployments", {"name": "bare", "image": "shop/bare:1.0", "replicas": 1}),
    }
    revisions = api.ok("POST", f"/environments/{production['id']}/deploy")
    assert len(revisions) == 3, revisions

    previews = api.ok("POST", "/projects", {"name": "Previews"})
    staging = api.ok("POST", f"/projects/{previews['id']}/environments", {"name": "staging", "spaceId": space["id"], "namespace": "pv-staging"})
    staging_deps = {
        "api": api.ok("POST", f"/environments/{staging['id']}/deployments", {"name": "api", "image": "shop/api:2.0", "replicas": 1}),
        "worker": api.ok("POST", f"/environments/{staging['id']}/deployments", {"name": "worker", "image": "shop/worker:2.0", "replicas": 1}),
    }
    qa = api.ok("POST", f"/projects/{previews['id']}/environments", {"name": "qa", "spaceId": space["id"], "namespace": "pv-qa"})
    in_three_hours = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    qa = api.ok("PATCH", f"/projects/{previews['id']}/environments/{qa['id']}", {"expiresAt": in_three_hours}, headers={"If-Match": f'"{qa["version"]}"'})

    def all_succeeded():
        statuses = [api.ok("GET", f"/deployments/{d['id']}/revisions/1")["status"] for d in deps.values()]
        assert "failed" not in statuses, statuses
        return all(status == "succeeded" for status in statuses)
    wait_for(all_succeeded, timeout=DEPLOY_TIMEOUT, interval=0.5, message="the seeded revisions to succeed")
    return {"space": space, "shop": shop, "production": production, "deps": deps,
            "previews": previews, "staging": staging, "staging_deps": staging_deps, "qa": qa}


def env_page(driver, stack, project, env):
    go(driver, stack, f"/projects/{project['id']}/environments/{env['id']}")
    wait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#deployments-table tbody tr[data-deployment-id]"))


def cost_rows(driver):
    """The Cost table as {deployment name ('' for pods no Gantry deployment owns): (pods, cpu, memory, hourly)}."""
    rows = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "#cost-table tbody tr"):
        rows[row.get_attribute("data-deployment-name")] = tuple(
            row.find_element(By.CSS_SELECTOR, cell).text for cell in (".cost-pods", ".cost-cpu", ".cost-memory", ".cost-hourly"))
    return rows


# ---------------------------------------------------------------------------------------------------------------

def test_cost_without_prices_says_where_to_set_them(stack, seed, browser):
    driver = browser
    sign_in(driver, stack, stack["token"])
    env_page(driver, stack, seed["shop"], seed["production"])
    hint = visible(driver, "#cost-no-pricing", timeout=30)
    assert "Set prices for this space in Settings → Spaces to see a cost estimate." in hint.text
    assert hint.find_element(By.CSS_SELECTOR, "a").get_attribute("href").endswith("#/settings/spaces")
    assert not driver.find_elements(By.CSS_SELECTOR, "#cost-error")
    # The project has no priced space: no cost line at all.
    go(driver, stack, f"/projects/{seed['shop']['id']}")
    wait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#environments-table tbody tr"))
    assert not css(driver, "#project-cost").is_displayed()
    drain_log(driver)


def test_space_pricing_form(stack, seed, browser):
    driver = browser
    api = stack["api"]
    space = seed["space"]
    go(driver, stack, "/settings/spaces")
    row_selector = f'#spaces-table tr[data-space-id="{space["id"]}"]'
    row = visible(driver, row_selector, timeout=30)
    assert row.find_element(By.CSS_SELECTOR, ".pricing-cell").text == "not set"
    row.find_element(By.CSS_SELECTOR, "[data-action=pricing]").click()
    form = visible(driver, "dialog[open] #space-pricing-form")
    assert form.find_element(By.NAME, "pricing.currency").get_attribute("value") == "USD"
    form.find_element(By.NAME, "pricing.cpuCoreHour").send_keys("0.04")
    form.find_element(By.NAME, "pricing.memoryGiBHour").send_keys("0.005")
    shot(driver, "30-preview-space-pricing")
    css(driver, "dialog[open] .dialog-actions button[type=submit]").click()
    wait(driver, 30).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    assert api.ok("GET", f"/spaces/{space['id']}")["pricing"] == PRICES
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, f"{row_selector} .pricing-cell").text == "USD 0.04 / core-hour · 0.005 / GiB-hour")

    # Removing sends pricing: null; setting them again through the API for the next tests.
    css(driver, f"{row_selector} [data-action=pricing]").click()
    visible(driver, "dialog[open] #remove-pricing").click()
    wait(driver, 30).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    assert api.ok("GET", f"/spaces/{space['id']}")["pricing"] is None
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, f"{row_selector} .pricing-cell").text == "not set")
    current = api.ok("GET", f"/spaces/{space['id']}")
    api.ok("PATCH", f"/spaces/{space['id']}", {"pricing": PRICES}, headers={"If-Match": f'"{current["version"]}"'})
    drain_log(driver)


def test_environment_cost_table(stack, seed, browser):
    driver = browser
    api = stack["api"]
    env_page(driver, stack, seed["shop"], seed["production"])
    # web: 2 pods × (0.25 core × 0.04 + 0.5 GiB × 0.005) = 0.025 an hour; worker: 0.5 × 0.04 + 1 × 0.005 = 0.025;
    # bare requests nothing. 0.05 an hour, × 730 = 36.50 a month.
    wait(driver, 30).until(lambda d: len(cost_rows(d)) == 3, message="the cost table")
    assert cost_rows(driver) == {
        "web": ("2", "0.500", "1.00", "0.0250"),
        "worker": ("1", "0.500", "1.00", "0.0250"),
        "bare": ("1", "0.000", "0.00", "0.0000"),
    }
    assert css(driver, "#cost-monthly").text == "USD 36.50 / month"
    assert css(driver, "#cost-hourly").text == "USD 0.0500 / hour"
    assert "estimated from requests, not a bill" in css(driver, "#environment-cost").text
    assert css(driver, "#cost-without-requests").text.startswith("1 pod without requests")
    cost = api.ok("GET", f"/environments/{seed['production']['id']}/cost")
    assert cost["currency"] == "USD" and abs(cost["monthly"] - 36.5) < 1e-9 and cost["podsWithoutRequests"] == 1
    driver.execute_script("document.getElementById('cost-title').scrollIntoView()")
    shot(driver, "31-preview-environment-cost")
    # Refresh reads it again.
    css(driver, "#refresh-cost").click()
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#refresh-cost").is_enabled() and len(cost_rows(d)) == 3)
    drain_log(driver)


def test_project_cost_line(stack, seed, browser):
    driver = browser
    api = stack["api"]
    go(driver, stack, f"/projects/{seed['shop']['id']}")
    line = visible(driver, "#project-cost", timeout=30)
    assert line.text == "Estimated cost: USD 36.50 / month (from the catalog: replicas × requests) · 1 deployment without requests, not priced"
    cost = api.ok("GET", f"/projects/{seed['shop']['id']}/cost")
    assert cost["currency"] == "USD" and abs(cost["monthly"] - 36.5) < 1e-9 and cost["deploymentsWithoutRequests"] == 1
    shot(driver, "32-preview-project-cost")
    drain_log(driver)


def test_clone_with_ttl_then_extend(stack, seed, browser):
    driver = browser
    api = stack["api"]
    staging = seed["staging"]
    api_dep, worker = seed["staging_deps"]["api"], seed["staging_deps"]["worker"]
    env_page(driver, stack, seed["previews"], staging)
    assert not driver.find_elements(By.CSS_SELECTOR, ".page-header .preview-badge")  # neither a clone nor expiring
    css(driver, "#clone-environment").click()
    form = visible(driver, "dialog[open] #clone-environment-form", timeout=30)
    boxes = form.find_elements(By.CSS_SELECTOR, "input[name=deploymentIds]")
    assert {b.get_attribute("value") for b in boxes} == {api_dep["id"], worker["id"]} and all(b.is_selected() for b in boxes)
    assert form.find_element(By.NAME, "ttlHours").get_attribute("value") == "48"

    # A name the project already has: the 409 lands next to the name field.
    name = form.find_element(By.NAME, "name")
    name.send_keys("staging")
    css(driver, "dialog[open] .dialog-actions button[type=submit]").click()
    error = visible(driver, '#clone-environment-form .field[data-field="name"] .field-error', timeout=30)
    assert error.text
    assert css(driver, "#clone-environment-form .alert-error").get_attribute("data-error-code") == "conflict"

    # Then a good one: the namespace follows the name; 2 hours; worker left out; api on another image.
    clear_input(name)
    name.send_keys("pr-7")
    assert form.find_element(By.NAME, "namespace").get_attribute("value") == "pv-staging-pr-7"
    ttl = form.find_element(By.NAME, "ttlHours")
    clear_input(ttl)
    ttl.send_keys("2")
    form.find_element(By.CSS_SELECTOR, f'input[name=deploymentIds][value="{worker["id"]}"]').click()
    assert not form.find_element(By.CSS_SELECTOR, 'input[name="overrides.worker.image"]').is_enabled()
    form.find_element(By.CSS_SELECTOR, 'input[name="overrides.api.image"]').send_keys("shop/api:pr-7")
    shot(driver, "33-preview-clone-form")
    css(driver, "dialog[open] .dialog-actions button[type=submit]").click()

    # The new environment's page, with its badge.
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#environment-name").text == "pr-7", message="the clone's page")
    clone_id = re.search(r"/environments/(env_[0-9a-z]+)", driver.current_url).group(1)
    clone = api.ok("GET", f"/environments/{clone_id}")
    assert clone["clonedFromId"] == staging["id"] and clone["namespace"] == "pv-staging-pr-7"
    assert 1.9 < hours_from_now(clone["expiresAt"]) <= 2.001
    copies = api.all(f"/environments/{clone_id}/deployments")
    assert [(d["name"], d["image"]) for d in copies] == [("api", "shop/api:pr-7")]
    badge = visible(driver, ".page-header .preview-badge", timeout=30)
    assert badge.text == "Preview · expires in 2 h · Extend", badge.text
    shot(driver, "34-preview-badge")

    # Extend: expiresAt moves to 24 hours from now, and the badge says so.
    before = clone["expiresAt"]
    badge.find_element(By.CSS_SELECTOR, "[data-action=extend]").click()
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, ".page-header .preview-badge").get_attribute("data-expires-at") != before,
                           message="the badge to follow Extend")
    extended = api.ok("GET", f"/environments/{clone_id}")
    assert parse_time(extended["expiresAt"]) > parse_time(before)
    assert 23.9 < hours_from_now(extended["expiresAt"]) <= 24.001
    assert extended["version"] > clone["version"]
    assert css(driver, ".page-header .preview-badge").text == "Preview · expires in 24 h · Extend"
    # The page keeps the new version: Extend once more is not refused as stale.
    css(driver, ".page-header .preview-badge [data-action=extend]").click()
    wait_for(lambda: api.ok("GET", f"/environments/{clone_id}")["version"] > extended["version"], timeout=30, message="the second Extend")
    assert not driver.find_elements(By.CSS_SELECTOR, ".toast.error")

    # The project page shows the badge in the environments table too.
    go(driver, stack, f"/projects/{seed['previews']['id']}")
    row = visible(driver, f'#environments-table tr[data-environment-id="{clone_id}"]', timeout=30)
    assert row.find_element(By.CSS_SELECTOR, ".preview-badge").text.startswith("Preview · expires in ")
    assert not css(driver, f'#environments-table tr[data-environment-id="{staging["id"]}"]').find_elements(By.CSS_SELECTOR, ".preview-badge")
    drain_log(driver)


def test_clone_without_expiry_and_deploy_now(stack, seed, browser):
    driver = browser
    api = stack["api"]
    production = seed["production"]
    env_page(driver, stack, seed["shop"], production)
    css(driver, "#clone-environment").click()
    form = visible(driver, "dialog[open] #clone-environment-form", timeout=30)
    form.find_element(By.NAME, "name").send_keys("pr-8")
    clear_input(form.find_element(By.NAME, "ttlHours"))  # empty: no expiry
    form.find_element(By.NAME, "deploy").click()
    css(driver, "dialog[open] .dialog-actions button[type=submit]").click()
    wait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "#environment-name").text == "pr-8", message="the clone's page")
    clone_id = re.search(r"/environments/(env_[0-9a-z]+)", driver.current_url).group(1)
    clone = api.ok("GET", f"/environments/{clone_id}")
    assert clone["clonedFromId"] == production["id"] and clone["expiresAt"] is None and clone["namespace"] == "preview-shop-pr-8"
    # Every deployment copied (no deploymentIds sent), each with revision 1 queued by "Deploy now".
    copies = api.all(f"/environments/{clone_id}/deployments")
    assert sorted(d["name"] for d in copies) == ["bare", "web", "worker"]
    assert all(api.ok("GET", f"/deployments/{d['id']}/revisions/1")["number"] == 1 for d in copies)
    # A clone without an expiry is a preview, with nothing to extend.
    badge = visible(driver, ".page-header .preview-badge", timeout=30)
    assert badge.text == "Preview" and not badge.find_elements(By.CSS_SELECTOR, "[data-action=extend]")
    drain_log(driver)


def test_dashboard_expiring_strip(stack, seed, browser):
    driver = browser
    api = stack["api"]
    qa = seed["qa"]
    go(driver, stack, "/projects")
    item = visible(driver, f'#expiring-soon li[data-environment-id="{qa["id"]}"]', timeout=30)
    assert "qa" in item.text and "Previews" in item.text
    badge = item.find_element(By.CSS_SELECTOR, ".preview-badge")
    assert badge.text == "expires in 3 h · Extend", badge.text  # expiring, but not a clone
    assert not driver.find_elements(By.CSS_SELECTOR, f'#expiring-soon li[data-environment-id="{seed["staging"]["id"]}"]')
    assert not driver.find_elements(By.CSS_SELECTOR, f'#expiring-soon li[data-environment-id="{seed["production"]["id"]}"]')
    assert not [li for li in driver.find_elements(By.CSS_SELECTOR, "#expiring-soon li") if li.text.startswith("pr-8")]  # never expires
    shot(driver, "35-preview-dashboard")
    badge.find_element(By.CSS_SELECTOR, "[data-action=extend]").click()
    wait(driver, 30).until(lambda d: "expires in 24 h" in d.find_element(By.CSS_SELECTOR, f'#expiring-soon li[data-environment-id="{qa["id"]}"] .preview-badge').text)
    assert 23.9 < hours_from_now(api.ok("GET", f"/environments/{qa['id']}")["expiresAt"]) <= 24.001
    drain_log(driver)


def test_no_console_errors(browser):
    assert_no_console_errors(browser)
