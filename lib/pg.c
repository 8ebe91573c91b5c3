#include "pg.h"

#include <string.h>

#include "log.h"
#include "mem.h"

struct stmt {
    char *name; /* a prepared statement's name, or NULL */
    char *sql;
    int n;
    char **params;
};

struct bt_pg_batch {
    struct stmt *v;
    size_t n, alloc;
    /* once submitted: */
    bt_pg_cb cb;
    void *ud;
    PGresult **results;
    size_t n_results;
    /* Statements prepared on the way (sent first, in this order): their
     * results come first and are not the caller's. */
    char **prepares;
    size_t n_prepares, prepares_seen;
    int err;
    char *errmsg;
    uint64_t sent_at;
    struct bt_pg_batch *next;
};

enum pg_state { PG_DOWN, PG_CONNECTING, PG_LISTENING, PG_UP, PG_CLOSED };

static const char *const state_names[] = {"down", "connecting", "listening", "up", "closed"};

struct bt_pg {
    uv_loop_t *loop;
    struct bt_pg_opts opts;
    char *conninfo, *name;
    char **listen;
    enum pg_state state;
    PGconn *conn;
    uv_poll_t *poll; /* NULL when no socket is watched */
    int poll_fd, poll_events;
    uv_timer_t timer; /* reconnect backoff, and the batch deadline */
    unsigned backoff_ms;
    struct bt_pg_batch *head, *tail; /* sent, waiting for their Sync */
    bool broken_pending;             /* a send failed: broken() at the next turn */
    char broken_why[256];
    char **prepared; /* statement names prepared on this connection */
    size_t n_prepared;
    size_t in_flight;
    int dispatching;
    bool want_close;
    void (*done)(void *ud);
    void *done_ud;
};

static void on_io(uv_poll_t *p, int status, int events);
static void forget_all_prepared(struct bt_pg *pg);
static void on_timer(uv_timer_t *t);
static void start_connect(struct bt_pg *pg);

static void set_state(struct bt_pg *pg, enum pg_state s)
{
    if (pg->state != s)
        bt_debug("pg %s: %s -> %s", pg->name, state_names[pg->state], state_names[s]);
    pg->state = s;
}

/* Batches */
struct bt_pg_batch *bt_pg_batch_new(void)
{
    return bt_calloc(1, sizeof(struct bt_pg_batch));
}

void bt_pg_batch_free(struct bt_pg_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        for (int j = 0; j < b->v[i].n; j++)
            bt_free(b->v[i].params[j]);
        bt_free(b->v[i].params);
        bt_free(b->v[i].sql);
        bt_free(b->v[i].name);
    }
    for (size_t i = 0; i < b->n_prepares; i++)
        bt_free(b->prepares[i]);
    bt_free(b->prepares);
    for (size_t i = 0; i < b->n_results; i++)
        PQclear(b->results[i]);
    bt_free(b->results);
    bt_free(b->errmsg);
    bt_free(b->v);
    bt_free(b);
}

void bt_pg_batch_add(struct bt_pg_batch *b, const char *sql, int n, const char *const *params)
{
    struct stmt *s;

    if (b->n == b->alloc) {
        b->alloc = b->alloc ? b->alloc * 2 : 8;
        b->v = bt_reallocarray(b->v, b->alloc, sizeof(*b->v));
    }
    s = &b->v[b->n++];
    s->name = NULL;
    s->sql = bt_strdup(sql);
    s->n = n;
    s->params = bt_calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    for (int i = 0; i < n; i++)
        s->params[i] = params[i] ? bt_strdup(params[i]) : NULL;
}

void bt_pg_batch_add_prepared(struct bt_pg_batch *b, const char *name, const char *sql, int n,
                              const char *const *params)
{
    bt_pg_batch_add(b, sql, n, params);
    b->v[b->n - 1].name = bt_strdup(name);
}

size_t bt_pg_batch_len(const struct bt_pg_batch *b)
{
    return b->n;
}

