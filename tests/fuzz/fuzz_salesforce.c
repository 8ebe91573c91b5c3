/* Salesforce's intake reads outside bytes twice: the secret path segment
 * and the SOAP body, which verify() parses too (for OrganizationId). Input:
 * the path token up to the first newline, then the body (copied to a buffer
 * of its exact size, unterminated, as the HTTP layer hands it over). Any
 * input must give 0 or an error, never a crash, a leak or undefined
 * behaviour, and never a file or network read. */
#include <libxml/parser.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crm.h"
#include "diag.h"
#include "mem.h"
#include "motion.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct bt_crm_ops bt_crm_salesforce;

/* The example motion's Salesforce mappings, plus a play condition on an
 * unmapped field, so every routing path is reached. */
static const char motion_yaml[] =
    "format: 1\n"
    "name: fuzz\n"
    "stages:\n"
    "  - {id: qualifiedtobuy, label: Qualified}\n"
    "  - {id: presentationscheduled, label: Demo}\n"
    "  - {id: closedwon, label: Won, outcome: won}\n"
    "  - {id: closedlost, label: Lost, outcome: lost}\n"
    "competitors:\n"
    "  - {id: acme, name: Acme}\n"
    "assets:\n"
    "  - {id: bc-acme, kind: battlecard, title: Acme, url: 'https://cms.example.com/a'}\n"
    "plays:\n"
    "  - id: p\n"
    "    when: {stage: [presentationscheduled], competitor: acme, Type: [New Business]}\n"
    "    send: [bc-acme]\n"
    "fields:\n"
    "  salesforce:\n"
    "    stage: {field: StageName, values: {'Proposal/Price Quote': presentationscheduled,\n"
    "            'Closed Won': closedwon, 'Closed Lost': closedlost}}\n"
    "    competitor: Main_Competitor__c\n"
    "    owner: OwnerId\n"
    "    name: Name\n"
    "    amount: Amount\n"
    "routing:\n"
    "  default: {channel: slack, to: C0DEALDESK}\n";

static struct bt_motion *motion;

/* Outbound Messages never need an external entity; one being asked for
 * would mean the DTD guard failed. */
static xmlParserInputPtr no_loads(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    (void)url, (void)id, (void)ctxt;
    abort();
}

/* The adapter keeps libxml2 quiet: outside input must never reach the
 * daemon's stderr through libxml2's global error handler. */
static void no_output(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct bt_diags d;

    (void)argc, (void)argv;
    bt_mem_init();
    xmlSetExternalEntityLoader(no_loads);
    xmlSetGenericErrorFunc(NULL, no_output);
    bt_diags_init(&d);
    if (bt_motion_parse("fuzz.yaml", motion_yaml, sizeof(motion_yaml) - 1, &motion, &d) != 0) {
        bt_diags_print(&d, stderr);
        abort();
    }
    bt_diags_free(&d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tokens[] = {"tok-9f8e7d6c5b4a"};
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - data) : 0;
    char *token = bt_strndup((const char *)data, tlen);
    size_t blen = nl ? size - tlen - 1 : size;
    char *body = bt_malloc(blen);
    struct bt_crm_auth auth = {
        .organization_id = "00D5g000000AbCdEAK",
        .path_tokens = tokens,
        .n_path_tokens = 1,
    };
    struct bt_request req = {
        .method = "POST",
        .public_url = "https://baton.example.com/v1/webhooks/salesforce/tok-9f8e7d6c5b4a",
        .path_token = nl ? token : NULL,
        .body = body,
        .body_len = blen,
        .now = 1716995520,
    };
    struct bt_changes out;
    char why[256];

    memcpy(body, nl ? nl + 1 : data, blen);
    bt_changes_init(&out);
    (void)bt_crm_salesforce.verify(&auth, &req, why, sizeof(why));
    if (bt_crm_salesforce.parse(motion, &req, &out, why, sizeof(why)) == 0) {
        if (out.n == 0 || out.n > 100)
            abort();
        for (size_t i = 0; i < out.n; i++) {
            if (!out.v[i].event_id || !out.v[i].deal_id)
                abort(); /* every change is storable */
            json_decref(bt_change_to_json(&out.v[i]));
        }
    } else if (out.n != 0 || !memchr(why, '\0', sizeof(why)) || !why[0]) {
        abort(); /* an error leaves the list alone and says why */
    }
    bt_changes_free(&out);
    bt_free(body);
    bt_free(token);
    return 0;
}
