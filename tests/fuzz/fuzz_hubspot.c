/* HubSpot intake: any bytes as a webhook body must give changes or a 400
 * reason, never a crash; a body signed the v3 way must verify whatever it
 * holds; any bytes as a signature, timestamp or URL header must be refused
 * cleanly. Every change must survive the JSON round trip of the journal. */
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

#define SECRET "hs-client-secret-123"
#define URI    "https://baton.example.com/v1/webhooks/hubspot?x=%3A%2f"
#define TS     "1717000001234"
#define NOW    1717000001

static const char motion_yaml[] =
    "format: 1\n"
    "name: fuzz\n"
    "stages:\n"
    "  - {id: appointmentscheduled, label: Discovery}\n"
    "  - {id: closedwon, label: Won, outcome: won}\n"
    "  - {id: closedlost, label: Lost, outcome: lost}\n"
    "competitors:\n"
    "  - {id: acme, name: Acme, aliases: [\"ACME Inc.\"]}\n"
    "assets:\n"
    "  - {id: bc-acme, kind: battlecard, title: Acme, url: https://cms.example.com/acme}\n"
    "plays:\n"
    "  - {id: acme, when: {competitor: acme}, send: [bc-acme]}\n"
    "fields:\n"
    "  hubspot:\n"
    "    stage: {field: dealstage, values: {\"1\": appointmentscheduled}}\n"
    "    competitor: competitor\n"
    "    owner: hubspot_owner_id\n"
    "routing:\n"
    "  default: {channel: slack, to: C0DEALDESK}\n";

static const struct bt_motion *motion(void)
{
    return fuzz_motion(motion_yaml, sizeof(motion_yaml) - 1);
}

struct hdrs {
    const char *sig, *ts, *v1;
};

static const char *get_header(void *ctx, const char *name)
{
    const struct hdrs *h = ctx;

    if (!strcmp(name, "X-HubSpot-Signature-v3"))
        return h->sig;
    if (!strcmp(name, "X-HubSpot-Request-Timestamp"))
        return h->ts;
    if (!strcmp(name, "X-HubSpot-Signature"))
        return h->v1;
    return NULL;
}

static void parse(const struct bt_motion *m, const struct bt_request *req)
{
    struct bt_changes out;
    char why[256] = "";

    bt_changes_init(&out);
    if (bt_crm_find(BT_SRC_HUBSPOT)->parse(m, req, &out, why, sizeof(why)) == 0) {
        for (size_t i = 0; i < out.n; i++) {
            if (!out.v[i].event_id || !out.v[i].deal_id)
                abort();
            fuzz_round_trip(&out.v[i]);
        }
    } else if (out.n != 0 || why[0] == '\0') {
        abort();
    }
    bt_changes_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const secrets[] = {"old-secret", SECRET};
    const struct bt_crm_ops *ops;
    struct bt_crm_auth auth = {.secrets = secrets, .n_secrets = 2, .hubspot_v1 = true};
    char sig[BT_SIG_B64_LEN], why[256];
    struct hdrs h = {sig, TS, NULL};
    struct bt_request req = {.method = "POST",
                             .public_url = URI,
                             .header = get_header,
                             .header_ctx = &h,
                             .body = (const char *)data,
                             .body_len = size,
                             .now = NOW};
    /* The input as a header value or a URL: NUL-terminated, as the HTTP
     * layer hands them over. */
    char *text = bt_strndup((const char *)data, size);
    char *uri;

    motion();
    ops = bt_crm_find(BT_SRC_HUBSPOT);
    parse(motion(), &req);
    parse(NULL, &req);

    bt_sig_hubspot_v3_sign(SECRET, "POST", URI, req.body, size, TS, sig);
    if (ops->verify(&auth, &req, why, sizeof(why)) != 0)
        abort();
    h.sig = text;
    (void)ops->verify(&auth, &req, why, sizeof(why));
    h.sig = sig;
    h.ts = text;
    (void)ops->verify(&auth, &req, why, sizeof(why));
    h.sig = NULL;
    h.v1 = text;
    (void)ops->verify(&auth, &req, why, sizeof(why));
    uri = bt_sig_hubspot_uri(text);
    if (strlen(uri) > strlen(text))
        abort();
    req.public_url = text;
    h.sig = sig;
    h.ts = TS;
    (void)ops->verify(&auth, &req, why, sizeof(why));
    bt_free(uri);
    bt_free(text);
    return 0;
}
