/* crm_generic — the intake for any sender of signed JSON: Standard Webhooks
 * headers and Baton's own body shape,
 *
 *   {"type": "deal.changed" | "deal.deleted", "timestamp": RFC 3339,
 *    "data": {"deal_id": ..., "name": ..., "stage": ..., ...,
 *             "fields": {...}}}
 *
 * `data` is partial state: an absent key is unchanged, null is cleared.
 * Keys are Baton's field names unless the motion's fields.generic maps a
 * body key (its `prop`) to a field; then the key is renamed and its value
 * goes through the mapping's `values`. A key named like a field that the
 * motion reads from another key is dropped: the mapping says where that
 * field lives. */
#include "crm.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "sig.h"

enum {
    EVENT_ID_MAX = 256, /* webhook-id: the inbox key */
    DEAL_ID_MAX = 256,
    KEY_MAX = 128,    /* a field name */
    FIELDS_MAX = 256, /* fields in one change */
};

#define SRC BT_SRC_GENERIC

static const char *header(const struct bt_request *req, const char *name)
{
    return req->header ? req->header(req->header_ctx, name) : NULL;
}

static int verify(const struct bt_crm_auth *auth, const struct bt_request *req, char *why,
                  size_t why_len)
{
    return bt_sig_stdwh_verify(auth->secrets, auth->n_secrets, header(req, "webhook-id"),
                               header(req, "webhook-timestamp"), req->body, req->body_len,
                               header(req, "webhook-signature"), req->now, why, why_len);
}

/* Stores TEXT under every Baton field that PROP feeds (a motion may read two
 * fields from one property). A property no mapping names keeps its own
 * name, unless that name is a field the motion reads from another
 * property: then it is not the field it looks like, and is dropped.
 * Returns how many fields were set. */
static size_t route(const struct bt_motion *m, const char *prop, const char *text,
                    struct bt_fields *f)
{
    size_t n = m ? bt_motion_n_field_maps(m, SRC) : 0, hits = 0;

    for (size_t i = 0; i < n; i++) {
        const struct bt_field_map *fm = bt_motion_field_map(m, SRC, i);

        if (strcmp(fm->prop, prop) != 0)
            continue;
        bt_fields_set(f, fm->field, text ? bt_field_map_value(fm, text) : NULL);
        hits++;
    }
    if (!hits && !(m && bt_motion_field_by_name(m, SRC, prop))) {
        bt_fields_set(f, prop, text);
        hits++;
    }
    return hits;
}

/* One key of data (WHERE: "data" or "data.fields") into the change. */
static int add_field(const struct bt_motion *m, const char *where, const char *key,
                     const json_t *v, struct bt_change *c, char *why, size_t why_len)
{
    const char *text;
    char buf[48];

    if (key[0] == '\0' || strnlen(key, KEY_MAX + 1) > KEY_MAX) {
        bt_crm_why(why, why_len, "%s: a key is empty or longer than %d bytes", where, KEY_MAX);
        return BT_EINVAL;
    }
    if (bt_json_scalar_text(v, buf, sizeof(buf), &text) != 0) {
        bt_crm_why(why, why_len, "%s.%s is not a string, number, boolean or null", where, key);
        return BT_EINVAL;
    }
    if (c->fields.n >= FIELDS_MAX) {
        bt_crm_why(why, why_len, "data has more than %d fields", FIELDS_MAX);
        return BT_EINVAL;
    }
    route(m, key, text, &c->fields);
    return 0;
}

static int add_fields(const struct bt_motion *m, const json_t *data, struct bt_change *c,
                      char *why, size_t why_len)
{
    const json_t *extra = json_object_get(data, "fields"), *v;
    const char *key;

    if (extra && !json_is_object(extra) && !json_is_null(extra)) {
        bt_crm_why(why, why_len, "data.fields is not an object");
        return BT_EINVAL;
    }
    /* data.fields first, so that a field given both ways takes the value
     * named at the top of data. */
    json_object_foreach((json_t *)extra, key, v)
    {
        if (add_field(m, "data.fields", key, v, c, why, why_len) != 0)
            return BT_EINVAL;
    }
    json_object_foreach((json_t *)data, key, v)
    {
        if (!strcmp(key, "deal_id") || !strcmp(key, "fields"))
            continue;
        if (add_field(m, "data", key, v, c, why, why_len) != 0)
            return BT_EINVAL;
    }
    return 0;
}

