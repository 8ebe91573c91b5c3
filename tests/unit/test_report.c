/* report without a database: options (dates above all), the statements'
 * parameters, reading a result built by hand with libpq's PGresult
 * constructors (outcomes per the motion, shelfware, order, totals), the
 * verdict thresholds at their edges, CSV quoting and the three renderings
 * to the byte. The statements themselves run against PostgreSQL in
 * tests/integration/test_report.c. */
#include "testutil.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "motion.h"
#include "report.h"

/* ---- options ---- */

static void set_ok(struct bt_report_opts *o, const char *key, const char *value)
{
    char err[256] = "";

    if (bt_report_opts_set(o, key, value, err, sizeof(err)) != 0)
        fail_msg("%s=%s refused: %s", key, value, err);
}

static int set_err(struct bt_report_opts *o, const char *key, const char *value, char *err,
                   size_t errlen)
{
    return bt_report_opts_set(o, key, value, err, errlen);
}

static void test_opts_defaults(void **state)
{
    struct bt_report_opts o;

    (void)state;
    bt_report_opts_init(&o);
    assert_int_equal(o.by, BT_REPORT_BY_ASSET);
    assert_int_equal(o.format, BT_REPORT_TABLE);
    assert_string_equal(o.since, "");
    assert_string_equal(o.until, "");
    assert_int_equal(o.motion_version, 0);
    assert_int_equal(o.min_deliveries, 5);
    assert_true(o.ignored_below == 0.2);
}

static void test_opts_by_format(void **state)
{
    static const struct {
        const char *s;
        enum bt_report_by by;
    } bys[] = {{"asset", BT_REPORT_BY_ASSET},
               {"stage", BT_REPORT_BY_STAGE},
               {"competitor", BT_REPORT_BY_COMPETITOR},
               {"rep", BT_REPORT_BY_REP},
               {"play", BT_REPORT_BY_PLAY}};
    struct bt_report_opts o;
    char err[256];

    (void)state;
    bt_report_opts_init(&o);
    for (size_t i = 0; i < sizeof(bys) / sizeof(bys[0]); i++) {
        set_ok(&o, "by", bys[i].s);
        assert_int_equal(o.by, bys[i].by);
        assert_string_equal(bt_report_by_name(bys[i].by), bys[i].s);
    }
    assert_int_equal(set_err(&o, "by", "assets", err, sizeof(err)), BT_EINVAL);
    assert_string_equal(err, "expected asset, stage, competitor, rep or play, not \"assets\"");
    assert_int_equal(set_err(&o, "by", "Asset", err, sizeof(err)), BT_EINVAL);
    assert_int_equal(set_err(&o, "by", "", err, sizeof(err)), BT_EINVAL);
    assert_int_equal(o.by, BT_REPORT_BY_PLAY); /* a refused value changes nothing */

    set_ok(&o, "format", "json");
    assert_int_equal(o.format, BT_REPORT_JSON);
    set_ok(&o, "format", "csv");
    assert_int_equal(o.format, BT_REPORT_CSV);
    set_ok(&o, "format", "table");
    assert_int_equal(o.format, BT_REPORT_TABLE);
    assert_int_equal(set_err(&o, "format", "xml", err, sizeof(err)), BT_EINVAL);
    assert_string_equal(err, "expected table, json or csv, not \"xml\"");

    assert_int_equal(set_err(&o, "colour", "red", err, sizeof(err)), BT_ENOENT);
    assert_int_equal(
        set_err(&o, "a-very-long-key-name-that-is-not-an-option-at-all", "x", err, sizeof(err)),
        BT_ENOENT);
}

static void test_opts_numbers(void **state)
{
    static const char *const bad_versions[] = {
        "0", "-1", "+1", "x", "3x", "", " 3", "99999999999999999999", "3.0"};
    static const char *const bad_mins[] = {"0", "1000001", "-5", "five", "2.5", ""};
    static const char *const bad_fractions[] = {"1.5", "-0.1",  "inf",  "nan", "0x1", "",
                                                ".",   "0.2.1", "1e-1", "0,2", "20%"};
    struct bt_report_opts o;
    char err[256];

    (void)state;
    bt_report_opts_init(&o);
    set_ok(&o, "motion_version", "3");
    assert_int_equal(o.motion_version, 3);
    set_ok(&o, "motion-version", "9223372036854775807");
    assert_true(o.motion_version == 9223372036854775807LL);
    for (size_t i = 0; i < sizeof(bad_versions) / sizeof(bad_versions[0]); i++)
        assert_int_equal(set_err(&o, "motion_version", bad_versions[i], err, sizeof(err)),
                         BT_EINVAL);
    assert_string_equal(err, "not a version number: \"3.0\"");

    set_ok(&o, "min_deliveries", "1");
    assert_int_equal(o.min_deliveries, 1);
    set_ok(&o, "min-deliveries", "1000000");
    assert_int_equal(o.min_deliveries, 1000000);
    for (size_t i = 0; i < sizeof(bad_mins) / sizeof(bad_mins[0]); i++)
        assert_int_equal(set_err(&o, "min_deliveries", bad_mins[i], err, sizeof(err)), BT_EINVAL);

    set_ok(&o, "ignored_below", "0");
    assert_true(o.ignored_below == 0);
    set_ok(&o, "ignored_below", "1");
    assert_true(o.ignored_below == 1);
    set_ok(&o, "ignored-below", "0.25");
    assert_true(o.ignored_below == 0.25);
    set_ok(&o, "ignored_below", ".5");
    assert_true(o.ignored_below == 0.5);
    set_ok(&o, "ignored_below", "1.000");
    assert_true(o.ignored_below == 1);
    for (size_t i = 0; i < sizeof(bad_fractions) / sizeof(bad_fractions[0]); i++)
        if (set_err(&o, "ignored_below", bad_fractions[i], err, sizeof(err)) != BT_EINVAL)
            fail_msg("ignored_below=%s accepted", bad_fractions[i]);
    assert_string_equal(err, "expected a number from 0 to 1, not \"20%\"");
}

