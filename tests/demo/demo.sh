#!/usr/bin/env bash
# The whole loop on an embedded default, with nothing to edit first:
# a private PostgreSQL, batond with the example motion, a scripted day of
# CRM webhooks signed as the real senders sign them, what each rep sees,
# clicks by people and by link unfurlers, and the adoption report.
#
#   tests/demo/demo.sh [BUILD_DIR]     (./dev demo runs it)
#
# BATON_DEMO_BATCH=1 runs it through once and exits (CI); otherwise the
# dashboard and panel URLs stay up until Ctrl-C.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)

# A private PostgreSQL for this run, removed afterwards whatever happens.
if [[ -z ${BATON_TEST_DB:-} ]]; then
    export BATON_BIN_DIR=$build BATON_SCHEMA_DIR=$root/schema
    exec "$root/tests/pg-tmp" "$0" "$build"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/baton-demo.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
psql_q() { "$PGTMP_BIN/psql" -X -q -d "$BATON_TEST_DB" "$@"; }

free_port() {
    local p
    for p in $(shuf -i 20000-40000 -n 50); do
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
    done
    return 1
}

port=$(free_port)
sink_port=$(free_port)
base=http://127.0.0.1:$port
sink=http://127.0.0.1:$sink_port
hubspot_secret=demo-hubspot-client-secret
generic_secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
admin_token=demo-admin-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

cat >"$work/batond.yaml" <<EOF2
listen: 127.0.0.1:$port
public_url: $base
database: "$BATON_TEST_DB"
motion: $root/config/motion.example.yaml
admin_token: $admin_token
journal: {path: $work/journal}
sources:
  hubspot: {client_secret: $hubspot_secret}
  pipedrive: {username: baton, password: demo-pipedrive-password}
  generic: {secret: $generic_secret}
channels:
  slack: {api_base: "$sink", token: xoxb-demo-token}
  teams: {targets: {emea-deals: {url: "$sink/teams/emea-deals"}}}
  webhook:
    secret: whsec_ZGVtby13ZWJob29rLXNpZ25pbmcta2V5
    targets: {crm-sidebar: {url: "$sink/crm-sidebar"}}
EOF2

say "Starting the stand-in for Slack, Teams and the CRM sidebar on $sink"
"$build/tests/demo_sink" "$sink_port" >"$work/reps.log" 2>&1 &
pids+=($!)

say "Starting batond on $base with the example motion"
"$build/batond" --config "$work/batond.yaml" >"$work/batond.log" 2>&1 &
batond_pid=$!
pids+=($batond_pid)
for _ in $(seq 100); do
    curl -sf "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$base/readyz" >/dev/null || { tail -20 "$work/batond.log"; exit 1; }
echo "ready: $(curl -s "$base/readyz")"

