#include "links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "mem.h"
#include "track.h"

static const char LOOKUP_SQL[] =
    "SELECT id, asset_url, coalesce((extract(epoch FROM sent_at) * 1000)::bigint, 0) "
    "FROM deliveries WHERE token = $1";
static const char HIT_SQL[] =
    "INSERT INTO hits (delivery_id, at, method, user_agent, kind, reason) "
    "VALUES ($1::bigint, to_timestamp($2::bigint / 1000.0), $3, $4, $5, $6)";

enum { MAX_QUEUED = 10000, MAX_AGENT = 512 };

struct hit {
    char delivery_id[24], at[24];
    char method[8];
    char *agent;
    const char *kind, *reason;
    struct hit *next;
};

struct lookup {
    struct bt_links *l;
    struct bt_http_req *req;
    char method[8];
    char *agent;
    int64_t at;
};

struct bt_links {
    uv_loop_t *loop;
    struct bt_pg *pg;
    struct bt_links_opts opts;
    char **extra;
    uv_timer_t flush;
    struct hit *head, *tail;
    size_t queued, lookups;
    bool writing, closing;
    struct bt_links_stats stats;
    void (*done)(void *ud);
    void *done_ud;
};

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void flush(struct bt_links *l);

static void on_flush(uv_timer_t *t)
{
    flush(t->data);
}

static void hit_free(struct hit *h)
{
    bt_free(h->agent);
    bt_free(h);
}

static void written(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct bt_links *l = ud;

    (void)res;
    l->writing = false;
    if (err) {
        /* The hits stay queued (see flush) and go with the next try. */
        bt_warn("links: cannot record hits yet: %s", msg);
        if (!l->closing)
            uv_timer_start(&l->flush, on_flush, 1000, 0);
    } else {
        l->stats.written += n;
    }
    if (l->closing && (!l->queued || err))
        bt_links_close(l, l->done, l->done_ud);
    else if (l->queued && !l->closing)
        uv_timer_start(&l->flush, on_flush, l->opts.flush_ms, 0);
}

struct write_ctx {
    struct bt_links *l;
    struct hit *list;
};

static void written_ctx(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct write_ctx *w = ud;
    struct bt_links *l = w->l;
    struct hit *h, *next;

    if (err && err != BT_EDB) {
        /* Connection trouble: put them back in front, to be tried again. */
        struct hit *last = w->list;
        size_t count = 1;

        while (last->next)
            last = last->next, count++;
        last->next = l->head;
        l->head = w->list;
        if (!l->tail)
            l->tail = last;
        l->queued += count;
    } else {
        if (err)
            bt_error("links: hits refused by the database, dropped: %s", msg);
        for (h = w->list; h; h = next) {
            next = h->next;
            hit_free(h);
        }
    }
    bt_free(w);
    written(err, res, n, msg, l);
}

static void flush(struct bt_links *l)
{
    struct bt_pg_batch *b;
    struct write_ctx *w;

    if (l->writing || !l->head)
        return;
    b = bt_pg_batch_new();
    for (struct hit *h = l->head; h; h = h->next) {
        const char *p[6] = {h->delivery_id, h->at, h->method, h->agent, h->kind, h->reason};

        bt_pg_batch_add_prepared(b, "bt_links_hit", HIT_SQL, 6, p);
    }
    w = bt_malloc(sizeof(*w));
    w->l = l;
    w->list = l->head;
    if (bt_pg_submit(l->pg, b, written_ctx, w) < 0) {
        bt_free(w);
        if (!l->closing)
            uv_timer_start(&l->flush, on_flush, 1000, 0);
        return;
    }
    l->head = l->tail = NULL;
    l->queued = 0;
    l->writing = true;
}

static void record(struct bt_links *l, const char *delivery_id, int64_t at, const char *method,
                   const char *agent, int64_t sent_ms)
{
    struct hit *h;
    const char *why;
    enum bt_hit_kind kind =
        bt_track_classify(method, agent, at, sent_ms, l->opts.prefetch_window_ms,
                          (const char *const *)l->extra, &why);

    l->stats.hits++;
    if (kind == BT_HIT_PERSON)
        l->stats.persons++;
    else
        l->stats.prefetches++;
    if (l->queued >= MAX_QUEUED) {
        /* Bounded: the database has been away a long while. */
        struct hit *old = l->head;

        l->head = old->next;
        if (!l->head)
            l->tail = NULL;
        l->queued--;
        hit_free(old);
        l->stats.dropped++;
        bt_warn("links: too many hits waiting for the database; dropping the oldest");
    }
    h = bt_calloc(1, sizeof(*h));
    snprintf(h->delivery_id, sizeof(h->delivery_id), "%s", delivery_id);
    snprintf(h->at, sizeof(h->at), "%lld", (long long)at);
    snprintf(h->method, sizeof(h->method), "%s", method);
    h->agent = agent ? bt_strndup(agent, strnlen(agent, MAX_AGENT)) : NULL;
    h->kind = kind == BT_HIT_PERSON ? "person" : "prefetch";
    h->reason = why;
    if (l->tail)
        l->tail->next = h;
    else
        l->head = h;
    l->tail = h;
    l->queued++;
    if (!l->writing && !uv_is_active((uv_handle_t *)&l->flush))
        uv_timer_start(&l->flush, on_flush, l->opts.flush_ms, 0);
}

