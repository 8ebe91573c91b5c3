/* report — the adoption report: per asset, stage, competitor, rep or play,
 * how many deliveries were created, delivered, failed, unroutable and opened,
 * how soon they were opened, and how the deals where an asset was opened
 * ended against those where it was not; for assets, a verdict (shelfware,
 * too early, ignored, adopted) with the action it calls for. Also the opens
 * per day behind the dashboard's chart and the motion versions to filter by.
 *
 * Every report comes in three steps, so that the daemon can run it without
 * blocking and the `baton` command with a plain connection:
 *   (a) bt_report_*_query() fills a struct bt_report_query: ONE statement
 *       and its text parameters (send it with PQexecParams, PQsendQueryParams
 *       or bt_pg_batch_add; nothing outside ever reaches the SQL text);
 *   (b) bt_report_*_from_result() reads that statement's PGresult into a
 *       report struct (the caller keeps and clears the PGresult);
 *   (c) bt_report_*_render() writes the struct as a table, JSON or CSV.
 * The adoption statement does not need the motion, so the daemon may send
 * it in one batch with the motion statement (bt_report_motion_query) when
 * the report is about a version other than the one it holds.
 *
 * Pure functions of their arguments: no I/O, no callbacks, no globals;
 * callable from any callback. Everything handed out is new and owned by the
 * caller, freed with the matching _free; strings with bt_free. */
#ifndef BT_REPORT_H
#define BT_REPORT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "err.h"
#include "mem.h"
#include "motion.h"

enum bt_report_by {
    BT_REPORT_BY_ASSET,
    BT_REPORT_BY_STAGE, /* the deal's stage when the delivery was created */
    BT_REPORT_BY_COMPETITOR,
    BT_REPORT_BY_REP,
    BT_REPORT_BY_PLAY
};

enum bt_report_format { BT_REPORT_TABLE, BT_REPORT_JSON, BT_REPORT_CSV };

/* "2024-05-01T00:00:00Z", or with up to 9 fraction digits: 40 is plenty. */
#define BT_REPORT_TIME_LEN 40

struct bt_report_opts {
    enum bt_report_by by;           /* asset */
    enum bt_report_format format;   /* table */
    char since[BT_REPORT_TIME_LEN]; /* created_at >= since; "" = open */
    char until[BT_REPORT_TIME_LEN]; /* created_at < until; "" = open */
    long long motion_version;       /* only deliveries of this version, judged by
                                     * it; 0 = every version, judged by the
                                     * active one */
    unsigned min_deliveries;        /* fewer deliveries: too early (5) */
    double ignored_below;           /* lower open rate: ignored (0.2) */
    /* The window as instants, for comparing: seconds since the epoch and
     * nanoseconds. Set by bt_report_opts_set together with since / until. */
    long long since_s, until_s;
    long since_ns, until_ns;
};

/* The defaults above (the daemon then copies cfg->report's thresholds). */
void bt_report_opts_init(struct bt_report_opts *o);

/* Sets one option from text, as a query string or the command line gives
 * it. KEY: by, format, since, until, motion_version, min_deliveries,
 * ignored_below ('-' may stand for '_'). Dates are YYYY-MM-DD (midnight UTC)
 * or RFC 3339 (2024-05-01T08:00:00+02:00), kept normalized to UTC. Returns
 * 0; BT_ENOENT for an unknown KEY; BT_EINVAL with a reason in ERR (without
 * the key's name: the caller says "--by" or "by") for a bad value. */
int bt_report_opts_set(struct bt_report_opts *o, const char *key, const char *value, char *err,
                       size_t errlen) BT_MUST_CHECK;
/* What holds between options once all are set: since before until.
 * Returns 0 or BT_EINVAL with a reason in ERR. */
int bt_report_opts_check(const struct bt_report_opts *o, char *err, size_t errlen) BT_MUST_CHECK;

/* Step (a)'s output. The parameters point into the struct itself: fill it
 * where it will be used and do not copy it (bt_pg_batch_add copies them). */
#define BT_REPORT_MAX_PARAMS 3
struct bt_report_query {
    const char *sql; /* static text */
    int n_params;
    const char *params[BT_REPORT_MAX_PARAMS]; /* text; NULL = SQL NULL */
    char text[BT_REPORT_MAX_PARAMS][BT_REPORT_TIME_LEN];
};

/* ---- the adoption report ---- */

struct bt_report_counts {
    long long matched;   /* deliveries created */
    long long delivered; /* status sent */
    long long failed;    /* failed or dead */
    long long unroutable;
    long long opened; /* delivered, and opened by a person */
    bool has_median;
    double median_minutes_to_open; /* over opened deliveries, when has_median */
    /* Delivered deliveries whose deal is now in a won / lost stage of the
     * motion, by whether the delivery was opened. */
    long long won_opened, lost_opened, won_not_opened, lost_not_opened;
};

enum bt_verdict {
    BT_VERDICT_NONE,      /* not judged: the report is not by asset */
    BT_VERDICT_SHELFWARE, /* never delivered in the window */
    BT_VERDICT_TOO_EARLY, /* delivered fewer than min_deliveries times */
    BT_VERDICT_IGNORED,   /* open rate below ignored_below */
    BT_VERDICT_ADOPTED
};

struct bt_report_row {
    char *key; /* asset, stage, competitor, rep or play id; NULL: none */
    struct bt_report_counts c;
    enum bt_verdict verdict;
};