static void test_opts_dates(void **state)
{
    static const struct {
        const char *in, *out;
    } good[] = {
        {"2024-05-01", "2024-05-01T00:00:00Z"},
        {"2024-02-29", "2024-02-29T00:00:00Z"},
        {"2000-02-29", "2000-02-29T00:00:00Z"},
        {"2024-05-01T08:00:00Z", "2024-05-01T08:00:00Z"},
        {"2024-05-01t08:00:00z", "2024-05-01T08:00:00Z"},
        {"2024-05-01 08:00:00Z", "2024-05-01T08:00:00Z"},
        {"2024-05-01T08:00:00+02:00", "2024-05-01T06:00:00Z"},
        {"2024-05-01T02:00:00+02:00", "2024-05-01T00:00:00Z"},
        {"2024-05-01T22:30:00-02:00", "2024-05-02T00:30:00Z"},
        {"2024-12-31T23:30:00-00:45", "2025-01-01T00:15:00Z"},
        {"2024-03-01T00:59:00+01:00", "2024-02-29T23:59:00Z"},
        {"2024-05-01T08:00:00.5Z", "2024-05-01T08:00:00.5Z"},
        {"2024-05-01T08:00:00.123456789Z", "2024-05-01T08:00:00.123456789Z"},
        {"2024-05-01T08:00:00.000Z", "2024-05-01T08:00:00Z"},
        {"2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"},
    };
    static const char *const bad[] = {
        "",
        "yesterday",
        "2024-5-1",
        "2024/05/01",
        "24-05-01",
        "2024-00-10",
        "2024-13-01",
        "2024-02-30",
        "2023-02-29",
        "1900-02-29",
        "2024-04-31",
        "2024-05-00",
        "0000-01-01",
        "2024-05-01T08:00:00",
        "2024-05-01T08:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T08:60:00Z",
        "2024-05-01T08:00:61Z",
        "2024-05-01T08:00:00+2:00",
        "2024-05-01T08:00:00+0200",
        "2024-05-01T08:00:00+24:00",
        "2024-05-01T08:00:00.Z",
        "2024-05-01T08:00:00.1234567891Z",
        "2024-05-01T08:00:00Z ",
        "2024-05-01x",
        "2024-05-01T",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
        "2024-05-01'; DROP TABLE deliveries; --",
    };
    struct bt_report_opts o;
    char err[256];

    (void)state;
    bt_report_opts_init(&o);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        set_ok(&o, "since", good[i].in);
        assert_string_equal(o.since, good[i].out);
        set_ok(&o, "until", good[i].in);
        assert_string_equal(o.until, good[i].out);
    }
    set_ok(&o, "since", "2024-05-01");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (set_err(&o, "since", bad[i], err, sizeof(err)) != BT_EINVAL)
            fail_msg("since=\"%s\" accepted as %s", bad[i], o.since);
    assert_string_equal(o.since, "2024-05-01T00:00:00Z"); /* unchanged by refusals */
    assert_int_equal(set_err(&o, "until", "May", err, sizeof(err)), BT_EINVAL);
    assert_string_equal(err, "not a date: \"May\" (expected YYYY-MM-DD or RFC 3339, "
                             "e.g. 2024-05-01T08:00:00Z)");
}

static void test_opts_window(void **state)
{
    struct bt_report_opts o;
    char err[256] = "";

    (void)state;
    bt_report_opts_init(&o);
    assert_int_equal(bt_report_opts_check(&o, err, sizeof(err)), 0);
    set_ok(&o, "since", "2024-05-01");
    assert_int_equal(bt_report_opts_check(&o, err, sizeof(err)), 0);
    set_ok(&o, "until", "2024-05-01T02:00:00+02:00"); /* the same instant */
    assert_int_equal(bt_report_opts_check(&o, err, sizeof(err)), BT_EINVAL);
    assert_string_equal(err, "the window is empty: since (2024-05-01T00:00:00Z) must be before "
                             "until (2024-05-01T00:00:00Z)");
    set_ok(&o, "until", "2024-04-30");
    assert_int_equal(bt_report_opts_check(&o, err, sizeof(err)), BT_EINVAL);
    /* A fraction of a second is enough; the text alone would order
     * "00.5Z" before "00Z". */
    set_ok(&o, "until", "2024-05-01T00:00:00.5Z");
    assert_int_equal(bt_report_opts_check(&o, err, sizeof(err)), 0);
    set_ok(&o, "since", "2024-05-01T00:00:00.5Z");
    assert_int_equal(bt_report_opts_check(&o, err, sizeof(err)), BT_EINVAL);
    set_ok(&o, "since", "2024-05-01T00:00:00.25Z");
    assert_int_equal(bt_report_opts_check(&o, err, sizeof(err)), 0);
}

/* ---- statements ---- */