static void not_found(struct bt_http_req *r)
{
    static const char page[] =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Link not found</title>"
        "</head><body><h1>Link not found</h1><p>This link is not valid or has expired.</p>"
        "</body></html>\n";
    static const char *const h[] = {"Cache-Control", "no-store", NULL};

    bt_http_respond(r, 404, "text/html; charset=utf-8", page, sizeof(page) - 1, h);
}

static void looked_up(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct lookup *q = ud;
    struct bt_links *l = q->l;

    l->lookups--;
    if (err || n != 1) {
        static const char *const retry[] = {"Retry-After", "5", "Cache-Control", "no-store", NULL};
        static const char body[] = "Temporarily unavailable: try the link again shortly.\n";

        bt_warn("links: look-up failed: %s", msg ? msg : "no result");
        bt_http_respond(q->req, 503, "text/plain; charset=utf-8", body, sizeof(body) - 1, retry);
    } else if (PQntuples(res[0]) == 0 || PQgetisnull(res[0], 0, 1)) {
        l->stats.not_found++;
        not_found(q->req);
    } else {
        const char *url = PQgetvalue(res[0], 0, 1);
        const char *h[] = {"Location",    url, "Cache-Control", "no-store", "Referrer-Policy",
                           "no-referrer", NULL};

        bt_http_respond(q->req, 302, "text/plain; charset=utf-8", "", 0, h);
        record(l, PQgetvalue(res[0], 0, 0), q->at, q->method, q->agent,
               strtoll(PQgetvalue(res[0], 0, 2), NULL, 10));
    }
    bt_free(q->agent);
    bt_free(q);
    if (l->closing && !l->lookups && !l->writing)
        bt_links_close(l, l->done, l->done_ud);
}

void bt_links_handle(struct bt_links *l, struct bt_http_req *r, const char *token)
{
    const char *method = bt_http_method(r);
    const char *agent = bt_http_header(r, "User-Agent");
    struct bt_pg_batch *b;
    struct lookup *q;

    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        static const char *const allow[] = {"Allow", "GET, HEAD", NULL};

        bt_http_respond(r, 405, "text/plain; charset=utf-8", "use GET\n", 8, allow);
        return;
    }
    if (!bt_track_token_valid(token, strlen(token))) {
        l->stats.not_found++;
        not_found(r);
        return;
    }
    q = bt_calloc(1, sizeof(*q));
    q->l = l;
    q->req = r;
    q->at = now_ms();
    snprintf(q->method, sizeof(q->method), "%s", method);
    q->agent = agent ? bt_strndup(agent, strnlen(agent, MAX_AGENT)) : NULL;
    b = bt_pg_batch_new();
    bt_pg_batch_add_prepared(b, "bt_links_lookup", LOOKUP_SQL, 1, &token);
    if (bt_pg_submit(l->pg, b, looked_up, q) < 0) {
        l->lookups++;
        looked_up(BT_EAGAIN, NULL, 0, "database unreachable", q);
        return;
    }
    l->lookups++;
}

int bt_links_new(uv_loop_t *loop, struct bt_pg *pg, const struct bt_links_opts *opts,
                 struct bt_links **out)
{
    struct bt_links *l = bt_calloc(1, sizeof(*l));
    size_t n = 0;

    l->loop = loop;
    l->pg = pg;
    l->opts = *opts;
    if (!l->opts.flush_ms)
        l->opts.flush_ms = 200;
    while (opts->extra_agents && opts->extra_agents[n])
        n++;
    l->extra = bt_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        l->extra[i] = bt_strdup(opts->extra_agents[i]);
    l->opts.extra_agents = NULL;
    uv_timer_init(loop, &l->flush);
    l->flush.data = l;
    *out = l;
    return 0;
}

bool bt_links_idle(const struct bt_links *l)
{
    return !l->lookups && !l->writing && !l->queued;
}

const struct bt_links_stats *bt_links_stats(const struct bt_links *l)
{
    return &l->stats;
}

static void timer_closed(uv_handle_t *h)
{
    struct bt_links *l = h->data;
    void (*done)(void *) = l->done;
    void *ud = l->done_ud;
    struct hit *x, *next;

    for (x = l->head; x; x = next) {
        next = x->next;
        hit_free(x);
    }
    for (size_t i = 0; l->extra[i]; i++)
        bt_free(l->extra[i]);
    bt_free(l->extra);
    bt_free(l);
    if (done)
        done(ud);
}

void bt_links_close(struct bt_links *l, void (*done)(void *ud), void *ud)
{
    bool was_closing = l->closing;

    l->closing = true;
    l->done = done;
    l->done_ud = ud;
    if (!was_closing && l->queued && bt_pg_up(l->pg))
        flush(l); /* one last write; its callback comes back here */
    if (l->writing || l->lookups)
        return;
    if (uv_is_closing((uv_handle_t *)&l->flush))
        return;
    if (l->queued)
        bt_warn("links: %zu hit(s) not recorded at shutdown", l->queued);
    uv_timer_stop(&l->flush);
    uv_close((uv_handle_t *)&l->flush, timer_closed);
}
