#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crm.h"
#include "diag.h"
#include "mem.h"
#include "motion.h"
#include "sig.h"

#define URI    "https://baton.example.com/v1/webhooks/hubspot"
#define SECRET "hs-client-secret-123"
#define TS     "1717000001234"
#define NOW    1717000001
#define SIG    "MN4G7Nt0WPxi2aabm0RguEkUajIjNrzdsYuPO3dsPlY="
#define DEAL   "18239440011"

struct hdr {
    const char *name, *value;
};

/* Headers as a NULL-terminated list, looked up case-insensitively as the
 * HTTP layer does. */
static const char *get_header(void *ctx, const char *name)
{
    for (const struct hdr *h = ctx; h && h->name; h++)
        if (!strcasecmp(h->name, name))
            return h->value;
    return NULL;
}

static struct bt_request request(const char *body, size_t len, struct hdr *headers)
{
    struct bt_request r = {
        .method = "POST",
        .public_url = URI,
        .header = get_header,
        .header_ctx = headers,
        .body = body,
        .body_len = len,
        .now = NOW,
    };
    return r;
}

static struct bt_motion *example_motion(void)
{
    struct bt_diags d;
    struct bt_motion *m = NULL;
    char *path = bt_test_source_path("config/motion.example.yaml");

    bt_diags_init(&d);
    if (bt_motion_load(path, &m, &d) != 0) {
        bt_diags_print(&d, stderr);
        fail_msg("cannot load %s", path);
    }
    bt_diags_free(&d);
    free(path);
    return m;
}

static int setup(void **state)
{
    *state = example_motion();
    return 0;
}

static int teardown(void **state)
{
    bt_motion_unref(*state);
    return 0;
}

static const struct bt_crm_ops *ops(void)
{
    const struct bt_crm_ops *o = bt_crm_find(BT_SRC_HUBSPOT);

    assert_non_null(o);
    return o;
}

/* Parses BODY; expects success and returns the changes. */
static void parse_ok(const struct bt_motion *m, const char *body, size_t len,
                     struct bt_changes *out)
{
    struct bt_request r = request(body, len, NULL);
    char why[256] = "";

    bt_changes_init(out);
    if (ops()->parse(m, &r, out, why, sizeof(why)) != 0)
        fail_msg("parse failed: %s", why);
}

/* Parses BODY; expects BT_EINVAL with a reason containing WANT, and the
 * change list untouched. */
static void parse_bad(const struct bt_motion *m, const char *body, const char *want)
{
    struct bt_request r = request(body, strlen(body), NULL);
    struct bt_changes out;
    struct bt_change *keep;
    char why[256] = "";

    bt_changes_init(&out);
    keep = bt_changes_add(&out);
    keep->event_id = bt_strdup("earlier");
    keep->deal_id = bt_strdup("1");
    if (ops()->parse(m, &r, &out, why, sizeof(why)) != BT_EINVAL)
        fail_msg("accepted %s", body);
    if (!strstr(why, want))
        fail_msg("reason \"%s\" lacks \"%s\" for %s", why, want, body);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.v[0].event_id, "earlier");
    bt_changes_free(&out);
}

static void property_change_batch(void **state)
{
    struct bt_changes c;
    size_t len;
    char *body = bt_test_read_fixture("hubspot/deal-propertychange-batch.json", &len);

    parse_ok(*state, body, len, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.v[0].source, BT_SRC_HUBSPOT);
    assert_int_equal(c.v[0].kind, BT_CHANGE_UPDATE);
    assert_string_equal(c.v[0].deal_id, DEAL);
    assert_int_equal(c.v[0].occurred_at, 1717000000000);
    assert_string_equal(c.v[0].event_id, "62515:2410955:3816279340:" DEAL ":1717000000000");
    assert_int_equal(c.v[0].fields.n, 1);
    assert_string_equal(bt_fields_get(&c.v[0].fields, "stage"), "contractsent");
    assert_int_equal(c.v[1].kind, BT_CHANGE_UPDATE);
    assert_string_equal(c.v[1].deal_id, DEAL);
    assert_int_equal(c.v[1].occurred_at, 1717000000500);
    assert_string_equal(c.v[1].event_id, "62515:2410956:3816279480:" DEAL ":1717000000500");
    assert_int_equal(c.v[1].fields.n, 1);
    assert_string_equal(bt_fields_get(&c.v[1].fields, "competitor"), "Acme");
    bt_changes_free(&c);
    free(body);
}

