/* batond's start and reload: it refuses a database whose schema is behind,
 * saying what to do, and SIGHUP loads the motion file again. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static int count_in(const char *path, const char *text)
{
    size_t len;
    char *s = bt_test_read_file(path, &len);
    int n = 0;

    for (const char *p = s; (p = strstr(p, text)); p += strlen(text))
        n++;
    bt_free(s);
    return n;
}

static void a_schema_behind_is_refused(void **state)
{
    PGconn *db = bt_test_db();
    char dir[] = "/tmp/baton-behind-XXXXXX";
    char *conninfo, *schema = bt_test_source_path("schema"), *cfg;
    struct bt_buf out;
    FILE *f;
    int rc;

    (void)state;
    assert_non_null(mkdtemp(dir));
    bt_free(bt_test_db_value(db, "CREATE DATABASE behind", NULL));
    conninfo = bt_asprintf("%s dbname=behind", bt_test_conninfo());
    /* Only the first migration applied. */
    assert_int_equal(bt_test_sh(NULL, "mkdir -p %s/schema && cp %s/0001_init.sql %s/schema/ && "
                                      "'%s/baton' migrate --db '%s' --schema %s/schema",
                                dir, schema, dir, getenv("BATON_BIN_DIR"), conninfo, dir),
                     0);
    cfg = bt_asprintf("%s/batond.yaml", dir);
    f = fopen(cfg, "w");
    fprintf(f, "listen: 127.0.0.1:%d\ndatabase: \"%s\"\njournal: {path: %s/journal}\n",
            bt_test_free_port(), conninfo, dir);
    fclose(f);
    bt_buf_init(&out, 1 << 16);
    rc = bt_test_sh(&out, "timeout 20 '%s/batond' --config %s", getenv("BATON_BIN_DIR"), cfg);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out.data, "database schema is at version 1"));
    assert_non_null(strstr(out.data, "baton migrate"));
    assert_null(strstr(out.data, "listening on")); /* refused before serving anything */
    bt_buf_free(&out);
    bt_test_sh(NULL, "rm -rf %s", dir);
    bt_free(cfg);
    bt_free(conninfo);
    bt_free(schema);
    PQfinish(db);
}

static void sighup_loads_the_motion_file_again(void **state)
{
    struct bt_testd d;
    char *motion = bt_test_source_path("config/motion.example.yaml");

    (void)state;
    bt_testd_start(&d, motion, NULL);
    bt_testd_wait_ready(&d);
    for (int i = 0; i < 100 && count_in(d.log, "already active") + count_in(d.log, "loaded as") < 1;
         i++)
        usleep(50 * 1000);
    kill(d.pid, SIGHUP);
    for (int i = 0; i < 100 && count_in(d.log, "motion: reloading") < 1; i++)
        usleep(50 * 1000);
    assert_int_equal(count_in(d.log, "motion: reloading"), 1);
    for (int i = 0; i < 100 && count_in(d.log, "already active") + count_in(d.log, "loaded as") < 2;
         i++)
        usleep(50 * 1000);
    assert_int_equal(count_in(d.log, "already active") + count_in(d.log, "loaded as"), 2);
    bt_testd_stop(&d); /* and still a clean exit */
    bt_testd_cleanup(&d);
    bt_free(motion);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_schema_behind_is_refused),
        cmocka_unit_test(sighup_loads_the_motion_file_again),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
