#!/usr/bin/env bash
# Two `matchwell serve` instances on one PostgreSQL database behind HAProxy, all on loopback:
# the configuration of "Running several instances" in the README, to try out.
#
#   scripts/fleet.sh [--demo] [--check] [--binary PATH]
#
#   --demo    seed the demo organisations first (once), as `serve --demo` would
#   --check   start everything, check that both instances answer through the load balancer,
#             that a login works across them, and stop (for CI); otherwise run until Ctrl-C
#   --binary  the matchwell binary (default: build it with `cargo build --release`)
#
# Environment: MATCHWELL_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/matchwell_fleet,
# created if missing), FLEET_PORT (default 8080; the instances take the next two ports).
# HAProxy comes from Debian (`apt-get install haproxy`); the script installs it when it can.
set -euo pipefail

demo=false check=false binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --demo) demo=true ;;
    --check) check=true ;;
    --binary)
      [ $# -ge 2 ] || { echo "--binary needs a path" >&2; exit 2; }
      binary=$(realpath "$2"); shift ;;
    *) echo "usage: scripts/fleet.sh [--demo] [--check] [--binary PATH]" >&2; exit 2 ;;
  esac
  shift
done

cd "$(dirname "$0")/.."
if [ -z "$binary" ]; then
  cargo build --release --locked -p cli
  binary=target/release/matchwell
fi
if ! command -v haproxy >/dev/null; then
  echo "== installing HAProxy (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
fi

port=${FLEET_PORT:-8080}
one=127.0.0.1:$((port + 1))
two=127.0.0.1:$((port + 2))
url=${MATCHWELL_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/matchwell_fleet}
case "$url" in
  postgres://*|postgresql://*) ;;
  *) echo "a fleet shares one PostgreSQL database; MATCHWELL_DATABASE_URL is $url" >&2; exit 2 ;;
esac
# The database named by the URL, created through the `postgres` database of the same server
# (with the same options) if it is missing.
path=${url##*/}
database=${path%%\?*}
options=${path#"$database"}
admin=${url%/*}/postgres$options
exists=$(psql "$admin" -tAc "SELECT count(*) FROM pg_database WHERE datname = '$database'")
if [ "$exists" = 0 ]; then
  psql "$admin" -qc "CREATE DATABASE \"$database\""
fi

work=$(mktemp -d)
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT

# What every instance shares: the database, the secret that signs tokens and links, the public
# address, and the load balancer as the one trusted proxy. Each has its own data directory
# (its outbox when no SMTP server is set) and its own port.
export MATCHWELL_DATABASE_URL=$url
export MATCHWELL_JWT_SECRET=${MATCHWELL_JWT_SECRET:-$(head -c 32 /dev/urandom | base64)}
export MATCHWELL_PUBLIC_URL=${MATCHWELL_PUBLIC_URL:-http://127.0.0.1:$port}
export MATCHWELL_TRUSTED_PROXIES=127.0.0.1
export RUST_LOG=${RUST_LOG:-info}

# Waits until the instance or load balancer at $1 answers /healthz.
healthy() {
  for _ in $(seq 240); do
    curl -fsS "http://$1/healthz" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  cat "$work"/*.log >&2
  echo "$1 does not answer" >&2
  exit 1
}

# Both start at the same moment, as an orchestrator starts replicas (migrations take turns).
# With --demo the first seeds the demo organisations before the second starts.
for n in one two; do
  address=${!n}
  flags=()
  if $demo && [ "$n" = one ]; then flags=(--demo); fi
  mkdir -p "$work/$n"
  MATCHWELL_DATA_DIR=$work/$n MATCHWELL_BIND=$address "$binary" serve "${flags[@]}" 2>"$work/$n.log" &
  pids+=($!)
  if $demo && [ "$n" = one ]; then healthy "$address"; fi
done
FRONT=127.0.0.1:$port ONE=$one TWO=$two envsubst <deploy/haproxy.cfg >"$work/haproxy.cfg"
haproxy -f "$work/haproxy.cfg" -db 2>"$work/haproxy.log" &
pids+=($!)
for address in "$one" "$two" "127.0.0.1:$port"; do healthy "$address"; done
echo "Matchwell: http://127.0.0.1:$port (instances at $one and $two, logs in $work)"

if $check; then
  # Round robin sends consecutive requests to each instance in turn: eight wrong logins are
  # four per instance, which limits counted per process (five) would all let through.
  email="fleet-check-$$@example.org"
  password="a long enough password"
  register=$(printf '{"email":"%s","password":"%s","organisation_name":"Fleet Check","kind":"sme"}' "$email" "$password")
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$register" "http://127.0.0.1:$port/api/v1/auth/register" >/dev/null
  login=$(printf '{"email":"%s","password":"%s"}' "$email" "wrong password, certainly")
  statuses=""
  for _ in 1 2 3 4 5 6 7 8; do
    statuses+=$(curl -s -o /dev/null -w '%{http_code} ' -X POST -H 'Content-Type: application/json' -d "$login" \
      "http://127.0.0.1:$port/api/v1/auth/login")
  done
  echo "eight wrong logins through the load balancer: $statuses"
  case "$statuses" in
    *429*) echo "fleet check passed: both instances serve, and the login limit holds across them" ;;
    *) echo "fleet check failed: no login was refused" >&2; exit 1 ;;
  esac
  exit 0
fi
wait
