#!/usr/bin/env bash
# Catalog benchmark: read throughput and latency of the project routes on a seeded catalog of
# 10,000 projects, 50,000 environments and 200,000 deployments, on SQLite and PostgreSQL.
#
#   bench/catalog.sh [--no-build] [--db sqlite|postgres|all] [--duration SECONDS]
#                    [--threads N] [--connections N] [--warmup SECONDS] [--rounds N] [--projects N]
#
# For each database it:
#   1. creates a fresh database (SQLite file in a temp dir; for PostgreSQL a throwaway cluster,
#      started like scripts/test.sh does, on a free loopback port with fsync=off),
#   2. starts `gantry serve` once with GANTRY_BOOTSTRAP_TOKEN so migrations and bootstrap run
#      (always with --rate-limit 0 and --sync-interval 0: this measures the catalog, and status sync
#      over the seed's 200,000 deployments on one unreachable space is the deployer's cost, not its),
#      waits for /readyz, stops it (SIGTERM),
#   3. seeds rows straight into the tables (bench/seed.py),
#   4. starts the server again and measures with wrk on loopback: /healthz (the floor),
#      GET /api/projects/{id}, GET /api/projects?limit=50, GET /api/projects/stats?limit=50, the
#      same two with a project-scoped token, and GET /api/policies (authenticated, no query: what
#      the HTTP stack, the middleware and the OpenAPI runtime cost without the database);
#      then times 5 sequential full GET /api/projects/stats (all projects in one response) with
#      curl, and reads the server's peak RSS (VmHWM),
#   5. prints a table and writes it as markdown to bench/results/catalog-<db>.md.
#
# Options:
#   --no-build          skip `swift build -c release --product gantry` when $SWIFT_SCRATCH_PATH/release/gantry exists
#                       (SWIFT_SCRATCH_PATH defaults to .build)
#   --db WHICH          sqlite, postgres or all (default all; postgres is skipped with a note when
#                       no /usr/lib/postgresql/*/bin/initdb exists)
#   --duration S        wrk run length per route in seconds (default 10)
#   --warmup S          discarded wrk run before each route's first measured one (default 2; 0 disables)
#   --rounds N          measure every route N times, the routes in turn each round (default 3); each route's figures
#                       are the medians over its rounds, and its ratio to /healthz the median of the rounds' ratios, so that one
#                       slow minute on a shared machine moves a figure less than it moves a single run
#   --threads N         wrk threads (default 2)
#   --connections N     wrk connections (default 32)
#   --projects N        projects to seed (default 10000; 5 environments each, 4 deployments each)
#
# Needs root (apt-get for wrk; runuser for the PostgreSQL cluster), python3, curl and the Swift
# toolchain on PATH. Everything listens on 127.0.0.1 only; processes and temp dirs are removed on exit.
# Exit status: 0 when every measurement ran (targets missed are reported, not fatal), 1 otherwise.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT="$(pwd)"
BENCH_DIR="$REPO_ROOT/bench"
# shellcheck source=../scripts/lib/postgres.sh
source "$REPO_ROOT/scripts/lib/postgres.sh"
RESULTS_DIR="$BENCH_DIR/results"
# SWIFT_SCRATCH_PATH picks another build directory than .build, as bench/deploy.sh and bench/preview.sh allow.
SCRATCH="${SWIFT_SCRATCH_PATH:-.build}"
BIN="$REPO_ROOT/$SCRATCH/release/gantry"

BUILD=1
DBS="all"
DURATION=10
WARMUP=2
ROUNDS=3
THREADS=2
CONNECTIONS=32
PROJECTS=10000
ENVS_PER_PROJECT=5
DEPS_PER_ENV=4
STATS_ALL_RUNS=5

section() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --db) DBS="${2:?--db needs a value}"; shift ;;
    --duration) DURATION="${2:?}"; shift ;;
    --warmup) WARMUP="${2:?}"; shift ;;
    --rounds) ROUNDS="${2:?}"; shift ;;
    --threads) THREADS="${2:?}"; shift ;;
    --connections) CONNECTIONS="${2:?}"; shift ;;
    --projects) PROJECTS="${2:?}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
case "$DBS" in
  all) DBS="sqlite postgres" ;;
  sqlite|postgres) ;;
  *) die "--db must be sqlite, postgres or all" ;;
esac
for v in DURATION WARMUP ROUNDS THREADS CONNECTIONS PROJECTS; do
  is_uint "${!v}" || die "--$(echo "$v" | tr 'A-Z' 'a-z') must be a whole number"
done
[ "$DURATION" -ge 1 ] && [ "$PROJECTS" -ge 1 ] && [ "$ROUNDS" -ge 1 ] || die "--duration, --rounds and --projects must be at least 1"

