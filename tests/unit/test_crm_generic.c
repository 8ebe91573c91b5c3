#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crm.h"
#include "diag.h"
#include "mem.h"
#include "motion.h"
#include "sig.h"

/* standard-webhooks/signature-vector.json */
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define ID     "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
#define TS     "1716995516"
#define NOW    1716995516
#define SIG    "v1,wWUF8MUY7YGLpVqeeZCpA0u8PFTm5dJs90j6qoVsSwM="

/* A motion whose generic sender names things its own way: the stage comes
 * in `status` with its own ids, the industry in `vertical`. */
static const char mapped_motion[] =
    "format: 1\n"
    "name: Generic mapping\n"
    "stages:\n"
    "  - {id: qualifiedtobuy, label: Qualified}\n"
    "  - {id: presentationscheduled, label: Demo}\n"
    "  - {id: closedwon, label: Won, outcome: won}\n"
    "  - {id: closedlost, label: Lost, outcome: lost}\n"
    "competitors:\n"
    "  - {id: acme, name: Acme}\n"
    "assets:\n"
    "  - {id: bc-acme, kind: battlecard, title: Acme, url: https://cms.example.com/acme}\n"
    "plays:\n"
    "  - {id: acme, when: {competitor: acme}, send: [bc-acme]}\n"
    "fields:\n"
    "  generic:\n"
    "    stage: {field: status, values: {\"s3\": presentationscheduled}}\n"
    "    industry: {field: vertical}\n"
    "routing:\n"
    "  default: {channel: slack, to: C0DEALDESK}\n";

struct hdr {
    const char *name, *value;
};

struct motions {
    struct bt_motion *example, *mapped;
};

static const char *get_header(void *ctx, const char *name)
{
    for (const struct hdr *h = ctx; h && h->name; h++)
        if (!strcasecmp(h->name, name))
            return h->value;
    return NULL;
}

static struct hdr default_headers[] = {{"webhook-id", ID}, {NULL, NULL}};

static struct bt_request request(const char *body, size_t len, struct hdr *headers)
{
    struct bt_request r = {
        .method = "POST",
        .public_url = "https://baton.example.com/v1/webhooks/generic",
        .header = get_header,
        .header_ctx = headers ? headers : default_headers,
        .body = body,
        .body_len = len,
        .now = NOW,
    };
    return r;
}

static int setup(void **state)
{
    struct motions *ms = bt_calloc(1, sizeof(*ms));
    char *path = bt_test_source_path("config/motion.example.yaml");
    struct bt_diags d;

    bt_diags_init(&d);
    if (bt_motion_load(path, &ms->example, &d) != 0 ||
        bt_motion_parse("mapped.yaml", mapped_motion, sizeof(mapped_motion) - 1, &ms->mapped,
                        &d) != 0) {
        bt_diags_print(&d, stderr);
        fail_msg("cannot load the test motions");
    }
    bt_diags_free(&d);
    free(path);
    *state = ms;
    return 0;
}

static int teardown(void **state)
{
    struct motions *ms = *state;

    if (!ms)
        return 0;
    bt_motion_unref(ms->example);
    bt_motion_unref(ms->mapped);
    bt_free(ms);
    return 0;
}

static const struct bt_crm_ops *ops(void)
{
    const struct bt_crm_ops *o = bt_crm_find(BT_SRC_GENERIC);

    assert_non_null(o);
    return o;
}

static void parse_ok(const struct bt_motion *m, const char *body, struct bt_changes *out)
{
    struct bt_request r = request(body, strlen(body), NULL);
    char why[256] = "";

    bt_changes_init(out);
    if (ops()->parse(m, &r, out, why, sizeof(why)) != 0)
        fail_msg("parse failed: %s", why);
    assert_int_equal(out->n, 1);
}

static void parse_bad_h(const struct bt_motion *m, const char *body, struct hdr *h,
                        const char *want)
{
    struct bt_request r = request(body, strlen(body), h);
    struct bt_changes out;
    char why[256] = "";

    bt_changes_init(&out);
    bt_changes_add(&out)->event_id = bt_strdup("earlier");
    if (ops()->parse(m, &r, &out, why, sizeof(why)) != BT_EINVAL)
        fail_msg("accepted %s", body);
    if (!strstr(why, want))
        fail_msg("reason \"%s\" lacks \"%s\" for %s", why, want, body);
    assert_int_equal(out.n, 1);
    bt_changes_free(&out);
}

static void parse_bad(const struct bt_motion *m, const char *body, const char *want)
{
    parse_bad_h(m, body, NULL, want);
}

