/* Motion versions against a real PostgreSQL (inside tests/pg-tmp), driven
 * through the real `baton` command: load (new, unchanged, a modified copy,
 * invalid, re-activation), the announcement a LISTENing instance receives,
 * `baton motion` and `baton diff`; then the library calls directly.
 *
 * The tests share one database and run in order, each building on the
 * versions the ones before it loaded. */
#include "testutil.h"

#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mem.h"
#include "motion.h"
#include "versions.h"

extern char **environ;

static PGconn *listener;    /* LISTENs on the announcement channel throughout */
static char *modified_copy; /* the example with one comment line added */

static PGconn *connect_db(void)
{
    PGconn *c = PQconnectdb(getenv("BATON_TEST_DB"));

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    return c;
}

static long query_long(const char *sql)
{
    PGconn *c = connect_db();
    PGresult *r = PQexec(c, sql);
    long v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    v = PQgetisnull(r, 0, 0) ? -1 : strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static char *query_str(const char *sql)
{
    PGconn *c = connect_db();
    PGresult *r = PQexec(c, sql);
    char *s;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    s = bt_strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return s;
}

/* Runs `baton ARGS...` (NULL-terminated) with stdout and stderr captured
 * together into *out; returns its exit status (-1: it did not exit). */
static int baton(char **out, ...)
{
    const char *dir = getenv("BATON_BIN_DIR");
    char *bin = bt_asprintf("%s/baton", dir && *dir ? dir : ".");
    char *argv[16];
    posix_spawn_file_actions_t fa;
    struct bt_buf b;
    int fds[2], status = 0, argc = 0;
    char chunk[4096];
    ssize_t n;
    pid_t pid;
    va_list ap;

    argv[argc++] = bin;
    va_start(ap, out);
    while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
        argc++;
    va_end(ap);
    argv[argc] = NULL;

    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0)
        fail_msg("cannot run %s", bin);
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
    bt_free(bin);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define assert_contains(hay, needle)                                                              \
    do {                                                                                          \
        if (!strstr((hay), (needle)))                                                             \
            fail_msg("expected to find \"%s\" in:\n%s", (needle), (hay));                         \
    } while (0)

#define assert_lacks(hay, needle)                                                                 \
    do {                                                                                          \
        if (strstr((hay), (needle)))                                                              \
            fail_msg("did not expect \"%s\" in:\n%s", (needle), (hay));                           \
    } while (0)

/* The payload of the next announcement within TIMEOUT_MS (new string), or
 * NULL when none comes. */
static char *next_announcement(int timeout_ms)
{
    char *payload = NULL;
    PGnotify *n;

    for (;;) {
        struct pollfd p = {.fd = PQsocket(listener), .events = POLLIN};

        assert_int_equal(PQconsumeInput(listener), 1);
        n = PQnotifies(listener);
        if (n) {
            assert_string_equal(n->relname, BT_VERSIONS_CHANNEL);
            payload = bt_strdup(n->extra);
            PQfreemem(n);
            return payload;
        }
        if (timeout_ms <= 0 || poll(&p, 1, timeout_ms) <= 0)
            return NULL;
        timeout_ms = 0; /* one wait; then whatever arrived, or nothing */
    }
}

static char *example_path(void)
{
    return bt_test_source_path("config/motion.example.yaml");
}

static char *data_path(const char *name)
{
    char *rel = bt_asprintf("tests/data/versions/%s", name);
    char *p = bt_test_source_path(rel);

    bt_free(rel);
    return p;
}

static char *file_sha(const char *path)
{
    size_t len;
    char *data = bt_test_read_file(path, &len);
    char hex[65];

    bt_sha256_hex(data, len, hex);
    free(data);
    return bt_strdup(hex);
}

static void test_load_new(void **state)
{
    char *path = example_path(), *sha = file_sha(path), *out, *expect, *s;
    size_t len;
    char *bytes;

    (void)state;
    assert_int_equal(query_long("SELECT count(*) FROM motion_versions"), 0);
    assert_int_equal(baton(&out, "load", path, NULL), 0);
    expect = bt_asprintf("loaded version 1 (Mid-market new business, sha256 %.12s\u2026)\n", sha);
    assert_string_equal(out, expect);
    bt_free(expect);
    bt_free(out);

    assert_int_equal(query_long("SELECT count(*) FROM motion_versions"), 1);
    assert_int_equal(query_long("SELECT version FROM motion_active"), 1);
    s = query_str("SELECT sha256 FROM motion_active");
    assert_string_equal(s, sha);
    bt_free(s);
    /* The exact bytes are stored, so any instance can parse what was loaded. */
    bytes = bt_test_read_file(path, &len);
    s = query_str("SELECT document FROM motion_active");
    assert_int_equal(strlen(s), len);
    assert_memory_equal(s, bytes, len);
    bt_free(s);
    free(bytes);
    s = query_str("SELECT source_file FROM motion_versions WHERE version = 1");
    assert_true(s[0] == '/');
    assert_contains(s, "motion.example.yaml");
    bt_free(s);
    s = query_str("SELECT loaded_by FROM motion_versions WHERE version = 1");
    assert_true(strlen(s) > 0);
    bt_free(s);

    s = next_announcement(5000);
    assert_non_null(s);
    assert_string_equal(s, "1");
    bt_free(s);
    bt_free(sha);
    bt_free(path);
}

static void test_load_identical(void **state)
{
    char *path = example_path(), *out, *s;

    (void)state;
    assert_int_equal(baton(&out, "load", path, "--by", "ops@example", NULL), 0);
    assert_string_equal(out, "unchanged: version 1 is already active\n");
    bt_free(out);
    assert_int_equal(query_long("SELECT count(*) FROM motion_versions"), 1);
    assert_int_equal(query_long("SELECT count(*) FROM motion_activations"), 1);
    s = next_announcement(300);
    assert_null(s);
    bt_free(path);
}

static void test_load_modified_copy(void **state)
{
    char *path = example_path(), *out, *s;
    size_t len;
    char *bytes = bt_test_read_file(path, &len);
    char tmpl[] = "/tmp/baton-motion-XXXXXX.yaml";
    int fd = mkstemps(tmpl, 5);
    FILE *f;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fputs("\n# one more comment: new bytes, the same motion\n", f);
    fclose(f);
    free(bytes);
    modified_copy = bt_strdup(tmpl);

    assert_int_equal(baton(&out, "load", modified_copy, "--by", "ops@example", NULL), 0);
    assert_contains(out, "loaded version 2 (Mid-market new business, sha256 ");
    bt_free(out);
    assert_int_equal(query_long("SELECT count(*) FROM motion_versions"), 2);
    assert_int_equal(query_long("SELECT version FROM motion_active"), 2);
    s = query_str("SELECT activated_by FROM motion_active");
    assert_string_equal(s, "ops@example");
    bt_free(s);
    s = next_announcement(5000);
    assert_non_null(s);
    assert_string_equal(s, "2");
    bt_free(s);

    /* Against the active version: the same bytes, then the same motion. */
    assert_int_equal(baton(&out, "diff", modified_copy, NULL), 0);
    assert_contains(out, "no changes");
    assert_contains(out, "version 2");
    bt_free(out);
    assert_int_equal(baton(&out, "diff", path, NULL), 0);
    assert_contains(out, "against the active version 2");
    assert_contains(out, "\nno changes\n");
    bt_free(out);
    bt_free(path);
}

static void test_load_invalid(void **state)
{
    char *path = data_path("invalid.yaml"), *out, *prefix;

    (void)state;
    assert_int_equal(baton(&out, "load", path, NULL), 1);
    /* Every problem, each as FILE:LINE:COL: PATH: message. */
    prefix = bt_asprintf("%s:", path);
    assert_contains(out, prefix);
    assert_contains(out, ": plays[0].send[0]: unknown asset \"bc-acmee\"");
    assert_contains(out, ": plays[1].when.amount: ");
    assert_contains(out, "is not valid (2 problems)");
    {
        /* "FILE:17:12: plays[0]...": a line and a column on each. */
        const char *p = strstr(out, prefix) + strlen(prefix);
        char *end;
        long line = strtol(p, &end, 10);

        assert_true(line > 0 && *end == ':');
        assert_true(strtol(end + 1, &end, 10) > 0 && *end == ':');
    }
    bt_free(out);
    /* Nothing changed. */
    assert_int_equal(query_long("SELECT count(*) FROM motion_versions"), 2);
    assert_int_equal(query_long("SELECT count(*) FROM motion_activations"), 2);
    assert_int_equal(query_long("SELECT version FROM motion_active"), 2);
    assert_null(next_announcement(200));

    /* Validation comes first: with the database unreachable, the same. */
    assert_int_equal(baton(&out, "load", path, "--db", "host=/nonexistent dbname=x", NULL), 1);
    assert_contains(out, "unknown asset");
    assert_lacks(out, "cannot connect");
    bt_free(out);
    /* And a valid file with the database unreachable fails as such. */
    {
        char *example = example_path();

        assert_int_equal(baton(&out, "load", example, "--db",
                               "host=/nonexistent dbname=x password=Hunter2Pw", NULL),
                         1);
        assert_contains(out, "cannot connect");
        assert_lacks(out, "Hunter2Pw");
        bt_free(out);
        bt_free(example);
    }
    bt_free(prefix);
    bt_free(path);
}

static void test_motion_history(void **state)
{
    json_t *j, *hist, *v;
    json_error_t err;
    char *out;

    (void)state;
    assert_int_equal(baton(&out, "motion", NULL), 0);
    assert_contains(out, "version 2: Mid-market new business\n");
    assert_contains(out, "activated ");
    bt_free(out);

    assert_int_equal(baton(&out, "motion", "--history", NULL), 0);
    assert_contains(out, "* version 2  Mid-market new business");
    assert_contains(out, "  version 1  Mid-market new business");
    assert_true(strstr(out, "* version 2") < strstr(out, "  version 1"));
    bt_free(out);

    assert_int_equal(baton(&out, "motion", "--history", "--json", NULL), 0);
    j = json_loads(out, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, out);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "active"), "version")),
                     2);
    hist = json_object_get(j, "history");
    assert_int_equal(json_array_size(hist), 2);
    v = json_array_get(hist, 0);
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 2);
    assert_true(json_is_true(json_object_get(v, "active")));
    assert_int_equal(json_array_size(json_object_get(v, "activations")), 1);
    v = json_array_get(hist, 1);
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 1);
    assert_true(json_is_false(json_object_get(v, "active")));
    assert_int_equal(json_string_length(json_object_get(v, "sha256")), 64);
    json_decref(j);
    bt_free(out);

    /* An earlier version's stored document, byte for byte. */
    {
        char *path = example_path();
        size_t len;
        char *bytes = bt_test_read_file(path, &len);

        assert_int_equal(baton(&out, "motion", "--version", "1", "--document", NULL), 0);
        assert_string_equal(out, bytes);
        bt_free(out);
        free(bytes);
        bt_free(path);
    }
    assert_int_equal(baton(&out, "motion", "--version", "99", NULL), 1);
    bt_free(out);
}