struct bt_report {
    struct bt_report_opts opts;
    long long judged_by;        /* the motion version read for outcomes and assets; 0: none */
    char *motion_name;          /* its name; NULL without one */
    struct bt_report_row *rows; /* matched descending, then key (none last) */
    size_t n_rows;
    struct bt_report_counts totals;
};

/* (a) The report's statement: every delivery in the window (and version),
 * counted per group and, for outcomes, per the deal's current stage.
 * BT_EINVAL only for options outside their enums. */
int bt_report_query(const struct bt_report_opts *o, struct bt_report_query *q) BT_MUST_CHECK;

/* (b) Reads RES, the result of bt_report_query(O)'s statement. M is the
 * motion that names the won and lost stages and, by asset, the assets that
 * are listed (as shelfware) even if never delivered: the version
 * O->motion_version when given, else the active one; JUDGED_BY is its
 * number. Without a motion (M NULL) no deal counts as won or lost and only
 * delivered assets are listed. Returns 0 with *out new (bt_report_free);
 * BT_EDB when RES is not a successful result (PQresultErrorMessage says
 * why); BT_EINVAL when it is not this statement's. */
int bt_report_from_result(const struct bt_report_opts *o, const PGresult *res,
                          const struct bt_motion *m, long long judged_by,
                          struct bt_report **out) BT_MUST_CHECK;
void bt_report_free(struct bt_report *r); /* NULL-safe */

/* (c) The report as a table for a terminal, JSON or CSV (RFC 4180, CRLF
 * line ends, a header row and one row per group): *out new. BT_ETOOBIG
 * beyond 64 MiB; BT_EINVAL for an unknown format. */
int bt_report_render(const struct bt_report *r, enum bt_report_format f, char **out) BT_MUST_CHECK;

/* The parts, for other front ends and the tests. */
/* Opened / delivered in *rate; false (rate untouched) when none was delivered. */
bool bt_report_open_rate(const struct bt_report_counts *c, double *rate);
enum bt_verdict bt_report_verdict(const struct bt_report_counts *c, unsigned min_deliveries,
                                  double ignored_below);
const char *bt_report_verdict_name(enum bt_verdict v);   /* "shelfware", ...; "" for NONE */
const char *bt_report_verdict_action(enum bt_verdict v); /* "fix the motion or ..." */
const char *bt_report_by_name(enum bt_report_by by);     /* "asset", ... */
/* One CSV field, quoted when it must be (RFC 4180), appended to B. */
int bt_report_csv_field(struct bt_buf *b, const char *s) BT_MUST_CHECK;

/* ---- the motion a report is judged by ---- */

/* (a) The stored document of O->motion_version, or of the active version. */
int bt_report_motion_query(const struct bt_report_opts *o,
                           struct bt_report_query *q) BT_MUST_CHECK;
/* (b) Parses the document in RES: 0 with *m (one reference) and *version;
 * BT_ENOENT when there is no such version (or none is active); BT_EDB;
 * BT_EINVAL when the stored document does not validate with this build,
 * every problem in DIAGS. */
int bt_report_motion_from_result(const PGresult *res, struct bt_motion **m, long long *version,
                                 struct bt_diags *diags) BT_MUST_CHECK;

/* ---- opens over time ---- */

struct bt_report_day {
    char day[11];        /* "2024-05-01", UTC */
    long long delivered; /* deliveries sent that day */
    long long opened;    /* of those, opened by a person (on any day since) */
};

struct bt_report_days {
    struct bt_report_opts opts;
    struct bt_report_day *v; /* every day from the first to the last delivery */
    size_t n;
};

/* (a) Deliveries in the window (and version) of O, per day they were sent. */
int bt_report_days_query(const struct bt_report_opts *o, struct bt_report_query *q) BT_MUST_CHECK;
/* (b) BT_EDB, BT_EINVAL as bt_report_from_result. */
int bt_report_days_from_result(const struct bt_report_opts *o, const PGresult *res,
                               struct bt_report_days **out) BT_MUST_CHECK;
void bt_report_days_free(struct bt_report_days *d); /* NULL-safe */
/* (c) Columns day, delivered, opened; JSON {"since", "until",
 * "motion_version", "days": [{"day", "delivered", "opened"}]}. */
int bt_report_days_render(const struct bt_report_days *d, enum bt_report_format f,
                          char **out) BT_MUST_CHECK;

/* ---- the motion versions, for a filter ---- */

struct bt_report_version {
    long long version;
    char *name;
    char *activated_at; /* the last activation, ISO-8601 UTC; NULL: never */
    bool active;
};

struct bt_report_versions {
    struct bt_report_version *v; /* newest first */
    size_t n;
};

/* (a) No parameters. */
void bt_report_versions_query(struct bt_report_query *q);
/* (b) BT_EDB, BT_EINVAL as bt_report_from_result. */
int bt_report_versions_from_result(const PGresult *res,
                                   struct bt_report_versions **out) BT_MUST_CHECK;
void bt_report_versions_free(struct bt_report_versions *v); /* NULL-safe */
/* (c) JSON {"versions": [{"version", "name", "activated_at", "active"}]};
 * a table; CSV with those columns. */
int bt_report_versions_render(const struct bt_report_versions *v, enum bt_report_format f,
                              char **out) BT_MUST_CHECK;

#endif
