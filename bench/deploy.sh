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
source bench/lib.sh
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; shift; fi
release_build "$BUILD" gantry kube-test-server
command -v wrk >/dev/null 2>&1 || apt_install wrk
exec python3 bench/deploy.py --bin-dir "$BIN_DIR" "$@"