static void test_diff_modified(void **state)
{
    char *base = data_path("base.yaml"), *modified = data_path("modified.yaml"), *out;

    (void)state;
    assert_int_equal(baton(&out, "load", base, NULL), 0);
    assert_contains(out, "loaded version 3 (Diff test motion, sha256 ");
    bt_free(out);
    bt_free(next_announcement(5000));

    assert_int_equal(baton(&out, "diff", modified, NULL), 0);
    assert_contains(out, "against the active version 3 (Diff test motion):\n");
    assert_contains(out, "\n+ asset bc-initech\n");
    assert_contains(out, "\n- asset pg-old\n");
    assert_contains(out, "\n~ asset bc-acme: title, url\n");
    assert_contains(out, "    url: https://cms.example.com/bc/acme -> "
                         "https://cms.example.com/bc/acme-2024\n");
    assert_contains(out, "\n+ play initech-any\n");
    assert_contains(out, "\n- play pricing\n");
    assert_contains(out, "\n~ play acme-demo: when, send\n");
    assert_contains(out, "    send: bc-acme -> bc-acme, bc-globex\n");
    assert_contains(out, "\n+ rep kim\n");
    assert_contains(out, "\n- rep sam\n");
    assert_contains(out, "\n~ rep dana: channel, to\n");
    assert_contains(out, "    channel: slack -> teams\n");
    assert_contains(out, "\n~ default route: to\n");
    assert_contains(out, "\n+ competitor initech\n");
    /* What did not change is not mentioned. */
    assert_lacks(out, "globex-any");
    assert_lacks(out, "asset bc-globex");
    assert_lacks(out, "+ stage");
    assert_lacks(out, "- stage");
    assert_lacks(out, "~ stage");
    assert_lacks(out, "~ motion");
    bt_free(out);
    /* A diff changes nothing. */
    assert_int_equal(query_long("SELECT count(*) FROM motion_versions"), 3);
    assert_int_equal(query_long("SELECT version FROM motion_active"), 3);
    assert_null(next_announcement(200));

    /* An invalid file: its problems, exit 1. */
    {
        char *invalid = data_path("invalid.yaml");

        assert_int_equal(baton(&out, "diff", invalid, NULL), 1);
        assert_contains(out, "unknown asset");
        bt_free(out);
        bt_free(invalid);
    }
    bt_free(base);
    bt_free(modified);
}