# Senders sign exactly as the vendors do.
hubspot() { # body
    local ts sig
    ts=$(($(date +%s) * 1000))
    sig=$(printf '%s' "POST$base/v1/webhooks/hubspot$1$ts" |
        openssl dgst -sha256 -hmac "$hubspot_secret" -binary | base64)
    curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/webhooks/hubspot" \
        -H 'Content-Type: application/json' -H "X-HubSpot-Request-Timestamp: $ts" \
        -H "X-HubSpot-Signature-v3: $sig" --data-binary "$1"
}
pipedrive() { # body
    curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/webhooks/pipedrive" \
        -u baton:demo-pipedrive-password -H 'Content-Type: application/json' --data-binary "$1"
}
generic() { # id body
    local ts key sig
    ts=$(date +%s)
    key=$(printf '%s' "${generic_secret#whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
    sig=$(printf '%s' "$1.$ts.$2" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary |
        base64)
    curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/webhooks/generic" \
        -H 'Content-Type: application/json' -H "webhook-id: $1" -H "webhook-timestamp: $ts" \
        -H "webhook-signature: v1,$sig" --data-binary "$2"
}
hs_change() { # event deal property value
    local at=$(($(date +%s) * 1000))
    printf '[{"eventId":%s,"subscriptionId":2410955,"portalId":62515,"occurredAt":%s,"subscriptionType":"deal.propertyChange","objectId":%s,"propertyName":"%s","propertyValue":"%s"}]' \
        "$1" "$at" "$2" "$3" "$4"
}
step() { printf '  %-64s -> HTTP %s\n' "$1" "$2"; }

say "A day of CRM webhooks"
fixtures=$root/../shared/fixtures
if [[ -f $fixtures/hubspot/deal-propertychange-batch.json ]]; then
    step "HubSpot: Globex platform to 'Contract sent', Acme appears" \
        "$(hubspot "$(tr -d '\n' <"$fixtures/hubspot/deal-propertychange-batch.json")")"
fi
step "HubSpot: Initrode (Dana) - discovery call, rep types 'ACME Inc.'" \
    "$(hubspot "[$(hs_change 700001 5001 hubspot_owner_id 882761034 | tr -d '[]'),$(hs_change 700002 5001 dealname Initrode | tr -d '[]'),$(hs_change 700003 5001 dealstage appointmentscheduled | tr -d '[]'),$(hs_change 700004 5001 competitor 'ACME Inc.' | tr -d '[]')]")"
step "HubSpot: St. Mary's Hospital (Lukas) - demo against Acme" \
    "$(hubspot "[$(hs_change 700011 5002 hubspot_owner_id 882761099 | tr -d '[]'),$(hs_change 700012 5002 dealname "St. Mary's Hospital" | tr -d '[]'),$(hs_change 700013 5002 industry Healthcare | tr -d '[]'),$(hs_change 700014 5002 dealstage presentationscheduled | tr -d '[]'),$(hs_change 700015 5002 competitor Acme | tr -d '[]')]")"
step "Pipedrive: Globex renewal (Dana) - demo, Acme option picked" \
    "$(pipedrive '{"meta":{"action":"change","entity":"deal","entity_id":"8","id":"demo-pd-0001","timestamp":"2024-05-29T15:11:55.724Z","version":"2.0","webhook_id":"4710827"},"data":{"id":8,"title":"Globex renewal","status":"open","stage_id":3,"owner_id":12415231,"value":100,"currency":"EUR","custom_fields":{"3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3":{"id":17,"type":"enum"},"9a1b2c3d4e5f60718293a4b5c6d7e8f901234567":{"type":"varchar","value":"Healthcare"}}},"previous":{"stage_id":2}}')"
step "Pipedrive: Soylent (Lukas) - decision maker in, Initech shows up" \
    "$(pipedrive '{"meta":{"action":"change","entity":"deal","entity_id":"9","id":"demo-pd-0002","timestamp":"2024-05-29T16:00:00Z","version":"2.0","webhook_id":"4710827"},"data":{"id":9,"title":"Soylent","status":"open","stage_id":4,"owner_id":12415288,"value":64000,"currency":"EUR","custom_fields":{"3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3":{"id":18,"type":"enum"}}},"previous":{"stage_id":3}}')"
step "Generic: Umbrella Corp (Dana) - demo, Acme, healthcare" \
    "$(generic msg_demo_0001 '{"type":"deal.changed","timestamp":"2024-05-29T15:11:55Z","data":{"deal_id":"D-1001","name":"Umbrella Corp","stage":"presentationscheduled","competitor":"Acme","owner":"u-77","amount":48000,"currency":"EUR","fields":{"industry":"Healthcare"}}}')"
step "Generic: Wayne Enterprises (Priya) - qualified, 'thinking of building it in house'" \
    "$(generic msg_demo_0002 '{"type":"deal.changed","timestamp":"2024-05-29T15:20:00Z","data":{"deal_id":"D-1002","name":"Wayne Enterprises","stage":"qualifiedtobuy","competitor":"in house","owner":"u-81","amount":150000}}')"
step "The same generic webhook again (a sender's retry): stored once" \
    "$(generic msg_demo_0002 '{"type":"deal.changed","timestamp":"2024-05-29T15:20:00Z","data":{"deal_id":"D-1002","name":"Wayne Enterprises","stage":"qualifiedtobuy","competitor":"in house","owner":"u-81","amount":150000}}')"
step "A webhook with a forged signature" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/webhooks/hubspot" -H 'X-HubSpot-Signature-v3: Zm9yZ2Vk' -H "X-HubSpot-Request-Timestamp: $(($(date +%s) * 1000))" --data-binary '[]')"

for _ in $(seq 50); do
    [[ $(psql_q -At -c "SELECT count(*) FROM deliveries WHERE status = 'pending'") == 0 ]] && break
    sleep 0.2
done
say "What Baton chose, deal by deal (the motion's play, and where it goes)"
psql_q -c "SELECT d.source, d.deal_id AS deal, coalesce(d.deal_name, '') AS name, d.stage,
                  coalesce(d.competitor, '-') AS competitor, d.asset_id AS asset,
                  d.play_id AS play, coalesce(d.rep_id, '(default)') AS rep,
                  d.channel || ':' || d.target AS route, d.status
           FROM deliveries d ORDER BY d.id"

say "What each rep saw (Slack, Teams and the CRM sidebar, as the stand-in received them)"
sed 's/^/  /' "$work/reps.log"

say "Clicks: some by people, some by link unfurlers and mail scanners"
browser='Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'
click() { # who user-agent method token
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' -X "$3" -A "$2" "$base/o/$4")
    printf '  %-44s %-4s /o/%s -> %s\n' "$1" "$3" "$4" "$code"
}
while IFS='|' read -r token rep asset; do
    click "Slack's unfurler (a robot)" 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' GET "$token"
done < <(psql_q -At -c "SELECT token, rep_id, asset_id FROM deliveries WHERE channel = 'slack' ORDER BY id")
while IFS='|' read -r token rep asset; do
    click "a mail security scanner (HEAD)" "$browser" HEAD "$token"
done < <(psql_q -At -c "SELECT token, rep_id, asset_id FROM deliveries ORDER BY id LIMIT 2")
sleep 2.2 # past the prefetch window: from now on a browser is a person
while IFS='|' read -r token rep asset; do
    click "${rep:-deal desk} opens $asset" "$browser" GET "$token"
done < <(psql_q -At -c "SELECT token, rep_id, asset_id FROM deliveries WHERE status = 'sent'
                        AND deal_id IN ('5001', '8', 'D-1002', '5002') ORDER BY id")
sleep 0.5
psql_q -c "SELECT h.kind, h.reason, count(*) FROM hits h GROUP BY 1, 2 ORDER BY 1, 2"

say "A deal is won: Initrode closes"
step "HubSpot: Initrode to 'Won'" "$(hubspot "$(hs_change 700005 5001 dealstage closedwon)")"

say "The adoption report: baton report --by asset"
sleep 0.5
"$build/baton" report --db "$BATON_TEST_DB" --by asset
say "... and by rep"
"$build/baton" report --db "$BATON_TEST_DB" --by rep

say "Why, for one of them: baton explain"
"$build/baton" explain "$root/config/motion.example.yaml" --stage presentationscheduled \
    --competitor Acme --field industry=Healthcare | head -20

if [[ -n ${BATON_DEMO_BATCH:-} ]]; then
    say "Done (batch mode)"
    exit 0
fi
say "Baton is running on $base (Ctrl-C stops it and removes everything)"
echo "  dashboard:    $base/dashboard?token=$admin_token"
for r in dana lukas priya; do
    printf '  %-13s %s\n' "$r's panel:" "$("$build/batond" --config "$work/batond.yaml" --panel-url $r)"
done
echo "  reps' view:   tail -f $work/reps.log"
wait "$batond_pid"
