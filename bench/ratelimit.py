#!/usr/bin/env python3
"""Rate limit benchmark: what the per-token rate limit costs on PostgreSQL, where its buckets are shared by every
replica (README, "Access control").

    bench/ratelimit.sh [--no-build] [--duration S] [--rounds N] [--limit PER_MINUTE]

Measures, in one run on this machine, Gantry's release build on PostgreSQL:
  a. `GET /api/projects/{id}` with one token over 32 connections, with the rate limit off (`--rate-limit 0`) and on
     (`--limit` a minute, high enough that nothing is refused, so every request goes through the limiter), the two
     alternating over the rounds, with `/healthz` as the floor in each; the median of the rounds' "on vs off" ratios
     (target ≥ 90 %);
  b. the writes to `rate_limits` per 1,000 requests while the limit is on (PostgreSQL's `pg_stat_user_tables`).
Writes bench/results/ratelimit.md.
"""
import argparse, datetime, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import head_commit, start_gantry, stop, write_results, wrk  # noqa: E402
from deploy import API  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--database", required=True, help="a PostgreSQL URL")
    ap.add_argument("--psql", required=True, help="psql command, as a shell word list, reaching the same database")
    ap.add_argument("--duration", type=int, default=5, help="seconds of wrk per route")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=6_000_000, help="requests a minute per token while the limit is on")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gantry-ratelimit-bench-")
    key = os.path.join(work, "secret.key")
    with open(key, "w") as f:
        subprocess.run([os.path.join(args.bin_dir, "gantry"), "keygen"], stdout=f, check=True)

    def psql(query):
        out = subprocess.run([*args.psql.split(), "-X", "-q", "-t", "-A", "-c", query], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def writes():
        return int(psql("SELECT COALESCE(SUM(n_tup_ins + n_tup_upd), 0) FROM pg_stat_user_tables WHERE relname = 'rate_limits'") or 0)

    token, project, rounds = None, None, []
    for r in range(args.rounds):
        row = {}
        for mode in ("off", "on"):
            before = writes()
            gantry, port, token = start_gantry(args.bin_dir, work, flags=["--secret-key-file", key, "--sync-interval", "0"],
                                               database=args.database, rate_limit=args.limit if mode == "on" else 0, token=token)
            try:
                if project is None:
                    project = API(port, token).call("POST", "/api/projects", {"name": "ratelimit"})["data"]["id"]
                floor, _ = wrk(f"http://127.0.0.1:{port}/healthz", args.duration)
                rps, p99 = wrk(f"http://127.0.0.1:{port}/api/projects/{project}", args.duration, token)
            finally:
                stop([gantry])
            # A backend reports its table statistics when it exits: the server's connections closed with it.
            time.sleep(1.5)
            row[mode] = {"floor": floor, "rps": rps, "p99": p99, "writes": writes() - before}
        rounds.append(row)
        print(f"round {r + 1}: off {row['off']['rps']:.0f} req/s, on {row['on']['rps']:.0f} req/s "
              f"({row['on']['rps'] / row['off']['rps'] * 100:.1f} %), {row['on']['writes']} writes", flush=True)

    def median(f):
        return statistics.median(f(row) for row in rounds)

    ratio = median(lambda row: row["on"]["rps"] / row["off"]["rps"] * 100)
    per_thousand = median(lambda row: row["on"]["writes"] / (row["on"]["rps"] * args.duration) * 1000)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Rate limit benchmark (PostgreSQL)", "",
        f"{stamp}, commit {head_commit()}, `bash bench/ratelimit.sh`: release build on PostgreSQL (fsync=off), one token, "
        f"`wrk -t2 -c32 -d{args.duration}s`, {args.rounds} rounds alternating the limit off and on "
        f"(`--rate-limit {args.limit}`, which refuses nothing here).", "",
        "| round | `/healthz` off | `GET /api/projects/{id}` off | p99 | `/healthz` on | `GET /api/projects/{id}` on | p99 | on vs off | writes to `rate_limits` |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, row in enumerate(rounds, 1):
        off, on = row["off"], row["on"]
        lines.append(f"| {i} | {off['floor']:,.0f} | {off['rps']:,.0f} | {off['p99']} | {on['floor']:,.0f} | {on['rps']:,.0f} | {on['p99']} | "
                     f"{on['rps'] / off['rps'] * 100:.1f} % | {on['writes']:,} |")
    lines += [
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| `GET /api/projects/{{id}}` with the limit on vs off (median of the rounds' ratios) | {ratio:.1f} % | ≥ 90 %: {'met' if ratio >= 90 else 'missed'} |",
        f"| `GET /api/projects/{{id}}` vs `/healthz`, limit off / on (medians) | "
        f"{median(lambda row: row['off']['rps'] / row['off']['floor'] * 100):.1f} % / {median(lambda row: row['on']['rps'] / row['on']['floor'] * 100):.1f} % | |",
        f"| writes to `rate_limits` per 1,000 requests, limit on (median) | {per_thousand:.1f} | |",
    ]
    write_results("ratelimit.md", lines)


if __name__ == "__main__":
    main()
