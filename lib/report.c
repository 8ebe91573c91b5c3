/* report — the adoption report, the opens per day and the versions list:
 * statements built from options, results read into structs, structs
 * rendered as a table, JSON or CSV. See report.h for the three steps. */
#include "report.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Any rendering larger than this is refused rather than grown without end. */
#define OUTPUT_CAP ((size_t)64 << 20)

/* ---- the statements ---- */

/* The window and version filter every statement shares. A NULL parameter
 * leaves that side open; the casts give each parameter one type whether it
 * is NULL or not, and since libpq's unnamed statements are planned with the
 * values at hand, the open sides cost nothing. */
#define FILTER                                                                                    \
    "($1::timestamptz IS NULL OR d.created_at >= $1::timestamptz)"                                \
    " AND ($2::timestamptz IS NULL OR d.created_at < $2::timestamptz)"                            \
    " AND ($3::bigint IS NULL OR d.motion_version = $3::bigint)"

/* A delivery's open is its first hit by a person: the delivery_opens view,
 * the one definition of an open that every reader shares. */
#define OPENS "LEFT JOIN delivery_opens o ON o.delivery_id = d.id"

/* One statement per grouping column; KEY is one of five fixed column names,
 * never outside text.
 *
 * The motion (which stages are won or lost) is not needed to build it: the
 * delivered deliveries are counted per group AND per the deal's current
 * stage, and bt_report_from_result maps those stages to outcomes. That keeps
 * this one statement that the daemon can send without first fetching a
 * motion. GROUPING SETS give three levels in one pass: (key, deal stage)
 * for outcomes, (key) for the group's counts and its median, () for the
 * totals, whose median is not one of the groups' medians. A failed delivery
 * someone clicked is not opened: only a delivered one is. */
#define REPORT_SQL(KEY)                                                                           \
    "WITH w AS ("                                                                                 \
    " SELECT d." KEY " AS key, d.status, dl.fields ->> 'stage' AS deal_stage,"                    \
    " d.status = 'sent' AND o.opened_at IS NOT NULL AS opened,"                                   \
    " CASE WHEN d.status = 'sent' AND o.opened_at IS NOT NULL"                                    \
    " THEN greatest(0, extract(epoch FROM o.opened_at - d.sent_at) / 60)::float8 END AS minutes"  \
    " FROM deliveries d " OPENS                                                                   \
    " LEFT JOIN deals dl ON dl.source = d.source AND dl.deal_id = d.deal_id"                      \
    " WHERE " FILTER ")"                                                                          \
    " SELECT GROUPING(key, deal_stage) AS level, key, deal_stage,"                                \
    " count(*) AS matched,"                                                                       \
    " count(*) FILTER (WHERE status = 'sent') AS delivered,"                                      \
    " count(*) FILTER (WHERE status IN ('failed', 'dead')) AS failed,"                            \
    " count(*) FILTER (WHERE status = 'unroutable') AS unroutable,"                               \
    " count(*) FILTER (WHERE opened) AS opened,"                                                  \
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) AS median_minutes"                     \
    " FROM w GROUP BY GROUPING SETS ((key, deal_stage), (key), ())"

/* GROUPING(key, deal_stage): a bit set for each column rolled up. */
#define LEVEL_STAGE 0
#define LEVEL_KEY   1
#define LEVEL_TOTAL 3

static const char *const report_sql[] = {
    [BT_REPORT_BY_ASSET] = REPORT_SQL("asset_id"),
    [BT_REPORT_BY_STAGE] = REPORT_SQL("stage"),
    [BT_REPORT_BY_COMPETITOR] = REPORT_SQL("competitor"),
    [BT_REPORT_BY_REP] = REPORT_SQL("rep_id"),
    [BT_REPORT_BY_PLAY] = REPORT_SQL("play_id"),
};

/* Days are UTC days of sent_at; generate_series over timestamps (not
 * timestamptz) so the session's time zone cannot shift a day. Days without
 * deliveries between the first and the last are rows of zeros: a chart
 * needs them. */
static const char days_sql[] =
    "WITH w AS ("
    " SELECT (d.sent_at AT TIME ZONE 'UTC')::date AS day, o.opened_at IS NOT NULL AS opened"
    " FROM deliveries d " OPENS " WHERE d.status = 'sent' AND d.sent_at IS NOT NULL"
    " AND " FILTER "),"
    " span AS (SELECT min(day) AS lo, max(day) AS hi FROM w)"
    " SELECT to_char(g.day, 'YYYY-MM-DD') AS day, count(w.day) AS delivered,"
    " count(w.day) FILTER (WHERE w.opened) AS opened"
    " FROM span CROSS JOIN LATERAL"
    " generate_series(span.lo::timestamp, span.hi::timestamp, interval '1 day') AS g(day)"
    " LEFT JOIN w ON w.day = g.day::date"
    " GROUP BY g.day ORDER BY g.day";

static const char versions_sql[] =
    "SELECT v.version, v.name,"
    " to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS activated_at,"
    " v.version IS NOT DISTINCT FROM (SELECT version FROM motion_active) AS active"
    " FROM motion_versions v"
    " LEFT JOIN LATERAL (SELECT max(activated_at) AS at FROM motion_activations"
    " WHERE version = v.version) a ON true"
    " ORDER BY v.version DESC";

static const char motion_version_sql[] =
    "SELECT version, document FROM motion_versions WHERE version = $1::bigint";
static const char motion_active_sql[] = "SELECT version, document FROM motion_active";

static const char *const by_names[] = {
    [BT_REPORT_BY_ASSET] = "asset",
    [BT_REPORT_BY_STAGE] = "stage",
    [BT_REPORT_BY_COMPETITOR] = "competitor",
    [BT_REPORT_BY_REP] = "rep",
    [BT_REPORT_BY_PLAY] = "play",
};
#define N_BY (sizeof(by_names) / sizeof(by_names[0]))

