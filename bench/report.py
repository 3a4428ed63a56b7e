#!/usr/bin/env python3
"""Turn one database's raw benchmark outputs into a table (stdout) and a markdown file.

    report.py --dir RAWDIR --db NAME --markdown OUT.md

RAWDIR (written by catalog.sh) holds:
  routes.tsv      one line per measured route and round: label<TAB>path<TAB>wrk-output-file<TAB>round
                  (a route's requests/s and p99 are each the median over its rounds; its ratio to /healthz the
                  median of the rounds' ratios)
  stats_all.txt   one line per sequential request: http_code time_total_seconds
  stats_all.count number of entries in the full /projects/stats response
  rss_kb          VmHWM of the server at the end, in kB
  meta.env        KEY=VALUE lines describing the run (shown in the markdown)
"""
import argparse
import os
import re
import statistics
import sys

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}

# Issue 12's targets against the /healthz floor: GET /projects/{id} per database, and the authenticated route that
# reads nothing (what the middleware and the OpenAPI runtime cost).
TARGET_GET_RATIO = {"sqlite": 40.0, "postgres": 25.0}
TARGET_POLICIES_RATIO = 45.0
TARGET_STATS_ALL_MS = 300.0  # full /projects/stats < 300 ms
TARGET_RSS_MB = 200.0  # peak RSS < 200 MB


def parse_wrk(path):
    text = open(path).read()
    rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sock = re.search(r"Socket errors:\s*(.*)", text)
    total = re.search(r"(\d+) requests in", text)
    return {
        "rps": float(rps.group(1)) if rps else None,
        "p99_ms": float(p99.group(1)) * UNITS_MS[p99.group(2)] if p99 else None,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sock.group(1).strip() if sock else "",
        "requests": int(total.group(1)) if total else None,
    }


