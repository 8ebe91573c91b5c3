#include "testutil.h"
#include "pushtest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "mem.h"
#include "push.h"
#include "sig.h"
#include "sink.h"

#define CHANNEL "webhook"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static const char CONFIG[] = "database: \"dbname=baton\"\n"
                             "channels:\n"
                             "  webhook: {secret: " SECRET
                             ", targets: {crm-sidebar: {url: \"https://crm.example.com/b\"}}}\n";

static struct bt_push_delivery delivery(void)
{
    struct bt_push_delivery d = {
        .id = 1234,
        .source = "generic",
        .deal_id = "D-1001",
        .deal_name = "Umbrella Corp",
        .stage = "presentationscheduled",
        .stage_label = "Demo",
        .competitor = "acme",
        .competitor_name = "Acme",
        .asset_id = "bc-acme",
        .asset_kind = "battlecard",
        .asset_title = "Beating Acme on price",
        .play_id = "acme-at-demo",
        .rep_id = "priya",
        .channel = "webhook",
        .to = "crm-sidebar",
        .token = "4oVv0vJ7yqQ0mZb1xk2r9A",
        .link = "https://baton.example.com/o/4oVv0vJ7yqQ0mZb1xk2r9A",
        .attempt = 3,
    };

    return d;
}

static const char *header(const struct bt_push_http *h, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < h->n_headers; i++)
        if (!strncmp(h->headers[i], name, n) && h->headers[i][n] == ':')
            return h->headers[i] + n + 2;
    return NULL;
}

static void builds_a_signed_delivery(void **state)
{
    struct bt_config *cfg = bt_test_push_config(CONFIG);
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    const char *secrets[] = {SECRET};
    char why[256] = "";
    json_t *j, *data;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(bt_push_ops_find("webhook")->build(cfg, &d, 1716995516, &h, why, sizeof(why)),
                     0);
    assert_string_equal(h.url, "https://crm.example.com/b");
    /* The id is the delivery's, the same on every retry. */
    assert_string_equal(header(&h, "webhook-id"), "dlv_1234");
    assert_string_equal(header(&h, "webhook-timestamp"), "1716995516");
    assert_int_equal(bt_sig_stdwh_verify(secrets, 1, header(&h, "webhook-id"),
                                         header(&h, "webhook-timestamp"), h.body, h.body_len,
                                         header(&h, "webhook-signature"), 1716995516, why,
                                         sizeof(why)),
                     0);
    j = json_loadb(h.body, h.body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "baton.delivery");
    assert_string_equal(json_string_value(json_object_get(j, "timestamp")),
                        "2024-05-29T15:11:56Z");
    data = json_object_get(j, "data");
    assert_int_equal(json_integer_value(json_object_get(data, "delivery_id")), 1234);
    {
        json_t *deal = json_object_get(data, "deal"), *asset = json_object_get(data, "asset");

        assert_string_equal(json_string_value(json_object_get(deal, "source")), "generic");
        assert_string_equal(json_string_value(json_object_get(deal, "id")), "D-1001");
        assert_string_equal(json_string_value(json_object_get(deal, "name")), "Umbrella Corp");
        assert_string_equal(json_string_value(json_object_get(deal, "stage")),
                            "presentationscheduled");
        assert_string_equal(json_string_value(json_object_get(deal, "competitor")), "acme");
        assert_string_equal(json_string_value(json_object_get(asset, "id")), "bc-acme");
        assert_string_equal(json_string_value(json_object_get(asset, "kind")), "battlecard");
        assert_string_equal(json_string_value(json_object_get(asset, "title")),
                            "Beating Acme on price");
    }
    assert_string_equal(json_string_value(json_object_get(data, "play")), "acme-at-demo");
    assert_string_equal(json_string_value(json_object_get(data, "link")), d.link);
    json_decref(j);
    bt_push_http_free(&h);

    /* Absent parts are null, not missing. */
    d.competitor = d.competitor_name = NULL;
    d.play_id = NULL;
    assert_int_equal(bt_push_ops_find("webhook")->build(cfg, &d, 1716995516, &h, why, sizeof(why)),
                     0);
    j = json_loadb(h.body, h.body_len, 0, NULL);
    data = json_object_get(j, "data");
    assert_true(json_is_null(json_object_get(json_object_get(data, "deal"), "competitor")));
    assert_true(json_is_null(json_object_get(data, "play")));
    json_decref(j);
    bt_push_http_free(&h);
    bt_config_unref(cfg);
}