static const char *const format_names[] = {
    [BT_REPORT_TABLE] = "table", [BT_REPORT_JSON] = "json", [BT_REPORT_CSV] = "csv"};
#define N_FORMATS (sizeof(format_names) / sizeof(format_names[0]))

/* ---- options ---- */

void bt_report_opts_init(struct bt_report_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->by = BT_REPORT_BY_ASSET;
    o->format = BT_REPORT_TABLE;
    o->min_deliveries = 5;
    o->ignored_below = 0.2;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int year, int month)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : dim[month - 1];
}

/* YYYY-MM-DD or an RFC 3339 date-time, to a UTC instant written the one
 * way PostgreSQL and every reader parse alike. Done here rather than by the
 * database so that a bad date is a usage error before any connection, and
 * so that a bare date means midnight UTC whatever the server's TimeZone. */
static int parse_time(const char *s, char out[BT_REPORT_TIME_LEN], long long *secs, long *nsec)
{
    int year, mon, day, hour = 0, min = 0, sec = 0, oh = 0, om = 0, sign = 0, nd = 0;
    long ns = 0;
    const char *p;
    struct tm tm = {0};
    time_t t;
    int rc = BT_EINVAL;

    if (strnlen(s, 64) < 10 || !digits(s, 4, &year) || s[4] != '-' || !digits(s + 5, 2, &mon) ||
        s[7] != '-' || !digits(s + 8, 2, &day))
        goto out;
    p = s + 10;
    if (*p) {
        if ((*p != 'T' && *p != 't' && *p != ' ') || !digits(p + 1, 2, &hour) || p[3] != ':' ||
            !digits(p + 4, 2, &min) || p[6] != ':' || !digits(p + 7, 2, &sec))
            goto out;
        p += 9;
        if (*p == '.') {
            for (p++; *p >= '0' && *p <= '9'; p++, nd++)
                if (nd < 9)
                    ns = ns * 10 + (*p - '0');
            if (nd == 0 || nd > 9)
                goto out;
            for (int i = nd; i < 9; i++)
                ns *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p == '+' ? 1 : -1;
            if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
                goto out;
            p += 6;
        } else {
            goto out;
        }
        if (*p)
            goto out;
    }
    if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
        hour > 23 || min > 59 || sec > 60 || oh > 23 || om > 59)
        goto out;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec; /* a leap second rolls over, as PostgreSQL reads it */
    t = timegm(&tm) - (time_t)sign * (oh * 3600 + om * 60);
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        goto out;
    {
        /* Sized for any int the compiler imagines; the checks above keep
         * the text within BT_REPORT_TIME_LEN. */
        char frac[16] = "", text[128];
        int n;

        if (ns) {
            n = snprintf(frac, sizeof(frac), ".%09ld", ns);
            while (n > 1 && frac[n - 1] == '0')
                frac[--n] = '\0';
        }
        n = snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
        if (n < 0 || n >= BT_REPORT_TIME_LEN)
            goto out;
        memcpy(out, text, (size_t)n + 1);
    }
    *secs = (long long)t;
    *nsec = ns;
    rc = 0;
out:
    return rc;
}

/* Whole decimal digits only: strtoul would take signs, spaces and hex. */
static bool parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (unsigned)(*s - '0')) / 10)
            return false;
        v = v * 10 + (unsigned)(*s - '0');
    }
    *out = v;
    return true;
}

/* "0.25", "1", ".5": digits and at most one point. Not strtod, which would
 * also take "inf", hex and, in some locales, a comma. */
static bool parse_fraction(const char *s, double *out)
{
    double v = 0, scale = 1;
    bool point = false, any = false;

    for (; *s; s++) {
        if (*s == '.' && !point) {
            point = true;
        } else if (*s >= '0' && *s <= '9') {
            any = true;
            if (point)
                v += (*s - '0') * (scale /= 10);
            else
                v = v * 10 + (*s - '0');
        } else {
            return false;
        }
    }
    *out = v;
    return any;
}

static int pick(const char *const *names, size_t n, const char *value)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], value))
            return (int)i;
    return -1;
}

int bt_report_opts_set(struct bt_report_opts *o, const char *key, const char *value, char *err,
                       size_t errlen)
{
    char k[32];
    size_t i;
    unsigned long long u;
    double f;
    int n, rc = BT_EINVAL;

    for (i = 0; key[i] && i + 1 < sizeof(k); i++)
        k[i] = key[i] == '-' ? '_' : key[i];
    k[i] = '\0';
    if (key[i]) {
        rc = BT_ENOENT;
        goto out;
    }
    if (!strcmp(k, "by")) {
        n = pick(by_names, N_BY, value);
        if (n < 0) {
            snprintf(err, errlen, "expected asset, stage, competitor, rep or play, not \"%.40s\"",
                     value);
            goto out;
        }
        o->by = (enum bt_report_by)n;
    } else if (!strcmp(k, "format")) {
        n = pick(format_names, N_FORMATS, value);
        if (n < 0) {
            snprintf(err, errlen, "expected table, json or csv, not \"%.40s\"", value);
            goto out;
        }
        o->format = (enum bt_report_format)n;
    } else if (!strcmp(k, "since") || !strcmp(k, "until")) {
        bool since = k[0] == 's';

        if (parse_time(value, since ? o->since : o->until, since ? &o->since_s : &o->until_s,
                       since ? &o->since_ns : &o->until_ns) < 0) {
            snprintf(err, errlen,
                     "not a date: \"%.40s\" (expected YYYY-MM-DD or RFC 3339, "
                     "e.g. 2024-05-01T08:00:00Z)",
                     value);
            goto out;
        }
    } else if (!strcmp(k, "motion_version")) {
        if (!parse_ull(value, LLONG_MAX, &u) || u == 0) {
            snprintf(err, errlen, "not a version number: \"%.40s\"", value);
            goto out;
        }
        o->motion_version = (long long)u;
    } else if (!strcmp(k, "min_deliveries")) {
        if (!parse_ull(value, 1000000, &u) || u == 0) {
            snprintf(err, errlen, "expected a whole number from 1 to 1000000, not \"%.40s\"",
                     value);
            goto out;
        }
        o->min_deliveries = (unsigned)u;
    } else if (!strcmp(k, "ignored_below")) {
        if (!parse_fraction(value, &f) || f > 1) {
            snprintf(err, errlen, "expected a number from 0 to 1, not \"%.40s\"", value);
            goto out;
        }
        o->ignored_below = f;
    } else {
        rc = BT_ENOENT;
        goto out;
    }
    rc = 0;
out:
    if (rc == BT_ENOENT)
        snprintf(err, errlen, "unknown option");
    return rc;
}

