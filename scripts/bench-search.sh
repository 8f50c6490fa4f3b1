#!/usr/bin/env bash
# Partner-search benchmark of issue 8: N demo organisations (100,000 by default), 8 concurrent
# clients (eight members) searching with random filters and words for SECONDS, against one `serve` process;
# prints wrk's latency distribution (p50, p99). Loopback only.
# Usage, from the project root after `cargo build --release`: scripts/bench-search.sh [N] [SECONDS]
# MEMBERS=200 spreads the requests over more members than the search keeps score rows for.
# Needs wrk (apt-get install wrk). Uses its own data dir under /tmp and port 18182.
set -euo pipefail
N=${1:-100000}; SECONDS_EACH=${2:-30}
bin=${MATCHWELL_BIN:-target/release/matchwell}
work=${BENCH_DIR:-/tmp/matchwell-search-bench}
export MATCHWELL_DATA_DIR="$work/data-$N" MATCHWELL_BIND=127.0.0.1:18182 RUST_LOG=warn
export MATCHWELL_LIMIT_SEARCHES=1000000000
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
if [ ! -f "$MATCHWELL_DATA_DIR/seeded" ]; then
  mkdir -p -m 700 "$work" "$MATCHWELL_DATA_DIR"
  "$bin" demo-data --orgs "$N" --seed 7
  "$bin" score --full
  touch "$MATCHWELL_DATA_DIR/seeded"
fi
"$bin" serve & server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://$MATCHWELL_BIND/healthz" >/dev/null && break; sleep 0.2; done
login() {
  curl -sf -X POST "http://$MATCHWELL_BIND/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"demo-7-$1@matchwell-demo.example\",\"password\":\"matchwell-demo\"}" \
    | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}
# MEMBERS members (eight by default, one per client), each request from one of them at random.
token=$(login 0)
tokens=$token
for i in $(seq 1 $((${MEMBERS:-8} - 1))); do tokens="$tokens,$(login "$i")"; done
# `serve` loads the search population and runs the matchmaker's first pass (all of it, on
# both cores) at start, and on PostgreSQL the database then writes what it saved; measure once
# the whole machine is idle (under 10% of a core over 5 seconds, from /proc/stat).
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
for _ in $(seq 120); do
  before=$(busy); sleep 5; after=$(busy)
  [ $((after - before)) -lt 50 ] && break
done
time curl -sf "http://$MATCHWELL_BIND/api/v1/search" -H "authorization: Bearer $token" -o /dev/null
echo "cards on a first page: $(curl -sf "http://$MATCHWELL_BIND/api/v1/search" -H "authorization: Bearer $token" | grep -o '"ref"' | wc -l)"
script=$(mktemp --suffix=.lua)
cat >"$script" <<'LUA'
local tokens = {}
for t in string.gmatch(os.getenv("TOKENS"), "[^,]+") do tokens[#tokens + 1] = t end
local kinds = {"", "", "sme", "health_org", "academic", "other"}
local sectors = {"", "", "", "digital_health", "ageing_frailty", "medical_devices", "genomics", "mental_health"}
local regions = {"", "", "", "england", "london", "wales", "scotland", "uk"}
local capabilities = {"", "", "", "clinical_evaluation", "software", "data_analytics", "manufacturing"}
local stages = {"", "", "", "idea", "prototype", "evidence", "adoption", "scale"}
local words = {"", "", "patients", "research", "partners", "treatments", "funding", "product", "staff problems"}
local function pick(list) return list[math.random(#list)] end
local function add(query, name, value)
  if value == "" then return query end
  return query .. "&" .. name .. "=" .. value:gsub(" ", "%%20")
end
request = function()
  local q = "/api/v1/search?page=" .. math.random(2)
  q = add(q, "kind", pick(kinds))
  q = add(q, "sector", pick(sectors))
  q = add(q, "region", pick(regions))
  q = add(q, "capability", pick(capabilities))
  q = add(q, "stage", pick(stages))
  q = add(q, "q", pick(words))
  return wrk.format("GET", q, {["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]})
end
LUA
TOKENS="$tokens" wrk -t2 -c8 -d"${SECONDS_EACH}s" --latency -s "$script" "http://$MATCHWELL_BIND" | tee "$work/last-run.txt"
rm -f "$script"
grep -E "^ +(50|99)%" "$work/last-run.txt" | sed 's/^ */p/'
