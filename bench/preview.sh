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
source bench/lib.sh
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; shift; fi
release_build "$BUILD" gantry kube-test-server
command -v wrk >/dev/null 2>&1 || apt_install wrk
exec python3 bench/preview.py --bin-dir "$BIN_DIR" "$@"
