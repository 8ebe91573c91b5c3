#!/usr/bin/env bash
# The browser tests against the real batond: the report tests' ground-truth
# dataset on a private PostgreSQL, the dashboard for it, and a rep panel
# that must show a new push without a reload.
#
#   tests/browser/e2e.sh BUILD_DIR OUTPUT_DIR     (ctest runs it)
#
# OUTPUT_DIR gets dashboard.png and panel.png.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:?usage: e2e.sh BUILD_DIR OUTPUT_DIR}" && pwd)
out=${2:?usage: e2e.sh BUILD_DIR OUTPUT_DIR}

if [[ -z ${BATON_TEST_DB:-} ]]; then
    export BATON_BIN_DIR=$build BATON_SCHEMA_DIR=$root/schema
    exec "$root/tests/pg-tmp" "$0" "$build" "$out"
fi
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/baton-e2e.XXXXXX")
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

data=$root/tests/data/report
"$build/baton" load "$data/motion-v1.yaml" --db "$BATON_TEST_DB" >/dev/null
"$build/baton" load "$data/motion-v2.yaml" --db "$BATON_TEST_DB" >/dev/null
"$PGTMP_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$BATON_TEST_DB" -f "$data/seed.sql" >/dev/null
# The dataset sets its own ids; new deliveries continue after them.
"$PGTMP_BIN/psql" -X -q -d "$BATON_TEST_DB" -c \
    "SELECT setval(pg_get_serial_sequence('deliveries', 'id'), (SELECT max(id) FROM deliveries))" \
    >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)))
base=http://127.0.0.1:$port
admin=e2e-admin-token-$RANDOM$RANDOM
secret=e2e-hubspot-secret
cat >"$work/batond.yaml" <<EOF2
listen: 127.0.0.1:$port
public_url: $base
database: "$BATON_TEST_DB"
admin_token: $admin
journal: {path: $work/journal}
sources:
  hubspot: {client_secret: $secret}
EOF2
"$build/batond" --config "$work/batond.yaml" >"$work/batond.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -sf "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$base/readyz" >/dev/null || { tail -30 "$work/batond.log"; exit 1; }

# Sam's deals go to his Baton panel (the dataset's motion routes him there).
panel=$("$build/batond" --config "$work/batond.yaml" --panel-url sam)
export TRIGGER_CMD="bash '$root/tests/browser/hubspot-deal.sh' '$base' '$secret' 333 discovery"
status=0
"$root/tests/browser/run" "$base" "$admin" "$panel" "$out" || status=$?
if [[ $status -ne 0 ]]; then
    echo "--- batond log" >&2
    tail -40 "$work/batond.log" >&2
fi
exit $status
