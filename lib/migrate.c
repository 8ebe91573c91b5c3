#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mem.h"
#include "versions.h"

/* One key for every Baton migrator, whatever the database: pg_advisory_lock
 * keys are per database, so runs on different databases never wait. */
#define MIGRATE_LOCK_KEY "7142355610193342561"

/* A migration is a few KiB; the cap only stops a stray huge file. */
#define MIGRATION_MAX (16u << 20)

struct migration {
    int version;
    char *file; /* NNNN_name.sql */
    char *name; /* name */
    char *path; /* DIR/NNNN_name.sql */
};

struct migrations {
    struct migration *v;
    size_t n, alloc;
};

const char *bt_migrate_default_dir(void)
{
    const char *env = getenv("BATON_SCHEMA_DIR");
    struct stat st;

    /* The environment wins, so a build tree can run against its own schema/. */
    if (env && *env)
        return env;
    if (stat(BATON_SCHEMA_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return BATON_SCHEMA_DIR;
    return "schema";
}

static void migrations_free(struct migrations *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        bt_free(ms->v[i].file);
        bt_free(ms->v[i].name);
        bt_free(ms->v[i].path);
    }
    bt_free(ms->v);
    ms->v = NULL;
    ms->n = ms->alloc = 0;
}

/* Splits "0002_add_hits.sql" into 2 and "add_hits". Returns 1 for a
 * migration file, 0 for a file that is not one at all (README, editor
 * backups), -1 for one that looks meant to be one but is misnamed. */
static int parse_name(const char *file, int *version, char **name)
{
    size_t len = strlen(file), digits = 0;
    long v = 0;
    const char *stem;
    size_t stem_len;

    if (len < 4 || strcmp(file + len - 4, ".sql") != 0)
        return 0;
    if (!isdigit((unsigned char)file[0]))
        return 0;
    while (isdigit((unsigned char)file[digits])) {
        if (digits >= 9)
            return -1;
        v = v * 10 + (file[digits] - '0');
        digits++;
    }
    if (file[digits] != '_' || v <= 0)
        return -1;
    stem = file + digits + 1;
    stem_len = len - 4 - digits - 1;
    if (stem_len == 0)
        return -1;
    for (size_t i = 0; i < stem_len; i++)
        if (!isalnum((unsigned char)stem[i]) && stem[i] != '_' && stem[i] != '-')
            return -1;
    *version = (int)v;
    *name = bt_strndup(stem, stem_len);
    return 1;
}

static int cmp_migration(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;

    return (x->version > y->version) - (x->version < y->version);
}

/* Lists DIR's migrations in order of their numbers. */
static int scan_dir(const char *dir, struct migrations *ms, struct bt_diags *diags)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;

    if (!d) {
        bt_diags_add(diags, dir, 0, 0, NULL, "cannot read schema directory: %s", strerror(errno));
        return BT_EIO;
    }
    while ((de = readdir(d)) != NULL) {
        int version = 0, kind;
        char *name = NULL;
        struct migration *m;

        kind = parse_name(de->d_name, &version, &name);
        if (kind == 0)
            continue;
        if (kind < 0) {
            bt_diags_add(diags, dir, 0, 0, NULL,
                         "%s: a migration is named NNNN_name.sql (digits, '_', then letters, "
                         "digits, '_' or '-')",
                         de->d_name);
            rc = BT_EINVAL;
            continue;
        }
        if (ms->n == ms->alloc) {
            ms->alloc = ms->alloc ? ms->alloc * 2 : 16;
            ms->v = bt_reallocarray(ms->v, ms->alloc, sizeof(*ms->v));
        }
        m = &ms->v[ms->n++];
        m->version = version;
        m->name = name;
        m->file = bt_strdup(de->d_name);
        m->path = bt_asprintf("%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(ms->v, ms->n, sizeof(*ms->v), cmp_migration);
    for (size_t i = 1; i < ms->n; i++) {
        if (ms->v[i].version == ms->v[i - 1].version) {
            bt_diags_add(diags, dir, 0, 0, NULL, "%s and %s have the same number %d",
                         ms->v[i - 1].file, ms->v[i].file, ms->v[i].version);
            rc = BT_EINVAL;
        }
    }
    return rc;
}

static int read_file(const char *path, struct bt_buf *out, struct bt_diags *diags)
{
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;
    int rc = 0;

    if (!f) {
        bt_diags_add(diags, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
        return BT_EIO;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (bt_buf_add(out, chunk, n) < 0) {
            bt_diags_add(diags, path, 0, 0, NULL, "larger than %u bytes", MIGRATION_MAX);
            rc = BT_ETOOBIG;
            goto out;
        }
    }
    if (ferror(f)) {
        bt_diags_add(diags, path, 0, 0, NULL, "cannot read: %s", strerror(errno));
        rc = BT_EIO;
        goto out;
    }
    if (memchr(out->data ? out->data : "", '\0', out->len)) {
        bt_diags_add(diags, path, 0, 0, NULL, "contains a NUL byte");
        rc = BT_EINVAL;
    }
out:
    fclose(f);
    return rc;
}

/* PostgreSQL reports an error's place as a 1-based character position in
 * the text sent; a person wants the line and column in the file. */
static void position_to_line_col(const char *sql, long pos, int *line, int *col)
{
    long chars = 0;

    *line = 1;
    *col = 1;
    for (const char *p = sql; *p && chars < pos - 1; p++) {
        if (((unsigned char)*p & 0xC0) == 0x80)
            continue; /* a UTF-8 continuation byte: same character */
        chars++;
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Adds the server's error in RES (or the connection's) to diags, placed in
 * FILE when SQL is the text that failed. */
static void db_diag(struct bt_diags *diags, PGconn *conn, const PGresult *res, const char *file,
                    const char *sql, const char *what)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
    int line = 0, col = 0;
    char *msg;
    size_t len;

    if (primary && detail)
        msg = bt_asprintf("%s (%s)", primary, detail);
    else if (primary)
        msg = bt_strdup(primary);
    else
        msg = bt_strdup(PQerrorMessage(conn));
    len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        msg[--len] = '\0';
    if (sql && pos) {
        char *end;
        long p = strtol(pos, &end, 10);

        if (*end == '\0' && p > 0)
            position_to_line_col(sql, p, &line, &col);
    }
    bt_diags_add(diags, file, line, col, NULL, "%s: %s", what, msg);
    bt_free(msg);
}

/* Runs a statement with no outside data; 0 or BT_EDB with a diagnostic. */
static int exec_simple(PGconn *conn, const char *sql, struct bt_diags *diags)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        db_diag(diags, conn, res, NULL, NULL, "database");
        rc = BT_EDB;
    }
    PQclear(res);
    return rc;
}

/* 1 when TABLE (a constant name) is visible on the search path, else 0. */
static int table_exists(PGconn *conn, const char *table, struct bt_diags *diags)
{
    const char *params[1] = {table};
    PGresult *res =
        PQexecParams(conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, params, NULL, NULL, 0);
    int rc;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        if (diags)
            db_diag(diags, conn, res, NULL, NULL, "database");
        rc = BT_EDB;
    } else {
        rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    }
    PQclear(res);
    return rc;
}

