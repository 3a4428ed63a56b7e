#!/usr/bin/env python3
"""Preview environments and cost benchmark (issue 15), on the fake Kubernetes API server (kube-test-server, TLS on
loopback) with Gantry's release build on SQLite.

    bench/preview.sh [--no-build] [--environments N] [--deployments N] [--expire N] [--duration S] [--bin-dir DIR]

Measures, in one run on this machine:
  a. `GET /api/projects/{id}/cost` for a project of 50 environments × 40 deployments (requests drawn from a few sizes,
     a tenth without requests, on a priced space), as req/s with wrk, against `GET /api/projects/{id}` of the same
     project in the same run (target ≥ 50 %), with `/healthz` as the floor;
  b. the reaper: 500 environments, each with one deployed deployment (a Gantry-made namespace, a Deployment and a
     Service in the cluster), all made due at one instant T by PATCH of `expiresAt`; the time from T until the last
     is gone from `GET /api/environments` (target < 30 s), and that the cluster kept none of their namespaces;
  c. Gantry's peak RSS.
Writes bench/results/preview.md.
"""
import argparse, datetime, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import head_commit, kubeconfig as bench_kubeconfig, start_gantry, stop, vm_hwm, wait_line, write_results, wrk  # noqa: E402
from deploy import API  # noqa: E402

