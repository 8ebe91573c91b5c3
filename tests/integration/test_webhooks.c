/* The daemon end to end: signed HubSpot and Standard Webhooks requests over
 * loopback, into a real PostgreSQL, out as deliveries under the example
 * motion. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "deal.h"
#include "match.h"
#include "motion.h"
#include "sig.h"

struct env {
    struct bt_testd d;
    PGconn *db;
    char *motion_path; /* a copy of the example the test may rewrite */
};

static char *copy_example(const char *dir)
{
    char *src = bt_test_source_path("config/motion.example.yaml");
    char *dst = bt_asprintf("%s/motion.yaml", dir);

    assert_int_equal(bt_test_sh(NULL, "cp '%s' '%s'", src, dst), 0);
    bt_free(src);
    return dst;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    char dir[] = "/tmp/baton-motion-XXXXXX";

    assert_non_null(mkdtemp(dir));
    e->motion_path = copy_example(dir);
    e->db = bt_test_db();
    bt_testd_start(&e->d, e->motion_path, NULL);
    bt_testd_wait_ready(&e->d);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    bt_testd_stop(&e->d);
    bt_testd_cleanup(&e->d);
    PQfinish(e->db);
    bt_test_sh(NULL, "rm -rf \"$(dirname '%s')\"", e->motion_path);
    bt_free(e->motion_path);
    free(e);
    return 0;
}

/* What the example motion says a deal with these fields should get, by the
 * library's own matcher: the daemon must agree with `baton explain`. */
static char *expected_asset(const char *stage, const char *competitor, const char *industry,
                            const char *amount)
{
    char *path = bt_test_source_path("config/motion.example.yaml");
    struct bt_diags d;
    struct bt_motion *m = NULL;
    struct bt_matcher *mt = NULL;
    struct bt_fields f;
    struct bt_match_result res;
    char *asset = NULL;

    bt_diags_init(&d);
    assert_int_equal(bt_motion_load(path, &m, &d), 0);
    assert_int_equal(bt_matcher_new(m, &mt), 0);
    bt_fields_init(&f);
    bt_fields_set(&f, "stage", stage);
    if (competitor)
        bt_fields_set(&f, "competitor", competitor);
    if (industry)
        bt_fields_set(&f, "industry", industry);
    if (amount)
        bt_fields_set(&f, "amount", amount);
    assert_int_equal(bt_match(mt, &f, NULL, 0, &res), 0);
    if (res.n_picks)
        asset = bt_strdup(res.picks[0].asset->id);
    bt_match_result_free(&res);
    bt_fields_free(&f);
    bt_matcher_free(mt);
    bt_motion_unref(m);
    bt_diags_free(&d);
    bt_free(path);
    return asset;
}

static long long count(PGconn *db, const char *sql)
{
    char *v = bt_test_db_value(db, sql, NULL);
    long long n = v ? strtoll(v, NULL, 10) : -1;

    bt_free(v);
    return n;
}

