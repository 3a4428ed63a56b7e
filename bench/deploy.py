#!/usr/bin/env python3
"""Deploy benchmark: one `POST /api/environments/{id}/deploy` over an environment of N deployments (default 200) on the
fake Kubernetes API server (kube-test-server, TLS on loopback), with Gantry's deployer running as it would in
production but polling fast (GANTRY_SYNC_INTERVAL=1, GANTRY_DEPLOY_POLL_INTERVAL=0.2).

    bench/deploy.sh [--no-build] [--deployments N] [--duration S] [--bin-dir DIR]

Measures, in one run on this machine:
  a. the HTTP answer time of the environment deploy call (target < 200 ms);
  b. the time until every revision is `applied`, and
  c. until every one is `succeeded`: when the poller saw it (deployment list every 0.2 s, then the revisions), an upper
     bound; the revisions' own `appliedAt`/`finishedAt` are shown beside it, but the API writes whole seconds, so
     they can read up to a second early (even before the call, on a small run);
  d. Kubernetes API calls per revision: kube-test-server's request log (`--request-log FILE`, dumped on SIGUSR1)
     read just before the deploy call and once every revision succeeded, so status sync's reads in that window
     are counted too (target ≤ 6 on average);
  e. Gantry's peak RSS (VmHWM);
and /healthz req/s with wrk as the floor of the ratio convention (revisions queued per second by the call, as a %
of the floor). Writes bench/results/deploy.md.
"""
import argparse, collections, datetime, http.client, json, os, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402
    REPO, head_commit, kubeconfig as bench_kubeconfig, start_gantry, stop, vm_hwm, wait_line, write_results, wrk,
)