/* Collects the versions recorded so far with the checksum of each. */
static int read_applied(PGconn *conn, PGresult **out, struct bt_diags *diags)
{
    PGresult *res = PQexec(conn, "SELECT version, checksum FROM schema_migrations ORDER BY 1");

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        db_diag(diags, conn, res, NULL, NULL, "database");
        PQclear(res);
        return BT_EDB;
    }
    *out = res;
    return 0;
}

/* The row of APPLIED that records VERSION, or -1. */
static int applied_row(const PGresult *applied, int version)
{
    for (int i = 0; i < PQntuples(applied); i++) {
        char *end;
        long v = strtol(PQgetvalue(applied, i, 0), &end, 10);

        if (*end == '\0' && v == version)
            return i;
    }
    return -1;
}

/* Runs one migration and records it, all in one transaction. */
static int apply_one(PGconn *conn, const struct migration *m, const char *sql,
                     const char *checksum, struct bt_diags *diags)
{
    char version[16];
    const char *params[3];
    PGresult *res = NULL;
    int rc = 0;

    rc = exec_simple(conn, "BEGIN", diags);
    if (rc < 0)
        goto out;
    /* Notices ("... does not exist, skipping") would land on the caller's
     * stderr through libpq's default processor; LOCAL ends with the
     * transaction, leaving the session as it was. */
    rc = exec_simple(conn, "SET LOCAL client_min_messages = warning", diags);
    if (rc < 0)
        goto out;
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK &&
        PQresultStatus(res) != PGRES_EMPTY_QUERY) {
        db_diag(diags, conn, res, m->path, sql, "migration failed");
        rc = BT_EDB;
        goto out;
    }
    /* A file that commits would leave the rest of it, and its record,
     * outside our transaction. */
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
        bt_diags_add(diags, m->path, 0, 0, NULL,
                     "a migration must not end its transaction (no BEGIN/COMMIT in the file)");
        rc = BT_EINVAL;
        goto out;
    }
    PQclear(res);
    snprintf(version, sizeof(version), "%d", m->version);
    params[0] = version;
    params[1] = m->name;
    params[2] = checksum;
    res = PQexecParams(conn,
                       "INSERT INTO schema_migrations (version, name, checksum) "
                       "VALUES ($1, $2, $3)",
                       3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        db_diag(diags, conn, res, NULL, NULL, "database");
        rc = BT_EDB;
        goto out;
    }
    PQclear(res);
    res = NULL;
    rc = exec_simple(conn, "COMMIT", diags);