static void hubspot_fixture_becomes_a_delivery(void **state)
{
    struct env *e = *state;
    size_t len;
    char *body = bt_test_read_fixture("hubspot/deal-propertychange-batch.json", &len);
    char *want = expected_asset("contractsent", "Acme", NULL, NULL);
    struct bt_test_resp r;
    char *v;

    assert_non_null(want);
    bt_test_post_hubspot(&e->d, body, len, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_value(e->db,
                         "SELECT fields->>'stage' || '/' || (fields->>'competitor') FROM deals "
                         "WHERE source = 'hubspot' AND deal_id = '18239440011'",
                         NULL);
    assert_string_equal(v, "contractsent/Acme");
    bt_free(v);
    v = bt_test_db_wait(e->db, want, 5000,
                        "SELECT string_agg(asset_id, ',') FROM deliveries "
                        "WHERE source = 'hubspot' AND deal_id = '18239440011'");
    assert_string_equal(v, want);
    bt_free(v);
    /* The owner is not known yet: the motion's default route. */
    v = bt_test_db_value(e->db,
                         "SELECT coalesce(rep_id, '-') || '/' || channel || '/' || target || '/' "
                         "|| stage || '/' || competitor || '/' || trigger "
                         "FROM deliveries WHERE deal_id = '18239440011'",
                         NULL);
    assert_string_equal(v, "-/slack/C0DEALDESK/contractsent/acme/created");
    bt_free(v);
    assert_int_equal(count(e->db, "SELECT count(*) FROM inbox WHERE source = 'hubspot'"), 2);
    bt_free(want);
    bt_free(body);
}

static void generic_fixture_routes_to_the_owner(void **state)
{
    struct env *e = *state;
    size_t len;
    char *body = bt_test_read_fixture("standard-webhooks/deal-changed.json", &len);
    char *want = expected_asset("presentationscheduled", "Acme", "Healthcare", "48000");
    struct bt_test_resp r;
    char *v;

    bt_test_post_generic(&e->d, "msg_fixture_1", body, len, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_value(e->db,
                         "SELECT concat_ws('/', fields->>'name', fields->>'stage', "
                         "fields->>'competitor', fields->>'owner', fields->>'amount', "
                         "fields->>'industry') FROM deals WHERE source = 'generic' AND "
                         "deal_id = 'D-1001'",
                         NULL);
    assert_string_equal(v, "Umbrella Corp/presentationscheduled/Acme/u-77/48000/Healthcare");
    bt_free(v);
    v = bt_test_db_wait(e->db, want, 5000,
                        "SELECT string_agg(asset_id, ',') FROM deliveries WHERE deal_id = "
                        "'D-1001'");
    assert_string_equal(v, want);
    bt_free(v);
    v = bt_test_db_value(e->db,
                         "SELECT rep_id || '/' || channel || '/' || target FROM deliveries "
                         "WHERE deal_id = 'D-1001'",
                         NULL);
    assert_string_equal(v, "dana/slack/U024BE7LH");
    bt_free(v);

    /* The same webhook again (a sender's retry): 2xx, stored once, nothing new. */
    bt_test_post_generic(&e->d, "msg_fixture_1", body, len, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    usleep(300 * 1000);
    assert_int_equal(count(e->db, "SELECT count(*) FROM inbox WHERE event_id = 'msg_fixture_1'"),
                     1);
    assert_int_equal(count(e->db, "SELECT count(*) FROM deliveries WHERE deal_id = 'D-1001'"),
                     1);
    bt_free(want);
    bt_free(body);
}

static void bad_authentication_gets_401_and_stores_nothing(void **state)
{
    struct env *e = *state;
    size_t len;
    char *body = bt_test_read_fixture("hubspot/deal-propertychange-batch.json", &len);
    char *url = bt_asprintf("%s/v1/webhooks/hubspot", e->d.base);
    struct bt_test_resp r;
    long long before = count(e->db, "SELECT count(*) FROM inbox");

    bt_test_post_hubspot(&e->d, body, len, 0, "not-the-secret", &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body.data, "error"));
    bt_test_resp_free(&r);
    bt_test_post_hubspot(&e->d, body, len, (long long)time(NULL) - 600, NULL, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    {
        /* Signed, then tampered with on the way. */
        char ts[32], *h_ts, *h_sig, sig[64];
        char *tampered = bt_strdup(body);

        snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL) * 1000);
        bt_sig_hubspot_v3_sign(BT_TEST_HUBSPOT_SECRET, "POST", url, body, len, ts, sig);
        tampered[len - 5] ^= 1;
        h_ts = bt_asprintf("X-HubSpot-Request-Timestamp: %s", ts);
        h_sig = bt_asprintf("X-HubSpot-Signature-v3: %s", sig);
        {
            const char *h[] = {h_ts, h_sig, NULL};

            bt_test_http("POST", url, h, tampered, len, &r);
        }
        assert_int_equal(r.status, 401);
        bt_test_resp_free(&r);
        bt_free(h_ts);
        bt_free(h_sig);
        bt_free(tampered);
    }
    /* No signature at all. */
    bt_test_http("POST", url, NULL, body, len, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    {
        size_t glen;
        char *g = bt_test_read_fixture("standard-webhooks/deal-changed.json", &glen);

        bt_test_post_generic(&e->d, "msg_bad", g, glen, 0,
                             "whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IHNlY3JldA==", &r);
        assert_int_equal(r.status, 401);
        bt_test_resp_free(&r);
        bt_test_post_generic(&e->d, "msg_old", g, glen, (long long)time(NULL) - 3600, NULL, &r);
        assert_int_equal(r.status, 401);
        bt_test_resp_free(&r);
        bt_free(g);
    }
    assert_int_equal(count(e->db, "SELECT count(*) FROM inbox"), before);
    /* A rotated-out secret still in the list is accepted. */
    bt_test_post_hubspot(&e->d, body, len, 0, "hs-old-secret", &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    bt_free(url);
    bt_free(body);
}

static void older_changes_do_not_overwrite_newer_ones(void **state)
{
    struct env *e = *state;
    const char *newer = "[{\"eventId\":1,\"subscriptionId\":7,\"portalId\":62515,\"occurredAt\":"
                        "1717000002000,\"subscriptionType\":\"deal.propertyChange\",\"objectId\":"
                        "555,\"propertyName\":\"dealstage\",\"propertyValue\":\"qualifiedtobuy\"}]";
    const char *older = "[{\"eventId\":2,\"subscriptionId\":7,\"portalId\":62515,\"occurredAt\":"
                        "1717000001000,\"subscriptionType\":\"deal.propertyChange\",\"objectId\":"
                        "555,\"propertyName\":\"dealstage\",\"propertyValue\":"
                        "\"appointmentscheduled\"}]";
    struct bt_test_resp r;
    char *v;

    bt_test_post_hubspot(&e->d, newer, strlen(newer), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    bt_test_post_hubspot(&e->d, older, strlen(older), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_value(e->db, "SELECT fields->>'stage' FROM deals WHERE deal_id = '555'", NULL);
    assert_string_equal(v, "qualifiedtobuy");
    bt_free(v);
    assert_int_equal(count(e->db, "SELECT count(*) FROM inbox WHERE deal_id = '555'"), 2);
}

static void one_batch_one_match_per_deal(void **state)
{
    struct env *e = *state;
    /* Stage and competitor in one batch: the most specific play's one asset,
     * not one asset per change. */
    const char *batch =
        "[{\"eventId\":11,\"subscriptionId\":7,\"portalId\":62515,\"occurredAt\":1717000001000,"
        "\"subscriptionType\":\"deal.propertyChange\",\"objectId\":777,\"propertyName\":"
        "\"dealstage\",\"propertyValue\":\"presentationscheduled\"},"
        "{\"eventId\":12,\"subscriptionId\":7,\"portalId\":62515,\"occurredAt\":1717000001001,"
        "\"subscriptionType\":\"deal.propertyChange\",\"objectId\":777,\"propertyName\":"
        "\"competitor\",\"propertyValue\":\"acme corp\"}]";
    char *want = expected_asset("presentationscheduled", "acme corp", NULL, NULL);
    struct bt_test_resp r;
    char *v;

    bt_test_post_hubspot(&e->d, batch, strlen(batch), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_wait(e->db, want, 5000,
                        "SELECT string_agg(asset_id, ',') FROM deliveries WHERE deal_id = '777'");
    assert_string_equal(v, want);
    bt_free(v);
    bt_free(want);
}

static void oversize_and_malformed_bodies(void **state)
{
    struct env *e = *state;
    size_t big_len = (1u << 20) + 10;
    char *big = malloc(big_len);
    char *url = bt_asprintf("%s/v1/webhooks/hubspot", e->d.base);
    struct bt_test_resp r;

    memset(big, ' ', big_len);
    bt_test_http("POST", url, NULL, big, big_len, &r);
    assert_int_equal(r.status, 413);
    bt_test_resp_free(&r);
    {
        const char *h[] = {"Transfer-Encoding: chunked", NULL};

        bt_test_http("POST", url, h, big, big_len, &r);
        assert_int_equal(r.status, 413);
        bt_test_resp_free(&r);
    }
    /* Correctly signed, but not what HubSpot sends. */
    bt_test_post_hubspot(&e->d, "{\"not\":\"an array\"}", 18, 0, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "\"error\""));
    bt_test_resp_free(&r);
    bt_test_post_generic(&e->d, "msg_malformed", "{\"type\":", 8, 0, NULL, &r);
    assert_int_equal(r.status, 400);
    bt_test_resp_free(&r);
    bt_test_post_generic(&e->d, "msg_bignum",
                         "{\"type\":\"deal.changed\",\"timestamp\":\"2024-05-29T15:11:55Z\","
                         "\"data\":{\"deal_id\":\"X\",\"amount\":123456789012345678901234567890}}",
                         113, 0, NULL, &r);
    assert_int_equal(r.status, 400);
    bt_test_resp_free(&r);
    /* An endpoint that does not exist. */
    {
        char *u = bt_asprintf("%s/v1/webhooks/zoho", e->d.base);

        bt_test_http("POST", u, NULL, "{}", 2, &r);
        assert_int_equal(r.status, 404);
        bt_test_resp_free(&r);
        bt_free(u);
    }
    free(big);
    bt_free(url);
}

static void a_new_motion_file_is_used_for_the_next_match(void **state)
{
    struct env *e = *state;
    char *v;
    struct bt_test_resp r;
    const char *batch =
        "[{\"eventId\":21,\"subscriptionId\":7,\"portalId\":62515,\"occurredAt\":1717000001000,"
        "\"subscriptionType\":\"deal.propertyChange\",\"objectId\":888,\"propertyName\":"
        "\"dealstage\",\"propertyValue\":\"appointmentscheduled\"}]";

    v = bt_test_db_value(e->db, "SELECT max(version) FROM motion_active", NULL);
    assert_string_equal(v, "1");
    bt_free(v);
    /* Append a catch-all play for the first stage with a new asset; the
     * daemon watches the file and loads it as `baton load` would. */
    assert_int_equal(
        bt_test_sh(NULL,
                   "sed -i 's/^assets:$/assets:\\n  - {id: zz-new-intro, kind: deck, title: "
                   "Intro, url: \"https:\\/\\/cms.example.com\\/intro\"}/; s/^plays:$/plays:\\n  "
                   "- {id: zz-first-call-any, when: {stage: [appointmentscheduled]}, send: "
                   "[zz-new-intro], priority: 1000}/' '%s'",
                   e->motion_path),
        0);
    v = bt_test_db_wait(e->db, "2", 10000, "SELECT version FROM motion_active");
    assert_string_equal(v, "2");
    bt_free(v);
    /* Give the daemon its NOTIFY. */
    for (int i = 0; i < 100 && !bt_testd_log_contains(&e->d, "version 2 is active"); i++)
        usleep(50 * 1000);
    bt_test_post_hubspot(&e->d, batch, strlen(batch), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_wait(e->db, "zz-new-intro/2", 5000,
                        "SELECT asset_id || '/' || motion_version FROM deliveries WHERE "
                        "deal_id = '888'");
    assert_string_equal(v, "zz-new-intro/2");
    bt_free(v);

    /* A broken edit is refused with every error logged; version 2 stays. */
    assert_int_equal(bt_test_sh(NULL, "printf 'plays:\\n  - {id: x, send: [nope]}\\n' >> '%s'",
                                e->motion_path),
                     0);
    for (int i = 0; i < 100 && !bt_testd_log_contains(&e->d, "does not validate"); i++)
        usleep(50 * 1000);
    assert_true(bt_testd_log_contains(&e->d, "does not validate"));
    v = bt_test_db_value(e->db, "SELECT version FROM motion_active", NULL);
    assert_string_equal(v, "2");
    bt_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(hubspot_fixture_becomes_a_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(generic_fixture_routes_to_the_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_authentication_gets_401_and_stores_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(older_changes_do_not_overwrite_newer_ones, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(one_batch_one_match_per_deal, setup, teardown),
        cmocka_unit_test_setup_teardown(oversize_and_malformed_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(a_new_motion_file_is_used_for_the_next_match, setup,
                                        teardown),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