SIZES = [("250m", "256Mi"), ("500m", "1Gi"), ("1", "2Gi"), ("100m", "128Mi")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--environments", type=int, default=50)
    ap.add_argument("--deployments", type=int, default=40, help="per environment of the cost project")
    ap.add_argument("--expire", type=int, default=500, help="environments the reaper expires at once")
    ap.add_argument("--duration", type=int, default=5, help="seconds of wrk per route")
    ap.add_argument("--rounds", type=int, default=5, help="alternating GET / cost pairs; the median ratio is reported")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gantry-preview-bench-")
    processes = []
    try:
        ca = os.path.join(work, "ca.crt")
        kube = subprocess.Popen([os.path.join(args.bin_dir, "kube-test-server"), "--scenario", "demo", "--ca-out", ca, "--token", "bench-token"],
                                stdout=subprocess.PIPE, text=True)
        processes.append(kube)
        server = wait_line(kube, "listening ").split(" ", 1)[1]
        gantry, port, token = start_gantry(args.bin_dir, work, env={"GANTRY_SYNC_INTERVAL": "0", "GANTRY_DEPLOY_POLL_INTERVAL": "0.2"})
        processes.append(gantry)
        api = API(port, token)
        pricing = {"cpuCoreHour": 0.04, "memoryGiBHour": 0.005, "currency": "USD"}
        space = api.call("POST", "/api/spaces", {"name": "bench", "provider": "kubeconfig", "kubeconfig": bench_kubeconfig(server, ca),
                                                 "pricing": pricing})["data"]["id"]

        # (a) The cost project, made through the API.
        project = api.call("POST", "/api/projects", {"name": "cost"})["data"]["id"]
        for e in range(args.environments):
            environment = api.call("POST", f"/api/projects/{project}/environments",
                                   {"name": f"env-{e}", "spaceId": space, "namespace": f"cost-{e}"})["data"]["id"]
            for d in range(args.deployments):
                body = {"name": f"svc-{d}", "image": f"ghcr.io/acme/svc-{d}:1.0", "replicas": 1 + d % 3}
                if d % 10:
                    cpu, memory = SIZES[d % len(SIZES)]
                    body["resources"] = {"cpuRequest": cpu, "memoryRequest": memory}
                api.call("POST", f"/api/environments/{environment}/deployments", body)
        cost = api.call("GET", f"/api/projects/{project}/cost")["data"]
        base = f"http://127.0.0.1:{port}"
        # A discarded warm-up, then the two routes in alternation: on two busy cores one run of each moves by ±10 %,
        # so the ratio is the median of `--rounds` pairs measured side by side.
        wrk(f"{base}/api/projects/{project}/cost", 2, token)
        floor_rps, floor_p99 = wrk(f"{base}/healthz", args.duration)
        rounds = []
        for _ in range(args.rounds):
            get = wrk(f"{base}/api/projects/{project}", args.duration, token)
            cost_run = wrk(f"{base}/api/projects/{project}/cost", args.duration, token)
            rounds.append((cost_run[0] / get[0] * 100, get, cost_run))
        rounds.sort(key=lambda r: r[0])
        ratio, (get_rps, get_p99), (cost_rps, cost_p99) = rounds[len(rounds) // 2]

        # (b) The reaper: environments with one deployed deployment each.
        previews = api.call("POST", "/api/projects", {"name": "previews"})["data"]["id"]
        environments = []
        for i in range(args.expire):
            environment = api.call("POST", f"/api/projects/{previews}/environments",
                                   {"name": f"pr-{i}", "spaceId": space, "namespace": f"pr-{i}"})["data"]
            deployment = api.call("POST", f"/api/environments/{environment['id']}/deployments",
                                  {"name": "web", "image": "ghcr.io/acme/web:1.0", "replicas": 1, "port": 8080})["data"]["id"]
            api.call("POST", f"/api/deployments/{deployment}/deploy")
            environments.append((environment["id"], deployment))
        deadline = time.time() + args.timeout
        waiting = {d for _, d in environments}
        while waiting and time.time() < deadline:
            rows = api.pages(f"/api/environments?projectId={previews}")
            for row in rows:
                for deployment in api.pages(f"/api/environments/{row['id']}/deployments"):
                    if deployment.get("currentRevision") == 1:
                        waiting.discard(deployment["id"])
            if waiting:
                time.sleep(1)
        if waiting:
            sys.exit(f"{len(waiting)} deployments were never applied")
        # Every one due at the same instant T, a little after the last PATCH.
        due = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5 + args.expire * 0.02)
        for environment, _ in environments:
            api.call("PATCH", f"/api/projects/{previews}/environments/{environment}", {"expiresAt": due.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
        t_due = due.timestamp()
        while time.time() < t_due:
            time.sleep(0.05)
        remaining = len(environments)
        while time.time() < t_due + args.timeout:
            remaining = len(api.pages(f"/api/environments?projectId={previews}"))
            if remaining == 0:
                break
            time.sleep(0.2)
        reaped_s = time.time() - t_due
        audit = api.pages("/api/audit-logs?action=environment.expired")
        live = {row.get("name") for row in api.call("GET", f"/api/space-discovery/{space}/namespaces")["data"]}
        namespaces_left = sum(1 for i in range(args.expire) if f"pr-{i}" in live)
        rss_kb = vm_hwm(gantry.pid)

        total = args.environments * args.deployments
        lines = [
            "# Preview environments and cost benchmark", "", "Produced by `bench/preview.sh`; do not edit by hand.", "",
            f"- **date**: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; **commit**: {head_commit()}",
            f"- **machine**: {os.cpu_count()} CPUs shared by wrk, Gantry (release, SQLite) and kube-test-server (release, TLS on loopback)",
            f"- **cost project**: {args.environments} environments × {args.deployments} deployments ({total}), requests from "
            f"{len(SIZES)} sizes, every tenth without; estimate {cost['currency']} {cost['monthly']} / month",
            f"- **reaper**: {args.expire} environments, one deployed deployment each, all due at one instant", "",
            "| measure | value | target |", "|---|---:|---|",
            f"| `GET /healthz` (floor) | {floor_rps:,.0f} req/s (p99 {floor_p99}) | |",
            f"| `GET /api/projects/{{id}}` | {get_rps:,.0f} req/s (p99 {get_p99}), {get_rps / floor_rps * 100:.1f} % of floor | |",
            f"| `GET /api/projects/{{id}}/cost` ({total} deployments) | {cost_rps:,.0f} req/s (p99 {cost_p99}), {cost_rps / floor_rps * 100:.1f} % of floor | |",
            f"| cost vs get, median of {args.rounds} alternating rounds ({', '.join(f'{r[0]:.1f}' for r in rounds)} %) | {ratio:.1f} % | ≥ 50 %: {'PASS' if ratio >= 50 else 'FAIL'} |",
            f"| reaper: due instant → last of {args.expire} gone | {reaped_s:.2f} s ({remaining} left) | < 30 s: {'PASS' if remaining == 0 and reaped_s < 30 else 'FAIL'} |",
            f"| `environment.expired` audit entries | {len(audit)} | {args.expire}: {'PASS' if len(audit) == args.expire else 'FAIL'} |",
            f"| Gantry-made namespaces left in the cluster | {namespaces_left} | 0: {'PASS' if namespaces_left == 0 else 'FAIL'} |",
            f"| Gantry peak RSS | {rss_kb / 1024:.1f} MB | |",
        ]
        write_results("preview.md", lines)
    finally:
        stop(processes)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
