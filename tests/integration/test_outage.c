/* Nothing acknowledged is lost: PostgreSQL goes away while webhooks keep
 * arriving, comes back, and every acknowledged event is stored exactly
 * once; a full journal answers 503 with Retry-After, never a 4xx. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static void pg(const char *what)
{
    const char *tool = getenv("BATON_TEST_PGTMP");

    assert_non_null(tool);
    assert_int_equal(bt_test_sh(NULL, "'%s' %s", tool, what), 0);
}

static char *event(int i)
{
    return bt_asprintf("{\"type\":\"deal.changed\",\"timestamp\":\"2024-05-29T15:11:%02dZ\","
                       "\"data\":{\"deal_id\":\"OUT-%d\",\"stage\":\"qualifiedtobuy\","
                       "\"competitor\":\"Initech\",\"owner\":\"u-77\"}}",
                       i % 60, i);
}

static long long count(PGconn *db, const char *sql)
{
    char *v = bt_test_db_value(db, sql, NULL);
    long long n = v ? strtoll(v, NULL, 10) : -1;

    bt_free(v);
    return n;
}

static void acknowledged_events_survive_an_outage(void **state)
{
    struct bt_testd d;
    char *motion = bt_test_source_path("config/motion.example.yaml");
    int acked = 0;
    PGconn *db;
    char *v;

    (void)state;
    bt_testd_start(&d, motion, NULL);
    bt_testd_wait_ready(&d);
    for (int i = 0; i < 20; i++) {
        char *body = event(i), id[32];
        struct bt_test_resp r;

        snprintf(id, sizeof(id), "msg_out_%d", i);
        bt_test_post_generic(&d, id, body, strlen(body), 0, NULL, &r);
        if (r.status == 200)
            acked++;
        assert_int_equal(r.status, 200);
        bt_test_resp_free(&r);
        bt_free(body);
        if (i == 6)
            pg("stop"); /* the rest go to the journal */
    }
    assert_true(bt_testd_log_contains(&d, "connection lost"));
    /* Resent while the database is still away: journaled again, stored once. */
    {
        char *body = event(15);
        struct bt_test_resp r;

        bt_test_post_generic(&d, "msg_out_15", body, strlen(body), 0, NULL, &r);
        assert_int_equal(r.status, 200);
        bt_test_resp_free(&r);
        bt_free(body);
    }
    pg("start");
    db = bt_test_db();
    v = bt_test_db_wait(db, "20", 20000,
                        "SELECT count(*) FROM inbox WHERE event_id LIKE 'msg_out_%'");
    assert_string_equal(v, "20");
    bt_free(v);
    assert_int_equal(count(db, "SELECT count(DISTINCT event_id) FROM inbox WHERE event_id "
                               "LIKE 'msg_out_%'"),
                     acked);
    /* And each deal was matched once. */
    v = bt_test_db_wait(db, "20", 10000,
                        "SELECT count(DISTINCT deal_id) FROM deliveries WHERE deal_id LIKE "
                        "'OUT-%'");
    assert_string_equal(v, "20");
    bt_free(v);
    assert_true(bt_testd_log_contains(&d, "journal replayed"));
    bt_testd_stop(&d);
    bt_testd_cleanup(&d);
    PQfinish(db);
    bt_free(motion);
}

static void a_full_journal_answers_503_never_4xx(void **state)
{
    struct bt_testd d;
    char *motion = bt_test_source_path("config/motion.example.yaml");
    int ok = 0, refused = 0;
    PGconn *db;
    char *v, *expect;

    (void)state;
    bt_testd_start(&d, motion, NULL);
    bt_testd_stop(&d);
    /* Same daemon, the smallest journal the config allows. */
    assert_int_equal(bt_test_sh(NULL, "sed -i 's|^journal: {path: \\(.*\\)}$|journal: {path: "
                                      "\\1, max_bytes: 64KiB}|' '%s'",
                                d.config),
                     0);
    bt_testd_restart(&d);
    bt_testd_wait_ready(&d);
    pg("stop");
    for (int i = 1000; i < 1500; i++) {
        char *body = event(i), id[32];
        struct bt_test_resp r;

        snprintf(id, sizeof(id), "msg_full_%d", i);
        bt_test_post_generic(&d, id, body, strlen(body), 0, NULL, &r);
        if (r.status == 200) {
            ok++;
        } else {
            assert_int_equal(r.status, 503);
            assert_non_null(strstr(r.headers.data, "Retry-After:"));
            refused++;
        }
        bt_test_resp_free(&r);
        bt_free(body);
    }
    assert_true(ok > 0);
    assert_true(refused > 0);
    pg("start");
    db = bt_test_db();
    expect = bt_asprintf("%d", ok);
    v = bt_test_db_wait(db, expect, 20000,
                        "SELECT count(*) FROM inbox WHERE event_id LIKE 'msg_full_%'");
    assert_string_equal(v, expect);
    bt_free(v);
    bt_free(expect);
    bt_testd_stop(&d);
    bt_testd_cleanup(&d);
    PQfinish(db);
    bt_free(motion);
}

