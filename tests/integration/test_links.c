/* The tracked link: a redirect to the stored URL, every hit recorded and
 * classified, a person's first hit the open. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static const char BROWSER[] = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                              "(KHTML, like Gecko) Chrome/126.0 Safari/537.36";

static void get(struct bt_testd *d, const char *method, const char *token, const char *agent,
                struct bt_test_resp *r)
{
    char *url = bt_asprintf("%s/o/%s", d->base, token);
    const char *h[] = {agent ? agent : "User-Agent:", NULL};

    bt_test_http(method, url, h, NULL, 0, r);
    bt_free(url);
}

static void clicks_are_counted_once_and_robots_not_at_all(void **state)
{
    struct bt_testd d;
    char *motion = bt_test_source_path("config/motion.example.yaml");
    size_t len;
    char *body = bt_test_read_fixture("standard-webhooks/deal-changed.json", &len);
    PGconn *db = bt_test_db();
    struct bt_test_resp r;
    char *token, *url, *v;

    (void)state;
    bt_testd_start(&d, motion, NULL);
    bt_testd_wait_ready(&d);
    bt_test_post_generic(&d, "msg_links_1", body, len, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    bt_test_resp_free(&r);
    v = bt_test_db_wait(db, "1", 5000, "SELECT count(*) FROM deliveries");
    assert_string_equal(v, "1");
    bt_free(v);
    /* Pushed a minute ago: outside the prefetch window. */
    bt_free(bt_test_db_value(db, "UPDATE deliveries SET status = 'sent', sent_at = now() - "
                                 "interval '1 minute' RETURNING id",
                             NULL));
    token = bt_test_db_value(db, "SELECT token FROM deliveries", NULL);
    url = bt_test_db_value(db, "SELECT asset_url FROM deliveries", NULL);
    assert_non_null(token);
    assert_int_equal(strlen(token), 22);

    get(&d, "GET", token, "User-Agent: Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        &r);
    assert_int_equal(r.status, 302);
    bt_test_resp_free(&r);
    get(&d, "HEAD", token, BROWSER, &r);
    assert_int_equal(r.status, 302);
    bt_test_resp_free(&r);
    get(&d, "GET", token, NULL, &r); /* an empty user agent */
    assert_int_equal(r.status, 302);
    bt_test_resp_free(&r);
    get(&d, "GET", token, BROWSER, &r);
    assert_int_equal(r.status, 302);
    {
        char *loc = bt_asprintf("Location: %s\r\n", url);

        assert_non_null(strstr(r.headers.data, loc));
        bt_free(loc);
    }
    assert_non_null(strstr(r.headers.data, "Cache-Control: no-store"));
    assert_non_null(strstr(r.headers.data, "Referrer-Policy: no-referrer"));
    bt_test_resp_free(&r);
    get(&d, "GET", token, BROWSER, &r); /* the same person again */
    assert_int_equal(r.status, 302);
    bt_test_resp_free(&r);

    v = bt_test_db_wait(db, "5", 5000, "SELECT count(*) FROM hits");
    assert_string_equal(v, "5");
    bt_free(v);
    assert_int_equal(bt_test_db_count(db, "SELECT count(*) FROM hits WHERE kind = 'person'"), 2);
    assert_int_equal(bt_test_db_count(db, "SELECT count(*) FROM hits WHERE kind = 'prefetch'"),
                     3);
    assert_int_equal(bt_test_db_count(db, "SELECT count(*) FROM delivery_opens"), 1);
    v = bt_test_db_value(db, "SELECT reason FROM hits WHERE method = 'HEAD'", NULL);
    assert_string_equal(v, "head request");
    bt_free(v);

    /* A click right after the push is a link preview, not a person. */
    bt_free(bt_test_db_value(db, "UPDATE deliveries SET sent_at = now() RETURNING id", NULL));
    get(&d, "GET", token, BROWSER, &r);
    assert_int_equal(r.status, 302);
    bt_test_resp_free(&r);
    v = bt_test_db_wait(db, "1", 5000,
                        "SELECT count(*) FROM hits WHERE reason = 'within the prefetch window'");
    assert_string_equal(v, "1");
    bt_free(v);

    /* Unknown and malformed tokens: a plain 404 page, never a redirect. */
    get(&d, "GET", "AAAAAAAAAAAAAAAAAAAAAA", BROWSER, &r);
    assert_int_equal(r.status, 404);
    assert_null(strstr(r.headers.data, "Location:"));
    assert_non_null(strstr(r.body.data, "Link not found"));
    bt_test_resp_free(&r);
    get(&d, "GET", "..%2F..%2Fetc%2Fpasswd", BROWSER, &r);
    assert_int_equal(r.status, 404);
    bt_test_resp_free(&r);
    /* No address of the clicker is stored anywhere in a hit. */
    assert_int_equal(bt_test_db_count(db, "SELECT count(*) FROM hits h WHERE row_to_json(h)::text "
                                          "LIKE '%127.0.0.1%'"),
                     0);

    bt_testd_stop(&d);
    bt_testd_cleanup(&d);
    PQfinish(db);
    bt_free(token);
    bt_free(url);
    bt_free(body);
    bt_free(motion);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clicks_are_counted_once_and_robots_not_at_all),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
