#!/usr/bin/env bash
# Gantry test runner.
#
#   scripts/test.sh [swift test args...]     e.g. scripts/test.sh --filter ProjectTests
#
# Starts a throwaway PostgreSQL cluster (installing the server from apt if needed),
# exports GANTRY_TEST_POSTGRES_URL, builds once, runs `swift test --skip-build`,
# then runs Python suites under tests/python if any exist.
#
# Environment:
#   GANTRY_TEST_ONLY_DB=1   only start PostgreSQL, run `select 1` against it, and exit
#                           (the cluster is stopped and removed on exit).
#
# Meant for a fresh Debian 12 machine running as root (as in CI); needs the Swift
# toolchain on PATH and access to the Debian apt mirrors and PyPI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"

section() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=lib/postgres.sh
source "$REPO_ROOT/scripts/lib/postgres.sh"

cleanup() {
  local rc=$?
  trap - EXIT
  stop_postgres
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_postgres() {
  section "Starting a throwaway PostgreSQL cluster"
  start_postgres_cluster gantry_test gantry-pg
  export GANTRY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/gantry_test"
  echo "GANTRY_TEST_POSTGRES_URL=$GANTRY_TEST_POSTGRES_URL"
}

# ---------------------------------------------------------------------------
# Test suites
# ---------------------------------------------------------------------------
# Real third-party programs the suites drive: nginx (the split-roles example) and kubectl (the fake
# Kubernetes API server's wire format). Installed from Debian when missing.
ensure_tools() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { section "Installing nginx (Debian)"; apt_install nginx-light || apt_install nginx; }
  command -v kubectl >/dev/null 2>&1 || { section "Installing kubectl (Debian kubernetes-client)"; apt_install kubernetes-client; }
}

# Headless Chromium and its WebDriver from Debian, for the web console's browser tests (tests/python/test_console.py).
ensure_browser() {
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    section "Installing Chromium and chromedriver (Debian chromium, chromium-driver)"
    apt_install chromium chromium-driver
  fi
}

run_swift_tests() {
  command -v swift >/dev/null 2>&1 || die "swift not found on PATH"
  # Swift Testing starts every test at once by default: ~170 apps with their SQLite files and sockets open
  # together, over 2,000 descriptors. Past ~1,350 open descriptors Foundation's Process.run reads beyond the end
  # of its /proc/self/fd listing and crashes (SIGSEGV in memmove), taking the whole suite down. Twenty-four at a
  # time keeps the process near 270 descriptors and, on two cores, runs the suite faster (231 s instead of 364 s).
  export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-24}"
  section "Building (swift build --build-tests)"
  swift build --build-tests
  if [ "$#" -gt 0 ]; then
    section "Running Swift tests (swift test --skip-build $*)"
    swift test --skip-build "$@"
    return
  fi
  # The CLI suites spawn hundreds of processes: they run in a test process of their own, away from the servers'
  # descriptors.
  section "Running Swift tests (swift test --skip-build --skip GantryCLITests)"
  swift test --skip-build --skip GantryCLITests
  section "Running the CLI's Swift tests (swift test --skip-build --filter GantryCLITests)"
  swift test --skip-build --filter GantryCLITests
}

# The Python virtualenv (tests/python/requirements.txt): the Python suites use it, and so do the Swift sign-on tests,
# which run the test OpenID provider (tests/python/oidc_provider, Authlib) from it.
VENV="$REPO_ROOT/.build-venv"
ensure_python_venv() {
  ensure_python3
  if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      # Debian ships venv/ensurepip separately.
      apt_install python3-venv
      python3 -m venv "$VENV"
    fi
  fi
  "$VENV/bin/pip" install -q -r "$REPO_ROOT/tests/python/requirements.txt"
  "$VENV/bin/python" -c 'import pytest' 2>/dev/null || "$VENV/bin/pip" install -q pytest
  export GANTRY_TEST_PYTHON="$VENV/bin/python"
}

run_python_tests() {
  local dir="$REPO_ROOT/tests/python"
  section "Running Python tests (tests/python)"
  local rc=0
  "$VENV/bin/python" -m pytest "$dir" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests; treating as success"
    rc=0
  fi
  return "$rc"
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
start_postgres

if [ "${GANTRY_TEST_ONLY_DB:-}" = "1" ]; then
  section "Checking database (GANTRY_TEST_ONLY_DB=1)"
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d gantry_test -v ON_ERROR_STOP=1 -c 'select 1'
  section "Database OK"
  exit 0
fi

ensure_tools
ensure_browser
section "Preparing the Python virtualenv (tests/python/requirements.txt)"
ensure_python_venv
run_swift_tests "$@"
run_python_tests

section "All tests passed"
