#!/usr/bin/env bash
# Property-based tests of the HTTP API against its own OpenAPI document (schemathesis, from
# PyPI): a live server on loopback with a few demo organisations, every operation called with
# generated inputs, as a member. Fails on any 5xx and on any answer that breaks the document's
# schema. Usage: scripts/schemathesis.sh [BINARY] [EXAMPLES]; BINARY defaults to the test
# build of the matchwell command (target/debug/matchwell-under-test).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/matchwell-under-test}
examples=${2:-10}
port=${SCHEMATHESIS_PORT:-18401}
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install -q schemathesis
work=$(mktemp -d)
export MATCHWELL_DATA_DIR="$work/data" MATCHWELL_BIND="127.0.0.1:$port" RUST_LOG=warn
unset MATCHWELL_DATABASE_URL MATCHWELL_SMTP_URL
"$bin" demo-data --orgs 40 --seed 5 >/dev/null
"$bin" serve >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://$MATCHWELL_BIND/healthz" >/dev/null && break; sleep 0.2; done
token=$(curl -sf -X POST "http://$MATCHWELL_BIND/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"demo-5-0@matchwell-demo.example","password":"matchwell-demo"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
[ -n "$token" ] || { echo "could not log in as a demo organisation" >&2; exit 1; }
status=0
timeout 900 python3 -m schemathesis.cli run "http://$MATCHWELL_BIND/api/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,content_type_conformance \
  --max-examples "$examples" --seed 11 --request-timeout 30 \
  --header "Authorization: Bearer $token" || status=$?
if grep -q ' 5[0-9][0-9] \|panicked' "$work/serve.log"; then
  echo "the server logged failures:" >&2; grep ' 5[0-9][0-9] \|panicked\|ERROR' "$work/serve.log" | head -20 >&2
fi
exit $status
