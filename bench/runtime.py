#!/usr/bin/env python3
"""Live-runtime benchmark (issue 4): GET /api/environments/{id}/stats over a namespace of 500 Deployments and
2,000 pods served by the fake Kubernetes API server (kube-test-server, TLS on loopback).

    bench/runtime.sh [--no-build] [--deployments N] [--pods N] [--samples N] [--duration S]

Measures, in one run on this machine:
  1. raw: the same Kubernetes calls Gantry makes (namespace GET, then the Deployment list and the paged pod list,
     which Gantry runs concurrently), timed over one keep-alive TLS connection each: ns + max(deployments, pods);
  2. uncached: Gantry's answer for environments never asked before (one per space, all on the same cluster);
     the overhead is uncached − raw (target ≤ 20 ms);
  3. cached: wrk against a cached environment's stats, with /healthz as the floor (target ≥ 50 %).
Writes bench/results/runtime.md.
"""
import argparse, http.client, json, os, shutil, ssl, statistics, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402
    REPO, head_commit, kubeconfig as bench_kubeconfig, start_gantry, stop, vm_hwm, wait_line, write_results, wrk,
)


def api(port, token, method, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def raw_timings(server, ca, token, namespace, samples):
    host, port = server.replace("https://", "").split(":")
    context = ssl.create_default_context(cafile=ca)

    def fetch(conn, path):
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        response = conn.getresponse()
        return json.loads(response.read())

    def timed_list(path):
        conn = http.client.HTTPSConnection(host, int(port), context=context)
        fetch(conn, "/version")  # handshake outside the timing, like Gantry's pooled connections
        start = time.perf_counter()
        token_ = None
        while True:
            query = "?limit=500" + (f"&continue={token_}" if token_ else "")
            page = fetch(conn, path + query)
            token_ = page.get("metadata", {}).get("continue")
            if not token_:
                break
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed

    totals = []
    for _ in range(samples):
        conn = http.client.HTTPSConnection(host, int(port), context=context)
        fetch(conn, "/version")
        start = time.perf_counter()
        fetch(conn, f"/api/v1/namespaces/{namespace}")
        ns = time.perf_counter() - start
        conn.close()
        deployments = timed_list(f"/apis/apps/v1/namespaces/{namespace}/deployments")
        pods = timed_list(f"/api/v1/namespaces/{namespace}/pods")
        totals.append(ns + max(deployments, pods))
    return totals


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=os.path.join(REPO, ".build", "release"))
    ap.add_argument("--deployments", type=int, default=500)
    ap.add_argument("--pods", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=7)
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gantry-runtime-bench-")
    processes = []
    try:
        ca = os.path.join(work, "ca.crt")
        kube = subprocess.Popen([os.path.join(args.bin_dir, "kube-test-server"), "--scenario", "large", "--deployments", str(args.deployments),
                                 "--pods", str(args.pods), "--ca-out", ca, "--token", "bench-token"], stdout=subprocess.PIPE, text=True)
        processes.append(kube)
        server = wait_line(kube, "listening ").split(" ", 1)[1]
        gantry, port, token = start_gantry(args.bin_dir, work, ["--sync-interval", "0"])
        processes.append(gantry)
        kubeconfig = bench_kubeconfig(server, ca)
        project = api(port, token, "POST", "/api/projects", {"name": "bench"})["data"]["id"]
        environments = []
        for i in range(args.samples + 1):
            space = api(port, token, "POST", "/api/spaces", {"name": f"bench-{i}", "provider": "kubeconfig", "kubeconfig": kubeconfig})["data"]["id"]
            environments.append(api(port, token, "POST", f"/api/projects/{project}/environments",
                                    {"name": f"env-{i}", "spaceId": space, "namespace": "load"})["data"]["id"])
        # Warm both sides (TLS, allocators) on one environment, then time the others uncached.
        first = api(port, token, "GET", f"/api/environments/{environments[0]}/stats")["data"]
        uncached = []
        for env in environments[1:]:
            start = time.perf_counter()
            api(port, token, "GET", f"/api/environments/{env}/stats")
            uncached.append(time.perf_counter() - start)
        raw = raw_timings(server, ca, "bench-token", "load", args.samples)
        floor_rps, floor_p99 = wrk(f"http://127.0.0.1:{port}/healthz", args.duration)
        # Answers are cached for 15 s: read once right before the run, which lasts less than that.
        api(port, token, "GET", f"/api/environments/{environments[0]}/stats")
        cached_rps, cached_p99 = wrk(f"http://127.0.0.1:{port}/api/environments/{environments[0]}/stats", min(args.duration, 12), token=token)
        rss_kb = vm_hwm(gantry.pid)
        raw_ms, uncached_ms = statistics.median(raw) * 1000, statistics.median(uncached) * 1000
        overhead = uncached_ms - raw_ms
        ratio = cached_rps / floor_rps * 100
        lines = [
            "# Live-runtime benchmark", "", "Produced by `bench/runtime.sh`; do not edit by hand.", "",
            f"- **date**: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; **commit**: {head_commit()}",
            f"- **machine**: {os.cpu_count()} CPUs shared by wrk, Gantry (release) and kube-test-server (release, TLS on loopback)",
            f"- **namespace**: {args.deployments} Deployments, {args.pods} pods (answer: {first['deploymentCount']} deployments, "
            f"{first['podCount']} pods, {first['cpuRequestedCores']} cores, {first['memoryRequestedGB']} GiB)", "",
            "| measure | value | target |", "|---|---:|---|",
            f"| raw Kubernetes calls (namespace GET + max(Deployment list, 4 pod pages)), median of {args.samples} | {raw_ms:.1f} ms | |",
            f"| Gantry uncached `GET /environments/{{id}}/stats`, median of {args.samples} | {uncached_ms:.1f} ms | |",
            f"| Gantry's time over the raw calls | {overhead:.1f} ms | ≤ 20 ms: {'PASS' if overhead <= 20 else 'FAIL'} |",
            f"| `/healthz` (floor) | {floor_rps:,.0f} req/s (p99 {floor_p99}) | |",
            f"| cached `GET /environments/{{id}}/stats` | {cached_rps:,.0f} req/s (p99 {cached_p99}) | {ratio:.0f} % of floor, ≥ 50 %: {'PASS' if ratio >= 50 else 'FAIL'} |",
            f"| Gantry peak RSS | {rss_kb / 1024:.1f} MB | |", "",
            f"Samples (ms): raw {[round(x * 1000, 1) for x in raw]}; uncached {[round(x * 1000, 1) for x in uncached]}",
        ]
        write_results("runtime.md", lines)
    finally:
        stop(processes)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