static void test_reactivate(void **state)
{
    char *path = example_path(), *out, *s;

    (void)state;
    assert_int_equal(baton(&out, "load", path, NULL), 0);
    assert_contains(out, "re-activated version 1 (Mid-market new business, sha256 ");
    bt_free(out);
    assert_int_equal(query_long("SELECT count(*) FROM motion_versions"), 3);
    assert_int_equal(query_long("SELECT version FROM motion_active"), 1);
    assert_int_equal(query_long("SELECT count(*) FROM motion_activations WHERE version = 1"), 2);
    s = next_announcement(5000);
    assert_non_null(s);
    assert_string_equal(s, "1");
    bt_free(s);

    assert_int_equal(baton(&out, "motion", "--history", NULL), 0);
    assert_contains(out, "* version 1");
    bt_free(out);
    bt_free(path);
}

static void test_usage_and_schema(void **state)
{
    char *path = example_path(), *out;
    PGconn *c = connect_db();
    char *empty_db;

    (void)state;
    assert_int_equal(baton(&out, "load", NULL), 2);
    bt_free(out);
    assert_int_equal(baton(&out, "diff", path, "extra", NULL), 2);
    bt_free(out);
    assert_int_equal(baton(&out, "motion", "--version", "x", NULL), 2);
    bt_free(out);
    assert_int_equal(baton(&out, "load", "--help", NULL), 0);
    assert_contains(out, "usage: baton load");
    bt_free(out);

    /* A database nobody migrated: told what to do. */
    PQclear(PQexec(c, "CREATE DATABASE versions_empty"));
    PQfinish(c);
    empty_db = bt_asprintf("%s dbname=versions_empty", getenv("BATON_TEST_DB"));
    assert_int_equal(baton(&out, "load", path, "--db", empty_db, NULL), 1);
    assert_contains(out, "run baton migrate");
    bt_free(out);
    assert_int_equal(baton(&out, "motion", "--db", empty_db, NULL), 1);
    assert_contains(out, "run baton migrate");
    bt_free(out);
    bt_free(empty_db);
    bt_free(path);
}

