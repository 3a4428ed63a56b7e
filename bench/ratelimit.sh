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
source bench/lib.sh
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; shift; fi
release_build "$BUILD" gantry
command -v wrk >/dev/null 2>&1 || apt_install wrk
start_postgres_cluster gantry_bench gantry-ratelimit-pg
trap stop_postgres EXIT
python3 bench/ratelimit.py --bin-dir "$BIN_DIR" \
  --database "postgres://postgres@127.0.0.1:$PG_PORT/gantry_bench?sslmode=disable" \
  --psql "$PG_BIN/psql -h 127.0.0.1 -p $PG_PORT -U postgres -d gantry_bench" "$@"
