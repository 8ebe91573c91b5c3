#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crm.h"
#include "diag.h"
#include "mem.h"
#include "motion.h"

extern const struct bt_crm_ops bt_crm_pipedrive;

static struct bt_motion *motion;

/* ---- helpers ----------------------------------------------------------- */

struct headers {
    const char *authorization;
};

static const char *get_header(void *ctx, const char *name)
{
    const struct headers *h = ctx;

    return !strcasecmp(name, "Authorization") ? h->authorization : NULL;
}

static struct bt_request request(const char *body, struct headers *h)
{
    struct bt_request req = {
        .method = "POST",
        .public_url = "https://baton.example.com/v1/webhooks/pipedrive",
        .header = get_header,
        .header_ctx = h,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .now = 1716995520,
    };
    return req;
}

static int parse(const char *body, struct bt_changes *out, char *why, size_t why_len)
{
    struct headers h = {NULL};
    struct bt_request req = request(body, &h);

    why[0] = '\0';
    return bt_crm_pipedrive.parse(motion, &req, out, why, why_len);
}

/* Parses BODY, which must give exactly one change, into *out. */
static void parse_one(const char *body, struct bt_changes *out)
{
    char why[256];

    bt_changes_init(out);
    if (parse(body, out, why, sizeof(why)) != 0)
        fail_msg("parse failed: %s", why);
    assert_int_equal(out->n, 1);
    assert_int_equal(out->v[0].source, BT_SRC_PIPEDRIVE);
}

/* Parsing BODY fails with BT_EINVAL, a reason containing WANT, and leaves
 * the list as it was. */
static void parse_fails(const char *body, const char *want)
{
    struct bt_changes out;
    struct bt_change *pre;
    char why[256];

    bt_changes_init(&out);
    pre = bt_changes_add(&out);
    pre->event_id = bt_strdup("earlier");
    pre->deal_id = bt_strdup("1");
    assert_int_equal(parse(body, &out, why, sizeof(why)), BT_EINVAL);
    if (!strstr(why, want))
        fail_msg("reason \"%s\" lacks \"%s\"", why, want);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.v[0].event_id, "earlier");
    bt_changes_free(&out);
}

static void assert_field(const struct bt_change *c, const char *name, const char *value)
{
    if (!bt_fields_has(&c->fields, name))
        fail_msg("field %s missing", name);
    if (value)
        assert_string_equal(bt_fields_get(&c->fields, name), value);
    else
        assert_null(bt_fields_get(&c->fields, name));
}

static char *fixture(const char *name)
{
    char rel[128];

    snprintf(rel, sizeof(rel), "pipedrive/%s", name);
    return bt_test_read_fixture(rel, NULL);
}

static int setup(void **state)
{
    struct bt_diags d;
    char *path = bt_test_source_path("config/motion.example.yaml");
    int ret;

    (void)state;
    bt_diags_init(&d);
    ret = bt_motion_load(path, &motion, &d);
    if (ret != 0)
        bt_diags_print(&d, stderr);
    bt_diags_free(&d);
    free(path);
    return ret;
}

static int teardown(void **state)
{
    (void)state;
    bt_motion_unref(motion);
    motion = NULL;
    return 0;
}

/* ---- fixtures ---------------------------------------------------------- */

static void v2_fixture(void **state)
{
    char *body = fixture("v2-change-deal.json");
    struct bt_changes out;
    const struct bt_change *c;

    (void)state;
    parse_one(body, &out);
    c = &out.v[0];
    assert_int_equal(c->kind, BT_CHANGE_UPDATE);
    assert_string_equal(c->event_id, "df47d877-b58c-4886-91cd-1aa83e1d7366");
    assert_string_equal(c->deal_id, "8");
    assert_int_equal(c->occurred_at, 1716995515724LL); /* 2024-05-29T15:11:55.724Z */
    assert_field(c, "stage", "presentationscheduled");
    assert_field(c, "competitor", "acme");
    assert_field(c, "owner", "12415231");
    assert_field(c, "name", "Globex renewal");
    assert_field(c, "amount", "100");
    assert_field(c, "currency", "EUR");
    assert_field(c, "industry", "Healthcare");
    /* Keys no mapping reads are not kept. */
    assert_false(bt_fields_has(&c->fields, "status"));
    assert_false(bt_fields_has(&c->fields, "org_id"));
    assert_false(bt_fields_has(&c->fields, "stage_id"));
    assert_int_equal(c->n_merged, 0);
    bt_changes_free(&out);
    free(body);
}

