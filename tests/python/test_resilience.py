"""Crash safety and graceful shutdown of the real binary (issue 7), on SQLite and on PostgreSQL when the test
script provides one (GANTRY_TEST_POSTGRES_URL)."""
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest

from gantry_process import GANTRY, REPO, Gantry, new_token


def databases():
    yield "sqlite"
    if os.environ.get("GANTRY_TEST_POSTGRES_URL"):
        yield "postgres"


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="gantry-resilience-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def database_url(kind, workdir):
    if kind == "sqlite":
        return f"sqlite:{workdir}/g.db", []
    base = os.environ["GANTRY_TEST_POSTGRES_URL"]
    name = "crash_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", base, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    parsed = urllib.parse.urlparse(base)
    key = os.path.join(workdir, "gantry.key")
    subprocess.run([GANTRY, "keygen"], check=True, stdout=open(key, "w"))
    os.chmod(key, 0o600)
    return parsed._replace(path="/" + name).geturl(), ["--secret-key-file", key]


@pytest.mark.parametrize("kind", list(databases()))
def test_sigkill_mid_load_keeps_every_acknowledged_write_and_nothing_half_written(kind, workdir):
    url, extra = database_url(kind, workdir)
    token = new_token()
    gantry = Gantry(url, token, workdir, extra).wait_ready()
    space_status, space = gantry.call("POST", "/api/spaces", {"name": "crash-space", "provider": "kubeconfig", "kubeconfig": KUBECONFIG})
    assert space_status == 201, space
    acknowledged = []          # (kind, id) of every 201
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker):
        index = 0
        while not stop.is_set():
            index += 1
            try:
                status, body = gantry.call("POST", "/api/projects", {"name": f"p-{worker}-{index}"}, timeout=5)
                if status != 201:
                    continue
                project = body["data"]["id"]
                with lock:
                    acknowledged.append(("project", project))
                status, body = gantry.call("POST", f"/api/projects/{project}/environments",
                                           {"name": "prod", "spaceId": space["data"]["id"], "namespace": f"ns-{worker}-{index}"}, timeout=5)
                if status == 201:
                    with lock:
                        acknowledged.append(("environment", body["data"]["id"]))
            except Exception:
                return  # the server died under us: expected

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    gantry.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acknowledged) > 10, "the load did not get going"

    restarted = Gantry(url, token, workdir, extra).wait_ready()
    try:
        for kind_, identifier in acknowledged:
            path = f"/api/projects/{identifier}" if kind_ == "project" else f"/api/environments/{identifier}"
            status, _ = restarted.call("GET", path)
            assert status == 200, f"acknowledged {kind_} {identifier} is missing after the crash"
        # Nothing half-written: every live environment has its live project, every change its audit entry and back.
        listed = {p["id"] for p in every(restarted, "/api/projects?limit=200")}
        created = {e["resourceId"] for e in every(restarted, "/api/audit-logs?limit=200&action=project.created")}
        assert listed == created, "a project without its audit entry, or an audit entry without its project"
        for project in listed:
            status, environments = restarted.call("GET", f"/api/projects/{project}/environments")
            assert status == 200
        status, verification = restarted.call("GET", "/api/audit-logs/verify")
        assert verification["data"]["ok"] is True, verification
    finally:
        restarted.stop()


def every(gantry, path):
    """Every item of a list, following its cursors."""
    items, cursor = [], None
    while True:
        status, page = gantry.call("GET", path + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, page
        items += page["data"]
        cursor = page["nextCursor"]
        if not cursor:
            return items


def test_sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits_zero(workdir):
    kube = subprocess.Popen([os.path.join(REPO, ".build", "debug", "kube-test-server"), "--port", "0", "--ca-out", f"{workdir}/ca.crt", "--slow", "2"],
                            stdout=subprocess.PIPE, text=True)
    try:
        server = kube.stdout.readline().strip().split(" ", 1)[1]
        import base64
        ca = base64.b64encode(open(f"{workdir}/ca.crt", "rb").read()).decode()
        kubeconfig = KUBECONFIG_TEMPLATE.replace("https://127.0.0.1:9", server).replace("CA_DATA", ca)
        gantry = Gantry(f"sqlite:{workdir}/g.db", new_token(), workdir).wait_ready()
        _, space = gantry.call("POST", "/api/spaces", {"name": "slow", "provider": "kubeconfig", "kubeconfig": kubeconfig})
        _, project = gantry.call("POST", "/api/projects", {"name": "slow"})
        _, environment = gantry.call("POST", f"/api/projects/{project['data']['id']}/environments",
                                     {"name": "prod", "spaceId": space["data"]["id"], "namespace": "shop"})
        results = {}

        def slow_request():
            results["stats"] = gantry.call("GET", f"/api/environments/{environment['data']['id']}/stats", timeout=20)

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.5)                       # the request is now waiting on the slow cluster
        gantry.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        refused = False
        try:
            gantry.call("GET", "/healthz", timeout=2)
        except Exception:
            refused = True
        thread.join(timeout=30)
        code = gantry.process.wait(timeout=30)
        assert results["stats"][0] == 200, results["stats"]
        assert refused, "a new connection was accepted after SIGTERM"
        assert code == 0
    finally:
        kube.terminate()
        kube.wait(timeout=10)


KUBECONFIG_TEMPLATE = """apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:9
    certificate-authority-data: CA_DATA
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user:
    token: test-cluster-token
"""
# A cluster nobody listens on, with a placeholder CA: enough for spaces that are never called.
KUBECONFIG = KUBECONFIG_TEMPLATE.replace("CA_DATA", "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkdW1teQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==")
