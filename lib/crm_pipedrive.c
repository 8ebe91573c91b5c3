/* crm_pipedrive — Pipedrive webhook intake: HTTP Basic authentication and
 * the bodies of both webhook generations, v2 (the default) and v1.
 *
 * Pipedrive sends the deal's whole current state with every event, so a
 * change carries every field the motion reads (absent = unchanged, JSON null
 * = cleared). The motion's `fields.pipedrive` is written in v2 key names; v1
 * bodies are read as their v2 equivalents (user_id is owner_id; custom
 * fields are plain values at the top of `current` instead of typed objects
 * under `data.custom_fields`).
 *
 * Pipedrive bans a webhook after ten failed deliveries in a row and drops
 * its events, so anything well-formed that Baton does not act on (another
 * entity, an action Pipedrive adds later) is an IGNORE change, answered 2xx;
 * only a deal event that cannot be read is refused. */
#include "crm.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

enum {
    AUTH_MAX = 1024, /* longest Authorization header read */
    ID_MAX = 255,    /* longest id (event, deal, webhook) taken */
    TEXT_DEPTH = 4,  /* typed value -> values list -> option object -> id */
    TEXT_MAX = 1 << 20
};

#define SRC BT_SRC_PIPEDRIVE

/* ---- authentication ---------------------------------------------------- */

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* EVP_DecodeBlock reads '=' anywhere as a zero digit and keeps the padding
 * bytes in its output, so the shape is checked here first and the padding
 * counted off after. */
static int b64_decode(const char *s, size_t n, unsigned char **out, size_t *out_len)
{
    size_t pad = 0, i;
    int got;

    if (n == 0 || n % 4)
        return -1;
    while (pad < 2 && s[n - 1 - pad] == '=')
        pad++;
    for (i = 0; i < n - pad; i++)
        if (!b64_char((unsigned char)s[i]))
            return -1;
    *out = bt_malloc(n / 4 * 3 + 1);
    got = EVP_DecodeBlock(*out, (const unsigned char *)s, (int)n);
    if (got < 0 || (size_t)got < pad) {
        OPENSSL_cleanse(*out, n / 4 * 3 + 1);
        bt_free(*out);
        *out = NULL;
        return -1;
    }
    *out_len = (size_t)got - pad;
    return 0;
}

/* Comparing digests rather than the strings makes the time taken
 * independent of where the first difference lies and of both lengths. */
static void digest(const void *p, size_t n, unsigned char md[32])
{
    unsigned int len = 0;

    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        memset(md, 0, 32); /* cannot happen with the default provider */
}

static int verify(const struct bt_crm_auth *auth, const struct bt_request *req, char *why,
                  size_t why_len)
{
    unsigned char got_user[32], got_pass[32], want_user[32], want_pass[32];
    unsigned char *cred = NULL;
    const unsigned char *colon;
    const char *h = NULL, *tok;
    size_t hlen, tok_len, cred_len = 0, cred_cap = 0, user_len;
    int diff, ret = BT_EAUTH;

    if (!auth || !auth->username || !auth->password) {
        bt_crm_why(why, why_len, "no Pipedrive credentials configured");
        goto out;
    }
    if (req->header)
        h = req->header(req->header_ctx, "Authorization");
    if (!h) {
        bt_crm_why(why, why_len, "missing Authorization");
        goto out;
    }
    hlen = strnlen(h, AUTH_MAX + 1);
    if (hlen > AUTH_MAX) {
        bt_crm_why(why, why_len, "Authorization longer than %d bytes", AUTH_MAX);
        goto out;
    }
    if (hlen < 6 || strncasecmp(h, "Basic", 5) != 0 || (h[5] != ' ' && h[5] != '\t')) {
        bt_crm_why(why, why_len, "Authorization is not Basic");
        goto out;
    }
    tok = h + 6;
    tok_len = hlen - 6;
    while (tok_len && (*tok == ' ' || *tok == '\t')) {
        tok++;
        tok_len--;
    }
    while (tok_len && (tok[tok_len - 1] == ' ' || tok[tok_len - 1] == '\t'))
        tok_len--;
    cred_cap = tok_len / 4 * 3 + 1;
    if (b64_decode(tok, tok_len, &cred, &cred_len) != 0) {
        bt_crm_why(why, why_len, "malformed Basic credentials");
        goto out;
    }
    colon = memchr(cred, ':', cred_len);
    if (!colon) {
        bt_crm_why(why, why_len, "malformed Basic credentials");
        goto out;
    }
    user_len = (size_t)(colon - cred);
    digest(cred, user_len, got_user);
    digest(colon + 1, cred_len - user_len - 1, got_pass);
    digest(auth->username, strlen(auth->username), want_user);
    digest(auth->password, strlen(auth->password), want_pass);
    /* Both halves are always compared, so the time does not tell which one
     * was wrong. */
    diff = CRYPTO_memcmp(got_user, want_user, 32) | CRYPTO_memcmp(got_pass, want_pass, 32);
    if (diff) {
        bt_crm_why(why, why_len, "bad credentials");
        goto out;
    }
    ret = 0;
out:
    if (cred) {
        OPENSSL_cleanse(cred, cred_cap);
        bt_free(cred);
    }
    OPENSSL_cleanse(got_pass, sizeof(got_pass));
    OPENSSL_cleanse(want_pass, sizeof(want_pass));
    return ret;
}

