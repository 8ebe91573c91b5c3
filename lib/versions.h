/* versions — the motion versions stored in PostgreSQL and which one is
 * active: load (store if new, activate, announce), read the active one, the
 * history, and any version's document.
 *
 * Blocking libpq on a connection the caller owns and does not share while a
 * call runs: the `baton` command, and the daemon from a worker thread (never
 * the loop thread). Functions are reentrant; no callbacks. Everything handed
 * out is new and owned by the caller, freed with the matching _free.
 *
 * Activation is announced with NOTIFY on the channel BT_VERSIONS_CHANNEL,
 * the payload being the version number in decimal; it reaches listeners
 * only when the activation commits. */
#ifndef BT_VERSIONS_H
#define BT_VERSIONS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "motion.h"

#define BT_VERSIONS_CHANNEL "baton_motion"

/* SHA-256 of N bytes at P as 64 lower-case hex digits and a NUL. */
void bt_sha256_hex(const void *p, size_t n, char out[65]);

/* "user@host" of the running process, for the `by` columns: a new string
 * (bt_free); never NULL. */
char *bt_versions_default_by(void);

enum bt_load_outcome {
    BT_LOAD_NEW,         /* stored as a new version and activated */
    BT_LOAD_REACTIVATED, /* the same bytes were stored before: that version activated */
    BT_LOAD_UNCHANGED    /* that version is already the active one: nothing done */
};

struct bt_load_result {
    enum bt_load_outcome outcome;
    long long version; /* the version now active */
    char sha256[65];
    char error[512]; /* on failure: what the database said ("" otherwise) */
};

/* Stores M (its exact source bytes) if no version has them yet, makes that
 * version the active one unless it already is, and announces it: all in one
 * transaction, serialized against concurrent loads. SOURCE_FILE (may be
 * NULL) is recorded as where it came from; BY (NULL: the default above) as
 * who loaded it. M must have validated; CONN must not be inside a
 * transaction. Returns 0, or BT_EDB (BT_EINVAL for a source holding a NUL
 * byte) with res->error set. */
int bt_versions_load(PGconn *conn, const struct bt_motion *m, const char *source_file,
                     const char *by, struct bt_load_result *res) BT_MUST_CHECK;

struct bt_activation {
    char *at; /* ISO-8601 UTC, "2024-05-29T15:11:55Z" */
    char *by;
};

/* One stored version. Times are ISO-8601 UTC with seconds. */
struct bt_version {
    long long version;
    char *name;
    char *sha256;
    char *source_file; /* may be NULL */
    char *loaded_at, *loaded_by;
    char *document; /* NULL unless asked for */
    size_t document_len;
    bool active;
    /* Newest first: the active version's first entry is the activation that
     * made it active. Empty for a version stored but never activated. */
    struct bt_activation *activations;
    size_t n_activations;
};

void bt_version_free(struct bt_version *v); /* NULL-safe */

/* The active version, with its document and activations. BT_ENOENT when no
 * version was ever activated; BT_EDB (PQerrorMessage(conn) says why). */
int bt_versions_active(PGconn *conn, struct bt_version **out) BT_MUST_CHECK;

/* Version VERSION, with its document and activations; BT_ENOENT, BT_EDB. */
int bt_versions_get(PGconn *conn, long long version, struct bt_version **out) BT_MUST_CHECK;

struct bt_history {
    struct bt_version *v; /* without documents */
    size_t n;
};

/* Every stored version, newest first, each with its activations (newest
 * first). Returns 0 or BT_EDB; *out is empty after a failure. */
int bt_versions_history(PGconn *conn, struct bt_history *out) BT_MUST_CHECK;
void bt_history_free(struct bt_history *h);

#endif
