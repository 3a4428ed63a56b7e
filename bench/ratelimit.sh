#!/usr/bin/env bash
# Rate limit benchmark: see bench/ratelimit.py for what it measures (GET /projects/{id} on PostgreSQL with the
# per-token rate limit off and on, and the writes the limit makes).
#
#   bench/ratelimit.sh [--no-build] [--duration S] [--rounds N] [--limit PER_MINUTE]
#
# Builds the release binary unless --no-build (SWIFT_SCRATCH_PATH picks another build directory than .build), starts
# a throwaway PostgreSQL cluster (installed from Debian packages when missing) and writes bench/results/ratelimit.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
source scripts/lib/postgres.sh   # apt_install, start_postgres_cluster, stop_postgres
SCRATCH="${SWIFT_SCRATCH_PATH:-.build}"
if [ "${1:-}" = "--no-build" ]; then
  shift
else
  swift build -c release --scratch-path "$SCRATCH" --product gantry
fi
[ -x "$SCRATCH/release/gantry" ] || die "no release binary in $SCRATCH/release"
command -v wrk >/dev/null 2>&1 || apt_install wrk
start_postgres_cluster gantry_bench gantry-ratelimit-pg
trap stop_postgres EXIT
python3 bench/ratelimit.py --bin-dir "$SCRATCH/release" \
  --database "postgres://postgres@127.0.0.1:$PG_PORT/gantry_bench?sslmode=disable" \
  --psql "$PG_BIN/psql -h 127.0.0.1 -p $PG_PORT -U postgres -d gantry_bench" "$@"
