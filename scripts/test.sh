#!/usr/bin/env bash
# The whole test suite: formatting and lints, Rust unit and HTTP integration tests, and the
# vendor-SDK compatibility tests (pytest in a venv this script creates). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== SDK compatibility tests (odm-api)"
VENV=.venv-sdk-a
if [ ! -x "$VENV/bin/pytest" ] || ! cmp -s sdk-tests/requirements-odm.txt "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r sdk-tests/requirements-odm.txt
  cp sdk-tests/requirements-odm.txt "$VENV/.requirements"
fi
ROSTER_BIN="$PWD/target/debug/roster" NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
  "$VENV/bin/pytest" sdk-tests -q
