/* The adoption report against a real PostgreSQL (inside tests/pg-tmp).
 *
 * The setup loads tests/data/report/motion-v1.yaml and motion-v2.yaml with
 * the real `baton load` (versions 1 and 2, 2 active) and seeds
 * tests/data/report/seed.sql: 25 deliveries of every status, person hits,
 * prefetches, a person's hit on failed deliveries, deals now won, lost,
 * "disqualified" (lost only for version 2), open, without a stage and
 * missing. tests/data/report/README.md works the figures out by hand; the
 * tests check them exactly through `baton report` in JSON, compare table
 * and CSV output with the files next to the data, and call the library as
 * the daemon would. */
#include "testutil.h"
#include "daemon.h"

#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mem.h"
#include "motion.h"
#include "report.h"

extern char **environ;

#define MAX_ARGS 24

static PGconn *connect_db(void)
{
    PGconn *c = PQconnectdb(getenv("BATON_TEST_DB"));

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    return c;
}

static void read_all(int fd, struct bt_buf *b)
{
    char chunk[4096];
    ssize_t n;

    bt_buf_init(b, 16u << 20);
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        assert_int_equal(bt_buf_add(b, chunk, (size_t)n), 0);
    }
    close(fd);
}

/* Runs `baton ARGS...` (NULL-terminated): standard output into *out,
 * standard error into *err, or into *out as well when ERR is NULL.
 * Returns the exit status (-1: it did not exit). */
