#!/usr/bin/env bash
# Sends batond a new HubSpot deal, signed as HubSpot signs (v3).
#   hubspot-deal.sh BASE_URL CLIENT_SECRET OWNER_ID STAGE
set -euo pipefail
base=$1 secret=$2 owner=$3 stage=$4
deal=$((900000 + RANDOM))
now=$(($(date +%s) * 1000))
event() { # id property value
    printf '{"eventId":%s,"subscriptionId":1,"portalId":1,"occurredAt":%s,"subscriptionType":"deal.propertyChange","objectId":%s,"propertyName":"%s","propertyValue":"%s"}' \
        "$1" "$now" "$deal" "$2" "$3"
}
body="[$(event "${deal}1" hubspot_owner_id "$owner"),$(event "${deal}2" dealname "Deal $deal"),$(event "${deal}3" dealstage "$stage")]"
sig=$(printf '%s' "POST$base/v1/webhooks/hubspot$body$now" |
    openssl dgst -sha256 -hmac "$secret" -binary | base64)
curl -sf -o /dev/null -X POST "$base/v1/webhooks/hubspot" -H 'Content-Type: application/json' \
    -H "X-HubSpot-Request-Timestamp: $now" -H "X-HubSpot-Signature-v3: $sig" --data-binary "$body"
