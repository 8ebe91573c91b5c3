/* Two batonds on one database share the outbox: a thousand deliveries go
 * out through the webhook channel, each exactly once (the sink counts
 * webhook-id values, which are the delivery ids), and both instances take
 * part. Then one instance is killed mid-stream: every delivery still goes
 * out, those it had in flight coming back to the other once their lease
 * runs out (at least once, never lost). */
#include "testutil.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "mem.h"
#include "sink.h"

#define HOOK_SECRET "whsec_dGhlIHdlYmhvb2sgY2hhbm5lbCdzIHNlY3JldCE="

struct env {
    struct bt_testd a, b;
    PGconn *db;
    struct bt_sink *hook;
    char *motion;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    char *yaml;

    e->hook = bt_sink_start(BT_SINK_WEBHOOK, HOOK_SECRET);
    e->motion = bt_test_source_path("tests/data/push/motion.yaml");
    e->db = bt_test_db();
    yaml = bt_asprintf("channels:\n"
                       "  webhook:\n"
                       "    secret: " HOOK_SECRET "\n"
                       "    targets: {crm-sidebar: {url: \"%s/baton/hook\"}}\n"
                       "push:\n"
                       "  retry_schedule: [50ms, 100ms, 200ms]\n"
                       "  retry_after_last: 200ms\n"
                       "  give_up_after: 60s\n"
                       "  jitter: 0\n"
                       "  lease: 2s\n"
                       "  timeout: 1500ms\n"
                       "  batch: 100\n",
                       bt_sink_url(e->hook));
    bt_testd_start(&e->a, e->motion, yaml);
    bt_testd_wait_ready(&e->a);
    bt_testd_start(&e->b, e->motion, yaml);
    bt_testd_wait_ready(&e->b);
    bt_free(yaml);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    bt_testd_stop(&e->a);
    bt_testd_stop(&e->b);
    bt_testd_cleanup(&e->a);
    bt_testd_cleanup(&e->b);
    PQfinish(e->db);
    bt_sink_stop(e->hook);
    bt_free(e->motion);
    free(e);
    return 0;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long number(struct env *e, const char *sql, const char *p1)
{
    char *v = bt_test_db_value(e->db, sql, p1, NULL);
    long long n = v ? strtoll(v, NULL, 10) : -1;

    bt_free(v);
    return n;
}

/* N deals marked to match, as ingest leaves them (fast: one statement),
 * then a posted deal on each instance so both matchers start. */
static void make_deals(struct env *e, const char *prefix, int n)
{
    char count[16], stamp[32], *body;
    struct bt_testd *d[2] = {&e->a, &e->b};
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(count, sizeof(count), "%d", n);
    bt_test_db_value(e->db,
                     "INSERT INTO deals (source, deal_id, fields, to_match, trigger, change_seq) "
                     "SELECT 'generic', $1 || g, jsonb_build_object('stage', 'demo', 'owner', "
                     "  'u-hook', 'name', 'Deal ' || $1 || g), true, 'created', 1 "
                     "FROM generate_series(1, $2::int) g",
                     prefix, count, NULL);
    for (int i = 0; i < 2; i++) {
        struct bt_test_resp r;
        char id[64];

        snprintf(id, sizeof(id), "msg_%skick%d", prefix, i);
        body = bt_asprintf("{\"type\":\"deal.changed\",\"timestamp\":\"%s\",\"data\":{"
                           "\"deal_id\":\"%skick%d\",\"stage\":\"demo\",\"owner\":\"u-hook\"}}",
                           stamp, prefix, i);
        bt_test_post_generic(d[i], id, body, strlen(body), 0, NULL, &r);
        assert_int_equal(r.status, 200);
        bt_test_resp_free(&r);
        bt_free(body);
    }
}

/* Waits until every delivery of deals starting with PREFIX is sent. */
static long long wait_sent(struct env *e, const char *prefix, long long want, int timeout_ms)
{
    long long sent = 0;

    for (int waited = 0; waited < timeout_ms; waited += 100) {
        sent = number(e,
                      "SELECT count(*) FROM deliveries WHERE deal_id LIKE $1 || '%' AND "
                      "status = 'sent'",
                      prefix);
        if (sent >= want)
            break;
        msleep(100);
    }
    return sent;
}

/* How often the sink saw each delivery of PREFIX; fails on a request the
 * sink refused (bad signature) or one for a delivery that does not exist. */
static void tally(struct env *e, const char *prefix, long long *once, long long *more,
                  long long *deliveries)
{
    struct bt_sink_req *v;
    size_t n;
    long long max_id = number(e, "SELECT max(id) FROM deliveries", NULL) + 1;
    int *seen = bt_calloc((size_t)max_id, sizeof(int));
    PGresult *r;

    bt_sink_requests(e->hook, prefix, &v, &n);
    for (size_t i = 0; i < n; i++) {
        char *id = bt_sink_header(&v[i], "webhook-id");
        long long k;

        if (!v[i].checks_ok)
            fail_msg("the sink refused a push: %s", v[i].why);
        assert_non_null(id);
        assert_int_equal(strncmp(id, "dlv_", 4), 0);
        k = strtoll(id + 4, NULL, 10);
        assert_in_range(k, 1, max_id - 1);
        seen[k]++;
        bt_free(id);
    }
    bt_sink_reqs_free(v, n);
    {
        const char *p[1] = {prefix};

        r = PQexecParams(e->db, "SELECT id FROM deliveries WHERE deal_id LIKE $1 || '%'", 1, NULL,
                         p, NULL, NULL, 0);
    }
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    *once = *more = 0;
    *deliveries = PQntuples(r);
    for (int i = 0; i < PQntuples(r); i++) {
        long long k = strtoll(PQgetvalue(r, i, 0), NULL, 10);

        if (seen[k] == 0)
            fail_msg("delivery %lld never reached the sink", k);
        *once += seen[k] == 1;
        *more += seen[k] > 1;
    }
    PQclear(r);
    bt_free(seen);
}

static void a_thousand_deliveries_each_pushed_once(void **state)
{
    struct env *e = *state;
    int64_t t0 = now_ms();
    long long sent, once, more, deliveries, instances;

    make_deals(e, "M-", 1000);
    sent = wait_sent(e, "M-", 1002, 60000);
    print_message("1002 deliveries pushed by two instances in %lld ms\n",
                  (long long)(now_ms() - t0));
    assert_int_equal(sent, 1002);
    msleep(500); /* room for a duplicate, were there one */
    tally(e, "M-", &once, &more, &deliveries);
    assert_int_equal(deliveries, 1002);
    assert_int_equal(once, 1002);
    assert_int_equal(more, 0);
    assert_int_equal(bt_sink_count(e->hook, "M-"), 1002);
    assert_int_equal(number(e,
                            "SELECT count(*) FROM deliveries WHERE deal_id LIKE $1 || '%' AND "
                            "attempts <> 1",
                            "M-"),
                     0);
    /* leased_by keeps who sent it: both instances took part. */
    instances = number(e,
                       "SELECT count(DISTINCT leased_by) FROM deliveries "
                       "WHERE deal_id LIKE $1 || '%'",
                       "M-");
    print_message("instances that pushed: %lld\n", instances);
    assert_int_equal(instances, 2);
}

static void one_instance_killed_mid_stream_loses_nothing(void **state)
{
    struct env *e = *state;
    long long sent, once, more, deliveries;

    /* Every answer is a little slow, so the stream is still flowing when
     * one instance dies. It dies once matching is done: this test is about
     * the outbox, not the matcher's own (longer) lease. */
    bt_sink_rule(e->hook, "K-", 100000, 200, NULL, NULL, 50, NULL);
    make_deals(e, "K-", 600);
    for (int waited = 0; waited < 30000; waited += 20) {
        if (number(e, "SELECT count(*) FROM deliveries WHERE deal_id LIKE $1 || '%'", "K-") == 602)
            break;
        msleep(20);
    }
    assert_true(bt_sink_wait(e->hook, "K-", 100, 30000) >= 100);
    assert_true(number(e,
                       "SELECT count(*) FROM deliveries WHERE deal_id LIKE $1 || '%' AND "
                       "status = 'pending'",
                       "K-") > 100);
    bt_testd_kill(&e->b);
    sent = wait_sent(e, "K-", 602, 60000);
    assert_int_equal(sent, 602);
    tally(e, "K-", &once, &more, &deliveries);
    print_message("after the kill: %lld pushed once, %lld more than once\n", once, more);
    assert_int_equal(deliveries, 602);
    assert_int_equal(once + more, 602);
    /* Only what the dead instance had in flight may go twice. */
    assert_true(more <= 100);
    bt_sink_clear_rules(e->hook);
    bt_testd_restart(&e->b);
    bt_testd_wait_ready(&e->b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_thousand_deliveries_each_pushed_once),
        cmocka_unit_test(one_instance_killed_mid_stream_loses_nothing),
    };
    int rc;

    bt_mem_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
