"""Running the real `gantry` binary from Python tests: free ports, a generated admin token, readiness."""
import os
import secrets
import socket
import string
import subprocess
import time
import urllib.error
import urllib.request
import json
import selectors
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GANTRY = os.path.join(REPO, ".build", "debug", "gantry")
IDENTITY_PROVIDER = os.path.join(REPO, "tests", "python", "oidc_provider", "server.py")


def start_identity_provider(log_path, *flags):
    """The test OpenID provider (tests/python/oidc_provider) on a free port; returns (process, issuer URL).

    It exits when its stdin closes, so a test that dies cannot leave it running: close `process.stdin` to stop it."""
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, IDENTITY_PROVIDER, "--port", "0", "--exit-with-stdin", *flags],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    line = ""
    while not line and time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=0.2):
            line = process.stdout.readline()
    selector.close()
    assert line.startswith("listening on http://127.0.0.1:"), \
        f"provider did not start (exit {process.poll()}, stdout {line!r}):\n{open(log_path).read()}"
    return process, line.split()[-1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_token():
    return "gnt_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))


class Gantry:
    """`gantry serve` on a free port; `{base}` in an extra flag becomes its own base URL (e.g. --public-url {base})."""

    def __init__(self, database, token, workdir, extra=()):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        extra = [arg.replace("{base}", self.base) for arg in extra]
        self.token = token
        self.log = open(os.path.join(workdir, f"gantry-{self.port}.log"), "w")
        self.process = subprocess.Popen(
            [GANTRY, "serve", "--port", str(self.port), "--database", database, "--rate-limit", "0", "--sync-interval", "0",
             "--log-format", "text", *extra],
            env={**os.environ, "GANTRY_BOOTSTRAP_TOKEN": token}, stdout=subprocess.DEVNULL, stderr=self.log)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gantry exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1)
                return self
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("gantry not ready")

    def call(self, method, path, body=None, timeout=30):
        request = urllib.request.Request(self.base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def stop(self, sig=None):
        if self.process.poll() is None:
            if sig is None:
                self.process.terminate()
            else:
                self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code
