/* crm_hubspot — HubSpot webhook intake: v3 signatures (v1 on request) and
 * batches of subscription events.
 *
 * HubSpot sends one property per event, so a batch is a list of small
 * changes that the deal state merges; properties never sent since Baton
 * started are looked up later through the objects API, not here. */
#include "crm.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "sig.h"

/* HubSpot documents at most 100 events per request. A larger batch is still
 * taken, up to this bound, so that a change on HubSpot's side costs nothing;
 * beyond it the body is refused as not a HubSpot batch. */
enum { MAX_EVENTS = 1000, PROP_NAME_MAX = 256 };

#define SRC BT_SRC_HUBSPOT

static const char *header(const struct bt_request *req, const char *name)
{
    return req->header ? req->header(req->header_ctx, name) : NULL;
}

static int verify(const struct bt_crm_auth *auth, const struct bt_request *req, char *why,
                  size_t why_len)
{
    const char *v3 = header(req, "X-HubSpot-Signature-v3");
    const char *ts = header(req, "X-HubSpot-Request-Timestamp");
    char reason[128] = "";
    int ret = BT_EAUTH;

    if (!v3 && auth->hubspot_v1 && header(req, "X-HubSpot-Signature")) {
        ret = bt_sig_hubspot_v1_verify(auth->secrets, auth->n_secrets, req->body, req->body_len,
                                       header(req, "X-HubSpot-Signature"), reason, sizeof(reason));
        if (ret != 0)
            bt_crm_why(why, why_len, "X-HubSpot-Signature: %s", reason);
        goto out;
    }
    if (!v3) {
        bt_crm_why(why, why_len, "missing X-HubSpot-Signature-v3");
        goto out;
    }
    if (!ts) {
        bt_crm_why(why, why_len, "missing X-HubSpot-Request-Timestamp");
        goto out;
    }
    ret = bt_sig_hubspot_v3_verify(auth->secrets, auth->n_secrets, req->method, req->public_url,
                                   req->body, req->body_len, ts, v3, req->now, reason,
                                   sizeof(reason));
    if (ret == 0)
        goto out;
    if (!strcmp(reason, "malformed timestamp"))
        bt_crm_why(why, why_len, "malformed X-HubSpot-Request-Timestamp");
    else if (!strcmp(reason, "malformed signature"))
        bt_crm_why(why, why_len, "malformed X-HubSpot-Signature-v3");
    else
        bt_crm_why(why, why_len, "%s", reason);
out:
    return ret;
}

