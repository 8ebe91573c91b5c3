/* Pipedrive's intake reads outside bytes twice: the Authorization header
 * and the JSON body. Input: the header's value up to the first newline,
 * then the body (copied to a buffer of its exact size, unterminated, as the
 * HTTP layer hands it over). Any input must give 0 or an error, never a
 * crash, a leak or undefined behaviour. */
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

extern const struct bt_crm_ops bt_crm_pipedrive;

/* The example motion's Pipedrive mappings, plus a play condition on an
 * unmapped field, so every routing path is reached. */
static const char motion_yaml[] =
    "format: 1\n"
    "name: fuzz\n"
    "stages:\n"
    "  - {id: appointmentscheduled, label: Discovery}\n"
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
    "    when: {stage: [presentationscheduled], competitor: acme, org_id: ['1'],\n"
    "           industry: Healthcare}\n"
    "    send: [bc-acme]\n"
    "fields:\n"
    "  pipedrive:\n"
    "    stage: {field: stage_id, values: {'1': appointmentscheduled, '2': qualifiedtobuy,\n"
    "            '3': presentationscheduled, '4': closedwon, '5': closedlost}}\n"
    "    competitor: {field: 3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3, values: {'17': acme}}\n"
    "    owner: owner_id\n"
    "    name: title\n"
    "    amount: value\n"
    "    industry: 9a1b2c3d4e5f60718293a4b5c6d7e8f901234567\n"
    "routing:\n"
    "  default: {channel: slack, to: C0DEALDESK}\n";

static struct bt_motion *motion;

static const char *header(void *ctx, const char *name)
{
    return strcmp(name, "Authorization") ? NULL : ctx;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct bt_diags d;

    (void)argc, (void)argv;
    bt_mem_init();
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
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : 0;
    char *auth_header = bt_strndup((const char *)data, hlen);
    size_t blen = nl ? size - hlen - 1 : size;
    char *body = bt_malloc(blen);
    struct bt_crm_auth auth = {.username = "baton", .password = "s3cret"};
    struct bt_request req = {
        .method = "POST",
        .public_url = "https://baton.example.com/v1/webhooks/pipedrive",
        .header = header,
        .header_ctx = nl ? auth_header : NULL,
        .body = body,
        .body_len = blen,
        .now = 1716995520,
    };
    struct bt_changes out;
    char why[256];

    memcpy(body, nl ? nl + 1 : data, blen);
    bt_changes_init(&out);
    (void)bt_crm_pipedrive.verify(&auth, &req, why, sizeof(why));
    if (bt_crm_pipedrive.parse(motion, &req, &out, why, sizeof(why)) == 0) {
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
    bt_free(auth_header);
    return 0;
}