def fmt(v, pattern):
    return "n/a" if v is None else pattern.format(v)


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--markdown", required=True)
    args = ap.parse_args()
    d = args.dir

    meta = {}
    if os.path.exists(os.path.join(d, "meta.env")):
        for line in open(os.path.join(d, "meta.env")):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v

    # label -> (path, {round: wrk figures}), in the order the routes were measured.
    measured = {}
    for line in open(os.path.join(d, "routes.tsv")):
        label, path, out, round_ = line.rstrip("\n").split("\t")
        measured.setdefault(label, (path, {}))[1][int(round_)] = parse_wrk(out)
    floors = next((runs for path, runs in measured.values() if path == "/healthz"), {})
    rounds = sorted(floors)

    def median_of(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    def ratios(runs, base):
        """Each round's rps as a percentage of `base`'s rps in the same round."""
        return [runs[r]["rps"] / base[r]["rps"] * 100 for r in rounds
                if r in runs and r in base and runs[r]["rps"] is not None and base[r]["rps"]]

    rows = []
    for label, (path, runs) in measured.items():
        w = {
            "rps": median_of(x["rps"] for x in runs.values()),
            "p99_ms": median_of(x["p99_ms"] for x in runs.values()),
            "non2xx": sum(x["non2xx"] for x in runs.values()),
            "socket_errors": "; ".join(x["socket_errors"] for x in runs.values() if x["socket_errors"]),
            "requests": sum(x["requests"] or 0 for x in runs.values()),
            "ratios": ratios(runs, floors),
            "runs": runs,
        }
        rows.append((label, path, w))

    times = []
    codes = []
    for line in open(os.path.join(d, "stats_all.txt")):
        parts = line.split()
        if len(parts) == 2:
            codes.append(parts[0])
            times.append(float(parts[1]) * 1000)
    stats_ok_codes = all(c == "200" for c in codes) and len(codes) > 0
    stats_ms = statistics.median(times) if times and stats_ok_codes else None
    count = open(os.path.join(d, "stats_all.count")).read().strip()
    expected = meta.get("projects", "10000")
    rss_kb = open(os.path.join(d, "rss_kb")).read().strip()
    rss_mb = int(rss_kb) / 1024 if rss_kb.isdigit() else None

    warnings = []
    table = []
    admin_runs = {label: w["runs"] for label, _, w in rows}
    for label, path, w in rows:
        ratio = median_of(w["ratios"])
        target = ""
        scoped = " (project-scoped token)"
        share = median_of(ratios(w["runs"], admin_runs[label[: -len(scoped)]])) \
            if label.endswith(scoped) and label[: -len(scoped)] in admin_runs else None
        if share is not None:
            target = f"{share:.0f} % of the admin token's rate (target >= 80 %): {verdict(share >= 80)}"
        elif label == "GET /api/projects/{id}" and args.db in TARGET_GET_RATIO:
            goal = TARGET_GET_RATIO[args.db]
            target = f">= {goal:.0f} % of floor: {verdict(None if ratio is None else ratio >= goal)}"
        elif path == "/api/policies":
            target = f">= {TARGET_POLICIES_RATIO:.0f} % of floor: {verdict(None if ratio is None else ratio >= TARGET_POLICIES_RATIO)}"
        elif path == "/healthz":
            target = "(floor)"
        each = "" if len(w["ratios"]) < 2 or path == "/healthz" else " (" + ", ".join(f"{r:.1f}" for r in w["ratios"]) + ")"
        table.append((label, fmt(w["rps"], "{:,.0f}"), fmt(w["p99_ms"], "{:.2f} ms"),
                      fmt(ratio, "{:.1f} %") + each, target))
        if w["non2xx"]:
            warnings.append(f"{label}: {w['non2xx']} of {w['requests']} responses were not 2xx/3xx")
        if w["socket_errors"]:
            warnings.append(f"{label}: socket errors: {w['socket_errors']}")
    if not stats_ok_codes:
        warnings.append(f"full /api/projects/stats returned HTTP codes {codes}")
    if count != expected:
        warnings.append(f"full /api/projects/stats held {count} entries, expected {expected}")

    stats_verdict = verdict(None if stats_ms is None else (stats_ms < TARGET_STATS_ALL_MS and count == expected))
    rss_verdict = verdict(None if rss_mb is None else rss_mb < TARGET_RSS_MB)
    samples = ", ".join(f"{t:.0f}" for t in times)

    # ---- console ----
    headers = ("route", "requests/s", "p99", "vs /healthz", "target")
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *table)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 or i == 4 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(f"\n=== {args.db}: {meta.get('dataset', '')}; median of {len(rounds)} round(s) per route")
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for r in table:
        print(line(r))
    print(f"GET /api/projects/stats (all, {count} entries): median {fmt(stats_ms, '{:.0f}')} ms "
          f"of {len(times)} sequential requests [{samples}]  target < {TARGET_STATS_ALL_MS:.0f} ms: {stats_verdict}")
    print(f"server peak RSS (VmHWM): {fmt(rss_mb, '{:.1f}')} MB  target < {TARGET_RSS_MB:.0f} MB: {rss_verdict}")
    for w in warnings:
        print(f"WARNING: {w}")

    # ---- markdown ----
    os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
    with open(args.markdown, "w") as md:
        md.write(f"# Catalog benchmark: {args.db}\n\n")
        md.write("Produced by `bench/catalog.sh`; do not edit by hand.\n\n")
        for k in ("date", "commit", "machine", "load", "dataset", "server", "wrk", "notes"):
            if meta.get(k):
                md.write(f"- **{k}**: {meta[k]}\n")
        md.write(f"\n{len(rounds)} round(s) per route; requests/s and p99 are each the median over a route's rounds, \"vs /healthz\" the "
                 "median of the rounds' ratios to that round's floor (each round's ratio in brackets).\n")
        md.write("\n| route | requests/s | p99 | vs /healthz | target |\n|---|---:|---:|---:|---|\n")
        for label, rps, p99, ratio, target in table:
            md.write(f"| `{label}` | {rps} | {p99} | {ratio} | {target} |\n")
        md.write("\n| measure | value | target |\n|---|---:|---|\n")
        md.write(f"| `GET /api/projects/stats` (all {count} entries), median of {len(times)} sequential requests "
                 f"| {fmt(stats_ms, '{:.0f}')} ms | < {TARGET_STATS_ALL_MS:.0f} ms: {stats_verdict} |\n")
        md.write(f"| server peak RSS (VmHWM) | {fmt(rss_mb, '{:.1f}')} MB | < {TARGET_RSS_MB:.0f} MB: {rss_verdict} |\n")
        md.write(f"\nFull-stats samples (ms): {samples}\n")
        if warnings:
            md.write("\n**Warnings**\n\n" + "".join(f"- {w}\n" for w in warnings))
    print(f"(written to {args.markdown})")
    return 1 if warnings else 0


if __name__ == "__main__":
    sys.exit(main())
