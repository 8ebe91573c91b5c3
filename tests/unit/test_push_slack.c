#include "testutil.h"
#include "pushtest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "mem.h"
#include "push.h"
#include "sink.h"

#define CHANNEL "slack"

static const char CONFIG[] = "database: \"dbname=baton\"\n"
                             "channels:\n"
                             "  slack: {api_base: \"http://127.0.0.1:9\", token: xoxb-unit-1}\n";

static struct bt_push_delivery delivery(void)
{
    struct bt_push_delivery d = {
        .id = 42,
        .source = "hubspot",
        .deal_id = "18239440011",
        .deal_name = "Globex <platform> & co",
        .stage = "presentationscheduled",
        .stage_label = "Demo",
        .competitor = "acme",
        .competitor_name = "Acme",
        .asset_id = "bc-acme",
        .asset_kind = "battlecard",
        .asset_title = "Beating Acme on price",
        .play_id = "acme-at-demo",
        .trigger = "stage",
        .rep_id = "dana",
        .channel = "slack",
        .to = "U024BE7LH",
        .token = "4oVv0vJ7yqQ0mZb1xk2r9A",
        .link = "https://baton.example.com/o/4oVv0vJ7yqQ0mZb1xk2r9A",
        .attempt = 1,
    };

    return d;
}

static bool has_header(const struct bt_push_http *h, const char *line)
{
    for (size_t i = 0; i < h->n_headers; i++)
        if (!strcmp(h->headers[i], line))
            return true;
    return false;
}

static void builds_chat_post_message(void **state)
{
    struct bt_config *cfg = bt_test_push_config(CONFIG);
    const struct bt_push_ops *ops = bt_push_ops_find("slack");
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    char why[256] = "";
    json_t *j, *blocks, *button;
    const char *section;

    (void)state;
    assert_non_null(ops);
    memset(&h, 0, sizeof(h));
    assert_int_equal(ops->build(cfg, &d, 1716995516, &h, why, sizeof(why)), 0);
    assert_string_equal(h.url, "http://127.0.0.1:9/api/chat.postMessage");
    assert_true(has_header(&h, "Authorization: Bearer xoxb-unit-1"));
    assert_true(has_header(&h, "Content-Type: application/json; charset=utf-8"));
    assert_null(h.headers[h.n_headers]);
    j = json_loadb(h.body, h.body_len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "channel")), "U024BE7LH");
    assert_true(json_is_false(json_object_get(j, "unfurl_links")));
    assert_true(json_is_false(json_object_get(j, "unfurl_media")));
    /* The fallback text names the asset and the deal, without the link. */
    assert_string_equal(json_string_value(json_object_get(j, "text")),
                        "Battlecard for Globex <platform> & co: Beating Acme on price");
    blocks = json_object_get(j, "blocks");
    assert_int_equal(json_array_size(blocks), 3);
    section = json_string_value(
        json_object_get(json_object_get(json_array_get(blocks, 0), "text"), "text"));
    /* mrkdwn's control characters in a CRM's deal name are escaped. */
    assert_non_null(strstr(section, "*Globex &lt;platform&gt; &amp; co*"));
    assert_non_null(strstr(section, "*Demo*"));
    assert_non_null(strstr(section, "competitor: Acme"));
    assert_non_null(strstr(section, "Battlecard: *Beating Acme on price*"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(blocks, 1), "type")),
                        "context");
    {
        char *ctx = json_dumps(json_array_get(blocks, 1), 0);

        assert_non_null(strstr(ctx, "acme-at-demo"));
        bt_free(ctx);
    }
    button = json_array_get(json_object_get(json_array_get(blocks, 2), "elements"), 0);
    assert_string_equal(json_string_value(json_object_get(button, "type")), "button");
    assert_string_equal(json_string_value(json_object_get(button, "url")), d.link);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(button, "text"), "text")),
        "Open battlecard");
    /* The link is in the button only: nothing else to unfurl or scan. */
    assert_null(strstr(section, "/o/"));
    json_decref(j);
    bt_push_http_free(&h);
    bt_config_unref(cfg);
}

