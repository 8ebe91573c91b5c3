/* The motion file is read from disk on every reload and from `baton check`:
 * any bytes must give a motion or diagnostics, never a crash, a leak or a
 * runaway. A motion that loads must answer its accessors consistently. */
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "mem.h"
#include "motion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bt_diags d;
    struct bt_motion *m = NULL;

    bt_diags_init(&d);
    if (bt_motion_parse("fuzz.yaml", (const char *)data, size, &m, &d) == 0) {
        char *s = bt_motion_summary(m);

        bt_free(s);
        for (size_t i = 0; i < bt_motion_n_stages(m); i++)
            if (bt_motion_find_stage(m, bt_motion_stage(m, i)->id) == NULL)
                __builtin_trap();
        for (size_t i = 0; i < bt_motion_n_competitors(m); i++)
            if (bt_motion_fold_competitor(m, bt_motion_competitor(m, i)->id) == NULL)
                __builtin_trap();
        for (size_t i = 0; i < bt_motion_n_assets(m); i++)
            if (bt_motion_find_asset(m, bt_motion_asset(m, i)->id) == NULL)
                __builtin_trap();
        for (size_t i = 0; i < bt_motion_n_reps(m); i++) {
            const struct bt_rep *r = bt_motion_rep(m, i);

            for (int src = 0; src < BT_SRC_COUNT; src++)
                if (r->crm[src] && !bt_motion_rep_for_owner(m, (enum bt_source)src, r->crm[src]))
                    __builtin_trap();
        }
        (void)bt_motion_condition_fields(m);
        bt_motion_unref(m);
    } else if (d.n == 0) {
        __builtin_trap(); /* a refusal always says why */
    }
    bt_diags_free(&d);
    return 0;
}