static int run_baton(char **out, char **err, char **args)
{
    const char *dir = getenv("BATON_BIN_DIR");
    char *bin = bt_asprintf("%s/baton", dir && *dir ? dir : ".");
    char *argv[MAX_ARGS + 1];
    posix_spawn_file_actions_t fa;
    struct bt_buf o, e;
    int po[2], pe[2], status = 0, argc = 0;
    pid_t pid;

    argv[argc++] = bin;
    for (int i = 0; args[i] && argc < MAX_ARGS; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;

    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err ? pe[1] : po[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0)
        fail_msg("cannot run %s", bin);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    /* The command writes at most a line or two to standard error, so
     * reading standard output to its end first cannot deadlock. */
    read_all(po[0], &o);
    read_all(pe[0], &e);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *out = bt_buf_steal(&o);
    if (err)
        *err = bt_buf_steal(&e);
    bt_buf_free(&e);
    bt_free(bin);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* FIRST and the NULL-terminated rest of AP into ARGS, which has room for
 * CAP pointers, the final NULL included. */
static void collect(char **args, int cap, const char *first, va_list ap)
{
    int n = 0;

    /* FIRST NULL: no arguments at all, and nothing more to read. */
    args[n] = (char *)first;
    while (args[n] && ++n < cap - 1)
        args[n] = va_arg(ap, char *);
    args[n] = NULL;
}

/* `baton FIRST ARGS...` (NULL-terminated) with both streams in *out. */
static int baton(char **out, const char *first, ...)
{
    char *args[MAX_ARGS];
    va_list ap;

    va_start(ap, first);
    collect(args, MAX_ARGS, first, ap);
    va_end(ap);
    return run_baton(out, NULL, args);
}

/* `baton report ARGS...`: must succeed with nothing on standard error;
 * returns standard output. */
static char *report(const char *first, ...)
{
    char *args[MAX_ARGS], *out, *err;
    va_list ap;
    int rc;

    va_start(ap, first);
    collect(args + 1, MAX_ARGS - 1, first, ap);
    va_end(ap);
    args[0] = "report";
    rc = run_baton(&out, &err, args);
    if (rc != 0 || *err)
        fail_msg("baton report exited %d: %s%s", rc, err, out);
    bt_free(err);
    return out;
}

static json_t *report_json(const char *first, ...)
{
    char *args[MAX_ARGS], *out, *err;
    json_error_t jerr;
    json_t *j;
    va_list ap;
    int rc, n;

    va_start(ap, first);
    collect(args + 1, MAX_ARGS - 1, first, ap);
    va_end(ap);
    args[0] = "report";
    for (n = 0; args[n]; n++)
        ;
    assert_true(n + 2 < MAX_ARGS);
    args[n++] = "--format";
    args[n++] = "json";
    args[n] = NULL;
    rc = run_baton(&out, &err, args);
    if (rc != 0 || *err)
        fail_msg("baton report exited %d: %s%s", rc, err, out);
    j = json_loads(out, 0, &jerr);
    if (!j)
        fail_msg("not JSON (%s): %s", jerr.text, out);
    bt_free(out);
    bt_free(err);
    return j;
}

#define assert_contains(hay, needle)                                                              \
    do {                                                                                          \
        if (!strstr((hay), (needle)))                                                             \
            fail_msg("expected to find \"%s\" in:\n%s", (needle), (hay));                         \
    } while (0)

static char *data_path(const char *name)
{
    char *rel = bt_asprintf("tests/data/report/%s", name);
    char *p = bt_test_source_path(rel);

    bt_free(rel);
    return p;
}

/* OUT must be the content of tests/data/report/NAME, byte for byte. */
static void assert_file(const char *out, const char *name)
{
    char *path = data_path(name), *want;
    size_t len;

    want = bt_test_read_file(path, &len);
    if (strlen(out) != len || memcmp(out, want, len) != 0) {
        fprintf(stderr, "--- %s:\n%s--- but baton printed:\n%s---\n", name, want, out);
        fail_msg("the output differs from %s", name);
    }
    free(want);
    bt_free(path);
}

/* ---- the expected figures ---- */

#define NUL (-1.0) /* a JSON null where a number may be */

struct want {
    const char *key; /* NULL: JSON null */
    long long matched, delivered, failed, unroutable, opened;
    double open_rate, median;
    long long won_opened, lost_opened, won_not_opened, lost_not_opened;
    const char *verdict; /* NULL: the report is not by asset */
};

static void check_int(json_t *o, const char *field, long long want, const char *where)
{
    json_t *v = json_object_get(o, field);

    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("%s: %s is %lld, not %lld", where, field,
                 json_is_integer(v) ? (long long)json_integer_value(v) : -999, want);
}

static void check_num(json_t *o, const char *field, double want, const char *where)
{
    json_t *v = json_object_get(o, field);

    if (want == NUL) {
        if (!json_is_null(v))
            fail_msg("%s: %s is %g, not null", where, field, json_number_value(v));
        return;
    }
    /* Rounded by the report to 4 (rates) or 2 (minutes) decimals and
     * written in as many: the same text reads back as the same double. */
    if (!json_is_number(v) || json_number_value(v) != want)
        fail_msg("%s: %s is %.17g, not %.17g", where, field, json_number_value(v), want);
}

static void check_counts(json_t *o, const struct want *w, const char *where)
{
    check_int(o, "matched", w->matched, where);
    check_int(o, "delivered", w->delivered, where);
    check_int(o, "failed", w->failed, where);
    check_int(o, "unroutable", w->unroutable, where);
    check_int(o, "opened", w->opened, where);
    check_num(o, "open_rate", w->open_rate, where);
    check_num(o, "median_minutes_to_open", w->median, where);
    check_int(o, "won_opened", w->won_opened, where);
    check_int(o, "lost_opened", w->lost_opened, where);
    check_int(o, "won_not_opened", w->won_not_opened, where);
    check_int(o, "lost_not_opened", w->lost_not_opened, where);
}

static void check_report(json_t *j, const char *by, const struct want *rows, size_t n,
                         const struct want *totals)
{
    json_t *arr = json_object_get(j, "rows");

    assert_string_equal(json_string_value(json_object_get(j, "by")), by);
    if (json_array_size(arr) != n) {
        char *s = json_dumps(j, JSON_INDENT(2));

        fail_msg("%zu rows, not %zu:\n%s", json_array_size(arr), n, s);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i), *key = json_object_get(o, by);
        char where[96];

        snprintf(where, sizeof(where), "rows[%zu] (%s)", i, rows[i].key ? rows[i].key : "null");
        if (rows[i].key ? !json_is_string(key) || strcmp(json_string_value(key), rows[i].key)
                        : !json_is_null(key))
            fail_msg("%s: the key is %s", where,
                     json_is_string(key) ? json_string_value(key) : "not that");
        check_counts(o, &rows[i], where);
        if (rows[i].verdict) {
            assert_string_equal(json_string_value(json_object_get(o, "verdict")), rows[i].verdict);
            assert_non_null(json_string_value(json_object_get(o, "action")));
        } else {
            assert_null(json_object_get(o, "verdict"));
        }
    }
    check_counts(json_object_get(j, "totals"), totals, "totals");
}

#define CHECK(j, by, rows, totals)                                                                \
    check_report((j), (by), (rows), sizeof(rows) / sizeof(rows[0]), &(totals))

/* May 2024, judged by version 2 (README.md, report A). */
static const struct want may_assets[] = {
    {"bc-acme", 8, 6, 1, 1, 4, 0.6667, 20, 2, 1, 0, 2, "adopted"},
    {"deck-intro", 7, 6, 1, 0, 1, 0.1667, 120, 0, 1, 3, 1, "ignored"},
    {"bc-globex", 4, 3, 0, 0, 2, 0.6667, 30, 1, 0, 0, 1, "too early"},
    {"cs-health", 2, 1, 0, 0, 1, 1, 3, 0, 0, 0, 0, "too early"},
    {"pg-2024", 2, 0, 1, 1, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
    {"cs-bank", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
};
static const struct want may_totals = {NULL, 23, 16, 3, 2, 8, 0.5, 22.5, 3, 2, 3, 4, NULL};

/* ---- the tests ---- */

static void test_by_asset(void **state)
{
    json_t *j, *thr, *motion;
    char *out;

    (void)state;
    j = report_json("--since", "2024-05-01", "--until", "2024-06-01", NULL);
    CHECK(j, "asset", may_assets, may_totals);
    assert_string_equal(json_string_value(json_object_get(j, "since")), "2024-05-01T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "until")), "2024-06-01T00:00:00Z");
    assert_true(json_is_null(json_object_get(j, "motion_version")));
    motion = json_object_get(j, "motion");
    assert_int_equal(json_integer_value(json_object_get(motion, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(motion, "name")),
                        "Report test motion, second version");
    thr = json_object_get(j, "thresholds");
    assert_int_equal(json_integer_value(json_object_get(thr, "min_deliveries")), 5);
    assert_true(json_real_value(json_object_get(thr, "ignored_below")) == 0.2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "rows"), 4), "action")),
                        "fix the motion or the CRM data");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "rows"), 1), "action")),
                        "coach the reps or fix the asset");
    json_decref(j);

    /* The same report in each format, byte for byte; --by asset is the
     * default and the table the default format. */
    out = report("--since", "2024-05-01", "--until", "2024-06-01", "--format", "json", NULL);
    assert_file(out, "asset-may.json");
    bt_free(out);
    out = report("--since", "2024-05-01", "--until", "2024-06-01", "--by", "asset", "--format",
                 "csv", NULL);
    assert_file(out, "asset-may.csv");
    bt_free(out);
    out = report("--since=2024-05-01", "--until=2024-06-01", NULL);
    assert_file(out, "asset-may.txt");
    bt_free(out);
}

