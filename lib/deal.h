/* deal — what Baton knows of one deal: its source, id and a small set of
 * named fields (stage, competitor, owner, name, amount, currency, pipeline
 * and any field the motion's plays name).
 *
 * Field names are Baton's (the motion's), never the CRM's property names;
 * values are text as the CRM sent them after the motion's `values` maps.
 * struct bt_fields owns copies of everything it holds. No callbacks. */
#ifndef BT_DEAL_H
#define BT_DEAL_H

#include <stddef.h>

#include "err.h"

enum bt_source {
    BT_SRC_HUBSPOT,
    BT_SRC_PIPEDRIVE,
    BT_SRC_SALESFORCE,
    BT_SRC_GENERIC,
    BT_SRC_COUNT
};

/* "hubspot", "pipedrive", "salesforce", "generic". */
const char *bt_source_name(enum bt_source src);
/* The source named S, or -1. */
int bt_source_parse(const char *s);

struct bt_field {
    char *name;
    char *value; /* NULL: known to be empty (cleared in the CRM) */
};

struct bt_fields {
    struct bt_field *v;
    size_t n, alloc;
};

void bt_fields_init(struct bt_fields *f);
void bt_fields_free(struct bt_fields *f);
/* Sets NAME to a copy of VALUE (NULL clears it but keeps it known). */
void bt_fields_set(struct bt_fields *f, const char *name, const char *value);
/* The value of NAME, or NULL when absent or empty. */
const char *bt_fields_get(const struct bt_fields *f, const char *name);
/* Whether NAME is present at all (even if empty). */
int bt_fields_has(const struct bt_fields *f, const char *name);

#endif
