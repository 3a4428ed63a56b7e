"""What the benchmark scripts share: a free loopback port, waiting for a process's ready line, and the fake
cluster's kubeconfig."""
import base64
import socket
import sys
import time


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
