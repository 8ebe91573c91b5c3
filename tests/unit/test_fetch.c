#include "testutil.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "fetch.h"
#include "mem.h"
#include "sink.h"

/* The client runs on a loop in the test's thread; the sink answers from
 * threads of its own, over loopback. */
struct env {
    uv_loop_t loop;
    struct bt_fetch *f;
    struct bt_sink *sink;
    bool closed;
};

struct got {
    int calls;
    int err;
    long status;
    char error[256];
    int64_t retry_after_ms;
    char *body;
    size_t body_len;
};

static void on_done(const struct bt_fetch_result *res, void *ud)
{
    struct got *g = ud;

    g->calls++;
    g->err = res->err;
    g->status = res->status;
    snprintf(g->error, sizeof(g->error), "%s", res->error);
    g->retry_after_ms = res->retry_after_ms;
    bt_free(g->body);
    g->body = bt_strndup(res->body, res->body_len);
    g->body_len = res->body_len;
}

static void start_with(struct env *e, const struct bt_fetch_opts *o)
{
    assert_int_equal(uv_loop_init(&e->loop), 0);
    assert_int_equal(bt_fetch_new(&e->loop, o, &e->f), 0);
}

static int setup(void **state)
{
    struct env *e = bt_calloc(1, sizeof(*e));
    struct bt_fetch_opts o = {.connect_timeout_ms = 2000,
                              .timeout_ms = 5000,
                              .max_connections_per_host = 4,
                              .response_cap = 4096};

    e->sink = bt_sink_start(BT_SINK_ANY, NULL);
    start_with(e, &o);
    *state = e;
    return 0;
}

static void closed(void *ud)
{
    ((struct env *)ud)->closed = true;
}

static int teardown(void **state)
{
    struct env *e = *state;

    if (e->f)
        bt_fetch_close(e->f, closed, e);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_true(e->closed);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    bt_sink_stop(e->sink);
    bt_free(e);
    return 0;
}

static void got_free(struct got *g)
{
    bt_free(g->body);
    g->body = NULL;
}

/* Runs the loop until every GOT has its callback. */
static void run_until(struct env *e, struct got *g, size_t n)
{
    for (int i = 0; i < 100000; i++) {
        size_t done = 0;

        for (size_t k = 0; k < n; k++)
            done += g[k].calls > 0;
        if (done == n)
            return;
        uv_run(&e->loop, UV_RUN_ONCE);
    }
    fail_msg("callbacks did not all fire");
}

static void fetch(struct env *e, const char *method, const char *path, const char *const *headers,
                  const char *body, struct got *g)
{
    char *url = bt_asprintf("%s%s", bt_sink_url(e->sink), path);
    struct bt_fetch_request rq = {method, url, headers, body, body ? strlen(body) : 0};

    memset(g, 0, sizeof(*g));
    assert_int_equal(bt_fetch_start(e->f, &rq, on_done, g, NULL), 0);
    /* Never called back from inside the start. */
    assert_int_equal(g->calls, 0);
    bt_free(url);
}

static void posts_method_headers_and_body(void **state)
{
    struct env *e = *state;
    const char *h[] = {"Content-Type: application/json", "X-Test: yes", NULL};
    struct bt_sink_req *reqs;
    size_t n;
    struct got g;
    char *v;

    bt_sink_rule(e->sink, NULL, 1, 201, "{\"made\":true}", NULL, 0, NULL);
    fetch(e, "POST", "/hook/a?sig=abc", h, "{\"hello\":1}", &g);
    run_until(e, &g, 1);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.err, 0);
    assert_int_equal(g.status, 201);
    assert_string_equal(g.body, "{\"made\":true}");
    assert_int_equal(g.retry_after_ms, -1);
    assert_string_equal(g.error, "");
    bt_sink_requests(e->sink, NULL, &reqs, &n);
    assert_int_equal(n, 1);
    assert_string_equal(reqs[0].method, "POST");
    assert_string_equal(reqs[0].path, "/hook/a");
    assert_string_equal(reqs[0].query, "sig=abc");
    assert_string_equal(reqs[0].body, "{\"hello\":1}");
    v = bt_sink_header(&reqs[0], "x-test");
    assert_string_equal(v, "yes");
    bt_free(v);
    /* No 100-continue round trip. */
    assert_null(bt_sink_header(&reqs[0], "expect"));
    bt_sink_reqs_free(reqs, n);
    got_free(&g);
}