/* Polling */
static void close_poll(struct bt_pg *pg)
{
    if (pg->poll) {
        uv_close((uv_handle_t *)pg->poll, (uv_close_cb)bt_free);
        pg->poll = NULL;
    }
}

static void watch(struct bt_pg *pg, int events)
{
    int fd = PQsocket(pg->conn);

    /* libpq may switch sockets while connecting (one per address tried). */
    if (pg->poll && pg->poll_fd != fd)
        close_poll(pg);
    if (fd < 0)
        return;
    if (!pg->poll) {
        pg->poll = bt_malloc(sizeof(*pg->poll));
        if (uv_poll_init(pg->loop, pg->poll, fd) != 0)
            bt_fatal("pg %s: cannot watch socket %d", pg->name, fd);
        pg->poll->data = pg;
        pg->poll_fd = fd;
        pg->poll_events = 0;
    }
    if (events != pg->poll_events) {
        uv_poll_start(pg->poll, events, on_io);
        pg->poll_events = events;
    }
}

static void finish_batch(struct bt_pg *pg, struct bt_pg_batch *b)
{
    pg->dispatching++;
    if (b->cb)
        b->cb(b->err, b->results, b->n_results, b->errmsg, b->ud);
    pg->dispatching--;
    bt_pg_batch_free(b);
}

static void fail_all(struct bt_pg *pg, int err, const char *why)
{
    struct bt_pg_batch *b;

    while ((b = pg->head)) {
        pg->head = b->next;
        if (!pg->head)
            pg->tail = NULL;
        pg->in_flight--;
        b->err = err;
        bt_free(b->errmsg);
        b->errmsg = bt_strdup(why);
        finish_batch(pg, b);
    }
}

static void schedule_reconnect(struct bt_pg *pg)
{
    pg->backoff_ms = pg->backoff_ms ? pg->backoff_ms * 2 : 100;
    if (pg->backoff_ms > 5000)
        pg->backoff_ms = 5000;
    uv_timer_start(&pg->timer, on_timer, pg->backoff_ms, 0);
}

/* The connection is gone: tell everyone waiting, then try again later. */
static void broken(struct bt_pg *pg, const char *why)
{
    bool was_up = pg->state == PG_UP || pg->state == PG_LISTENING;
    char msg[256];

    pg->broken_pending = false; /* handled now */
    snprintf(msg, sizeof(msg), "%s", why && *why ? why : "connection lost");
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    close_poll(pg);
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    forget_all_prepared(pg); /* they died with the session */
    set_state(pg, PG_DOWN);
    if (was_up)
        bt_warn("pg %s: connection lost: %s", pg->name, msg);
    else
        bt_warn("pg %s: cannot connect: %s", pg->name, msg);
    fail_all(pg, BT_EIO, msg);
    if (pg->opts.on_down && !pg->want_close)
        pg->opts.on_down(pg->opts.ud);
    if (!pg->want_close)
        schedule_reconnect(pg);
}

static int flush_out(struct bt_pg *pg)
{
    int rc = PQflush(pg->conn);

    if (rc < 0)
        return BT_EIO;
    watch(pg, UV_READABLE | (rc == 1 ? UV_WRITABLE : 0));
    return 0;
}

static void arm_deadline(struct bt_pg *pg)
{
    uint64_t now = uv_now(pg->loop), due;

    if (!pg->head || !pg->opts.batch_timeout_ms) {
        if (pg->state == PG_UP || pg->state == PG_LISTENING)
            uv_timer_stop(&pg->timer);
        return;
    }
    due = pg->head->sent_at + pg->opts.batch_timeout_ms;
    uv_timer_start(&pg->timer, on_timer, due > now ? due - now : 0, 0);
}

/* Failures that say nothing about the statements: a deadlock or
 * serialization failure, the server short of resources, shutting down or
 * read-only. Trying the same batch later may well work. */
