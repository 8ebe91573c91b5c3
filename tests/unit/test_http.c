#include "testutil.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "mem.h"

/* The server runs its loop on a thread of its own; the test body talks to
 * it over loopback with libcurl, as any sender would. */
struct server {
    uv_loop_t loop;
    uv_async_t stop;
    struct bt_http *http;
    pthread_t thread;
    int port;
    uv_timer_t later;
    struct bt_http_req *held;
};

static void answer_later(uv_timer_t *t)
{
    struct server *s = t->data;

    bt_http_respond(s->held, 202, "text/plain", "later", 5, NULL);
    s->held = NULL;
}

static void handler(struct bt_http_req *r, void *ud)
{
    struct server *s = ud;
    const char *path = bt_http_path(r);
    size_t len;
    const char *body = bt_http_body(r, &len);

    if (!strcmp(path, "/now")) {
        const char *h[] = {"X-Method", bt_http_method(r), NULL};
        const char *q = bt_http_query(r, "q");
        char *text = bt_asprintf("%s|%zu|%s|%s", q ? q : "-", len, body,
                                 bt_http_query_string(r));

        bt_http_respond(r, 200, "text/plain", text, strlen(text), h);
        bt_free(text);
    } else if (!strcmp(path, "/later")) {
        s->held = r;
        uv_timer_start(&s->later, answer_later, 50, 0);
    } else if (!strcmp(path, "/never")) {
        s->held = r; /* the deadline answers; our late reply is a no-op */
        uv_timer_start(&s->later, answer_later, 600, 0);
    } else {
        bt_http_respond_error(r, 404, "no such \"page\"");
    }
}

static void on_closed(void *ud)
{
    (void)ud;
}

static void on_stop(uv_async_t *a)
{
    struct server *s = a->data;

    bt_http_close(s->http, on_closed, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
    uv_close((uv_handle_t *)&s->later, NULL);
}

static void *run(void *arg)
{
    struct server *s = arg;

    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int setup(void **state)
{
    struct server *s = calloc(1, sizeof(*s));
    struct bt_http_opts o = {.host = "127.0.0.1",
                             .port = 0,
                             .connection_timeout_s = 10,
                             .max_connections = 64,
                             .max_connections_per_ip = 64,
                             .memory_limit = 64 * 1024,
                             .body_limit = 1024,
                             .deadline_ms = 300,
                             .retry_after_s = 7};

    uv_loop_init(&s->loop);
    uv_async_init(&s->loop, &s->stop, on_stop);
    uv_timer_init(&s->loop, &s->later);
    s->stop.data = s->later.data = s;
    assert_int_equal(bt_http_new(&s->loop, &o, handler, s, &s->http), 0);
    s->port = bt_http_port(s->http);
    assert_true(s->port > 0);
    pthread_create(&s->thread, NULL, run, s);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct server *s = *state;

    uv_async_send(&s->stop);
    pthread_join(s->thread, NULL);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    free(s);
    return 0;
}

struct reply {
    long status;
    struct bt_buf body, headers;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    assert_int_equal(bt_buf_add(ud, p, size * n), 0);
    return size * n;
}

static CURL *request(struct server *s, CURL *c, const char *method, const char *path,
                     const char *body, long body_len, struct curl_slist *hdrs, struct reply *r)
{
    char url[256];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
    if (!c)
        c = curl_easy_init();
    bt_buf_init(&r->body, 1 << 20);
    bt_buf_init(&r->headers, 1 << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body_len);
    }
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    return c;
}

static void reply_free(struct reply *r)
{
    bt_buf_free(&r->body);
    bt_buf_free(&r->headers);
}

static void answers_with_body_and_query_and_keeps_alive(void **state)
{
    struct server *s = *state;
    struct reply r;
    long connects = -1;
    CURL *c = request(s, NULL, "POST", "/now?q=a%20b&x=1", "hello", 5, NULL, &r);

    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "a b|5|hello|q=a%20b&x=1");
    assert_non_null(strstr(r.headers.data, "X-Method: POST"));
    reply_free(&r);
    request(s, c, "GET", "/now", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(connects, 0); /* the second request reused the connection */
    reply_free(&r);
    curl_easy_cleanup(c);
}

static void answers_later_from_another_callback(void **state)
{
    struct server *s = *state;
    struct reply r;
    CURL *c = request(s, NULL, "POST", "/later", "x", 1, NULL, &r);

    assert_int_equal(r.status, 202);
    assert_string_equal(r.body.data, "later");
    reply_free(&r);
    curl_easy_cleanup(c);
}

static void a_late_answer_becomes_503_with_retry_after(void **state)
{
    struct server *s = *state;
    struct reply r;
    CURL *c = request(s, NULL, "POST", "/never", "x", 1, NULL, &r);

    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.headers.data, "Retry-After: 7"));
    reply_free(&r);
    curl_easy_cleanup(c);
    usleep(500 * 1000); /* the handler's own answer comes after, harmlessly */
}

static void too_long_content_length_gets_413(void **state)
{
    struct server *s = *state;
    struct reply r;
    char *big = calloc(1, 4096);
    CURL *c;

    memset(big, 'x', 4095);
    c = request(s, NULL, "POST", "/now", big, 4095, NULL, &r);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    curl_easy_cleanup(c);
    free(big);
}

static void chunked_body_over_the_limit_gets_413(void **state)
{
    struct server *s = *state;
    struct reply r;
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    char *big = calloc(1, 8192);
    CURL *c;

    memset(big, 'y', 8191);
    c = request(s, NULL, "POST", "/now", big, 8191, h, &r);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(big);
}

static void errors_are_json_with_a_reason(void **state)
{
    struct server *s = *state;
    struct reply r;
    CURL *c = request(s, NULL, "GET", "/nope", NULL, 0, NULL, &r);

    assert_int_equal(r.status, 404);
    assert_string_equal(r.body.data, "{\"error\":\"no such \\\"page\\\"\"}\n");
    reply_free(&r);
    curl_easy_cleanup(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(answers_with_body_and_query_and_keeps_alive, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(answers_later_from_another_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(a_late_answer_becomes_503_with_retry_after, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(too_long_content_length_gets_413, setup, teardown),
        cmocka_unit_test_setup_teardown(chunked_body_over_the_limit_gets_413, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_are_json_with_a_reason, setup, teardown),
    };
    bt_mem_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