static void reads_retry_after_in_seconds_and_as_a_date(void **state)
{
    struct env *e = *state;
    struct got g[3];
    char date[64];
    time_t later = time(NULL) + 120;
    struct tm tm;

    gmtime_r(&later, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    bt_sink_rule(e->sink, "/one", 1, 429, NULL, "7", 0, NULL);
    bt_sink_rule(e->sink, "/two", 1, 503, NULL, date, 0, NULL);
    fetch(e, "POST", "/one", NULL, "x", &g[0]);
    fetch(e, "POST", "/two", NULL, "x", &g[1]);
    fetch(e, "GET", "/three", NULL, NULL, &g[2]);
    run_until(e, g, 3);
    assert_int_equal(g[0].status, 429);
    assert_int_equal(g[0].retry_after_ms, 7000);
    assert_int_equal(g[1].status, 503);
    assert_in_range(g[1].retry_after_ms, 110000, 121000);
    assert_int_equal(g[2].status, 200);
    assert_int_equal(g[2].retry_after_ms, -1);
    for (int i = 0; i < 3; i++)
        got_free(&g[i]);
}

static void does_not_follow_redirects(void **state)
{
    struct env *e = *state;
    struct got g;

    bt_sink_rule(e->sink, "/moved", 1, 302, "", NULL, 0, "/elsewhere");
    fetch(e, "POST", "/moved", NULL, "x", &g);
    run_until(e, &g, 1);
    assert_int_equal(g.err, 0);
    assert_int_equal(g.status, 302);
    /* Give a redirect the time it would need; nobody asks /elsewhere. */
    uv_sleep(100);
    assert_int_equal(bt_sink_count(e->sink, "/elsewhere"), 0);
    assert_int_equal(bt_sink_count(e->sink, NULL), 1);
    got_free(&g);
}

static void caps_the_response_body(void **state)
{
    struct env *e = *state;
    size_t big = 200 * 1024;
    char *body = bt_malloc(big + 1);
    struct got g;

    memset(body, 'x', big);
    body[big] = '\0';
    bt_sink_rule(e->sink, "/big", 1, 200, body, NULL, 0, NULL);
    fetch(e, "GET", "/big", NULL, NULL, &g);
    run_until(e, &g, 1);
    assert_int_equal(g.err, BT_ETOOBIG);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.body_len, 4096);
    assert_int_equal(g.body[4095], 'x');
    got_free(&g);
    bt_free(body);
}

static void a_refused_connection_is_a_transport_error(void **state)
{
    struct env *e = *state;
    char *url = bt_asprintf("http://127.0.0.1:%d/x", bt_test_free_port());
    struct bt_fetch_request rq = {"POST", url, NULL, "x", 1};
    struct got g;

    memset(&g, 0, sizeof(g));
    assert_int_equal(bt_fetch_start(e->f, &rq, on_done, &g, NULL), 0);
    run_until(e, &g, 1);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.err, BT_EIO);
    assert_int_equal(g.status, 0);
    assert_true(strlen(g.error) > 0);
    got_free(&g);
    bt_free(url);
}

