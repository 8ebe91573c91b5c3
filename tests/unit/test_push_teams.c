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

#define CHANNEL "teams"

static const char CONFIG[] = "database: \"dbname=baton\"\n"
                             "channels:\n"
                             "  teams: {targets: {emea-deals: {url: "
                             "\"https://prod.example.com/workflows/1?sig=s3cr3t\"}}}\n";

static struct bt_push_delivery delivery(void)
{
    struct bt_push_delivery d = {
        .id = 7,
        .source = "generic",
        .deal_id = "D-1001",
        .deal_name = "Globex platform",
        .stage = "contractsent",
        .stage_label = "Negotiation",
        .competitor = "acme",
        .competitor_name = "Acme",
        .asset_id = "bc-acme",
        .asset_kind = "battlecard",
        .asset_title = "Beating Acme on price",
        .play_id = "acme-late",
        .channel = "teams",
        .to = "emea-deals",
        .token = "4oVv0vJ7yqQ0mZb1xk2r9A",
        .link = "https://baton.example.com/o/4oVv0vJ7yqQ0mZb1xk2r9A",
        .attempt = 1,
    };

    return d;
}

/* The same shape as the vendor's example, key for key. */
static void keys_match(json_t *want, json_t *got, const char *path)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_object(want)) {
        assert_true(json_is_object(got));
        json_object_foreach(want, k, v)
        {
            char *sub = bt_asprintf("%s.%s", path, k);

            if (!json_object_get(got, k))
                fail_msg("missing %s", sub);
            keys_match(v, json_object_get(got, k), sub);
            bt_free(sub);
        }
    } else if (json_is_array(want)) {
        assert_true(json_is_array(got));
        json_array_foreach(want, i, v)
        {
            char *sub = bt_asprintf("%s[%zu]", path, i);

            if (i >= json_array_size(got))
                fail_msg("missing %s", sub);
            keys_match(v, json_array_get(got, i), sub);
            bt_free(sub);
        }
    } else {
        assert_int_equal(json_typeof(want), json_typeof(got));
    }
}

static void builds_the_workflows_message(void **state)
{
    struct bt_config *cfg = bt_test_push_config(CONFIG);
    const struct bt_push_ops *ops = bt_push_ops_find("teams");
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    char why[256] = "";
    char *fixture = bt_test_read_fixture("teams/adaptive-card-message.json", NULL);
    json_t *want = json_loads(fixture, 0, NULL), *j, *card, *action;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(ops->build(cfg, &d, 0, &h, why, sizeof(why)), 0);
    assert_string_equal(h.url, "https://prod.example.com/workflows/1?sig=s3cr3t");
    assert_string_equal(h.headers[0], "Content-Type: application/json");
    j = json_loadb(h.body, h.body_len, 0, NULL);
    keys_match(want, j, "$");
    card = json_object_get(json_array_get(json_object_get(j, "attachments"), 0), "content");
    assert_string_equal(json_string_value(json_object_get(card, "version")), "1.4");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(card, "body"), 0), "text")),
                        "Globex platform is at Negotiation \xE2\x80\x94 competitor: Acme");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(card, "body"), 1), "text")),
                        "Battlecard: Beating Acme on price");
    action = json_array_get(json_object_get(card, "actions"), 0);
    assert_string_equal(json_string_value(json_object_get(action, "type")), "Action.OpenUrl");
    assert_string_equal(json_string_value(json_object_get(action, "title")), "Open battlecard");
    assert_string_equal(json_string_value(json_object_get(action, "url")), d.link);
    json_decref(j);
    json_decref(want);
    bt_free(fixture);
    bt_push_http_free(&h);
    bt_config_unref(cfg);
}