int bt_report_opts_check(const struct bt_report_opts *o, char *err, size_t errlen)
{
    if (o->since[0] && o->until[0] &&
        (o->since_s > o->until_s || (o->since_s == o->until_s && o->since_ns >= o->until_ns))) {
        snprintf(err, errlen, "the window is empty: since (%s) must be before until (%s)",
                 o->since, o->until);
        return BT_EINVAL;
    }
    return 0;
}

/* ---- building statements ---- */

static void window_params(const struct bt_report_opts *o, struct bt_report_query *q)
{
    snprintf(q->text[0], sizeof(q->text[0]), "%s", o->since);
    snprintf(q->text[1], sizeof(q->text[1]), "%s", o->until);
    snprintf(q->text[2], sizeof(q->text[2]), "%lld", o->motion_version);
    q->n_params = 3;
    q->params[0] = o->since[0] ? q->text[0] : NULL;
    q->params[1] = o->until[0] ? q->text[1] : NULL;
    q->params[2] = o->motion_version > 0 ? q->text[2] : NULL;
}

int bt_report_query(const struct bt_report_opts *o, struct bt_report_query *q)
{
    memset(q, 0, sizeof(*q));
    if ((unsigned)o->by >= N_BY)
        return BT_EINVAL;
    q->sql = report_sql[o->by];
    window_params(o, q);
    return 0;
}

int bt_report_days_query(const struct bt_report_opts *o, struct bt_report_query *q)
{
    memset(q, 0, sizeof(*q));
    q->sql = days_sql;
    window_params(o, q);
    return 0;
}

void bt_report_versions_query(struct bt_report_query *q)
{
    memset(q, 0, sizeof(*q));
    q->sql = versions_sql;
}

int bt_report_motion_query(const struct bt_report_opts *o, struct bt_report_query *q)
{
    memset(q, 0, sizeof(*q));
    if (o->motion_version <= 0) {
        q->sql = motion_active_sql;
        return 0;
    }
    q->sql = motion_version_sql;
    snprintf(q->text[0], sizeof(q->text[0]), "%lld", o->motion_version);
    q->params[0] = q->text[0];
    q->n_params = 1;
    return 0;
}

/* ---- reading results ---- */

/* The columns NAMES (NULL-terminated) of RES, into COLS; BT_EDB when RES
 * failed, BT_EINVAL when a column is missing. */
static int columns(const PGresult *res, const char *const *names, int *cols)
{
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return BT_EDB;
    for (size_t i = 0; names[i]; i++) {
        cols[i] = PQfnumber(res, names[i]);
        if (cols[i] < 0)
            return BT_EINVAL;
    }
    return 0;
}

static bool cell_ll(const PGresult *res, int row, int col, long long *out)
{
    const char *s = PQgetvalue(res, row, col);
    unsigned long long v;

    if (PQgetisnull(res, row, col)) {
        *out = 0;
        return true;
    }
    if (!parse_ull(s, LLONG_MAX, &v))
        return false;
    *out = (long long)v;
    return true;
}

