#!/usr/bin/env bash
# Load and fault test (scripts/load-and-fault.py): concurrent clients register, answer, search,
# read and reveal while `matchwell serve` is killed with SIGKILL and restarted, on SQLite, on
# PostgreSQL, and with two `serve` processes sharing PostgreSQL; then checks that no
# acknowledged write was lost, nothing was duplicated, and no 5xx came outside a restart window.
# Loopback only; every loop is bounded; every process it starts is ended on exit.
#
# Usage, from the project root after `cargo build --release`:
#   scripts/load-and-fault.sh [sqlite|postgres|postgres-two ...] [-- extra options of the .py]
# With no scenario, all three run. Builds nothing.
#   MATCHWELL_BIN   the binary (default: $CARGO_TARGET_DIR/release/matchwell, then target/release/matchwell)
#   LF_PG_URL       PostgreSQL server URL without a database, on loopback (default: from a postgres://
#                   MATCHWELL_DATABASE_URL, else postgres://postgres@127.0.0.1:5432); a fresh database
#                   is created per run and dropped afterwards
#   LF_JSON         write every figure and finding to this JSON file
# Exit: 0 all passed, 1 a violation, 2 could not run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

scenarios=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    sqlite|postgres|postgres-two) scenarios+=("$1"); shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown argument: $1 (scenarios: sqlite postgres postgres-two; options of the .py after --)" >&2; exit 2 ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(sqlite postgres postgres-two)

bin=${MATCHWELL_BIN:-}
if [ -z "$bin" ]; then
  for candidate in "${CARGO_TARGET_DIR:-$root/target}/release/matchwell" "$root/target/release/matchwell"; do
    if [ -x "$candidate" ]; then bin=$candidate; break; fi
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "no matchwell binary: run \`cargo build --release -p cli\` or set MATCHWELL_BIN" >&2
  exit 2
fi

pg_url=${LF_PG_URL:-}
if [ -z "$pg_url" ]; then
  case "${MATCHWELL_DATABASE_URL:-}" in
    postgres://*|postgresql://*) pg_url=$(printf '%s' "$MATCHWELL_DATABASE_URL" | sed -E 's#^(postgres(ql)?://[^/]*).*#\1#') ;;
    *) pg_url=postgres://postgres@127.0.0.1:5432 ;;
  esac
fi
needs_pg=0
for s in "${scenarios[@]}"; do case "$s" in postgres*) needs_pg=1 ;; esac; done
if [ "$needs_pg" = 1 ]; then
  host=$(printf '%s' "$pg_url" | sed -E 's#^[a-z]+://([^@/]*@)?(\[[^]]*\]|[^:/]*).*#\2#')
  case "$host" in
    127.0.0.1|localhost|::1|\[::1\]) ;;
    *) echo "PostgreSQL must be on loopback for this test, not $host" >&2; exit 2 ;;
  esac
  command -v psql >/dev/null || { echo "psql is not installed (needed for the PostgreSQL scenarios)" >&2; exit 2; }
  if ! psql -X -At "$pg_url/postgres" -c 'SELECT 1' >/dev/null 2>&1; then
    echo "PostgreSQL does not answer at $pg_url (set LF_PG_URL)" >&2
    exit 2
  fi
fi

args=(--binary "$bin" --pg-url "$pg_url")
for s in "${scenarios[@]}"; do args+=(--scenario "$s"); done
[ -z "${LF_JSON:-}" ] || args+=(--json "$LF_JSON")
echo "binary: $bin; scenarios: ${scenarios[*]}"
exec python3 "$root/scripts/load-and-fault.py" "${args[@]}" "${extra[@]}"
