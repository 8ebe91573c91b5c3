/* pg — one non-blocking PostgreSQL connection on the libuv loop.
 *
 * PQsocket() sits in a uv_poll_t; the connection runs in pipeline mode, so
 * many batches may be on the wire at once. A batch is a list of statements
 * sent together and followed by a Sync: with no explicit BEGIN they form one
 * implicit transaction (all or nothing), which is what group commit needs.
 * The connection reconnects by itself with backoff, LISTENs to the channels
 * given and reports notifications.
 *
 * Callbacks run on the loop thread. A submitted batch's callback fires
 * exactly once: with 0 and every statement's result, with BT_EDB when a
 * statement failed (the batch was rolled back), with BT_EAGAIN when the
 * server refused it for a passing reason (a deadlock, a serialization
 * failure, a shutdown: rolled back, worth trying later), or with BT_EIO when the
 * connection broke before its Sync came back (the outcome is unknown; the
 * caller must be able to repeat the batch harmlessly). bt_pg_submit never
 * calls the callback before it returns. */
#ifndef BT_PG_H
#define BT_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "err.h"

struct bt_pg;

struct bt_pg_opts {
    const char *conninfo;
    const char *name;          /* for log lines: "ingest", "work" */
    const char *const *listen; /* channels to LISTEN on; NULL-terminated, may be NULL */
    unsigned batch_timeout_ms; /* a batch not answered by then breaks the connection */
    void (*on_up)(void *ud);   /* connected (again) and listening */
    void (*on_down)(void *ud); /* the connection was lost or could not be made */
    void (*on_notify)(const char *channel, const char *payload, void *ud);
    void *ud;
};

int bt_pg_new(uv_loop_t *loop, const struct bt_pg_opts *opts, struct bt_pg **out) BT_MUST_CHECK;
/* Closes the connection; batches still pending get BT_ECANCELED. DONE fires
 * once the handles are closed. Safe to call from a pg callback. */
void bt_pg_close(struct bt_pg *pg, void (*done)(void *ud), void *ud);
bool bt_pg_up(const struct bt_pg *pg);
size_t bt_pg_in_flight(const struct bt_pg *pg);

struct bt_pg_batch;
struct bt_pg_batch *bt_pg_batch_new(void);
void bt_pg_batch_free(struct bt_pg_batch *b); /* NULL-safe; only for unsubmitted batches */
/* Appends a statement with N text parameters (NULL = SQL NULL); copies all. */
void bt_pg_batch_add(struct bt_pg_batch *b, const char *sql, int n, const char *const *params);
/* The same, as the prepared statement NAME: prepared on each connection
 * the first time it is used there (and again after a reconnect), then only
 * executed. One NAME must always have the same SQL. */
void bt_pg_batch_add_prepared(struct bt_pg_batch *b, const char *name, const char *sql, int n,
                              const char *const *params);
size_t bt_pg_batch_len(const struct bt_pg_batch *b);

typedef void (*bt_pg_cb)(int err, PGresult *const *results, size_t n, const char *errmsg,
                         void *ud);
/* Takes ownership of B. BT_EAGAIN (B freed, CB never called) while the
 * connection is down. The results are freed when CB returns. */
int bt_pg_submit(struct bt_pg *pg, struct bt_pg_batch *b, bt_pg_cb cb, void *ud) BT_MUST_CHECK;

#endif
