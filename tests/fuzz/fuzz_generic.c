/* Generic intake: any bytes as a webhook body must give a change or a 400
 * reason, never a crash; a body signed the Standard Webhooks way must verify
 * whatever it holds; any bytes as a signature list, timestamp or time field
 * must be refused cleanly. Every change must survive the JSON round trip of
 * the journal. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crm.h"
#include "diag.h"
#include "mem.h"
#include "motion.h"
#include "sig.h"
#include "fuzzutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define ID     "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
#define TS     "1716995516"
#define NOW    1716995516

static const char motion_yaml[] =
    "format: 1\n"
    "name: fuzz\n"
    "stages:\n"
    "  - {id: presentationscheduled, label: Demo}\n"
    "  - {id: closedwon, label: Won, outcome: won}\n"
    "  - {id: closedlost, label: Lost, outcome: lost}\n"
    "competitors:\n"
    "  - {id: acme, name: Acme}\n"
    "assets:\n"
    "  - {id: bc-acme, kind: battlecard, title: Acme, url: https://cms.example.com/acme}\n"
    "plays:\n"
    "  - {id: acme, when: {competitor: acme, industry: Healthcare}, send: [bc-acme]}\n"
    "fields:\n"
    "  generic:\n"
    "    stage: {field: status, values: {\"s3\": presentationscheduled}}\n"
    "    industry: vertical\n"
    "routing:\n"
    "  default: {channel: slack, to: C0DEALDESK}\n";

static const struct bt_motion *motion(void)
{
    return fuzz_motion(motion_yaml, sizeof(motion_yaml) - 1);
}

struct hdrs {
    const char *id, *ts, *sig;
};

static const char *get_header(void *ctx, const char *name)
{
    const struct hdrs *h = ctx;

    if (!strcmp(name, "webhook-id"))
        return h->id;
    if (!strcmp(name, "webhook-timestamp"))
        return h->ts;
    if (!strcmp(name, "webhook-signature"))
        return h->sig;
    return NULL;
}

static void parse(const struct bt_motion *m, const struct bt_request *req)
{
    struct bt_changes out;
    char why[256] = "";

    bt_changes_init(&out);
    if (bt_crm_find(BT_SRC_GENERIC)->parse(m, req, &out, why, sizeof(why)) == 0) {
        if (out.n != 1)
            abort();
        fuzz_round_trip(&out.v[0]);
    } else if (out.n != 0 || why[0] == '\0') {
        abort();
    }
    bt_changes_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const secrets[] = {"whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==", SECRET};
    const struct bt_crm_ops *ops;
    struct bt_crm_auth auth = {.secrets = secrets, .n_secrets = 2};
    struct hdrs h = {ID, TS, NULL};
    struct bt_request req = {.method = "POST",
                             .public_url = "https://baton.example.com/v1/webhooks/generic",
                             .header = get_header,
                             .header_ctx = &h,
                             .body = (const char *)data,
                             .body_len = size,
                             .now = NOW};
    /* The input as a header value: NUL-terminated, as the HTTP layer hands
     * it over. */
    char *text = bt_strndup((const char *)data, size);
    char *sig = NULL, why[256];
    int64_t ms;

    motion();
    ops = bt_crm_find(BT_SRC_GENERIC);
    parse(motion(), &req);
    parse(NULL, &req);

    if (bt_sig_stdwh_sign(SECRET, ID, 1716995516, req.body, size, &sig) != 0)
        abort();
    h.sig = sig;
    if (ops->verify(&auth, &req, why, sizeof(why)) != 0)
        abort();
    h.sig = text;
    (void)ops->verify(&auth, &req, why, sizeof(why));
    h.sig = sig;
    h.ts = text;
    (void)ops->verify(&auth, &req, why, sizeof(why));
    h.ts = TS;
    h.id = text;
    (void)ops->verify(&auth, &req, why, sizeof(why));
    (void)bt_parse_time_ms(text, &ms);
    (void)bt_sig_stdwh_secret_ok(text);
    bt_free(sig);
    bt_free(text);
    return 0;
}