static const char *cell_str(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* NULL keys sort last: "no competitor" belongs after the named ones. */
static int cmp_key(const char *a, const char *b)
{
    if (!a || !b)
        return !a - !b;
    return strcmp(a, b);
}

static int cmp_row_key(const void *pa, const void *pb)
{
    const struct bt_report_row *a = pa, *b = pb;

    return cmp_key(a->key, b->key);
}

static int cmp_row_order(const void *pa, const void *pb)
{
    const struct bt_report_row *a = pa, *b = pb;

    if (a->c.matched != b->c.matched)
        return a->c.matched > b->c.matched ? -1 : 1;
    return cmp_key(a->key, b->key);
}

static struct bt_report_row *find_row(struct bt_report_row *rows, size_t n, const char *key)
{
    struct bt_report_row probe = {.key = (char *)key};

    return n ? bsearch(&probe, rows, n, sizeof(*rows), cmp_row_key) : NULL;
}

enum {
    C_LEVEL,
    C_KEY,
    C_STAGE,
    C_MATCHED,
    C_DELIVERED,
    C_FAILED,
    C_UNROUTABLE,
    C_OPENED,
    C_MEDIAN,
    N_COLS
};

static int read_counts(const PGresult *res, int i, const int *cols, struct bt_report_counts *c)
{
    const char *median = cell_str(res, i, cols[C_MEDIAN]);
    char *end;

    if (!cell_ll(res, i, cols[C_MATCHED], &c->matched) ||
        !cell_ll(res, i, cols[C_DELIVERED], &c->delivered) ||
        !cell_ll(res, i, cols[C_FAILED], &c->failed) ||
        !cell_ll(res, i, cols[C_UNROUTABLE], &c->unroutable) ||
        !cell_ll(res, i, cols[C_OPENED], &c->opened))
        return BT_EINVAL;
    c->has_median = median != NULL;
    if (median) {
        c->median_minutes_to_open = strtod(median, &end);
        if (end == median || *end || !isfinite(c->median_minutes_to_open))
            return BT_EINVAL;
    }
    return 0;
}

/* Adds the delivered deliveries of one (group, deal stage) cell to the
 * outcome counts of C, when the motion calls that stage won or lost. */
static void add_outcome(struct bt_report_counts *c, const struct bt_motion *m, const char *stage,
                        long long delivered, long long opened)
{
    const struct bt_stage *st = m && stage ? bt_motion_find_stage(m, stage) : NULL;

    if (!st || st->outcome == BT_OUTCOME_OPEN)
        return;
    if (st->outcome == BT_OUTCOME_WON) {
        c->won_opened += opened;
        c->won_not_opened += delivered - opened;
    } else {
        c->lost_opened += opened;
        c->lost_not_opened += delivered - opened;
    }
}

int bt_report_from_result(const struct bt_report_opts *o, const PGresult *res,
                          const struct bt_motion *m, long long judged_by, struct bt_report **out)
{
    static const char *const names[] = {"level",          "key",    "deal_stage", "matched",
                                        "delivered",      "failed", "unroutable", "opened",
                                        "median_minutes", NULL};
    struct bt_report *r = NULL;
    int cols[N_COLS], rc, ntuples;
    long long level;
    size_t n_groups;

    *out = NULL;
    rc = columns(res, names, cols);
    if (rc < 0)
        goto out;
    r = bt_calloc(1, sizeof(*r));
    r->opts = *o;
    r->judged_by = m ? judged_by : 0;
    r->motion_name = m && bt_motion_name(m) ? bt_strdup(bt_motion_name(m)) : NULL;
    ntuples = PQntuples(res);
    r->rows = bt_calloc((size_t)ntuples + (m ? bt_motion_n_assets(m) : 0) + 1, sizeof(*r->rows));

    /* Groups and totals first; the per-stage cells need their group. */
    rc = BT_EINVAL;
    for (int i = 0; i < ntuples; i++) {
        struct bt_report_counts c = {0};

        if (!cell_ll(res, i, cols[C_LEVEL], &level) || read_counts(res, i, cols, &c) < 0)
            goto out;
        if (level == LEVEL_KEY) {
            const char *key = cell_str(res, i, cols[C_KEY]);

            r->rows[r->n_rows].key = key ? bt_strdup(key) : NULL;
            r->rows[r->n_rows++].c = c;
        } else if (level == LEVEL_TOTAL) {
            r->totals = c;
        } else if (level != LEVEL_STAGE) {
            goto out;
        }
    }
    qsort(r->rows, r->n_rows, sizeof(*r->rows), cmp_row_key);
    for (int i = 0; i < ntuples; i++) {
        struct bt_report_counts c = {0};
        struct bt_report_row *row;

        if (!cell_ll(res, i, cols[C_LEVEL], &level) || level != LEVEL_STAGE)
            continue;
        if (read_counts(res, i, cols, &c) < 0)
            goto out;
        row = find_row(r->rows, r->n_rows, cell_str(res, i, cols[C_KEY]));
        if (!row)
            goto out;
        add_outcome(&row->c, m, cell_str(res, i, cols[C_STAGE]), c.delivered, c.opened);
        add_outcome(&r->totals, m, cell_str(res, i, cols[C_STAGE]), c.delivered, c.opened);
    }

    /* Shelfware is what the report exists to show, and it has no
     * deliveries to be found by: every asset of the motion gets a row. */
    n_groups = r->n_rows;
    if (o->by == BT_REPORT_BY_ASSET && m) {
        for (size_t i = 0; i < bt_motion_n_assets(m); i++) {
            const struct bt_asset *a = bt_motion_asset(m, i);

            if (!find_row(r->rows, n_groups, a->id))
                r->rows[r->n_rows++].key = bt_strdup(a->id);
        }
    }
    for (size_t i = 0; o->by == BT_REPORT_BY_ASSET && i < r->n_rows; i++)
        r->rows[i].verdict = bt_report_verdict(&r->rows[i].c, o->min_deliveries, o->ignored_below);
    qsort(r->rows, r->n_rows, sizeof(*r->rows), cmp_row_order);
    *out = r;
    r = NULL;
    rc = 0;
out:
    bt_report_free(r);
    return rc;
}

void bt_report_free(struct bt_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_rows; i++)
        bt_free(r->rows[i].key);
    bt_free(r->rows);
    bt_free(r->motion_name);
    bt_free(r);
}

int bt_report_motion_from_result(const PGresult *res, struct bt_motion **m, long long *version,
                                 struct bt_diags *diags)
{
    static const char *const names[] = {"version", "document", NULL};
    int cols[2], rc;
    char *label = NULL;
    long long v;

    *m = NULL;
    rc = columns(res, names, cols);
    if (rc < 0)
        goto out;
    if (PQntuples(res) == 0) {
        rc = BT_ENOENT;
        goto out;
    }
    if (!cell_ll(res, 0, cols[0], &v)) {
        rc = BT_EINVAL;
        goto out;
    }
    label = bt_asprintf("version %lld", v);
    rc = bt_motion_parse(label, PQgetvalue(res, 0, cols[1]), (size_t)PQgetlength(res, 0, cols[1]),
                         m, diags);
    if (rc < 0)
        goto out;
    *version = v;
out:
    bt_free(label);
    return rc;
}

int bt_report_days_from_result(const struct bt_report_opts *o, const PGresult *res,
                               struct bt_report_days **out)
{
    static const char *const names[] = {"day", "delivered", "opened", NULL};
    struct bt_report_days *d = NULL;
    int cols[3], rc;

    *out = NULL;
    rc = columns(res, names, cols);
    if (rc < 0)
        goto out;
    d = bt_calloc(1, sizeof(*d));
    d->opts = *o;
    d->v = bt_calloc((size_t)PQntuples(res) + 1, sizeof(*d->v));
    rc = BT_EINVAL;
    for (int i = 0; i < PQntuples(res); i++) {
        struct bt_report_day *day = &d->v[d->n++];
        const char *s = PQgetvalue(res, i, cols[0]);

        if (PQgetlength(res, i, cols[0]) != 10 || !cell_ll(res, i, cols[1], &day->delivered) ||
            !cell_ll(res, i, cols[2], &day->opened))
            goto out;
        memcpy(day->day, s, 10);
        day->day[10] = '\0';
    }
    *out = d;
    d = NULL;
    rc = 0;
out:
    bt_report_days_free(d);
    return rc;
}