static void builds_without_optional_parts(void **state)
{
    struct bt_config *cfg = bt_test_push_config(CONFIG);
    const struct bt_push_ops *ops = bt_push_ops_find("slack");
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    char why[256] = "", long_name[1200];
    json_t *j;
    const char *section;

    (void)state;
    memset(long_name, 0, sizeof(long_name));
    /* A long name of multi-byte characters is cut on a character boundary. */
    for (size_t i = 0; i + 2 < sizeof(long_name); i += 2)
        memcpy(long_name + i, "\xC3\xA9", 2);
    d.deal_name = long_name;
    d.stage_label = d.stage = NULL;
    d.competitor = d.competitor_name = NULL;
    d.play_id = NULL;
    d.asset_kind = "case_study";
    memset(&h, 0, sizeof(h));
    assert_int_equal(ops->build(cfg, &d, 0, &h, why, sizeof(why)), 0);
    j = json_loadb(h.body, h.body_len, 0, NULL);
    assert_non_null(j); /* valid UTF-8, or jansson would refuse it */
    section = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(j, "blocks"), 0), "text"), "text"));
    assert_null(strstr(section, "competitor"));
    assert_null(strstr(section, " is at "));
    assert_non_null(strstr(section, "Case study: *Beating Acme on price*"));
    assert_true(strlen(section) < 600);
    json_decref(j);
    bt_push_http_free(&h);
    bt_config_unref(cfg);
}

static void refuses_when_slack_is_not_configured(void **state)
{
    struct bt_config *cfg = bt_test_push_config("database: \"dbname=baton\"\n");
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    char why[256] = "";

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(bt_push_ops_find("slack")->build(cfg, &d, 0, &h, why, sizeof(why)),
                     BT_ENOENT);
    assert_non_null(strstr(why, "slack is not configured"));
    bt_push_http_free(&h);
    bt_config_unref(cfg);
}

static struct bt_push_verdict classify(long status, const char *body, int64_t retry_after)
{
    struct bt_fetch_result r = {0, status, "", retry_after, body, strlen(body), 3};
    struct bt_push_verdict v;

    memset(&v, 0, sizeof(v));
    bt_push_ops_find("slack")->classify(&r, &v);
    return v;
}

static void classifies_the_documented_answers(void **state)
{
    size_t len;
    char *ok = bt_test_read_fixture("slack/chat.postMessage-ok.json", &len);
    char *errs = bt_test_read_fixture("slack/chat.postMessage-errors.json", &len);
    json_t *e = json_loads(errs, 0, NULL), *x;
    struct bt_push_verdict v;
    size_t i;

    (void)state;
    v = classify(200, ok, -1);
    assert_int_equal(v.outcome, BT_PUSH_SENT);
    assert_string_equal(v.external_id, "1503435956.000247");

    /* 429 with its Retry-After. */
    x = json_object_get(e, "retry_after_429");
    {
        char *b = json_dumps(json_object_get(x, "body"), 0);

        v = classify(json_integer_value(json_object_get(x, "status")), b, 30000);
        assert_int_equal(v.outcome, BT_PUSH_RETRY);
        assert_int_equal(v.retry_after_ms, 30000);
        bt_free(b);
    }
    json_array_foreach(json_object_get(e, "permanent"), i, x)
    {
        char *b = json_dumps(x, 0);

        v = classify(200, b, -1);
        assert_int_equal(v.outcome, BT_PUSH_FAILED);
        /* The reason is Slack's error itself. */
        assert_string_equal(v.reason, json_string_value(json_object_get(x, "error")));
        bt_free(b);
    }
    json_array_foreach(json_object_get(e, "transient"), i, x)
    {
        json_t *st = json_object_get(x, "status");
        char *b = st ? bt_strdup("") : json_dumps(x, 0);

        v = classify(st ? json_integer_value(st) : 200, b, -1);
        assert_int_equal(v.outcome, BT_PUSH_RETRY);
        bt_free(b);
    }
    /* ok:false ratelimited on a 200, and other transient codes. */
    v = classify(200, "{\"ok\":false,\"error\":\"ratelimited\"}", 5000);
    assert_int_equal(v.outcome, BT_PUSH_RETRY);
    assert_int_equal(v.retry_after_ms, 5000);
    v = classify(200, "{\"ok\":false,\"error\":\"service_unavailable\"}", -1);
    assert_int_equal(v.outcome, BT_PUSH_RETRY);
    v = classify(200, "{\"ok\":false,\"error\":\"request_timeout\"}", -1);
    assert_int_equal(v.outcome, BT_PUSH_RETRY);
    json_decref(e);
    bt_free(ok);
    bt_free(errs);
}

