/* Pipedrive and Salesforce through the real daemon, and HubSpot merges:
 * authentication as each sender does it, the example motion's field maps,
 * and one delivery per deal and asset even across a merge. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

struct env {
    struct bt_testd d;
    PGconn *db;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    char *motion = bt_test_source_path("config/motion.example.yaml");

    e->db = bt_test_db();
    bt_testd_start(&e->d, motion, NULL);
    bt_testd_wait_ready(&e->d);
    bt_free(motion);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    bt_testd_stop(&e->d);
    bt_testd_cleanup(&e->d);
    PQfinish(e->db);
    free(e);
    return 0;
}

static void post_pipedrive(struct env *e, const char *user, const char *password,
                           const char *body, size_t len, struct bt_test_resp *r)
{
    char *url = bt_asprintf("%s/v1/webhooks/pipedrive", e->d.base);
    char *cmd_auth = NULL;
    const char *h[3] = {"Content-Type: application/json", NULL, NULL};

    if (user) {
        struct bt_buf b64;
        char *pair = bt_asprintf("%s:%s", user, password);

        bt_buf_init(&b64, 4096);
        assert_int_equal(bt_test_sh(&b64, "printf '%%s' '%s' | base64 -w0", pair), 0);
        cmd_auth = bt_asprintf("Authorization: Basic %s", b64.data);
        h[1] = cmd_auth;
        bt_buf_free(&b64);
        bt_free(pair);
    }
    bt_test_http("POST", url, h, body, len, r);
    bt_free(cmd_auth);
    bt_free(url);
}

static void pipedrive_v1_and_v2_fixtures(void **state)
{
    struct env *e = *state;
    size_t l1, l2;
    char *v1 = bt_test_read_fixture("pipedrive/v1-updated-deal.json", &l1);
    char *v2 = bt_test_read_fixture("pipedrive/v2-change-deal.json", &l2);
    char *want = bt_test_expected_asset(NULL, "stage", "presentationscheduled", "competitor",
                                        "acme", "amount", "100", NULL);
    struct bt_test_resp r;
    char *v;

    post_pipedrive(e, BT_TEST_PIPEDRIVE_USER, BT_TEST_PIPEDRIVE_PASSWORD, v1, l1, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_value(e->db,
                         "SELECT concat_ws('/', fields->>'name', fields->>'stage', "
                         "fields->>'competitor', fields->>'owner', fields->>'amount', "
                         "fields->>'currency') FROM deals WHERE source = 'pipedrive' AND "
                         "deal_id = '8'",
                         NULL);
    assert_string_equal(v, "Globex renewal/presentationscheduled/acme/12415231/100/EUR");
    bt_free(v);
    v = bt_test_db_wait(e->db, want, 5000,
                        "SELECT string_agg(asset_id, ',') FROM deliveries WHERE source = "
                        "'pipedrive' AND deal_id = '8'");
    assert_string_equal(v, want);
    bt_free(v);
    v = bt_test_db_value(e->db,
                         "SELECT rep_id || '/' || channel || '/' || target FROM deliveries "
                         "WHERE source = 'pipedrive' AND deal_id = '8'",
                         NULL);
    assert_string_equal(v, "dana/slack/U024BE7LH");
    bt_free(v);

    /* v2 of the same deal adds the industry custom field. */
    post_pipedrive(e, BT_TEST_PIPEDRIVE_USER, BT_TEST_PIPEDRIVE_PASSWORD, v2, l2, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_value(e->db,
                         "SELECT fields->>'industry' FROM deals WHERE source = 'pipedrive' "
                         "AND deal_id = '8'",
                         NULL);
    assert_string_equal(v, "Healthcare");
    bt_free(v);
    assert_int_equal(bt_test_db_count(e->db, "SELECT count(*) FROM inbox WHERE source = "
                                             "'pipedrive'"),
                     2);
    /* A retried v1 body keeps its derived event id: stored once. */
    post_pipedrive(e, BT_TEST_PIPEDRIVE_USER, BT_TEST_PIPEDRIVE_PASSWORD, v1, l1, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    assert_int_equal(bt_test_db_count(e->db, "SELECT count(*) FROM inbox WHERE source = "
                                             "'pipedrive'"),
                     2);

    /* Wrong or missing Basic credentials. */
    post_pipedrive(e, BT_TEST_PIPEDRIVE_USER, "wrong", v1, l1, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    post_pipedrive(e, NULL, NULL, v1, l1, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    bt_free(want);
    bt_free(v1);
    bt_free(v2);
}

static void salesforce_outbound_message(void **state)
{
    struct env *e = *state;
    size_t len, ack_len;
    char *body = bt_test_read_fixture("salesforce/outbound-message.xml", &len);
    char *ack = bt_test_read_fixture("salesforce/ack.xml", &ack_len);
    char *url = bt_asprintf("%s/v1/webhooks/salesforce/%s", e->d.base, BT_TEST_SALESFORCE_TOKEN);
    char *bad = bt_asprintf("%s/v1/webhooks/salesforce/not-the-token-0000000", e->d.base);
    char *want = bt_test_expected_asset(NULL, "stage", "presentationscheduled", "competitor",
                                        "Acme", NULL);
    const char *h[] = {"Content-Type: text/xml; charset=utf-8", "SOAPAction: \"\"", NULL};
    struct bt_test_resp r;
    char *v;

    bt_test_http("POST", bad, h, body, len, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    assert_int_equal(bt_test_db_count(e->db, "SELECT count(*) FROM inbox WHERE source = "
                                             "'salesforce'"),
                     0);

    bt_test_http("POST", url, h, body, len, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers.data, "text/xml"));
    assert_string_equal(r.body.data, ack);
    bt_test_resp_free(&r);
    v = bt_test_db_value(e->db,
                         "SELECT concat_ws('/', fields->>'stage', fields->>'competitor', "
                         "fields->>'owner') FROM deals WHERE source = 'salesforce' AND deal_id "
                         "= '0065g00000XyZ12AAB'",
                         NULL);
    assert_string_equal(v, "presentationscheduled/Acme/0055g00000Qwert1AAA");
    bt_free(v);
    v = bt_test_db_wait(e->db, want, 5000,
                        "SELECT string_agg(asset_id, ',') FROM deliveries WHERE source = "
                        "'salesforce'");
    assert_string_equal(v, want);
    bt_free(v);

    /* A malformed envelope is the sender's mistake: 400. */
    bt_test_http("POST", url, h, "<soapenv:Envelope", 17, &r);
    assert_int_equal(r.status, 400);
    bt_test_resp_free(&r);
    bt_free(want);
    bt_free(url);
    bt_free(bad);
    bt_free(body);
    bt_free(ack);
}

static char *change(long long event, const char *deal, const char *prop, const char *value,
                    long long at)
{
    return bt_asprintf("{\"eventId\":%lld,\"subscriptionId\":7,\"portalId\":62515,"
                       "\"occurredAt\":%lld,\"subscriptionType\":\"deal.propertyChange\","
                       "\"objectId\":%s,\"propertyName\":\"%s\",\"propertyValue\":\"%s\"}",
                       event, at, deal, prop, value);
}

/* One HubSpot request carrying two property changes of one deal, as
 * HubSpot batches them. */
static void hubspot_changes(struct env *e, long long event, const char *deal, const char *stage,
                            const char *competitor, long long at)
{
    char *a = change(event, deal, "dealstage", stage, at);
    char *b = change(event + 1, deal, "competitor", competitor, at + 1);
    char *body = bt_asprintf("[%s,%s]", a, b);
    struct bt_test_resp r;

    bt_test_post_hubspot(&e->d, body, strlen(body), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    bt_free(a);
    bt_free(b);
    bt_free(body);
}

static void hubspot_change(struct env *e, long long event, const char *deal, const char *prop,
                           const char *value, long long at)
{
    char *one = change(event, deal, prop, value, at);
    char *body = bt_asprintf("[%s]", one);
    struct bt_test_resp r;

    bt_test_post_hubspot(&e->d, body, strlen(body), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    bt_free(one);
    bt_free(body);
}

static void a_merge_keeps_one_deal_and_never_repeats_an_asset(void **state)
{
    struct env *e = *state;
    const char *merge = "[{\"eventId\":90,\"subscriptionId\":8,\"portalId\":62515,"
                        "\"occurredAt\":1717000009000,\"subscriptionType\":\"deal.merge\","
                        "\"objectId\":9001,\"mergedObjectIds\":[9002],\"primaryObjectId\":9001}]";
    struct bt_test_resp r;
    char *v;

    /* A is at the demo with Acme; B, the same opportunity entered twice, is
     * further along. Each gets its asset. */
    hubspot_changes(e, 81, "9001", "presentationscheduled", "Acme", 1717000001000);
    hubspot_changes(e, 83, "9002", "contractsent", "acme corp", 1717000002000);
    v = bt_test_db_wait(e->db, "2", 5000,
                        "SELECT count(*) FROM deliveries WHERE deal_id IN ('9001', '9002')");
    assert_string_equal(v, "2");
    bt_free(v);

    bt_test_post_hubspot(&e->d, merge, strlen(merge), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    /* One deal remains, with B's newer stage and both deliveries. */
    v = bt_test_db_value(e->db,
                         "SELECT string_agg(deal_id, ',') FROM deals WHERE deal_id IN "
                         "('9001', '9002') AND NOT deleted",
                         NULL);
    assert_string_equal(v, "9001");
    bt_free(v);
    v = bt_test_db_value(e->db,
                         "SELECT fields->>'stage' FROM deals WHERE deal_id = '9001'", NULL);
    assert_string_equal(v, "contractsent");
    bt_free(v);
    v = bt_test_db_wait(e->db, "0", 5000,
                        "SELECT count(*) FROM deals WHERE deal_id = '9001' AND to_match");
    assert_string_equal(v, "0");
    bt_free(v);
    /* No asset twice for the merged deal, whatever it is matched against. */
    assert_int_equal(bt_test_db_count(e->db,
                                      "SELECT count(*) FROM (SELECT asset_id FROM deliveries "
                                      "WHERE deal_id IN ('9001', '9002') GROUP BY asset_id "
                                      "HAVING count(*) > 1) x"),
                     0);
    assert_int_equal(bt_test_db_count(e->db, "SELECT count(*) FROM deliveries WHERE deal_id = "
                                             "'9001'"),
                     2);
    /* Later changes to the survivor still match normally. */
    hubspot_change(e, 85, "9001", "dealstage", "decisionmakerboughtin", 1717000010000);
    usleep(300 * 1000);
    assert_int_equal(bt_test_db_count(e->db,
                                      "SELECT count(*) FROM (SELECT asset_id FROM deliveries "
                                      "WHERE deal_id IN ('9001', '9002') GROUP BY asset_id "
                                      "HAVING count(*) > 1) x"),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pipedrive_v1_and_v2_fixtures, setup, teardown),
        cmocka_unit_test_setup_teardown(salesforce_outbound_message, setup, teardown),
        cmocka_unit_test_setup_teardown(a_merge_keeps_one_deal_and_never_repeats_an_asset,
                                        setup, teardown),
    };
    bt_mem_init();
    if (getenv("BATON_TEST_FILTER"))
        cmocka_set_test_filter(getenv("BATON_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