static bool transient(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    if (!state)
        return false;
    return !strncmp(state, "40", 2) || !strncmp(state, "53", 2) || !strncmp(state, "57", 2) ||
           !strncmp(state, "08", 2) || !strcmp(state, "25006");
}

static bool is_prepared(const struct bt_pg *pg, const char *name)
{
    for (size_t i = 0; i < pg->n_prepared; i++)
        if (!strcmp(pg->prepared[i], name))
            return true;
    return false;
}

static void forget_prepared(struct bt_pg *pg, const char *name)
{
    for (size_t i = 0; i < pg->n_prepared; i++) {
        if (!strcmp(pg->prepared[i], name)) {
            bt_free(pg->prepared[i]);
            pg->prepared[i] = pg->prepared[--pg->n_prepared];
            return;
        }
    }
}

static void forget_all_prepared(struct bt_pg *pg)
{
    for (size_t i = 0; i < pg->n_prepared; i++)
        bt_free(pg->prepared[i]);
    bt_free(pg->prepared);
    pg->prepared = NULL;
    pg->n_prepared = 0;
}

static int send_batch(struct bt_pg *pg, struct bt_pg_batch *b)
{
    /* A statement named for the first time on this connection is prepared
     * in the same pipeline, ahead of the batch: parsed and planned once. */
    for (size_t i = 0; i < b->n; i++) {
        struct stmt *s = &b->v[i];

        if (!s->name || is_prepared(pg, s->name))
            continue;
        if (!PQsendPrepare(pg->conn, s->name, s->sql, s->n, NULL))
            return BT_EIO;
        b->prepares = bt_reallocarray(b->prepares, b->n_prepares + 1, sizeof(char *));
        b->prepares[b->n_prepares++] = bt_strdup(s->name);
        pg->prepared = bt_reallocarray(pg->prepared, pg->n_prepared + 1, sizeof(char *));
        pg->prepared[pg->n_prepared++] = bt_strdup(s->name);
    }
    for (size_t i = 0; i < b->n; i++) {
        struct stmt *s = &b->v[i];
        int ok = s->name ? PQsendQueryPrepared(pg->conn, s->name, s->n,
                                               (const char *const *)s->params, NULL, NULL, 0)
                         : PQsendQueryParams(pg->conn, s->sql, s->n, NULL,
                                             (const char *const *)s->params, NULL, NULL, 0);

        if (!ok)
            return BT_EIO;
    }
    if (!PQpipelineSync(pg->conn))
        return BT_EIO;
    b->results = bt_calloc(b->n ? b->n : 1, sizeof(PGresult *));
    b->sent_at = uv_now(pg->loop);
    b->next = NULL;
    if (pg->tail)
        pg->tail->next = b;
    else
        pg->head = b;
    pg->tail = b;
    pg->in_flight++;
    if (pg->head == b)
        arm_deadline(pg);
    return flush_out(pg);
}

static void listening_done(int err, PGresult *const *r, size_t n, const char *msg, void *ud);

static void connected(struct bt_pg *pg)
{
    struct bt_pg_batch *b;

    PQsetnonblocking(pg->conn, 1);
    if (!PQenterPipelineMode(pg->conn)) {
        broken(pg, "cannot enter pipeline mode");
        return;
    }
    pg->backoff_ms = 0;
    set_state(pg, PG_LISTENING);
    b = bt_pg_batch_new();
    for (size_t i = 0; pg->listen && pg->listen[i]; i++) {
        char *q = PQescapeIdentifier(pg->conn, pg->listen[i], strlen(pg->listen[i]));
        char *sql = bt_asprintf("LISTEN %s", q);

        bt_pg_batch_add(b, sql, 0, NULL);
        bt_free(sql);
        PQfreemem(q);
    }
    bt_pg_batch_add(b, "SELECT 1", 0, NULL);
    b->cb = listening_done;
    b->ud = pg;
    if (send_batch(pg, b) < 0) {
        if (!b->results) /* not queued yet */
            bt_pg_batch_free(b);
        broken(pg, PQerrorMessage(pg->conn));
    }
}

