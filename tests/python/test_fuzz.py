"""API fuzzing (issue 7): schemathesis against /api/openapi.json with a real token, every operation (but the
revocation of the very token the run uses), a fixed seed and a bounded number of examples per operation:
zero 5xx and zero responses that break the document."""
import os
import shutil
import subprocess
import sys
import tempfile

from gantry_process import Gantry, new_token


def test_schemathesis_finds_no_server_error_and_no_schema_violation():
    work = tempfile.mkdtemp(prefix="gantry-fuzz-")
    token = new_token()
    server = Gantry(f"sqlite:{work}/g.db", token, work, ["--cluster-timeout", "2"]).wait_ready()
    try:
        schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
        result = subprocess.run([schemathesis, "run", server.base + "/api/openapi.json", "--url", server.base + "/api",
                                 "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error,response_schema_conformance",
                                 "--max-examples", "15", "--seed", "42", "--exclude-operation-id", "revokeToken", "--no-color"],
                                capture_output=True, text=True, timeout=900)
        summary = result.stdout[-3000:]
        assert result.returncode == 0, summary
        assert "passed" in summary and "failed" not in summary.split("SUMMARY")[-1].lower().replace("0 failed", ""), summary
    finally:
        assert server.stop() == 0
    with open(os.path.join(work, f"gantry-{server.port}.log")) as log:
        assert token not in log.read()
    shutil.rmtree(work, ignore_errors=True)
