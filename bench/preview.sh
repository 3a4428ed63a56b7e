#!/usr/bin/env bash
# Preview environments and cost benchmark: see bench/preview.py for what it measures (the project cost over 2,000
# deployments against GET /projects/{id}; the reaper expiring 500 environments at once on the fake cluster).
#
#   bench/preview.sh [--no-build] [--environments N] [--deployments N] [--expire N] [--duration S] [--rounds N]
#
# Builds the release binaries (gantry, kube-test-server) unless --no-build. SWIFT_SCRATCH_PATH picks another build
# directory than .build (its release/ binaries are used). Writes bench/results/preview.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
source scripts/lib/postgres.sh   # apt_install
SCRATCH="${SWIFT_SCRATCH_PATH:-.build}"
if [ "${1:-}" = "--no-build" ]; then
  shift
else
  swift build -c release --scratch-path "$SCRATCH" --product gantry
  swift build -c release --scratch-path "$SCRATCH" --product kube-test-server
fi
[ -x "$SCRATCH/release/gantry" ] && [ -x "$SCRATCH/release/kube-test-server" ] || die "no release binaries in $SCRATCH/release"
command -v wrk >/dev/null 2>&1 || apt_install wrk
exec python3 bench/preview.py --bin-dir "$SCRATCH/release" "$@"
