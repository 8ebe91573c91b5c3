/* baton report — the adoption report on the command line: lib/report's
 * statements sent over a plain blocking connection (a command does one
 * thing and exits), rendered to standard output. */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "diag.h"
#include "mem.h"
#include "migrate.h"
#include "motion.h"
#include "report.h"

static const char usage[] =
    "report --db CONNINFO [--since DATE] [--until DATE]\n"
    "       [--by asset|stage|competitor|rep|play] [--motion-version N]\n"
    "       [--format table|json|csv] [--min-deliveries N] [--ignored-below X]";
static const char help[] =
    "\n"
    "DATE is YYYY-MM-DD (midnight UTC) or RFC 3339; deliveries created from\n"
    "--since (inclusive) until --until (exclusive) are counted. --motion-version\n"
    "keeps that version's deliveries and judges them by it; otherwise every\n"
    "version's deliveries are judged by the active one. An asset delivered fewer\n"
    "than --min-deliveries times (5) is too early to judge; one opened by fewer\n"
    "than --ignored-below (0.2) of its deliveries is ignored.";

static int usage_error(const char *what, const char *why)
{
    fprintf(stderr, "baton report: %s%s%s\nusage: baton %s\n", what, why ? ": " : "",
            why ? why : "", usage);
    return CLI_USAGE;
}

/* "--opt VALUE" and "--opt=VALUE". Returns 0; -1 after printing the usage
 * asked for with --help; CLI_USAGE after saying what is wrong. */
static int parse_args(int argc, char **argv, struct bt_report_opts *o, const char **db)
{
    char err[256], name[64];
    int rc = 0;

    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i], *eq = strchr(a, '='), *value = NULL;
        size_t len = strlen(a);

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: baton %s\n%s\n", usage, help);
            return -1;
        }
        if (a[0] == '-' && strncmp(a, "--", 2) != 0 && len > 1) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq ? eq - a : 40), a);
            rc = usage_error("unknown option", name);
            break;
        }
        if (strncmp(a, "--", 2) != 0 || len == 2) {
            rc = usage_error(eq ? "unexpected argument (a connection string? give it with --db)"
                                : "unexpected argument",
                             NULL);
            break;
        }
        if (eq) {
            len = (size_t)(eq - a);
            value = eq + 1;
        }
        /* Only the option's name is ever echoed: a value may be a
         * connection string with a password in it. */
        snprintf(name, sizeof(name), "%.*s", (int)(len < 40 ? len : 40), a);
        if (!value) {
            if (i + 1 >= argc) {
                rc = usage_error(name, "needs a value");
                break;
            }
            value = argv[++i];
        }
        if (!strcmp(name, "--db")) {
            *db = value;
            continue;
        }
        /* Formats and groupings are the query string's names too, but a
         * person types the command line: --motion-version, not _. */
        if (strchr(name + 2, '_') || strlen(name) != len) {
            rc = usage_error("unknown option", name);
            break;
        }
        switch (bt_report_opts_set(o, name + 2, value, err, sizeof(err))) {
        case 0:
            break;
        case BT_ENOENT:
            rc = usage_error("unknown option", name);
            break;
        default:
            rc = usage_error(name, err);
            break;
        }
    }
    if (!rc && bt_report_opts_check(o, err, sizeof(err)) < 0)
        rc = usage_error(err, NULL);
    return rc;
}

static bool contains_nocase(const char *s, const char *word)
{
    size_t n = strlen(word);

    for (; *s; s++)
        if (!strncasecmp(s, word, n))
            return true;
    return false;
}

/* A copy of MSG without trailing blanks and with every occurrence of
 * SECRET replaced: libpq's messages may quote the connection string. */
static char *clean_message(const char *msg, const char *secret)
{
    struct bt_buf b;
    size_t n = secret ? strlen(secret) : 0;
    const char *p = msg, *hit;
    int rc = 0;

    bt_buf_init(&b, 1u << 20);
    while (n && (hit = strstr(p, secret)) != NULL) {
        rc |= bt_buf_add(&b, p, (size_t)(hit - p));
        rc |= bt_buf_adds(&b, "***");
        p = hit + n;
    }
    rc |= bt_buf_adds(&b, p);
    (void)rc; /* a libpq message is far below the cap */
    while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
        b.data[--b.len] = '\0';
    return bt_buf_steal(&b);
}