static void creation(void **state)
{
    struct bt_changes c;
    size_t len;
    char *body = bt_test_read_fixture("hubspot/deal-creation.json", &len);

    parse_ok(*state, body, len, &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].kind, BT_CHANGE_CREATE);
    assert_string_equal(c.v[0].deal_id, DEAL);
    assert_int_equal(c.v[0].occurred_at, 1716999990000);
    assert_string_equal(c.v[0].event_id, "62515:2410950:3816270001:" DEAL ":1716999990000");
    assert_int_equal(c.v[0].fields.n, 0);
    bt_changes_free(&c);
    free(body);
}

#define EV(type, extra)                                                                           \
    "{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,\"occurredAt\":1717000000000,"            \
    "\"subscriptionType\":\"" type "\",\"objectId\":42" extra "}"

static void other_events(void **state)
{
    /* clang-format off */
    const char *body = "["
        EV("deal.deletion", "") ","
        EV("deal.restore", "") ","
        EV("deal.merge", ",\"mergedObjectIds\":[2,3,2,42],\"primaryObjectId\":4") ","
        EV("deal.associationChange", "") ","
        "{\"eventId\":1,\"subscriptionType\":\"deal.associationChange\",\"fromObjectId\":5,"
        "\"toObjectId\":6,\"occurredAt\":1},"
        EV("contact.creation", "") ","
        "{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,\"occurredAt\":1717000000000,"
        "\"eventType\":\"deal.creation\",\"objectId\":43}]";
    /* clang-format on */
    struct bt_changes c;

    parse_ok(*state, body, strlen(body), &c);
    assert_int_equal(c.n, 7);
    assert_int_equal(c.v[0].kind, BT_CHANGE_DELETE);
    assert_string_equal(c.v[0].deal_id, "42");
    assert_int_equal(c.v[1].kind, BT_CHANGE_UPDATE);
    assert_int_equal(c.v[1].fields.n, 0);
    assert_int_equal(c.v[2].kind, BT_CHANGE_MERGE);
    assert_string_equal(c.v[2].deal_id, "42");
    assert_int_equal(c.v[2].n_merged, 3);
    assert_string_equal(c.v[2].merged_ids[0], "2");
    assert_string_equal(c.v[2].merged_ids[1], "3");
    assert_string_equal(c.v[2].merged_ids[2], "4");
    assert_int_equal(c.v[3].kind, BT_CHANGE_IGNORE);
    assert_string_equal(c.v[3].event_id, "9:8:7:42:1717000000000");
    /* An association event has no objectId; it is stored all the same. */
    assert_int_equal(c.v[4].kind, BT_CHANGE_IGNORE);
    assert_string_equal(c.v[4].event_id, "::1:5:1");
    assert_string_equal(c.v[4].deal_id, "5");
    assert_int_equal(c.v[5].kind, BT_CHANGE_IGNORE);
    assert_int_equal(c.v[6].kind, BT_CHANGE_CREATE);
    assert_string_equal(c.v[6].deal_id, "43");
    bt_changes_free(&c);
}

static void v1_vector_body_is_ignored(void **state)
{
    const char *body =
        "[{\"eventId\":1,\"subscriptionId\":12345,\"portalId\":62515,\"occurredAt\":"
        "1564113600000,\"subscriptionType\":\"contact.creation\",\"attemptNumber\":0,"
        "\"objectId\":123,\"changeSource\":\"CRM\",\"changeFlag\":\"NEW\",\"appId\":54321}]";
    struct bt_changes c;

    parse_ok(*state, body, strlen(body), &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].kind, BT_CHANGE_IGNORE);
    assert_string_equal(c.v[0].event_id, "62515:12345:1:123:1564113600000");
    bt_changes_free(&c);
    parse_ok(*state, "[]", 2, &c);
    assert_int_equal(c.n, 0);
    bt_changes_free(&c);
}

#define PROP(name, value)                                                                         \
    EV("deal.propertyChange", ",\"propertyName\":\"" name "\",\"propertyValue\":" value)

