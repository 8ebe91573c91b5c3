/* push_slack — a delivery as a Slack message: chat.postMessage with a Block
 * Kit section naming the deal, its stage and competitor and the asset, a
 * context line saying why (the play), and a button to the tracked link.
 *
 * Unfurling is off: Slack's crawler would otherwise fetch the tracked link
 * the moment it is posted. The button is the only place the link appears.
 * Success is HTTP 200 with "ok": true (Slack answers 200 to most failures);
 * the message's ts becomes the delivery's external id. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "push.h"

/* Bounds well under Slack's own (3000 characters a section, 75 a button
 * label), so an odd deal name or title can never make Slack refuse. */
enum { DEAL_TEXT_MAX = 150, TITLE_TEXT_MAX = 300, LABEL_TEXT_MAX = 60 };

/* Slack's errors worth another try; any other "ok": false is for good
 * (channel_not_found, not_in_channel, invalid_auth, account_inactive,
 * is_archived, ...): retrying cannot fix it. */
static const char *const transient_errors[] = {
    "internal_error",      "fatal_error",     "ratelimited", "rate_limited",
    "service_unavailable", "request_timeout", NULL,
};

/* S clipped to MAX bytes, with mrkdwn's three control characters escaped
 * (a deal name is outside data). New string. */
static char *mrkdwn(const char *s, size_t max)
{
    char *c = bt_push_clip(s, max);
    struct bt_buf b;
    int rc = 0;

    bt_buf_init(&b, strlen(c) * 5 + 16);
    for (size_t i = 0; c[i] && rc == 0; i++) {
        if (c[i] == '&')
            rc = bt_buf_adds(&b, "&amp;");
        else if (c[i] == '<')
            rc = bt_buf_adds(&b, "&lt;");
        else if (c[i] == '>')
            rc = bt_buf_adds(&b, "&gt;");
        else
            rc = bt_buf_add(&b, &c[i], 1);
    }
    (void)rc; /* the cap above fits the worst case */
    bt_free(c);
    return bt_buf_steal(&b);
}

static json_t *mrkdwn_text(char *text)
{
    json_t *j = json_pack("{s:s, s:s}", "type", "mrkdwn", "text", text);

    bt_free(text);
    return j;
}

static int build(const struct bt_config *cfg, const struct bt_push_delivery *d, int64_t now_s,
                 struct bt_push_http *out, char *why, size_t why_len)
{
    const struct bt_config_slack *sl = &cfg->channels.slack;
    char kind[64], *name, *title, *stage = NULL, *comp = NULL, *play = NULL, *fallback;
    char *label, *lower;
    json_t *blocks, *msg;
    int rc = 0;

    (void)now_s;
    if (!sl->enabled || !sl->token) {
        snprintf(why, why_len, "slack is not configured (channels.slack)");
        return BT_ENOENT;
    }
    if (!d->to || !*d->to) {
        snprintf(why, why_len, "no Slack channel to post to");
        return BT_EINVAL;
    }
    bt_push_kind_label(d->asset_kind, kind, sizeof(kind));
    name = mrkdwn(d->deal_name ? d->deal_name : d->deal_id, DEAL_TEXT_MAX);
    title = mrkdwn(d->asset_title ? d->asset_title : d->asset_id, TITLE_TEXT_MAX);
    if (d->stage_label)
        stage = mrkdwn(d->stage_label, DEAL_TEXT_MAX);
    if (d->competitor_name)
        comp = mrkdwn(d->competitor_name, DEAL_TEXT_MAX);
    if (d->play_id)
        play = mrkdwn(d->play_id, DEAL_TEXT_MAX);