static void fixture(void **state)
{
    struct motions *ms = *state;
    struct bt_changes c;
    char *body = bt_test_read_fixture("standard-webhooks/deal-changed.json", NULL);
    const struct bt_fields *f;

    parse_ok(ms->example, body, &c);
    assert_int_equal(c.v[0].source, BT_SRC_GENERIC);
    assert_int_equal(c.v[0].kind, BT_CHANGE_UPDATE);
    assert_string_equal(c.v[0].event_id, ID);
    assert_string_equal(c.v[0].deal_id, "D-1001");
    assert_int_equal(c.v[0].occurred_at, 1716995515000);
    f = &c.v[0].fields;
    assert_int_equal(f->n, 8);
    assert_string_equal(bt_fields_get(f, "name"), "Umbrella Corp");
    assert_string_equal(bt_fields_get(f, "stage"), "presentationscheduled");
    assert_string_equal(bt_fields_get(f, "competitor"), "Acme");
    assert_string_equal(bt_fields_get(f, "owner"), "u-77");
    assert_string_equal(bt_fields_get(f, "amount"), "48000");
    assert_string_equal(bt_fields_get(f, "currency"), "EUR");
    assert_string_equal(bt_fields_get(f, "pipeline"), "new-business");
    assert_string_equal(bt_fields_get(f, "industry"), "Healthcare");
    bt_changes_free(&c);
    free(body);
}

#define BODY(type, data)                                                                          \
    "{\"type\":\"" type "\",\"timestamp\":\"2024-05-29T15:11:55Z\",\"data\":" data "}"

static void mapped_and_partial(void **state)
{
    struct motions *ms = *state;
    struct bt_changes c;
    const struct bt_fields *f;

    parse_ok(ms->mapped,
             BODY("deal.changed", "{\"deal_id\":1001,\"status\":\"s3\",\"stage\":\"closedwon\","
                                  "\"competitor\":null,\"amount\":\"48000.50\",\"fields\":{"
                                  "\"vertical\":\"Healthcare\",\"industry\":\"Retail\","
                                  "\"seats\":12.5,\"renewal\":true,\"tier\":\"\"}}"),
             &c);
    f = &c.v[0].fields;
    assert_string_equal(c.v[0].deal_id, "1001");
    /* status carries the stage, through its values; the body's own
     * "stage" and "industry" are not where this motion reads them. */
    assert_string_equal(bt_fields_get(f, "stage"), "presentationscheduled");
    assert_false(bt_fields_has(f, "status"));
    assert_string_equal(bt_fields_get(f, "industry"), "Healthcare");
    assert_false(bt_fields_has(f, "vertical"));
    /* null clears; absent stays unknown. */
    assert_true(bt_fields_has(f, "competitor"));
    assert_null(bt_fields_get(f, "competitor"));
    assert_false(bt_fields_has(f, "owner"));
    assert_string_equal(bt_fields_get(f, "amount"), "48000.50");
    assert_string_equal(bt_fields_get(f, "seats"), "12.5");
    assert_string_equal(bt_fields_get(f, "renewal"), "true");
    assert_true(bt_fields_has(f, "tier"));
    assert_null(bt_fields_get(f, "tier"));
    assert_int_equal(f->n, 7);
    bt_changes_free(&c);

    /* A value not in the map passes as sent. */
    parse_ok(ms->mapped, BODY("deal.changed", "{\"deal_id\":\"x\",\"status\":\"s9\"}"), &c);
    assert_string_equal(bt_fields_get(&c.v[0].fields, "stage"), "s9");
    bt_changes_free(&c);
}

static void numbers(void **state)
{
    static const struct {
        const char *json, *text;
    } cases[] = {
        {"48000", "48000"},
        {"48000.0", "48000"},
        {"-5", "-5"},
        {"0.1", "0.1"},
        {"1234.5678", "1234.5678"},
        {"123456789012345678", "123456789012345678"},
        {"-9223372036854775808", "-9223372036854775808"},
        {"1e21", "1e+21"},
        {"2.5e-7", "2.5e-07"},
        {"0.30000000000000004", "0.30000000000000004"},
    };
    struct motions *ms = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bt_changes c;
        char *body =
            bt_asprintf(BODY("deal.changed", "{\"deal_id\":\"d\",\"amount\":%s}"), cases[i].json);

        parse_ok(ms->example, body, &c);
        assert_string_equal(bt_fields_get(&c.v[0].fields, "amount"), cases[i].text);
        bt_changes_free(&c);
        bt_free(body);
    }
}

static void deleted(void **state)
{
    struct motions *ms = *state;
    struct bt_changes c;

    parse_ok(ms->example,
             "{\"type\":\"deal.deleted\",\"timestamp\":\"2024-05-29T17:11:55.5+02:00\","
             "\"data\":{\"deal_id\":\"D-1001\",\"stage\":\"closedlost\"}}",
             &c);
    assert_int_equal(c.v[0].kind, BT_CHANGE_DELETE);
    assert_string_equal(c.v[0].deal_id, "D-1001");
    assert_int_equal(c.v[0].occurred_at, 1716995515500);
    assert_int_equal(c.v[0].fields.n, 0);
    bt_changes_free(&c);
}

