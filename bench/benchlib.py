"""What the benchmark scripts share: a free loopback port, waiting for a process's ready line, the fake
cluster's kubeconfig, starting Gantry and waiting for /readyz, wrk, peak RSS, stopping what they started and
writing their results."""
import base64
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_line(process, prefix, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and process.poll() is not None:
            sys.exit(f"{process.args[0]} exited early")
    sys.exit(f"{process.args[0]} not ready")


def kubeconfig(server, ca_path):
    """A kubeconfig for `kube-test-server` at `server`, trusting the CA it wrote to `ca_path`."""
    ca_data = base64.b64encode(open(ca_path, "rb").read()).decode()
    return f"""apiVersion: v1
kind: Config
current-context: bench
clusters:
- name: c
  cluster: {{server: "{server}", certificate-authority-data: {ca_data}}}
contexts:
- name: bench
  context: {{cluster: c, user: u}}
users:
- name: u
  user: {{token: bench-token}}
"""


def start_gantry(bin_dir, work, flags=(), env=None, database=None, rate_limit=0, token=None):
    """`gantry serve` on a free port with `database` (default: a new SQLite database in `work`), `rate_limit` requests
    a minute per token (default none) and the bootstrap token `token` (default: a generated one), logging to
    work/gantry.log; `flags` and `env` (GANTRY_* variables) are added. Answers (process, port, token) once /readyz
    answers."""
    token = token or "gnt_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
    port = free_port()
    process = subprocess.Popen([os.path.join(bin_dir, "gantry"), "serve", "--port", str(port), "--database", database or f"sqlite:{work}/g.db",
                                "--rate-limit", str(rate_limit), *flags],
                               env={**os.environ, "GANTRY_BOOTSTRAP_TOKEN": token, **(env or {})},
                               stdout=open(os.path.join(work, "gantry.log"), "w"), stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
            return process, port, token
        except Exception:
            time.sleep(0.1)
    process.kill()
    sys.exit("gantry did not become ready")


def wrk(url, duration, token=None, threads=2, connections=32):
    """Requests per second and the p99 latency of `wrk` against `url` for `duration` seconds."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if token:
        args[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(next(l for l in out.splitlines() if l.startswith("Requests/sec")).split()[1])
    p99 = next((l.split()[1] for l in out.splitlines() if l.strip().startswith("99%")), "?")
    return rps, p99


def vm_hwm(pid):
    """A process's peak resident set size in kB."""
    return int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")).split()[1])


def head_commit():
    return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def write_results(name, lines):
    """Writes bench/results/`name` and prints it."""
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results", name), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def stop(processes):
    """SIGTERM to each process, SIGKILL to one that has not exited 15 s later."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
