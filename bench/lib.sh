# What the benchmark wrappers share, sourced by them from the repository root: `die`, the Debian and PostgreSQL
# helpers of scripts/lib/postgres.sh (apt_install, start_postgres_cluster, stop_postgres), and the release build.
# SWIFT_SCRATCH_PATH picks another build directory than .build; its release/ binaries are the ones measured.
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
source scripts/lib/postgres.sh
SCRATCH="${SWIFT_SCRATCH_PATH:-.build}"
BIN_DIR="$SCRATCH/release"

# release_build BUILD PRODUCT...: builds each product in release when BUILD is 1 (0 for --no-build), then checks
# that each binary is there.
release_build() {
  local build=$1 product
  shift
  if [ "$build" -eq 1 ]; then
    for product in "$@"; do swift build -c release --scratch-path "$SCRATCH" --product "$product"; done
  fi
  for product in "$@"; do [ -x "$BIN_DIR/$product" ] || die "no release binary $product in $BIN_DIR"; done
}