static void malformed(void **state)
{
    struct motions *ms = *state;
    const struct bt_motion *m = ms->example;
    struct bt_buf b;
    struct hdr none[] = {{NULL, NULL}};
    struct hdr empty[] = {{"webhook-id", ""}, {NULL, NULL}};

    parse_bad(m, "", "invalid JSON");
    parse_bad(m, "{\"type\":", "invalid JSON");
    parse_bad(m, "[]", "not a JSON object");
    parse_bad(m, "{\"timestamp\":\"2024-05-29T15:11:55Z\",\"data\":{\"deal_id\":\"d\"}}",
              "type is missing");
    parse_bad(m, BODY("deal.created", "{\"deal_id\":\"d\"}"), "unknown type");
    parse_bad(m, "{\"type\":1,\"timestamp\":\"2024-05-29T15:11:55Z\",\"data\":{}}",
              "type is not a string");
    parse_bad(m, "{\"type\":\"deal.changed\",\"data\":{\"deal_id\":\"d\"}}",
              "timestamp is missing");
    parse_bad(m,
              "{\"type\":\"deal.changed\",\"timestamp\":\"yesterday\",\"data\":{\"deal_id\":1}}",
              "timestamp is not an RFC 3339 time");
    parse_bad(m, "{\"type\":\"deal.changed\",\"timestamp\":1716995515,\"data\":{\"deal_id\":1}}",
              "timestamp is not a string");
    parse_bad(m, "{\"type\":\"deal.changed\",\"timestamp\":\"2024-05-29T15:11:55Z\"}",
              "data is missing");
    parse_bad(m, BODY("deal.changed", "[]"), "data is not an object");
    parse_bad(m, BODY("deal.changed", "{\"name\":\"x\"}"), "data.deal_id is missing");
    parse_bad(m, BODY("deal.deleted", "{}"), "data.deal_id is missing");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":true}"), "data.deal_id is not");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":1.5}"), "data.deal_id is not");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":\"\"}"), "data.deal_id is empty");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":\"d\",\"stage\":{\"id\":3}}"),
              "data.stage is not a string");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":\"d\",\"competitor\":[\"Acme\"]}"),
              "data.competitor is not a string");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":\"d\",\"fields\":[1]}"),
              "data.fields is not an object");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":\"d\",\"fields\":{\"a\":{}}}"),
              "data.fields.a is not");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":\"d\",\"amount\":1e400}"),
              "number out of range");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":99999999999999999999}"),
              "number out of range");
    parse_bad(m, BODY("deal.changed", "{\"deal_id\":\"d\",\"stage\":\"a\",\"stage\":\"b\"}"),
              "duplicate");
    parse_bad_h(m, BODY("deal.changed", "{\"deal_id\":\"d\"}"), none, "webhook-id");
    parse_bad_h(m, BODY("deal.changed", "{\"deal_id\":\"d\"}"), empty, "webhook-id");

    bt_buf_init(&b, 1 << 20);
    assert_int_equal(bt_buf_adds(&b, "{\"type\":\"deal.changed\",\"timestamp\":"
                                     "\"2024-05-29T15:11:55Z\",\"data\":{\"deal_id\":\"d\","
                                     "\"x\":"),
                     0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(bt_buf_adds(&b, "["), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(bt_buf_adds(&b, "]"), 0);
    assert_int_equal(bt_buf_adds(&b, "}}"), 0);
    parse_bad(m, b.data, "nesting");
    bt_buf_free(&b);
}

static int verify(const struct bt_crm_auth *auth, const char *body, size_t len, struct hdr *h,
                  int64_t now, char *why)
{
    struct bt_request r = request(body, len, h);

    r.now = now;
    why[0] = '\0';
    return ops()->verify(auth, &r, why, 256);
}

static void verification(void **state)
{
    static const char *const secrets[] = {SECRET};
    static const char *const rotated[] = {"whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ==", SECRET};
    static const char *const wrong[] = {"whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ=="};
    struct bt_crm_auth auth = {.secrets = secrets, .n_secrets = 1};
    struct hdr h[] = {
        {"Webhook-Id", ID}, {"Webhook-Timestamp", TS}, {"Webhook-Signature", SIG}, {NULL, NULL}};
    size_t len;
    char *body = bt_test_read_fixture("standard-webhooks/deal-changed.json", &len);
    char why[256];

    (void)state;
    assert_int_equal(verify(&auth, body, len, h, NOW, why), 0);
    auth.secrets = rotated;
    auth.n_secrets = 2;
    assert_int_equal(verify(&auth, body, len, h, NOW, why), 0);
    auth.secrets = wrong;
    auth.n_secrets = 1;
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    auth.secrets = secrets;
    body[len - 3] ^= 1;
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    body[len - 3] ^= 1;
    assert_int_equal(verify(&auth, body, len, h, NOW + 3600, why), BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    assert_int_equal(verify(&auth, body, len, h, NOW - 3600, why), BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    h[2].value = "v1,bm90IGEgbWFj";
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    h[2].name = NULL;
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "missing webhook-signature");
    assert_null(strstr(why, "whsec_"));
    free(body);
}

static void answer(void **state)
{
    (void)state;
    assert_string_equal(ops()->ok_content_type, "application/json");
    assert_string_equal(ops()->ok_body, "{\"ok\":true}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture),   cmocka_unit_test(mapped_and_partial),
        cmocka_unit_test(numbers),   cmocka_unit_test(deleted),
        cmocka_unit_test(malformed), cmocka_unit_test(verification),
        cmocka_unit_test(answer),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, setup, teardown);
}