static void test_queries(void **state)
{
    static const char *const keys[] = {"d.asset_id AS key", "d.stage AS key",
                                       "d.competitor AS key", "d.rep_id AS key",
                                       "d.play_id AS key"};
    struct bt_report_opts o;
    struct bt_report_query q;

    (void)state;
    bt_report_opts_init(&o);
    for (int by = BT_REPORT_BY_ASSET; by <= BT_REPORT_BY_PLAY; by++) {
        o.by = (enum bt_report_by)by;
        assert_int_equal(bt_report_query(&o, &q), 0);
        assert_non_null(strstr(q.sql, keys[by]));
        assert_int_equal(q.n_params, 3);
        assert_null(q.params[0]);
        assert_null(q.params[1]);
        assert_null(q.params[2]);
    }
    o.by = (enum bt_report_by)17;
    assert_int_equal(bt_report_query(&o, &q), BT_EINVAL);

    o.by = BT_REPORT_BY_REP;
    set_ok(&o, "since", "2024-05-01T08:00:00+02:00");
    set_ok(&o, "until", "2024-06-01");
    set_ok(&o, "motion_version", "2");
    assert_int_equal(bt_report_query(&o, &q), 0);
    assert_string_equal(q.params[0], "2024-05-01T06:00:00Z");
    assert_string_equal(q.params[1], "2024-06-01T00:00:00Z");
    assert_string_equal(q.params[2], "2");
    /* Outside text is only ever a parameter. */
    assert_null(strstr(q.sql, "2024"));

    assert_int_equal(bt_report_days_query(&o, &q), 0);
    assert_int_equal(q.n_params, 3);
    assert_string_equal(q.params[0], "2024-05-01T06:00:00Z");
    assert_string_equal(q.params[2], "2");

    assert_int_equal(bt_report_motion_query(&o, &q), 0);
    assert_int_equal(q.n_params, 1);
    assert_string_equal(q.params[0], "2");
    assert_non_null(strstr(q.sql, "$1"));
    o.motion_version = 0;
    assert_int_equal(bt_report_motion_query(&o, &q), 0);
    assert_int_equal(q.n_params, 0);
    assert_non_null(strstr(q.sql, "motion_active"));

    bt_report_versions_query(&q);
    assert_int_equal(q.n_params, 0);
    assert_non_null(strstr(q.sql, "motion_versions"));
}

/* ---- reading results ---- */

static const char *const report_cols[] = {"level",      "key",       "deal_stage",
                                          "matched",    "delivered", "failed",
                                          "unroutable", "opened",    "median_minutes"};
#define N_REPORT_COLS 9

/* A result as PostgreSQL would send it: COLS names, CELLS row by row (NULL
 * for SQL NULL). */
static PGresult *make_result(const char *const *cols, int ncols, const char *const *cells,
                             int nrows)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[16];

    assert_true(ncols <= 16);
    memset(attrs, 0, sizeof(attrs));
    for (int i = 0; i < ncols; i++) {
        attrs[i].name = (char *)cols[i];
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }
    assert_int_equal(PQsetResultAttrs(res, ncols, attrs), 1);
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++) {
            const char *v = cells[r * ncols + c];

            assert_int_equal(PQsetvalue(res, r, c, (char *)v, v ? (int)strlen(v) : -1), 1);
        }
    return res;
}

static struct bt_motion *unit_motion(void)
{
    static const char yaml[] =
        "format: 1\n"
        "name: Unit report motion\n"
        "stages:\n"
        "  - {id: demo}\n"
        "  - {id: won, outcome: won}\n"
        "  - {id: lost, outcome: lost}\n"
        "  - {id: gone, outcome: lost}\n"
        "assets:\n"
        "  - {id: a-used, kind: deck, title: Used, url: https://x/used}\n"
        "  - {id: a-never, kind: deck, title: Never, url: https://x/never}\n"
        "  - {id: a-rare, kind: deck, title: Rare, url: https://x/rare}\n"
        "plays:\n"
        "  - {id: p, when: {stage: demo}, send: [a-used, a-never, a-rare]}\n";
    struct bt_motion *m = NULL;
    struct bt_diags d;

    bt_diags_init(&d);
    if (bt_motion_parse("unit.yaml", yaml, sizeof(yaml) - 1, &m, &d) < 0) {
        bt_diags_print(&d, stderr);
        fail_msg("the unit motion does not validate");
    }
    bt_diags_free(&d);
    return m;
}

/* Three groups: a-used (won, lost, "gone" = lost, an open stage, a stage
 * the motion does not know), a-rare (failed and unroutable only), and one
 * asset the motion no longer has, plus the totals. In an order PostgreSQL
 * might use: stage cells before their groups. */
/* clang-format off */
static const char *const report_cells[] = {
    "0", "a-used", "won",     "3",  "3", "0", "0", "2", NULL,
    "0", "a-used", "lost",    "2",  "2", "0", "0", "1", NULL,
    "0", "a-used", "gone",    "1",  "1", "0", "0", "0", NULL,
    "0", "a-used", "demo",    "1",  "1", "0", "0", "1", NULL,
    "0", "a-used", "unknown", "1",  "1", "0", "0", "0", NULL,
    "0", "a-used", NULL,      "2",  "0", "1", "1", "0", NULL,
    "1", "a-used", NULL,      "10", "8", "1", "1", "4", "17.283333333333335",
    "0", "a-rare", NULL,      "2",  "0", "1", "1", "0", NULL,
    "1", "a-rare", NULL,      "2",  "0", "1", "1", "0", NULL,
    "0", "b-old",  "won",     "1",  "1", "0", "0", "0", NULL,
    "1", "b-old",  NULL,      "1",  "1", "0", "0", "0", NULL,
    "3", NULL,     NULL,      "13", "9", "2", "2", "4", "22.5",
};
/* clang-format on */
#define N_REPORT_ROWS 12

static struct bt_report *read_report(const struct bt_report_opts *o, const struct bt_motion *m)
{
    PGresult *res = make_result(report_cols, N_REPORT_COLS, report_cells, N_REPORT_ROWS);
    struct bt_report *r = NULL;