static int deal_id(const json_t *data, char **out, char *why, size_t why_len)
{
    const json_t *v = json_object_get(data, "deal_id");

    if (!v) {
        bt_crm_why(why, why_len, "data.deal_id is missing");
        return BT_EINVAL;
    }
    if (json_is_integer(v)) {
        *out = bt_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    }
    if (!json_is_string(v)) {
        bt_crm_why(why, why_len, "data.deal_id is not a string or an integer");
        return BT_EINVAL;
    }
    if (json_string_length(v) == 0 || json_string_length(v) > DEAL_ID_MAX) {
        bt_crm_why(why, why_len, "data.deal_id is empty or longer than %d bytes", DEAL_ID_MAX);
        return BT_EINVAL;
    }
    *out = bt_strdup(json_string_value(v));
    return 0;
}

static int parse(const struct bt_motion *m, const struct bt_request *req, struct bt_changes *out,
                 char *why, size_t why_len)
{
    const char *id = header(req, "webhook-id"), *type_s;
    const json_t *type, *ts, *data;
    enum bt_change_kind kind;
    struct bt_change c;
    json_t *root = NULL;
    int64_t at;
    int ret = BT_EINVAL;

    memset(&c, 0, sizeof(c));
    bt_fields_init(&c.fields);
    if (!id || id[0] == '\0' || strnlen(id, EVENT_ID_MAX + 1) > EVENT_ID_MAX) {
        bt_crm_why(why, why_len, "webhook-id is missing, empty or longer than %d bytes",
                   EVENT_ID_MAX);
        goto out;
    }
    root = bt_json_parse_strict(req->body, req->body_len, why, why_len);
    if (!root)
        goto out;
    if (!json_is_object(root)) {
        bt_crm_why(why, why_len, "body is not a JSON object");
        goto out;
    }
    type = json_object_get(root, "type");
    if (!json_is_string(type)) {
        bt_crm_why(why, why_len, type ? "type is not a string" : "type is missing");
        goto out;
    }
    type_s = json_string_value(type);
    if (!strcmp(type_s, "deal.changed")) {
        kind = BT_CHANGE_UPDATE;
    } else if (!strcmp(type_s, "deal.deleted")) {
        kind = BT_CHANGE_DELETE;
    } else {
        bt_crm_why(why, why_len, "unknown type \"%.64s\" (deal.changed or deal.deleted)", type_s);
        goto out;
    }
    ts = json_object_get(root, "timestamp");
    if (!json_is_string(ts)) {
        bt_crm_why(why, why_len, ts ? "timestamp is not a string" : "timestamp is missing");
        goto out;
    }
    if (bt_parse_time_ms(json_string_value(ts), &at) != 0) {
        bt_crm_why(why, why_len, "timestamp is not an RFC 3339 time");
        goto out;
    }
    data = json_object_get(root, "data");
    if (!json_is_object(data)) {
        bt_crm_why(why, why_len, data ? "data is not an object" : "data is missing");
        goto out;
    }
    c.source = BT_SRC_GENERIC;
    c.kind = kind;
    c.occurred_at = at;
    if (deal_id(data, &c.deal_id, why, why_len) != 0)
        goto out;
    /* A deleted deal matches nothing more, whatever state came along. */
    if (kind == BT_CHANGE_UPDATE && add_fields(m, data, &c, why, why_len) != 0)
        goto out;
    c.event_id = bt_strdup(id);
    *bt_changes_add(out) = c;
    memset(&c, 0, sizeof(c));
    bt_fields_init(&c.fields);
    ret = 0;
out:
    bt_free(c.event_id);
    bt_free(c.deal_id);
    bt_fields_free(&c.fields);
    json_decref(root);
    return ret;
}

const struct bt_crm_ops bt_crm_generic = {
    .name = "generic",
    .source = BT_SRC_GENERIC,
    .verify = verify,
    .parse = parse,
    .ok_content_type = "application/json",
    .ok_body = "{\"ok\":true}",
};
