#include "versions.h"

#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

/* Serializes loads across every process on one database, so two loads of
 * one new file cannot both insert it, and activations keep a clear order. */
#define LOAD_LOCK_KEY "7142355610193342562"

#define ISO_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

void bt_sha256_hex(const void *p, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    /* EVP_Digest fails only when OpenSSL cannot allocate; so do we. */
    if (!EVP_Digest(p, n, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
        fprintf(stderr, "baton: SHA-256 failed\n");
        abort();
    }
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

char *bt_versions_default_by(void)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    char host[256];
    const char *user = NULL;
    char uid[32];

    /* getpwuid_r, not getpwuid: the daemon calls this from a worker thread. */
    if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &found) == 0 && found && found->pw_name)
        user = found->pw_name;
    if (!user) {
        snprintf(uid, sizeof(uid), "uid %ld", (long)geteuid());
        user = uid;
    }
    if (gethostname(host, sizeof(host)) != 0)
        host[0] = '\0';
    host[sizeof(host) - 1] = '\0';
    return host[0] ? bt_asprintf("%s@%s", user, host) : bt_strdup(user);
}

/* Keeps the server's message (trimmed) before a ROLLBACK replaces it. */
static void set_error(struct bt_load_result *res, PGconn *conn, const PGresult *pg,
                      const char *what)
{
    const char *msg = pg ? PQresultErrorMessage(pg) : "";
    size_t len;

    if (!*msg)
        msg = PQerrorMessage(conn);
    snprintf(res->error, sizeof(res->error), "%s: %s", what, msg);
    len = strlen(res->error);
    while (len > 0 && (res->error[len - 1] == '\n' || res->error[len - 1] == ' '))
        res->error[--len] = '\0';
}

static bool ok(const PGresult *pg, ExecStatusType want)
{
    return PQresultStatus(pg) == want;
}

static long long parse_ll(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    return *end == '\0' ? v : -1;
}