    assert_int_equal(bt_report_from_result(o, res, m, 7, &r), 0);
    PQclear(res);
    return r;
}

static void test_from_result(void **state)
{
    struct bt_motion *m = unit_motion();
    struct bt_report_opts o;
    struct bt_report *r;
    const struct bt_report_counts *c;

    (void)state;
    bt_report_opts_init(&o);
    r = read_report(&o, m);
    assert_int_equal(r->judged_by, 7);
    assert_string_equal(r->motion_name, "Unit report motion");
    /* matched descending, then key; a-never added as shelfware. */
    assert_int_equal(r->n_rows, 4);
    assert_string_equal(r->rows[0].key, "a-used");
    assert_string_equal(r->rows[1].key, "a-rare");
    assert_string_equal(r->rows[2].key, "b-old");
    assert_string_equal(r->rows[3].key, "a-never");

    c = &r->rows[0].c;
    assert_int_equal(c->matched, 10);
    assert_int_equal(c->delivered, 8);
    assert_int_equal(c->failed, 1);
    assert_int_equal(c->unroutable, 1);
    assert_int_equal(c->opened, 4);
    assert_true(c->has_median);
    assert_true(c->median_minutes_to_open == 17.283333333333335);
    /* won: 2 of 3 opened; lost and gone: 1 of 3; demo and unknown: none. */
    assert_int_equal(c->won_opened, 2);
    assert_int_equal(c->won_not_opened, 1);
    assert_int_equal(c->lost_opened, 1);
    assert_int_equal(c->lost_not_opened, 2);
    assert_int_equal(r->rows[0].verdict, BT_VERDICT_ADOPTED);

    c = &r->rows[1].c;
    assert_int_equal(c->matched, 2);
    assert_int_equal(c->delivered, 0);
    assert_false(c->has_median);
    assert_int_equal(r->rows[1].verdict, BT_VERDICT_SHELFWARE);
    /* Not in the motion, yet delivered: judged all the same. */
    assert_int_equal(r->rows[2].c.won_not_opened, 1);
    assert_int_equal(r->rows[2].verdict, BT_VERDICT_TOO_EARLY);
    c = &r->rows[3].c;
    assert_int_equal(c->matched + c->delivered + c->opened + c->won_opened, 0);
    assert_int_equal(r->rows[3].verdict, BT_VERDICT_SHELFWARE);

    assert_int_equal(r->totals.matched, 13);
    assert_int_equal(r->totals.delivered, 9);
    assert_int_equal(r->totals.opened, 4);
    assert_true(r->totals.median_minutes_to_open == 22.5);
    assert_int_equal(r->totals.won_opened, 2);
    assert_int_equal(r->totals.won_not_opened, 2);
    assert_int_equal(r->totals.lost_opened, 1);
    assert_int_equal(r->totals.lost_not_opened, 2);
    bt_report_free(r);

    /* Other groupings: no shelfware rows, no verdicts. */
    o.by = BT_REPORT_BY_REP;
    r = read_report(&o, m);
    assert_int_equal(r->n_rows, 3);
    for (size_t i = 0; i < r->n_rows; i++)
        assert_int_equal(r->rows[i].verdict, BT_VERDICT_NONE);
    bt_report_free(r);

    /* Without a motion: nothing won or lost, nothing added. */
    o.by = BT_REPORT_BY_ASSET;
    r = read_report(&o, NULL);
    assert_int_equal(r->n_rows, 3);
    assert_int_equal(r->judged_by, 0);
    assert_null(r->motion_name);
    assert_int_equal(r->rows[0].c.won_opened + r->rows[0].c.lost_not_opened, 0);
    assert_int_equal(r->totals.won_not_opened, 0);
    bt_report_free(r);
    bt_motion_unref(m);
}

static void test_from_result_null_keys(void **state)
{
    /* clang-format off */
    static const char *const cells[] = {
        "1", NULL,     NULL, "2", "0", "0", "2", "0", NULL,
        "1", "globex", NULL, "2", "1", "0", "0", "1", "3",
        "1", "acme",   NULL, "2", "2", "0", "0", "1", "4",
        "1", "zeta",   NULL, "5", "5", "0", "0", "0", NULL,
        "3", NULL,     NULL, "11", "8", "0", "2", "2", "3.5",
    };
    /* clang-format on */
    PGresult *res = make_result(report_cols, N_REPORT_COLS, cells, 5);
    struct bt_report_opts o;
    struct bt_report *r = NULL;

    (void)state;
    bt_report_opts_init(&o);
    o.by = BT_REPORT_BY_COMPETITOR;
    assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), 0);
    assert_int_equal(r->n_rows, 4);
    assert_string_equal(r->rows[0].key, "zeta");
    assert_string_equal(r->rows[1].key, "acme");
    assert_string_equal(r->rows[2].key, "globex");
    assert_null(r->rows[3].key); /* ties on matched: "none" last */
    assert_int_equal(r->rows[3].c.unroutable, 2);
    bt_report_free(r);
    PQclear(res);
}