static void v1_fixture(void **state)
{
    char *body = fixture("v1-updated-deal.json");
    struct bt_changes out;
    const struct bt_change *c;

    (void)state;
    parse_one(body, &out);
    c = &out.v[0];
    assert_int_equal(c->kind, BT_CHANGE_UPDATE);
    assert_string_equal(c->event_id, "v1:4710826:8:1716995515724000");
    assert_string_equal(c->deal_id, "8");
    assert_int_equal(c->occurred_at, 1716995515724LL);
    assert_field(c, "stage", "presentationscheduled");
    assert_field(c, "competitor", "acme"); /* a plain "17" at the top of current */
    assert_field(c, "owner", "12415231");  /* user_id read as owner_id */
    assert_field(c, "name", "Globex renewal");
    assert_field(c, "amount", "100");
    assert_field(c, "currency", "EUR");
    assert_false(bt_fields_has(&c->fields, "industry")); /* not sent: unchanged */
    bt_changes_free(&out);
    free(body);
}

/* A retried v1 delivery differs in `retry` and nothing that identifies the
 * event: its key must not change. */
static void v1_key_stable(void **state)
{
    char *body = fixture("v1-updated-deal.json"), *retry = bt_strdup(body), *p;
    struct bt_changes a, b;

    (void)state;
    p = strstr(retry, "\"retry\":0");
    assert_non_null(p);
    p[8] = '3';
    parse_one(body, &a);
    parse_one(retry, &b);
    assert_string_equal(a.v[0].event_id, b.v[0].event_id);
    bt_changes_free(&a);
    bt_changes_free(&b);
    /* Older bodies carry timestamp_milli only: the same key shape. */
    parse_one("{\"meta\":{\"action\":\"updated\",\"object\":\"deal\",\"id\":8,"
              "\"timestamp\":1716995515,\"timestamp_milli\":1716995515724,"
              "\"webhook_id\":\"4710826\"},\"current\":{\"id\":8}}",
              &a);
    assert_string_equal(a.v[0].event_id, "v1:4710826:8:1716995515724000");
    assert_int_equal(a.v[0].occurred_at, 1716995515724LL);
    bt_changes_free(&a);
    bt_free(retry);
    free(body);
}

/* ---- kinds ------------------------------------------------------------- */

static void v2_create_and_delete(void **state)
{
    struct bt_changes out;

    (void)state;
    parse_one("{\"meta\":{\"action\":\"create\",\"entity\":\"deal\",\"id\":\"e-1\","
              "\"entity_id\":\"9\",\"timestamp\":\"2024-05-29T15:11:55Z\"},"
              "\"data\":{\"id\":9,\"title\":\"Initech\",\"stage_id\":1,\"value\":48000.5,"
              "\"custom_fields\":{\"3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3\":null}},"
              "\"previous\":null}",
              &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_CREATE);
    assert_string_equal(out.v[0].deal_id, "9");
    assert_int_equal(out.v[0].occurred_at, 1716995515000LL);
    assert_field(&out.v[0], "name", "Initech");
    assert_field(&out.v[0], "amount", "48000.5");
    assert_field(&out.v[0], "competitor", NULL); /* null: known to be empty */
    bt_changes_free(&out);

    parse_one("{\"meta\":{\"action\":\"delete\",\"entity\":\"deal\",\"id\":\"e-2\","
              "\"entity_id\":9,\"timestamp\":\"2024-05-29T15:11:55Z\"},"
              "\"data\":null,\"previous\":{\"id\":9,\"stage_id\":1}}",
              &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_DELETE);
    assert_string_equal(out.v[0].event_id, "e-2");
    assert_string_equal(out.v[0].deal_id, "9");
    assert_int_equal(out.v[0].fields.n, 0);
    bt_changes_free(&out);
}

