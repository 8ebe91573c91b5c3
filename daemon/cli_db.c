/* The commands that talk to the database: migrate, load, motion and diff.
 * Blocking libpq is fine here: a command does one thing and exits. */
#include <ctype.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "diag.h"
#include "mdiff.h"
#include "mem.h"
#include "migrate.h"
#include "motion.h"
#include "versions.h"

/* Options of every command here; each command says which it accepts. */
struct opts {
    const char *cmd;
    const char *file; /* the one positional argument */
    const char *db, *schema, *by;
    long long version; /* --version N; 0: the active one */
    bool history, json, document;
};

enum {
    O_FILE = 1 << 0,
    O_SCHEMA = 1 << 1,
    O_BY = 1 << 2,
    O_HISTORY = 1 << 3,
    O_JSON = 1 << 4,
    O_DOCUMENT = 1 << 5,
    O_VERSION = 1 << 6
};

static int usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "baton %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: baton %s\n", usage);
    return CLI_USAGE;
}

/* Accepts "--opt VALUE" and "--opt=VALUE". Returns 0; -1 after printing
 * the usage asked for with --help (the command is done: exit 0); or
 * CLI_USAGE after saying what is wrong. */
static int parse_opts(int argc, char **argv, unsigned allowed, const char *usage, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        size_t name_len = eq && !strncmp(a, "--", 2) ? (size_t)(eq - a) : strlen(a);
        const char *value = eq && !strncmp(a, "--", 2) ? eq + 1 : NULL;
        const char **slot = NULL;

#define IS(opt) (name_len == strlen(opt) && !strncmp(a, opt, name_len))
        if (IS("-h") || IS("--help")) {
            printf("usage: baton %s\n", usage);
            return -1;
        } else if (IS("--db")) {
            slot = &o->db;
        } else if (IS("--schema") && (allowed & O_SCHEMA)) {
            slot = &o->schema;
        } else if (IS("--by") && (allowed & O_BY)) {
            slot = &o->by;
        } else if (IS("--history") && (allowed & O_HISTORY) && !value) {
            o->history = true;
            continue;
        } else if (IS("--json") && (allowed & O_JSON) && !value) {
            o->json = true;
            continue;
        } else if (IS("--document") && (allowed & O_DOCUMENT) && !value) {
            o->document = true;
            continue;
        } else if (IS("--version") && (allowed & O_VERSION)) {
            const char *v = value ? value : (i + 1 < argc ? argv[++i] : NULL);
            char *end;

            if (!v)
                return usage_error(o->cmd, usage, "%s needs a value", "--version");
            o->version = strtoll(v, &end, 10);
            if (!*v || *end || o->version <= 0)
                return usage_error(o->cmd, usage, "--version: not a version number: %s", v);
            continue;
        } else if (a[0] == '-' && a[1] != '\0') {
            /* Only the name: the value may be a connection string. */
            return usage_error(o->cmd, usage, "unknown option %.*s", (int)name_len, a);
        } else if ((allowed & O_FILE) && !o->file) {
            o->file = a;
            continue;
        } else if (strchr(a, '=')) {
            return usage_error(o->cmd, usage,
                               "unexpected argument (a connection string? give it with --db)");
        } else {
            return usage_error(o->cmd, usage, "unexpected argument %s", a);
        }
#undef IS
        if (!value) {
            if (i + 1 >= argc)
                return usage_error(o->cmd, usage, "%s needs a value", a);
            value = argv[++i];
        }
        *slot = value;
    }
    if ((allowed & O_FILE) && !o->file)
        return usage_error(o->cmd, usage, "no FILE given");
    return 0;
}

/* A copy of MSG with every occurrence of SECRET replaced. */
static char *redact(const char *msg, const char *secret)
{
    struct bt_buf b;
    size_t n = secret ? strlen(secret) : 0;
    const char *p = msg, *hit;
    int rc = 0;

    if (!n)
        return bt_strdup(msg);
    bt_buf_init(&b, 1u << 20);
    while ((hit = strstr(p, secret)) != NULL) {
        rc |= bt_buf_add(&b, p, (size_t)(hit - p));
        rc |= bt_buf_adds(&b, "***");
        p = hit + n;
    }
    rc |= bt_buf_adds(&b, p);
    (void)rc; /* a libpq message is far below the cap */
    return bt_buf_steal(&b);
}

static bool contains_nocase(const char *s, const char *word)
{
    size_t n = strlen(word);

    for (; *s; s++)
        if (!strncasecmp(s, word, n))
            return true;
    return false;
}

/* Connects, or says why not without ever echoing the password: libpq's
 * messages may quote pieces of the connection string. */
