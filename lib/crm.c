/* crm — what every intake adapter shares: the change list, the JSON form of
 * a change, strict JSON parsing, time parsing, and the adapter registry. */
#include "crm.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "mem.h"

/* The registry. Adding an adapter is its file plus one line here. */
extern const struct bt_crm_ops bt_crm_hubspot, bt_crm_generic;
extern const struct bt_crm_ops bt_crm_pipedrive, bt_crm_salesforce;

static const struct bt_crm_ops *const adapters[] = {
    &bt_crm_hubspot,
    &bt_crm_generic,
    &bt_crm_pipedrive,
    &bt_crm_salesforce,
};

const struct bt_crm_ops *bt_crm_find(enum bt_source source)
{
    for (size_t i = 0; i < sizeof(adapters) / sizeof(adapters[0]); i++)
        if (adapters[i]->source == source)
            return adapters[i];
    return NULL;
}

/* Shared by the JSON intakes; see crm.h. */
int bt_json_scalar_text(const json_t *v, char *buf, size_t len, const char **text)
{
    double d;

    *text = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (json_string_length(v))
            *text = json_string_value(v);
        return 0;
    case JSON_INTEGER:
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        d = json_real_value(v);
        if (fabs(d) < 9007199254740992.0 && d == floor(d)) {
            snprintf(buf, len, "%.0f", d);
        } else {
            for (int p = 1; p <= 17; p++) {
                snprintf(buf, len, "%.*g", p, d);
                if (strtod(buf, NULL) == d)
                    break;
            }
        }
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
        break;
    case JSON_NULL:
        return 0;
    default:
        return -1;
    }
    *text = buf;
    return 0;
}

void bt_changes_move(struct bt_changes *to, struct bt_changes *from)
{
    for (size_t i = 0; i < from->n; i++)
        *bt_changes_add(to) = from->v[i];
    from->n = 0;
    bt_changes_free(from);
}

bool bt_crm_same_name_field(const struct bt_motion *m, enum bt_source src,
                            const struct bt_crm_default *defaults, size_t n_defaults,
                            const char *prop)
{
    const char *const *cf = m ? bt_motion_condition_fields(m) : NULL;

    if (!cf || bt_motion_field_by_name(m, src, prop))
        return false;
    for (size_t i = 0; i < n_defaults; i++)
        if (!strcmp(defaults[i].field, prop))
            return false;
    for (; *cf; cf++)
        if (!strcmp(*cf, prop))
            return true;
    return false;
}

void bt_changes_init(struct bt_changes *c)
{
    c->v = NULL;
    c->n = c->alloc = 0;
}

static void change_free(struct bt_change *c)
{
    bt_free(c->event_id);
    bt_free(c->deal_id);
    bt_fields_free(&c->fields);
    for (size_t i = 0; i < c->n_merged; i++)
        bt_free(c->merged_ids[i]);
    bt_free(c->merged_ids);
}

void bt_changes_free(struct bt_changes *c)
{
    for (size_t i = 0; i < c->n; i++)
        change_free(&c->v[i]);
    bt_free(c->v);
    bt_changes_init(c);
}

static void change_init(struct bt_change *c)
{
    memset(c, 0, sizeof(*c));
    bt_fields_init(&c->fields);
}

struct bt_change *bt_changes_add(struct bt_changes *c)
{
    struct bt_change *e;

    if (c->n == c->alloc) {
        c->alloc = c->alloc ? c->alloc * 2 : 8;
        c->v = bt_reallocarray(c->v, c->alloc, sizeof(*c->v));
    }
    e = &c->v[c->n++];
    change_init(e);
    return e;
}

/* The JSON form is stored (journal, inbox), so its names are spelled out
 * rather than numbered: a reordered enum must not change old records. */
static const char *const kind_names[] = {
    [BT_CHANGE_UPDATE] = "update", [BT_CHANGE_CREATE] = "create", [BT_CHANGE_DELETE] = "delete",
    [BT_CHANGE_MERGE] = "merge",   [BT_CHANGE_IGNORE] = "ignore",
};

enum { N_KINDS = sizeof(kind_names) / sizeof(kind_names[0]) };

struct json_t *bt_change_to_json(const struct bt_change *c)
{
    json_t *j = json_object(), *fields = json_object();

    json_object_set_new(j, "source", json_string(bt_source_name(c->source)));
    json_object_set_new(j, "kind",
                        json_string((unsigned)c->kind < N_KINDS ? kind_names[c->kind] : "ignore"));
    json_object_set_new(j, "event_id", json_string(c->event_id ? c->event_id : ""));
    json_object_set_new(j, "deal_id", json_string(c->deal_id ? c->deal_id : ""));
    json_object_set_new(j, "occurred_at", json_integer(c->occurred_at));
    for (size_t i = 0; i < c->fields.n; i++) {
        const struct bt_field *f = &c->fields.v[i];

        json_object_set_new(fields, f->name, f->value ? json_string(f->value) : json_null());
    }
    json_object_set_new(j, "fields", fields);
    if (c->kind == BT_CHANGE_MERGE || c->n_merged) {
        json_t *merged = json_array();

        for (size_t i = 0; i < c->n_merged; i++)
            json_array_append_new(merged, json_string(c->merged_ids[i]));
        json_object_set_new(j, "merged_ids", merged);
    }
    return j;
}

