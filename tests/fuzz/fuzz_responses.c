/* What outside services answer Baton: a push channel's response (Slack's
 * JSON, any status) and HubSpot's objects API. Any bytes must be classified
 * or refused, never crash. Input: one status byte, then the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deal.h"
#include "diag.h"
#include "fetch.h"
#include "lookup.h"
#include "mem.h"
#include "motion.h"
#include "push.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char MOTION[] =
    "format: 1\nname: fuzz\nstages:\n  - {id: a}\n  - {id: w, outcome: won}\n"
    "  - {id: l, outcome: lost}\nassets:\n  - {id: x, kind: deck, title: X, url: "
    "\"https://e.com/x\"}\nplays:\n  - {id: p, when: {stage: a, industry: Retail}, send: "
    "[x]}\nfields:\n  hubspot: {stage: dealstage, owner: hubspot_owner_id}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bt_motion *m;
    static const long statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 410, 429, 500, 503};
    struct bt_fetch_result res;
    struct bt_push_verdict v;
    struct bt_fields f;
    const char *names[] = {"slack", "teams", "webhook"};
    char *body;
    int64_t updated;

    if (!m) {
        struct bt_diags d;

        bt_diags_init(&d);
        if (bt_motion_parse("fuzz.yaml", MOTION, sizeof(MOTION) - 1, &m, &d) < 0)
            abort();
        bt_diags_free(&d);
    }
    if (size < 1)
        return 0;
    body = bt_strndup((const char *)data + 1, size - 1);
    memset(&res, 0, sizeof(res));
    res.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    res.err = data[0] >= 240 ? BT_EIO : 0;
    res.error = res.err ? "fuzzed transport error" : "";
    res.retry_after_ms = data[0] & 1 ? (int64_t)data[0] * 100 : -1;
    res.body = body;
    res.body_len = size - 1;
    for (size_t i = 0; i < 3; i++) {
        const struct bt_push_ops *ops = bt_push_ops_find(names[i]);

        memset(&v, 0, sizeof(v));
        if (ops && ops->classify)
            ops->classify(&res, &v);
    }
    bt_fields_init(&f);
    (void)!bt_lookup_hubspot_parse(m, body, size - 1, &f, &updated);
    bt_fields_free(&f);
    bt_free(body);
    return 0;
}
