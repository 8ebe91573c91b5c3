/* The read side over HTTP: a deal's suggestions for a CRM sidebar card, the
 * dashboard's sign-in, motion versions, and the rep panel's access. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "sink.h"
#include <curl/curl.h>
#include <pthread.h>

static const char ADMIN[] = "admin-token-for-tests-0123456789";

struct env {
    struct bt_testd d;
    PGconn *db;
    struct bt_config *cfg;
    struct bt_sink *slack;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    char *motion = bt_test_source_path("config/motion.example.yaml");
    struct bt_sink *slack = bt_sink_start(BT_SINK_SLACK, "xoxb-test-token");
    char *extra = bt_asprintf("admin_token: %s\nchannels:\n  slack: {api_base: \"%s\", token: "
                              "xoxb-test-token}\n",
                              ADMIN, bt_sink_url(slack));
    size_t len;
    char *body = bt_test_read_fixture("standard-webhooks/deal-changed.json", &len);
    struct bt_test_resp r;
    struct bt_diags diags;
    char *v;

    e->db = bt_test_db();
    e->slack = slack;
    bt_testd_start(&e->d, motion, extra);
    bt_testd_wait_ready(&e->d);
    bt_diags_init(&diags);
    assert_int_equal(bt_config_load(e->d.config, &e->cfg, &diags), 0);
    bt_diags_free(&diags);
    bt_test_post_generic(&e->d, "msg_api_1", body, len, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_wait(e->db, "1", 5000, "SELECT count(*) FROM deliveries");
    assert_string_equal(v, "1");
    bt_free(v);
    bt_free(body);
    bt_free(extra);
    bt_free(motion);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    bt_testd_stop(&e->d);
    bt_testd_cleanup(&e->d);
    bt_config_unref(e->cfg);
    bt_sink_stop(e->slack);
    PQfinish(e->db);
    free(e);
    return 0;
}

static void get(struct env *e, const char *path, const char *header, struct bt_test_resp *r)
{
    char *url = bt_asprintf("%s%s", e->d.base, path);
    const char *h[] = {header, NULL};

    bt_test_http("GET", url, header ? h : NULL, NULL, 0, r);
    bt_free(url);
}

static void a_deals_suggestions_for_a_sidebar_card(void **state)
{
    struct env *e = *state;
    char *bearer = bt_asprintf("Authorization: Bearer %s", ADMIN);
    char *token = bt_test_db_value(e->db, "SELECT token FROM deliveries", NULL);
    char *asset = bt_test_db_value(e->db, "SELECT asset_id FROM deliveries", NULL);
    char *link = bt_asprintf("\"link\":\"%s/o/%s\"", e->d.base, token);
    char *asset_json = bt_asprintf("\"asset\":{\"id\":\"%s\"", asset);
    struct bt_test_resp r;

    get(e, "/v1/deals/generic/D-1001/suggestions", NULL, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    get(e, "/v1/deals/generic/D-1001/suggestions", "Authorization: Bearer wrong", &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    get(e, "/v1/deals/generic/D-1001/suggestions", bearer, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, link));
    assert_non_null(strstr(r.body.data, asset_json));
    assert_non_null(strstr(r.body.data, "\"play\":\"acme-healthcare-demo\""));
    assert_non_null(strstr(r.body.data, "\"stage_label\":\"Demo\""));
    assert_non_null(strstr(r.body.data, "\"name\":\"Umbrella Corp\""));
    bt_test_resp_free(&r);
    get(e, "/v1/deals/generic/NOPE/suggestions", bearer, &r);
    assert_int_equal(r.status, 404);
    bt_test_resp_free(&r);
    get(e, "/v1/motion/versions", bearer, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"active\":1"));
    bt_test_resp_free(&r);
    bt_free(bearer);
    bt_free(token);
    bt_free(asset);
    bt_free(link);
    bt_free(asset_json);
}

static void the_dashboard_signs_in_with_a_cookie(void **state)
{
    struct env *e = *state;
    struct bt_test_resp r;
    char *cookie;

    get(e, "/dashboard", NULL, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    get(e, "/dashboard?token=wrong", NULL, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    {
        char *path = bt_asprintf("/dashboard?token=%s", ADMIN);

        get(e, path, NULL, &r);
        bt_free(path);
    }
    assert_int_equal(r.status, 303);
    assert_non_null(strstr(r.headers.data, "Location: /dashboard"));
    assert_non_null(strstr(r.headers.data, "HttpOnly"));
    assert_non_null(strstr(r.headers.data, "SameSite=Strict"));
    bt_test_resp_free(&r);
    cookie = bt_asprintf("Cookie: other=1; baton_admin=%s", ADMIN);
    get(e, "/dashboard", cookie, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers.data, "text/html"));
    assert_non_null(strstr(r.body.data, "id=\"funnel\""));
    bt_test_resp_free(&r);
    bt_free(cookie);
}

static void a_rep_panel_opens_only_with_its_own_link(void **state)
{
    struct env *e = *state;
    char dana[23], lukas[23];
    char *path;
    struct bt_test_resp r;

    assert_int_equal(bt_api_panel_token(e->cfg, "dana", dana), 0);
    assert_int_equal(bt_api_panel_token(e->cfg, "lukas", lukas), 0);
    assert_string_not_equal(dana, lukas);
    path = bt_asprintf("/panel/dana?t=%s", dana);
    get(e, path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "id=\"suggestions\""));
    bt_test_resp_free(&r);
    bt_free(path);
    /* Another rep's token, no token, an unknown rep: the same 404. */
    path = bt_asprintf("/panel/dana?t=%s", lukas);
    get(e, path, NULL, &r);
    assert_int_equal(r.status, 404);
    bt_test_resp_free(&r);
    bt_free(path);
    get(e, "/panel/dana", NULL, &r);
    assert_int_equal(r.status, 404);
    bt_test_resp_free(&r);
    get(e, "/panel/nobody?t=AAAAAAAAAAAAAAAAAAAAAA", NULL, &r);
    assert_int_equal(r.status, 404);
    bt_test_resp_free(&r);
    path = bt_asprintf("/panel/dana/suggestions?t=%s", dana);
    get(e, path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"rep\":{\"id\":\"dana\",\"name\":\"Dana Reyes\"}"));
    bt_test_resp_free(&r);
    bt_free(path);
}