int bt_change_from_json(const struct json_t *j, struct bt_change *out)
{
    const json_t *v, *fields, *merged;
    const char *key;
    int src, ret = BT_EINVAL;
    size_t i;

    change_init(out);
    if (!json_is_object(j))
        goto out;
    v = json_object_get(j, "source");
    src = json_is_string(v) ? bt_source_parse(json_string_value(v)) : -1;
    if (src < 0)
        goto out;
    out->source = (enum bt_source)src;
    v = json_object_get(j, "kind");
    if (!json_is_string(v))
        goto out;
    for (i = 0; i < N_KINDS; i++)
        if (!strcmp(json_string_value(v), kind_names[i]))
            break;
    if (i == N_KINDS)
        goto out;
    out->kind = (enum bt_change_kind)i;
    v = json_object_get(j, "event_id");
    if (!json_is_string(v))
        goto out;
    out->event_id = bt_strdup(json_string_value(v));
    v = json_object_get(j, "deal_id");
    if (!json_is_string(v))
        goto out;
    out->deal_id = bt_strdup(json_string_value(v));
    v = json_object_get(j, "occurred_at");
    if (!json_is_integer(v))
        goto out;
    out->occurred_at = json_integer_value(v);
    fields = json_object_get(j, "fields");
    if (fields && !json_is_object(fields))
        goto out;
    json_object_foreach((json_t *)fields, key, v)
    {
        if (!json_is_string(v) && !json_is_null(v))
            goto out;
        bt_fields_set(&out->fields, key, json_is_string(v) ? json_string_value(v) : NULL);
    }
    merged = json_object_get(j, "merged_ids");
    if (merged && !json_is_array(merged))
        goto out;
    if (json_array_size(merged)) {
        out->merged_ids = bt_calloc(json_array_size(merged), sizeof(char *));
        json_array_foreach(merged, i, v)
        {
            if (!json_is_string(v))
                goto out;
            out->merged_ids[out->n_merged++] = bt_strdup(json_string_value(v));
        }
    }
    ret = 0;
out:
    if (ret != 0) {
        change_free(out);
        change_init(out);
    }
    return ret;
}

enum { JSON_DEPTH_MAX = 64 };

/* Jansson's own limit is 2048 levels, far beyond any webhook and deep enough
 * to cost stack in every walker after it; one pass over the bytes, minding
 * strings, is cheaper than parsing first and checking after. */
static int nesting_ok(const char *buf, size_t len)
{
    size_t depth = 0;
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        char c = buf[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > JSON_DEPTH_MAX)
                return 0;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return 1;
}

void bt_crm_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (!why || !why_len)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

struct json_t *bt_json_parse_strict(const char *buf, size_t len, char *why, size_t why_len)
{
    json_error_t err;
    json_t *j = NULL;

    if (!nesting_ok(buf, len)) {
        bt_crm_why(why, why_len, "nesting deeper than %d levels", JSON_DEPTH_MAX);
        goto out;
    }
    j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    if (j)
        goto out;
    switch (json_error_code(&err)) {
    case json_error_numeric_overflow:
        bt_crm_why(why, why_len, "number out of range");
        break;
    case json_error_wrong_type:
        bt_crm_why(why, why_len, "body is not a JSON object or array");
        break;
    default:
        bt_crm_why(why, why_len, "invalid JSON: %s (line %d, column %d)", err.text, err.line,
                   err.column);
        break;
    }
out:
    return j;
}

/* N digits at S as a number, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm, no time zone database, no locale. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

int bt_parse_time_ms(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, ms = 0, off = 0, ret = BT_EINVAL;
    bool space;
    size_t i;

    /* Fixed-width fields: "YYYY-MM-DDTHH:MM:SS" is 19 characters; each
     * check below reads only within what the previous ones proved present,
     * and the terminating NUL fails every digit or separator test. */
    y = digits(s, 4);
    if (y < 0 || s[4] != '-')
        goto out;
    mo = digits(s + 5, 2);
    if (mo < 1 || mo > 12 || s[7] != '-')
        goto out;
    d = digits(s + 8, 2);
    if (d < 1 || d > days_in_month(y, mo))
        goto out;
    space = s[10] == ' ';
    if (s[10] != 'T' && s[10] != 't' && !space)
        goto out;
    h = digits(s + 11, 2);
    if (h < 0 || h > 23 || s[13] != ':')
        goto out;
    mi = digits(s + 14, 2);
    if (mi < 0 || mi > 59 || s[16] != ':')
        goto out;
    sec = digits(s + 17, 2);
    if (sec < 0 || sec > 60) /* 60: a leap second, counted into the next minute */
        goto out;
    i = 19;
    if (s[i] == '.') {
        int scale = 100;

        i++;
        if (s[i] < '0' || s[i] > '9')
            goto out;
        /* Milliseconds are all Baton keeps; further digits are read and
         * dropped (truncated, never rounded into the next second). */
        for (int nd = 0; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
            if (nd == 9) /* nanoseconds are the finest anyone sends */
                goto out;
            ms += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int oh = digits(s + i + 1, 2), om;

        if (oh < 0 || oh > 23 || s[i + 3] != ':')
            goto out;
        om = digits(s + i + 4, 2);
        if (om < 0 || om > 59)
            goto out;
        off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else if (!space) {
        /* "T" without a zone is a local time of an unknown zone: refused
         * rather than guessed. The space form is Pipedrive's, in UTC. */
        goto out;
    }
    if (s[i] != '\0')
        goto out;
    *out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off) * 60000 + sec * 1000LL + ms;
    ret = 0;
out:
    return ret;
}