static void test_by_rep(void **state)
{
    static const struct want rows[] = {
        {"dana", 8, 5, 3, 0, 3, 0.6, 15, 2, 0, 2, 0, NULL},
        {"lee", 7, 6, 0, 0, 3, 0.5, 45, 1, 1, 0, 2, NULL},
        {"sam", 6, 5, 0, 0, 2, 0.4, 31.5, 0, 1, 1, 2, NULL},
        {NULL, 2, 0, 0, 2, 0, NUL, NUL, 0, 0, 0, 0, NULL},
    };
    json_t *j;
    char *out;

    (void)state;
    j = report_json("--since", "2024-05-01", "--until", "2024-06-01", "--by", "rep", NULL);
    CHECK(j, "rep", rows, may_totals);
    assert_null(json_object_get(j, "thresholds"));
    json_decref(j);

    /* No rep (unroutable): "-" in the table, empty in CSV. */
    out = report("--since", "2024-05-01", "--until", "2024-06-01", "--by", "rep", "--format",
                 "csv", NULL);
    assert_file(out, "rep-may.csv");
    bt_free(out);
    out = report("--since", "2024-05-01", "--until", "2024-06-01", "--by", "rep", NULL);
    assert_file(out, "rep-may.txt");
    bt_free(out);
}

static void test_by_stage(void **state)
{
    /* The stage the deal was in when the delivery was created. */
    static const struct want rows[] = {
        {"demo", 10, 7, 1, 1, 5, 0.7143, 10, 2, 1, 0, 2, NULL},
        {"discovery", 7, 6, 1, 0, 1, 0.1667, 120, 0, 1, 3, 1, NULL},
        {"proposal", 6, 3, 1, 1, 2, 0.6667, 30, 1, 0, 0, 1, NULL},
    };
    json_t *j;

    (void)state;
    j = report_json("--since", "2024-05-01", "--until", "2024-06-01", "--by", "stage", NULL);
    CHECK(j, "stage", rows, may_totals);
    json_decref(j);
}

static void test_by_competitor(void **state)
{
    static const struct want rows[] = {
        {"acme", 10, 7, 1, 1, 5, 0.7143, 10, 2, 1, 0, 2, NULL},
        {NULL, 7, 6, 1, 0, 1, 0.1667, 120, 0, 1, 3, 1, NULL},
        {"globex", 6, 3, 1, 1, 2, 0.6667, 30, 1, 0, 0, 1, NULL},
    };
    json_t *j;
    char *out;

    (void)state;
    j = report_json("--since", "2024-05-01", "--until", "2024-06-01", "--by", "competitor", NULL);
    CHECK(j, "competitor", rows, may_totals);
    json_decref(j);
    out = report("--since", "2024-05-01", "--until", "2024-06-01", "--by", "competitor",
                 "--format", "csv", NULL);
    assert_contains(out, "\r\n,7,6,1,0,1,0.1667,120,0,1,3,1\r\n");
    bt_free(out);
}

