"""What the benchmark scripts share: a free loopback port and waiting for a process's ready line."""
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
