/* motion — the motion definition: stages, competitors, assets, plays, field
 * mappings and routing, parsed from YAML (or JSON) and validated.
 *
 * A struct bt_motion is immutable once loaded and reference-counted, so a
 * reload can swap in a new one while work in flight keeps the old. All the
 * element structs and strings it hands out are owned by it and valid while a
 * reference is held. Loading never exits and never stops at the first
 * problem: every error goes into the caller's struct bt_diags with file,
 * line, column and node path. No callbacks; not thread-safe. */
#ifndef BT_MOTION_H
#define BT_MOTION_H

#include <stdbool.h>
#include <stddef.h>

#include "deal.h"
#include "diag.h"
#include "err.h"

enum bt_outcome { BT_OUTCOME_OPEN, BT_OUTCOME_WON, BT_OUTCOME_LOST };

struct bt_stage {
    const char *id, *label;
    enum bt_outcome outcome;
    size_t index; /* position in pipeline order */
};

struct bt_competitor {
    const char *id, *name;
    const char *const *aliases;
    size_t n_aliases;
};

struct bt_asset {
    const char *id, *kind, *title, *url, *owner; /* owner may be NULL */
    size_t index;
};

enum bt_cond_op {
    BT_COND_ANY_OF, /* the field equals one of values[] (case- and space-insensitive) */
    BT_COND_RANGE   /* the field is a number within [min, max], inclusive */
};

struct bt_cond {
    const char *field; /* "stage", "competitor" or any other deal field */
    enum bt_cond_op op;
    const char *const *values; /* ANY_OF; for stage and competitor: motion ids */
    size_t n_values;
    bool has_min, has_max; /* RANGE: an absent bound is open */
    double min, max;
};

struct bt_play {
    const char *id;
    const struct bt_cond *conds;
    size_t n_conds;
    const char *const *send; /* asset ids, in order of preference */
    size_t n_send;
    long priority; /* default 0 */
    size_t index;  /* file order */
    int line;
};

/* Channels a route may name. */
#define BT_CHANNELS(X) X(slack) X(teams) X(webhook) X(panel)

struct bt_route {
    const char *channel; /* one of BT_CHANNELS */
    const char *to;      /* slack/panel: an id; teams/webhook: a config target name */
};

struct bt_rep {
    const char *id, *name;
    const char *crm[BT_SRC_COUNT]; /* owner id per CRM; NULL where not given */
    struct bt_route route;
};

/* Where one deal field lives in one CRM. */
struct bt_field_map {
    const char *field; /* Baton's name: stage, competitor, owner, industry, ... */
    const char *prop;  /* the CRM's property / key */
    const char *const *from, *const *to; /* the `values` map: CRM value -> motion value */
    size_t n_values;
};

struct bt_motion;

/* Reads and validates FILE. On success *out holds one reference. On failure
 * returns BT_EIO or BT_EINVAL and appends every problem to diags. */
int bt_motion_load(const char *file, struct bt_motion **out, struct bt_diags *diags) BT_MUST_CHECK;
/* The same from memory; NAME is the file name used in diagnostics. */
int bt_motion_parse(const char *name, const char *buf, size_t len, struct bt_motion **out,
                    struct bt_diags *diags) BT_MUST_CHECK;
struct bt_motion *bt_motion_ref(struct bt_motion *m);
void bt_motion_unref(struct bt_motion *m); /* NULL-safe; frees on the last reference */

/* The exact bytes the motion was read from (for storing and hashing). */
const char *bt_motion_source(const struct bt_motion *m, size_t *len);
const char *bt_motion_name(const struct bt_motion *m);
int bt_motion_format(const struct bt_motion *m);
int bt_motion_max_assets(const struct bt_motion *m); /* max_assets_per_change, default 1 */

size_t bt_motion_n_stages(const struct bt_motion *m);
const struct bt_stage *bt_motion_stage(const struct bt_motion *m, size_t i);
const struct bt_stage *bt_motion_find_stage(const struct bt_motion *m, const char *id);
const struct bt_stage *bt_motion_qualified_from(const struct bt_motion *m); /* may be NULL */

size_t bt_motion_n_competitors(const struct bt_motion *m);
const struct bt_competitor *bt_motion_competitor(const struct bt_motion *m, size_t i);
const struct bt_competitor *bt_motion_find_competitor(const struct bt_motion *m, const char *id);
/* Folds what a CRM or a rep wrote ("ACME Inc.", " acme  corp") to a
 * competitor through its id, name and aliases, case- and space-insensitively.
 * NULL when nothing matches. */
const struct bt_competitor *bt_motion_fold_competitor(const struct bt_motion *m, const char *raw);

size_t bt_motion_n_assets(const struct bt_motion *m);
const struct bt_asset *bt_motion_asset(const struct bt_motion *m, size_t i);
const struct bt_asset *bt_motion_find_asset(const struct bt_motion *m, const char *id);

size_t bt_motion_n_plays(const struct bt_motion *m);
const struct bt_play *bt_motion_play(const struct bt_motion *m, size_t i);
const struct bt_play *bt_motion_find_play(const struct bt_motion *m, const char *id);

/* Field mappings of one source, in file order. A deal field with no mapping
 * is read from the property of the same name. */
size_t bt_motion_n_field_maps(const struct bt_motion *m, enum bt_source src);
const struct bt_field_map *bt_motion_field_map(const struct bt_motion *m, enum bt_source src,
                                               size_t i);
/* The mapping whose CRM property is PROP, or NULL. */
const struct bt_field_map *bt_motion_field_by_prop(const struct bt_motion *m, enum bt_source src,
                                                   const char *prop);
/* The mapping of Baton field FIELD, or NULL. */
const struct bt_field_map *bt_motion_field_by_name(const struct bt_motion *m, enum bt_source src,
                                                   const char *field);
/* VALUE through the mapping's `values` map; VALUE itself when not listed. */
const char *bt_field_map_value(const struct bt_field_map *fm, const char *value);

size_t bt_motion_n_reps(const struct bt_motion *m);
const struct bt_rep *bt_motion_rep(const struct bt_motion *m, size_t i);
const struct bt_rep *bt_motion_find_rep(const struct bt_motion *m, const char *id);
/* The rep whose CRM owner id in SRC is OWNER, or NULL. */
const struct bt_rep *bt_motion_rep_for_owner(const struct bt_motion *m, enum bt_source src,
                                             const char *owner);
const struct bt_route *bt_motion_default_route(const struct bt_motion *m); /* may be NULL */

/* Deal fields that some play's conditions name (besides stage and
 * competitor), for CRM look-ups: NULL-terminated, owned by the motion. */
const char *const *bt_motion_condition_fields(const struct bt_motion *m);

/* "Mid-market new business: 7 stages, 5 competitors, 12 assets, 15 plays,
 * 3 reps": a new string (bt_free). */
char *bt_motion_summary(const struct bt_motion *m);

#endif