static void unknown_targets_and_missing_secrets_fail(void **state)
{
    struct bt_config *cfg = bt_test_push_config(CONFIG);
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    char why[256] = "";

    (void)state;
    memset(&h, 0, sizeof(h));
    d.to = "nope";
    assert_int_equal(bt_push_ops_find("webhook")->build(cfg, &d, 0, &h, why, sizeof(why)),
                     BT_ENOENT);
    assert_string_equal(why, "unknown webhook target nope");
    bt_config_unref(cfg);
    cfg = bt_test_push_config("database: \"dbname=baton\"\n");
    d.to = "crm-sidebar";
    assert_int_equal(bt_push_ops_find("webhook")->build(cfg, &d, 0, &h, why, sizeof(why)),
                     BT_ENOENT);
    assert_null(h.url);
    bt_config_unref(cfg);
}

static void classifies_by_status(void **state)
{
    struct bt_fetch_result r = {0, 204, "", -1, "", 0, 1};
    struct bt_push_verdict v;

    (void)state;
    memset(&v, 0, sizeof(v));
    bt_push_ops_find("webhook")->classify(&r, &v);
    assert_int_equal(v.outcome, BT_PUSH_SENT);
    r.status = 410;
    bt_push_ops_find("webhook")->classify(&r, &v);
    assert_int_equal(v.outcome, BT_PUSH_FAILED);
    assert_string_equal(v.reason, "HTTP 410");
    r.status = 0;
    r.err = BT_EIO;
    r.error = "Could not resolve host";
    bt_push_ops_find("webhook")->classify(&r, &v);
    assert_int_equal(v.outcome, BT_PUSH_RETRY);
    assert_non_null(strstr(v.reason, "Could not resolve host"));
}

/* ---------------------------------------------------------------- over HTTP */

static void the_sink_verifies_the_signature(void **state)
{
    struct bt_sink *sink = bt_sink_start(BT_SINK_WEBHOOK, SECRET);
    char *yaml = bt_asprintf("database: \"dbname=baton\"\n"
                             "channels:\n"
                             "  webhook: {secret: " SECRET ", targets: {crm-sidebar: {url: "
                             "\"%s/in\"}}}\n",
                             bt_sink_url(sink));
    struct bt_config *cfg = bt_test_push_config(yaml);
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    struct bt_sink_req *v;
    struct bt_test_answer a;
    char why[256] = "";
    size_t n;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(
        bt_push_ops_find("webhook")->build(cfg, &d, (int64_t)time(NULL), &h, why, sizeof(why)), 0);
    a = bt_test_push_send(CHANNEL, &h, h.url);
    assert_int_equal(a.v.outcome, BT_PUSH_SENT);
    /* Tampered with on the way: the receiver refuses it, for good. */
    h.body[h.body_len - 2] ^= 1;
    a = bt_test_push_send(CHANNEL, &h, h.url);
    assert_int_equal(a.status, 401);
    assert_int_equal(a.v.outcome, BT_PUSH_FAILED);
    bt_sink_requests(sink, NULL, &v, &n);
    assert_int_equal(n, 2);
    assert_true(v[0].checks_ok);
    assert_string_equal(v[0].path, "/in");
    assert_false(v[1].checks_ok);
    assert_non_null(strstr(v[1].why, "bad signature"));
    bt_sink_reqs_free(v, n);
    bt_push_http_free(&h);
    bt_config_unref(cfg);
    bt_free(yaml);
    bt_sink_stop(sink);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builds_a_signed_delivery),
        cmocka_unit_test(unknown_targets_and_missing_secrets_fail),
        cmocka_unit_test(classifies_by_status),
        cmocka_unit_test(the_sink_verifies_the_signature),
    };

    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
