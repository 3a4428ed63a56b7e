"""Several replicas (issue 7): three `gantry serve` on one PostgreSQL behind nginx round-robin. Migrations run
once when all three start together; duplicate creates through different replicas give exactly one 201;
idempotency keys and rate limits hold across replicas (their state lives in the database)."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from gantry_process import GANTRY, Gantry, free_port, new_token

NGINX = next((p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if os.path.exists(p)), None)


@pytest.fixture
def cluster():
    base = os.environ.get("GANTRY_TEST_POSTGRES_URL")
    if not base:
        pytest.fail("needs GANTRY_TEST_POSTGRES_URL (scripts/test.sh starts PostgreSQL)")
    if not NGINX:
        pytest.fail("needs nginx (scripts/test.sh installs it)")
    work = tempfile.mkdtemp(prefix="gantry-replicas-")
    name = "replicas_" + uuid.uuid4().hex[:10]
    subprocess.run(["psql", base, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    url = urllib.parse.urlparse(base)._replace(path="/" + name).geturl()
    key = os.path.join(work, "gantry.key")
    subprocess.run([GANTRY, "keygen"], check=True, stdout=open(key, "w"))
    os.chmod(key, 0o600)
    token = new_token()
    # All three at once: only one may run the migrations (advisory lock).
    replicas = [Gantry(url, token, work, ["--secret-key-file", key, "--rate-limit", "30"]) for _ in range(3)]
    for replica in replicas:
        replica.wait_ready(timeout=60)
    port = free_port()
    upstreams = "\n".join(f"server 127.0.0.1:{r.port};" for r in replicas)
    with open(os.path.join(work, "nginx.conf"), "w") as f:
        f.write(f"""daemon off; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{}}
http {{
  access_log off; client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work}; uwsgi_temp_path {work}; scgi_temp_path {work};
  upstream gantry {{ {upstreams} }}
  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://gantry; proxy_set_header Host $host; }} }}
}}
""")
    nginx = subprocess.Popen([NGINX, "-c", os.path.join(work, "nginx.conf"), "-p", work])
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except Exception:
            time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "token": token, "replicas": replicas, "database": url}
    nginx.terminate()
    nginx.wait(timeout=10)
    for replica in replicas:
        replica.stop()
    shutil.rmtree(work, ignore_errors=True)


def call(cluster, method, path, body=None, headers=None):
    request = urllib.request.Request(cluster["base"] + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {cluster['token']}", "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), dict(error.headers)


def test_replicas_share_migrations_uniqueness_idempotency_and_rate_limits(cluster):
    applied = subprocess.run(["psql", cluster["database"], "-tAc", "SELECT COUNT(*), COUNT(DISTINCT name) FROM _migrations"],
                             check=True, capture_output=True, text=True).stdout.strip()
    total, distinct = applied.split("|")
    assert total == distinct and int(total) >= 5, applied

    # Duplicate creates spread over the replicas: exactly one 201.
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(call(cluster, "POST", "/api/projects", {"name": "one-of-a-kind"})[0]))
               for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses).count(201) == 1, statuses
    assert all(status in (201, 409) for status in statuses), statuses

    # One idempotency key, replayed through whichever replica nginx picks: one project, the same answer.
    answers = [call(cluster, "POST", "/api/projects", {"name": "idempotent"}, {"Idempotency-Key": "key-1"}) for _ in range(6)]
    assert {a[0] for a in answers} == {201}
    assert len({a[1]["data"]["id"] for a in answers}) == 1
    listed = call(cluster, "GET", "/api/projects?q=idempotent")[1]["data"]
    assert len(listed) == 1

    # The rate limit (30 per minute, bursts of 30) is one bucket across the three replicas.
    results = [call(cluster, "GET", "/api/me")[0] for _ in range(45)]
    assert 429 in results
    spent_before = 1 + 12 + 6 + 1    # requests of this test already counted in the same bucket
    assert results.count(200) <= 30 - spent_before + 2, results
    limited = call(cluster, "GET", "/api/me")
    assert limited[0] == 429 and int(limited[2]["Retry-After"]) >= 1
