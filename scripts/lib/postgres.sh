# Shared by scripts/test.sh and bench/catalog.sh: apt installs and a throwaway PostgreSQL cluster.
# The sourcing script defines section() and die() and calls stop_postgres from its EXIT trap.
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

# Starts a throwaway cluster owned by a non-root OS user (PostgreSQL refuses root) on a free
# loopback port, with fsync off, and creates database $1. Sets PG_PORT; stop_postgres undoes it.
start_postgres_cluster() { # $1: database name, $2: temp dir prefix
  ensure_postgres_installed
  ensure_python3
  ensure_pg_os_user

  PG_TMP="$(mktemp -d -t "${2:-gantry-pg}.XXXXXX")"
  PG_DATA="$PG_TMP/data"
  local sock="$PG_TMP/sock" log="$PG_TMP/postgres.log"
  mkdir -p "$sock"
  chown -R "$PG_USER" "$PG_TMP"
  chmod 0700 "$PG_TMP"
  echo "throwaway PostgreSQL cluster: OS user $PG_USER, dir $PG_TMP"
  as_pg timeout 120 "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C >"$PG_TMP/initdb.log" 2>&1 \
    || { cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }

  # Picking a free port and binding it later is racy; retry a few times.
  local attempt
  for attempt in 1 2 3; do
    PG_PORT="$(free_port)"
    if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$log" -w -t 60 \
        -o "-p $PG_PORT -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=1000" \
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
  timeout 60 "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT, database $1"
}
