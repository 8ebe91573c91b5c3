/* HubSpot sends one property per event: a deal whose owner is unknown is
 * completed from HubSpot's objects API (a local receiver speaking it here)
 * before it is matched, so the delivery routes to the owner it returns. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "sink.h"

static const char TOKEN[] = "pat-na1-test-token-0000";

static void start(struct bt_testd *d, struct bt_sink *sink)
{
    char *motion = bt_test_source_path("config/motion.example.yaml");
    char *extra = bt_asprintf("token: %s, api_base: \"%s\"", TOKEN, bt_sink_url(sink));

    bt_testd_start_hubspot(d, motion, "lookup: {base_delay: 200ms}\n", extra);
    bt_testd_wait_ready(d);
    bt_free(extra);
    bt_free(motion);
}

static void an_unknown_owner_is_looked_up_and_routes_the_delivery(void **state)
{
    struct bt_sink *sink = bt_sink_start(BT_SINK_ANY, NULL);
    struct bt_testd d;
    size_t len, olen;
    char *body = bt_test_read_fixture("hubspot/deal-propertychange-batch.json", &len);
    char *object = bt_test_read_fixture("hubspot/crm-deal-object.json", &olen);
    PGconn *db = bt_test_db();
    struct bt_test_resp r;
    struct bt_sink_req *reqs;
    size_t n;
    char *v;

    (void)state;
    /* First a rate limit, then the deal. */
    bt_sink_rule(sink, "/crm/v3/objects/deals/18239440011", 1, 429, "{}", "1", 0, NULL);
    bt_sink_rule(sink, "/crm/v3/objects/deals/18239440011", 1, 200, object, NULL, 0, NULL);
    start(&d, sink);
    bt_test_post_hubspot(&d, body, len, 0, NULL, &r);
    assert_int_equal(r.status, 200); /* never waits for the look-up */
    bt_test_resp_free(&r);

    v = bt_test_db_wait(db, "dana", 15000,
                        "SELECT rep_id FROM deliveries WHERE deal_id = '18239440011'");
    assert_string_equal(v, "dana");
    bt_free(v);
    v = bt_test_db_value(db,
                         "SELECT concat_ws('/', channel, target, deal_name) FROM deliveries "
                         "WHERE deal_id = '18239440011'",
                         NULL);
    assert_string_equal(v, "slack/U024BE7LH/Globex platform");
    bt_free(v);
    v = bt_test_db_value(db, "SELECT fields->>'owner' FROM deals WHERE deal_id = '18239440011'",
                         NULL);
    assert_string_equal(v, "882761034");
    bt_free(v);

    bt_sink_requests(sink, "/crm/v3/objects/deals/18239440011", &reqs, &n);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        char *auth = bt_sink_header(&reqs[i], "authorization");

        assert_string_equal(reqs[i].method, "GET");
        assert_non_null(strstr(reqs[i].query, "hubspot_owner_id"));
        assert_non_null(auth);
        assert_string_equal(auth, "Bearer pat-na1-test-token-0000");
        free(auth);
    }
    /* The 429's Retry-After (1 s) was waited out. */
    assert_true(reqs[1].at_ms - reqs[0].at_ms >= 900);
    bt_sink_reqs_free(reqs, n);
    assert_false(bt_testd_log_contains(&d, TOKEN)); /* never logged */

    bt_testd_stop(&d);
    bt_testd_cleanup(&d);
    bt_sink_stop(sink);
    PQfinish(db);
    bt_free(body);
    bt_free(object);
}

static void a_failing_lookup_leaves_the_deal_to_match_later(void **state)
{
    struct bt_sink *sink = bt_sink_start(BT_SINK_ANY, NULL);
    struct bt_testd d;
    const char *batch =
        "[{\"eventId\":31,\"subscriptionId\":7,\"portalId\":62515,\"occurredAt\":1717000001000,"
        "\"subscriptionType\":\"deal.propertyChange\",\"objectId\":4242,\"propertyName\":"
        "\"dealstage\",\"propertyValue\":\"presentationscheduled\"}]";
    PGconn *db = bt_test_db();
    struct bt_test_resp r;
    char *v;

    (void)state;
    bt_sink_rule(sink, "/crm/v3/objects/deals/4242", 1000, 500, "{}", NULL, 0, NULL);
    start(&d, sink);
    bt_test_post_hubspot(&d, batch, strlen(batch), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    /* Tried, failed, tried again after a wait; still to match, nothing sent. */
    assert_true(bt_sink_wait(sink, "/crm/v3/objects/deals/4242", 2, 10000) >= 2);
    assert_true(bt_testd_log_contains(&d, "look-up failed"));
    v = bt_test_db_value(db, "SELECT to_match::text || '/' || lookup_failures FROM deals WHERE "
                             "deal_id = '4242'",
                         NULL);
    assert_non_null(v);
    assert_int_equal(strncmp(v, "true/", 5), 0);
    bt_free(v);
    assert_int_equal(bt_test_db_count(db, "SELECT count(*) FROM deliveries WHERE deal_id = "
                                          "'4242'"),
                     0);
    /* HubSpot recovers: the deal is completed and matched. */
    bt_sink_clear_rules(sink);
    bt_sink_rule(sink, "/crm/v3/objects/deals/4242", 10, 200,
                 "{\"id\":\"4242\",\"properties\":{\"dealstage\":\"presentationscheduled\","
                 "\"hubspot_owner_id\":\"882761150\",\"dealname\":\"Hooli\"},"
                 "\"updatedAt\":\"2024-05-29T15:11:55Z\"}",
                 NULL, 0, NULL);
    v = bt_test_db_wait(db, "priya", 15000, "SELECT rep_id FROM deliveries WHERE deal_id = '4242'");
    assert_string_equal(v, "priya");
    bt_free(v);

    bt_testd_stop(&d);
    bt_testd_cleanup(&d);
    bt_sink_stop(sink);
    PQfinish(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_unknown_owner_is_looked_up_and_routes_the_delivery),
        cmocka_unit_test(a_failing_lookup_leaves_the_deal_to_match_later),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
