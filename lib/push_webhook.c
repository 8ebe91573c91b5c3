/* push_webhook — a delivery posted as JSON to any receiver (a CRM sidebar,
 * an automation), signed the Standard Webhooks way so it can be verified
 * with any Standard Webhooks library:
 *
 *   {"type": "baton.delivery", "timestamp": "2024-05-29T15:11:55Z",
 *    "data": {"delivery_id": 42, "deal": {source, id, name, stage, competitor},
 *             "asset": {id, kind, title}, "play": ..., "rep": ..., "link": ...}}
 *
 * webhook-id is "dlv_<delivery id>", the same on every retry, so a receiver
 * can drop the repeats; webhook-timestamp and the signature are made fresh
 * for each attempt (receivers refuse old timestamps). The target's URL
 * lives in the config (channels.webhook.targets.NAME) and is never logged. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "push.h"
#include "sig.h"

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static int build(const struct bt_config *cfg, const struct bt_push_delivery *d, int64_t now_s,
                 struct bt_push_http *out, char *why, size_t why_len)
{
    const struct bt_config_webhook *w = &cfg->channels.webhook;
    const char *url = d->to ? bt_config_target_url(cfg, "webhook", d->to) : NULL;
    char id[40], stamp[32], *sig = NULL;
    time_t t = (time_t)now_s;
    struct tm tm;
    json_t *msg;
    int rc = 0;

    if (!url) {
        snprintf(why, why_len, "unknown webhook target %.100s", d->to ? d->to : "(none)");
        return BT_ENOENT;
    }
    if (!w->secret) {
        snprintf(why, why_len, "webhook is not configured (channels.webhook.secret)");
        return BT_ENOENT;
    }
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(id, sizeof(id), "dlv_%lld", d->id);
    msg = json_pack("{s:s, s:s, s:{s:I, s:{s:s, s:s, s:o, s:o, s:o}, s:{s:s, s:o, s:o}, s:o, "
                    "s:o, s:s}}",
                    "type", "baton.delivery", "timestamp", stamp, "data", "delivery_id",
                    (json_int_t)d->id, "deal", "source", d->source, "id", d->deal_id, "name",
                    str_or_null(d->deal_name), "stage", str_or_null(d->stage), "competitor",
                    str_or_null(d->competitor), "asset", "id", d->asset_id, "kind",
                    str_or_null(d->asset_kind), "title", str_or_null(d->asset_title), "play",
                    str_or_null(d->play_id), "rep", str_or_null(d->rep_id), "link", d->link);
    if (!msg) {
        snprintf(why, why_len, "cannot build the webhook body");
        return BT_EINVAL;
    }
    out->body = json_dumps(msg, JSON_COMPACT);
    out->body_len = strlen(out->body);
    json_decref(msg);
    if (bt_sig_stdwh_sign(w->secret, id, now_s, out->body, out->body_len, &sig) < 0) {
        snprintf(why, why_len, "channels.webhook.secret is not a usable whsec_ secret");
        rc = BT_EINVAL;
        goto out;
    }
    out->url = bt_strdup(url);
    bt_push_http_header(out, "Content-Type: application/json");
    bt_push_http_header(out, "webhook-id: %s", id);
    bt_push_http_header(out, "webhook-timestamp: %lld", (long long)now_s);
    bt_push_http_header(out, "webhook-signature: %s", sig);
out:
    bt_free(sig);
    return rc;
}

const struct bt_push_ops bt_push_webhook = {
    .name = "webhook",
    .build = build,
    .classify = bt_push_classify_status,
};