static void test_from_result_errors(void **state)
{
    static const char *const bad_number[] = {"1", "a", NULL, "x", "1", "0", "0", "0", NULL};
    static const char *const bad_median[] = {"1", "a", NULL, "1", "1", "0", "0", "1", "soon"};
    static const char *const bad_level[] = {"2", "a", NULL, "1", "1", "0", "0", "1", NULL};
    static const char *const orphan[] = {"0", "a", "won", "1", "1", "0", "0", "1", NULL};
    static const char *const cols8[] = {"level",     "key",    "deal_stage", "matched",
                                        "delivered", "failed", "unroutable", "opened"};
    struct bt_report_opts o;
    struct bt_report *r = (struct bt_report *)&o;
    PGresult *res;

    (void)state;
    bt_report_opts_init(&o);
    res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), BT_EDB);
    assert_null(r);
    PQclear(res);
    assert_int_equal(bt_report_from_result(&o, NULL, NULL, 0, &r), BT_EDB);

    res = make_result(cols8, 8, NULL, 0);
    assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), BT_EINVAL);
    PQclear(res);
    res = make_result(report_cols, N_REPORT_COLS, bad_number, 1);
    assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), BT_EINVAL);
    PQclear(res);
    res = make_result(report_cols, N_REPORT_COLS, bad_median, 1);
    assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), BT_EINVAL);
    PQclear(res);
    res = make_result(report_cols, N_REPORT_COLS, bad_level, 1);
    assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), BT_EINVAL);
    PQclear(res);
    res = make_result(report_cols, N_REPORT_COLS, orphan, 1);
    assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), BT_EINVAL);
    assert_null(r);
    PQclear(res);

    /* No rows at all: an empty report. */
    res = make_result(report_cols, N_REPORT_COLS, NULL, 0);
    assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), 0);
    assert_int_equal(r->n_rows, 0);
    assert_int_equal(r->totals.matched, 0);
    bt_report_free(r);
    PQclear(res);
    bt_report_free(NULL);
}

static void test_motion_from_result(void **state)
{
    static const char *const cols[] = {"version", "document"};
    static const char *const good[] = {"4", "format: 1\nname: M\nstages:\n  - {id: o}\n"
                                            "  - {id: w, outcome: won}\n"
                                            "  - {id: l, outcome: lost}\n"};
    static const char *const invalid[] = {"5", "format: 1\nname: M\nstages:\n  - {id: o}\n"};
    struct bt_motion *m = NULL;
    struct bt_diags d;
    long long v = 0;
    PGresult *res;

    (void)state;
    bt_diags_init(&d);
    res = make_result(cols, 2, good, 1);
    assert_int_equal(bt_report_motion_from_result(res, &m, &v, &d), 0);
    assert_int_equal(v, 4);
    assert_string_equal(bt_motion_name(m), "M");
    bt_motion_unref(m);
    PQclear(res);

    res = make_result(cols, 2, NULL, 0);
    assert_int_equal(bt_report_motion_from_result(res, &m, &v, &d), BT_ENOENT);
    assert_null(m);
    PQclear(res);

    res = make_result(cols, 2, invalid, 1);
    assert_int_equal(bt_report_motion_from_result(res, &m, &v, &d), BT_EINVAL);
    assert_null(m);
    assert_true(d.n > 0);
    assert_string_equal(d.v[0].file, "version 5");
    PQclear(res);

    res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    assert_int_equal(bt_report_motion_from_result(res, &m, &v, &d), BT_EDB);
    PQclear(res);
    bt_diags_free(&d);
}

/* ---- judging ---- */

static enum bt_verdict verdict(long long delivered, long long opened, unsigned min, double below)
{
    struct bt_report_counts c = {
        .matched = delivered + 3, .delivered = delivered, .opened = opened};

    return bt_report_verdict(&c, min, below);
}

static void test_verdicts(void **state)
{
    struct bt_report_counts c = {0};
    double rate = -1;

    (void)state;
    assert_int_equal(verdict(0, 0, 5, 0.2), BT_VERDICT_SHELFWARE);
    assert_int_equal(verdict(0, 0, 1, 0), BT_VERDICT_SHELFWARE);
    assert_int_equal(verdict(1, 1, 5, 0.2), BT_VERDICT_TOO_EARLY);
    assert_int_equal(verdict(4, 0, 5, 0.2), BT_VERDICT_TOO_EARLY);
    assert_int_equal(verdict(4, 4, 5, 0.2), BT_VERDICT_TOO_EARLY);
    assert_int_equal(verdict(5, 0, 5, 0.2), BT_VERDICT_IGNORED);
    /* Exactly at the threshold is not below it: 1 of 5, 20 of 100, 3 of 10
     * at 0.3 (where 3.0 / 10 < 0.3 would round the wrong way). */
    assert_int_equal(verdict(5, 1, 5, 0.2), BT_VERDICT_ADOPTED);
    assert_int_equal(verdict(100, 20, 5, 0.2), BT_VERDICT_ADOPTED);
    assert_int_equal(verdict(100, 19, 5, 0.2), BT_VERDICT_IGNORED);
    assert_int_equal(verdict(10, 3, 5, 0.3), BT_VERDICT_ADOPTED);
    assert_int_equal(verdict(5, 1, 5, 0.21), BT_VERDICT_IGNORED);
    assert_int_equal(verdict(6, 1, 5, 0.2), BT_VERDICT_IGNORED);
    assert_int_equal(verdict(1, 0, 1, 0.2), BT_VERDICT_IGNORED);
    assert_int_equal(verdict(7, 0, 5, 0), BT_VERDICT_ADOPTED); /* 0: never ignored */
    assert_int_equal(verdict(7, 6, 5, 1), BT_VERDICT_IGNORED);
    assert_int_equal(verdict(7, 7, 5, 1), BT_VERDICT_ADOPTED);

    assert_false(bt_report_open_rate(&c, &rate));
    assert_true(rate == -1);
    c.delivered = 6;
    c.opened = 4;
    assert_true(bt_report_open_rate(&c, &rate));
    assert_true(rate == 4.0 / 6.0);

    assert_string_equal(bt_report_verdict_name(BT_VERDICT_SHELFWARE), "shelfware");
    assert_string_equal(bt_report_verdict_name(BT_VERDICT_TOO_EARLY), "too early");
    assert_string_equal(bt_report_verdict_name(BT_VERDICT_IGNORED), "ignored");
    assert_string_equal(bt_report_verdict_name(BT_VERDICT_ADOPTED), "adopted");
    assert_string_equal(bt_report_verdict_name(BT_VERDICT_NONE), "");
    assert_string_equal(bt_report_verdict_action(BT_VERDICT_SHELFWARE),
                        "fix the motion or the CRM data");
    assert_string_equal(bt_report_verdict_action(BT_VERDICT_IGNORED),
                        "coach the reps or fix the asset");
    assert_string_equal(bt_report_verdict_name((enum bt_verdict)42), "");
}