void bt_report_days_free(struct bt_report_days *d)
{
    if (!d)
        return;
    bt_free(d->v);
    bt_free(d);
}

int bt_report_versions_from_result(const PGresult *res, struct bt_report_versions **out)
{
    static const char *const names[] = {"version", "name", "activated_at", "active", NULL};
    struct bt_report_versions *v = NULL;
    int cols[4], rc;

    *out = NULL;
    rc = columns(res, names, cols);
    if (rc < 0)
        goto out;
    v = bt_calloc(1, sizeof(*v));
    v->v = bt_calloc((size_t)PQntuples(res) + 1, sizeof(*v->v));
    rc = BT_EINVAL;
    for (int i = 0; i < PQntuples(res); i++) {
        struct bt_report_version *e = &v->v[v->n++];
        const char *at = cell_str(res, i, cols[2]);

        if (!cell_ll(res, i, cols[0], &e->version))
            goto out;
        e->name = bt_strdup(PQgetvalue(res, i, cols[1]));
        e->activated_at = at ? bt_strdup(at) : NULL;
        e->active = !strcmp(PQgetvalue(res, i, cols[3]), "t");
    }
    *out = v;
    v = NULL;
    rc = 0;
out:
    bt_report_versions_free(v);
    return rc;
}

void bt_report_versions_free(struct bt_report_versions *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        bt_free(v->v[i].name);
        bt_free(v->v[i].activated_at);
    }
    bt_free(v->v);
    bt_free(v);
}

/* ---- judging ---- */

bool bt_report_open_rate(const struct bt_report_counts *c, double *rate)
{
    if (c->delivered <= 0)
        return false;
    *rate = (double)c->opened / (double)c->delivered;
    return true;
}

enum bt_verdict bt_report_verdict(const struct bt_report_counts *c, unsigned min_deliveries,
                                  double ignored_below)
{
    if (c->delivered <= 0)
        return BT_VERDICT_SHELFWARE;
    if (c->delivered < (long long)min_deliveries)
        return BT_VERDICT_TOO_EARLY;
    /* opened / delivered < X, without the rounding of a division: an
     * asset opened exactly at the threshold is adopted. */
    if ((double)c->opened < ignored_below * (double)c->delivered)
        return BT_VERDICT_IGNORED;
    return BT_VERDICT_ADOPTED;
}

static const struct {
    const char *name, *action;
} verdicts[] = {
    [BT_VERDICT_NONE] = {"", ""},
    [BT_VERDICT_SHELFWARE] = {"shelfware", "fix the motion or the CRM data"},
    [BT_VERDICT_TOO_EARLY] = {"too early", "wait for more deliveries before judging"},
    [BT_VERDICT_IGNORED] = {"ignored", "coach the reps or fix the asset"},
    [BT_VERDICT_ADOPTED] = {"adopted", "keep it"},
};

const char *bt_report_verdict_name(enum bt_verdict v)
{
    return (unsigned)v < sizeof(verdicts) / sizeof(verdicts[0]) ? verdicts[v].name : "";
}

const char *bt_report_verdict_action(enum bt_verdict v)
{
    return (unsigned)v < sizeof(verdicts) / sizeof(verdicts[0]) ? verdicts[v].action : "";
}

const char *bt_report_by_name(enum bt_report_by by)
{
    return (unsigned)by < N_BY ? by_names[by] : "";
}

/* ---- rendering ---- */

/* V with at most DECIMALS decimals and no trailing zeros: "0.6667", "20",
 * "22.5". The same text in every format, so a CSV and a JSON of one report
 * agree to the digit. */
static double round_to(double v, int decimals);

static void fmt_num(char *buf, size_t size, double v, int decimals)
{
    /* Rounded half away from zero first, as in JSON: printf alone would
     * round 2.125 to even, 2.12, where the JSON says 2.13. */
    int n = snprintf(buf, size, "%.*f", decimals, round_to(v, decimals));

    if (n <= 0 || (size_t)n >= size)
        return;
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
            buf[--n] = '\0';
    }
    if (!strcmp(buf, "-0"))
        snprintf(buf, size, "0");
}

static double round_to(double v, int decimals)
{
    double scale = pow(10, decimals);

    return round(v * scale) / scale;
}

#define RATE_DECIMALS    4
#define MINUTES_DECIMALS 2

/* The columns after the group's, in order: the names the JSON keys, the
 * CSV header and the table all use. */
static const char *const count_names[] = {
    "matched",
    "delivered",
    "failed",
    "unroutable",
    "opened",
    "open_rate",
    "median_minutes_to_open",
    "won_opened",
    "lost_opened",
    "won_not_opened",
    "lost_not_opened",
};
#define N_COUNTS   (sizeof(count_names) / sizeof(count_names[0]))
#define COL_RATE   5
#define COL_MEDIAN 6

/* Column I of C as text (CSV and table); "" for a null. TABLE: a rate as a
 * percentage, for people. */
static void count_text(const struct bt_report_counts *c, size_t i, bool table, char *buf,
                       size_t size)
{
    const long long ints[] = {
        c->matched, c->delivered,  c->failed,      c->unroutable,     c->opened,         0,
        0,          c->won_opened, c->lost_opened, c->won_not_opened, c->lost_not_opened};
    double rate;

    buf[0] = '\0';
    if (i == COL_RATE) {
        if (!bt_report_open_rate(c, &rate))
            return;
        if (table) {
            char pct[48];

            fmt_num(pct, sizeof(pct), rate * 100, 1);
            snprintf(buf, size, "%s%%", pct);
        } else {
            fmt_num(buf, size, rate, RATE_DECIMALS);
        }
    } else if (i == COL_MEDIAN) {
        if (c->has_median)
            fmt_num(buf, size, c->median_minutes_to_open, table ? 1 : MINUTES_DECIMALS);
    } else {
        snprintf(buf, size, "%lld", ints[i]);
    }
}