static void listening_done(int err, PGresult *const *r, size_t n, const char *msg, void *ud)
{
    struct bt_pg *pg = ud;

    (void)r, (void)n;
    if (err) {
        if (err != BT_EIO && pg->conn)
            broken(pg, msg);
        return;
    }
    set_state(pg, PG_UP);
    bt_info("pg %s: connected", pg->name);
    if (pg->opts.on_up)
        pg->opts.on_up(pg->opts.ud);
}

static void read_results(struct bt_pg *pg)
{
    PGnotify *note;

    if (!PQconsumeInput(pg->conn)) {
        broken(pg, PQerrorMessage(pg->conn));
        return;
    }
    while (pg->head && pg->conn && !PQisBusy(pg->conn)) {
        struct bt_pg_batch *b = pg->head;
        PGresult *r = PQgetResult(pg->conn);
        ExecStatusType st;

        if (!r)
            continue; /* the end of one statement's results */
        st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            pg->head = b->next;
            if (!pg->head)
                pg->tail = NULL;
            else /* its deadline counts from when its turn came */
                pg->head->sent_at = uv_now(pg->loop);
            pg->in_flight--;
            arm_deadline(pg);
            finish_batch(pg, b);
            continue;
        }
        if (b->prepares_seen < b->n_prepares) {
            /* A prepare's answer, not the caller's: keep the name only if
             * it took. */
            if (st != PGRES_COMMAND_OK) {
                const char *m = PQresultErrorMessage(r);

                forget_prepared(pg, b->prepares[b->prepares_seen]);
                if (!b->err) {
                    b->err = BT_EDB;
                    b->errmsg = bt_strdup(m && *m ? m : "prepare failed");
                }
            }
            b->prepares_seen++;
            PQclear(r);
            continue;
        }
        if ((st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) && !b->err) {
            const char *m = PQresultErrorMessage(r);

            b->err = transient(r) ? BT_EAGAIN : BT_EDB;
            b->errmsg = bt_strdup(m && *m ? m : "statement aborted");
        }
        if (b->n_results < b->n)
            b->results[b->n_results++] = r;
        else
            PQclear(r);
    }
    while (pg->conn && (note = PQnotifies(pg->conn))) {
        if (pg->opts.on_notify)
            pg->opts.on_notify(note->relname, note->extra, pg->opts.ud);
        PQfreemem(note);
    }
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_BAD)
        broken(pg, PQerrorMessage(pg->conn));
}

static void maybe_free(struct bt_pg *pg);

static void on_io(uv_poll_t *p, int status, int events)
{
    struct bt_pg *pg = p->data;

    pg->dispatching++;
    if (status < 0) {
        broken(pg, uv_strerror(status));
    } else if (pg->state == PG_CONNECTING) {
        PostgresPollingStatusType st = PQconnectPoll(pg->conn);

        if (st == PGRES_POLLING_OK)
            connected(pg);
        else if (st == PGRES_POLLING_FAILED)
            broken(pg, PQerrorMessage(pg->conn));
        else
            watch(pg, st == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE);
    } else if (pg->conn) {
        if ((events & UV_WRITABLE) && flush_out(pg) < 0)
            broken(pg, PQerrorMessage(pg->conn));
        else if (events & UV_READABLE)
            read_results(pg);
    }
    pg->dispatching--;
    maybe_free(pg);
}

static void on_timer(uv_timer_t *t)
{
    struct bt_pg *pg = t->data;

    if (pg->broken_pending) {
        pg->broken_pending = false;
        if (pg->conn) {
            pg->dispatching++;
            broken(pg, pg->broken_why);
            pg->dispatching--;
            maybe_free(pg);
        }
        return;
    }
    if (pg->state == PG_DOWN) {
        start_connect(pg);
        return;
    }
    if (pg->state == PG_CONNECTING) {
        pg->dispatching++;
        broken(pg, "connecting timed out");
        pg->dispatching--;
        maybe_free(pg);
        return;
    }
    if (pg->head && uv_now(pg->loop) >= pg->head->sent_at + pg->opts.batch_timeout_ms) {
        pg->dispatching++;
        broken(pg, "no answer from the server in time");
        pg->dispatching--;
        maybe_free(pg);
    } else {
        arm_deadline(pg);
    }
}