static void v1_added_deleted(void **state)
{
    struct bt_changes out;

    (void)state;
    parse_one("{\"meta\":{\"action\":\"added\",\"object\":\"deal\",\"id\":9,"
              "\"timestamp\":1716995515,\"timestamp_micro\":1716995515000001,"
              "\"webhook_id\":4710826},\"current\":{\"id\":9,\"stage_id\":3,"
              "\"user_id\":{\"id\":77,\"name\":\"Dana\",\"value\":77}},"
              "\"previous\":null,\"event\":\"added.deal\"}",
              &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_CREATE);
    assert_string_equal(out.v[0].event_id, "v1:4710826:9:1716995515000001");
    assert_field(&out.v[0], "stage", "presentationscheduled");
    assert_field(&out.v[0], "owner", "77");
    bt_changes_free(&out);

    parse_one("{\"meta\":{\"action\":\"deleted\",\"object\":\"deal\",\"id\":9,"
              "\"timestamp\":1716995515,\"timestamp_micro\":1716995515000002,"
              "\"webhook_id\":\"4710826\"},\"current\":null,"
              "\"previous\":{\"id\":9,\"stage_id\":3},\"event\":\"deleted.deal\"}",
              &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_DELETE);
    assert_string_equal(out.v[0].deal_id, "9");
    assert_string_equal(out.v[0].event_id, "v1:4710826:9:1716995515000002");
    assert_int_equal(out.v[0].fields.n, 0);
    bt_changes_free(&out);
}

/* v1 merged.deal: meta.id and current are the survivor, previous the deal
 * merged away (also named by current.merge_what_id). */
static void v1_merged(void **state)
{
    struct bt_changes out;

    (void)state;
    parse_one("{\"meta\":{\"action\":\"merged\",\"object\":\"deal\",\"id\":9,"
              "\"timestamp\":1716995515,\"timestamp_micro\":1716995515000003,"
              "\"webhook_id\":\"4710826\"},"
              "\"current\":{\"id\":9,\"stage_id\":3,\"merge_what_id\":8},"
              "\"previous\":{\"id\":8,\"stage_id\":2},\"event\":\"merged.deal\"}",
              &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_MERGE);
    assert_string_equal(out.v[0].deal_id, "9");
    assert_int_equal(out.v[0].n_merged, 1);
    assert_string_equal(out.v[0].merged_ids[0], "8");
    assert_field(&out.v[0], "stage", "presentationscheduled");
    bt_changes_free(&out);

    /* Without previous, merge_what_id names the deal merged away. */
    parse_one("{\"meta\":{\"action\":\"merged\",\"object\":\"deal\",\"id\":9,"
              "\"timestamp_micro\":1716995515000003,\"webhook_id\":\"4710826\"},"
              "\"current\":{\"id\":9,\"merge_what_id\":8},\"previous\":null}",
              &out);
    assert_string_equal(out.v[0].merged_ids[0], "8");
    bt_changes_free(&out);

    parse_fails("{\"meta\":{\"action\":\"merged\",\"object\":\"deal\",\"id\":9,"
                "\"timestamp_micro\":1,\"webhook_id\":\"1\"},\"current\":{\"id\":9}}",
                "previous.id");
    parse_fails("{\"meta\":{\"action\":\"merged\",\"object\":\"deal\",\"id\":9,"
                "\"timestamp_micro\":1,\"webhook_id\":\"1\"},\"current\":{\"id\":9},"
                "\"previous\":{\"id\":9}}",
                "merged into itself");
}

/* Other entities and actions Pipedrive may add are valid events Baton does
 * not act on: answered 2xx, so Pipedrive never bans the webhook for them. */