/* Sets C's columns on the object J; returns J. */
static json_t *counts_json(const struct bt_report_counts *c, json_t *j)
{
    double rate;

    json_object_set_new(j, "matched", json_integer(c->matched));
    json_object_set_new(j, "delivered", json_integer(c->delivered));
    json_object_set_new(j, "failed", json_integer(c->failed));
    json_object_set_new(j, "unroutable", json_integer(c->unroutable));
    json_object_set_new(j, "opened", json_integer(c->opened));
    json_object_set_new(j, "open_rate",
                        bt_report_open_rate(c, &rate) ? json_real(round_to(rate, RATE_DECIMALS))
                                                      : json_null());
    json_object_set_new(j, "median_minutes_to_open",
                        c->has_median
                            ? json_real(round_to(c->median_minutes_to_open, MINUTES_DECIMALS))
                            : json_null());
    json_object_set_new(j, "won_opened", json_integer(c->won_opened));
    json_object_set_new(j, "lost_opened", json_integer(c->lost_opened));
    json_object_set_new(j, "won_not_opened", json_integer(c->won_not_opened));
    json_object_set_new(j, "lost_not_opened", json_integer(c->lost_not_opened));
    return j;
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* Rounded reals print as written ("0.6667", not 0.66669999999999996);
 * 15 significant digits hold every rounded value a report has. */
static int dump_json(json_t *j, char **out)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    int rc = 0;

    if (!s)
        return BT_EINVAL;
    if (strlen(s) > OUTPUT_CAP) {
        rc = BT_ETOOBIG;
        free(s);
        s = NULL;
    }
    if (s) {
        *out = bt_asprintf("%s\n", s);
        free(s);
    }
    return rc;
}

static int report_json(const struct bt_report *r, char **out)
{
    const char *by = bt_report_by_name(r->opts.by);
    json_t *j = json_object(), *rows = json_array(), *motion = json_null(), *thresholds;
    int rc;

    json_object_set_new(j, "by", json_string(by));
    json_object_set_new(j, "since", str_or_null(r->opts.since));
    json_object_set_new(j, "until", str_or_null(r->opts.until));
    json_object_set_new(j, "motion_version",
                        r->opts.motion_version > 0 ? json_integer(r->opts.motion_version)
                                                   : json_null());
    if (r->judged_by > 0) {
        json_decref(motion);
        motion = json_object();
        json_object_set_new(motion, "version", json_integer(r->judged_by));
        json_object_set_new(motion, "name", str_or_null(r->motion_name));
    }
    json_object_set_new(j, "motion", motion);
    if (r->opts.by == BT_REPORT_BY_ASSET) {
        thresholds = json_object();
        json_object_set_new(thresholds, "min_deliveries", json_integer(r->opts.min_deliveries));
        json_object_set_new(thresholds, "ignored_below",
                            json_real(round_to(r->opts.ignored_below, RATE_DECIMALS)));
        json_object_set_new(j, "thresholds", thresholds);
    }
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct bt_report_row *row = &r->rows[i];
        json_t *o = json_object();

        json_object_set_new(o, by, row->key ? json_string(row->key) : json_null());
        counts_json(&row->c, o);
        if (r->opts.by == BT_REPORT_BY_ASSET) {
            json_object_set_new(o, "verdict", json_string(bt_report_verdict_name(row->verdict)));
            json_object_set_new(o, "action", json_string(bt_report_verdict_action(row->verdict)));
        }
        json_array_append_new(rows, o);
    }
    json_object_set_new(j, "rows", rows);
    json_object_set_new(j, "totals", counts_json(&r->totals, json_object()));
    rc = dump_json(j, out);
    json_decref(j);
    return rc;
}

int bt_report_csv_field(struct bt_buf *b, const char *s)
{
    int rc = 0;

    if (!s || !s[0])
        return 0;
    if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && s[strlen(s) - 1] != ' ')
        return bt_buf_adds(b, s);
    rc |= bt_buf_adds(b, "\"");
    for (const char *p = s; *p && !rc; p++)
        rc |= *p == '"' ? bt_buf_adds(b, "\"\"") : bt_buf_add(b, p, 1);
    rc |= bt_buf_adds(b, "\"");
    return rc ? BT_ETOOBIG : 0;
}

static int report_csv(const struct bt_report *r, char **out)
{
    bool asset = r->opts.by == BT_REPORT_BY_ASSET;
    struct bt_buf b;
    char cell[64];
    int rc = 0;

    bt_buf_init(&b, OUTPUT_CAP);
    rc |= bt_buf_adds(&b, bt_report_by_name(r->opts.by));
    for (size_t i = 0; i < N_COUNTS; i++)
        rc |= bt_buf_printf(&b, ",%s", count_names[i]);
    rc |= bt_buf_adds(&b, asset ? ",verdict,action\r\n" : "\r\n");
    for (size_t i = 0; i < r->n_rows && !rc; i++) {
        const struct bt_report_row *row = &r->rows[i];

        rc |= bt_report_csv_field(&b, row->key);
        for (size_t k = 0; k < N_COUNTS; k++) {
            count_text(&row->c, k, false, cell, sizeof(cell));
            rc |= bt_buf_printf(&b, ",%s", cell);
        }
        if (asset) {
            rc |= bt_buf_adds(&b, ",");
            rc |= bt_report_csv_field(&b, bt_report_verdict_name(row->verdict));
            rc |= bt_buf_adds(&b, ",");
            rc |= bt_report_csv_field(&b, bt_report_verdict_action(row->verdict));
        }
        rc |= bt_buf_adds(&b, "\r\n");
    }
    if (rc) {
        bt_buf_free(&b);
        return BT_ETOOBIG;
    }
    *out = bt_buf_steal(&b);
    return 0;
}

