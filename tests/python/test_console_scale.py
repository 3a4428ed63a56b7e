"""The web console at scale (issue 16): 10,000 projects on the dashboard, 300 deployments on one canvas.

The catalog is written straight into a fresh SQLite database with bench/seed.py's generator (10,000 projects,
one environment and one deployment each) plus one project of 300 deployments in three environments with 150
connections, between a first `gantry serve` (migrations and the bootstrap admin) and the one the browser talks
to. Headless Chromium (Debian's chromium and chromedriver) then checks, with the Performance API:

- the dashboard paints its first page of cards in under a second (`performance.mark('gantry:first-cards')`,
  best of three reloads, after a warm-up load), holds at most two pages of cards in the DOM however far it is
  scrolled, loads the next pages as it scrolls, and answers a search from the server (`q` on the stats call);
- the role assignment form's project picker searches the server instead of reading every project;
- the architecture canvas with 300 services keeps the median frame at or under 20 ms while panning and while
  dragging a service for about two seconds each, with no long task over 200 ms.

The measured figures are printed (run pytest with -s to see them; they are also written to
.build/console-scale.json). The CI machine has two busy cores: every wait is bounded but generous (60 s).
"""
import importlib.util
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import types

import pytest

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from browser import new_chromium, require_chromium  # noqa: E402
from gantry_process import GANTRY, REPO, Gantry, new_token  # noqa: E402

SHOTS = os.environ.get("GANTRY_CONSOLE_SCREENSHOTS", os.path.join(REPO, ".build", "console-screenshots"))
PROJECTS = 10_000
PAGE_SIZE = 60  # js/pages/dashboard.js PAGE_SIZE
CANVAS_ENVS = 3
CANVAS_DEPS_PER_ENV = 100
FIRST_CARDS_BUDGET_MS = 1000
MEDIAN_FRAME_BUDGET_MS = 20
LONG_TASK_BUDGET_MS = 200
FIGURES = {}
EXPECTED_NETWORK_ERROR = "Failed to load resource: the server responded with a status of"


def log(message):
    sys.__stderr__.write(f"[console-scale] {message}\n")
    sys.__stderr__.flush()


