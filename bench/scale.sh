#!/usr/bin/env bash
# Scale benchmark (issue 16): see bench/scale.py for what it measures (cold start to every status correct, change
# latency under 100 changes/s, steady-state LIST calls and CPU, peak RSS, full project stats, and on PostgreSQL two
# deployer replicas sharing the spaces) over 500 spaces, 10,000 environments and 50,000 deployments.
#
#   bench/scale.sh [--no-build] [--database sqlite|postgres|both] [--spaces N] [--environments N] [--deployments N]
#                  [--churn R] [--probes N] [--probe-concurrency N] [--steady S] [--deployer-args '--sync-interval 10'] …
#
# Defaults: the full 500 / 10,000 / 50,000 on SQLite. A quick run: --spaces 20 --environments 200 --deployments 1000.
# Every option but --no-build and --database goes to bench/scale.py (python3 bench/scale.py --help lists them).
# Builds the release binaries (gantry, kube-test-server) unless --no-build. SWIFT_SCRATCH_PATH picks another build
# directory than .build (its release/ binaries are used). For PostgreSQL it starts a throwaway cluster as
# bench/catalog.sh does (scripts/lib/postgres.sh: needs root, installs PostgreSQL from apt when missing) and removes it
# on exit. Writes bench/results/scale.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
section() { printf '\n==> %s\n' "$*"; }
source bench/lib.sh

BUILD=1
DATABASE=sqlite
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --database) DATABASE="${2:?--database needs a value}"; shift ;;
    --database=*) DATABASE="${1#--database=}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) PASS+=("$1") ;;
  esac
  shift
done
case "$DATABASE" in sqlite|postgres|both) ;; *) die "--database must be sqlite, postgres or both" ;; esac

release_build "$BUILD" gantry kube-test-server
command -v python3 >/dev/null 2>&1 || apt_install python3

PG_ARGS=()
trap 'stop_postgres' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ "$DATABASE" != "sqlite" ]; then
  section "PostgreSQL: a throwaway cluster"
  start_postgres_cluster gantry_scale gantry-scale-pg
  PG_ARGS=(--pg-url "postgres://postgres@127.0.0.1:$PG_PORT/gantry_scale?sslmode=disable" --psql "$PG_BIN/psql")
fi
# Not exec: the EXIT trap removes the PostgreSQL cluster afterwards.
python3 bench/scale.py --bin-dir "$BIN_DIR" --database "$DATABASE" "${PG_ARGS[@]}" "${PASS[@]}"