static void a_daemon_started_without_its_database_journals(void **state)
{
    struct bt_testd d;
    char *motion = bt_test_source_path("config/motion.example.yaml");
    PGconn *db;
    char *v;

    (void)state;
    pg("stop");
    bt_testd_start(&d, motion, NULL);
    for (int i = 2000; i < 2005; i++) {
        char *body = event(i), id[32];
        struct bt_test_resp r;

        snprintf(id, sizeof(id), "msg_cold_%d", i);
        bt_test_post_generic(&d, id, body, strlen(body), 0, NULL, &r);
        assert_int_equal(r.status, 200); /* read with the file's field maps, journaled */
        bt_test_resp_free(&r);
        bt_free(body);
    }
    pg("start");
    db = bt_test_db();
    v = bt_test_db_wait(db, "5", 20000,
                        "SELECT count(*) FROM inbox WHERE event_id LIKE 'msg_cold_%'");
    assert_string_equal(v, "5");
    bt_free(v);
    v = bt_test_db_wait(db, "5", 10000,
                        "SELECT count(*) FROM deliveries WHERE deal_id IN ('OUT-2000', "
                        "'OUT-2001', 'OUT-2002', 'OUT-2003', 'OUT-2004')");
    assert_string_equal(v, "5");
    bt_free(v);
    bt_testd_stop(&d);
    bt_testd_cleanup(&d);
    PQfinish(db);
    bt_free(motion);
}

static void a_journaled_record_the_database_refuses_is_set_aside(void **state)
{
    struct bt_testd d;
    char *motion = bt_test_source_path("config/motion.example.yaml");
    PGconn *db = bt_test_db();
    char *v, *rejected;
    FILE *f;

    (void)state;
    /* A journal left by an earlier run: one good record, and one whose time
     * PostgreSQL cannot represent. */
    bt_testd_start(&d, motion, NULL);
    bt_testd_stop(&d);
    f = fopen(d.journal, "w");
    fputs("[{\"source\":\"generic\",\"kind\":\"update\",\"event_id\":\"msg_j_good\","
          "\"deal_id\":\"J-1\",\"occurred_at\":1717000000000,\"fields\":{\"stage\":"
          "\"qualifiedtobuy\"}}]\n"
          "[{\"source\":\"generic\",\"kind\":\"update\",\"event_id\":\"msg_j_bad\","
          "\"deal_id\":\"J-2\",\"occurred_at\":9000000000000000000,\"fields\":{}}]\n",
          f);
    fclose(f);
    bt_testd_restart(&d);
    v = bt_test_db_wait(db, "1", 10000,
                        "SELECT count(*) FROM inbox WHERE event_id = 'msg_j_good'");
    assert_string_equal(v, "1");
    bt_free(v);
    for (int i = 0; i < 100 && !bt_testd_log_contains(&d, "journal replayed"); i++)
        usleep(50 * 1000);
    assert_true(bt_testd_log_contains(&d, "journal replayed"));
    rejected = bt_asprintf("%s.rejected", d.journal);
    {
        size_t len;
        char *text = bt_test_read_file(rejected, &len);

        assert_non_null(strstr(text, "msg_j_bad"));
        assert_null(strstr(text, "msg_j_good"));
        bt_free(text);
    }
    assert_int_equal(bt_test_db_count(db, "SELECT count(*) FROM inbox WHERE event_id = "
                                          "'msg_j_bad'"),
                     0);
    bt_free(rejected);
    bt_testd_stop(&d);
    bt_testd_cleanup(&d);
    PQfinish(db);
    bt_free(motion);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acknowledged_events_survive_an_outage),
        cmocka_unit_test(a_full_journal_answers_503_never_4xx),
        cmocka_unit_test(a_daemon_started_without_its_database_journals),
        cmocka_unit_test(a_journaled_record_the_database_refuses_is_set_aside),
    };
    bt_mem_init();
    if (getenv("BATON_TEST_FILTER"))
        cmocka_set_test_filter(getenv("BATON_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