def load_seed_module():
    spec = importlib.util.spec_from_file_location("bench_seed", os.path.join(REPO, "bench", "seed.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_catalog(db_path):
    """10,000 projects from bench/seed.py, then the canvas project (3 × 100 deployments at grid positions, 150
    connections), all in one transaction. Returns the canvas project's id."""
    seed = load_seed_module()
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=10000")
    (org_id,), = con.execute("SELECT id FROM organizations").fetchall()
    email = con.execute("SELECT email FROM users WHERE org_id = ? ORDER BY id LIMIT 1", (org_id,)).fetchone()[0]
    rows = {table: [] for table in seed.ORDER}
    for table, row in seed.generate(types.SimpleNamespace(projects=PROJECTS, envs=1, deps=1, seed=16), org_id, email):
        rows[table].append(row)
    space_id = rows["spaces"][0][0]

    # The canvas project: created after the seeded ones (its ids sort after theirs, before the server's own).
    rng = random.Random(300)
    ms = int(time.time() * 1000) - 4_000

    def next_id(prefix):
        nonlocal ms
        ms += 1
        return f"{prefix}_{seed.encode(ms, rng.getrandbits(80))}", ms * 1000

    project_id, ts = next_id("prj")
    rows["projects"].append((project_id, org_id, "Canvas 300", "canvas 300", "300 services on one canvas", email, ts, ts, 1, None))
    connections = []
    statuses = ["running", "running", "running", "degraded", "failed", "stopped", "pending", "deploying"]
    for e in range(CANVAS_ENVS):
        env_id, ets = next_id("env")
        name = ["production", "staging", "qa"][e]
        rows["environments"].append((env_id, org_id, project_id, name, name, space_id, f"canvas-{name}", None, None, email, ets, ets, 1, None))
        dep_ids = []
        for d in range(CANVAS_DEPS_PER_ENV):
            dep_id, dts = next_id("dep")
            dep_ids.append(dep_id)
            x = e * (10 * 230 + 160) + (d % 10) * 230
            y = (d // 10) * 110
            rows["deployments"].append((dep_id, org_id, project_id, env_id, f"svc-{d + 1:03d}", f"registry.example.com/canvas/svc-{d + 1}:1.0.0",
                                        1, 8080, "100m", "128Mi", statuses[d % len(statuses)], None, float(x), float(y), dts, dts, 1, None))
        for d in range(0, CANVAS_DEPS_PER_ENV, 2):  # 50 per environment: each even service calls the next one
            conn_id, cts = next_id("conn")
            connections.append((conn_id, org_id, env_id, dep_ids[d], dep_ids[d + 1], "manual" if d % 4 else "suggestion",
                                f"SVC_{d + 2:03d}_URL" if d % 6 == 0 else None, cts, None))

    con.execute("BEGIN IMMEDIATE")
    try:
        for table in seed.ORDER:
            columns = seed.COLUMNS[table]
            con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows[table])
        con.executemany("INSERT INTO connections (id, org_id, environment_id, from_deployment_id, to_deployment_id, source_hint, "
                        "injected_var, created_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", connections)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return project_id


@pytest.fixture(scope="module")
def stack():
    require_chromium()
    if not os.path.exists(GANTRY):
        pytest.fail(f"{GANTRY} is missing: run `swift build --product gantry` first")
    workdir = tempfile.mkdtemp(prefix="gantry-console-scale-")
    database = f"sqlite:{workdir}/g.db"
    token = new_token()
    server = None
    try:
        started = time.monotonic()
        Gantry(database, token, workdir).wait_ready(60).stop()  # migrations and the bootstrap admin
        canvas_project = seed_catalog(f"{workdir}/g.db")
        seeded = time.monotonic()
        server = Gantry(database, token, workdir).wait_ready(60)
        FIGURES["setup_s"] = round(time.monotonic() - started, 1)
        log(f"seeded {PROJECTS} projects + a canvas of {CANVAS_ENVS * CANVAS_DEPS_PER_ENV} deployments in {seeded - started:.1f} s; "
            f"server ready after {FIGURES['setup_s']} s")
        yield {"base": server.base, "token": token, "server": server, "canvas": canvas_project}
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if FIGURES:
            path = os.path.join(REPO, ".build", "console-scale.json")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as out:
                json.dump(FIGURES, out, indent=2)
            log(f"figures: {json.dumps(FIGURES)} (also in {path})")


@pytest.fixture(scope="module")
def browser(stack):
    driver = new_chromium()
    driver.get(stack["base"] + "/")
    driver.execute_script("sessionStorage.setItem('gantry.token', arguments[0])", stack["token"])
    yield driver
    driver.quit()


def wait(driver, timeout=60):
    return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def card_names(driver):
    return js(driver, "return [...document.querySelectorAll('#project-cards article.card h2')].map((el) => el.textContent)")


def card_count(driver):
    return js(driver, "return document.querySelectorAll('#project-cards article.card').length")


def stats_requests(driver):
    """The URLs of this page load's GET /api/projects/stats requests (resource timing)."""
    return js(driver, "return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/api/projects/stats'))")


def first_cards_ms(driver):
    """Reloads the dashboard and answers when its first cards were in the document, in ms from navigation start."""
    driver.refresh()
    wait(driver).until(lambda d: js(d, "return performance.getEntriesByName('gantry:first-cards').length > 0"))
    return js(driver, """
        const mark = performance.getEntriesByName('gantry:first-cards')[0];
        const stats = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/projects/stats'));
        const me = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/me'));
        return { firstCards: mark.startTime, count: mark.detail.count,
                 statsStart: stats ? stats.startTime : null, statsEnd: stats ? stats.responseEnd : null,
                 meEnd: me ? me.responseEnd : null,
                 domContentLoaded: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd };""")


# ---------------------------------------------------------------------------------------------------------------

def test_first_cards_in_under_a_second(stack, browser):
    driver = browser
    # Warm-up load: the first-ever fetch and parse of the console's modules is not what this measures (a returning
    # user has them cached; the server answers their revalidation with 304).
    driver.get(stack["base"] + "/#/projects")
    wait(driver).until(lambda d: card_count(d) > 0)
    tries = [first_cards_ms(driver) for _ in range(3)]
    best = min(tries, key=lambda t: t["firstCards"])
    FIGURES["first_cards_ms_tries"] = [round(t["firstCards"]) for t in tries]
    FIGURES["first_cards_ms"] = round(best["firstCards"])
    FIGURES["first_page_stats_request_ms"] = round(best["statsEnd"] - best["statsStart"]) if best["statsStart"] is not None else None
    log(f"first cards at {[round(t['firstCards']) for t in tries]} ms after navigation start (best {best['firstCards']:.0f} ms; "
        f"DOMContentLoaded {best['domContentLoaded']:.0f} ms, GET /me done {best['meEnd']:.0f} ms, "
        f"GET /projects/stats?limit={PAGE_SIZE} {best['statsStart']:.0f}–{best['statsEnd']:.0f} ms)")
    assert best["count"] == PAGE_SIZE
    assert best["firstCards"] < FIRST_CARDS_BUDGET_MS, tries
    # One page, asked for with a limit: never every project at once.
    assert card_count(driver) == PAGE_SIZE
    requests = stats_requests(driver)
    assert requests and all(f"limit={PAGE_SIZE}" in url for url in requests), requests
    assert card_names(driver)[:2] == ["Project-00001", "Project-00002"]
    assert "more load as you scroll" in driver.find_element(By.ID, "project-summary").text
    shot(driver, "40-scale-dashboard")


def test_scrolling_loads_pages_and_keeps_the_dom_small(stack, browser):
    driver = browser
    driver.get(stack["base"] + "/#/projects")
    wait(driver).until(lambda d: card_count(d) >= PAGE_SIZE)
    most = 0
    pages_wanted = 6
    for page in range(2, pages_wanted + 1):
        # To the bottom: the "Load more" row comes into view and the next page is asked for.
        js(driver, "window.scrollTo(0, document.documentElement.scrollHeight)")
        wait(driver).until(lambda d: js(d, "return document.querySelectorAll('#project-cards .cards-page').length") >= page)
        wait(driver).until(lambda d: js(d, """
            const last = [...document.querySelectorAll('#project-cards article.card h2')].pop();
            return last && last.textContent === arguments[0];""", f"Project-{page * PAGE_SIZE:05d}"))
        # Let the observers settle, then count what the DOM holds.
        wait(driver).until(lambda d: card_count(d) <= 2 * PAGE_SIZE)
        most = max(most, card_count(driver))
    loaded = js(driver, "return document.querySelectorAll('#project-cards .cards-page').length")
    collapsed = js(driver, "return document.querySelectorAll('#project-cards .cards-page[data-collapsed]').length")
    FIGURES["dashboard_pages_loaded"] = loaded
    FIGURES["dashboard_cards_in_dom_max"] = most
    log(f"scrolled through {loaded} pages ({loaded * PAGE_SIZE} projects): at most {most} cards in the DOM, {collapsed} pages emptied")
    assert loaded >= pages_wanted and collapsed >= pages_wanted - 2
    assert most <= 2 * PAGE_SIZE
    requests = stats_requests(driver)
    assert sum("cursor=" in url for url in requests) >= pages_wanted - 1, requests
    # Back to the top: the first page is drawn again from memory (no new request), still a small DOM.
    before = len(stats_requests(driver))
    js(driver, "window.scrollTo(0, 0)")
    wait(driver).until(lambda d: (card_names(d) or [""])[0] == "Project-00001")
    wait(driver).until(lambda d: card_count(d) <= 2 * PAGE_SIZE)
    assert len(stats_requests(driver)) == before
    # The "Load more" button (for the keyboard) asks for the next page too.
    pages = loaded
    js(driver, "document.querySelector('#project-cards-more button').click()")
    wait(driver).until(lambda d: js(d, "return document.querySelectorAll('#project-cards .cards-page').length") > pages)
    js(driver, "window.scrollTo(0, document.documentElement.scrollHeight)")
    shot(driver, "41-scale-dashboard-scrolled")


def test_search_is_answered_by_the_server(stack, browser):
    driver = browser
    driver.get(stack["base"] + "/#/projects")
    wait(driver).until(lambda d: card_count(d) >= PAGE_SIZE)
    box = driver.find_element(By.ID, "project-search")
    started = time.monotonic()
    box.send_keys("Project-0999")
    wait(driver).until(lambda d: card_count(d) == 10 and all(name.startswith("Project-0999") for name in card_names(d)))
    FIGURES["search_ms"] = round((time.monotonic() - started) * 1000)
    searched = [url for url in stats_requests(driver) if "q=" in url]
    log(f"search 'Project-0999': 10 cards {FIGURES['search_ms']} ms after typing began; stats requests with q: {len(searched)}")
    assert any("q=Project-0999" in url for url in searched), searched
    # Debounced: one request for the whole word, maybe one more for a pause mid-typing, never one per key.
    assert len(searched) <= 3, searched
    assert js(driver, "return performance.getEntriesByName('gantry:search-cards').pop().detail.q") == "Project-0999"
    assert driver.find_element(By.ID, "project-summary").text == "10 projects matching “Project-0999”"
    assert "q=Project-0999" in driver.current_url
    assert not driver.find_elements(By.CSS_SELECTOR, "#project-cards-more:not([hidden])")
    # A project beyond every loaded page is found too.
    box.clear()
    box.send_keys("Canvas 300")
    wait(driver).until(lambda d: card_names(d) == ["Canvas 300"])


def test_assignment_project_picker_searches(stack, browser):
    driver = browser
    driver.get(stack["base"] + "/#/settings/assignments")
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#settings-assignments .panel-header .btn-primary"))
    driver.find_element(By.CSS_SELECTOR, "#settings-assignments .panel-header .btn-primary").click()
    form = wait(driver).until(lambda d: d.find_element(By.ID, "create-assignment-form"))
    Select(form.find_element(By.NAME, "scopeKind")).select_by_value("project")
    select = form.find_element(By.NAME, "projectId")
    wait(driver).until(lambda d: len(select.find_elements(By.TAG_NAME, "option")) == 51)
    form.find_element(By.NAME, "projectQuery").send_keys("Project-0512")
    wait(driver).until(lambda d: [o.text for o in select.find_elements(By.TAG_NAME, "option")][1:] ==
                       [f"Project-0512{i}" for i in range(10)])
    urls = js(driver, "return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => /\\/api\\/projects(\\?|$)/.test(n))")
    assert urls and all("limit=50" in url for url in urls), urls
    assert any("q=Project-0512" in url for url in urls), urls


def frame_probe(driver):
    """Starts collecting requestAnimationFrame deltas and long tasks in the page."""
    js(driver, """
        const probe = window.__probe = { frames: [], longTasks: [], running: true, last: performance.now() };
        const tick = (now) => { if (!probe.running) return; probe.frames.push(now - probe.last); probe.last = now; requestAnimationFrame(tick); };
        requestAnimationFrame((now) => { probe.last = now; requestAnimationFrame(tick); });
        try {
          probe.observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) probe.longTasks.push(e.duration); });
          probe.observer.observe({ type: 'longtask' });
          probe.longTaskSupported = true;
        } catch (e) { probe.longTaskSupported = false; }""")


def frame_results(driver):
    return js(driver, """
        const probe = window.__probe; probe.running = false; if (probe.observer) probe.observer.disconnect();
        return { frames: probe.frames, longTasks: probe.longTasks, supported: probe.longTaskSupported };""")


def drag(driver, start, steps=120, step_pause=0.016, dx=3, dy=1):
    """Presses on a point of the viewport, moves in small steps for ~2 s (a pause of a frame each), releases."""
    chain = ActionChains(driver, duration=0)
    chain.w3c_actions.pointer_action.move_to_location(int(start[0]), int(start[1]))
    chain.click_and_hold()
    for _ in range(steps):
        chain.move_by_offset(dx, dy).pause(step_pause)
    chain.release()
    chain.perform()


def measure(driver, what, action):
    frame_probe(driver)
    time.sleep(0.2)
    started = time.monotonic()
    action()
    elapsed = time.monotonic() - started
    result = frame_results(driver)
    frames = result["frames"][5:] or result["frames"]  # the probe's own start-up frames aside
    median = statistics.median(frames)
    p95 = sorted(frames)[int(len(frames) * 0.95) - 1]
    worst_task = max(result["longTasks"], default=0)
    FIGURES[f"canvas_{what}"] = {"seconds": round(elapsed, 2), "frames": len(frames), "median_frame_ms": round(median, 1),
                                 "p95_frame_ms": round(p95, 1), "long_tasks": len(result["longTasks"]), "longest_task_ms": round(worst_task)}
    log(f"canvas {what} for {elapsed:.1f} s: {len(frames)} frames, median {median:.1f} ms, p95 {p95:.1f} ms, "
        f"{len(result['longTasks'])} long tasks (longest {worst_task:.0f} ms; longtask observer {'on' if result['supported'] else 'unsupported'})")
    assert elapsed >= 1.5, "the drag did not last long enough to measure"
    assert median <= MEDIAN_FRAME_BUDGET_MS, FIGURES[f"canvas_{what}"]
    assert worst_task <= LONG_TASK_BUDGET_MS, FIGURES[f"canvas_{what}"]


def test_canvas_with_300_deployments_stays_smooth(stack, browser):
    driver = browser
    driver.get(f"{stack['base']}/#/projects/{stack['canvas']}/canvas")
    wait(driver).until(lambda d: js(d, "return document.querySelector('#canvas[data-ready=true]') && document.querySelectorAll('#canvas .node').length") == 300)
    assert js(driver, "return document.querySelectorAll('#canvas .edge').length") == 150
    time.sleep(0.5)  # the first fit
    svg = driver.find_element(By.ID, "canvas")
    box = js(driver, "const r = arguments[0].getBoundingClientRect(); return {w: r.width, h: r.height}", svg)
    log(f"canvas stage {box['w']:.0f}×{box['h']:.0f} px")
    assert box["h"] <= js(driver, "return innerHeight"), "the stage is taller than the window"

    def background():
        """A point of the stage with no service or connection under it: pressing there pans."""
        point = js(driver, """
            const svg = arguments[0], r = svg.getBoundingClientRect();
            for (let y = Math.min(r.bottom, innerHeight) - 20; y > r.top; y -= 15) for (let x = r.left + 20; x < r.right / 2; x += 15) {
              const el = document.elementFromPoint(x, y);  // the background or an environment's box: both pan
              if (el && svg.contains(el) && !el.closest('.node, .edge')) return [x, y];
            }
            return null;""", svg)
        assert point, "no background on the canvas to press on"
        return point

    def transform():
        return js(driver, "return document.getElementById('viewport').getAttribute('transform')")

    # Pan with all 300 services on screen (the fitted zoom), then at 100 %.
    before = transform()
    measure(driver, "pan_fit", lambda: drag(driver, background(), dx=3, dy=-1))
    assert transform() != before
    shot(driver, "42-scale-canvas")
    driver.find_element(By.ID, "fit-canvas").click()  # back over the drawing's centre, then 1:1 around it
    time.sleep(0.3)
    js(driver, "document.querySelector('#canvas-stage .canvas-zoom button[aria-label=\"Zoom to 100%\"]').click()")
    time.sleep(0.3)
    assert js(driver, "return document.querySelector('#canvas').dataset.zoom") == "1.000"
    onscreen = js(driver, """const r = document.getElementById('canvas').getBoundingClientRect();
        return [...document.querySelectorAll('#canvas .node')].filter((n) => { const b = n.getBoundingClientRect();
          return b.right > r.left && b.left < r.right && b.bottom > r.top && b.top < r.bottom; }).length""")
    assert onscreen >= 10, onscreen
    before = transform()
    measure(driver, "pan_100", lambda: drag(driver, background(), dx=3, dy=-1))
    assert transform() != before

    shot(driver, "43-scale-canvas-100")
    # Drag a service (its arrows and its environment's box follow) at the fitted zoom, all 300 on screen.
    driver.find_element(By.ID, "fit-canvas").click()
    time.sleep(0.3)
    node = driver.find_element(By.CSS_SELECTOR, "#canvas .node[data-environment-id] ")
    node_id = node.get_attribute("data-deployment-id")
    x0 = int(node.get_attribute("data-x"))
    centre = js(driver, "const r = arguments[0].getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]", node)
    measure(driver, "drag", lambda: drag(driver, centre, dx=2, dy=1))
    moved = driver.find_element(By.CSS_SELECTOR, f'#canvas .node[data-deployment-id="{node_id}"]')
    assert int(moved.get_attribute("data-x")) > x0 + 100
    # The move is saved (PATCH canvasPosition) once the drag ends.
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, f'#canvas .node[data-deployment-id="{node_id}"]').get_attribute("data-saved-x"))


def test_no_console_errors(browser):
    entries = browser.get_log("browser")
    severe = [e for e in entries if e["level"] == "SEVERE" and EXPECTED_NETWORK_ERROR not in e["message"]]
    assert not severe, severe