out:
    PQclear(res);
    if (rc < 0 && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

int bt_migrate_apply(PGconn *conn, const char *schema_dir, FILE *log, struct bt_diags *diags)
{
    struct migrations ms = {0};
    PGresult *applied = NULL;
    struct bt_buf sql;
    bool locked = false;
    int rc, count = 0;

    bt_buf_init(&sql, MIGRATION_MAX);
    rc = scan_dir(schema_dir, &ms, diags);
    if (rc < 0)
        goto out;
    if (ms.n == 0) {
        bt_diags_add(diags, schema_dir, 0, 0, NULL, "no migrations (NNNN_name.sql) here");
        rc = BT_EIO;
        goto out;
    }
    rc = exec_simple(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", diags);
    if (rc < 0)
        goto out;
    locked = true;
    /* Checked rather than IF NOT EXISTS, which talks (a notice) when it
     * skips; the lock makes check-then-create safe. */
    rc = table_exists(conn, "schema_migrations", diags);
    if (rc < 0)
        goto out;
    if (rc == 0) {
        rc = exec_simple(conn,
                         "CREATE TABLE schema_migrations ("
                         " version int PRIMARY KEY,"
                         " name text,"
                         " applied_at timestamptz DEFAULT now(),"
                         " checksum text)",
                         diags);
        if (rc < 0)
            goto out;
    }
    rc = read_applied(conn, &applied, diags);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < ms.n; i++) {
        const struct migration *m = &ms.v[i];
        int row = applied_row(applied, m->version);
        char checksum[65];

        bt_buf_reset(&sql);
        rc = read_file(m->path, &sql, diags);
        if (rc < 0)
            goto out;
        bt_sha256_hex(sql.data ? sql.data : "", sql.len, checksum);
        if (row >= 0) {
            const char *was = PQgetvalue(applied, row, 1);

            /* Editing an applied migration changes nothing in databases that
             * already ran it: say so, since that is rarely what was meant. */
            if (log && !PQgetisnull(applied, row, 1) && strcmp(was, checksum) != 0)
                fprintf(log,
                        "warning: %s has changed since it was applied; "
                        "the change is not applied (add a new migration)\n",
                        m->file);
            continue;
        }
        rc = apply_one(conn, m, sql.data ? sql.data : "", checksum, diags);
        if (rc < 0)
            goto out;
        count++;
        if (log)
            fprintf(log, "applied %s\n", m->file);
    }
    rc = count;
out:
    if (locked)
        PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    PQclear(applied);
    bt_buf_free(&sql);
    migrations_free(&ms);
    return rc;
}

int bt_migrate_status(PGconn *conn, const char *schema_dir, int *current, int *latest)
{
    struct migrations ms = {0};
    struct bt_diags diags;
    PGresult *res = NULL;
    int rc;

    bt_diags_init(&diags);
    *current = 0;
    *latest = 0;
    /* The database first: a caller that has no schema directory at hand
     * still learns where the database stands. */
    rc = table_exists(conn, "schema_migrations", NULL);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        char *end;
        long v;

        res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            rc = BT_EDB;
            goto out;
        }
        v = strtol(PQgetvalue(res, 0, 0), &end, 10);
        if (*end != '\0' || v < 0 || v > INT_MAX) {
            rc = BT_EDB;
            goto out;
        }
        *current = (int)v;
    }
    rc = scan_dir(schema_dir, &ms, &diags);
    if (rc < 0)
        goto out;
    if (ms.n > 0)
        *latest = ms.v[ms.n - 1].version;
out:
    PQclear(res);
    bt_diags_free(&diags);
    migrations_free(&ms);
    return rc;
}

int bt_migrate_check(PGconn *conn, const char *schema_dir, const char *who, struct bt_diags *diags)
{
    int current = 0, latest = 0;
    int rc = bt_migrate_status(conn, schema_dir, &current, &latest);

    if (rc == BT_EDB) {
        db_diag(diags, conn, NULL, NULL, NULL, "database");
        return rc;
    }
    if (current == 0) {
        bt_diags_add(diags, NULL, 0, 0, NULL,
                     "the database has no Baton schema: run baton migrate");
        return BT_ESCHEMA;
    }
    if (rc < 0) {
        bt_diags_add(diags, schema_dir, 0, 0, NULL,
                     "cannot read the migrations here to compare the schema with");
        return rc;
    }
    if (current < latest) {
        bt_diags_add(diags, NULL, 0, 0, NULL,
                     "database schema is at version %d, this %s needs %d: run baton migrate",
                     current, who, latest);
        return BT_ESCHEMA;
    }
    return 0;
}