static void test_by_play(void **state)
{
    static const struct want rows[] = {
        {"acme-demo", 8, 6, 1, 1, 4, 0.6667, 20, 2, 1, 0, 2, NULL},
        {"discovery", 7, 6, 1, 0, 1, 0.1667, 120, 0, 1, 3, 1, NULL},
        {"globex-any", 4, 3, 0, 0, 2, 0.6667, 30, 1, 0, 0, 1, NULL},
        {"health", 2, 1, 0, 0, 1, 1, 3, 0, 0, 0, 0, NULL},
        {"proposal", 2, 0, 1, 1, 0, NUL, NUL, 0, 0, 0, 0, NULL},
    };
    json_t *j;

    (void)state;
    j = report_json("--by", "play", "--since", "2024-05-01", "--until", "2024-06-01", NULL);
    CHECK(j, "play", rows, may_totals);
    json_decref(j);
}

/* Version 1's deliveries only, judged by version 1: "disqualified" is no
 * outcome there, and cs-retail (not cs-bank) is its shelfware. */
static void test_motion_version(void **state)
{
    static const struct want rows[] = {
        {"bc-acme", 8, 6, 1, 1, 4, 0.6667, 20, 2, 0, 0, 2, "adopted"},
        {"deck-intro", 6, 6, 0, 0, 1, 0.1667, 120, 0, 1, 3, 1, "ignored"},
        {"bc-globex", 1, 1, 0, 0, 0, 0, NUL, 0, 0, 0, 0, "too early"},
        {"cs-health", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"cs-retail", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"pg-2024", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
    };
    static const struct want totals = {NULL, 15, 13, 1, 1, 5, 0.3846, 30, 2, 1, 3, 3, NULL};
    json_t *j;
    char *out;

    (void)state;
    j = report_json("--since", "2024-05-01", "--until", "2024-06-01", "--motion-version", "1",
                    NULL);
    CHECK(j, "asset", rows, totals);
    assert_int_equal(json_integer_value(json_object_get(j, "motion_version")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "motion"), "version")),
                     1);
    json_decref(j);

    out = report("--motion-version=1", "--since", "2024-05-01", "--until", "2024-06-01", NULL);
    assert_contains(out, "(motion version 1 only)\n");
    assert_contains(out, "Won and lost as motion version 1 (Report test motion) names them.");
    assert_contains(out, "\ncs-retail ");
    bt_free(out);
}

/* Every delivery: April's bc-acme (lost, opened after a minute) and the one
 * created at midnight on 1 June, which turns deck-intro from ignored to
 * adopted (2 of 7 opened). */