/* ---- values as text ---------------------------------------------------- */

/* Integral reals without an exponent, others in the shortest form that
 * reads back as the same double: 100.0 -> "100", 0.1 -> "0.1". */
static char *real_text(double d)
{
    char buf[40];

    if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d) {
        snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)d);
    } else {
        for (int p = 1; p <= 17; p++) {
            snprintf(buf, sizeof(buf), "%.*g", p, d);
            if (strtod(buf, NULL) == d)
                break;
        }
    }
    return bt_strdup(buf);
}

static int json_text(json_t *v, int depth, char **out);

/* A list reads as its items' texts joined by commas, as v1 writes a
 * multiple-option field ("17,18"); null items are skipped and an empty
 * list is a cleared value. */
static int list_text(json_t *list, int depth, char **out)
{
    struct bt_buf b;
    json_t *item;
    size_t i;
    int ret = -1;

    bt_buf_init(&b, TEXT_MAX);
    json_array_foreach(list, i, item)
    {
        char *t = NULL;
        int bad;

        if (json_text(item, depth + 1, &t) != 0)
            goto out;
        bad = t && ((b.len && bt_buf_adds(&b, ",") != 0) || bt_buf_adds(&b, t) != 0);
        bt_free(t);
        if (bad)
            goto out;
    }
    *out = b.len ? bt_buf_steal(&b) : NULL;
    ret = 0;
out:
    bt_buf_free(&b);
    return ret;
}

/* v2 custom fields are typed objects: {"type":"varchar","value":"x"},
 * {"type":"monetary","value":100,"currency":"EUR"} (the amount),
 * {"type":"enum","id":17} and user/org/person references (the id), and
 * {"type":"set","values":[{"id":17},{"id":18}]} (the ids, comma-joined).
 * v1 API-style references ({"id":5,"name":"…","value":5}) read the same. */
static int typed_text(json_t *v, int depth, char **out)
{
    json_t *x;

    x = json_object_get(v, "value");
    if (x)
        return json_text(x, depth + 1, out);
    x = json_object_get(v, "id");
    if (x)
        return json_text(x, depth + 1, out);
    x = json_object_get(v, "values");
    if (json_is_array(x))
        return list_text(x, depth, out);
    return -1;
}

/* V as a field's text: *out is a new string, or NULL for a cleared value.
 * -1 when V has no reading as text. */
static int json_text(json_t *v, int depth, char **out)
{
    *out = NULL;
    if (depth > TEXT_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return 0;
    case JSON_STRING:
        *out = bt_strndup(json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        *out = bt_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    case JSON_REAL:
        *out = real_text(json_real_value(v));
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        *out = bt_strdup(json_is_true(v) ? "true" : "false");
        return 0;
    case JSON_OBJECT:
        return typed_text(v, depth + 1, out);
    case JSON_ARRAY:
        return list_text(v, depth + 1, out);
    }
    return -1;
}

/* An id: a non-empty string or an integer, as text. */
static char *id_text(const json_t *v)
{
    if (json_is_integer(v))
        return bt_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= ID_MAX &&
        !memchr(json_string_value(v), '\0', json_string_length(v)))
        return bt_strdup(json_string_value(v));
    return NULL;
}

/* ---- field routing ----------------------------------------------------- */

/* Where Baton's standard fields live in a Pipedrive deal when the motion
 * does not say: a deal field with no mapping is read from Pipedrive's own
 * property for it. */
static const struct bt_crm_default defaults[] = {
    {"stage", "stage_id"}, {"owner", "owner_id"},    {"name", "title"},
    {"amount", "value"},   {"currency", "currency"}, {"pipeline", "pipeline_id"},
};

enum { N_DEFAULTS = sizeof(defaults) / sizeof(defaults[0]) };

/* v1 key names that v2 renamed; the motion is written in v2 names. */
static const char *v2_name(const char *v1_key)
{
    return !strcmp(v1_key, "user_id") ? "owner_id" : NULL;
}