static PGconn *connect_db(const char *cmd, const char *conninfo)
{
    PQconninfoOption *opts;
    char *err = NULL, *password = NULL, *msg = NULL;
    PGconn *conn = NULL;
    size_t len;

    opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        /* Unparseable: the message may quote any part of the string, a
         * password included, unless the string has none. */
        if (err && !contains_nocase(conninfo, "password") && !strchr(conninfo, '@'))
            fprintf(stderr, "baton %s: invalid database connection string: %s", cmd, err);
        else
            fprintf(stderr, "baton %s: invalid database connection string\n", cmd);
        goto out;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && *o->val)
            password = bt_strdup(o->val);
    conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        msg = redact(PQerrorMessage(conn), password);
        len = strlen(msg);
        while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
            msg[--len] = '\0';
        fprintf(stderr, "baton %s: cannot connect to the database: %s\n", cmd, msg);
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

static void print_db_error(const char *cmd, PGconn *conn)
{
    char *msg = bt_strdup(PQerrorMessage(conn));
    size_t len = strlen(msg);

    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        msg[--len] = '\0';
    fprintf(stderr, "baton %s: database error: %s\n", cmd, *msg ? msg : "unknown");
    bt_free(msg);
}

/* The motion tables need a migrated database; a schema behind the one this
 * build knows is refused as batond would refuse it. */
static int check_schema(const char *cmd, PGconn *conn)
{
    struct bt_diags diags;
    int rc;

    bt_diags_init(&diags);
    rc = bt_migrate_check(conn, bt_migrate_default_dir(), "baton", &diags);
    /* Without a schema directory at hand (run from a build tree, say) only
     * "no schema at all" can be told, and that was checked. */
    if (rc == BT_EIO || rc == BT_EINVAL)
        rc = 0;
    for (size_t i = 0; rc < 0 && i < diags.n; i++)
        fprintf(stderr, "baton %s: %s\n", cmd, diags.v[i].msg);
    bt_diags_free(&diags);
    return rc < 0 ? CLI_FAIL : CLI_OK;
}

/* Reads and validates FILE; on failure prints every problem, in file order. */
static struct bt_motion *load_motion(const char *cmd, const char *file)
{
    struct bt_motion *m = NULL;
    struct bt_diags diags;

    bt_diags_init(&diags);
    if (bt_motion_load(file, &m, &diags) < 0) {
        bt_diags_sort(&diags);
        bt_diags_print(&diags, stderr);
        fprintf(stderr, "baton %s: %s is not valid (%zu problem%s)\n", cmd, file, diags.n,
                diags.n == 1 ? "" : "s");
        m = NULL;
    }
    bt_diags_free(&diags);
    return m;
}

/* What load and diff both do first: the options, a valid motion (checked
 * before connecting, so an invalid file changes nothing even with the
 * database down), a connection and a schema that is up to date. Returns
 * CLI_OK with *M and *CONN set, or the exit status (-1: --help printed). */
static int motion_and_db(int argc, char **argv, unsigned allowed, const char *usage,
                         struct opts *o, struct bt_motion **m, PGconn **conn)
{
    const char *conninfo;
    int rc = parse_opts(argc, argv, allowed, usage, o);

    if (rc != 0)
        return rc;
    conninfo = cli_conninfo(o->db);
    if (!conninfo)
        return CLI_USAGE;
    *m = load_motion(o->cmd, o->file);
    if (!*m)
        return CLI_FAIL;
    *conn = connect_db(o->cmd, conninfo);
    if (!*conn)
        return CLI_FAIL;
    return check_schema(o->cmd, *conn);
}

int cli_migrate(int argc, char **argv)
{
    static const char usage[] = "migrate --db CONNINFO [--schema DIR]";
    struct opts o;
    struct bt_diags diags;
    const char *conninfo, *dir;
    PGconn *conn = NULL;
    int rc, current = 0, latest = 0, applied;

    bt_diags_init(&diags);
    rc = parse_opts(argc, argv, O_SCHEMA, usage, &o);
    if (rc != 0) {
        rc = rc < 0 ? CLI_OK : rc;
        goto out;
    }
    conninfo = cli_conninfo(o.db);
    if (!conninfo) {
        rc = CLI_USAGE;
        goto out;
    }
    dir = o.schema ? o.schema : bt_migrate_default_dir();
    conn = connect_db(o.cmd, conninfo);
    if (!conn) {
        rc = CLI_FAIL;
        goto out;
    }
    applied = bt_migrate_apply(conn, dir, stdout, &diags);
    if (applied < 0) {
        bt_diags_print(&diags, stderr);
        fprintf(stderr, "baton migrate: %s\n", bt_strerror(applied));
        rc = CLI_FAIL;
        goto out;
    }
    if (bt_migrate_status(conn, dir, &current, &latest) < 0) {
        print_db_error(o.cmd, conn);
        rc = CLI_FAIL;
        goto out;
    }
    if (applied == 0)
        printf("schema is up to date (version %d)\n", current);
    else
        printf("schema is now at version %d\n", current);
    if (current > latest)
        printf("note: the database is at version %d, newer than the newest migration "
               "in %s (%d)\n",
               current, dir, latest);
    rc = CLI_OK;
out:
    PQfinish(conn);
    bt_diags_free(&diags);
    return rc;
}

