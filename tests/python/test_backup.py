"""Online backup of SQLite (issue 7): `gantry backup --to FILE` while Gantry is being written; the copy passes
an integrity check, holds every write acknowledged before the backup began, and serves."""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

from gantry_process import GANTRY, Gantry, new_token


def test_backup_while_writing_gives_a_consistent_copy_with_every_acknowledged_write():
    work = tempfile.mkdtemp(prefix="gantry-backup-")
    try:
        token = new_token()
        gantry = Gantry(f"sqlite:{work}/g.db", token, work).wait_ready()
        acknowledged, stop, lock = [], threading.Event(), threading.Lock()

        def writer():
            index = 0
            while not stop.is_set():
                index += 1
                status, body = gantry.call("POST", "/api/projects", {"name": f"p-{index}"})
                if status == 201:
                    with lock:
                        acknowledged.append((time.monotonic(), body["data"]["id"]))

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(1.0)
        started = time.monotonic()
        copy = os.path.join(work, "copy.db")
        result = subprocess.run([GANTRY, "backup", "--database", f"sqlite:{work}/g.db", "--to", copy], capture_output=True, text=True, timeout=60)
        time.sleep(0.5)
        stop.set()
        thread.join(timeout=30)
        assert result.returncode == 0, result.stderr
        before = [identifier for at, identifier in acknowledged if at < started]
        assert len(before) > 5

        connection = sqlite3.connect(copy)
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = {row[0] for row in connection.execute("SELECT id FROM projects")}
        connection.close()
        missing = [identifier for identifier in before if identifier not in present]
        assert not missing, f"{len(missing)} acknowledged projects are missing from the copy"

        again = subprocess.run([GANTRY, "backup", "--database", f"sqlite:{work}/g.db", "--to", copy], capture_output=True, text=True, timeout=60)
        assert again.returncode != 0 and "already exists" in again.stderr
        assert gantry.stop() == 0

        # The copy serves: a Gantry on it (with the key beside it) answers for a project that was copied.
        restored = os.path.join(work, "restored")
        os.makedirs(restored)
        shutil.copy(copy, os.path.join(restored, "g.db"))
        shutil.copy(os.path.join(work, "gantry.key"), os.path.join(restored, "gantry.key"))
        revived = Gantry(f"sqlite:{restored}/g.db", token, work).wait_ready()
        assert revived.call("GET", f"/api/projects/{before[0]}")[0] == 200
        assert revived.call("GET", "/api/audit-logs/verify")[1]["data"]["ok"] is True
        assert revived.stop() == 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