static void start_connect(struct bt_pg *pg)
{
    set_state(pg, PG_CONNECTING);
    pg->conn = PQconnectStart(pg->conninfo);
    if (!pg->conn)
        bt_fatal("pg %s: out of memory", pg->name);
    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        broken(pg, PQerrorMessage(pg->conn));
        return;
    }
    /* libpq's connect_timeout does not apply to a non-blocking connect. */
    uv_timer_start(&pg->timer, on_timer, 10000, 0);
    watch(pg, UV_WRITABLE);
}

int bt_pg_new(uv_loop_t *loop, const struct bt_pg_opts *opts, struct bt_pg **out)
{
    struct bt_pg *pg = bt_calloc(1, sizeof(*pg));
    size_t n = 0;

    pg->loop = loop;
    pg->opts = *opts;
    pg->conninfo = bt_strdup(opts->conninfo);
    pg->name = bt_strdup(opts->name ? opts->name : "db");
    while (opts->listen && opts->listen[n])
        n++;
    pg->listen = bt_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        pg->listen[i] = bt_strdup(opts->listen[i]);
    pg->opts.conninfo = NULL;
    pg->opts.name = NULL;
    pg->opts.listen = NULL;
    uv_timer_init(loop, &pg->timer);
    pg->timer.data = pg;
    pg->state = PG_DOWN;
    start_connect(pg);
    *out = pg;
    return 0;
}

bool bt_pg_up(const struct bt_pg *pg)
{
    return pg->state == PG_UP;
}

size_t bt_pg_in_flight(const struct bt_pg *pg)
{
    return pg->in_flight;
}

int bt_pg_submit(struct bt_pg *pg, struct bt_pg_batch *b, bt_pg_cb cb, void *ud)
{
    if (pg->state != PG_UP || pg->want_close) {
        bt_pg_batch_free(b);
        return BT_EAGAIN;
    }
    b->cb = cb;
    b->ud = ud;
    if (send_batch(pg, b) < 0) {
        bool queued = b->results != NULL;

        /* The connection is broken, but callbacks must not fire before this
         * returns (the caller may still be setting up): fail everything on
         * the next loop turn. */
        if (!pg->broken_pending) {
            pg->broken_pending = true;
            snprintf(pg->broken_why, sizeof(pg->broken_why), "%s", PQerrorMessage(pg->conn));
            uv_timer_start(&pg->timer, on_timer, 0, 0);
        }
        if (!queued) {
            bt_pg_batch_free(b);
            return BT_EAGAIN;
        }
    }
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    struct bt_pg *pg = h->data;
    void (*done)(void *) = pg->done;
    void *ud = pg->done_ud;

    for (size_t i = 0; pg->listen[i]; i++)
        bt_free(pg->listen[i]);
    bt_free(pg->listen);
    forget_all_prepared(pg);
    bt_free(pg->conninfo);
    bt_free(pg->name);
    bt_free(pg);
    if (done)
        done(ud);
}

static void maybe_free(struct bt_pg *pg)
{
    if (!pg->want_close || pg->dispatching || pg->state == PG_CLOSED)
        return;
    close_poll(pg); /* before PQfinish: never poll a socket libpq closed */
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    set_state(pg, PG_CLOSED); /* first: callbacks below may submit or close again */
    fail_all(pg, BT_ECANCELED, "connection closed");
    uv_close((uv_handle_t *)&pg->timer, timer_closed);
}

void bt_pg_close(struct bt_pg *pg, void (*done)(void *ud), void *ud)
{
    pg->want_close = true;
    pg->done = done;
    pg->done_ud = ud;
    maybe_free(pg);
}