/* "abcdef123456…": enough of a hash to tell versions apart at a glance. */
static void short_sha(const char *sha, char out[16])
{
    snprintf(out, 16, "%.12s", sha ? sha : "");
}

int cli_load(int argc, char **argv)
{
    static const char usage[] = "load FILE --db CONNINFO [--by NAME]";
    struct bt_load_result res;
    struct bt_motion *m = NULL;
    struct opts o;
    const char *name;
    char *source = NULL;
    char sha[16];
    PGconn *conn = NULL;
    int rc;

    rc = motion_and_db(argc, argv, O_FILE | O_BY, usage, &o, &m, &conn);
    if (rc != CLI_OK) {
        rc = rc < 0 ? CLI_OK : rc;
        goto out;
    }
    /* Recorded as an absolute path: a relative one means nothing later. */
    source = realpath(o.file, NULL);
    if (bt_versions_load(conn, m, source ? source : o.file, o.by, &res) < 0) {
        fprintf(stderr, "baton load: %s\n", res.error);
        rc = CLI_FAIL;
        goto out;
    }
    short_sha(res.sha256, sha);
    name = bt_motion_name(m) ? bt_motion_name(m) : "unnamed";
    switch (res.outcome) {
    case BT_LOAD_NEW:
        printf("loaded version %lld (%s, sha256 %s\u2026)\n", res.version, name, sha);
        break;
    case BT_LOAD_REACTIVATED:
        printf("re-activated version %lld (%s, sha256 %s\u2026): this file was loaded before\n",
               res.version, name, sha);
        break;
    case BT_LOAD_UNCHANGED:
        printf("unchanged: version %lld is already active\n", res.version);
        break;
    }
    rc = CLI_OK;
out:
    free(source);
    PQfinish(conn);
    bt_motion_unref(m);
    return rc;
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A new reference. */
static json_t *version_json(const struct bt_version *v, bool with_activations)
{
    json_t *j = json_object();

    json_object_set_new(j, "version", json_integer(v->version));
    json_object_set_new(j, "name", jstr(v->name));
    json_object_set_new(j, "sha256", jstr(v->sha256));
    json_object_set_new(j, "source_file", jstr(v->source_file));
    json_object_set_new(j, "loaded_at", jstr(v->loaded_at));
    json_object_set_new(j, "loaded_by", jstr(v->loaded_by));
    json_object_set_new(j, "active", json_boolean(v->active));
    if (v->n_activations) {
        json_object_set_new(j, "activated_at", jstr(v->activations[0].at));
        json_object_set_new(j, "activated_by", jstr(v->activations[0].by));
    }
    if (with_activations) {
        json_t *acts = json_array();

        for (size_t i = 0; i < v->n_activations; i++) {
            json_t *a = json_object();

            json_object_set_new(a, "at", jstr(v->activations[i].at));
            json_object_set_new(a, "by", jstr(v->activations[i].by));
            json_array_append_new(acts, a);
        }
        json_object_set_new(j, "activations", acts);
    }
    if (v->document)
        json_object_set_new(j, "document", json_stringn(v->document, v->document_len));
    return j;
}

static void print_version(const struct bt_version *v, bool history)
{
    char sha[16];

    short_sha(v->sha256, sha);
    if (history) {
        printf("%c version %lld  %s  sha256 %s\u2026\n", v->active ? '*' : ' ', v->version,
               v->name, sha);
        printf("      loaded     %s by %s%s%s\n", v->loaded_at, v->loaded_by,
               v->source_file ? " from " : "", v->source_file ? v->source_file : "");
        for (size_t i = 0; i < v->n_activations; i++)
            printf("      activated  %s by %s\n", v->activations[i].at, v->activations[i].by);
        return;
    }
    printf("version %lld: %s%s\n", v->version, v->name, v->active ? "" : " (not active)");
    printf("  sha256     %s\n", v->sha256);
    printf("  loaded     %s by %s\n", v->loaded_at, v->loaded_by);
    if (v->source_file)
        printf("  from       %s\n", v->source_file);
    if (v->n_activations)
        printf("  activated  %s by %s\n", v->activations[0].at, v->activations[0].by);
}

int cli_motion(int argc, char **argv)
{
    static const char usage[] =
        "motion --db CONNINFO [--history] [--json] [--version N] [--document]";
    struct bt_version *v = NULL;
    struct bt_history h = {0};
    struct opts o;
    const char *conninfo;
    PGconn *conn = NULL;
    json_t *out = NULL;
    int rc, err;

    rc = parse_opts(argc, argv, O_HISTORY | O_JSON | O_VERSION | O_DOCUMENT, usage, &o);
    if (rc != 0) {
        rc = rc < 0 ? CLI_OK : rc;
        goto out;
    }
    conninfo = cli_conninfo(o.db);
    if (!conninfo) {
        rc = CLI_USAGE;
        goto out;
    }
    conn = connect_db(o.cmd, conninfo);
    if (!conn) {
        rc = CLI_FAIL;
        goto out;
    }
    rc = check_schema(o.cmd, conn);
    if (rc != CLI_OK)
        goto out;
    err = o.version ? bt_versions_get(conn, o.version, &v) : bt_versions_active(conn, &v);
    if (err == BT_EDB || (o.history && bt_versions_history(conn, &h) < 0)) {
        print_db_error(o.cmd, conn);
        rc = CLI_FAIL;
        goto out;
    }
    rc = v ? CLI_OK : CLI_FAIL;

    if (o.document && !o.json) {
        if (v)
            fwrite(v->document, 1, v->document_len, stdout);
        else
            fprintf(stderr, "baton motion: no such version\n");
        goto out;
    }
    if (o.json) {
        out = json_object();
        if (v && !o.document) {
            bt_free(v->document);
            v->document = NULL;
        }
        json_object_set_new(out, o.version ? "version" : "active",
                            v ? version_json(v, false) : json_null());
        if (o.history) {
            json_t *arr = json_array();

            for (size_t i = 0; i < h.n; i++)
                json_array_append_new(arr, version_json(&h.v[i], true));
            json_object_set_new(out, "history", arr);
        }
        if (json_dumpf(out, stdout, JSON_INDENT(2)) == 0)
            fputc('\n', stdout);
        goto out;
    }
    if (v)
        print_version(v, false);
    else if (o.version)
        printf("no version %lld\n", o.version);
    else
        printf("no motion version is active: load one with baton load FILE\n");
    if (o.history) {
        printf("\nhistory, newest first (* active):\n");
        if (!h.n)
            printf("  (no versions)\n");
        for (size_t i = 0; i < h.n; i++)
            print_version(&h.v[i], true);
    }
out:
    json_decref(out);
    bt_history_free(&h);
    bt_version_free(v);
    PQfinish(conn);
    return rc;
}

int cli_diff(int argc, char **argv)
{
    static const char usage[] = "diff FILE --db CONNINFO";
    struct bt_motion *m = NULL, *active_m = NULL;
    struct bt_version *active = NULL;
    struct bt_mdiff *d = NULL;
    struct bt_diags diags;
    struct opts o;
    size_t len = 0;
    const char *src;
    char sha[65], *label = NULL;
    PGconn *conn = NULL;
    int rc, err;

    bt_diags_init(&diags);
    rc = motion_and_db(argc, argv, O_FILE, usage, &o, &m, &conn);
    if (rc != CLI_OK) {
        rc = rc < 0 ? CLI_OK : rc;
        goto out;
    }
    err = bt_versions_active(conn, &active);
    if (err == BT_EDB) {
        print_db_error(o.cmd, conn);
        rc = CLI_FAIL;
        goto out;
    }
    if (!active) {
        printf("no version is active yet: loading %s would add all of it\n", o.file);
        bt_mdiff_new(NULL, m, &d);
        bt_mdiff_print(d, stdout);
        rc = CLI_OK;
        goto out;
    }
    src = bt_motion_source(m, &len);
    bt_sha256_hex(src ? src : "", len, sha);
    if (!strcmp(sha, active->sha256)) {
        printf("no changes: %s is version %lld, the active one\n", o.file, active->version);
        rc = CLI_OK;
        goto out;
    }
    /* The stored document is parsed as it would be if it were loaded now. */
    label = bt_asprintf("version %lld", active->version);
    if (bt_motion_parse(label, active->document, active->document_len, &active_m, &diags) < 0) {
        bt_diags_sort(&diags);
        bt_diags_print(&diags, stderr);
        fprintf(stderr, "baton diff: the active %s does not validate with this baton\n", label);
        rc = CLI_FAIL;
        goto out;
    }
    printf("%s against the active version %lld (%s):\n", o.file, active->version, active->name);
    bt_mdiff_new(active_m, m, &d);
    bt_mdiff_print(d, stdout);
    rc = CLI_OK;
out:
    bt_free(label);
    bt_mdiff_free(d);
    bt_motion_unref(active_m);
    bt_motion_unref(m);
    bt_version_free(active);
    bt_diags_free(&diags);
    PQfinish(conn);
    return rc;
}