static void classifies_odd_answers(void **state)
{
    struct bt_push_verdict v;
    struct bt_fetch_result r = {BT_EIO, 0, "Connection refused", -1, "", 0, 1};

    (void)state;
    memset(&v, 0, sizeof(v));
    bt_push_ops_find("slack")->classify(&r, &v);
    assert_int_equal(v.outcome, BT_PUSH_RETRY);
    assert_non_null(strstr(v.reason, "Connection refused"));
    /* 200 but not Slack's JSON (a proxy page): cannot tell, try again. */
    v = classify(200, "<html>gateway</html>", -1);
    assert_int_equal(v.outcome, BT_PUSH_RETRY);
    /* Redirects are not followed and 4xx is not retried. */
    v = classify(302, "", -1);
    assert_int_equal(v.outcome, BT_PUSH_FAILED);
    assert_string_equal(v.reason, "Slack answered HTTP 302");
    v = classify(404, "", -1);
    assert_int_equal(v.outcome, BT_PUSH_FAILED);
    v = classify(502, "", -1);
    assert_int_equal(v.outcome, BT_PUSH_RETRY);
    /* An error code with odd bytes is kept printable. */
    v = classify(200, "{\"ok\":false,\"error\":\"bad\\nthing\"}", -1);
    assert_int_equal(v.outcome, BT_PUSH_FAILED);
    assert_string_equal(v.reason, "bad?thing");
    v = classify(200, "{\"ok\":false}", -1);
    assert_int_equal(v.outcome, BT_PUSH_FAILED);
    assert_string_equal(v.reason, "unknown_error");
}

static void the_registry_knows_every_channel(void **state)
{
    (void)state;
    assert_string_equal(bt_push_ops_find("slack")->name, "slack");
    assert_string_equal(bt_push_ops_find("teams")->name, "teams");
    assert_string_equal(bt_push_ops_find("webhook")->name, "webhook");
    assert_string_equal(bt_push_ops_find("panel")->name, "panel");
    /* The panel sends nothing over HTTP. */
    assert_null(bt_push_ops_find("panel")->build);
    assert_null(bt_push_ops_find("email"));
    assert_null(bt_push_ops_find(NULL));
}

static void helpers_label_and_clip(void **state)
{
    char buf[32];
    char *c;

    (void)state;
    bt_push_kind_label("case_study", buf, sizeof(buf));
    assert_string_equal(buf, "Case study");
    bt_push_kind_label(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "Asset");
    bt_push_kind_label("pricing-guide", buf, 6);
    assert_string_equal(buf, "Prici");
    c = bt_push_clip("h\xC3\xA9llo", 2);
    assert_string_equal(c, "h\xE2\x80\xA6");
    bt_free(c);
    c = bt_push_clip("short", 10);
    assert_string_equal(c, "short");
    bt_free(c);
    assert_null(bt_push_clip(NULL, 3));
}

/* ---------------------------------------------------------------- over HTTP */

static void slack_as_played_by_the_sink_agrees(void **state)
{
    struct bt_sink *sink = bt_sink_start(BT_SINK_SLACK, "xoxb-unit-1");
    char *yaml = bt_asprintf("database: \"dbname=baton\"\n"
                             "channels:\n"
                             "  slack: {api_base: \"%s\", token: xoxb-unit-1}\n",
                             bt_sink_url(sink));
    struct bt_config *cfg = bt_test_push_config(yaml), *wrong;
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    struct bt_sink_req *v;
    struct bt_test_answer a;
    char why[256] = "";
    size_t n;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(bt_push_ops_find("slack")->build(cfg, &d, 0, &h, why, sizeof(why)), 0);
    a = bt_test_push_send(CHANNEL, &h, h.url);
    assert_int_equal(a.v.outcome, BT_PUSH_SENT);
    assert_string_equal(a.v.external_id, "1700000000.000001");
    bt_push_http_free(&h);
    /* A wrong token: Slack's invalid_auth, for good. */
    bt_free(yaml);
    yaml = bt_asprintf("database: \"dbname=baton\"\n"
                       "channels:\n"
                       "  slack: {api_base: \"%s\", token: xoxb-wrong}\n",
                       bt_sink_url(sink));
    wrong = bt_test_push_config(yaml);
    assert_int_equal(bt_push_ops_find("slack")->build(wrong, &d, 0, &h, why, sizeof(why)), 0);
    a = bt_test_push_send(CHANNEL, &h, h.url);
    assert_int_equal(a.v.outcome, BT_PUSH_FAILED);
    assert_string_equal(a.v.reason, "invalid_auth");
    bt_push_http_free(&h);
    bt_sink_requests(sink, NULL, &v, &n);
    assert_int_equal(n, 2);
    assert_true(v[0].checks_ok);
    assert_false(v[1].checks_ok);
    bt_sink_reqs_free(v, n);
    bt_config_unref(wrong);
    bt_config_unref(cfg);
    bt_free(yaml);
    bt_sink_stop(sink);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builds_chat_post_message),
        cmocka_unit_test(builds_without_optional_parts),
        cmocka_unit_test(refuses_when_slack_is_not_configured),
        cmocka_unit_test(classifies_the_documented_answers),
        cmocka_unit_test(classifies_odd_answers),
        cmocka_unit_test(the_registry_knows_every_channel),
        cmocka_unit_test(helpers_label_and_clip),
        cmocka_unit_test(slack_as_played_by_the_sink_agrees),
    };

    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
