/* Migrations against a real PostgreSQL (inside tests/pg-tmp): a fresh
 * database, re-runs, concurrent runs, a schema behind its files, a failing
 * file, the `baton migrate` command, and the semantics of the merge function
 * the first migration defines. */
#include "testutil.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "mem.h"
#include "migrate.h"

extern char **environ;

/* Connects to database DBNAME of the test cluster (NULL: the one pg-tmp
 * made and migrated). */
static PGconn *connect_to(const char *dbname)
{
    const char *keys[] = {"dbname", dbname ? "dbname" : NULL, NULL};
    const char *vals[] = {getenv("BATON_TEST_DB"), dbname, NULL};
    PGconn *c;

    assert_non_null(vals[0]);
    c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    return c;
}

static char *conninfo_for(const char *dbname)
{
    return bt_asprintf("%s dbname=%s", getenv("BATON_TEST_DB"), dbname);
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The first column of the first row of SQL, as a new string; NULL for SQL NULL. */
static char *query1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *s;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    s = PQgetisnull(r, 0, 0) ? NULL : bt_strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

static long query_long(PGconn *c, const char *sql)
{
    char *s = query1(c, sql);
    long v = s ? strtol(s, NULL, 10) : -1;

    bt_free(s);
    return v;
}

/* A new, empty database NAME (each run has a cluster of its own). */
static void create_db(const char *name)
{
    PGconn *c = connect_to(NULL);
    char *sql = bt_asprintf("CREATE DATABASE %s", name);
    exec_ok(c, sql);
    bt_free(sql);
    PQfinish(c);
}

static char *schema_dir(void)
{
    return bt_test_source_path("schema");
}

/* How many NNNN_*.sql files the source tree's schema/ holds, and the
 * highest number. */
static int count_migrations(int *latest)
{
    char *dir = schema_dir();
    char *cmd = bt_asprintf("ls '%s' | grep -E '^[0-9]+_.*\\.sql$' | sort | tail -1", dir);
    FILE *p = popen(cmd, "r");
    char line[256] = "";
    int n = 0;

    assert_non_null(p);
    if (fgets(line, sizeof(line), p))
        *latest = (int)strtol(line, NULL, 10);
    pclose(p);
    bt_free(cmd);
    cmd = bt_asprintf("ls '%s' | grep -cE '^[0-9]+_.*\\.sql$'", dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    if (fgets(line, sizeof(line), p))
        n = (int)strtol(line, NULL, 10);
    pclose(p);
    bt_free(cmd);
    bt_free(dir);
    return n;
}

/* Runs ARGV with stdout and stderr captured together into *out (new
 * string); returns the exit status, or -1 if it did not exit normally. */
static int run(char *const argv[], char **out)
{
    posix_spawn_file_actions_t fa;
    struct bt_buf b;
    int fds[2], status = 0;
    char chunk[4096];
    ssize_t n;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        fail_msg("cannot run %s", argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    bt_buf_init(&b, 16u << 20);
    while ((n = read(fds[0], chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        assert_int_equal(bt_buf_add(&b, chunk, (size_t)n), 0);
    }
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *out = bt_buf_steal(&b);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *baton_bin(void)
{
    const char *dir = getenv("BATON_BIN_DIR");

    return bt_asprintf("%s/baton", dir && *dir ? dir : ".");
}

/* A temporary schema directory holding the real migrations plus EXTRA_NAME
 * with EXTRA_SQL (when not NULL). New path; remove with rm_dir(). */
static char *temp_schema(const char *extra_name, const char *extra_sql)
{
    char tmpl[] = "/tmp/baton-schema.XXXXXX";
    char *dir, *src = schema_dir(), *cmd;

    assert_non_null(mkdtemp(tmpl));
    dir = bt_strdup(tmpl);
    cmd = bt_asprintf("cp '%s'/*.sql '%s'/", src, dir);
    assert_int_equal(system(cmd), 0);
    bt_free(cmd);
    bt_free(src);
    if (extra_name) {
        char *path = bt_asprintf("%s/%s", dir, extra_name);
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(extra_sql, f);
        fclose(f);
        bt_free(path);
    }
    return dir;
}

static void rm_dir(char *dir)
{
    char *cmd = bt_asprintf("rm -rf '%s'", dir);

    assert_int_equal(system(cmd), 0);
    bt_free(cmd);
    bt_free(dir);
}

static char *migrations_rows(PGconn *c)
{
    return query1(c, "SELECT string_agg(version || ' ' || name || ' ' || applied_at || ' ' || "
                     "checksum, E'\\n' ORDER BY version) FROM schema_migrations");
}

static void test_fresh_then_noop(void **state)
{
    struct bt_diags d;
    char *dir = schema_dir(), *rows1, *rows2;
    int n_files, latest = 0, cur = -1, lat = -1;
    PGconn *c;

    (void)state;
    n_files = count_migrations(&latest);
    assert_true(n_files >= 1);
    create_db("mig_fresh");
    c = connect_to("mig_fresh");
    bt_diags_init(&d);

    assert_int_equal(bt_migrate_status(c, dir, &cur, &lat), 0);
    assert_int_equal(cur, 0);
    assert_int_equal(lat, latest);
    assert_int_equal(bt_migrate_check(c, dir, "batond", &d), BT_ESCHEMA);
    assert_string_equal(d.v[0].msg, "the database has no Baton schema: run baton migrate");
    bt_diags_free(&d);
    /* Even without a schema directory, "no schema at all" is told. */
    assert_int_equal(bt_migrate_check(c, "/nonexistent", "batond", &d), BT_ESCHEMA);
    bt_diags_free(&d);

    assert_int_equal(bt_migrate_apply(c, dir, NULL, &d), n_files);
    assert_int_equal(d.n, 0);
    assert_int_equal(query_long(c, "SELECT count(*) FROM schema_migrations"), n_files);
    assert_int_equal(query_long(c, "SELECT max(version) FROM schema_migrations"), latest);
    /* The tables the daemon writes to are there. */
    assert_int_equal(query_long(c, "SELECT count(*) FROM pg_tables WHERE tablename IN "
                                   "('motion_versions', 'motion_activations', 'inbox', "
                                   "'deals', 'deliveries', 'hits')"),
                     6);
    assert_int_equal(query_long(c, "SELECT count(*) FROM pg_views WHERE viewname IN "
                                   "('motion_active', 'delivery_opens')"),
                     2);
    rows1 = migrations_rows(c);

    /* A second run changes nothing at all, not even applied_at. */
    assert_int_equal(bt_migrate_apply(c, dir, NULL, &d), 0);
    assert_int_equal(d.n, 0);
    rows2 = migrations_rows(c);
    assert_string_equal(rows1, rows2);

    assert_int_equal(bt_migrate_status(c, dir, &cur, &lat), 0);
    assert_int_equal(cur, latest);
    assert_int_equal(lat, latest);

    bt_free(rows1);
    bt_free(rows2);
    bt_diags_free(&d);
    bt_free(dir);
    PQfinish(c);
}

static void test_behind_then_caught_up(void **state)
{
    char *dir = temp_schema("9999_fake.sql", "CREATE TABLE fake_later (x int);\n");
    struct bt_diags d;
    int cur = -1, lat = -1, latest = 0;
    PGconn *c;

    (void)state;
    count_migrations(&latest);
    create_db("mig_behind");
    c = connect_to("mig_behind");
    bt_diags_init(&d);
    {
        char *real = schema_dir();

        assert_true(bt_migrate_apply(c, real, NULL, &d) > 0);
        bt_free(real);
    }
    assert_int_equal(bt_migrate_status(c, dir, &cur, &lat), 0);
    assert_int_equal(cur, latest);
    assert_int_equal(lat, 9999);
    assert_true(cur < lat);
    /* What batond says when it refuses to start. */
    assert_int_equal(bt_migrate_check(c, dir, "batond", &d), BT_ESCHEMA);
    assert_int_equal(d.n, 1);
    {
        char *want = bt_asprintf("database schema is at version %d, this batond needs 9999: "
                                 "run baton migrate",
                                 latest);

        assert_string_equal(d.v[0].msg, want);
        bt_free(want);
    }
    bt_diags_free(&d);

    assert_int_equal(bt_migrate_apply(c, dir, NULL, &d), 1);
    assert_int_equal(query_long(c, "SELECT count(*) FROM fake_later"), 0);
    assert_int_equal(bt_migrate_check(c, dir, "batond", &d), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(bt_migrate_status(c, dir, &cur, &lat), 0);
    assert_int_equal(cur, 9999);
    assert_int_equal(lat, 9999);
    {
        char *name = query1(c, "SELECT name FROM schema_migrations WHERE version = 9999");

        assert_string_equal(name, "fake");
        bt_free(name);
    }
    bt_diags_free(&d);
    rm_dir(dir);
    PQfinish(c);
}

static void test_failing_file_rolls_back(void **state)
{
    char *dir = temp_schema("0900_broken.sql", "CREATE TABLE half_done (x int);\n"
                                               "SELECT no_such_column FROM half_done;\n");
    struct bt_diags d;
    char *line;
    PGconn *c;
    int rc;

    (void)state;
    create_db("mig_broken");
    c = connect_to("mig_broken");
    bt_diags_init(&d);
    rc = bt_migrate_apply(c, dir, NULL, &d);
    assert_int_equal(rc, BT_EDB);
    assert_true(d.n >= 1);
    line = bt_diag_format(&d.v[d.n - 1]);
    assert_non_null(strstr(line, "0900_broken.sql:2:8:"));
    assert_non_null(strstr(line, "no_such_column"));
    bt_free(line);
    /* The files before it stay applied; it left nothing behind. */
    assert_true(query_long(c, "SELECT count(*) FROM schema_migrations") >= 1);
    assert_int_equal(query_long(c, "SELECT count(*) FROM schema_migrations WHERE version = 900"),
                     0);
    assert_int_equal(query_long(c, "SELECT count(*) FROM pg_tables WHERE tablename = "
                                   "'half_done'"),
                     0);
    /* The lock was let go: another run gets as far again. */
    bt_diags_free(&d);
    assert_int_equal(bt_migrate_apply(c, dir, NULL, &d), BT_EDB);
    bt_diags_free(&d);
    rm_dir(dir);
    PQfinish(c);
}

static void test_bad_names(void **state)
{
    struct bt_diags d;
    char *dir;
    int cur, lat;
    PGconn *c = connect_to(NULL);

    (void)state;
    bt_diags_init(&d);
    dir = temp_schema("0001_again.sql", "SELECT 1;\n");
    assert_int_equal(bt_migrate_apply(c, dir, NULL, &d), BT_EINVAL);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.v[0].msg, "same number 1"));
    assert_int_equal(bt_migrate_status(c, dir, &cur, &lat), BT_EINVAL);
    assert_true(cur >= 1); /* the database's side is read all the same */
    rm_dir(dir);
    bt_diags_free(&d);

    dir = temp_schema("0002 spaced.sql", "SELECT 1;\n");
    assert_int_equal(bt_migrate_apply(c, dir, NULL, &d), BT_EINVAL);
    assert_non_null(strstr(d.v[0].msg, "NNNN_name.sql"));
    rm_dir(dir);
    bt_diags_free(&d);

    assert_int_equal(bt_migrate_apply(c, "/nonexistent/schema", NULL, &d), BT_EIO);
    bt_diags_free(&d);
    PQfinish(c);
}

struct racer {
    pthread_barrier_t *start;
    const char *dir;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    const char *keys[] = {"dbname", "dbname", NULL};
    const char *vals[] = {getenv("BATON_TEST_DB"), "mig_race", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    struct bt_diags d;

    bt_diags_init(&d);
    pthread_barrier_wait(r->start);
    r->rc = PQstatus(c) == CONNECTION_OK ? bt_migrate_apply(c, r->dir, NULL, &d) : -100;
    bt_diags_free(&d);
    PQfinish(c);
    return NULL;
}

/* Two migrators on one empty database at once: one applies everything, the
 * other waits for it and finds nothing left to do. */
static void test_concurrent_runs(void **state)
{
    pthread_barrier_t start;
    struct racer r[2];
    pthread_t t[2];
    char *dir = schema_dir();
    int latest = 0, n = count_migrations(&latest);
    PGconn *c;

    (void)state;
    create_db("mig_race");
    pthread_barrier_init(&start, NULL, 2);
    for (int i = 0; i < 2; i++) {
        r[i].start = &start;
        r[i].dir = dir;
        r[i].rc = -99;
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    assert_true((r[0].rc == n && r[1].rc == 0) || (r[0].rc == 0 && r[1].rc == n));
    c = connect_to("mig_race");
    assert_int_equal(query_long(c, "SELECT count(*) FROM schema_migrations"), n);
    PQfinish(c);
    bt_free(dir);
}

static void test_cli(void **state)
{
    char *bin = baton_bin(), *dir = schema_dir(), *db, *out;
    int latest = 0;

    (void)state;
    count_migrations(&latest);
    create_db("mig_cli");
    db = conninfo_for("mig_cli");
    {
        char *argv[] = {bin, "migrate", "--db", db, "--schema", dir, NULL};
        char *expect = bt_asprintf("schema is now at version %d\n", latest);

        assert_int_equal(run(argv, &out), 0);
        assert_non_null(strstr(out, "applied 0001_init.sql\n"));
        assert_non_null(strstr(out, expect));
        bt_free(out);
        bt_free(expect);

        expect = bt_asprintf("schema is up to date (version %d)\n", latest);
        assert_int_equal(run(argv, &out), 0);
        assert_string_equal(out, expect);
        bt_free(out);
        bt_free(expect);
    }
    {
        /* BATON_DATABASE stands in for --db; --schema=DIR works too. */
        char *arg = bt_asprintf("--schema=%s", dir);
        char *argv[] = {bin, "migrate", arg, NULL};

        setenv("BATON_DATABASE", db, 1);
        assert_int_equal(run(argv, &out), 0);
        assert_non_null(strstr(out, "schema is up to date"));
        unsetenv("BATON_DATABASE");
        bt_free(out);
        bt_free(arg);
    }
    {
        char *argv[] = {bin, "migrate", "--db", db, "--bogus", NULL};

        assert_int_equal(run(argv, &out), 2);
        bt_free(out);
    }
    {
        char *argv[] = {bin, "migrate", NULL};

        unsetenv("BATON_DATABASE");
        assert_int_equal(run(argv, &out), 2);
        bt_free(out);
    }
    {
        /* A failed connection never shows the password... */
        char *argv[] = {bin, "migrate", "--db",
                        "host=/nonexistent/socket/dir dbname=x password=Sekr1tPw", NULL};

        assert_int_equal(run(argv, &out), 1);
        assert_non_null(strstr(out, "cannot connect"));
        assert_null(strstr(out, "Sekr1tPw"));
        bt_free(out);
    }
    {
        /* ...nor does a connection string libpq cannot even parse. */
        char *argv[] = {bin, "migrate", "--db", "host=/tmp password=Sekr1t Pw", NULL};

        assert_int_equal(run(argv, &out), 1);
        assert_null(strstr(out, "Sekr1t"));
        assert_null(strstr(out, "Pw"));
        bt_free(out);
    }
    {
        char *argv[] = {bin, "migrate", "--db", "postgresql://u:Sekr1tPw@/x?host=/nonexistent",
                        NULL};

        assert_int_equal(run(argv, &out), 1);
        assert_null(strstr(out, "Sekr1tPw"));
        bt_free(out);
    }
    bt_free(db);
    bt_free(dir);
    bt_free(bin);
}

/* baton_merge_deal --------------------------------------------------------- */

/* Calls baton_merge_deal; returns 1 (true) or 0. */
static int merge(PGconn *c, const char *deal, const char *fields, const char *times,
                 const char *kind)
{
    const char *p[5] = {"hubspot", deal, fields, times, kind};
    PGresult *r = PQexecParams(c, "SELECT baton_merge_deal($1, $2, $3::jsonb, $4::jsonb, $5)", 5,
                               NULL, p, NULL, NULL, 0);
    int v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("merge: %s", PQerrorMessage(c));
    v = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    return v;
}

/* One column of a deal's row as text ("t"/"f" for booleans, "" for NULL). */
static char *deal_col(PGconn *c, const char *deal, const char *expr)
{
    char *sql = bt_asprintf("SELECT coalesce((%s)::text, '') FROM deals "
                            "WHERE source = 'hubspot' AND deal_id = $1",
                            expr);
    const char *p[1] = {deal};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    char *s;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    s = bt_strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    bt_free(sql);
    return s;
}

#define assert_deal(c, deal, expr, want)                                                          \
    do {                                                                                          \
        char *got_ = deal_col(c, deal, expr);                                                     \
        if (strcmp(got_, want) != 0)                                                              \
            fail_msg("%s of %s: got \"%s\", want \"%s\"", expr, deal, got_, want);                \
        bt_free(got_);                                                                            \
    } while (0)

static void matched(PGconn *c, const char *deal)
{
    const char *p[1] = {deal};
    PGresult *r = PQexecParams(c,
                               "UPDATE deals SET to_match = false, trigger = NULL "
                               "WHERE source = 'hubspot' AND deal_id = $1",
                               1, NULL, p, NULL, NULL, 0);

    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

static void test_merge_new_deals(void **state)
{
    PGconn *c = connect_to(NULL);

    (void)state;
    /* New with a stage: matched as created. */
    assert_true(merge(c, "n1", "{\"stage\": \"qualifiedtobuy\", \"name\": \"Umbrella\"}", "1000",
                      "change"));
    assert_deal(c, "n1", "to_match", "true");
    assert_deal(c, "n1", "trigger", "created");
    assert_deal(c, "n1", "fields->>'stage'", "qualifiedtobuy");
    assert_deal(c, "n1", "field_times->>'stage'", "1000");
    assert_deal(c, "n1", "field_times->>'name'", "1000");
    assert_deal(c, "n1", "deleted", "false");

    /* New without stage, competitor or owner: stored, not matched. */
    assert_false(
        merge(c, "n2", "{\"name\": \"Initech\", \"amount\": \"5000\"}", "1000", "change"));
    assert_deal(c, "n2", "to_match", "false");
    assert_deal(c, "n2", "trigger", "");
    assert_deal(c, "n2", "fields->>'amount'", "5000");

    /* Its stage arriving later is a stage change. */
    assert_true(merge(c, "n2", "{\"stage\": \"appointmentscheduled\"}", "2000", "change"));
    assert_deal(c, "n2", "trigger", "stage");

    /* New with only a competitor: that is a change of competitor. */
    assert_true(merge(c, "n3", "{\"competitor\": \"acme\"}", "1000", "change"));
    assert_deal(c, "n3", "trigger", "competitor");

    /* Empty and null values are no values: no change. */
    assert_false(merge(c, "n4", "{\"competitor\": null, \"name\": \"x\"}", "1000", "change"));
    assert_deal(c, "n4", "to_match", "false");
    assert_deal(c, "n4", "fields ? 'competitor'", "true");
    PQfinish(c);
}

static void test_merge_out_of_order(void **state)
{
    PGconn *c = connect_to(NULL);

    (void)state;
    assert_true(merge(c, "o1", "{\"stage\": \"demo\", \"name\": \"A\"}", "2000", "change"));
    matched(c, "o1");

    /* An older stage arriving late keeps the newer one and matches nothing. */
    assert_false(merge(c, "o1", "{\"stage\": \"discovery\"}", "1000", "change"));
    assert_deal(c, "o1", "fields->>'stage'", "demo");
    assert_deal(c, "o1", "field_times->>'stage'", "2000");
    assert_deal(c, "o1", "to_match", "false");

    /* Field by field: the newer name of an event is taken, its older stage not. */
    assert_false(merge(c, "o1", "{\"stage\": \"won\", \"name\": \"B\"}",
                       "{\"stage\": 1500, \"name\": 2500}", "change"));
    assert_deal(c, "o1", "fields->>'stage'", "demo");
    assert_deal(c, "o1", "fields->>'name'", "B");
    assert_deal(c, "o1", "field_times->>'name'", "2500");

    /* The same time replaces (a CRM may send two changes in one millisecond). */
    assert_true(merge(c, "o1", "{\"stage\": \"proposal\"}", "2000", "change"));
    assert_deal(c, "o1", "fields->>'stage'", "proposal");
    assert_deal(c, "o1", "trigger", "stage");
    matched(c, "o1");

    /* The same value again, newer: its time moves, nothing to match. */
    assert_false(merge(c, "o1", "{\"stage\": \"proposal\"}", "3000", "change"));
    assert_deal(c, "o1", "field_times->>'stage'", "3000");
    assert_deal(c, "o1", "to_match", "false");

    /* A field without a time is stamped now, so it beats any past event. */
    assert_false(merge(c, "o1", "{\"amount\": \"10\"}", "{}", "change"));
    assert_deal(c, "o1", "(field_times->>'amount')::bigint > 1000000000000", "true");
    assert_false(merge(c, "o1", "{\"amount\": \"20\"}", "5000", "change"));
    assert_deal(c, "o1", "fields->>'amount'", "10");
    PQfinish(c);
}

static void test_merge_triggers(void **state)
{
    PGconn *c = connect_to(NULL);

    (void)state;
    assert_true(merge(c, "t1", "{\"stage\": \"demo\"}", "1000", "change"));
    matched(c, "t1");

    /* Only stage, competitor and owner count. */
    assert_false(
        merge(c, "t1", "{\"amount\": \"100\", \"industry\": \"Healthcare\"}", "1100", "change"));
    assert_deal(c, "t1", "to_match", "false");

    assert_true(merge(c, "t1", "{\"owner\": \"882761034\"}", "1200", "change"));
    assert_deal(c, "t1", "trigger", "owner");
    /* A stronger reason replaces a weaker one while the deal waits... */
    assert_true(merge(c, "t1", "{\"stage\": \"proposal\"}", "1300", "change"));
    assert_deal(c, "t1", "trigger", "stage");
    /* ...a weaker one does not replace a stronger one. */
    assert_true(merge(c, "t1", "{\"competitor\": \"acme\"}", "1400", "change"));
    assert_deal(c, "t1", "trigger", "stage");
    assert_deal(c, "t1", "to_match", "true");
    matched(c, "t1");

    assert_true(merge(c, "t1", "{\"competitor\": \"globex\"}", "1500", "change"));
    assert_deal(c, "t1", "trigger", "competitor");
    matched(c, "t1");

    /* Clearing the competitor is a change too. */
    assert_true(merge(c, "t1", "{\"competitor\": null}", "1600", "change"));
    assert_deal(c, "t1", "trigger", "competitor");
    assert_deal(c, "t1", "fields->'competitor'", "null");
    matched(c, "t1");

    /* An unchanged value with a changed neighbour: only the neighbour counts. */
    assert_true(merge(c, "t1", "{\"stage\": \"proposal\", \"owner\": \"u-2\"}", "1700", "change"));
    assert_deal(c, "t1", "trigger", "owner");
    PQfinish(c);
}

static void test_merge_delete(void **state)
{
    PGconn *c = connect_to(NULL);

    (void)state;
    assert_true(merge(c, "d1", "{\"stage\": \"demo\"}", "1000", "change"));
    assert_deal(c, "d1", "to_match", "true");

    assert_false(merge(c, "d1", "{}", "2000", "delete"));
    assert_deal(c, "d1", "deleted", "true");
    assert_deal(c, "d1", "to_match", "false"); /* never matched once deleted */
    assert_deal(c, "d1", "fields->>'stage'", "demo");

    /* Changes to a deleted deal are kept, but nothing is matched. */
    assert_false(merge(c, "d1", "{\"stage\": \"proposal\"}", "3000", "change"));
    assert_deal(c, "d1", "fields->>'stage'", "proposal");
    assert_deal(c, "d1", "to_match", "false");

    /* Deleting a deal never seen leaves a deleted row. */
    assert_false(merge(c, "d2", NULL, NULL, "delete"));
    assert_deal(c, "d2", "deleted", "true");
    PQfinish(c);
}

static void test_merge_rejects_bad_input(void **state)
{
    PGconn *c = connect_to(NULL);
    const char *p[5] = {"hubspot", "b1", "[1, 2]", "1", "change"};
    PGresult *r = PQexecParams(c, "SELECT baton_merge_deal($1, $2, $3::jsonb, $4::jsonb, $5)", 5,
                               NULL, p, NULL, NULL, 0);

    (void)state;
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_non_null(strstr(PQresultErrorMessage(r), "JSON object"));
    PQclear(r);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_then_noop),
        cmocka_unit_test(test_behind_then_caught_up),
        cmocka_unit_test(test_failing_file_rolls_back),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_concurrent_runs),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_merge_new_deals),
        cmocka_unit_test(test_merge_out_of_order),
        cmocka_unit_test(test_merge_triggers),
        cmocka_unit_test(test_merge_delete),
        cmocka_unit_test(test_merge_rejects_bad_input),
    };

    bt_mem_init();
    if (!getenv("BATON_TEST_DB")) {
        fprintf(stderr, "BATON_TEST_DB is not set: run inside tests/pg-tmp\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