int bt_versions_load(PGconn *conn, const struct bt_motion *m, const char *source_file,
                     const char *by, struct bt_load_result *res)
{
    size_t len = 0;
    const char *src = bt_motion_source(m, &len);
    const char *name = bt_motion_name(m);
    char *document = NULL, *by_default = NULL;
    char version[32];
    const char *params[5];
    PGresult *pg = NULL;
    int rc = BT_EDB;

    memset(res, 0, sizeof(*res));
    res->version = -1;
    if (!src)
        src = "";
    bt_sha256_hex(src, len, res->sha256);
    /* The document travels as text; an embedded NUL would silently cut it. */
    if (memchr(src, '\0', len)) {
        snprintf(res->error, sizeof(res->error), "the motion file contains a NUL byte");
        return BT_EINVAL;
    }
    document = bt_strndup(src, len);
    if (!by) {
        by_default = bt_versions_default_by();
        by = by_default;
    }
    if (!name || !*name)
        name = "(unnamed)";

    pg = PQexec(conn, "BEGIN");
    if (!ok(pg, PGRES_COMMAND_OK)) {
        set_error(res, conn, pg, "cannot begin");
        goto out;
    }
    PQclear(pg);
    pg = PQexec(conn, "SELECT pg_advisory_xact_lock(" LOAD_LOCK_KEY ")");
    if (!ok(pg, PGRES_TUPLES_OK)) {
        set_error(res, conn, pg, "cannot lock");
        goto out;
    }
    PQclear(pg);

    pg = PQexec(conn, "SELECT version, sha256 FROM motion_active");
    if (!ok(pg, PGRES_TUPLES_OK)) {
        set_error(res, conn, pg, "cannot read the active version");
        goto out;
    }
    if (PQntuples(pg) == 1 && strcmp(PQgetvalue(pg, 0, 1), res->sha256) == 0) {
        res->outcome = BT_LOAD_UNCHANGED;
        res->version = parse_ll(PQgetvalue(pg, 0, 0));
        PQclear(pg);
        pg = PQexec(conn, "COMMIT");
        if (!ok(pg, PGRES_COMMAND_OK)) {
            set_error(res, conn, pg, "cannot commit");
            goto out;
        }
        rc = 0;
        goto out;
    }
    PQclear(pg);

    params[0] = res->sha256;
    pg = PQexecParams(conn, "SELECT version FROM motion_versions WHERE sha256 = $1", 1, NULL,
                      params, NULL, NULL, 0);
    if (!ok(pg, PGRES_TUPLES_OK)) {
        set_error(res, conn, pg, "cannot look up the version");
        goto out;
    }
    if (PQntuples(pg) == 1) {
        res->outcome = BT_LOAD_REACTIVATED;
    } else {
        PQclear(pg);
        params[0] = name;
        params[1] = res->sha256;
        params[2] = document;
        params[3] = source_file;
        params[4] = by;
        pg = PQexecParams(conn,
                          "INSERT INTO motion_versions"
                          " (name, sha256, document, source_file, loaded_by)"
                          " VALUES ($1, $2, $3, $4, $5) RETURNING version",
                          5, NULL, params, NULL, NULL, 0);
        if (!ok(pg, PGRES_TUPLES_OK) || PQntuples(pg) != 1) {
            set_error(res, conn, pg, "cannot store the version");
            goto out;
        }
        res->outcome = BT_LOAD_NEW;
    }
    res->version = parse_ll(PQgetvalue(pg, 0, 0));
    PQclear(pg);
    snprintf(version, sizeof(version), "%lld", res->version);

    params[0] = version;
    params[1] = by;
    pg = PQexecParams(conn,
                      "INSERT INTO motion_activations (version, activated_by) VALUES ($1, $2)", 2,
                      NULL, params, NULL, NULL, 0);
    if (!ok(pg, PGRES_COMMAND_OK)) {
        set_error(res, conn, pg, "cannot activate the version");
        goto out;
    }
    PQclear(pg);
    /* pg_notify rather than NOTIFY: NOTIFY takes no parameters. */
    params[0] = BT_VERSIONS_CHANNEL;
    params[1] = version;
    pg = PQexecParams(conn, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);
    if (!ok(pg, PGRES_TUPLES_OK)) {
        set_error(res, conn, pg, "cannot announce the version");
        goto out;
    }
    PQclear(pg);
    pg = PQexec(conn, "COMMIT");
    if (!ok(pg, PGRES_COMMAND_OK)) {
        set_error(res, conn, pg, "cannot commit");
        goto out;
    }
    rc = 0;
out:
    PQclear(pg);
    if (rc < 0 && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    bt_free(document);
    bt_free(by_default);
    return rc;
}

static char *dup_or_null(const PGresult *pg, int row, int col)
{
    return PQgetisnull(pg, row, col) ? NULL : bt_strdup(PQgetvalue(pg, row, col));
}

static void version_clear(struct bt_version *v)
{
    bt_free(v->name);
    bt_free(v->sha256);
    bt_free(v->source_file);
    bt_free(v->loaded_at);
    bt_free(v->loaded_by);
    bt_free(v->document);
    for (size_t i = 0; i < v->n_activations; i++) {
        bt_free(v->activations[i].at);
        bt_free(v->activations[i].by);
    }
    bt_free(v->activations);
    memset(v, 0, sizeof(*v));
}

void bt_version_free(struct bt_version *v)
{
    if (!v)
        return;
    version_clear(v);
    bt_free(v);
}

void bt_history_free(struct bt_history *h)
{
    for (size_t i = 0; i < h->n; i++)
        version_clear(&h->v[i]);
    bt_free(h->v);
    h->v = NULL;
    h->n = 0;
}

/* One statement returns versions joined with their activations, so what is
 * read is one consistent snapshot without an explicit transaction. Rows come
 * ordered by version, then activation, each newest first. */
/* clang-format off */
#define VERSION_COLUMNS                                                         \
    "v.version, v.name, v.sha256, v.source_file, "                              \
    ISO_UTC("v.loaded_at") ", v.loaded_by, "                                    \
    "v.version IS NOT DISTINCT FROM (SELECT version FROM motion_active), "      \
    ISO_UTC("a.activated_at") ", a.activated_by"
/* clang-format on */

enum {
    C_VERSION,
    C_NAME,
    C_SHA,
    C_SOURCE,
    C_LOADED_AT,
    C_LOADED_BY,
    C_ACTIVE,
    C_ACT_AT,
    C_ACT_BY,
    C_DOCUMENT
};

static int collect(PGconn *conn, const char *sql, const char *param, bool with_document,
                   struct bt_history *out)
{
    const char *params[1] = {param};
    PGresult *pg =
        PQexecParams(conn, sql, param ? 1 : 0, NULL, param ? params : NULL, NULL, NULL, 0);
    int rc = 0;

    out->v = NULL;
    out->n = 0;
    if (!ok(pg, PGRES_TUPLES_OK)) {
        rc = BT_EDB;
        goto out;
    }
    out->v = bt_calloc((size_t)PQntuples(pg) + 1, sizeof(*out->v));
    for (int row = 0; row < PQntuples(pg); row++) {
        long long version = parse_ll(PQgetvalue(pg, row, C_VERSION));
        struct bt_version *v = out->n ? &out->v[out->n - 1] : NULL;

        if (!v || v->version != version) {
            v = &out->v[out->n++];
            v->version = version;
            v->name = dup_or_null(pg, row, C_NAME);
            v->sha256 = dup_or_null(pg, row, C_SHA);
            v->source_file = dup_or_null(pg, row, C_SOURCE);
            v->loaded_at = dup_or_null(pg, row, C_LOADED_AT);
            v->loaded_by = dup_or_null(pg, row, C_LOADED_BY);
            v->active = !strcmp(PQgetvalue(pg, row, C_ACTIVE), "t");
            if (with_document) {
                v->document_len = (size_t)PQgetlength(pg, row, C_DOCUMENT);
                v->document = bt_strndup(PQgetvalue(pg, row, C_DOCUMENT), v->document_len);
            }
            /* At most every remaining row is one of its activations. */
            v->activations = bt_calloc((size_t)(PQntuples(pg) - row), sizeof(*v->activations));
        }
        if (!PQgetisnull(pg, row, C_ACT_AT)) {
            struct bt_activation *a = &v->activations[v->n_activations++];

            a->at = dup_or_null(pg, row, C_ACT_AT);
            a->by = dup_or_null(pg, row, C_ACT_BY);
        }
    }
out:
    PQclear(pg);
    return rc;
}

int bt_versions_history(PGconn *conn, struct bt_history *out)
{
    return collect(conn,
                   "SELECT " VERSION_COLUMNS " FROM motion_versions v"
                   " LEFT JOIN motion_activations a ON a.version = v.version"
                   " ORDER BY v.version DESC, a.id DESC",
                   NULL, false, out);
}

static int get_one(PGconn *conn, const char *where, const char *param, struct bt_version **out)
{
    struct bt_history h;
    char *sql = bt_asprintf("SELECT " VERSION_COLUMNS ", v.document FROM motion_versions v"
                            " LEFT JOIN motion_activations a ON a.version = v.version"
                            " WHERE %s ORDER BY v.version DESC, a.id DESC",
                            where);
    int rc;

    *out = NULL;
    rc = collect(conn, sql, param, true, &h);
    bt_free(sql);
    if (rc < 0)
        goto out;
    if (h.n == 0) {
        rc = BT_ENOENT;
        goto out;
    }
    *out = bt_malloc(sizeof(**out));
    **out = h.v[0];
    memset(&h.v[0], 0, sizeof(h.v[0]));
out:
    bt_history_free(&h);
    return rc;
}

int bt_versions_active(PGconn *conn, struct bt_version **out)
{
    return get_one(conn, "v.version = (SELECT version FROM motion_active)", NULL, out);
}

int bt_versions_get(PGconn *conn, long long version, struct bt_version **out)
{
    char param[32];

    snprintf(param, sizeof(param), "%lld", version);
    return get_one(conn, "v.version = $1", param, out);
}
