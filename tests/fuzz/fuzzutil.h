/* What the intake fuzz targets share: a motion parsed once from YAML text,
 * and the check that every change an adapter returns survives its JSON
 * form (the journal's and the inbox's) unchanged. Included by one target
 * each, so the functions are static. */
#ifndef BT_FUZZUTIL_H
#define BT_FUZZUTIL_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crm.h"
#include "diag.h"
#include "mem.h"
#include "motion.h"

/* The motion of YAML, parsed on the first call (NULL when it does not
 * parse: the adapters must work without mappings too). */
static const struct bt_motion *fuzz_motion(const char *yaml, size_t len)
{
    static struct bt_motion *m;
    static int tried;
    struct bt_diags d;

    if (!tried) {
        tried = 1;
        bt_mem_init();
        bt_diags_init(&d);
        if (bt_motion_parse("fuzz.yaml", yaml, len, &m, &d) != 0)
            m = NULL;
        bt_diags_free(&d);
    }
    return m;
}

static void fuzz_round_trip(const struct bt_change *c)
{
    json_t *j = bt_change_to_json(c);
    struct bt_change back;
    struct bt_changes one;

    if (bt_change_from_json(j, &back) != 0 || strcmp(back.event_id, c->event_id) != 0 ||
        strcmp(back.deal_id, c->deal_id) != 0 || back.fields.n != c->fields.n ||
        back.n_merged != c->n_merged || back.occurred_at != c->occurred_at)
        abort();
    json_decref(j);
    bt_changes_init(&one);
    *bt_changes_add(&one) = back;
    bt_changes_free(&one);
}

#endif