static void test_all_time(void **state)
{
    static const struct want rows[] = {
        {"bc-acme", 9, 7, 1, 1, 5, 0.7143, 10, 2, 2, 0, 2, "adopted"},
        {"deck-intro", 8, 7, 1, 0, 2, 0.2857, 61, 0, 1, 3, 1, "adopted"},
        {"bc-globex", 4, 3, 0, 0, 2, 0.6667, 30, 1, 0, 0, 1, "too early"},
        {"cs-health", 2, 1, 0, 0, 1, 1, 3, 0, 0, 0, 0, "too early"},
        {"pg-2024", 2, 0, 1, 1, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"cs-bank", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
    };
    static const struct want totals = {NULL, 25, 18, 3, 2, 10, 0.5556, 12.5, 3, 3, 3, 4, NULL};
    json_t *j;
    char *out;

    (void)state;
    j = report_json(NULL);
    CHECK(j, "asset", rows, totals);
    assert_true(json_is_null(json_object_get(j, "since")));
    assert_true(json_is_null(json_object_get(j, "until")));
    json_decref(j);
    out = report(NULL);
    assert_contains(out, "Adoption by asset: deliveries created at any time (every motion "
                         "version)\n");
    bt_free(out);
}

static void test_windows(void **state)
{
    static const struct want from_16[] = {
        {"bc-globex", 3, 2, 0, 0, 2, 1, 30, 1, 0, 0, 0, "too early"},
        {"cs-health", 2, 1, 0, 0, 1, 1, 3, 0, 0, 0, 0, "too early"},
        {"deck-intro", 2, 1, 1, 0, 1, 1, 2, 0, 0, 0, 0, "too early"},
        {"pg-2024", 2, 0, 1, 1, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"bc-acme", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"cs-bank", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
    };
    static const struct want from_16_totals = {NULL, 9, 4, 2, 1, 4, 1, 9, 1, 0, 0, 0, NULL};
    static const struct want before_may[] = {
        {"bc-acme", 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, "too early"},
        {"bc-globex", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"cs-bank", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"cs-health", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"deck-intro", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"pg-2024", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
    };
    static const struct want before_may_totals = {NULL, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, NULL};
    json_t *j, *row;

    (void)state;
    /* Open-ended on either side. */
    j = report_json("--since", "2024-05-16", NULL);
    CHECK(j, "asset", from_16, from_16_totals);
    json_decref(j);
    j = report_json("--until", "2024-05-01", NULL);
    CHECK(j, "asset", before_may, before_may_totals);
    json_decref(j);

    /* since is inclusive: bc-globex's delivery created at 00:00:00Z on
     * 1 May counts, whichever offset names that instant... */
    j = report_json("--since", "2024-05-01T02:00:00+02:00", "--until", "2024-06-01", NULL);
    CHECK(j, "asset", may_assets, may_totals);
    assert_string_equal(json_string_value(json_object_get(j, "since")), "2024-05-01T00:00:00Z");
    json_decref(j);
    /* ...and a microsecond later it does not. */
    j = report_json("--since", "2024-05-01T00:00:00.000001Z", "--until", "2024-06-01", NULL);
    row = json_array_get(json_object_get(j, "rows"), 2);
    assert_string_equal(json_string_value(json_object_get(row, "asset")), "bc-globex");
    check_int(row, "matched", 3, "bc-globex after midnight");
    check_int(json_object_get(j, "totals"), "matched", 22, "totals after midnight");
    json_decref(j);
    /* until is exclusive: deck-intro's delivery at 00:00:00Z on 1 June is
     * out of May, in with one more microsecond. */
    j = report_json("--since", "2024-05-01", "--until", "2024-06-01T00:00:00.000001Z", NULL);
    row = json_array_get(json_object_get(j, "rows"), 1);
    assert_string_equal(json_string_value(json_object_get(row, "asset")), "deck-intro");
    check_int(row, "matched", 8, "deck-intro");
    check_int(row, "opened", 2, "deck-intro");
    json_decref(j);
    /* Both filters at once: version 2 from 20 May on. */
    j = report_json("--since", "2024-05-20", "--motion-version", "2", "--by", "rep", NULL);
    check_int(json_object_get(j, "totals"), "matched", 5, "v2 from 20 May");
    check_int(json_object_get(j, "totals"), "delivered", 2, "v2 from 20 May");
    json_decref(j);
}

static void test_thresholds(void **state)
{
    static const struct want rows[] = {
        {"bc-acme", 8, 6, 1, 1, 4, 0.6667, 20, 2, 1, 0, 2, "ignored"},
        {"deck-intro", 7, 6, 1, 0, 1, 0.1667, 120, 0, 1, 3, 1, "ignored"},
        {"bc-globex", 4, 3, 0, 0, 2, 0.6667, 30, 1, 0, 0, 1, "ignored"},
        {"cs-health", 2, 1, 0, 0, 1, 1, 3, 0, 0, 0, 0, "too early"},
        {"pg-2024", 2, 0, 1, 1, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
        {"cs-bank", 0, 0, 0, 0, 0, NUL, NUL, 0, 0, 0, 0, "shelfware"},
    };
    json_t *j, *row;
    char *out;

    (void)state;
    j = report_json("--since", "2024-05-01", "--until", "2024-06-01", "--min-deliveries", "3",
                    "--ignored-below", "0.7", NULL);
    CHECK(j, "asset", rows, may_totals);
    assert_true(json_real_value(
                    json_object_get(json_object_get(j, "thresholds"), "ignored_below")) == 0.7);
    json_decref(j);
    /* An open rate exactly at the threshold is not below it: cs-health,
     * 1 of 1, at 1. */
    j = report_json("--since", "2024-05-01", "--until", "2024-06-01", "--min-deliveries", "1",
                    "--ignored-below", "1", NULL);
    row = json_array_get(json_object_get(j, "rows"), 3);
    assert_string_equal(json_string_value(json_object_get(row, "asset")), "cs-health");
    assert_string_equal(json_string_value(json_object_get(row, "verdict")), "adopted");
    row = json_array_get(json_object_get(j, "rows"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "verdict")), "ignored");
    json_decref(j);
    out = report("--since", "2024-05-01", "--until", "2024-06-01", "--min-deliveries", "3",
                 "--ignored-below", "0.7", NULL);
    assert_contains(out, "  too early  delivered fewer than 3 times ");
    assert_contains(out,
                    "  ignored    delivered 3+ times, opened by fewer than 70%   -> coach the "
                    "reps or fix the asset\n");
    bt_free(out);
}

static void test_usage(void **state)
{
    static const char *const bad[][4] = {
        {"--by", "deal", NULL},
        {"--by", "", NULL},
        {"--since", "May", NULL},
        {"--until", "2024-02-30", NULL},
        {"--since", "2024-05-01T08:00:00", NULL},
        {"--format", "xml", NULL},
        {"--motion-version", "0", NULL},
        {"--motion-version", "two", NULL},
        {"--min-deliveries", "0", NULL},
        {"--ignored-below", "1.5", NULL},
        {"--since", "2024-06-01", "--until", "2024-05-01"},
        {"--since", NULL},
        {"--colour", "red", NULL},
        {"--motion_version", "1", NULL},
        {"-x", NULL},
        {"asset", NULL},
    };
    char *out;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = baton(&out, "report", bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL);

        if (rc != 2)
            fail_msg("baton report %s %s: exit %d, not 2:\n%s", bad[i][0],
                     bad[i][1] ? bad[i][1] : "", rc, out);
        assert_contains(out, "usage: baton report");
        bt_free(out);
    }
    assert_int_equal(baton(&out, "report", "--by", "deal", NULL), 2);
    assert_contains(out, "baton report: --by: expected asset, stage, competitor, rep or play, "
                         "not \"deal\"\n");
    bt_free(out);
    assert_int_equal(baton(&out, "report", "--since", "1 May", NULL), 2);
    assert_contains(out, "baton report: --since: not a date: \"1 May\"");
    bt_free(out);
    assert_int_equal(baton(&out, "report", "--since", "2024-06-01", "--until", "2024-06-01", NULL),
                     2);
    assert_contains(out, "the window is empty");
    bt_free(out);
    /* A stray connection string is not echoed. */
    assert_int_equal(baton(&out, "report", "password=Hunter2Pw", NULL), 2);
    assert_contains(out, "give it with --db");
    if (strstr(out, "Hunter2Pw"))
        fail_msg("the password was echoed: %s", out);
    bt_free(out);

    assert_int_equal(baton(&out, "report", "--help", NULL), 0);
    assert_contains(out, "usage: baton report --db CONNINFO");
    assert_contains(out, "--ignored-below");
    bt_free(out);

    /* Failures of the database side: exit 1. */
    assert_int_equal(baton(&out, "report", "--motion-version", "99", NULL), 1);
    assert_contains(out, "baton report: there is no motion version 99");
    bt_free(out);
    assert_int_equal(
        baton(&out, "report", "--db", "host=/nonexistent dbname=x password=Hunter2Pw", NULL), 1);
    assert_contains(out, "cannot connect");
    if (strstr(out, "Hunter2Pw"))
        fail_msg("the password was echoed: %s", out);
    bt_free(out);
}

/* A migrated database where nothing was ever loaded. */
static void test_no_motion(void **state)
{
    PGconn *c = connect_db();
    char *db, *schema = bt_test_source_path("schema"), *out;

    (void)state;
    PQclear(PQexec(c, "CREATE DATABASE report_empty"));
    PQfinish(c);
    db = bt_asprintf("%s dbname=report_empty", getenv("BATON_TEST_DB"));
    assert_int_equal(baton(&out, "migrate", "--db", db, "--schema", schema, NULL), 0);
    bt_free(out);
    assert_int_equal(baton(&out, "report", "--db", db, NULL), 1);
    assert_contains(out, "no motion version is active: load one with baton load FILE");
    bt_free(out);
    /* And one nobody migrated. */
    c = connect_db();
    PQclear(PQexec(c, "CREATE DATABASE report_bare"));
    PQfinish(c);
    bt_free(db);
    db = bt_asprintf("%s dbname=report_bare", getenv("BATON_TEST_DB"));
    assert_int_equal(baton(&out, "report", "--db", db, NULL), 1);
    assert_contains(out, "run baton migrate");
    bt_free(out);
    bt_free(db);
    free(schema);
}

static PGresult *exec_query(PGconn *c, const struct bt_report_query *q)
{
    PGresult *res = PQexecParams(c, q->sql, q->n_params, NULL, q->params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s", PQresultErrorMessage(res));
    return res;
}

/* The library as the daemon drives it: statements sent with the async
 * calls of libpq (here waited for), results read, rendered. */
static void test_library(void **state)
{
    static const struct {
        const char *day;
        long long delivered, opened;
    } days[] = {
        {"2024-05-01", 1, 0}, {"2024-05-02", 1, 1}, {"2024-05-03", 1, 1}, {"2024-05-04", 1, 0},
        {"2024-05-05", 1, 1}, {"2024-05-06", 1, 0}, {"2024-05-07", 1, 1}, {"2024-05-08", 0, 0},
        {"2024-05-09", 0, 0}, {"2024-05-10", 1, 0}, {"2024-05-11", 1, 0}, {"2024-05-12", 1, 1},
        {"2024-05-13", 1, 0}, {"2024-05-14", 1, 0}, {"2024-05-15", 1, 0}, {"2024-05-16", 0, 0},
        {"2024-05-17", 1, 1}, {"2024-05-18", 1, 1}, {"2024-05-19", 0, 0}, {"2024-05-20", 1, 1},
    };
    struct bt_report_opts o;
    struct bt_report_query q;
    struct bt_report *r = NULL;
    struct bt_report_days *d = NULL;
    struct bt_report_versions *v = NULL;
    struct bt_motion *m = NULL;
    struct bt_diags diags;
    PGconn *c = connect_db();
    PGresult *res;
    long long version = 0;
    char err[256], *s;

    (void)state;
    bt_diags_init(&diags);
    bt_report_opts_init(&o);
    assert_int_equal(bt_report_opts_set(&o, "since", "2024-05-01", err, sizeof(err)), 0);
    assert_int_equal(bt_report_opts_set(&o, "until", "2024-06-01", err, sizeof(err)), 0);
    assert_int_equal(bt_report_opts_set(&o, "by", "rep", err, sizeof(err)), 0);

    /* The motion and the report in one pipeline, as one batch would send
     * them: the report's statement does not wait for the motion. */
    {
        struct bt_report_query mq;

        assert_int_equal(bt_report_motion_query(&o, &mq), 0);
        assert_int_equal(bt_report_query(&o, &q), 0);
        assert_int_equal(PQenterPipelineMode(c), 1);
        assert_int_equal(PQsendQueryParams(c, mq.sql, mq.n_params, NULL, mq.params, NULL, NULL, 0),
                         1);
        assert_int_equal(PQsendQueryParams(c, q.sql, q.n_params, NULL, q.params, NULL, NULL, 0),
                         1);
        assert_int_equal(PQpipelineSync(c), 1);
        res = PQgetResult(c);
        assert_int_equal(bt_report_motion_from_result(res, &m, &version, &diags), 0);
        PQclear(res);
        assert_null(PQgetResult(c));
        res = PQgetResult(c);
        assert_int_equal(bt_report_from_result(&o, res, m, version, &r), 0);
        PQclear(res);
        assert_null(PQgetResult(c));
        res = PQgetResult(c);
        assert_int_equal(PQresultStatus(res), PGRES_PIPELINE_SYNC);
        PQclear(res);
        assert_int_equal(PQexitPipelineMode(c), 1);
    }
    assert_int_equal(version, 2);
    assert_int_equal(r->judged_by, 2);
    assert_int_equal(r->n_rows, 4);
    assert_string_equal(r->rows[0].key, "dana");
    assert_int_equal(r->rows[0].c.won_not_opened, 2);
    assert_true(r->rows[2].c.median_minutes_to_open == 31.5);
    assert_null(r->rows[3].key);
    assert_int_equal(r->totals.matched, 23);
    assert_true(r->totals.median_minutes_to_open == 22.5);
    assert_int_equal(bt_report_render(r, BT_REPORT_CSV, &s), 0);
    assert_file(s, "rep-may.csv");
    bt_free(s);
    bt_report_free(r);

    /* Opens per day sent, days without deliveries included. */
    assert_int_equal(bt_report_days_query(&o, &q), 0);
    res = exec_query(c, &q);
    assert_int_equal(bt_report_days_from_result(&o, res, &d), 0);
    PQclear(res);
    assert_int_equal(d->n, sizeof(days) / sizeof(days[0]));
    for (size_t i = 0; i < d->n; i++) {
        assert_string_equal(d->v[i].day, days[i].day);
        if (d->v[i].delivered != days[i].delivered || d->v[i].opened != days[i].opened)
            fail_msg("%s: %lld delivered, %lld opened", d->v[i].day, d->v[i].delivered,
                     d->v[i].opened);
    }
    assert_int_equal(bt_report_days_render(d, BT_REPORT_CSV, &s), 0);
    assert_contains(s, "day,delivered,opened\r\n2024-05-01,1,0\r\n2024-05-02,1,1\r\n");
    bt_free(s);
    bt_report_days_free(d);
    /* Version 1 only, all time: the April delivery starts the series. */
    bt_report_opts_init(&o);
    assert_int_equal(bt_report_opts_set(&o, "motion_version", "1", err, sizeof(err)), 0);
    assert_int_equal(bt_report_days_query(&o, &q), 0);
    res = exec_query(c, &q);
    assert_int_equal(bt_report_days_from_result(&o, res, &d), 0);
    PQclear(res);
    assert_string_equal(d->v[0].day, "2024-04-20");
    assert_int_equal(d->v[0].opened, 1);
    assert_string_equal(d->v[d->n - 1].day, "2024-05-15");
    assert_int_equal(d->n, 26);
    bt_report_days_free(d);

    /* The versions to filter by, newest first. */
    bt_report_versions_query(&q);
    res = exec_query(c, &q);
    assert_int_equal(bt_report_versions_from_result(res, &v), 0);
    PQclear(res);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->v[0].version, 2);
    assert_string_equal(v->v[0].name, "Report test motion, second version");
    assert_true(v->v[0].active);
    assert_non_null(v->v[0].activated_at);
    assert_int_equal(strlen(v->v[0].activated_at), 20);
    assert_int_equal(v->v[1].version, 1);
    assert_false(v->v[1].active);
    bt_report_versions_free(v);

    /* A database error comes back as such. */
    res = PQexec(c, "SELECT 1 FROM no_such_table");
    assert_int_equal(bt_report_from_result(&o, res, m, 2, &r), BT_EDB);
    assert_null(r);
    PQclear(res);

    bt_motion_unref(m);
    bt_diags_free(&diags);
    PQfinish(c);
}

static int setup(void **state)
{
    char *v1 = data_path("motion-v1.yaml"), *v2 = data_path("motion-v2.yaml");
    char *seed_path = data_path("seed.sql"), *seed, *out;
    size_t len;
    PGconn *c;
    PGresult *res;

    (void)state;
    /* The command reads the database from the environment in every test. */
    setenv("BATON_DATABASE", getenv("BATON_TEST_DB"), 1);
    if (baton(&out, "load", v1, NULL) != 0 || !strstr(out, "loaded version 1 "))
        fail_msg("baton load %s: %s", v1, out);
    bt_free(out);
    if (baton(&out, "load", v2, NULL) != 0 || !strstr(out, "loaded version 2 "))
        fail_msg("baton load %s: %s", v2, out);
    bt_free(out);
    seed = bt_test_read_file(seed_path, &len);
    c = connect_db();
    res = PQexec(c, seed);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("seed.sql: %s", PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(c);
    free(seed);
    bt_free(seed_path);
    bt_free(v1);
    bt_free(v2);
    return 0;
}

/* The same report through the daemon's API, byte for byte. */
static void test_api(void **state)
{
    struct bt_testd d;
    struct bt_test_resp r;
    const char *bearer = "Authorization: Bearer report-admin-token-0123456789";
    const char *h[] = {bearer, NULL};
    char *url;

    (void)state;
    /* The daemon would push the dataset's pending deliveries (and change
     * the figures): put them off, which the report does not look at. */
    {
        PGconn *db = bt_test_db();

        bt_free(bt_test_db_value(db, "UPDATE deliveries SET next_attempt_at = now() + "
                                     "interval '1 day' WHERE status = 'pending' RETURNING 1",
                                 NULL));
        PQfinish(db);
    }
    bt_testd_start(&d, NULL, "admin_token: report-admin-token-0123456789\n");
    bt_testd_wait_ready(&d);
    url = bt_asprintf("%s/v1/reports/adoption?since=2024-05-01&until=2024-06-01", d.base);
    bt_test_http("GET", url, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    bt_test_resp_free(&r);
    bt_test_http("GET", url, h, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_contains(r.headers.data, "application/json");
    assert_file(r.body.data, "asset-may.json");
    bt_test_resp_free(&r);
    bt_free(url);
    url = bt_asprintf("%s/v1/reports/adoption?by=asset&since=2024-05-01&until=2024-06-01"
                      "&format=csv",
                      d.base);
    bt_test_http("GET", url, h, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_contains(r.headers.data, "text/csv");
    assert_file(r.body.data, "asset-may.csv");
    bt_test_resp_free(&r);
    bt_free(url);
    url = bt_asprintf("%s/v1/reports/adoption?by=rep&since=2024-05-01&until=2024-06-01"
                      "&format=csv",
                      d.base);
    bt_test_http("GET", url, h, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_file(r.body.data, "rep-may.csv");
    bt_test_resp_free(&r);
    bt_free(url);
    url = bt_asprintf("%s/v1/reports/adoption?by=planet", d.base);
    bt_test_http("GET", url, h, NULL, 0, &r);
    assert_int_equal(r.status, 400);
    assert_contains(r.body.data, "error");
    bt_test_resp_free(&r);
    bt_free(url);
    url = bt_asprintf("%s/v1/reports/opens?since=2024-05-01&until=2024-06-01", d.base);
    bt_test_http("GET", url, h, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_contains(r.body.data, "\"days\"");
    bt_test_resp_free(&r);
    bt_free(url);
    bt_testd_stop(&d);
    bt_testd_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_asset),   cmocka_unit_test(test_by_rep),
        cmocka_unit_test(test_by_stage),   cmocka_unit_test(test_by_competitor),
        cmocka_unit_test(test_by_play),    cmocka_unit_test(test_motion_version),
        cmocka_unit_test(test_all_time),   cmocka_unit_test(test_windows),
        cmocka_unit_test(test_thresholds), cmocka_unit_test(test_usage),
        cmocka_unit_test(test_library),    cmocka_unit_test(test_api),
        cmocka_unit_test(test_no_motion),
    };

    bt_mem_init();
    return cmocka_run_group_tests(tests, setup, NULL);
}