static bool mapped(const struct bt_motion *m, const char *field)
{
    return m && bt_motion_field_by_name(m, SRC, field) != NULL;
}

static bool listed(const struct bt_field_map *fm, const char *value)
{
    for (size_t i = 0; i < fm->n_values; i++)
        if (!strcmp(fm->from[i], value))
            return true;
    return false;
}

/* TEXT through FM's `values`. A multiple-option value that is not listed as
 * a whole is mapped option by option ("17,18" -> "acme,globex"), so v1's
 * comma-joined ids and v2's lists read alike. */
static void store_mapped(struct bt_fields *f, const struct bt_field_map *fm, const char *text)
{
    struct bt_buf b;
    const char *p = text;
    bool ok = true;

    if (!text || !fm->n_values || !strchr(text, ',') || listed(fm, text)) {
        bt_fields_set(f, fm->field, text ? bt_field_map_value(fm, text) : NULL);
        return;
    }
    bt_buf_init(&b, TEXT_MAX);
    for (;;) {
        const char *end = strchr(p, ',');
        char *part = bt_strndup(p, end ? (size_t)(end - p) : strlen(p));

        ok = ok && (!b.len || bt_buf_adds(&b, ",") == 0) &&
             bt_buf_adds(&b, bt_field_map_value(fm, part)) == 0;
        bt_free(part);
        if (!end)
            break;
        p = end + 1;
    }
    bt_fields_set(f, fm->field, ok ? b.data : text);
    bt_buf_free(&b);
}

/* Stores TEXT under every Baton field that PROP feeds; with F NULL, only
 * says whether there is any. */
static bool route(const struct bt_motion *m, const char *prop, const char *text,
                  struct bt_fields *f)
{
    size_t n = m ? bt_motion_n_field_maps(m, SRC) : 0;
    bool hit = false;

    for (size_t i = 0; i < n; i++) {
        const struct bt_field_map *fm = bt_motion_field_map(m, SRC, i);

        if (strcmp(fm->prop, prop) != 0)
            continue;
        hit = true;
        if (f)
            store_mapped(f, fm, text);
    }
    for (size_t i = 0; i < N_DEFAULTS; i++) {
        if (strcmp(defaults[i].prop, prop) != 0 || mapped(m, defaults[i].field))
            continue;
        hit = true;
        if (f)
            bt_fields_set(f, defaults[i].field, text);
    }
    if (!hit && bt_crm_same_name_field(m, SRC, defaults, N_DEFAULTS, prop)) {
        hit = true;
        if (f)
            bt_fields_set(f, prop, text);
    }
    return hit;
}

/* Reads every key of OBJ that the motion wants into F. Keys it does not
 * want are not even looked at, so an odd value in a field nobody reads
 * cannot fail the event. */
static int read_fields(const struct bt_motion *m, json_t *obj, const char *path, bool v1,
                       struct bt_fields *f, char *why, size_t why_len)
{
    const char *key;
    json_t *val;

    json_object_foreach(obj, key, val)
    {
        const char *prop = key, *alias = v1 ? v2_name(key) : NULL;
        char *text = NULL;

        if (!v1 && !strcmp(key, "custom_fields"))
            continue;
        if (!route(m, prop, NULL, NULL)) {
            if (!alias || !route(m, alias, NULL, NULL))
                continue;
            prop = alias;
        }
        if (json_text(val, 0, &text) != 0) {
            bt_crm_why(why, why_len, "%s.%.64s: a %s that does not read as a value", path, key,
                       json_is_object(val) ? "typed object" : "list");
            return BT_EINVAL;
        }
        route(m, prop, text, f);
        bt_free(text);
    }
    return 0;
}

/* ---- bodies ------------------------------------------------------------ */

static const char *str_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static enum bt_change_kind v2_kind(const char *action)
{
    if (!strcmp(action, "create"))
        return BT_CHANGE_CREATE;
    if (!strcmp(action, "change"))
        return BT_CHANGE_UPDATE;
    if (!strcmp(action, "delete"))
        return BT_CHANGE_DELETE;
    return BT_CHANGE_IGNORE;
}

static enum bt_change_kind v1_kind(const char *action)
{
    if (!strcmp(action, "added"))
        return BT_CHANGE_CREATE;
    if (!strcmp(action, "updated"))
        return BT_CHANGE_UPDATE;
    if (!strcmp(action, "deleted"))
        return BT_CHANGE_DELETE;
    if (!strcmp(action, "merged"))
        return BT_CHANGE_MERGE;
    return BT_CHANGE_IGNORE;
}