/* A required non-negative integer member of event I. */
static int get_id(const json_t *ev, size_t i, const char *key, int64_t *out, char *why,
                  size_t why_len)
{
    const json_t *v = json_object_get(ev, key);

    if (!v) {
        bt_crm_why(why, why_len, "event %zu: %s is missing", i, key);
        return BT_EINVAL;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        bt_crm_why(why, why_len, "event %zu: %s is not a non-negative integer", i, key);
        return BT_EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

/* An optional id of an ignored event as text: "" when absent or odd, since
 * an event Baton does not act on must not fail the batch it came in. */
static void opt_id(const json_t *ev, const char *key, char *buf, size_t len)
{
    const json_t *v = json_object_get(ev, key);

    if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        buf[0] = '\0';
}

static enum bt_change_kind kind_of(const char *type)
{
    if (strncmp(type, "deal.", 5) != 0)
        return BT_CHANGE_IGNORE;
    type += 5;
    if (!strcmp(type, "creation"))
        return BT_CHANGE_CREATE;
    if (!strcmp(type, "propertyChange") || !strcmp(type, "restore"))
        return BT_CHANGE_UPDATE;
    if (!strcmp(type, "deletion"))
        return BT_CHANGE_DELETE;
    if (!strcmp(type, "merge"))
        return BT_CHANGE_MERGE;
    return BT_CHANGE_IGNORE; /* associationChange and whatever HubSpot adds */
}

/* An ignored event is still stored (and answered 2xx, or HubSpot retries it
 * for a day), so it gets the same kind of key, from whatever ids it has;
 * association events, for one, carry no objectId. */
static void add_ignored(const json_t *ev, struct bt_changes *out)
{
    char portal[24], sub[24], event[24], object[24], at[24];
    struct bt_change *c;
    const json_t *occurred = json_object_get(ev, "occurredAt");

    opt_id(ev, "portalId", portal, sizeof(portal));
    opt_id(ev, "subscriptionId", sub, sizeof(sub));
    opt_id(ev, "eventId", event, sizeof(event));
    opt_id(ev, "objectId", object, sizeof(object));
    if (!object[0])
        opt_id(ev, "fromObjectId", object, sizeof(object));
    opt_id(ev, "occurredAt", at, sizeof(at));
    c = bt_changes_add(out);
    c->source = BT_SRC_HUBSPOT;
    c->kind = BT_CHANGE_IGNORE;
    c->event_id = bt_asprintf("%s:%s:%s:%s:%s", portal, sub, event, object, at);
    c->deal_id = bt_strdup(object);
    c->occurred_at = json_is_integer(occurred) ? json_integer_value(occurred) : 0;
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

static int add_property(const struct bt_motion *m, const json_t *ev, size_t i, struct bt_change *c,
                        char *why, size_t why_len)
{
    const json_t *name = json_object_get(ev, "propertyName");
    const json_t *value = json_object_get(ev, "propertyValue");
    const char *prop, *text;
    char buf[48];

    if (!name) {
        bt_crm_why(why, why_len, "event %zu: propertyName is missing", i);
        return BT_EINVAL;
    }
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) > PROP_NAME_MAX) {
        bt_crm_why(why, why_len, "event %zu: propertyName is not a property name", i);
        return BT_EINVAL;
    }
    if (!value) {
        bt_crm_why(why, why_len, "event %zu: propertyValue is missing", i);
        return BT_EINVAL;
    }
    if (bt_json_scalar_text(value, buf, sizeof(buf), &text) != 0) {
        bt_crm_why(why, why_len, "event %zu: propertyValue is not a string", i);
        return BT_EINVAL;
    }
    prop = json_string_value(name);
    /* A property Baton reads nowhere still changed the deal: kept as an
     * event, acted on as nothing. */
    if (route(m, prop, text, &c->fields) == 0)
        c->kind = BT_CHANGE_IGNORE;
    return 0;
}

/* HubSpot names the merge winner objectId (and, in newer payloads, also
 * primaryObjectId) and the merged-away deals mergedObjectIds. Every id that
 * is not the survivor is recorded as merged into it, once. */
static int add_merged(const json_t *ev, size_t i, int64_t survivor, struct bt_change *c, char *why,
                      size_t why_len)
{
    const json_t *list = json_object_get(ev, "mergedObjectIds");
    const json_t *primary = json_object_get(ev, "primaryObjectId");
    const json_t *v;
    size_t k;

    if (!list) {
        bt_crm_why(why, why_len, "event %zu: mergedObjectIds is missing", i);
        return BT_EINVAL;
    }
    if (!json_is_array(list) || json_array_size(list) > MAX_EVENTS) {
        bt_crm_why(why, why_len, "event %zu: mergedObjectIds is not a list of ids", i);
        return BT_EINVAL;
    }
    if (primary && (!json_is_integer(primary) || json_integer_value(primary) < 0)) {
        bt_crm_why(why, why_len, "event %zu: primaryObjectId is not a non-negative integer", i);
        return BT_EINVAL;
    }
    c->merged_ids = bt_calloc(json_array_size(list) + 1, sizeof(char *));
    for (k = 0; k <= json_array_size(list); k++) {
        int64_t id;
        char *s;
        bool seen = false;

        v = k < json_array_size(list) ? json_array_get(list, k) : primary;
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            bt_crm_why(why, why_len, "event %zu: mergedObjectIds[%zu] is not an id", i, k);
            return BT_EINVAL;
        }
        id = json_integer_value(v);
        if (id == survivor)
            continue;
        s = bt_asprintf("%lld", (long long)id);
        for (size_t j = 0; j < c->n_merged && !seen; j++)
            seen = !strcmp(c->merged_ids[j], s);
        if (seen)
            bt_free(s);
        else
            c->merged_ids[c->n_merged++] = s;
    }
    return 0;
}