static PGconn *connect_db(const char *conninfo)
{
    PQconninfoOption *opts;
    char *err = NULL, *password = NULL, *msg = NULL;
    PGconn *conn = NULL;

    opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        if (err && !contains_nocase(conninfo, "password") && !strchr(conninfo, '@'))
            fprintf(stderr, "baton report: invalid database connection string: %s", err);
        else
            fprintf(stderr, "baton report: invalid database connection string\n");
        goto out;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && *o->val)
            password = bt_strdup(o->val);
    conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        msg = clean_message(PQerrorMessage(conn), password);
        fprintf(stderr, "baton report: cannot connect to the database: %s\n", msg);
        PQfinish(conn);
        conn = NULL;
    }
out:
    PQfreemem(err);
    PQconninfoFree(opts);
    bt_free(password);
    bt_free(msg);
    return conn;
}

static void print_db_error(const PGresult *res)
{
    char *msg = clean_message(PQresultErrorMessage(res), NULL);

    fprintf(stderr, "baton report: database error: %s\n", *msg ? msg : "unknown");
    bt_free(msg);
}

static PGresult *run(PGconn *conn, const struct bt_report_query *q)
{
    return PQexecParams(conn, q->sql, q->n_params, NULL, q->params, NULL, NULL, 0);
}

/* The motion the report is judged by; prints why not on failure. */
static int read_motion(PGconn *conn, const struct bt_report_opts *o, struct bt_motion **m,
                       long long *version)
{
    struct bt_report_query q;
    struct bt_diags diags;
    PGresult *res = NULL;
    int rc, err;

    bt_diags_init(&diags);
    rc = CLI_FAIL;
    if (bt_report_motion_query(o, &q) < 0)
        goto out;
    res = run(conn, &q);
    err = bt_report_motion_from_result(res, m, version, &diags);
    rc = err < 0 ? CLI_FAIL : CLI_OK;
    if (err == BT_EDB) {
        print_db_error(res);
    } else if (err == BT_ENOENT && o->motion_version > 0) {
        fprintf(stderr,
                "baton report: there is no motion version %lld (see baton motion "
                "--history)\n",
                o->motion_version);
    } else if (err == BT_ENOENT) {
        fprintf(stderr, "baton report: no motion version is active: load one with "
                        "baton load FILE\n");
    } else if (err < 0) {
        bt_diags_sort(&diags);
        bt_diags_print(&diags, stderr);
        fprintf(stderr, "baton report: the stored motion does not validate with this baton\n");
    }
out:
    PQclear(res);
    bt_diags_free(&diags);
    return rc;
}

int cli_report(int argc, char **argv)
{
    struct bt_report_opts o;
    struct bt_report_query q;
    struct bt_report *r = NULL;
    struct bt_motion *m = NULL;
    struct bt_diags diags;
    const char *db = NULL, *conninfo;
    char *text = NULL;
    PGconn *conn = NULL;
    PGresult *res = NULL;
    long long version = 0;
    int rc, err;

    bt_diags_init(&diags);
    bt_report_opts_init(&o);
    rc = parse_args(argc, argv, &o, &db);
    if (rc != 0) {
        rc = rc < 0 ? CLI_OK : rc;
        goto out;
    }
    conninfo = cli_conninfo(db);
    if (!conninfo) {
        rc = CLI_USAGE;
        goto out;
    }
    conn = connect_db(conninfo);
    if (!conn) {
        rc = CLI_FAIL;
        goto out;
    }
    /* A database behind this build's schema is refused as batond would
     * refuse it; without a schema directory at hand (a build tree) only
     * "no schema at all" can be told, and that was checked. */
    err = bt_migrate_check(conn, bt_migrate_default_dir(), "baton", &diags);
    if (err < 0 && err != BT_EIO && err != BT_EINVAL) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "baton report: %s\n", diags.v[i].msg);
        if (!diags.n)
            fprintf(stderr, "baton report: %s\n", bt_strerror(err));
        rc = CLI_FAIL;
        goto out;
    }
    rc = read_motion(conn, &o, &m, &version);
    if (rc != CLI_OK)
        goto out;
    rc = CLI_FAIL;
    if (bt_report_query(&o, &q) < 0)
        goto out;
    res = run(conn, &q);
    err = bt_report_from_result(&o, res, m, version, &r);
    if (err == BT_EDB) {
        print_db_error(res);
        goto out;
    }
    if (err < 0) {
        fprintf(stderr, "baton report: unexpected result from the database\n");
        goto out;
    }
    if (bt_report_render(r, o.format, &text) < 0) {
        fprintf(stderr, "baton report: the report is too large to print\n");
        goto out;
    }
    fputs(text, stdout);
    rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
out:
    bt_free(text);
    bt_report_free(r);
    bt_motion_unref(m);
    PQclear(res);
    PQfinish(conn);
    bt_diags_free(&diags);
    return rc;
}