static void a_slow_answer_times_out(void **state)
{
    struct env *e = *state;
    struct bt_fetch_opts o = {.timeout_ms = 200};
    struct got g;
    uint64_t t0;

    bt_fetch_close(e->f, NULL, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(bt_fetch_new(&e->loop, &o, &e->f), 0);
    bt_sink_rule(e->sink, "/slow", 1, 200, NULL, NULL, 1500, NULL);
    t0 = uv_now(&e->loop);
    fetch(e, "POST", "/slow", NULL, "x", &g);
    run_until(e, &g, 1);
    assert_int_equal(g.err, BT_EIO);
    assert_int_equal(g.status, 0);
    assert_non_null(strstr(g.error, "imed out"));
    assert_true(uv_now(&e->loop) - t0 < 1200);
    got_free(&g);
}

struct cancel_ctx {
    struct bt_fetch_req *req;
    struct got *g;
    uv_timer_t t;
};

static void cancel_now(uv_timer_t *t)
{
    struct cancel_ctx *c = t->data;

    bt_fetch_cancel(c->req);
    assert_int_equal(c->g->calls, 1); /* fired before cancel returned */
    assert_int_equal(c->g->err, BT_ECANCELED);
    uv_close((uv_handle_t *)&c->t, NULL);
}

static void a_request_can_be_canceled(void **state)
{
    struct env *e = *state;
    char *url = bt_asprintf("%s/hang", bt_sink_url(e->sink));
    struct bt_fetch_request rq = {"POST", url, NULL, "x", 1};
    struct got g, other;
    struct cancel_ctx c;

    memset(&g, 0, sizeof(g));
    bt_sink_rule(e->sink, "/hang", 1, 200, NULL, NULL, 600, NULL);
    assert_int_equal(bt_fetch_start(e->f, &rq, on_done, &g, &c.req), 0);
    c.g = &g;
    uv_timer_init(&e->loop, &c.t);
    c.t.data = &c;
    uv_timer_start(&c.t, cancel_now, 100, 0);
    fetch(e, "GET", "/other", NULL, NULL, &other);
    run_until(e, &other, 1);
    while (g.calls == 0)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(other.status, 200);
    assert_int_equal(bt_fetch_in_flight(e->f), 0);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    assert_int_equal(g.calls, 1);
    got_free(&g);
    got_free(&other);
    bt_free(url);
}

static void connections_per_host_are_capped(void **state)
{
    struct env *e = *state;
    struct bt_fetch_opts o = {.max_connections_per_host = 2};
    struct got g[6];

    bt_fetch_close(e->f, NULL, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(bt_fetch_new(&e->loop, &o, &e->f), 0);
    bt_sink_rule(e->sink, "/slowish", 6, 200, NULL, NULL, 150, NULL);
    for (int i = 0; i < 6; i++)
        fetch(e, "POST", "/slowish", NULL, "x", &g[i]);
    assert_int_equal(bt_fetch_in_flight(e->f), 6);
    run_until(e, g, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(g[i].status, 200);
        got_free(&g[i]);
    }
    assert_int_equal(bt_sink_count(e->sink, "/slowish"), 6);
    assert_in_range(bt_sink_max_concurrent(e->sink), 1, 2);
}

/* The timeout runs from the start, queue included: a push waiting for a
 * connection can never outlive its claim's lease (timeout < lease). */
static void waiting_for_a_connection_counts_against_the_timeout(void **state)
{
    struct env *e = *state;
    struct bt_fetch_opts o = {.max_connections_per_host = 1, .timeout_ms = 500};
    struct got g[2];

    bt_fetch_close(e->f, NULL, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(bt_fetch_new(&e->loop, &o, &e->f), 0);
    bt_sink_rule(e->sink, "/queue", 2, 200, NULL, NULL, 400, NULL);
    fetch(e, "POST", "/queue", NULL, "x", &g[0]);
    fetch(e, "POST", "/queue", NULL, "x", &g[1]);
    run_until(e, g, 2);
    assert_int_equal(g[0].status, 200);
    assert_int_equal(g[1].err, BT_EIO);
    got_free(&g[0]);
    got_free(&g[1]);
}

static void many_requests_reuse_connections_cleanly(void **state)
{
    struct env *e = *state;
    enum { N = 200 };
    struct got *g = bt_calloc(N, sizeof(*g));

    /* Some answers close their connection, some keep it: sockets come and
     * go and descriptor numbers are reused under the client's feet. */
    bt_sink_rule(e->sink, "/r", N / 4, 500, "no", NULL, 0, NULL);
    for (int round = 0; round < 4; round++) {
        for (int i = round * N / 4; i < (round + 1) * N / 4; i++)
            fetch(e, i % 3 ? "POST" : "GET", "/r", NULL, i % 3 ? "body" : NULL, &g[i]);
        run_until(e, g + round * N / 4, N / 4);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_true(g[i].status == 200 || g[i].status == 500);
        got_free(&g[i]);
    }
    assert_int_equal(bt_sink_count(e->sink, "/r"), N);
    bt_free(g);
}

static void close_cancels_what_is_in_flight(void **state)
{
    struct env *e = *state;
    struct got g[3];

    bt_sink_rule(e->sink, "/wait", 3, 200, NULL, NULL, 400, NULL);
    for (int i = 0; i < 3; i++)
        fetch(e, "POST", "/wait", NULL, "x", &g[i]);
    /* Let them reach the sink. */
    for (int i = 0; i < 50 && bt_sink_count(e->sink, "/wait") < 3; i++)
        uv_run(&e->loop, UV_RUN_NOWAIT), uv_sleep(10);
    bt_fetch_close(e->f, closed, e);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].err, BT_ECANCELED);
        got_free(&g[i]);
    }
    {
        struct bt_fetch_request rq = {"GET", "http://127.0.0.1:1/", NULL, NULL, 0};
        struct got late;

        memset(&late, 0, sizeof(late));
        /* A closing client starts nothing and calls nobody back. */
        assert_int_equal(bt_fetch_start(e->f, &rq, on_done, &late, NULL), BT_ECANCELED);
        assert_int_equal(late.calls, 0);
    }
    e->f = NULL;
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_true(e->closed);
}