/* A held panel events request, made on a thread of its own. */
struct held {
    char *url, *last;
    struct bt_test_resp r;
    pthread_t thread;
};

static void *held_run(void *arg)
{
    struct held *h = arg;
    char *hdr = bt_asprintf("Last-Event-ID: %s", h->last);
    const char *headers[] = {hdr, NULL};

    bt_test_http("GET", h->url, headers, NULL, 0, &h->r);
    bt_free(hdr);
    return NULL;
}

static void a_push_appears_on_the_reps_open_panel(void **state)
{
    struct env *e = *state;
    struct held h;
    char token[23], *url, *id;
    const char *body = "{\"type\":\"deal.changed\",\"timestamp\":\"2024-05-29T16:00:00Z\","
                       "\"data\":{\"deal_id\":\"D-2002\",\"name\":\"Stark Industries\","
                       "\"stage\":\"qualifiedtobuy\",\"competitor\":\"Hooli\",\"owner\":"
                       "\"u-77\"}}";
    struct bt_test_resp r;

    assert_int_equal(bt_api_panel_token(e->cfg, "dana", token), 0);
    url = bt_asprintf("%s/panel/dana/events?t=%s", e->d.base, token);
    /* The first request learns where the panel's list ends. */
    bt_test_http("GET", url, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers.data, "text/event-stream"));
    assert_non_null(strstr(r.body.data, ": connected"));
    id = strstr(r.body.data, "id: ");
    assert_non_null(id);
    memset(&h, 0, sizeof(h));
    h.url = url;
    h.last = bt_strndup(id + 4, strcspn(id + 4, "\n"));
    bt_test_resp_free(&r);

    /* The next is held until something is pushed to Dana. */
    pthread_create(&h.thread, NULL, held_run, &h);
    usleep(300 * 1000);
    bt_test_post_generic(&e->d, "msg_api_panel", body, strlen(body), 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    pthread_join(h.thread, NULL);
    assert_int_equal(h.r.status, 200);
    assert_non_null(strstr(h.r.body.data, "event: suggestion"));
    assert_non_null(strstr(h.r.body.data, "\"name\":\"Stark Industries\""));
    assert_non_null(strstr(h.r.body.data, "\"asset\":{\"id\":\"bc-hooli\""));
    assert_int_equal(bt_sink_count(e->slack, "Stark Industries"), 1);
    bt_test_resp_free(&h.r);

    /* Coming back with the newest id: nothing new, a keep-alive in time. */
    bt_free(h.last);
    h.last = bt_test_db_value(e->db, "SELECT max(id) FROM deliveries WHERE rep_id = 'dana'",
                              NULL);
    held_run(&h);
    assert_int_equal(h.r.status, 200);
    assert_non_null(strstr(h.r.body.data, "keep-alive"));
    assert_null(strstr(h.r.body.data, "event: suggestion"));
    bt_test_resp_free(&h.r);
    bt_free(h.last);
    bt_free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_deals_suggestions_for_a_sidebar_card, setup, teardown),
        cmocka_unit_test_setup_teardown(the_dashboard_signs_in_with_a_cookie, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rep_panel_opens_only_with_its_own_link, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_push_appears_on_the_reps_open_panel, setup, teardown),
    };
    bt_mem_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