static void an_unknown_target_fails_with_its_name(void **state)
{
    struct bt_config *cfg = bt_test_push_config(CONFIG);
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    char why[256] = "";

    (void)state;
    d.to = "apac-deals";
    memset(&h, 0, sizeof(h));
    assert_int_equal(bt_push_ops_find("teams")->build(cfg, &d, 0, &h, why, sizeof(why)),
                     BT_ENOENT);
    assert_string_equal(why, "unknown teams target apac-deals");
    assert_null(h.url);
    bt_push_http_free(&h);
    bt_config_unref(cfg);
    /* Teams not configured at all: the same. */
    cfg = bt_test_push_config("database: \"dbname=baton\"\n");
    d.to = "emea-deals";
    assert_int_equal(bt_push_ops_find("teams")->build(cfg, &d, 0, &h, why, sizeof(why)),
                     BT_ENOENT);
    assert_string_equal(why, "unknown teams target emea-deals");
    bt_config_unref(cfg);
}

static enum bt_push_outcome outcome(int err, long status, int64_t ra, int64_t *ra_out)
{
    struct bt_fetch_result r = {err, status, err ? "Operation timed out" : "", ra, "", 0, 1};
    struct bt_push_verdict v;

    memset(&v, 0, sizeof(v));
    bt_push_ops_find("teams")->classify(&r, &v);
    if (ra_out)
        *ra_out = v.retry_after_ms;
    return v.outcome;
}

static void classifies_by_status(void **state)
{
    int64_t ra;

    (void)state;
    assert_int_equal(outcome(0, 200, -1, NULL), BT_PUSH_SENT);
    assert_int_equal(outcome(0, 202, -1, NULL), BT_PUSH_SENT);
    assert_int_equal(outcome(BT_ETOOBIG, 202, -1, NULL), BT_PUSH_SENT);
    assert_int_equal(outcome(BT_EIO, 0, -1, NULL), BT_PUSH_RETRY);
    assert_int_equal(outcome(0, 429, 12000, &ra), BT_PUSH_RETRY);
    assert_int_equal(ra, 12000);
    assert_int_equal(outcome(0, 500, -1, NULL), BT_PUSH_RETRY);
    assert_int_equal(outcome(0, 503, 4000, &ra), BT_PUSH_RETRY);
    assert_int_equal(ra, 4000);
    assert_int_equal(outcome(0, 408, -1, NULL), BT_PUSH_RETRY);
    assert_int_equal(outcome(0, 400, -1, NULL), BT_PUSH_FAILED);
    assert_int_equal(outcome(0, 401, -1, NULL), BT_PUSH_FAILED);
    assert_int_equal(outcome(0, 404, -1, NULL), BT_PUSH_FAILED);
    assert_int_equal(outcome(0, 301, -1, NULL), BT_PUSH_FAILED);
}

/* ---------------------------------------------------------------- over HTTP */

static void the_sink_accepts_the_card(void **state)
{
    struct bt_sink *sink = bt_sink_start(BT_SINK_TEAMS, NULL);
    char *yaml = bt_asprintf("database: \"dbname=baton\"\n"
                             "channels:\n"
                             "  teams: {targets: {emea-deals: {url: \"%s/wf?sig=abc\"}}}\n",
                             bt_sink_url(sink));
    struct bt_config *cfg = bt_test_push_config(yaml);
    struct bt_push_delivery d = delivery();
    struct bt_push_http h;
    struct bt_test_answer a;
    char why[256] = "";

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(bt_push_ops_find("teams")->build(cfg, &d, 0, &h, why, sizeof(why)), 0);
    a = bt_test_push_send(CHANNEL, &h, h.url);
    assert_int_equal(a.status, 202);
    assert_int_equal(a.v.outcome, BT_PUSH_SENT);
    bt_push_http_free(&h);
    /* Not a card: Workflows refuses it, for good. */
    h.url = bt_asprintf("%s/wf?sig=abc", bt_sink_url(sink));
    h.body = bt_strdup("{\"text\":\"hello\"}");
    h.body_len = strlen(h.body);
    a = bt_test_push_send(CHANNEL, &h, h.url);
    assert_int_equal(a.status, 400);
    assert_int_equal(a.v.outcome, BT_PUSH_FAILED);
    bt_push_http_free(&h);
    bt_config_unref(cfg);
    bt_free(yaml);
    bt_sink_stop(sink);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builds_the_workflows_message),
        cmocka_unit_test(an_unknown_target_fails_with_its_name),
        cmocka_unit_test(classifies_by_status),
        cmocka_unit_test(the_sink_accepts_the_card),
    };

    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