# ---------------------------------------------------------------------------
# cleanup: everything this script starts is recorded here and undone on exit
# ---------------------------------------------------------------------------
WORK=""
SERVER_PID=""
SERVER_PORT=""
SERVER_LOG=""

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid="$SERVER_PID" rc=0 i
  SERVER_PID=""
  kill -TERM "$pid" 2>/dev/null || true
  # The contract gives in-flight requests up to 10 s; allow 20 before killing.
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "server $pid did not stop within 20 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

cleanup() {
  local rc=$?
  trap - EXIT
  stop_server || true
  stop_postgres
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------
ensure_tools() {
  command -v python3 >/dev/null 2>&1 || apt_install python3
  command -v curl >/dev/null 2>&1 || apt_install curl
  if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk not found; installing from apt"
    apt_install wrk
  fi
  python3 -c 'import sqlite3' 2>/dev/null || die "python3 lacks the sqlite3 module"
}

build() {
  if [ "$BUILD" -eq 0 ] && [ -x "$BIN" ]; then
    echo "--no-build: using existing $BIN"
    return
  fi
  command -v swift >/dev/null 2>&1 || die "swift not found on PATH"
  section "Building release binary (swift build -c release --product gantry; cold: ~10 min on 2 cores)"
  # Other builds in this folder hold SwiftPM's lock; waiting for them is part of the budget.
  timeout 3600 swift build -c release --scratch-path "$SCRATCH" --product gantry
  [ -x "$BIN" ] || die "build finished but $BIN is missing"
}

new_token() {
  python3 -c 'import secrets, string
a = string.digits + string.ascii_uppercase + string.ascii_lowercase
print("gnt_" + "".join(secrets.choice(a) for _ in range(40)))'
}

# ---------------------------------------------------------------------------
# PostgreSQL: a throwaway cluster, as scripts/test.sh starts one
# ---------------------------------------------------------------------------
pg_sql() {
  timeout "${PG_TIMEOUT:-120}" "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d gantry_bench \
    -v ON_ERROR_STOP=1 "$@"
}

# ---------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------
SERVER_ARGS=()

start_server() { # $1: log file
  SERVER_LOG="$1"
  local attempt i
  for attempt in 1 2 3; do
    SERVER_PORT="$(free_port)"
    GANTRY_BOOTSTRAP_TOKEN="$TOKEN" "$BIN" serve --host 127.0.0.1 --port "$SERVER_PORT" "${SERVER_ARGS[@]}" \
      >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    for ((i = 0; i < 600; i++)); do # 60 s: the first start runs the migrations
      if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        local rc=0
        wait "$SERVER_PID" || rc=$?
        SERVER_PID=""
        if grep -qi "address already in use" "$SERVER_LOG" && [ "$attempt" -lt 3 ]; then
          echo "port $SERVER_PORT taken meanwhile; retrying" >&2
          continue 2
        fi
        tail -n 30 "$SERVER_LOG" >&2
        die "gantry serve exited with status $rc before becoming ready"
      fi
      if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$SERVER_PORT/readyz" || true)" = "200" ]; then
        echo "gantry serve ready on 127.0.0.1:$SERVER_PORT (pid $SERVER_PID)"
        return 0
      fi
      sleep 0.1
    done
    tail -n 30 "$SERVER_LOG" >&2
    die "gantry serve not ready within 60 s"
  done
  die "could not start gantry serve"
}

stop_server_checked() {
  local rc=0
  stop_server || rc=$?
  [ "$rc" -eq 0 ] || { tail -n 30 "$SERVER_LOG" >&2; die "gantry serve exited with status $rc after SIGTERM"; }
  echo "gantry serve stopped (SIGTERM, exit 0)"
}

api_get() { # $1 path, $2 output file; prints the HTTP status
  curl -s -o "$2" -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$SERVER_PORT$1" || echo "000"
}

load_note() {
  local load busy
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  busy="$( (pgrep -c -x swift-frontend || true) | head -n 1)"
  echo "loadavg $load; other swift-frontend processes: ${busy:-0}"
}