struct closer {
    struct env *e;
    struct got g;
};

static void close_in_callback(const struct bt_fetch_result *res, void *ud)
{
    struct closer *c = ud;

    on_done(res, &c->g);
    bt_fetch_close(c->e->f, closed, c->e);
    c->e->f = NULL;
}

static void closing_from_a_callback_is_safe(void **state)
{
    struct env *e = *state;
    char *fast = bt_asprintf("%s/fast", bt_sink_url(e->sink));
    char *late = bt_asprintf("%s/late", bt_sink_url(e->sink));
    struct bt_fetch_request rq_late = {"GET", late, NULL, NULL, 0};
    struct bt_fetch_request rq_fast = {"GET", fast, NULL, NULL, 0};
    struct closer c;
    struct got g;

    memset(&c, 0, sizeof(c));
    memset(&g, 0, sizeof(g));
    c.e = e;
    bt_sink_rule(e->sink, "/late", 1, 200, NULL, NULL, 300, NULL);
    assert_int_equal(bt_fetch_start(e->f, &rq_late, on_done, &g, NULL), 0);
    assert_int_equal(bt_fetch_start(e->f, &rq_fast, close_in_callback, &c, NULL), 0);
    while (c.g.calls == 0)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(c.g.status, 200);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.err, BT_ECANCELED);
    got_free(&g);
    got_free(&c.g);
    bt_free(fast);
    bt_free(late);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(posts_method_headers_and_body, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_retry_after_in_seconds_and_as_a_date, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(does_not_follow_redirects, setup, teardown),
        cmocka_unit_test_setup_teardown(caps_the_response_body, setup, teardown),
        cmocka_unit_test_setup_teardown(a_refused_connection_is_a_transport_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_slow_answer_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(a_request_can_be_canceled, setup, teardown),
        cmocka_unit_test_setup_teardown(connections_per_host_are_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(waiting_for_a_connection_counts_against_the_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(many_requests_reuse_connections_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(close_cancels_what_is_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(closing_from_a_callback_is_safe, setup, teardown),
    };
    int rc;

    bt_mem_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
