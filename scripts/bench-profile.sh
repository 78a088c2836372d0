#!/usr/bin/env bash
# Profiles the server under one workload with perf (software cpu-clock samples, DWARF call
# graphs), on a database seeded earlier by roster-bench --manifest. Prints the hottest
# symbols (self and inclusive time); the raw data stays in $OUT/perf.data.
#
#   scripts/bench-profile.sh DB MANIFEST WORKLOAD [roster-bench flags...]
#   e.g. scripts/bench-profile.sh /tmp/rb/r100k.db /tmp/rb/m100k.json co --concurrency 1
#
# Needs release builds of roster and roster-bench, and perf (linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
db=$1 manifest=$2 workload=$3
shift 3
OUT=${OUT:-/tmp/roster-profile-$workload}
mkdir -p "$OUT"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$manifest")
port=${PORT:-18080}

# The server key roster-bench gives the servers it spawns (crates/bench/src/server.rs): a
# seed it made has secrets sealed with it.
ROSTER_SECRET_KEY=${ROSTER_SECRET_KEY:-cm9zdGVyLWJlbmNoLWtleS1ub3QtYS1zZWNyZXQtISE=} \
ROSTER_LISTEN=127.0.0.1:$port ROSTER_DATABASE_URL="sqlite://$db" \
  perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -o "$OUT/perf.data" \
  -- target/release/roster serve 2>"$OUT/roster.log" &
perf_pid=$!
for _ in $(seq 200); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
target/release/roster-bench --url "http://127.0.0.1:$port" --token "$token" \
  --manifest "$manifest" --workloads "$workload" --warmup 0s --duration 5s "$@" | tee "$OUT/bench.txt"
# SIGTERM to roster (perf's child): it shuts down gracefully and perf then writes its data.
kill -TERM "$(pgrep -P "$perf_pid")" || true
wait "$perf_pid" || true
perf report -i "$OUT/perf.data" --no-children --stdio --percent-limit 1.5 -g none \
  --sort dso,symbol 2>/dev/null | grep -v "^$" | grep -v "^#" | cut -c1-150 | sed "s/ *$//" | head -45 > "$OUT/self.txt"
perf report -i "$OUT/perf.data" --children --stdio --percent-limit 4 -g none \
  --sort symbol 2>/dev/null | grep -v "^$" | grep -v "^#" | cut -c1-170 | sed "s/ *$//" | head -70 > "$OUT/children.txt"
echo "== self time ($OUT/self.txt)"; cat "$OUT/self.txt"
echo "== inclusive time ($OUT/children.txt)"; cat "$OUT/children.txt"