/* ---- rendering ---- */

static void test_csv_field(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"bc-acme", "bc-acme"},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},
        {"two\nlines", "\"two\nlines\""},
        {"cr\rhere", "\"cr\rhere\""},
        {" padded", "\" padded\""},
        {"padded ", "\"padded \""},
        {"in side", "in side"},
        {"semi;colon", "semi;colon"},
        {"", ""},
    };
    struct bt_buf b;

    (void)state;
    bt_buf_init(&b, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_buf_reset(&b);
        assert_int_equal(bt_report_csv_field(&b, cases[i].in), 0);
        assert_string_equal(b.data ? b.data : "", cases[i].out);
    }
    bt_buf_reset(&b);
    assert_int_equal(bt_report_csv_field(&b, NULL), 0);
    assert_int_equal(b.len, 0);
    bt_buf_free(&b);

    bt_buf_init(&b, 4); /* the cap holds */
    assert_int_equal(bt_report_csv_field(&b, "a,bcdef"), BT_ETOOBIG);
    bt_buf_free(&b);
}

/* Like assert_string_equal, but shows both texts whole: a table is wider
 * than cmocka's message. */
static void assert_text(const char *actual, const char *expected)
{
    if (strcmp(actual, expected) != 0) {
        fprintf(stderr, "--- expected:\n%s--- actual:\n%s---\n", expected, actual);
        fail_msg("the texts differ");
    }
}

static char *render(const struct bt_report *r, enum bt_report_format f)
{
    char *s = NULL;

    assert_int_equal(bt_report_render(r, f, &s), 0);
    assert_non_null(s);
    return s;
}

static void test_render_csv(void **state)
{
    struct bt_motion *m = unit_motion();
    struct bt_report_opts o;
    struct bt_report *r;
    char *s;

    (void)state;
    bt_report_opts_init(&o);
    r = read_report(&o, m);
    s = render(r, BT_REPORT_CSV);
    assert_string_equal(
        s, "asset,matched,delivered,failed,unroutable,opened,open_rate,median_minutes_to_open,"
           "won_opened,lost_opened,won_not_opened,lost_not_opened,verdict,action\r\n"
           "a-used,10,8,1,1,4,0.5,17.28,2,1,1,2,adopted,keep it\r\n"
           "a-rare,2,0,1,1,0,,,0,0,0,0,shelfware,fix the motion or the CRM data\r\n"
           "b-old,1,1,0,0,0,0,,0,0,1,0,too early,wait for more deliveries before judging\r\n"
           "a-never,0,0,0,0,0,,,0,0,0,0,shelfware,fix the motion or the CRM data\r\n");
    bt_free(s);
    bt_report_free(r);

    /* By another grouping: no verdict columns; a key that needs quoting
     * and a missing one. */
    {
        /* clang-format off */
        static const char *const cells[] = {
            "1", "Acme, \"the\" one", NULL, "3", "3", "0", "0", "2", "2.125",
            "1", NULL,                NULL, "1", "0", "0", "1", "0", NULL,
            "3", NULL,                NULL, "4", "3", "0", "1", "2", "2.125",
        };
        /* clang-format on */
        PGresult *res = make_result(report_cols, N_REPORT_COLS, cells, 3);

        o.by = BT_REPORT_BY_COMPETITOR;
        assert_int_equal(bt_report_from_result(&o, res, m, 7, &r), 0);
        PQclear(res);
        s = render(r, BT_REPORT_CSV);
        assert_string_equal(
            s, "competitor,matched,delivered,failed,unroutable,opened,open_rate,"
               "median_minutes_to_open,won_opened,lost_opened,won_not_opened,lost_not_opened\r\n"
               "\"Acme, \"\"the\"\" one\",3,3,0,0,2,0.6667,2.13,0,0,0,0\r\n"
               ",1,0,0,1,0,,,0,0,0,0\r\n");
        bt_free(s);
        bt_report_free(r);
    }
    bt_motion_unref(m);
}