static void property_values(void **state)
{
    /* clang-format off */
    const char *body = "["
        PROP("hubspot_owner_id", "\"882761034\"") ","
        PROP("hubspot_owner_id", "\"\"") ","
        PROP("amount", "48000") ","
        PROP("amount", "1.5") ","
        PROP("custom_thing", "\"x\"") ","
        PROP("dealname", "null") ","
        PROP("stage", "\"closedwon\"") "]";
    /* clang-format on */
    struct bt_changes c;

    parse_ok(*state, body, strlen(body), &c);
    assert_int_equal(c.n, 7);
    assert_string_equal(bt_fields_get(&c.v[0].fields, "owner"), "882761034");
    /* Cleared in HubSpot: known to be empty. */
    assert_true(bt_fields_has(&c.v[1].fields, "owner"));
    assert_null(bt_fields_get(&c.v[1].fields, "owner"));
    assert_string_equal(bt_fields_get(&c.v[2].fields, "amount"), "48000");
    assert_string_equal(bt_fields_get(&c.v[3].fields, "amount"), "1.5");
    /* Unmapped properties keep their names. */
    assert_string_equal(bt_fields_get(&c.v[4].fields, "custom_thing"), "x");
    assert_true(bt_fields_has(&c.v[5].fields, "name"));
    assert_null(bt_fields_get(&c.v[5].fields, "name"));
    /* A property named like a field the motion reads from elsewhere
     * (stage lives in dealstage) is not that field. */
    assert_int_equal(c.v[6].kind, BT_CHANGE_IGNORE);
    assert_int_equal(c.v[6].fields.n, 0);
    bt_changes_free(&c);
}