# ---------------------------------------------------------------------------
# one database, end to end
# ---------------------------------------------------------------------------
bench_db() {
  local db="$1" dir="$WORK/$1" raw="$WORK/$1/raw" url first_project org email status
  mkdir -p "$dir" "$raw"
  # The catalog alone: no rate limit, no status sync (see the header).
  SERVER_ARGS=(--rate-limit 0 --sync-interval 0)

  section "[$db] fresh database"
  case "$db" in
    sqlite)
      url="sqlite:$dir/gantry.db"
      SERVER_ARGS+=(--database "$url")
      ;;
    postgres)
      start_postgres_cluster gantry_bench gantry-bench-pg
      url="postgres://postgres@127.0.0.1:$PG_PORT/gantry_bench?sslmode=disable"
      "$BIN" keygen >"$dir/gantry.key"
      chmod 0600 "$dir/gantry.key"
      SERVER_ARGS+=(--database "$url" --secret-key-file "$dir/gantry.key")
      ;;
  esac
  echo "database: $url"

  section "[$db] first start: migrations and bootstrap"
  start_server "$dir/server-bootstrap.log"
  status="$(api_get /api/me "$raw/me.json")"
  [ "$status" = "200" ] || { cat "$raw/me.json" >&2; die "GET /api/me with the bootstrap token gave $status"; }
  stop_server_checked

  section "[$db] seeding $PROJECTS projects, $((PROJECTS * ENVS_PER_PROJECT)) environments, $((PROJECTS * ENVS_PER_PROJECT * DEPS_PER_ENV)) deployments"
  local t0=$SECONDS
  case "$db" in
    sqlite)
      timeout 900 python3 "$BENCH_DIR/seed.py" sqlite --db "$dir/gantry.db" --projects "$PROJECTS" \
        --envs "$ENVS_PER_PROJECT" --deps "$DEPS_PER_ENV" >"$raw/seed.out"
      ;;
    postgres)
      org="$(pg_sql -tA -c "SELECT id FROM organizations")"
      [ "$(printf '%s\n' "$org" | grep -c .)" = "1" ] || die "expected one organization after bootstrap, got: $org"
      email="$(pg_sql -tA -c "SELECT email FROM users WHERE org_id = '$org' ORDER BY id LIMIT 1")"
      timeout 900 python3 "$BENCH_DIR/seed.py" csv --out "$dir/csv" --org "$org" --created-by "${email:-admin@localhost}" \
        --projects "$PROJECTS" --envs "$ENVS_PER_PROJECT" --deps "$DEPS_PER_ENV" >"$raw/seed.out"
      PG_TIMEOUT=900 pg_sql -f "$dir/csv/load.sql"
      # What autovacuum would have done a minute after a bulk load: statistics and visibility map.
      PG_TIMEOUT=900 pg_sql -c "VACUUM ANALYZE spaces, projects, environments, deployments, project_stats"
      rm -rf "$dir/csv"
      ;;
  esac
  sed -n '2,$p' "$raw/seed.out"
  echo "seeded in $((SECONDS - t0)) s"
  first_project="$(awk '$1 == "first-project" {print $2}' "$raw/seed.out")"
  [ -n "$first_project" ] || die "seed.py did not report a project id"

  section "[$db] second start: measuring"
  start_server "$dir/server-bench.log"

  # A developer granted only the first project (issue 3: access checks must keep ≥ 80 % of the admin's rate).
  local member scoped_token
  member="$(curl -s --max-time 10 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"email":"bench-dev@example.com","name":"Bench developer"}' "http://127.0.0.1:$SERVER_PORT/api/users" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')"
  curl -s -o /dev/null --max-time 10 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"userId\":\"$member\",\"roleId\":\"role_developer\",\"scope\":\"project:$first_project\"}" \
    "http://127.0.0.1:$SERVER_PORT/api/assignments"
  scoped_token="$(curl -s --max-time 10 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"bench"}' "http://127.0.0.1:$SERVER_PORT/api/users/$member/tokens" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])')"
  [ -n "$scoped_token" ] || die "could not mint a project-scoped token"

  local labels=("GET /healthz" "GET /api/projects/{id}" "GET /api/projects?limit=50" "GET /api/projects/stats?limit=50"
                "GET /api/projects/{id} (project-scoped token)" "GET /api/projects?limit=50 (project-scoped token)"
                "GET /api/policies (authenticated, no database: the stack's ceiling)")
  local paths=("/healthz" "/api/projects/$first_project" "/api/projects?limit=50" "/api/projects/stats?limit=50"
               "/api/projects/$first_project" "/api/projects?limit=50" "/api/policies")
  local tokens=("$TOKEN" "$TOKEN" "$TOKEN" "$TOKEN" "$scoped_token" "$scoped_token" "$TOKEN")
  local i
  for i in "${!paths[@]}"; do
    status="$(api_get "${paths[$i]}" "$raw/check.json")"
    [ "$status" = "200" ] || { head -c 500 "$raw/check.json" >&2; echo >&2; die "${labels[$i]} gave HTTP $status"; }
  done
  echo "all routes answer 200; ${labels[1]} uses $first_project"

  local load_before
  load_before="$(load_note)"
  echo "machine: $load_before"
  : >"$raw/routes.tsv"
  local round
  for ((round = 1; round <= ROUNDS; round++)); do
    for i in "${!paths[@]}"; do
      local target="http://127.0.0.1:$SERVER_PORT${paths[$i]}"
      if [ "$WARMUP" -gt 0 ] && [ "$round" -eq 1 ]; then
        timeout $((WARMUP + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 10s \
          -H "Authorization: Bearer ${tokens[$i]}" "$target" >/dev/null
      fi
      echo "wrk ${labels[$i]} (${DURATION} s, round $round of $ROUNDS)"
      timeout $((DURATION + 60)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
        -H "Authorization: Bearer ${tokens[$i]}" "$target" >"$raw/wrk-$i-$round.txt"
      grep -E "Requests/sec|^\s+99%|Non-2xx|Socket errors" "$raw/wrk-$i-$round.txt" | sed 's/^/    /'
      printf '%s\t%s\t%s\t%s\n' "${labels[$i]}" "${paths[$i]%%\?*}" "$raw/wrk-$i-$round.txt" "$round" >>"$raw/routes.tsv"
    done
  done
  # report.py recognises the floor by its path; keep the query strings in the label only.

  echo "full GET /api/projects/stats: 1 check + $STATS_ALL_RUNS timed sequential requests"
  status="$(api_get /api/projects/stats "$raw/stats-all.json")"
  [ "$status" = "200" ] || { head -c 500 "$raw/stats-all.json" >&2; echo >&2; die "GET /api/projects/stats gave HTTP $status"; }
  python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["data"]))' "$raw/stats-all.json" >"$raw/stats_all.count"
  echo "    response: $(cat "$raw/stats_all.count") entries, $(stat -c %s "$raw/stats-all.json") bytes"
  : >"$raw/stats_all.txt"
  for ((i = 0; i < STATS_ALL_RUNS; i++)); do
    curl -s -o /dev/null --max-time 60 -w '%{http_code} %{time_total}\n' \
      -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$SERVER_PORT/api/projects/stats" >>"$raw/stats_all.txt" \
      || echo "000 60" >>"$raw/stats_all.txt"
  done
  sed 's/^/    /' "$raw/stats_all.txt"

  awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" >"$raw/rss_kb"
  echo "    peak RSS (VmHWM): $(cat "$raw/rss_kb") kB"
  local load_after
  load_after="$(load_note)"
  stop_server_checked

  local server_version pg_version=""
  [ "$db" = "postgres" ] && pg_version=" (PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), fsync=off, after VACUUM ANALYZE)"
  {
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$( [ -n "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
    echo "machine=$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM; wrk and the server share them"
    echo "load=before: $load_before; after: $load_after"
    echo "projects=$PROJECTS"
    echo "dataset=$PROJECTS projects, $((PROJECTS * ENVS_PER_PROJECT)) environments, $((PROJECTS * ENVS_PER_PROJECT * DEPS_PER_ENV)) deployments, 1 space, seeded by bench/seed.py"
    echo "server=release build, \`gantry serve --database <$db>$pg_version --rate-limit 0 --sync-interval 0\`, bootstrap admin token (role_admin at org scope)"
    echo "wrk=\`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency\` on 127.0.0.1, $ROUNDS rounds of every route in turn after a ${WARMUP} s warm-up per route; each figure is the median over the route's rounds, each ratio the median of the rounds' ratios to that round's /healthz; p99 from wrk's latency distribution"
  } >"$raw/meta.env"

  section "[$db] results"
  mkdir -p "$RESULTS_DIR"
  python3 "$BENCH_DIR/report.py" --dir "$raw" --db "$db" --markdown "$RESULTS_DIR/catalog-$db.md" || REPORT_WARNINGS=1

  [ "$db" = "postgres" ] && stop_postgres
  return 0
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
[ "$(uname -s)" = "Linux" ] || die "needs Linux (/proc for the server's RSS)"
REPORT_WARNINGS=0
ensure_tools
build
WORK="$(mktemp -d -t gantry-bench.XXXXXX)"
TOKEN="$(new_token)"

RAN=""
for db in $DBS; do
  if [ "$db" = "postgres" ] && ! find_pg_bin; then
    section "[postgres] skipped: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
    continue
  fi
  bench_db "$db"
  RAN="$RAN $db"
done

section "done:${RAN:- nothing ran}; markdown in ${RESULTS_DIR#"$REPO_ROOT"/}/"
[ "$REPORT_WARNINGS" -eq 0 ] || die "some measurements carry warnings (see above)"