static void ignored(void **state)
{
    struct bt_changes out;

    (void)state;
    parse_one("{\"meta\":{\"action\":\"change\",\"entity\":\"person\",\"id\":\"e-3\","
              "\"entity_id\":\"8\",\"timestamp\":\"2024-05-29T15:11:55Z\"},"
              "\"data\":{\"id\":8,\"name\":\"Ann\"}}",
              &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_IGNORE);
    assert_string_equal(out.v[0].event_id, "e-3");
    assert_string_equal(out.v[0].deal_id, "");
    assert_int_equal(out.v[0].fields.n, 0);
    bt_changes_free(&out);

    parse_one("{\"meta\":{\"action\":\"added\",\"object\":\"person\",\"id\":8,"
              "\"timestamp_micro\":1716995515000004,\"webhook_id\":\"4710826\"},"
              "\"current\":{\"id\":8}}",
              &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_IGNORE);
    /* Never equal to deal 8's key at the same instant. */
    assert_string_equal(out.v[0].event_id, "v1:4710826:person:8:1716995515000004");
    bt_changes_free(&out);

    /* Thin bodies of ignored events are still taken. */
    parse_one("{\"meta\":{\"action\":\"added\",\"object\":\"note\"}}", &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_IGNORE);
    bt_changes_free(&out);

    parse_one("{\"meta\":{\"action\":\"archive\",\"entity\":\"deal\",\"id\":\"e-4\","
              "\"entity_id\":\"8\"}}",
              &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_IGNORE);
    assert_string_equal(out.v[0].deal_id, "8");
    bt_changes_free(&out);
}

/* ---- values ------------------------------------------------------------ */

static void custom_field_kinds(void **state)
{
    struct bt_changes out;

    (void)state;
    /* A multiple-option field: ids comma-joined, each mapped on its own. */
    parse_one("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e-5\","
              "\"entity_id\":\"8\",\"timestamp\":\"2024-05-29T15:11:55Z\"},"
              "\"data\":{\"id\":8,\"value\":0.1,\"owner_id\":null,\"custom_fields\":{"
              "\"3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3\":{\"type\":\"set\","
              "\"values\":[{\"id\":17},{\"id\":99}]},"
              "\"9a1b2c3d4e5f60718293a4b5c6d7e8f901234567\":{\"type\":\"varchar\","
              "\"value\":null}}}}",
              &out);
    assert_field(&out.v[0], "competitor", "acme,99");
    assert_field(&out.v[0], "industry", NULL);
    assert_field(&out.v[0], "owner", NULL);
    assert_field(&out.v[0], "amount", "0.1");
    bt_changes_free(&out);

    /* v1 writes the same set as "17,99". */
    parse_one("{\"meta\":{\"action\":\"updated\",\"object\":\"deal\",\"id\":8,"
              "\"timestamp_micro\":1,\"webhook_id\":\"1\"},\"current\":{\"id\":8,"
              "\"3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3\":\"17,99\","
              "\"9a1b2c3d4e5f60718293a4b5c6d7e8f901234567\":\"Retail\"}}",
              &out);
    assert_field(&out.v[0], "competitor", "acme,99");
    assert_field(&out.v[0], "industry", "Retail");
    bt_changes_free(&out);

    /* Monetary and reference custom fields, and a plain list. */
    parse_one("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e-6\","
              "\"entity_id\":\"8\",\"timestamp\":1716995515},"
              "\"data\":{\"id\":8,\"custom_fields\":{"
              "\"3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3\":[17],"
              "\"9a1b2c3d4e5f60718293a4b5c6d7e8f901234567\":{\"type\":\"monetary\","
              "\"value\":12.5,\"currency\":\"EUR\"},"
              "\"0000000000000000000000000000000000000000\":{\"type\":\"unknown\"}}}}",
              &out);
    assert_int_equal(out.v[0].occurred_at, 1716995515000LL);
    assert_field(&out.v[0], "competitor", "acme");
    assert_field(&out.v[0], "industry", "12.5");
    bt_changes_free(&out);
}