/* ---- the table ---- */

/* A grid of cells, sized once its cells are all known. */
struct grid {
    size_t cols, rows;
    char **cells; /* rows * cols, row-major; NULL for a rule line */
    bool *left;   /* per column: left-aligned */
};

static void grid_init(struct grid *g, size_t cols, size_t max_rows)
{
    g->cols = cols;
    g->rows = 0;
    g->cells = bt_calloc(cols * max_rows, sizeof(char *));
    g->left = bt_calloc(cols, sizeof(bool));
}

static void grid_free(struct grid *g)
{
    for (size_t i = 0; i < g->cols * g->rows; i++)
        bt_free(g->cells[i]);
    bt_free(g->cells);
    bt_free(g->left);
}

/* Appends the row of cells; a row of all NULL is drawn as a rule. */
static char **grid_row(struct grid *g)
{
    return &g->cells[g->cols * g->rows++];
}

static int grid_print(const struct grid *g, struct bt_buf *b)
{
    size_t *w = bt_calloc(g->cols, sizeof(size_t));
    int rc = 0;

    for (size_t r = 0; r < g->rows; r++)
        for (size_t c = 0; c < g->cols; c++) {
            const char *s = g->cells[r * g->cols + c];

            if (s && strlen(s) > w[c])
                w[c] = strlen(s);
        }
    for (size_t r = 0; r < g->rows && !rc; r++) {
        char *const *row = &g->cells[r * g->cols];

        for (size_t c = 0; c < g->cols; c++) {
            const char *s = row[0] ? (row[c] ? row[c] : "") : NULL;
            bool last = c + 1 == g->cols;

            if (c)
                rc |= bt_buf_adds(b, "  ");
            if (!s) {
                for (size_t k = 0; k < w[c]; k++)
                    rc |= bt_buf_adds(b, "-");
            } else if (g->left[c] && last) {
                rc |= bt_buf_adds(b, s);
            } else {
                rc |= bt_buf_printf(b, g->left[c] ? "%-*s" : "%*s", (int)w[c], s);
            }
        }
        /* A row without a verdict (the totals) would end in blanks. */
        while (b->len > 0 && b->data[b->len - 1] == ' ')
            b->data[--b->len] = '\0';
        rc |= bt_buf_adds(b, "\n");
    }
    bt_free(w);
    return rc ? BT_ETOOBIG : 0;
}

static void counts_cells(char **cells, const struct bt_report_counts *c)
{
    char buf[64];

    for (size_t k = 0; k < N_COUNTS; k++) {
        count_text(c, k, true, buf, sizeof(buf));
        cells[1 + k] = bt_strdup(buf[0] ? buf : "-");
    }
}

/* "from 2024-05-01T00:00:00Z until 2024-06-01T00:00:00Z": the window as a
 * phrase; a new string. */
static char *window_phrase(const struct bt_report_opts *o)
{
    if (o->since[0] && o->until[0])
        return bt_asprintf("from %s until %s", o->since, o->until);
    if (o->since[0])
        return bt_asprintf("from %s on", o->since);
    if (o->until[0])
        return bt_asprintf("before %s", o->until);
    return bt_strdup("at any time");
}

static char *version_phrase(const struct bt_report_opts *o)
{
    return o->motion_version > 0 ? bt_asprintf("motion version %lld only", o->motion_version)
                                 : bt_strdup("every motion version");
}

static int legend(const struct bt_report *r, struct bt_buf *b)
{
    char pct[32], *desc[5] = {0};
    size_t w = 0;
    int rc = 0;

    fmt_num(pct, sizeof(pct), r->opts.ignored_below * 100, 2);
    desc[BT_VERDICT_SHELFWARE] = bt_strdup("in the motion, never delivered in this window");
    desc[BT_VERDICT_TOO_EARLY] =
        bt_asprintf("delivered fewer than %u times", r->opts.min_deliveries);
    desc[BT_VERDICT_IGNORED] =
        bt_asprintf("delivered %u+ times, opened by fewer than %s%%", r->opts.min_deliveries, pct);
    desc[BT_VERDICT_ADOPTED] =
        bt_asprintf("delivered %u+ times, opened by %s%% or more", r->opts.min_deliveries, pct);
    for (int v = BT_VERDICT_SHELFWARE; v <= BT_VERDICT_ADOPTED; v++)
        if (strlen(desc[v]) > w)
            w = strlen(desc[v]);
    rc |= bt_buf_adds(b, "\nverdicts:\n");
    for (int v = BT_VERDICT_SHELFWARE; v <= BT_VERDICT_ADOPTED; v++)
        rc |= bt_buf_printf(b, "  %-9s  %-*s  -> %s\n", bt_report_verdict_name(v), (int)w, desc[v],
                            bt_report_verdict_action(v));
    for (int v = 0; v < 5; v++)
        bt_free(desc[v]);
    return rc ? BT_ETOOBIG : 0;
}