static int parse_event(const struct bt_motion *m, const json_t *ev, size_t i,
                       struct bt_changes *out, char *why, size_t why_len)
{
    int64_t portal, sub, event, object, at;
    const json_t *type;
    enum bt_change_kind kind;
    struct bt_change *c;
    int ret = BT_EINVAL;

    if (!json_is_object(ev)) {
        bt_crm_why(why, why_len, "event %zu: not an object", i);
        goto out;
    }
    type = json_object_get(ev, "subscriptionType");
    if (!type)
        type = json_object_get(ev, "eventType"); /* the older name */
    if (!type) {
        bt_crm_why(why, why_len, "event %zu: subscriptionType is missing", i);
        goto out;
    }
    if (!json_is_string(type)) {
        bt_crm_why(why, why_len, "event %zu: subscriptionType is not a string", i);
        goto out;
    }
    kind = kind_of(json_string_value(type));
    if (kind == BT_CHANGE_IGNORE) {
        add_ignored(ev, out);
        ret = 0;
        goto out;
    }
    /* eventId alone is not unique across subscriptions, portals or objects:
     * the key is built from everything that tells two events apart. */
    if (get_id(ev, i, "objectId", &object, why, why_len) ||
        get_id(ev, i, "occurredAt", &at, why, why_len) ||
        get_id(ev, i, "eventId", &event, why, why_len) ||
        get_id(ev, i, "subscriptionId", &sub, why, why_len) ||
        get_id(ev, i, "portalId", &portal, why, why_len))
        goto out;
    c = bt_changes_add(out);
    c->source = BT_SRC_HUBSPOT;
    c->kind = kind;
    c->event_id = bt_asprintf("%lld:%lld:%lld:%lld:%lld", (long long)portal, (long long)sub,
                              (long long)event, (long long)object, (long long)at);
    c->deal_id = bt_asprintf("%lld", (long long)object);
    c->occurred_at = at;
    /* deal.restore carries no properties: an UPDATE without fields marks the
     * deal to be matched again on what is known of it. */
    if (!strcmp(json_string_value(type), "deal.propertyChange") &&
        add_property(m, ev, i, c, why, why_len))
        goto out;
    if (kind == BT_CHANGE_MERGE && add_merged(ev, i, object, c, why, why_len))
        goto out;
    ret = 0;
out:
    return ret;
}

static int parse(const struct bt_motion *m, const struct bt_request *req, struct bt_changes *out,
                 char *why, size_t why_len)
{
    struct bt_changes tmp;
    json_t *root, *ev;
    size_t i;
    int ret = BT_EINVAL;

    bt_changes_init(&tmp);
    root = bt_json_parse_strict(req->body, req->body_len, why, why_len);
    if (!root)
        goto out;
    if (!json_is_array(root)) {
        bt_crm_why(why, why_len, "body is not a JSON array of events");
        goto out;
    }
    if (json_array_size(root) > MAX_EVENTS) {
        bt_crm_why(why, why_len, "%zu events in one body (at most %d)", json_array_size(root),
                   MAX_EVENTS);
        goto out;
    }
    json_array_foreach(root, i, ev)
    {
        if (parse_event(m, ev, i, &tmp, why, why_len) != 0)
            goto out;
    }
    bt_changes_move(out, &tmp);
    ret = 0;
out:
    bt_changes_free(&tmp);
    json_decref(root);
    return ret;
}

const struct bt_crm_ops bt_crm_hubspot = {
    .name = "hubspot",
    .source = BT_SRC_HUBSPOT,
    .verify = verify,
    .parse = parse,
    .ok_content_type = "application/json",
    .ok_body = "{\"ok\":true}",
};
