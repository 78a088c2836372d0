#!/usr/bin/env bash
# CI smoke run of the benchmark tool, so it cannot rot: builds roster and roster-bench
# (debug is enough), starts a roster on a fresh temporary SQLite database, seeds 1,000
# users and small groups through the API, runs every workload for ~2 s and exits non-zero
# if any request failed. Timings are printed but not asserted (CI machines vary).
# Usage: scripts/bench-smoke.sh [extra roster-bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== build roster and roster-bench"
cargo build --locked -p roster-server -p roster-bench

echo "== roster-bench --smoke"
# member-full is not part of `all`: name it so the SCIM-default PATCH answer is exercised too.
exec target/debug/roster-bench --spawn target/debug/roster --smoke \
  --workloads all,member-full,abuse "$@"