/* The library directly, as the daemon calls it. */
static void test_library(void **state)
{
    static const char *const yaml = "format: 1\n"
                                    "name: Library test\n"
                                    "stages:\n"
                                    "  - {id: open, label: Open}\n"
                                    "  - {id: won, label: Won, outcome: won}\n"
                                    "  - {id: lost, label: Lost, outcome: lost}\n"
                                    "assets:\n"
                                    "  - {id: a1, kind: deck, title: T, url: https://x/a1}\n"
                                    "plays:\n"
                                    "  - {id: p1, when: {stage: open}, send: [a1]}\n";
    struct bt_motion *m = NULL;
    struct bt_load_result res;
    struct bt_version *v = NULL;
    struct bt_history h;
    struct bt_diags d;
    char *by, *s;
    PGconn *c = connect_db();

    (void)state;
    bt_diags_init(&d);
    if (bt_motion_parse("lib.yaml", yaml, strlen(yaml), &m, &d) < 0) {
        bt_diags_print(&d, stderr);
        fail_msg("the test motion does not validate");
    }
    assert_int_equal(bt_versions_load(c, m, NULL, "daemon@host", &res), 0);
    assert_int_equal(res.outcome, BT_LOAD_NEW);
    assert_int_equal(res.version, 4);
    assert_string_equal(res.error, "");
    s = next_announcement(5000);
    assert_string_equal(s, "4");
    bt_free(s);

    assert_int_equal(bt_versions_load(c, m, NULL, NULL, &res), 0);
    assert_int_equal(res.outcome, BT_LOAD_UNCHANGED);
    assert_int_equal(res.version, 4);

    assert_int_equal(bt_versions_active(c, &v), 0);
    assert_int_equal(v->version, 4);
    assert_string_equal(v->name, "Library test");
    assert_string_equal(v->sha256, res.sha256);
    assert_null(v->source_file);
    assert_string_equal(v->loaded_by, "daemon@host");
    assert_true(v->active);
    assert_int_equal(v->n_activations, 1);
    assert_string_equal(v->activations[0].by, "daemon@host");
    assert_int_equal(v->document_len, strlen(yaml));
    assert_memory_equal(v->document, yaml, strlen(yaml));
    /* "2024-05-29T15:11:55Z" */
    assert_int_equal(strlen(v->loaded_at), 20);
    assert_int_equal(v->loaded_at[10], 'T');
    bt_version_free(v);

    assert_int_equal(bt_versions_get(c, 1, &v), 0);
    assert_int_equal(v->version, 1);
    assert_false(v->active);
    assert_int_equal(v->n_activations, 2);
    bt_version_free(v);
    assert_int_equal(bt_versions_get(c, 12345, &v), BT_ENOENT);
    assert_null(v);

    assert_int_equal(bt_versions_history(c, &h), 0);
    assert_int_equal(h.n, 4);
    for (size_t i = 0; i < h.n; i++) {
        assert_int_equal(h.v[i].version, (long long)(4 - i));
        assert_null(h.v[i].document);
        assert_int_equal(h.v[i].active, i == 0);
    }
    assert_int_equal(h.v[3].n_activations, 2); /* version 1: loaded, then re-activated */
    bt_history_free(&h);

    /* Re-activating from the library announces too. */
    {
        char *path = example_path();
        struct bt_motion *ex = NULL;

        assert_int_equal(bt_motion_load(path, &ex, &d), 0);
        assert_int_equal(bt_versions_load(c, ex, path, NULL, &res), 0);
        assert_int_equal(res.outcome, BT_LOAD_REACTIVATED);
        assert_int_equal(res.version, 1);
        s = next_announcement(5000);
        assert_string_equal(s, "1");
        bt_free(s);
        bt_motion_unref(ex);
        bt_free(path);
    }

    by = bt_versions_default_by();
    assert_true(strlen(by) > 0);
    bt_free(by);
    bt_motion_unref(m);
    bt_diags_free(&d);
    PQfinish(c);
}

static int setup(void **state)
{
    PGresult *r;

    (void)state;
    /* The command reads the database from the environment in every test. */
    setenv("BATON_DATABASE", getenv("BATON_TEST_DB"), 1);
    listener = connect_db();
    r = PQexec(listener, "LISTEN " BT_VERSIONS_CHANNEL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("LISTEN: %s", PQerrorMessage(listener));
    PQclear(r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(listener);
    listener = NULL;
    if (modified_copy)
        unlink(modified_copy);
    bt_free(modified_copy);
    modified_copy = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_new),
        cmocka_unit_test(test_load_identical),
        cmocka_unit_test(test_load_modified_copy),
        cmocka_unit_test(test_load_invalid),
        cmocka_unit_test(test_motion_history),
        cmocka_unit_test(test_diff_modified),
        cmocka_unit_test(test_reactivate),
        cmocka_unit_test(test_usage_and_schema),
        cmocka_unit_test(test_library),
    };

    bt_mem_init();
    if (!getenv("BATON_TEST_DB")) {
        fprintf(stderr, "BATON_TEST_DB is not set: run inside tests/pg-tmp\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
