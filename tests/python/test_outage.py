"""A PostgreSQL outage under load (issue 7): requests answer 503 `unavailable` within 2 s (no hang, no crash),
/readyz says 503, and once PostgreSQL is back Gantry serves again within 5 s without a restart."""
import glob
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from gantry_process import GANTRY, Gantry, free_port, new_token

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


@pytest.fixture
def postgres():
    if not PG_BINS:
        pytest.fail("PostgreSQL server binaries are missing (scripts/test.sh installs them)")
    bin_dir = PG_BINS[-1]
    work = tempfile.mkdtemp(prefix="gantry-outage-")
    os.chmod(work, 0o777)
    data, port = os.path.join(work, "data"), free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(as_postgres + [f"{bin_dir}/initdb", "-D", data, "-U", "postgres", "--auth=trust"], check=True, capture_output=True)
    options = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off"

    def ctl(*args):
        subprocess.run(as_postgres + [f"{bin_dir}/pg_ctl", "-D", data, "-l", os.path.join(work, "pg.log"), "-w", *args],
                       check=True, capture_output=True, timeout=60)

    ctl("-o", options, "start")
    subprocess.run([f"{bin_dir}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qc", "CREATE DATABASE gantry"], check=True)
    yield {"url": f"postgres://postgres@127.0.0.1:{port}/gantry", "stop": lambda: ctl("-m", "fast", "stop"),
           "start": lambda: ctl("-o", options, "start"), "work": work}
    subprocess.run(as_postgres + [f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)


def test_outage_answers_503_quickly_and_recovers_without_restart(postgres):
    key = os.path.join(postgres["work"], "gantry.key")
    subprocess.run([GANTRY, "keygen"], check=True, stdout=open(key, "w"))
    os.chmod(key, 0o600)
    gantry = Gantry(postgres["url"], new_token(), postgres["work"], ["--secret-key-file", key]).wait_ready()
    try:
        status, project = gantry.call("POST", "/api/projects", {"name": "survives"})
        assert status == 201
        postgres["stop"]()

        for path in ["/api/projects", f"/api/projects/{project['data']['id']}", "/readyz"]:
            started = time.monotonic()
            status, body = gantry.call("GET", path, timeout=10)
            elapsed = time.monotonic() - started
            assert status == 503, (path, status, body)
            assert elapsed < 2.0, f"{path} took {elapsed:.2f} s"
            if path != "/readyz":
                assert body["error"]["code"] == "unavailable"
        assert gantry.process.poll() is None, "gantry crashed during the outage"

        postgres["start"]()
        back = time.monotonic()
        while time.monotonic() - back < 5.0:
            status, _ = gantry.call("GET", f"/api/projects/{project['data']['id']}", timeout=5)
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200, f"not serving {time.monotonic() - back:.1f} s after PostgreSQL came back"
        assert gantry.call("GET", "/readyz")[0] == 200
    finally:
        assert gantry.stop() == 0