static void without_motion(void **state)
{
    const char *body = "[" PROP("dealstage", "\"closedwon\"") "]";
    struct bt_changes c;

    (void)state;
    parse_ok(NULL, body, strlen(body), &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(bt_fields_get(&c.v[0].fields, "dealstage"), "closedwon");
    bt_changes_free(&c);
}

static char *nested_body(int depth)
{
    struct bt_buf b;

    bt_buf_init(&b, 1 << 20);
    for (int i = 0; i < depth; i++)
        assert_int_equal(bt_buf_adds(&b, "["), 0);
    for (int i = 0; i < depth; i++)
        assert_int_equal(bt_buf_adds(&b, "]"), 0);
    return bt_buf_steal(&b);
}

static void malformed(void **state)
{
    const struct bt_motion *m = *state;
    struct bt_buf b;
    char *s;

    parse_bad(m, "", "invalid JSON");
    parse_bad(m, "not json", "invalid JSON");
    parse_bad(m, "{\"eventId\":1}", "not a JSON array");
    parse_bad(m, "[1]", "event 0: not an object");
    parse_bad(m, "[" EV("deal.creation", "") ",[]]", "event 1: not an object");
    parse_bad(
        m,
        "[" EV("deal.creation", "") ",{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,"
                                    "\"occurredAt\":1,\"subscriptionType\":\"deal.deletion\"}]",
        "event 1: objectId is missing");
    parse_bad(m,
              "[{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,\"occurredAt\":1,"
              "\"subscriptionType\":\"deal.deletion\",\"objectId\":\"42\"}]",
              "event 0: objectId is not a non-negative integer");
    parse_bad(m,
              "[{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,\"occurredAt\":1,"
              "\"subscriptionType\":\"deal.deletion\",\"objectId\":-42}]",
              "event 0: objectId is not a non-negative integer");
    parse_bad(m,
              "[{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,"
              "\"subscriptionType\":\"deal.deletion\",\"objectId\":42}]",
              "event 0: occurredAt is missing");
    parse_bad(m,
              "[{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,\"occurredAt\":1.5,"
              "\"subscriptionType\":\"deal.deletion\",\"objectId\":42}]",
              "event 0: occurredAt is not");
    parse_bad(m, "[{\"eventId\":7,\"objectId\":42,\"occurredAt\":1}]",
              "event 0: subscriptionType is missing");
    parse_bad(m, "[{\"subscriptionType\":5,\"objectId\":42,\"occurredAt\":1}]",
              "event 0: subscriptionType is not a string");
    parse_bad(m,
              "[{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,\"occurredAt\":1,"
              "\"subscriptionType\":\"deal.deletion\",\"objectId\":99999999999999999999}]",
              "number out of range");
    parse_bad(m,
              "[{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,\"occurredAt\":1e400,"
              "\"subscriptionType\":\"deal.deletion\",\"objectId\":1}]",
              "number out of range");
    parse_bad(m,
              "[{\"eventId\":7,\"subscriptionId\":8,\"portalId\":9,\"occurredAt\":1,"
              "\"subscriptionType\":\"deal.deletion\",\"objectId\":1,\"objectId\":2}]",
              "duplicate");
    parse_bad(m, "[" EV("deal.propertyChange", ",\"propertyValue\":\"x\"") "]",
              "event 0: propertyName is missing");
    parse_bad(m, "[" EV("deal.propertyChange", ",\"propertyName\":\"dealstage\"") "]",
              "event 0: propertyValue is missing");
    parse_bad(m, "[" PROP("dealstage", "{\"a\":1}") "]", "event 0: propertyValue is not");
    parse_bad(m, "[" PROP("", "\"x\"") "]", "event 0: propertyName is not");
    parse_bad(m, "[" EV("deal.merge", "") "]", "event 0: mergedObjectIds is missing");
    parse_bad(m, "[" EV("deal.merge", ",\"mergedObjectIds\":[\"1\"]") "]",
              "event 0: mergedObjectIds[0]");
    s = nested_body(100);
    parse_bad(m, s, "nesting");
    bt_free(s);
    /* More events than any HubSpot batch. */
    bt_buf_init(&b, 1 << 20);
    assert_int_equal(bt_buf_adds(&b, "["), 0);
    for (int i = 0; i < 1001; i++)
        assert_int_equal(
            bt_buf_adds(&b, i ? "," EV("deal.creation", "") : EV("deal.creation", "")), 0);
    assert_int_equal(bt_buf_adds(&b, "]"), 0);
    parse_bad(m, b.data, "1001 events");
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

static void verify_v3(void **state)
{
    static const char *const secrets[] = {SECRET};
    static const char *const rotated[] = {"previous-secret", SECRET};
    static const char *const wrong[] = {"previous-secret"};
    struct bt_crm_auth auth = {.secrets = secrets, .n_secrets = 1};
    struct hdr h[] = {{"X-HubSpot-Signature-v3", SIG},
                      {"X-HubSpot-Request-Timestamp", TS},
                      {"X-HubSpot-Signature-Version", "v3"},
                      {NULL, NULL}};
    size_t len;
    char *body = bt_test_read_fixture("hubspot/deal-propertychange-batch.json", &len);
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
    body[5] ^= 1;
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    assert_null(strstr(why, SECRET));
    body[5] ^= 1;
    assert_int_equal(verify(&auth, body, len, h, NOW + 600, why), BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    assert_int_equal(verify(&auth, body, len, h, NOW - 600, why), BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    h[1].value = "yesterday";
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "malformed X-HubSpot-Request-Timestamp");
    h[1].value = TS;
    h[0].value = "not base64";
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "malformed X-HubSpot-Signature-v3");
    h[0].name = "X-Other";
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "missing X-HubSpot-Signature-v3");
    h[0].name = "x-hubspot-signature-v3";
    h[0].value = SIG;
    h[1].name = "X-Other";
    assert_int_equal(verify(&auth, body, len, h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "missing X-HubSpot-Request-Timestamp");
    free(body);
}

static void verify_v1_opt_in(void **state)
{
    static const char *const secrets[] = {"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"};
    const char *body =
        "[{\"eventId\":1,\"subscriptionId\":12345,\"portalId\":62515,\"occurredAt\":"
        "1564113600000,\"subscriptionType\":\"contact.creation\",\"attemptNumber\":0,"
        "\"objectId\":123,\"changeSource\":\"CRM\",\"changeFlag\":\"NEW\",\"appId\":54321}]";
    struct bt_crm_auth auth = {.secrets = secrets, .n_secrets = 1};
    struct hdr h[] = {{"X-HubSpot-Signature",
                       "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"},
                      {NULL, NULL},
                      {NULL, NULL}};
    char why[256];

    (void)state;
    /* v1 has no timestamp and is refused unless the config opts in. */
    assert_int_equal(verify(&auth, body, strlen(body), h, NOW, why), BT_EAUTH);
    assert_string_equal(why, "missing X-HubSpot-Signature-v3");
    auth.hubspot_v1 = true;
    assert_int_equal(verify(&auth, body, strlen(body), h, NOW, why), 0);
    assert_int_equal(verify(&auth, body, strlen(body) - 1, h, NOW, why), BT_EAUTH);
    assert_non_null(strstr(why, "signature mismatch"));
    /* When v3 is present it decides, even with v1 allowed and valid. */
    h[1].name = "X-HubSpot-Signature-v3";
    h[1].value = SIG;
    assert_int_equal(verify(&auth, body, strlen(body), h, NOW, why), BT_EAUTH);
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
        cmocka_unit_test(property_change_batch),
        cmocka_unit_test(creation),
        cmocka_unit_test(other_events),
        cmocka_unit_test(v1_vector_body_is_ignored),
        cmocka_unit_test(property_values),
        cmocka_unit_test(without_motion),
        cmocka_unit_test(malformed),
        cmocka_unit_test(verify_v3),
        cmocka_unit_test(verify_v1_opt_in),
        cmocka_unit_test(answer),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, setup, teardown);
}