    blocks = json_array();
    json_array_append_new(
        blocks,
        json_pack("{s:s, s:o}", "type", "section", "text",
                  mrkdwn_text(bt_asprintf(
                      "*%s*%s%s%s%s%s\n%s: *%s*", name, stage ? " is at *" : "",
                      stage ? stage : "", stage ? "*" : "",
                      comp ? " \xE2\x80\x94 competitor: " : "", comp ? comp : "", kind, title))));
    json_array_append_new(
        blocks, json_pack("{s:s, s:[o]}", "type", "context", "elements",
                          mrkdwn_text(play ? bt_asprintf("Why: the motion's play `%s` suggests it "
                                                         "for this moment.",
                                                         play)
                                           : bt_strdup("Suggested by the sales motion."))));
    lower = bt_strdup(kind);
    if (lower[0] >= 'A' && lower[0] <= 'Z')
        lower[0] = (char)(lower[0] - 'A' + 'a');
    label = bt_push_clip(lower, LABEL_TEXT_MAX);
    {
        char *btn = bt_asprintf("Open %s", label);

        json_array_append_new(blocks,
                              json_pack("{s:s, s:[{s:s, s:s, s:{s:s, s:s}, s:s, s:s}]}", "type",
                                        "actions", "elements", "type", "button", "action_id",
                                        "baton_open", "text", "type", "plain_text", "text", btn,
                                        "url", d->link, "style", "primary"));
        bt_free(btn);
    }
    fallback = bt_asprintf("%s for %s: %s", kind, d->deal_name ? d->deal_name : d->deal_id,
                           d->asset_title ? d->asset_title : d->asset_id);
    msg = json_pack("{s:s, s:s, s:o, s:b, s:b}", "channel", d->to, "text", fallback, "blocks",
                    blocks, "unfurl_links", 0, "unfurl_media", 0);
    if (!msg) {
        snprintf(why, why_len, "cannot build the Slack message");
        rc = BT_EINVAL;
        goto out;
    }
    out->url = bt_asprintf("%s/api/chat.postMessage", sl->api_base);
    out->body = json_dumps(msg, JSON_COMPACT);
    out->body_len = strlen(out->body);
    bt_push_http_header(out, "Content-Type: application/json; charset=utf-8");
    bt_push_http_header(out, "Authorization: Bearer %s", sl->token);
    json_decref(msg);
out:
    bt_free(fallback);
    bt_free(label);
    bt_free(lower);
    bt_free(name);
    bt_free(title);
    bt_free(stage);
    bt_free(comp);
    bt_free(play);
    return rc;
}

/* An error code from outside, kept printable and short for last_error. */
static void copy_code(char *dst, size_t len, const char *src)
{
    size_t i = 0;

    for (; src[i] && i + 1 < len && i < 80; i++)
        dst[i] = (src[i] > ' ' && src[i] < 0x7f) ? src[i] : '?';
    dst[i] = '\0';
}

static void classify(const struct bt_fetch_result *res, struct bt_push_verdict *v)
{
    json_t *j = NULL, *ok;
    const char *error;
    char code[96];

    v->retry_after_ms = -1;
    v->external_id[0] = '\0';
    if (res->status == 0) {
        v->outcome = BT_PUSH_RETRY;
        snprintf(v->reason, sizeof(v->reason), "no answer from Slack: %s", res->error);
        return;
    }
    if (res->status == 429) {
        v->outcome = BT_PUSH_RETRY;
        v->retry_after_ms = res->retry_after_ms;
        snprintf(v->reason, sizeof(v->reason), "rate limited by Slack (HTTP 429)");
        return;
    }
    if (res->status >= 500 || res->status == 408) {
        v->outcome = BT_PUSH_RETRY;
        snprintf(v->reason, sizeof(v->reason), "Slack answered HTTP %ld", res->status);
        return;
    }
    if (res->status != 200) {
        v->outcome = BT_PUSH_FAILED;
        snprintf(v->reason, sizeof(v->reason), "Slack answered HTTP %ld", res->status);
        return;
    }
    if (res->err == 0)
        j = json_loadb(res->body, res->body_len, 0, NULL);
    ok = json_object_get(j, "ok");
    if (!json_is_boolean(ok)) {
        /* We cannot tell whether it was posted; Slack's own answers always
         * say, so this is a proxy or an outage page: try again. */
        v->outcome = BT_PUSH_RETRY;
        snprintf(v->reason, sizeof(v->reason), "unreadable answer from Slack");
    } else if (json_is_true(ok)) {
        const char *ts = json_string_value(json_object_get(j, "ts"));

        v->outcome = BT_PUSH_SENT;
        copy_code(v->external_id, sizeof(v->external_id), ts ? ts : "");
    } else {
        error = json_string_value(json_object_get(j, "error"));
        copy_code(code, sizeof(code), error && *error ? error : "unknown_error");
        v->outcome = BT_PUSH_FAILED;
        for (size_t i = 0; transient_errors[i]; i++)
            if (!strcmp(code, transient_errors[i]))
                v->outcome = BT_PUSH_RETRY;
        if (v->outcome == BT_PUSH_RETRY) {
            v->retry_after_ms = res->retry_after_ms;
            snprintf(v->reason, sizeof(v->reason), "slack: %s", code);
        } else {
            snprintf(v->reason, sizeof(v->reason), "%s", code);
        }
    }
    json_decref(j);
}

const struct bt_push_ops bt_push_slack = {
    .name = "slack",
    .build = build,
    .classify = classify,
};