static void test_render_json(void **state)
{
    static const char *const keys[] = {
        "asset",      "matched",     "delivered",      "failed",
        "unroutable", "opened",      "open_rate",      "median_minutes_to_open",
        "won_opened", "lost_opened", "won_not_opened", "lost_not_opened",
        "verdict",    "action"};
    struct bt_motion *m = unit_motion();
    struct bt_report_opts o;
    struct bt_report *r;
    json_error_t err;
    json_t *j, *row, *totals;
    const char *k;
    json_t *v;
    size_t i = 0;
    char *s;

    (void)state;
    bt_report_opts_init(&o);
    set_ok(&o, "since", "2024-05-01");
    r = read_report(&o, m);
    s = render(r, BT_REPORT_JSON);
    /* Rounded as written, never 0.66669999999999996. */
    assert_non_null(strstr(s, "\"median_minutes_to_open\": 17.28,"));
    assert_non_null(strstr(s, "\"open_rate\": 0.5,"));
    j = json_loads(s, 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, s);
    assert_string_equal(json_string_value(json_object_get(j, "by")), "asset");
    assert_string_equal(json_string_value(json_object_get(j, "since")), "2024-05-01T00:00:00Z");
    assert_true(json_is_null(json_object_get(j, "until")));
    assert_true(json_is_null(json_object_get(j, "motion_version")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "motion"), "version")),
                     7);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "thresholds"), "min_deliveries")),
        5);
    assert_int_equal(json_array_size(json_object_get(j, "rows")), 4);
    row = json_array_get(json_object_get(j, "rows"), 0);
    /* The columns, in order. */
    json_object_foreach(row, k, v)
    {
        assert_true(i < sizeof(keys) / sizeof(keys[0]));
        assert_string_equal(k, keys[i++]);
    }
    assert_int_equal(i, sizeof(keys) / sizeof(keys[0]));
    assert_string_equal(json_string_value(json_object_get(row, "asset")), "a-used");
    assert_true(json_real_value(json_object_get(row, "open_rate")) == 0.5);
    assert_string_equal(json_string_value(json_object_get(row, "verdict")), "adopted");
    row = json_array_get(json_object_get(j, "rows"), 1);
    assert_true(json_is_null(json_object_get(row, "open_rate")));
    assert_true(json_is_null(json_object_get(row, "median_minutes_to_open")));
    assert_string_equal(json_string_value(json_object_get(row, "action")),
                        "fix the motion or the CRM data");
    totals = json_object_get(j, "totals");
    assert_int_equal(json_integer_value(json_object_get(totals, "matched")), 13);
    assert_true(json_real_value(json_object_get(totals, "open_rate")) == 0.4444);
    assert_true(json_real_value(json_object_get(totals, "median_minutes_to_open")) == 22.5);
    assert_null(json_object_get(totals, "verdict"));
    json_decref(j);
    bt_free(s);
    bt_report_free(r);

    /* Other groupings name their key column and have no verdicts. */
    o.by = BT_REPORT_BY_PLAY;
    r = read_report(&o, NULL);
    s = render(r, BT_REPORT_JSON);
    j = json_loads(s, 0, &err);
    assert_non_null(j);
    row = json_array_get(json_object_get(j, "rows"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "play")), "a-used");
    assert_null(json_object_get(row, "verdict"));
    assert_null(json_object_get(j, "thresholds"));
    assert_true(json_is_null(json_object_get(j, "motion")));
    json_decref(j);
    bt_free(s);
    bt_report_free(r);
    bt_motion_unref(m);
}

static void test_render_table(void **state)
{
    struct bt_motion *m = unit_motion();
    struct bt_report_opts o;
    struct bt_report *r;
    char *s;

    (void)state;
    bt_report_opts_init(&o);
    set_ok(&o, "since", "2024-05-01");
    set_ok(&o, "until", "2024-06-01");
    set_ok(&o, "min_deliveries", "3");
    set_ok(&o, "ignored_below", "0.125");
    r = read_report(&o, m);
    s = render(r, BT_REPORT_TABLE);
    assert_text(
        s, "Adoption by asset: deliveries created from 2024-05-01T00:00:00Z until "
           "2024-06-01T00:00:00Z (every motion version)\n"
           "Won and lost as motion version 7 (Unit report motion) names them.\n"
           "\n"
           "asset    matched  delivered  failed  unroutable  opened  open_rate  "
           "median_minutes_to_open  won_opened  lost_opened  won_not_opened  lost_not_opened  "
           "verdict\n"
           "-------  -------  ---------  ------  ----------  ------  ---------  "
           "----------------------  ----------  -----------  --------------  ---------------  "
           "---------\n"
           "a-used        10          8       1           1       4        50%  "
           "                  17.3           2            1               1                2  "
           "adopted\n"
           "a-rare         2          0       1           1       0          -  "
           "                     -           0            0               0                0  "
           "shelfware\n"
           "b-old          1          1       0           0       0         0%  "
           "                     -           0            0               1                0  "
           "too early\n"
           "a-never        0          0       0           0       0          -  "
           "                     -           0            0               0                0  "
           "shelfware\n"
           "-------  -------  ---------  ------  ----------  ------  ---------  "
           "----------------------  ----------  -----------  --------------  ---------------  "
           "---------\n"
           "total         13          9       2           2       4      44.4%  "
           "                  22.5           2            1               2                2\n"
           "\n"
           "verdicts:\n"
           "  shelfware  in the motion, never delivered in this window   -> fix the motion or the "
           "CRM data\n"
           "  too early  delivered fewer than 3 times                    -> wait for more "
           "deliveries before judging\n"
           "  ignored    delivered 3+ times, opened by fewer than 12.5%  -> coach the reps or fix "
           "the asset\n"
           "  adopted    delivered 3+ times, opened by 12.5% or more     -> keep it\n");
    bt_free(s);
    bt_report_free(r);

    /* Nothing to show, by rep, without a motion. */
    {
        PGresult *res = make_result(report_cols, N_REPORT_COLS, NULL, 0);

        bt_report_opts_init(&o);
        o.by = BT_REPORT_BY_REP;
        set_ok(&o, "motion_version", "3");
        assert_int_equal(bt_report_from_result(&o, res, NULL, 0, &r), 0);
        PQclear(res);
        s = render(r, BT_REPORT_TABLE);
        assert_text(s, "Adoption by rep: deliveries created at any time (motion version 3 only)\n"
                       "No motion version to judge by: no deal counts as won or lost.\n"
                       "\n"
                       "No deliveries were created in this window.\n");
        bt_free(s);
        assert_int_equal(bt_report_render(r, (enum bt_report_format)9, &s), BT_EINVAL);
        assert_null(s);
        bt_report_free(r);
    }
    bt_motion_unref(m);
}

