#!/usr/bin/env bash
# HTTP benchmark of issue 3: with N organisations stored, GET /api/v1/matches for one member
# against GET /healthz of the same server, in one run, at 64 connections (wrk).
# Usage, from the project root after `cargo build --release`: scripts/bench-http.sh [N] [SECONDS]
# Needs wrk (apt-get install wrk). Uses its own data dir under /tmp and port 18181.
set -euo pipefail
N=${1:-5000}; SECONDS_EACH=${2:-15}
bin=${MATCHWELL_BIN:-target/release/matchwell}
work=${BENCH_DIR:-/tmp/matchwell-http-bench}
export MATCHWELL_DATA_DIR="$work/data-$N" MATCHWELL_BIND=127.0.0.1:18181 RUST_LOG=warn
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
if [ ! -f "$MATCHWELL_DATA_DIR/seeded" ]; then
  mkdir -p -m 700 "$(dirname "$MATCHWELL_DATA_DIR")" "$MATCHWELL_DATA_DIR"
  "$bin" demo-data --orgs "$N" --seed 7
  "$bin" score --full
  touch "$MATCHWELL_DATA_DIR/seeded"
fi
"$bin" serve & server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "http://$MATCHWELL_BIND/healthz" >/dev/null && break; sleep 0.2; done
sleep "${SETTLE:-10}"  # let the server's first scoring pass (it loads everyone) finish
token=$(curl -sf -X POST "http://$MATCHWELL_BIND/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"demo-7-0@matchwell-demo.example","password":"matchwell-demo"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
matches=$(curl -sf "http://$MATCHWELL_BIND/api/v1/matches" -H "authorization: Bearer $token" | grep -o '"alias"' | wc -l)
echo "member has $matches matches"
run() { wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency "$@"; }
health=$(run "http://$MATCHWELL_BIND/healthz")
list=$(run -H "Authorization: Bearer $token" "http://$MATCHWELL_BIND/api/v1/matches")
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
p99() { sed -n 's/^ *99% *\([0-9.]*[a-z]*\).*/\1/p'; }
h=$(echo "$health" | rps); l=$(echo "$list" | rps)
echo "healthz: $h req/s, p99 $(echo "$health" | p99)"
echo "matches: $l req/s, p99 $(echo "$list" | p99)"
echo "N=$N ratio matches/healthz=$(awk -v a="$l" -v b="$h" 'BEGIN {printf "%.2f", a/b}')"