/* Numbers keep every digit. */
static void numbers_as_text(void **state)
{
    struct bt_changes out;

    (void)state;
    parse_one("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e-7\","
              "\"entity_id\":9223372036854775807,\"timestamp\":\"2024-05-29T15:11:55Z\"},"
              "\"data\":{\"value\":9007199254740993,\"owner_id\":-1,\"title\":1e3}}",
              &out);
    assert_string_equal(out.v[0].deal_id, "9223372036854775807");
    assert_field(&out.v[0], "amount", "9007199254740993");
    assert_field(&out.v[0], "owner", "-1");
    assert_field(&out.v[0], "name", "1000");
    bt_changes_free(&out);
}

/* ---- malformed bodies -------------------------------------------------- */

static void malformed(void **state)
{
    (void)state;
    parse_fails("", "empty body");
    parse_fails("{\"meta\":", "invalid JSON");
    parse_fails("[1,2]", "not a JSON object");
    parse_fails("{\"meta\":{\"a\":1,\"a\":2}}", "invalid JSON");
    parse_fails("{\"data\":{}}", "meta: expected an object");
    parse_fails("{\"meta\":{\"action\":\"change\"}}", "neither entity (v2) nor object (v1)");
    parse_fails("{\"meta\":{\"action\":1,\"entity\":\"deal\"}}", "meta.action");
    parse_fails("{\"meta\":{\"action\":\"change\",\"entity\":7}}", "meta.entity");
    parse_fails("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"entity_id\":\"8\","
                "\"timestamp\":\"2024-05-29T15:11:55Z\"},\"data\":{}}",
                "meta.id");
    parse_fails("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e\","
                "\"entity_id\":\"\",\"timestamp\":\"2024-05-29T15:11:55Z\"},\"data\":{}}",
                "meta.entity_id");
    parse_fails("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e\","
                "\"entity_id\":\"8\",\"timestamp\":\"yesterday\"},\"data\":{}}",
                "meta.timestamp");
    parse_fails("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e\","
                "\"entity_id\":\"8\",\"timestamp\":\"2024-05-29T15:11:55Z\"},\"data\":[]}",
                "data: expected the deal as an object");
    parse_fails("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e\","
                "\"entity_id\":\"8\",\"timestamp\":\"2024-05-29T15:11:55Z\"},"
                "\"data\":{\"custom_fields\":[]}}",
                "data.custom_fields: expected an object");
    parse_fails("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e\","
                "\"entity_id\":\"8\",\"timestamp\":\"2024-05-29T15:11:55Z\"},"
                "\"data\":{\"custom_fields\":{\"9a1b2c3d4e5f60718293a4b5c6d7e8f901234567\":"
                "{\"type\":\"address\"}}}}",
                "data.custom_fields.9a1b2c3d4e5f60718293a4b5c6d7e8f901234567");
    parse_fails("{\"meta\":{\"action\":\"change\",\"entity\":\"deal\",\"id\":\"e\","
                "\"entity_id\":\"8\",\"timestamp\":\"2024-05-29T15:11:55Z\"},"
                "\"data\":{\"stage_id\":[[[[[[1]]]]]]}}",
                "data.stage_id");
    parse_fails("{\"meta\":{\"action\":\"updated\",\"object\":\"deal\",\"id\":8,"
                "\"timestamp_micro\":1},\"current\":{}}",
                "meta.webhook_id");
    parse_fails("{\"meta\":{\"action\":\"updated\",\"object\":\"deal\",\"webhook_id\":1,"
                "\"timestamp_micro\":1},\"current\":{}}",
                "meta.id");
    parse_fails("{\"meta\":{\"action\":\"updated\",\"object\":\"deal\",\"id\":8,"
                "\"webhook_id\":1,\"timestamp\":\"now\"},\"current\":{}}",
                "meta.timestamp_micro");
    parse_fails("{\"meta\":{\"action\":\"updated\",\"object\":\"deal\",\"id\":8,"
                "\"webhook_id\":1,\"timestamp_micro\":1},\"current\":null}",
                "current: expected the deal as an object");
}

