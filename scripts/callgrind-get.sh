#!/usr/bin/env bash
# Instructions per GET /scim/v2/Users/{id} under callgrind (deterministic, unlike wall clock
# on a shared VM). Needs a seed kept by roster-bench:
#   target/release/roster-bench --spawn target/release/roster --users 10000 --groups 10 \
#     --members 10 --group-sizes 10 --workloads get --duration 1s --keep-db --manifest m.json
# Usage: scripts/callgrind-get.sh SEED_DIR MANIFEST LABEL [NAME=VALUE ...]   (server env)
# Prints: LABEL requests=N instructions=I per_request=I/N
set -euo pipefail
seed=$1 manifest=$2 label=$3
shift 3
cd "$(dirname "$0")/.."
work=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "keeping $work" || trap 'rm -rf "$work"' EXIT
cp "$seed/roster.db" "$work/roster.db"
[ -f "$seed/roster.db-wal" ] && cp "$seed/roster.db-wal" "$work/roster.db-wal"
token=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['token'])" "$manifest")
port=$((20000 + RANDOM % 10000))
# The bench's fixed server key (crates/bench/src/server.rs): the seed was sealed with it.
env ROSTER_LOG=warn "$@" ROSTER_DATABASE_URL="sqlite://$work/roster.db" \
  ROSTER_SECRET_KEY=cm9zdGVyLWJlbmNoLWtleS1ub3QtYS1zZWNyZXQtISE= \
  ROSTER_LISTEN="127.0.0.1:$port" \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.out" \
  target/release/roster serve >"$work/server.log" 2>&1 &
vpid=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
bench="target/release/roster-bench --url http://127.0.0.1:$port --token $token --manifest $manifest --workloads get --concurrency 1 --warmup 0s"
$bench --duration 3s >/dev/null 2>&1
callgrind_control -i on "$vpid" >/dev/null
n=$($bench --duration 10s 2>&1 | awk '/^get \/Users/ {print $3}')
callgrind_control -i off "$vpid" >/dev/null
kill -TERM "$vpid"
wait "$vpid" || true
i=$(awk '/^totals:/ {print $2}' "$work/cg.out")
echo "$label requests=$n instructions=$i per_request=$((i / n))"
