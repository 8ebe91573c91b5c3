/* push_teams — a delivery as a Microsoft Teams message, posted to a
 * Workflows webhook ("When a Teams webhook request is received"): an
 * Adaptive Card 1.4 naming the deal, its stage and competitor, the asset,
 * why, and an Action.OpenUrl button to the tracked link (Workflows does not
 * support Action.Submit).
 *
 * The motion names a target; its URL lives in the config
 * (channels.teams.targets.NAME) because it carries its own authorization
 * (sig=...): it is never logged. Workflows answers 202 when it accepted. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "push.h"

enum { DEAL_TEXT_MAX = 150, TITLE_TEXT_MAX = 300, LABEL_TEXT_MAX = 60 };

static json_t *text_block(const char *text)
{
    return json_pack("{s:s, s:s, s:b}", "type", "TextBlock", "text", text, "wrap", 1);
}

static int build(const struct bt_config *cfg, const struct bt_push_delivery *d, int64_t now_s,
                 struct bt_push_http *out, char *why, size_t why_len)
{
    const char *url = d->to ? bt_config_target_url(cfg, "teams", d->to) : NULL;
    char kind[64], *name, *stage, *comp, *title, *play, *lower;
    char *headline = NULL, *asset = NULL, *reason = NULL, *button = NULL;
    json_t *body, *block, *card, *msg;
    int rc = 0;

    (void)now_s;
    if (!url) {
        snprintf(why, why_len, "unknown teams target %.100s", d->to ? d->to : "(none)");
        return BT_ENOENT;
    }
    bt_push_kind_label(d->asset_kind, kind, sizeof(kind));
    name = bt_push_clip(d->deal_name ? d->deal_name : d->deal_id, DEAL_TEXT_MAX);
    stage = bt_push_clip(d->stage_label, DEAL_TEXT_MAX);
    comp = bt_push_clip(d->competitor_name, DEAL_TEXT_MAX);
    title = bt_push_clip(d->asset_title ? d->asset_title : d->asset_id, TITLE_TEXT_MAX);
    play = bt_push_clip(d->play_id, DEAL_TEXT_MAX);
    lower = bt_push_clip(kind, LABEL_TEXT_MAX);
    if (lower[0] >= 'A' && lower[0] <= 'Z')
        lower[0] = (char)(lower[0] - 'A' + 'a');
    headline = bt_asprintf("%s%s%s%s%s", name, stage ? " is at " : "", stage ? stage : "",
                           comp ? " \xE2\x80\x94 competitor: " : "", comp ? comp : "");
    asset = bt_asprintf("%s: %s", kind, title);
    reason = play ? bt_asprintf("Why: the motion's play \"%s\" suggests it for this moment.", play)
                  : bt_strdup("Suggested by the sales motion.");
    button = bt_asprintf("Open %s", lower);
    body = json_array();
    block = text_block(headline);
    json_object_set_new(block, "weight", json_string("Bolder"));
    json_array_append_new(body, block);
    json_array_append_new(body, text_block(asset));
    block = text_block(reason);
    json_object_set_new(block, "isSubtle", json_true());
    json_object_set_new(block, "size", json_string("Small"));
    json_array_append_new(body, block);
    card = json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:s, s:s}]}", "$schema",
                     "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
                     "version", "1.4", "body", body, "actions", "type", "Action.OpenUrl", "title",
                     button, "url", d->link);
    msg = json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments", "contentType",
                    "application/vnd.microsoft.card.adaptive", "contentUrl", "content", card);
    if (!msg) {
        snprintf(why, why_len, "cannot build the Teams card");
        rc = BT_EINVAL;
        goto out;
    }
    out->url = bt_strdup(url);
    out->body = json_dumps(msg, JSON_COMPACT);
    out->body_len = strlen(out->body);
    bt_push_http_header(out, "Content-Type: application/json");
    json_decref(msg);
out:
    bt_free(name);
    bt_free(stage);
    bt_free(comp);
    bt_free(title);
    bt_free(play);
    bt_free(lower);
    bt_free(headline);
    bt_free(asset);
    bt_free(reason);
    bt_free(button);
    return rc;
}

const struct bt_push_ops bt_push_teams = {
    .name = "teams",
    .build = build,
    .classify = bt_push_classify_status,
};
