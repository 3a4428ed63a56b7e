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

# ---------------------------------------------------------------------------
# apt helpers
# ---------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; cannot install: $*"
  [ "$(id -u)" -eq 0 ] || die "must run as root to install: $*"
  if [ "$APT_UPDATED" -eq 0 ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "$@" >/dev/null
}

ensure_python3() {
  command -v python3 >/dev/null 2>&1 || apt_install python3
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
PG_BIN=""
PG_USER=""
PG_TMP=""
PG_DATA=""
PG_PORT=""
PG_STARTED=0

find_pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
    PG_BIN="$d"
    return 0
  fi
  return 1
}

ensure_postgres_installed() {
  if find_pg_bin; then
    echo "found PostgreSQL binaries in $PG_BIN"
    return
  fi
  echo "PostgreSQL server not found; installing from apt"
  # Install postgresql-common first and stop it from creating/starting the
  # default "main" cluster: we run our own throwaway cluster instead.
  apt_install postgresql-common
  if [ -f /etc/postgresql-common/createcluster.conf ]; then
    sed -ri 's/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/' /etc/postgresql-common/createcluster.conf
  fi
  apt_install postgresql
  find_pg_bin || die "PostgreSQL installed but no /usr/lib/postgresql/*/bin/initdb found"
  echo "installed PostgreSQL binaries in $PG_BIN"
}

ensure_pg_os_user() {
  if id -u postgres >/dev/null 2>&1; then
    PG_USER=postgres
  else
    PG_USER=gantrypg
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
  fi
}

as_pg() { runuser -u "$PG_USER" -- "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

stop_postgres() {
  if [ "$PG_STARTED" -eq 1 ] && [ -n "$PG_DATA" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
    PG_STARTED=0
  fi
  if [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
    rm -rf "$PG_TMP"
  fi
}

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
  section "Preparing PostgreSQL"
  ensure_postgres_installed
  ensure_python3
  ensure_pg_os_user

  PG_TMP="$(mktemp -d -t gantry-pg.XXXXXX)"
  PG_DATA="$PG_TMP/data"
  local sock="$PG_TMP/sock" log="$PG_TMP/postgres.log"
  mkdir -p "$sock"
  chown -R "$PG_USER" "$PG_TMP"
  chmod 0700 "$PG_TMP"

  section "Starting throwaway PostgreSQL cluster (OS user $PG_USER, dir $PG_TMP)"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C >"$PG_TMP/initdb.log" 2>&1 \
    || { cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }

  # Picking a free port and binding it later is racy; retry a few times.
  local attempt
  for attempt in 1 2 3; do
    PG_PORT="$(free_port)"
    if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$log" -w -t 60 \
        -o "-p $PG_PORT -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
        start >/dev/null; then
      PG_STARTED=1
      break
    fi
    echo "PostgreSQL failed to start on port $PG_PORT (attempt $attempt)" >&2
  done
  if [ "$PG_STARTED" -ne 1 ]; then
    cat "$log" >&2 || true
    die "could not start PostgreSQL"
  fi

  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres gantry_test

  export GANTRY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/gantry_test"
  echo "GANTRY_TEST_POSTGRES_URL=$GANTRY_TEST_POSTGRES_URL"
}

# ---------------------------------------------------------------------------
# Test suites
# ---------------------------------------------------------------------------
run_swift_tests() {
  command -v swift >/dev/null 2>&1 || die "swift not found on PATH"
  section "Building (swift build --build-tests)"
  swift build --build-tests
  section "Running Swift tests (swift test --skip-build${*:+ $*})"
  swift test --skip-build "$@"
}

run_python_tests() {
  local dir="$REPO_ROOT/tests/python"
  if [ ! -d "$dir" ] || [ -z "$(find "$dir" -name 'test_*.py' -o -name '*_test.py' | head -n 1)" ]; then
    return 0
  fi
  section "Running Python tests (tests/python)"
  ensure_python3
  local venv="$REPO_ROOT/.build-venv"
  if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
      rm -rf "$venv"
      # Debian ships venv/ensurepip separately.
      apt_install python3-venv
      python3 -m venv "$venv"
    fi
  fi
  if [ -f "$dir/requirements.txt" ]; then
    "$venv/bin/pip" install -q -r "$dir/requirements.txt"
  fi
  "$venv/bin/python" -c 'import pytest' 2>/dev/null || "$venv/bin/pip" install -q pytest
  local rc=0
  "$venv/bin/python" -m pytest "$dir" || rc=$?
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

run_swift_tests "$@"
run_python_tests

section "All tests passed"