static int report_table(const struct bt_report *r, char **out)
{
    bool asset = r->opts.by == BT_REPORT_BY_ASSET;
    size_t cols = 1 + N_COUNTS + (asset ? 1 : 0);
    char *window = window_phrase(&r->opts), *version = version_phrase(&r->opts), **row;
    struct grid g;
    struct bt_buf b;
    int rc = 0;

    bt_buf_init(&b, OUTPUT_CAP);
    grid_init(&g, cols, r->n_rows + 5);
    rc |= bt_buf_printf(&b, "Adoption by %s: deliveries created %s (%s)\n",
                        bt_report_by_name(r->opts.by), window, version);
    if (r->judged_by > 0)
        rc |= bt_buf_printf(&b, "Won and lost as motion version %lld (%s) names them.\n\n",
                            r->judged_by, r->motion_name ? r->motion_name : "unnamed");
    else
        rc |= bt_buf_adds(&b, "No motion version to judge by: no deal counts as won or lost.\n\n");

    row = grid_row(&g);
    row[0] = bt_strdup(bt_report_by_name(r->opts.by));
    for (size_t k = 0; k < N_COUNTS; k++)
        row[1 + k] = bt_strdup(count_names[k]);
    if (asset)
        row[cols - 1] = bt_strdup("verdict");
    g.left[0] = true;
    g.left[cols - 1] = asset;
    grid_row(&g); /* a rule */
    for (size_t i = 0; i < r->n_rows; i++) {
        row = grid_row(&g);
        row[0] = bt_strdup(r->rows[i].key ? r->rows[i].key : "-");
        counts_cells(row, &r->rows[i].c);
        if (asset)
            row[cols - 1] = bt_strdup(bt_report_verdict_name(r->rows[i].verdict));
    }
    grid_row(&g);
    row = grid_row(&g);
    row[0] = bt_strdup("total");
    counts_cells(row, &r->totals);
    /* A grid of nothing but a zero total says less than a sentence. */
    if (r->n_rows)
        rc |= grid_print(&g, &b);
    else
        rc |= bt_buf_adds(&b, "No deliveries were created in this window.\n");
    if (asset && r->n_rows)
        rc |= legend(r, &b);
    grid_free(&g);
    bt_free(window);
    bt_free(version);
    if (rc) {
        bt_buf_free(&b);
        return BT_ETOOBIG;
    }
    *out = bt_buf_steal(&b);
    return 0;
}

int bt_report_render(const struct bt_report *r, enum bt_report_format f, char **out)
{
    *out = NULL;
    switch (f) {
    case BT_REPORT_TABLE:
        return report_table(r, out);
    case BT_REPORT_JSON:
        return report_json(r, out);
    case BT_REPORT_CSV:
        return report_csv(r, out);
    }
    return BT_EINVAL;
}

/* ---- opens over time, versions ---- */

int bt_report_days_render(const struct bt_report_days *d, enum bt_report_format f, char **out)
{
    struct bt_buf b;
    json_t *j, *arr;
    int rc = 0;

    *out = NULL;
    if (f == BT_REPORT_JSON) {
        j = json_object();
        arr = json_array();
        json_object_set_new(j, "since", str_or_null(d->opts.since));
        json_object_set_new(j, "until", str_or_null(d->opts.until));
        json_object_set_new(j, "motion_version",
                            d->opts.motion_version > 0 ? json_integer(d->opts.motion_version)
                                                       : json_null());
        for (size_t i = 0; i < d->n; i++) {
            json_t *o = json_object();

            json_object_set_new(o, "day", json_string(d->v[i].day));
            json_object_set_new(o, "delivered", json_integer(d->v[i].delivered));
            json_object_set_new(o, "opened", json_integer(d->v[i].opened));
            json_array_append_new(arr, o);
        }
        json_object_set_new(j, "days", arr);
        rc = dump_json(j, out);
        json_decref(j);
        return rc;
    }
    if (f != BT_REPORT_TABLE && f != BT_REPORT_CSV)
        return BT_EINVAL;
    bt_buf_init(&b, OUTPUT_CAP);
    if (f == BT_REPORT_CSV)
        rc |= bt_buf_adds(&b, "day,delivered,opened\r\n");
    else
        rc |= bt_buf_printf(&b, "%-10s  %9s  %6s\n", "day", "delivered", "opened");
    for (size_t i = 0; i < d->n && !rc; i++)
        rc |= bt_buf_printf(&b, f == BT_REPORT_CSV ? "%s,%lld,%lld\r\n" : "%-10s  %9lld  %6lld\n",
                            d->v[i].day, d->v[i].delivered, d->v[i].opened);
    if (rc) {
        bt_buf_free(&b);
        return BT_ETOOBIG;
    }
    *out = bt_buf_steal(&b);
    return 0;
}

int bt_report_versions_render(const struct bt_report_versions *v, enum bt_report_format f,
                              char **out)
{
    struct bt_buf b;
    json_t *j, *arr;
    int rc = 0;

    *out = NULL;
    if (f == BT_REPORT_JSON) {
        j = json_object();
        arr = json_array();
        for (size_t i = 0; i < v->n; i++) {
            json_t *o = json_object();

            json_object_set_new(o, "version", json_integer(v->v[i].version));
            json_object_set_new(o, "name", json_string(v->v[i].name));
            json_object_set_new(o, "activated_at", str_or_null(v->v[i].activated_at));
            json_object_set_new(o, "active", json_boolean(v->v[i].active));
            json_array_append_new(arr, o);
        }
        json_object_set_new(j, "versions", arr);
        rc = dump_json(j, out);
        json_decref(j);
        return rc;
    }
    if (f != BT_REPORT_TABLE && f != BT_REPORT_CSV)
        return BT_EINVAL;
    bt_buf_init(&b, OUTPUT_CAP);
    if (f == BT_REPORT_CSV)
        rc |= bt_buf_adds(&b, "version,name,activated_at,active\r\n");
    for (size_t i = 0; i < v->n && !rc; i++) {
        const struct bt_report_version *e = &v->v[i];

        if (f == BT_REPORT_CSV) {
            rc |= bt_buf_printf(&b, "%lld,", e->version);
            rc |= bt_report_csv_field(&b, e->name);
            rc |= bt_buf_printf(&b, ",%s,%s\r\n", e->activated_at ? e->activated_at : "",
                                e->active ? "true" : "false");
        } else {
            rc |= bt_buf_printf(&b, "%c %6lld  %-20s  %s\n", e->active ? '*' : ' ', e->version,
                                e->activated_at ? e->activated_at : "never activated", e->name);
        }
    }
    if (rc) {
        bt_buf_free(&b);
        return BT_ETOOBIG;
    }
    *out = bt_buf_steal(&b);
    return 0;
}
