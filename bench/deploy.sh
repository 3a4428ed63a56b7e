#!/usr/bin/env bash
# Deploy benchmark: see bench/deploy.py for what it measures (one environment deploy of 200 deployments on the
# fake cluster: answer time, time to applied and to succeeded, cluster calls per revision, peak RSS).
#
#   bench/deploy.sh [--no-build] [--deployments N] [--duration S] [--timeout S]
#
# Builds the release binaries (gantry, kube-test-server) unless --no-build. SWIFT_SCRATCH_PATH picks another build
# directory than .build (its release/ binaries are used). Writes bench/results/deploy.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
source scripts/lib/postgres.sh
SCRATCH="${SWIFT_SCRATCH_PATH:-.build}"
if [ "${1:-}" = "--no-build" ]; then
  shift
else
  swift build -c release --scratch-path "$SCRATCH" --product gantry
  swift build -c release --scratch-path "$SCRATCH" --product kube-test-server
fi
[ -x "$SCRATCH/release/gantry" ] && [ -x "$SCRATCH/release/kube-test-server" ] || die "no release binaries in $SCRATCH/release"
command -v wrk >/dev/null 2>&1 || apt_install wrk
exec python3 bench/deploy.py --bin-dir "$SCRATCH/release" "$@"
