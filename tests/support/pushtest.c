#include "pushtest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "testutil.h"

struct ctx {
    const char *channel;
    struct bt_test_answer a;
};

static void answered(const struct bt_fetch_result *res, void *ud)
{
    struct ctx *c = ud;

    c->a.calls++;
    c->a.status = res->status;
    memset(&c->a.v, 0, sizeof(c->a.v));
    bt_push_ops_find(c->channel)->classify(res, &c->a.v);
}

struct bt_test_answer bt_test_push_send(const char *channel, const struct bt_push_http *h,
                                        const char *url)
{
    struct bt_fetch_opts o = {.timeout_ms = 5000};
    struct bt_fetch_request rq = {"POST", url, (const char *const *)h->headers, h->body,
                                  h->body_len};
    struct ctx c;
    struct bt_fetch *f;
    uv_loop_t loop;

    memset(&c, 0, sizeof(c));
    c.channel = channel;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(bt_fetch_new(&loop, &o, &f), 0);
    assert_int_equal(bt_fetch_start(f, &rq, answered, &c, NULL), 0);
    while (c.a.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    bt_fetch_close(f, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return c.a;
}

struct bt_config *bt_test_push_config(const char *yaml)
{
    char path[] = "/tmp/baton-push-config-XXXXXX";
    int fd = mkstemp(path);
    struct bt_config *cfg = NULL;
    struct bt_diags d;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    bt_diags_init(&d);
    assert_int_equal(bt_config_load(path, &cfg, &d), 0);
    bt_diags_free(&d);
    unlink(path);
    return cfg;
}
