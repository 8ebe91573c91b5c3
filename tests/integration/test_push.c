/* Pushes end to end: deals posted to a real batond over the generic intake
 * become deliveries in a real PostgreSQL, and go out to local sinks that
 * play Slack, a Teams Workflows webhook and a Standard Webhooks receiver —
 * once, on the retry schedule, or not at all, as each case requires.
 *
 * The config's retry schedule is in milliseconds ([50ms, 100ms, 200ms],
 * then every 200 ms, dead after 2 s, no jitter) so the schedule can be
 * watched at the sink. Each test has a rep (and so a Slack channel) of its
 * own in tests/data/push/motion.yaml, and deal ids that name the test. */
#include "testutil.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "mem.h"
#include "sink.h"

#define SLACK_TOKEN "xoxb-test-token-9f8e7d6c"
#define TEAMS_SIG   "teams-secret-sig-51a2"
#define HOOK_SECRET "whsec_dGhlIHdlYmhvb2sgY2hhbm5lbCdzIHNlY3JldCE="

struct env {
    struct bt_testd d;
    PGconn *db;
    struct bt_sink *slack, *teams, *hook;
    char *motion;
    int seq;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    char *yaml;

    e->slack = bt_sink_start(BT_SINK_SLACK, SLACK_TOKEN);
    e->teams = bt_sink_start(BT_SINK_TEAMS, NULL);
    e->hook = bt_sink_start(BT_SINK_WEBHOOK, HOOK_SECRET);
    e->motion = bt_test_source_path("tests/data/push/motion.yaml");
    e->db = bt_test_db();
    yaml = bt_asprintf("channels:\n"
                       "  slack: {api_base: \"%s\", token: " SLACK_TOKEN "}\n"
                       "  teams:\n"
                       "    targets:\n"
                       "      emea-deals: {url: \"%s/workflows/emea?sig=" TEAMS_SIG "\"}\n"
                       "  webhook:\n"
                       "    secret: " HOOK_SECRET "\n"
                       "    targets: {crm-sidebar: {url: \"%s/baton/hook\"}}\n"
                       "push:\n"
                       "  retry_schedule: [50ms, 100ms, 200ms]\n"
                       "  retry_after_last: 200ms\n"
                       "  give_up_after: 2s\n"
                       "  jitter: 0\n"
                       "  lease: 1s\n"
                       "  timeout: 800ms\n"
                       "  connect_timeout: 500ms\n",
                       bt_sink_url(e->slack), bt_sink_url(e->teams), bt_sink_url(e->hook));
    bt_testd_start(&e->d, e->motion, yaml);
    bt_free(yaml);
    bt_testd_wait_ready(&e->d);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    /* A clean stop: the pusher closes its connection and handles. */
    bt_testd_stop(&e->d);
    /* No secret ever reaches the log: not the token, not a URL that is its
     * own authorization, not the signing secret. */
    assert_false(bt_testd_log_contains(&e->d, SLACK_TOKEN));
    assert_false(bt_testd_log_contains(&e->d, TEAMS_SIG));
    assert_false(bt_testd_log_contains(&e->d, HOOK_SECRET));
    assert_false(bt_testd_log_contains(&e->d, "/workflows/emea"));
    bt_testd_cleanup(&e->d);
    PQfinish(e->db);
    bt_sink_stop(e->slack);
    bt_sink_stop(e->teams);
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

/* Posts a generic deal change: DEAL at STAGE, owned by OWNER (the rep). */
static void post_deal(struct env *e, const char *deal, const char *stage, const char *owner)
{
    char stamp[32], id[64];
    time_t now = time(NULL);
    struct tm tm;
    struct bt_test_resp r;
    char *body;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(id, sizeof(id), "msg_%s_%d", deal, ++e->seq);
    body = bt_asprintf("{\"type\":\"deal.changed\",\"timestamp\":\"%s\",\"data\":{\"deal_id\":"
                       "\"%s\",\"name\":\"Deal %s\",\"stage\":\"%s\",\"competitor\":\"ACME "
                       "Inc.\",\"owner\":\"%s\"}}",
                       stamp, deal, deal, stage, owner);
    bt_test_post_generic(&e->d, id, body, strlen(body), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    bt_free(body);
}

/* One value about DEAL's delivery (the SQL's $1 is the deal id). */
static char *value(struct env *e, const char *sql, const char *deal)
{
    return bt_test_db_value(e->db, sql, deal, NULL);
}

static long long number(struct env *e, const char *sql, const char *deal)
{
    char *v = value(e, sql, deal);
    long long n = v ? strtoll(v, NULL, 10) : -1;

    bt_free(v);
    return n;
}

/* Waits until DEAL's delivery has STATUS; returns the status last seen. */
static char *wait_status(struct env *e, const char *deal, const char *status, int timeout_ms)
{
    char *v = NULL;

    for (int waited = 0;; waited += 20) {
        bt_free(v);
        v = value(e, "SELECT status FROM deliveries WHERE deal_id = $1", deal);
        if ((v && !strcmp(v, status)) || waited >= timeout_ms)
            return v;
        msleep(20);
    }
}

static void expect_status(struct env *e, const char *deal, const char *status, int timeout_ms)
{
    char *v = wait_status(e, deal, status, timeout_ms);

    if (!v || strcmp(v, status) != 0)
        fail_msg("delivery of %s is %s, not %s (see %s)", deal, v ? v : "missing", status,
                 e->d.log);
    bt_free(v);
}

static size_t answered_2xx(struct bt_sink *s, const char *match)
{
    struct bt_sink_req *v;
    size_t n, ok = 0;

    bt_sink_requests(s, match, &v, &n);
    for (size_t i = 0; i < n; i++)
        ok += v[i].status >= 200 && v[i].status < 300 && v[i].checks_ok &&
              (!strstr(v[i].answer, "\"ok\":") || strstr(v[i].answer, "\"ok\":true"));
    bt_sink_reqs_free(v, n);
    return ok;
}

/* ---------------------------------------------------------------- tests */

static void each_channel_delivers_once(void **state)
{
    struct env *e = *state;
    struct bt_sink_req *v;
    size_t n;
    char *x, *id;

    post_deal(e, "P-once", "demo", "u-once");
    post_deal(e, "P-teams", "demo", "u-teams");
    post_deal(e, "P-hook", "demo", "u-hook");
    post_deal(e, "P-panel", "demo", "u-panel");
    expect_status(e, "P-once", "sent", 10000);
    expect_status(e, "P-teams", "sent", 10000);
    expect_status(e, "P-hook", "sent", 10000);
    expect_status(e, "P-panel", "sent", 10000);
    msleep(300); /* room for a duplicate, were there one */

    /* Slack: one request, as Slack wants it, and its ts kept. */
    bt_sink_requests(e->slack, "P-once", &v, &n);
    assert_int_equal(n, 1);
    assert_true(v[0].checks_ok);
    assert_string_equal(v[0].path, "/api/chat.postMessage");
    assert_non_null(strstr(v[0].body, "\"channel\":\"C0ONCE\""));
    assert_non_null(strstr(v[0].body, "Deal P-once"));
    assert_non_null(strstr(v[0].body, "Winning the demo against Acme"));
    x = value(e, "SELECT external_id FROM deliveries WHERE deal_id = $1", "P-once");
    assert_non_null(x);
    assert_non_null(strstr(v[0].answer, x));
    bt_free(x);
    /* The button is the tracked link: public_url/o/token. */
    x = value(e, "SELECT token FROM deliveries WHERE deal_id = $1", "P-once");
    {
        char *link = bt_asprintf("\"url\":\"%s/o/%s\"", e->d.base, x);

        assert_non_null(strstr(v[0].body, link));
        bt_free(link);
    }
    bt_free(x);
    bt_sink_reqs_free(v, n);
    assert_int_equal(number(e,
                            "SELECT count(*) FROM deliveries WHERE deal_id = $1 AND attempts = 1 "
                            "AND sent_at IS NOT NULL AND lease_until IS NULL",
                            "P-once"),
                     1);

    /* Teams: one Adaptive Card to the configured URL. */
    bt_sink_requests(e->teams, "P-teams", &v, &n);
    assert_int_equal(n, 1);
    assert_true(v[0].checks_ok);
    assert_int_equal(v[0].status, 202);
    assert_string_equal(v[0].path, "/workflows/emea");
    assert_string_equal(v[0].query, "sig=" TEAMS_SIG);
    bt_sink_reqs_free(v, n);
    assert_int_equal(number(e, "SELECT attempts FROM deliveries WHERE deal_id = $1", "P-teams"),
                     1);

    /* Webhook: one request, signed, with the delivery's id. */
    bt_sink_requests(e->hook, "P-hook", &v, &n);
    assert_int_equal(n, 1);
    assert_true(v[0].checks_ok); /* the signature verified with the secret */
    id = value(e, "SELECT 'dlv_' || id FROM deliveries WHERE deal_id = $1", "P-hook");
    x = bt_sink_header(&v[0], "webhook-id");
    assert_string_equal(x, id);
    assert_non_null(strstr(v[0].body, "\"type\":\"baton.delivery\""));
    assert_non_null(strstr(v[0].body, "\"id\":\"P-hook\""));
    assert_non_null(strstr(v[0].body, "\"play\":\"demo-play\""));
    bt_free(x);
    bt_free(id);
    bt_sink_reqs_free(v, n);

    /* Panel: nothing over HTTP; sent at once, and the app hears of it. */
    assert_int_equal(bt_sink_count(e->slack, "P-panel") + bt_sink_count(e->teams, "P-panel") +
                         bt_sink_count(e->hook, "P-panel"),
                     0);
    id = value(e,
               "SELECT 'panel: delivery ' || id || ' for pat' FROM deliveries "
               "WHERE deal_id = $1",
               "P-panel");
    assert_true(bt_testd_log_contains(&e->d, id));
    bt_free(id);
}

static void transient_failures_retry_on_the_schedule(void **state)
{
    struct env *e = *state;
    static const int64_t gaps[] = {50, 100, 200};
    struct bt_sink_req *v;
    size_t n;

    bt_sink_rule(e->slack, "P-retry", 2, 500, NULL, NULL, 0, NULL);
    bt_sink_rule(e->slack, "P-retry", 1, 200, "{\"ok\":false,\"error\":\"internal_error\"}", NULL,
                 0, NULL);
    post_deal(e, "P-retry", "demo", "u-retry");
    expect_status(e, "P-retry", "sent", 10000);
    bt_sink_requests(e->slack, "P-retry", &v, &n);
    assert_int_equal(n, 4);
    for (size_t i = 1; i < n; i++) {
        int64_t gap = v[i].at_ms - v[i - 1].at_ms;

        /* Never early; late only by a few round trips. */
        if (gap < gaps[i - 1] - 5 || gap > gaps[i - 1] + 600)
            fail_msg("retry %zu came %lld ms after the attempt before, not ~%lld", i,
                     (long long)gap, (long long)gaps[i - 1]);
    }
    bt_sink_reqs_free(v, n);
    assert_int_equal(number(e, "SELECT attempts FROM deliveries WHERE deal_id = $1", "P-retry"),
                     4);
    assert_int_equal(answered_2xx(e->slack, "P-retry"), 1);
}

static void retry_after_is_honoured(void **state)
{
    struct env *e = *state;
    struct bt_sink_req *v;
    size_t n;
    int64_t gap;

    bt_sink_rule(e->slack, "P-rate", 1, 429, NULL, "1", 0, NULL);
    post_deal(e, "P-rate", "demo", "u-rate");
    expect_status(e, "P-rate", "sent", 10000);
    bt_sink_requests(e->slack, "P-rate", &v, &n);
    assert_int_equal(n, 2);
    gap = v[1].at_ms - v[0].at_ms;
    /* One second as asked, not the schedule's 50 ms. */
    if (gap < 950 || gap > 2500)
        fail_msg("the retry after a 429 with Retry-After: 1 came after %lld ms", (long long)gap);
    bt_sink_reqs_free(v, n);
}

static void permanent_failures_are_failed_with_the_reason(void **state)
{
    struct env *e = *state;
    char *v;

    bt_sink_rule(e->slack, "P-perm", 1, 200, "{\"ok\":false,\"error\":\"channel_not_found\"}",
                 NULL, 0, NULL);
    post_deal(e, "P-perm", "demo", "u-perm");
    post_deal(e, "P-nowhere", "demo", "u-nowhere");
    expect_status(e, "P-perm", "failed", 10000);
    expect_status(e, "P-nowhere", "failed", 10000);
    msleep(400); /* a retry would have come by now */
    assert_int_equal(bt_sink_count(e->slack, "P-perm"), 1);
    v = value(e, "SELECT last_error FROM deliveries WHERE deal_id = $1", "P-perm");
    assert_string_equal(v, "channel_not_found");
    bt_free(v);
    /* A target the config does not define: failed, named, never sent. */
    v = value(e, "SELECT last_error || '/' || attempts FROM deliveries WHERE deal_id = $1",
              "P-nowhere");
    assert_string_equal(v, "unknown teams target no-such-target/0");
    bt_free(v);
    assert_int_equal(bt_sink_count(e->teams, "P-nowhere"), 0);
}

static void dead_after_the_bound(void **state)
{
    struct env *e = *state;
    struct timespec t0, t1;
    long long attempts, ms;
    char *v;

    bt_sink_rule(e->hook, "P-dead", 1000, 503, NULL, NULL, 0, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    post_deal(e, "P-dead", "demo", "u-hook");
    expect_status(e, "P-dead", "dead", 10000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 1900);
    v = value(e, "SELECT last_error FROM deliveries WHERE deal_id = $1", "P-dead");
    assert_string_equal(v, "HTTP 503");
    bt_free(v);
    attempts = number(e, "SELECT attempts FROM deliveries WHERE deal_id = $1", "P-dead");
    /* 0, 50, 150, 350 ms, then every 200 ms up to 2 s: about 12. */
    assert_in_range(attempts, 6, 14);
    msleep(400);
    assert_int_equal((long long)bt_sink_count(e->hook, "P-dead"), attempts);
    bt_sink_clear_rules(e->hook);
}

static void webhook_retries_keep_their_id_and_are_signed(void **state)
{
    struct env *e = *state;
    struct bt_sink_req *v;
    size_t n;
    char *a, *b;

    bt_sink_rule(e->hook, "P-hook-retry", 1, 500, NULL, NULL, 0, NULL);
    post_deal(e, "P-hook-retry", "demo", "u-hook");
    expect_status(e, "P-hook-retry", "sent", 10000);
    bt_sink_requests(e->hook, "P-hook-retry", &v, &n);
    assert_int_equal(n, 2);
    assert_true(v[0].checks_ok && v[1].checks_ok);
    a = bt_sink_header(&v[0], "webhook-id");
    b = bt_sink_header(&v[1], "webhook-id");
    assert_string_equal(a, b);
    bt_free(a);
    bt_free(b);
    bt_sink_reqs_free(v, n);
}

static void a_deal_won_meanwhile_is_skipped(void **state)
{
    struct env *e = *state;
    char *v;

    /* The first push is held back a second; the deal is won meanwhile. */
    bt_sink_rule(e->slack, "P-won", 1, 429, NULL, "1", 0, NULL);
    post_deal(e, "P-won", "demo", "u-won");
    assert_int_equal(bt_sink_wait(e->slack, "P-won", 1, 10000), 1);
    post_deal(e, "P-won", "closedwon", "u-won");
    expect_status(e, "P-won", "skipped", 10000);
    v = value(e, "SELECT last_error || '/' || attempts FROM deliveries WHERE deal_id = $1",
              "P-won");
    assert_string_equal(v, "deal reached closedwon/1");
    bt_free(v);
    msleep(300);
    assert_int_equal(bt_sink_count(e->slack, "P-won"), 1);
}

static void slack_is_paced_per_channel(void **state)
{
    struct env *e = *state;
    struct bt_sink_req *v;
    size_t n;
    int64_t gap;

    post_deal(e, "P-pace-1", "demo", "u-pace");
    post_deal(e, "P-pace-2", "demo", "u-pace");
    expect_status(e, "P-pace-1", "sent", 10000);
    expect_status(e, "P-pace-2", "sent", 10000);
    bt_sink_requests(e->slack, "C0PACE", &v, &n);
    assert_int_equal(n, 2);
    gap = v[1].at_ms - v[0].at_ms;
    /* About a second apart; waiting for the channel is not an attempt. */
    if (gap < 900)
        fail_msg("two posts to one Slack channel %lld ms apart", (long long)gap);
    bt_sink_reqs_free(v, n);
    assert_int_equal(number(e,
                            "SELECT sum(attempts) FROM deliveries WHERE deal_id IN "
                            "($1, 'P-pace-2')",
                            "P-pace-1"),
                     2);
}

static void an_outcome_never_overwrites_a_newer_claim(void **state)
{
    struct env *e = *state;
    char *v;

    /* While the push is in flight, another instance (played by SQL) takes
     * the delivery over, as if the lease had run out. */
    bt_sink_rule(e->slack, "P-steal", 1, 200, NULL, NULL, 500, NULL);
    post_deal(e, "P-steal", "demo", "u-steal");
    assert_int_equal(bt_sink_wait(e->slack, "P-steal", 1, 10000), 1);
    v = value(e,
              "UPDATE deliveries SET leased_by = 'elsewhere:1:0', attempts = attempts + 1 "
              "WHERE deal_id = $1 RETURNING attempts",
              "P-steal");
    assert_string_equal(v, "2");
    bt_free(v);
    for (int i = 0; i < 100 && !bt_testd_log_contains(&e->d, "our claim ran out"); i++)
        msleep(20);
    assert_true(bt_testd_log_contains(&e->d, "our claim ran out"));
    v = value(e, "SELECT status || '/' || leased_by FROM deliveries WHERE deal_id = $1",
              "P-steal");
    assert_string_equal(v, "pending/elsewhere:1:0");
    bt_free(v);
    /* The other instance "dies"; its lease runs out and the delivery is
     * pushed again (at least once: never lost). */
    expect_status(e, "P-steal", "sent", 10000);
    assert_int_equal(bt_sink_count(e->slack, "P-steal"), 2);
    assert_int_equal(number(e, "SELECT attempts FROM deliveries WHERE deal_id = $1", "P-steal"),
                     3);
}

static void resumes_after_sigkill_mid_retry(void **state)
{
    struct env *e = *state;
    struct bt_sink_req *v;
    size_t n;
    int64_t gap;
    char *held;

    /* The first attempt fails; the second hangs, and batond dies with it
     * in flight. Its claim stays until the lease runs out. */
    bt_sink_rule(e->slack, "P-kill", 1, 500, NULL, NULL, 0, NULL);
    bt_sink_rule(e->slack, "P-kill", 1, 500, NULL, NULL, 700, NULL);
    post_deal(e, "P-kill", "demo", "u-kill");
    assert_int_equal(bt_sink_wait(e->slack, "P-kill", 2, 10000), 2);
    bt_testd_kill(&e->d);
    held = value(e, "SELECT leased_by FROM deliveries WHERE deal_id = $1 AND lease_until > now()",
                 "P-kill");
    assert_non_null(held);
    bt_free(held);
    bt_testd_restart(&e->d);
    bt_testd_wait_ready(&e->d);
    expect_status(e, "P-kill", "sent", 15000);
    msleep(300);
    bt_sink_requests(e->slack, "P-kill", &v, &n);
    assert_int_equal(n, 3);
    /* The third came once the dead instance's lease (1 s) ran out. */
    gap = v[2].at_ms - v[1].at_ms;
    assert_true(gap >= 900);
    bt_sink_reqs_free(v, n);
    assert_int_equal(answered_2xx(e->slack, "P-kill"), 1);
    assert_int_equal(number(e, "SELECT attempts FROM deliveries WHERE deal_id = $1", "P-kill"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_channel_delivers_once),
        cmocka_unit_test(transient_failures_retry_on_the_schedule),
        cmocka_unit_test(retry_after_is_honoured),
        cmocka_unit_test(permanent_failures_are_failed_with_the_reason),
        cmocka_unit_test(dead_after_the_bound),
        cmocka_unit_test(webhook_retries_keep_their_id_and_are_signed),
        cmocka_unit_test(a_deal_won_meanwhile_is_skipped),
        cmocka_unit_test(slack_is_paced_per_channel),
        cmocka_unit_test(an_outcome_never_overwrites_a_newer_claim),
        cmocka_unit_test(resumes_after_sigkill_mid_retry),
    };
    int rc;

    bt_mem_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