static void test_days(void **state)
{
    static const char *const cols[] = {"day", "delivered", "opened"};
    static const char *const cells[] = {"2024-05-01", "2",          "1", "2024-05-02", "0",
                                        "0",          "2024-05-03", "5", "4"};
    static const char *const bad[] = {"May 1", "2", "1"};
    struct bt_report_opts o;
    struct bt_report_days *d = NULL;
    PGresult *res = make_result(cols, 3, cells, 3);
    char *s;

    (void)state;
    bt_report_opts_init(&o);
    set_ok(&o, "motion_version", "2");
    assert_int_equal(bt_report_days_from_result(&o, res, &d), 0);
    PQclear(res);
    assert_int_equal(d->n, 3);
    assert_string_equal(d->v[2].day, "2024-05-03");
    assert_int_equal(d->v[2].delivered, 5);
    assert_int_equal(d->v[2].opened, 4);
    assert_int_equal(bt_report_days_render(d, BT_REPORT_CSV, &s), 0);
    assert_string_equal(s, "day,delivered,opened\r\n2024-05-01,2,1\r\n2024-05-02,0,0\r\n"
                           "2024-05-03,5,4\r\n");
    bt_free(s);
    assert_int_equal(bt_report_days_render(d, BT_REPORT_TABLE, &s), 0);
    assert_string_equal(s, "day         delivered  opened\n"
                           "2024-05-01          2       1\n"
                           "2024-05-02          0       0\n"
                           "2024-05-03          5       4\n");
    bt_free(s);
    assert_int_equal(bt_report_days_render(d, BT_REPORT_JSON, &s), 0);
    assert_string_equal(s, "{\n"
                           "  \"since\": null,\n"
                           "  \"until\": null,\n"
                           "  \"motion_version\": 2,\n"
                           "  \"days\": [\n"
                           "    {\n"
                           "      \"day\": \"2024-05-01\",\n"
                           "      \"delivered\": 2,\n"
                           "      \"opened\": 1\n"
                           "    },\n"
                           "    {\n"
                           "      \"day\": \"2024-05-02\",\n"
                           "      \"delivered\": 0,\n"
                           "      \"opened\": 0\n"
                           "    },\n"
                           "    {\n"
                           "      \"day\": \"2024-05-03\",\n"
                           "      \"delivered\": 5,\n"
                           "      \"opened\": 4\n"
                           "    }\n"
                           "  ]\n"
                           "}\n");
    bt_free(s);
    bt_report_days_free(d);

    res = make_result(cols, 3, bad, 1);
    assert_int_equal(bt_report_days_from_result(&o, res, &d), BT_EINVAL);
    assert_null(d);
    PQclear(res);
    bt_report_days_free(NULL);
}

static void test_versions(void **state)
{
    static const char *const cols[] = {"version", "name", "activated_at", "active"};
    static const char *const cells[] = {
        "3",  "Q3, \"new\"",          NULL, "f", "2", "Q2", "2024-05-29T15:11:55Z", "t", "1",
        "Q1", "2024-01-02T03:04:05Z", "f"};
    struct bt_report_versions *v = NULL;
    PGresult *res = make_result(cols, 4, cells, 3);
    char *s;

    (void)state;
    assert_int_equal(bt_report_versions_from_result(res, &v), 0);
    PQclear(res);
    assert_int_equal(v->n, 3);
    assert_int_equal(v->v[0].version, 3);
    assert_null(v->v[0].activated_at);
    assert_false(v->v[0].active);
    assert_true(v->v[1].active);
    assert_int_equal(bt_report_versions_render(v, BT_REPORT_CSV, &s), 0);
    assert_string_equal(s, "version,name,activated_at,active\r\n"
                           "3,\"Q3, \"\"new\"\"\",,false\r\n"
                           "2,Q2,2024-05-29T15:11:55Z,true\r\n"
                           "1,Q1,2024-01-02T03:04:05Z,false\r\n");
    bt_free(s);
    assert_int_equal(bt_report_versions_render(v, BT_REPORT_JSON, &s), 0);
    assert_non_null(strstr(s, "\"activated_at\": null"));
    assert_non_null(strstr(s, "\"active\": true"));
    bt_free(s);
    assert_int_equal(bt_report_versions_render(v, BT_REPORT_TABLE, &s), 0);
    assert_string_equal(s, "       3  never activated       Q3, \"new\"\n"
                           "*      2  2024-05-29T15:11:55Z  Q2\n"
                           "       1  2024-01-02T03:04:05Z  Q1\n");
    bt_free(s);
    bt_report_versions_free(v);
    bt_report_versions_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_defaults),      cmocka_unit_test(test_opts_by_format),
        cmocka_unit_test(test_opts_numbers),       cmocka_unit_test(test_opts_dates),
        cmocka_unit_test(test_opts_window),        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_from_result),        cmocka_unit_test(test_from_result_null_keys),
        cmocka_unit_test(test_from_result_errors), cmocka_unit_test(test_motion_from_result),
        cmocka_unit_test(test_verdicts),           cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_render_csv),         cmocka_unit_test(test_render_json),
        cmocka_unit_test(test_render_table),       cmocka_unit_test(test_days),
        cmocka_unit_test(test_versions),
    };

    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
