/* Two batonds on one database: a sender that retries against the other
 * instance is stored once and matched once, and a motion loaded through one
 * is used by both. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static void the_same_events_through_both_instances_are_stored_once(void **state)
{
    struct bt_testd a, b;
    char *motion = bt_test_source_path("config/motion.example.yaml");
    PGconn *db = bt_test_db();
    char *v;

    (void)state;
    bt_testd_start(&a, motion, NULL);
    bt_testd_start(&b, motion, NULL);
    bt_testd_wait_ready(&a);
    bt_testd_wait_ready(&b);
    for (int i = 0; i < 40; i++) {
        char id[32];
        char *body = bt_asprintf("{\"type\":\"deal.changed\",\"timestamp\":\"2024-05-29T15:11:55Z\","
                                 "\"data\":{\"deal_id\":\"TWO-%d\",\"stage\":\"qualifiedtobuy\","
                                 "\"competitor\":\"Initech\",\"owner\":\"u-77\"}}",
                                 i);
        struct bt_test_resp r;

        snprintf(id, sizeof(id), "msg_two_%d", i);
        /* Every event to both instances, in either order. */
        bt_test_post_generic(i % 2 ? &a : &b, id, body, strlen(body), 0, NULL, &r);
        assert_int_equal(r.status, 200);
        bt_test_resp_free(&r);
        bt_test_post_generic(i % 2 ? &b : &a, id, body, strlen(body), 0, NULL, &r);
        assert_int_equal(r.status, 200);
        bt_test_resp_free(&r);
        bt_free(body);
    }
    assert_int_equal(bt_test_db_count(db, "SELECT count(*) FROM inbox WHERE event_id LIKE "
                                          "'msg_two_%'"),
                     40);
    v = bt_test_db_wait(db, "40", 10000,
                        "SELECT count(*) FROM deliveries WHERE deal_id LIKE 'TWO-%'");
    assert_string_equal(v, "40");
    bt_free(v);
    /* One delivery per deal, whichever instance matched it. */
    assert_int_equal(bt_test_db_count(db, "SELECT count(*) FROM (SELECT deal_id FROM deliveries "
                                          "WHERE deal_id LIKE 'TWO-%' GROUP BY deal_id HAVING "
                                          "count(*) > 1) x"),
                     0);
    bt_testd_stop(&a);
    bt_testd_stop(&b);
    bt_testd_cleanup(&a);
    bt_testd_cleanup(&b);
    PQfinish(db);
    bt_free(motion);
}

static void a_motion_loaded_anywhere_reaches_every_instance(void **state)
{
    struct bt_testd a, b;
    char *motion = bt_test_source_path("config/motion.example.yaml");
    char *other = bt_test_source_path("tests/data/versions/modified.yaml");
    struct bt_buf out;

    (void)state;
    bt_testd_start(&a, motion, NULL);
    bt_testd_start(&b, NULL, NULL);
    bt_testd_wait_ready(&a);
    bt_testd_wait_ready(&b);
    bt_buf_init(&out, 1 << 16);
    assert_int_equal(bt_test_sh(&out, "'%s/baton' load '%s' --db '%s'", getenv("BATON_BIN_DIR"),
                                other, bt_test_conninfo()),
                     0);
    /* Both hear the NOTIFY and swap to the new version. */
    for (int i = 0; i < 100 && !(bt_testd_log_contains(&a, "version 2 is active") &&
                                 bt_testd_log_contains(&b, "version 2 is active"));
         i++)
        usleep(50 * 1000);
    assert_true(bt_testd_log_contains(&a, "version 2 is active"));
    assert_true(bt_testd_log_contains(&b, "version 2 is active"));
    bt_buf_free(&out);
    bt_testd_stop(&a);
    bt_testd_stop(&b);
    bt_testd_cleanup(&a);
    bt_testd_cleanup(&b);
    bt_free(motion);
    bt_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_same_events_through_both_instances_are_stored_once),
        cmocka_unit_test(a_motion_loaded_anywhere_reaches_every_instance),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
