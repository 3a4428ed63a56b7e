#!/usr/bin/env bash
# Live-runtime benchmark: see bench/runtime.py for what it measures. Builds the release binaries unless --no-build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
source scripts/lib/postgres.sh
if [ "${1:-}" = "--no-build" ]; then shift; else swift build -c release --product gantry && swift build -c release --product kube-test-server; fi
command -v wrk >/dev/null 2>&1 || apt_install wrk
exec python3 bench/runtime.py "$@"
