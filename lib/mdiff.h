/* mdiff — what changes between two motion definitions: which stages,
 * competitors, assets, plays, field mappings and routing reps are added,
 * removed or changed (and, for a changed one, which of its attributes), and
 * changes to the motion's own settings and default route.
 *
 * Pure: reads two loaded motions and builds a list. The diff owns every
 * string it hands out and does not keep references to either motion, so it
 * outlives them. No callbacks; not thread-safe (one diff per thread). */
#ifndef BT_MDIFF_H
#define BT_MDIFF_H

#include <stddef.h>
#include <stdio.h>

#include "motion.h"

/* What an entry is about. Entries come in this order, then in the order of
 * the new motion (removed items: in the order of the old one, after). */
#define BT_MDIFF_ITEMS(X)                                                                         \
    X(MOTION, "motion") /* name, format, max_assets_per_change, ... */                            \
    X(STAGE, "stage")                                                                             \
    X(COMPETITOR, "competitor")                                                                   \
    X(ASSET, "asset")                                                                             \
    X(PLAY, "play")                                                                               \
    X(FIELD, "field") /* id: "SOURCE.FIELD", as in fields.hubspot.stage */                        \
    X(REP, "rep")                                                                                 \
    X(DEFAULT_ROUTE, "default route")

enum bt_mdiff_item {
#define BT_MDIFF_ENUM(name, label) BT_MDIFF_##name,
    BT_MDIFF_ITEMS(BT_MDIFF_ENUM)
#undef BT_MDIFF_ENUM
};

enum bt_mdiff_kind { BT_MDIFF_ADDED, BT_MDIFF_REMOVED, BT_MDIFF_CHANGED };

/* One changed attribute, with both values rendered as short text ("a, b";
 * a play's conditions as "competitor: acme; stage: demo"). NULL: absent. */
struct bt_mdiff_attr {
    const char *name; /* "title", "url", "when", "send", "priority", "channel", ... */
    const char *old_value, *new_value;
};

struct bt_mdiff_entry {
    enum bt_mdiff_item item;
    enum bt_mdiff_kind kind;
    const char *id; /* the item's id; the motion's name for MOTION; NULL for DEFAULT_ROUTE */
    const struct bt_mdiff_attr *attrs; /* CHANGED: at least one; else none */
    size_t n_attrs;
};

struct bt_mdiff;

/* Compares OLD (NULL: nothing loaded yet, so everything is added) with NEW.
 * *out is new (bt_mdiff_free); this cannot fail. */
void bt_mdiff_new(const struct bt_motion *old_m, const struct bt_motion *new_m,
                  struct bt_mdiff **out);
void bt_mdiff_free(struct bt_mdiff *d); /* NULL-safe */

size_t bt_mdiff_count(const struct bt_mdiff *d); /* 0: no change that matters */
const struct bt_mdiff_entry *bt_mdiff_entry(const struct bt_mdiff *d, size_t i);
/* "asset", "play", "default route", ...; static. */
const char *bt_mdiff_item_name(enum bt_mdiff_item item);

/* Writes the diff for a person, one entry a line, each changed attribute
 * indented beneath its entry:
 *     + asset bc-globex
 *     - play acme-early
 *     ~ rep dana: channel, to
 *         channel: slack -> teams
 *         to: U024BE7LH -> emea-deals
 * or "no changes". */
void bt_mdiff_print(const struct bt_mdiff *d, FILE *out);

#endif
