#!/usr/bin/env bash
# Digest benchmark of issue 10: N demo organisations (10,000 by default), every one on daily
# digests with yesterday's matches, written and delivered by `matchwell digest` to a loopback
# SMTP sink (the test package's `smtp-sink`); prints the messages the sink accepted and per
# second. Usage, from the project root: scripts/bench-digest.sh [N]
# Needs sqlite3. Uses its own data dir under /tmp and port 12525.
set -euo pipefail
N=${1:-10000}
cargo build --release -q -p cli --bin matchwell && cargo build --release -q -p tests --bin smtp-sink
bin=${MATCHWELL_BIN:-target/release/matchwell}
work=${BENCH_DIR:-/tmp/matchwell-digest-bench}
export MATCHWELL_DATA_DIR="$work/data-$N" RUST_LOG=warn
db="$MATCHWELL_DATA_DIR/matchwell.db"
if [ ! -f "$MATCHWELL_DATA_DIR/seeded" ]; then
  mkdir -p -m 700 "$work" "$MATCHWELL_DATA_DIR"
  "$bin" demo-data --orgs "$N" --seed 9
  "$bin" score --full
  touch "$MATCHWELL_DATA_DIR/seeded"
fi
# Every member on daily digests, yesterday's matches, and no digest recorded yet.
yesterday=$(date -u -d 'yesterday 12:00' +%Y-%m-%dT%H:%M:%S+00:00)
sqlite3 "$db" "UPDATE accounts SET digest_frequency = 'daily'; UPDATE matches SET created_at = '$yesterday';
               DELETE FROM digests; DELETE FROM email_queue WHERE idempotency_key LIKE 'digest-%';"
target/release/smtp-sink 12525 > "$work/received" & sink=$!
trap 'kill $sink 2>/dev/null' EXIT
sleep 1
start=$(date +%s.%N)
MATCHWELL_SMTP_URL=smtp://127.0.0.1:12525 "$bin" digest | tail -n 1
end=$(date +%s.%N)
kill "$sink"; wait "$sink" 2>/dev/null || true
received=$(cat "$work/received")
awk -v n="$received" -v s="$start" -v e="$end" \
  'BEGIN { printf "%d digests written and delivered in %.1f s: %.0f messages per second\n", n, e - s, n / (e - s) }'
