#!/usr/bin/env bash
# The whole test suite: formatting and lints, Rust unit and HTTP integration tests, and the
# vendor-SDK compatibility tests (pytest in a venv this script creates), each of the
# storage-touching suites once on SQLite and once on PostgreSQL. Run from anywhere.
#
# PostgreSQL: ROSTER_TEST_PG_URL names a server database to create a scratch database from
# (default postgres://postgres@127.0.0.1:5432/test). If it is unreachable the script fails
# with a message; ROSTER_TEST_POSTGRES=skip runs the SQLite half only (never set in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN_URL="${ROSTER_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== layering"
scripts/check-layering.sh
scripts/check-layering.sh --self-test

# One venv per SDK family: their pins conflict (see shared/contracts/README.md §1). Each is
# kept outside the checkout, under the hash of its requirements file, and linked in as
# $dir: a fresh clone (as CI makes) reuses it instead of installing it again, and a changed
# requirements file gets a venv of its own. ROSTER_VENV_CACHE moves the cache.
venv_cache=${ROSTER_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/roster-venvs}
venv() {
  local dir=$1 req=$2 cached
  cached="$venv_cache/${dir#.}-$(sha256sum "$req" | cut -c1-16)"
  # .requirements is written last: a venv whose install was cut short is made again.
  if [ ! -x "$cached/bin/pytest" ] || ! cmp -s "$req" "$cached/.requirements"; then
    echo "== creating $cached from $req"
    rm -rf "$cached"
    mkdir -p "$venv_cache"
    python3 -m venv "$cached"
    "$cached/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$cached/.requirements"
  fi
  if [ "$(readlink "$dir" 2>/dev/null)" != "$cached" ]; then
    rm -rf "$dir"
    ln -s "$cached" "$dir"
  fi
}
# Debian's Chromium for the browser tests of the account pages (sdk-tests/platform/test_mail.py)
# and of the web console (sdk-tests/console);
# Playwright drives it, and nothing downloads a browser.
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian's chromium"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
  as_root apt-get install -y -q chromium >/dev/null 2>&1 ||
    { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q chromium >/dev/null; }
fi
venv .venv-sdk-a sdk-tests/requirements-odm.txt
venv .venv-sdk-scim sdk-tests/requirements-scim.txt
venv .venv-platform sdk-tests/requirements-platform.txt
venv .venv-sailpoint1 sdk-tests/requirements-sailpoint1.txt
venv .venv-sailpoint2 sdk-tests/requirements-sailpoint2.txt
venv .venv-contabo sdk-tests/requirements-contabo.txt
venv .venv-cvat sdk-tests/requirements-cvat.txt
cargo build --locked --bins
echo "== doc tests (the compile-fail checks of the capability handles among them)"
cargo test --workspace --locked --doc
export ROSTER_BIN="$PWD/target/debug/roster" NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# $1: the engine's own tests to add (tests named sqlite_only_* / pg_only_* are #[ignore]d
# with a reason, so a plain `cargo test` skips them; each half runs its own);
# the rest: extra roster-bench flags (the database to run the smoke benchmark on).
run_suites() {
  local other=$1
  shift
  cargo nextest run --workspace --locked --no-fail-fast --run-ignored all \
    -E "not test(/${other}_only_/)"
  echo "== benchmark smoke run (asserts no errors, not timings)"
  scripts/bench-smoke.sh "$@"
  .venv-sdk-scim/bin/pytest sdk-tests/scim -q -p no:cacheprovider
  .venv-sdk-a/bin/pytest sdk-tests/odm -q -p no:cacheprovider
  .venv-platform/bin/pytest sdk-tests/platform -q -p no:cacheprovider
  # The same suite through both SailPoint SDK generations (contract §0); an unknown
  # capability in an answer is only a UserWarning to the SDK, so warnings fail the run.
  .venv-sailpoint1/bin/pytest sdk-tests/sailpoint -q -p no:cacheprovider -W error::UserWarning
  .venv-sailpoint2/bin/pytest sdk-tests/sailpoint -q -p no:cacheprovider -W error::UserWarning
  .venv-contabo/bin/pytest sdk-tests/contabo -q -p no:cacheprovider
  .venv-cvat/bin/pytest sdk-tests/cvat -q -p no:cacheprovider
  # The web console end to end in Debian's Chromium (Playwright from .venv-platform).
  .venv-platform/bin/pytest sdk-tests/console -q -p no:cacheprovider
}

echo "== tests on SQLite"
ROSTER_TEST_DATABASE_URL= run_suites pg

if [ "${ROSTER_TEST_POSTGRES:-}" = "skip" ]; then
  echo "!! ROSTER_TEST_POSTGRES=skip: the PostgreSQL half did NOT run"
  exit 0
fi
if ! psql "$PG_ADMIN_URL" -qtAc 'SELECT 1' >/dev/null 2>&1; then
  echo "PostgreSQL is not reachable at $PG_ADMIN_URL." >&2
  echo "Start it (pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start), point" >&2
  echo "ROSTER_TEST_PG_URL at another server, or set ROSTER_TEST_POSTGRES=skip to run SQLite only." >&2
  exit 1
fi
SCRATCH="roster_test_$$_$(date +%s)"
psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $SCRATCH"
trap 'psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $SCRATCH WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
echo "== tests on PostgreSQL (database $SCRATCH)"
PG_URL="${PG_ADMIN_URL%/*}/$SCRATCH"
psql "$PG_URL" -qc "CREATE SCHEMA bench_smoke"
ROSTER_TEST_DATABASE_URL="$PG_URL" run_suites sqlite --database-url "$PG_URL?options=-c%20search_path%3Dbench_smoke"
