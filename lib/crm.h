/* crm — CRM intake adapters: raw webhook bytes in, normalized deal changes
 * (or an error with a reason) out.
 *
 * Adapters are pure functions of their inputs: no I/O, no globals, no
 * callbacks, so they are unit-tested and fuzzed without a server. Each
 * adapter fills a const struct bt_crm_ops; bt_crm_find() is the registry.
 * Field names in changes are Baton's (the motion's `fields.<source>` map
 * translates CRM properties and `values`); competitor values are kept as the
 * CRM wrote them (after `values`) and folded to motion ids when matched. */
#ifndef BT_CRM_H
#define BT_CRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deal.h"
#include "err.h"
#include "motion.h"

enum bt_change_kind {
    BT_CHANGE_UPDATE, /* fields changed (partial state: absent = unchanged) */
    BT_CHANGE_CREATE, /* the deal was created; fields hold what was sent */
    BT_CHANGE_DELETE, /* the deal was deleted: it matches nothing more */
    BT_CHANGE_MERGE,  /* merged_ids were merged into deal_id */
    BT_CHANGE_IGNORE  /* a valid event Baton does not act on (stored, answered 2xx) */
};

struct bt_change {
    enum bt_source source;
    enum bt_change_kind kind;
    char *event_id; /* the sender's idempotency key, unique per source */
    char *deal_id;
    int64_t occurred_at; /* ms since the epoch; when the change happened */
    struct bt_fields fields;
    char **merged_ids; /* MERGE only */
    size_t n_merged;
};

struct bt_changes {
    struct bt_change *v;
    size_t n, alloc;
};

void bt_changes_init(struct bt_changes *c);
void bt_changes_free(struct bt_changes *c);
/* Appends a zeroed change (fields initialized) and returns it. */
struct bt_change *bt_changes_add(struct bt_changes *c);

/* The parts of an HTTP request an adapter may look at. */
struct bt_request {
    const char *method;     /* "POST" */
    const char *public_url; /* the URL the sender called, rebuilt from config's
                               public_url + path + query (HubSpot v3 signs it) */
    const char *path_token; /* Salesforce: the {path_token} segment, else NULL */
    /* A header's value (case-insensitive name), or NULL. */
    const char *(*header)(void *ctx, const char *name);
    void *header_ctx;
    const char *body;
    size_t body_len;
    int64_t now; /* seconds since the epoch, for timestamp windows */
};

/* What the config gives an adapter to check authenticity with. Several
 * secrets may be valid at once, so they can be rotated without a gap. */
struct bt_crm_auth {
    const char *const *secrets; /* hubspot client secrets; generic whsec_ secrets */
    size_t n_secrets;
    bool hubspot_v1;                 /* also accept HubSpot's v1 signature */
    const char *username, *password; /* pipedrive: HTTP Basic */
    const char *organization_id;     /* salesforce */
    const char *const *path_tokens;  /* salesforce */
    size_t n_path_tokens;
};

struct bt_crm_ops {
    const char *name;
    enum bt_source source;
    /* 0, or BT_EAUTH with a reason in why (never a secret). */
    int (*verify)(const struct bt_crm_auth *auth, const struct bt_request *req, char *why,
                  size_t why_len);
    /* Appends the body's changes to out. 0, or BT_EINVAL with a reason in why;
     * on error out is left as it was. */
    int (*parse)(const struct bt_motion *m, const struct bt_request *req, struct bt_changes *out,
                 char *why, size_t why_len);
    const char *ok_content_type; /* the 2xx answer: "application/json" or "text/xml" */
    const char *ok_body;         /* its body */
};

/* The adapter for SOURCE, or NULL. */
const struct bt_crm_ops *bt_crm_find(enum bt_source source);

/* A change as JSON (for the journal and the inbox) and back: new
 * reference / BT_EINVAL on a malformed object. */
struct json_t;
struct json_t *bt_change_to_json(const struct bt_change *c);
int bt_change_from_json(const struct json_t *j, struct bt_change *out) BT_MUST_CHECK;

/* Writes a reason (printf-style) into WHY for an adapter's caller; WHY
 * may be NULL. Never pass a secret. */
void bt_crm_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses JSON strictly for adapters: duplicate keys rejected, integers
 * outside int64 rejected, depth bounded. New reference or NULL with a reason. */
struct json_t *bt_json_parse_strict(const char *buf, size_t len, char *why, size_t why_len);

/* A JSON scalar as text, for storing as a field value: strings as sent,
 * integers in full, reals in the shortest form that reads back as the same
 * double (integral ones without an exponent), booleans as true/false.
 * *TEXT is NULL for null and for the empty string (both mean "cleared"), and
 * points into V or BUF (at least 40 bytes). -1 for objects and arrays. */
int bt_json_scalar_text(const struct json_t *v, char *buf, size_t len, const char **text);

/* Appends every change of FROM to TO and leaves FROM empty. */
void bt_changes_move(struct bt_changes *to, struct bt_changes *from);

/* Where a CRM keeps Baton's standard fields when the motion does not say. */
struct bt_crm_default {
    const char *field, *prop;
};

/* Whether the property PROP of SRC should be stored under its own name: a
 * play's condition names a field PROP that the motion does not map and that
 * is not one of the CRM's DEFAULTS (motion.h: "a deal field with no mapping
 * is read from the property of the same name"). */
bool bt_crm_same_name_field(const struct bt_motion *m, enum bt_source src,
                            const struct bt_crm_default *defaults, size_t n_defaults,
                            const char *prop);

/* Parses ISO-8601 / RFC 3339 times ("2024-05-29T15:11:55Z",
 * "2024-05-29T15:11:55.724+02:00", "2024-05-29 15:11:55" as UTC) to ms. */
int bt_parse_time_ms(const char *s, int64_t *out) BT_MUST_CHECK;

#endif
