/* The non-blocking PostgreSQL connection against a real server: pipelined
 * batches as implicit transactions, a failing statement rolling its batch
 * back, notifications, and a lost connection failing what was in flight and
 * coming back by itself. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "pg.h"

struct env {
    uv_loop_t loop;
    struct bt_pg *pg;
    int ups, downs, notes;
    char last_note[64];
    int done, err[8];
    char rows[8][64];
    uv_timer_t stop;
};

static void on_up(void *ud)
{
    struct env *e = ud;

    e->ups++;
    uv_stop(&e->loop);
}

static void on_down(void *ud)
{
    ((struct env *)ud)->downs++;
}

static void on_notify(const char *channel, const char *payload, void *ud)
{
    struct env *e = ud;

    e->notes++;
    snprintf(e->last_note, sizeof(e->last_note), "%s:%s", channel, payload);
    uv_stop(&e->loop);
}

static void batch_done(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct env *e = ud;
    int i = e->done++;

    (void)msg;
    e->err[i] = err;
    if (!err && n && PQntuples(res[n - 1]))
        snprintf(e->rows[i], sizeof(e->rows[i]), "%s", PQgetvalue(res[n - 1], 0, 0));
    uv_stop(&e->loop);
}

static void run_until(struct env *e, int *counter, int want)
{
    for (int i = 0; i < 200 && *counter < want; i++)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_true(*counter >= want);
}

static int setup(void **state)
{
    static const char *const channels[] = {"baton_test", NULL};
    struct env *e = calloc(1, sizeof(*e));
    struct bt_pg_opts o = {.conninfo = bt_test_conninfo(),
                           .name = "test",
                           .listen = channels,
                           .batch_timeout_ms = 5000,
                           .on_up = on_up,
                           .on_down = on_down,
                           .on_notify = on_notify,
                           .ud = e};

    uv_loop_init(&e->loop);
    assert_int_equal(bt_pg_new(&e->loop, &o, &e->pg), 0);
    run_until(e, &e->ups, 1);
    assert_true(bt_pg_up(e->pg));
    *state = e;
    return 0;
}

static void closed(void *ud)
{
    (void)ud;
}

static int teardown(void **state)
{
    struct env *e = *state;

    bt_pg_close(e->pg, closed, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
    return 0;
}

static void a_batch_is_one_transaction(void **state)
{
    struct env *e = *state;
    struct bt_pg_batch *b = bt_pg_batch_new();
    const char *p[1] = {"two"};

    bt_pg_batch_add(b, "CREATE TABLE IF NOT EXISTS pg_t (v text)", 0, NULL);
    bt_pg_batch_add(b, "INSERT INTO pg_t VALUES ('one')", 0, NULL);
    bt_pg_batch_add(b, "INSERT INTO pg_t VALUES ($1)", 1, p);
    bt_pg_batch_add(b, "SELECT string_agg(v, ',' ORDER BY v) FROM pg_t", 0, NULL);
    assert_int_equal(bt_pg_submit(e->pg, b, batch_done, e), 0);
    assert_int_equal(e->done, 0); /* never inside submit */
    run_until(e, &e->done, 1);
    assert_int_equal(e->err[0], 0);
    assert_string_equal(e->rows[0], "one,two");

    /* A failing statement rolls the whole batch back. */
    b = bt_pg_batch_new();
    bt_pg_batch_add(b, "INSERT INTO pg_t VALUES ('three')", 0, NULL);
    bt_pg_batch_add(b, "SELECT 1 / 0", 0, NULL);
    assert_int_equal(bt_pg_submit(e->pg, b, batch_done, e), 0);
    b = bt_pg_batch_new(); /* pipelined right behind it */
    bt_pg_batch_add(b, "SELECT count(*) FROM pg_t", 0, NULL);
    assert_int_equal(bt_pg_submit(e->pg, b, batch_done, e), 0);
    assert_int_equal(bt_pg_in_flight(e->pg), 2);
    run_until(e, &e->done, 3);
    assert_int_equal(e->err[1], BT_EDB);
    assert_int_equal(e->err[2], 0);
    assert_string_equal(e->rows[2], "2");
}

static void notifications_arrive(void **state)
{
    struct env *e = *state;
    struct bt_pg_batch *b = bt_pg_batch_new();

    bt_pg_batch_add(b, "SELECT pg_notify('baton_test', 'hello')", 0, NULL);
    assert_int_equal(bt_pg_submit(e->pg, b, batch_done, e), 0);
    run_until(e, &e->notes, 1);
    assert_string_equal(e->last_note, "baton_test:hello");
}

static void a_lost_connection_fails_what_is_in_flight_and_comes_back(void **state)
{
    struct env *e = *state;
    struct bt_pg_batch *b = bt_pg_batch_new();
    PGconn *killer = bt_test_db();

    /* Another session ends ours mid-statement, as a restart would. */
    bt_pg_batch_add(b, "SELECT pg_sleep(5)", 0, NULL);
    assert_int_equal(bt_pg_submit(e->pg, b, batch_done, e), 0);
    bt_free(bt_test_db_value(killer,
                             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE query = 'SELECT pg_sleep(5)'",
                             NULL));
    run_until(e, &e->done, 1);
    assert_int_equal(e->err[0], BT_EIO);
    assert_true(e->downs >= 1);
    b = bt_pg_batch_new();
    bt_pg_batch_add(b, "SELECT 1", 0, NULL);
    assert_int_equal(bt_pg_submit(e->pg, b, batch_done, e), BT_EAGAIN); /* down: refused */
    run_until(e, &e->ups, 2); /* reconnects by itself, and listens again */
    b = bt_pg_batch_new();
    bt_pg_batch_add(b, "SELECT pg_notify('baton_test', 'again')", 0, NULL);
    assert_int_equal(bt_pg_submit(e->pg, b, batch_done, e), 0);
    run_until(e, &e->notes, 1);
    assert_string_equal(e->last_note, "baton_test:again");
    PQfinish(killer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_batch_is_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(notifications_arrive, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lost_connection_fails_what_is_in_flight_and_comes_back,
                                        setup, teardown),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