/* ---- authentication ---------------------------------------------------- */

static int verify_with(const char *authorization, char *why, size_t why_len)
{
    struct bt_crm_auth auth = {.username = "baton", .password = "s3cret:pass"};
    struct headers h = {authorization};
    struct bt_request req = request("{}", &h);

    why[0] = '\0';
    return bt_crm_pipedrive.verify(&auth, &req, why, why_len);
}

static void verify_rejects(const char *authorization, const char *want)
{
    char why[128];

    assert_int_equal(verify_with(authorization, why, sizeof(why)), BT_EAUTH);
    if (!strstr(why, want))
        fail_msg("reason \"%s\" lacks \"%s\"", why, want);
    assert_null(strstr(why, "s3cret")); /* never the secret */
}

static void basic_auth(void **state)
{
    char why[128];
    struct bt_crm_auth none = {0};
    struct headers h = {"Basic YmF0b246czNjcmV0OnBhc3M="};
    struct bt_request req = request("{}", &h);

    (void)state;
    /* baton:s3cret:pass — the password may hold a colon. */
    assert_int_equal(verify_with("Basic YmF0b246czNjcmV0OnBhc3M=", why, sizeof(why)), 0);
    assert_int_equal(verify_with("basic   YmF0b246czNjcmV0OnBhc3M=  ", why, sizeof(why)), 0);
    verify_rejects(NULL, "missing Authorization");
    verify_rejects("Bearer YmF0b246czNjcmV0OnBhc3M=", "not Basic");
    verify_rejects("Basic", "not Basic");
    verify_rejects("Basic !!!!", "malformed Basic credentials");
    verify_rejects("Basic YmF0b24=", "malformed Basic credentials");     /* "baton", no colon */
    verify_rejects("Basic YmF0b246czNjcmV0OnBhc3M", "malformed Basic"); /* length % 4 */
    verify_rejects("Basic Ym=0b246czNjcmV0OnBhc3M=", "malformed Basic"); /* '=' inside */
    verify_rejects("Basic YmF0b246d3Jvbmc=", "bad credentials");           /* baton:wrong */
    verify_rejects("Basic ZXZlOnMzY3JldDpwYXNz", "bad credentials");       /* eve:s3cret:pass */
    verify_rejects("Basic OnMzY3JldDpwYXNz", "bad credentials");           /* :s3cret:pass */
    verify_rejects("Basic YmF0b246", "bad credentials");                   /* baton: */
    /* Nothing configured: nothing is accepted. */
    assert_int_equal(bt_crm_pipedrive.verify(&none, &req, why, sizeof(why)), BT_EAUTH);
}

static void long_authorization(void **state)
{
    char *h = bt_malloc(5000);

    (void)state;
    memcpy(h, "Basic ", 6);
    memset(h + 6, 'A', 4000);
    h[4006] = '\0';
    verify_rejects(h, "longer than");
    bt_free(h);
}

static void registered(void **state)
{
    (void)state;
    assert_ptr_equal(bt_crm_find(BT_SRC_PIPEDRIVE), &bt_crm_pipedrive);
    assert_string_equal(bt_crm_pipedrive.name, "pipedrive");
    assert_string_equal(bt_crm_pipedrive.ok_content_type, "application/json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v2_fixture),
        cmocka_unit_test(v1_fixture),
        cmocka_unit_test(v1_key_stable),
        cmocka_unit_test(v2_create_and_delete),
        cmocka_unit_test(v1_added_deleted),
        cmocka_unit_test(v1_merged),
        cmocka_unit_test(ignored),
        cmocka_unit_test(custom_field_kinds),
        cmocka_unit_test(numbers_as_text),
        cmocka_unit_test(malformed),
        cmocka_unit_test(basic_auth),
        cmocka_unit_test(long_authorization),
        cmocka_unit_test(registered),
    };

    bt_mem_init();
    return cmocka_run_group_tests(tests, setup, teardown);
}