/* v2's meta.timestamp is ISO 8601 in Pipedrive's documentation; some
 * deliveries carry Unix seconds instead, so both are read. */
static int v2_time(const json_t *v, int64_t *ms)
{
    if (json_is_string(v))
        return bt_parse_time_ms(json_string_value(v), ms);
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= INT64_MAX / 1000) {
        *ms = json_integer_value(v) * 1000;
        return 0;
    }
    return BT_EINVAL;
}

/* v1 events are told apart by microseconds; older bodies carry
 * timestamp_milli, and all carry timestamp (seconds). Whichever is there is
 * brought to microseconds, so the key is the same on every retry. */
static int v1_micros(const json_t *meta, int64_t *us)
{
    const json_t *v;

    v = json_object_get(meta, "timestamp_micro");
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *us = json_integer_value(v);
        return 0;
    }
    v = json_object_get(meta, "timestamp_milli");
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= INT64_MAX / 1000) {
        *us = json_integer_value(v) * 1000;
        return 0;
    }
    v = json_object_get(meta, "timestamp");
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= INT64_MAX / 1000000) {
        *us = json_integer_value(v) * 1000000;
        return 0;
    }
    return -1;
}

static int parse_v2(const struct bt_motion *m, json_t *root, const json_t *meta,
                    struct bt_changes *out, char *why, size_t why_len)
{
    const char *action = str_member(meta, "action"), *entity = str_member(meta, "entity");
    json_t *data = json_object_get(root, "data"), *custom;
    struct bt_change *c;
    int64_t at = 0;
    bool timed;
    int ret = BT_EINVAL;

    if (!action) {
        bt_crm_why(why, why_len, "meta.action: expected a string");
        goto out;
    }
    if (!entity) {
        bt_crm_why(why, why_len, "meta.entity: expected a string");
        goto out;
    }
    c = bt_changes_add(out);
    c->source = SRC;
    c->kind = strcmp(entity, "deal") ? BT_CHANGE_IGNORE : v2_kind(action);
    c->event_id = id_text(json_object_get(meta, "id"));
    c->deal_id = id_text(json_object_get(meta, "entity_id"));
    timed = v2_time(json_object_get(meta, "timestamp"), &at) == 0;
    c->occurred_at = timed ? at : 0;
    if (c->kind == BT_CHANGE_IGNORE) {
        /* Stored and answered, never acted on: whatever ids it has will do. */
        if (!c->event_id)
            c->event_id = bt_strdup("");
        if (c->deal_id && strcmp(entity, "deal") != 0) {
            bt_free(c->deal_id);
            c->deal_id = NULL;
        }
        if (!c->deal_id)
            c->deal_id = bt_strdup("");
        ret = 0;
        goto out;
    }
    if (!c->event_id) {
        bt_crm_why(why, why_len, "meta.id: expected the event's id");
        goto out;
    }
    if (!c->deal_id) {
        bt_crm_why(why, why_len, "meta.entity_id: expected the deal's id");
        goto out;
    }
    if (!timed) {
        bt_crm_why(why, why_len, "meta.timestamp: expected an ISO 8601 time");
        goto out;
    }
    if (c->kind == BT_CHANGE_DELETE) {
        ret = 0;
        goto out;
    }
    if (!json_is_object(data)) {
        bt_crm_why(why, why_len, "data: expected the deal as an object");
        goto out;
    }
    if (read_fields(m, data, "data", false, &c->fields, why, why_len) != 0)
        goto out;
    custom = json_object_get(data, "custom_fields");
    if (custom && !json_is_null(custom) && !json_is_object(custom)) {
        bt_crm_why(why, why_len, "data.custom_fields: expected an object");
        goto out;
    }
    if (json_is_object(custom) &&
        read_fields(m, custom, "data.custom_fields", false, &c->fields, why, why_len) != 0)
        goto out;
    ret = 0;
out:
    return ret;
}

/* v1's merged.deal: meta.id and current are the surviving deal, previous is
 * the deal merged away (current.merge_what_id names it too). */
static int v1_merged(json_t *root, struct bt_change *c, char *why, size_t why_len)
{
    const json_t *prev = json_object_get(root, "previous");
    char *gone = id_text(json_object_get(prev, "id"));

    if (!gone)
        gone = id_text(json_object_get(json_object_get(root, "current"), "merge_what_id"));
    if (!gone) {
        bt_crm_why(why, why_len, "previous.id: expected the id of the deal merged away");
        return BT_EINVAL;
    }
    if (!strcmp(gone, c->deal_id)) {
        bt_free(gone);
        bt_crm_why(why, why_len, "previous.id: a deal merged into itself");
        return BT_EINVAL;
    }
    c->merged_ids = bt_calloc(1, sizeof(char *));
    c->merged_ids[0] = gone;
    c->n_merged = 1;
    return 0;
}