class API:
    """One keep-alive connection to Gantry, like a client that deploys and then watches."""

    def __init__(self, port, token):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", "Accept": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        if response.status >= 300:
            sys.exit(f"{method} {path} answered {response.status}: {payload[:300]!r}")
        return json.loads(payload or b"null")

    def pages(self, path):
        items, cursor = [], None
        while True:
            page = self.call("GET", path + ("&" if "?" in path else "?") + "limit=200" + (f"&cursor={cursor}" if cursor else ""))
            items += page["data"]
            cursor = page.get("nextCursor")
            if not cursor:
                return items


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def request_log(kube, path):
    """Every request the fake cluster served so far, as 'METHOD path?query' lines."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    kube.send_signal(signal.SIGUSR1)
    for _ in range(200):
        if os.path.exists(path):
            lines = open(path).read().splitlines()
            if lines and lines[0].startswith("requests ") and len(lines) == int(lines[0].split()[1]) + 1:
                return lines[1:]
        time.sleep(0.025)
    sys.exit("kube-test-server did not write its request log (is it built with --request-log?)")


def category(line, namespace):
    """A request reduced to its kind: 'PATCH deployments', 'GET namespace', 'LIST pods'…"""
    method, _, target = line.partition(" ")
    path, _, query = target.partition("?")
    parts = [p for p in path.split("/") if p]
    if "watch=1" in query or "watch=true" in query:
        method = "WATCH"
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 4:
        return f"{method} namespace"
    if "namespaces" in parts:
        index = parts.index("namespaces")
        rest = parts[index + 2:]
        if len(rest) == 1:
            return f"{'LIST' if method == 'GET' else method} {rest[0]}"
        if len(rest) >= 2:
            resource = rest[0] + ("/" + rest[2] if len(rest) > 2 else "")
            if resource == "secrets" and rest[1] == "gantry-registry":
                resource = "secrets (gantry-registry)"
            return f"{method} {resource}"
    return f"{method} {path}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=os.path.join(REPO, ".build", "release"))
    ap.add_argument("--deployments", type=int, default=200)
    ap.add_argument("--duration", type=int, default=5, help="seconds of wrk against /healthz")
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait for every revision to succeed")
    args = ap.parse_args()
    n = args.deployments
    namespace = "bench"
    work = tempfile.mkdtemp(prefix="gantry-deploy-bench-")
    processes = []
    try:
        ca, log_path = os.path.join(work, "ca.crt"), os.path.join(work, "requests.log")
        kube = subprocess.Popen([os.path.join(args.bin_dir, "kube-test-server"), "--scenario", "demo", "--ca-out", ca,
                                 "--token", "bench-token", "--request-log", log_path], stdout=subprocess.PIPE, text=True)
        processes.append(kube)
        server = wait_line(kube, "listening ").split(" ", 1)[1]
        gantry, port, token = start_gantry(args.bin_dir, work, env={"GANTRY_SYNC_INTERVAL": "1", "GANTRY_DEPLOY_POLL_INTERVAL": "0.2"})
        processes.append(gantry)
        kubeconfig = bench_kubeconfig(server, ca)
        api = API(port, token)
        project = api.call("POST", "/api/projects", {"name": "bench"})["data"]["id"]
        space = api.call("POST", "/api/spaces", {"name": "bench", "provider": "kubeconfig", "kubeconfig": kubeconfig})["data"]["id"]
        environment = api.call("POST", f"/api/projects/{project}/environments",
                               {"name": "bench", "spaceId": space, "namespace": namespace})["data"]["id"]
        for i in range(n):
            api.call("POST", f"/api/environments/{environment}/deployments",
                     {"name": f"svc-{i}", "image": f"ghcr.io/acme/svc-{i}:1.0", "replicas": 2, "port": 8080})

        floor_rps, floor_p99 = wrk(f"http://127.0.0.1:{port}/healthz", args.duration)
        time.sleep(1.5)  # let the sync pass wrk overlapped finish
        before = request_log(kube, log_path)

        t0 = time.time()
        started = time.perf_counter()
        revisions = api.call("POST", f"/api/environments/{environment}/deploy")["data"]
        answer_ms = (time.perf_counter() - started) * 1000
        if len(revisions) != n:
            sys.exit(f"the deploy made {len(revisions)} revisions, not {n}")
        numbers = {r["deploymentId"]: r["number"] for r in revisions}

        # Applied: every deployment's currentRevision is set (one list call per poll). Then succeeded: the revisions
        # not yet finished, each read until it ends.
        deadline = t0 + args.timeout
        seen_applied = seen_succeeded = None
        applied_log = None
        pending = set(numbers)
        while time.time() < deadline:
            rows = api.pages(f"/api/environments/{environment}/deployments")
            if all(row.get("currentRevision") == numbers[row["id"]] for row in rows if row["id"] in numbers):
                seen_applied = time.time() - t0
                applied_log = request_log(kube, log_path)
                break
            time.sleep(0.2)
        final = {}
        while pending and time.time() < deadline:
            for deployment in sorted(pending):
                revision = api.call("GET", f"/api/deployments/{deployment}/revisions/{numbers[deployment]}")["data"]
                if revision["status"] in ("succeeded", "failed", "superseded"):
                    final[deployment] = revision
                    pending.discard(deployment)
            if pending:
                time.sleep(0.2)
        if not pending:
            seen_succeeded = time.time() - t0
        after = request_log(kube, log_path)
        rss_kb = vm_hwm(gantry.pid)

        statuses = collections.Counter(r["status"] for r in final.values())
        applied_at = [parse_time(r.get("appliedAt")) for r in final.values()]
        finished_at = [parse_time(r.get("finishedAt")) for r in final.values()]
        applied_s = max(applied_at) - t0 if final and None not in applied_at else None
        succeeded_s = max(finished_at) - t0 if final and None not in finished_at and statuses["succeeded"] == n else None
        window = after[len(before):]
        per_revision = len(window) / n
        kinds = collections.Counter(category(line, namespace) for line in window)
        apply_window = (applied_log or [])[len(before):]

        fmt = lambda s: f"{s:.2f} s" if s is not None else "not reached"
        ratio = (n / (answer_ms / 1000)) / floor_rps * 100
        lines = [
            "# Deploy benchmark", "", "Produced by `bench/deploy.sh`; do not edit by hand.", "",
            f"- **date**: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; **commit**: {head_commit()}",
            f"- **machine**: {os.cpu_count()} CPUs shared by the client, Gantry (release, SQLite) and kube-test-server (release, TLS on loopback)",
            f"- **load**: {n} deployments (2 replicas, port 8080: Deployment + Service each) in one environment, deployed by one "
            "`POST /api/environments/{id}/deploy`; GANTRY_SYNC_INTERVAL=1, GANTRY_DEPLOY_POLL_INTERVAL=0.2; no registry integration",
            f"- **outcome**: {dict(statuses)}", "",
            "| measure | value | target |", "|---|---:|---|",
            f"| (a) `POST /environments/{{id}}/deploy` answer ({n} revisions) | {answer_ms:.1f} ms | < 200 ms: {'PASS' if answer_ms < 200 else 'FAIL'} |",
            f"| (b) every revision `applied`, as the poller saw it | {fmt(seen_applied)} | < 10 s: {'PASS' if seen_applied is not None and seen_applied < 10 else 'FAIL'} |",
            f"| (b') … last `appliedAt` − call start (whole seconds) | {fmt(applied_s)} | |",
            f"| (c) every revision `succeeded`, as the poller saw it | {fmt(seen_succeeded)} | |",
            f"| (c') … last `finishedAt` − call start (whole seconds) | {fmt(succeeded_s)} | |",
            f"| (d) Kubernetes API calls per revision (call start → all succeeded; {len(window)} calls) | {per_revision:.2f} | ≤ 6: {'PASS' if per_revision <= 6 else 'FAIL'} |",
            f"| (d') … of which until all applied | {len(apply_window) / n:.2f} ({len(apply_window)} calls) | |",
            f"| (e) Gantry peak RSS (VmHWM) | {rss_kb / 1024:.1f} MB | |",
            f"| `/healthz` (floor) | {floor_rps:,.0f} req/s (p99 {floor_p99}) | |",
            f"| revisions queued per second by the deploy call | {n / (answer_ms / 1000):,.0f} /s | {ratio:.0f} % of floor |", "",
            "Cluster calls in the window, by kind:", "",
            "| calls | kind |", "|---:|---|",
        ] + [f"| {count} | {kind} |" for kind, count in kinds.most_common()]
        write_results("deploy.md", lines)
        if statuses["succeeded"] != n:
            failed = [r for r in final.values() if r["status"] != "succeeded"][:3]
            print(f"\nnot every revision succeeded; e.g. {[(r['status'], r.get('message')) for r in failed]}", file=sys.stderr)
            sys.exit(1)
    finally:
        stop(processes)
        if os.environ.get("KEEP_BENCH_DIR"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