static int parse_v1(const struct bt_motion *m, json_t *root, const json_t *meta,
                    struct bt_changes *out, char *why, size_t why_len)
{
    const char *action = str_member(meta, "action"), *object = str_member(meta, "object");
    json_t *current = json_object_get(root, "current");
    char *hook = NULL, *id = NULL;
    struct bt_change *c;
    int64_t us = -1;
    int ret = BT_EINVAL;

    if (!action) {
        bt_crm_why(why, why_len, "meta.action: expected a string");
        goto out;
    }
    if (!object) {
        bt_crm_why(why, why_len, "meta.object: expected a string");
        goto out;
    }
    hook = id_text(json_object_get(meta, "webhook_id"));
    id = id_text(json_object_get(meta, "id"));
    if (v1_micros(meta, &us) != 0)
        us = -1;
    c = bt_changes_add(out);
    c->source = SRC;
    c->kind = strcmp(object, "deal") ? BT_CHANGE_IGNORE : v1_kind(action);
    c->occurred_at = us >= 0 ? us / 1000 : 0;
    if (c->kind == BT_CHANGE_IGNORE) {
        /* v1 has no event id; the object's name keeps another object's key
         * from ever equalling a deal's. */
        char at[24] = "";

        if (us >= 0)
            snprintf(at, sizeof(at), "%" PRId64, us);
        c->event_id = bt_asprintf("v1:%s:%.32s:%s:%s", hook ? hook : "", object, id ? id : "", at);
        c->deal_id = bt_strdup(strcmp(object, "deal") || !id ? "" : id);
        ret = 0;
        goto out;
    }
    if (!hook) {
        bt_crm_why(why, why_len, "meta.webhook_id: expected the webhook's id");
        goto out;
    }
    if (!id) {
        bt_crm_why(why, why_len, "meta.id: expected the deal's id");
        goto out;
    }
    if (us < 0) {
        bt_crm_why(why, why_len, "meta.timestamp_micro: expected the event time");
        goto out;
    }
    /* The same event retried carries the same webhook, deal and time. */
    c->event_id = bt_asprintf("v1:%s:%s:%" PRId64, hook, id, us);
    c->deal_id = bt_strdup(id);
    if (c->kind == BT_CHANGE_DELETE) {
        ret = 0;
        goto out;
    }
    if (!json_is_object(current)) {
        bt_crm_why(why, why_len, "current: expected the deal as an object");
        goto out;
    }
    if (read_fields(m, current, "current", true, &c->fields, why, why_len) != 0)
        goto out;
    if (c->kind == BT_CHANGE_MERGE && v1_merged(root, c, why, why_len) != 0)
        goto out;
    ret = 0;
out:
    bt_free(hook);
    bt_free(id);
    return ret;
}

static int parse(const struct bt_motion *m, const struct bt_request *req, struct bt_changes *out,
                 char *why, size_t why_len)
{
    struct bt_changes tmp;
    json_t *root = NULL, *meta;
    int ret = BT_EINVAL;

    bt_changes_init(&tmp);
    if (!req->body || !req->body_len) {
        bt_crm_why(why, why_len, "empty body");
        goto out;
    }
    root = bt_json_parse_strict(req->body, req->body_len, why, why_len);
    if (!root)
        goto out;
    if (!json_is_object(root)) {
        bt_crm_why(why, why_len, "body is not a JSON object");
        goto out;
    }
    meta = json_object_get(root, "meta");
    if (!json_is_object(meta)) {
        bt_crm_why(why, why_len, "meta: expected an object");
        goto out;
    }
    /* v2 names the thing `entity`, v1 names it `object`. */
    if (json_object_get(meta, "entity"))
        ret = parse_v2(m, root, meta, &tmp, why, why_len);
    else if (json_object_get(meta, "object"))
        ret = parse_v1(m, root, meta, &tmp, why, why_len);
    else
        bt_crm_why(why, why_len, "meta: neither entity (v2) nor object (v1)");
    if (ret == 0)
        bt_changes_move(out, &tmp);
out:
    bt_changes_free(&tmp);
    json_decref(root);
    return ret;
}

const struct bt_crm_ops bt_crm_pipedrive = {
    .name = "pipedrive",
    .source = BT_SRC_PIPEDRIVE,
    .verify = verify,
    .parse = parse,
    .ok_content_type = "application/json",
    .ok_body = "{\"ok\":true}",
};
