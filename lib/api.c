#include "api.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "report.h"
#include "webassets.h"

/* A rep panel's event request, held until something is pushed to the rep
 * or it has waited long enough. Each answer ends the response and the
 * browser's EventSource asks again at once with Last-Event-ID, so no event
 * is lost between two requests, any instance may answer, and no connection
 * stays open longer than the server's request deadline. */
struct waiter {
    struct bt_api *api;
    struct bt_http_req *req;
    char *rep;
    long long after; /* the last delivery id the browser has */
    uint64_t until;  /* loop time to answer by, with a keep-alive */
    bool querying;
    struct waiter *next;
};

struct bt_api {
    uv_loop_t *loop;
    const struct bt_config *cfg;
    struct bt_pg *pg;
    struct bt_motion *motion;
    long long version;
    struct waiter *waiters;
    uint64_t hold_ms;
    bool closing;
    uv_timer_t keepalive;
    size_t queries;
};

/* ---------------------------------------------------------------- auth */

static void digest(const char *s, size_t n, unsigned char out[32])
{
    unsigned int len = 32;

    EVP_Digest(s, n, out, &len, EVP_sha256(), NULL);
}

/* Compares digests so that neither the length nor the content of the
 * configured token leaks through timing. */
static bool same_secret(const char *given, size_t n, const char *secret)
{
    unsigned char a[32], b[32];

    digest(given, n, a);
    digest(secret, strlen(secret), b);
    return CRYPTO_memcmp(a, b, 32) == 0;
}

static const char *cookie_value(const char *cookies, const char *name, size_t *len)
{
    size_t nl = strlen(name);

    for (const char *p = cookies; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        if (!strncmp(p, name, nl) && p[nl] == '=') {
            const char *v = p + nl + 1, *end = strchr(v, ';');

            *len = end ? (size_t)(end - v) : strlen(v);
            return v;
        }
        p = strchr(p, ';');
    }
    return NULL;
}

static bool is_admin(struct bt_api *api, struct bt_http_req *r)
{
    const char *auth = bt_http_header(r, "Authorization");
    const char *cookies = bt_http_header(r, "Cookie");
    const char *v;
    size_t len;

    if (!api->cfg->admin_token)
        return false;
    if (auth && !strncmp(auth, "Bearer ", 7))
        return same_secret(auth + 7, strlen(auth + 7), api->cfg->admin_token);
    v = cookie_value(cookies, "baton_admin", &len);
    return v && same_secret(v, len, api->cfg->admin_token);
}

static void unauthorized(struct bt_api *api, struct bt_http_req *r)
{
    static const char *const h[] = {"WWW-Authenticate", "Bearer realm=\"baton\"", NULL};
    const char *msg = api->cfg->admin_token
                          ? "{\"error\":\"admin token required (Authorization: Bearer)\"}\n"
                          : "{\"error\":\"admin endpoints are closed: set admin_token in the "
                            "config\"}\n";

    bt_http_respond(r, 401, "application/json", msg, strlen(msg), h);
}

int bt_api_panel_token(const struct bt_config *cfg, const char *rep, char out[23])
{
    unsigned char key[32], mac[32], b64[48];
    unsigned int len = sizeof(mac);

    if (!cfg->admin_token)
        return BT_ENOENT;
    /* A key of its own, so a panel link never reveals anything about the
     * admin token, and rotating the admin token revokes every panel link. */
    digest(cfg->admin_token, strlen(cfg->admin_token), key);
    HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)rep, strlen(rep), mac, &len);
    EVP_EncodeBlock(b64, mac, 16);
    for (int i = 0; i < 22; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[22] = '\0';
    return 0;
}

static bool panel_allowed(struct bt_api *api, struct bt_http_req *r, const char *rep)
{
    char want[23];
    const char *t = bt_http_query(r, "t");

    if (!t || bt_api_panel_token(api->cfg, rep, want) < 0)
        return false;
    return same_secret(t, strlen(t), want);
}

/* ---------------------------------------------------------------- helpers */

static void respond_json(struct bt_http_req *r, unsigned status, json_t *j)
{
    static const char *const no_store[] = {"Cache-Control", "no-store", NULL};
    char *s = json_dumps(j, JSON_COMPACT);

    bt_http_respond(r, status, "application/json", s, strlen(s), no_store);
    bt_free(s);
    json_decref(j);
}

static json_t *str_or_null(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static const char *stage_label(struct bt_api *api, const char *stage)
{
    const struct bt_stage *s =
        api->motion && stage ? bt_motion_find_stage(api->motion, stage) : NULL;

    return s ? s->label : stage;
}

/* The columns every suggestion query selects, in this order. */
#define SUGGESTION_COLUMNS                                                                        \
    "d.id, d.source, d.deal_id, coalesce(d.deal_name, x.fields->>'name'), "                       \
    "coalesce(x.fields->>'stage', d.stage), d.competitor, d.asset_id, d.asset_kind, "             \
    "d.asset_title, d.play_id, d.trigger, d.status, d.token, "                                    \
    "to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), d.rep_id, "      \
    "d.channel "

static json_t *suggestion(struct bt_api *api, PGresult *res, int i)
{
    const char *stage = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
    char *link = bt_asprintf("%s/o/%s", api->cfg->public_url, PQgetvalue(res, i, 12));
    json_t *deal = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "source", str_or_null(res, i, 1),
                             "id", str_or_null(res, i, 2), "name", str_or_null(res, i, 3), "stage",
                             str_or_null(res, i, 4), "stage_label",
                             stage ? json_string(stage_label(api, stage)) : json_null(),
                             "competitor", str_or_null(res, i, 5));
    json_t *asset = json_pack("{s:o, s:o, s:o}", "id", str_or_null(res, i, 6), "kind",
                              str_or_null(res, i, 7), "title", str_or_null(res, i, 8));
    json_t *j = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}", "delivery_id",
                          (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "created_at",
                          str_or_null(res, i, 13), "deal", deal, "asset", asset, "play",
                          str_or_null(res, i, 9), "trigger", str_or_null(res, i, 10), "link", link,
                          "status", str_or_null(res, i, 11), "rep", str_or_null(res, i, 14),
                          "channel", str_or_null(res, i, 15));

    bt_free(link);
    return j;
}

struct query {
    struct bt_api *api;
    struct bt_http_req *req;
    char *rep;
    int kind;
    struct waiter *w;         /* Q_EVENTS */
    struct bt_report_opts ro; /* Q_REPORT, Q_DAYS */
    bool with_motion;         /* the batch starts with the motion's statement */
};

enum { Q_DEAL, Q_PANEL, Q_VERSIONS, Q_EVENTS, Q_REPORT, Q_DAYS };

static void report_done(int err, PGresult *const *res, size_t n, const char *msg, void *ud);

static void query_done(int err, PGresult *const *res, size_t n, const char *msg, void *ud);

static void run_query(struct bt_api *api, struct query *q, const char *sql, int nparams,
                      const char *const *params)
{
    struct bt_pg_batch *b = bt_pg_batch_new();

    bt_pg_batch_add(b, sql, nparams, params);
    api->queries++;
    if (bt_pg_submit(api->pg, b, query_done, q) < 0)
        query_done(BT_EAGAIN, NULL, 0, "database unreachable", q);
}

/* ---------------------------------------------------------------- panel events */

static void waiter_unlink(struct waiter *w)
{
    for (struct waiter **pp = &w->api->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
}

/* Ends W's response with BODY (events or a keep-alive) and forgets it. */
static void waiter_answer(struct waiter *w, const char *body, size_t len)
{
    static const char *const h[] = {"Cache-Control", "no-store", "X-Accel-Buffering", "no", NULL};

    waiter_unlink(w);
    bt_http_respond(w->req, 200, "text/event-stream", body, len, h);
    bt_free(w->rep);
    bt_free(w);
}

static void on_keepalive(uv_timer_t *t)
{
    struct bt_api *api = t->data;
    uint64_t now = uv_now(api->loop);
    struct waiter *w = api->waiters, *next;

    for (; w; w = next) {
        next = w->next;
        if (!w->querying && now >= w->until)
            waiter_answer(w, "retry: 500\n: keep-alive\n\n", 26);
    }
}

static void events_query(struct bt_api *api, struct waiter *w);

static void query_done(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct query *q = ud;
    struct bt_api *api = q->api;

    api->queries--;
    if (err || n != 1) {
        if (q->kind == Q_EVENTS)
            waiter_answer(q->w, "retry: 2000\n\n", 13); /* the browser asks again */
        else if (q->req)
            bt_http_respond_error(q->req, 503, "database unavailable, try again");
        if (err != BT_ECANCELED)
            bt_warn("api: query failed: %s", msg ? msg : "no result");
        goto out;
    }
    switch (q->kind) {
    case Q_DEAL: {
        json_t *list = json_array();
        int rows = PQntuples(res[0]);

        if (rows == 0) {
            bt_http_respond_error(q->req, 404, "no suggestions for this deal");
            json_decref(list);
            break;
        }
        for (int i = 0; i < rows; i++)
            json_array_append_new(list, suggestion(api, res[0], i));
        respond_json(q->req, 200,
                     json_pack("{s:O, s:o}", "deal",
                               json_object_get(json_array_get(list, 0), "deal"), "suggestions",
                               list));
        break;
    }
    case Q_PANEL: {
        json_t *list = json_array();
        const struct bt_rep *rep = api->motion ? bt_motion_find_rep(api->motion, q->rep) : NULL;

        for (int i = 0; i < PQntuples(res[0]); i++)
            json_array_append_new(list, suggestion(api, res[0], i));
        respond_json(q->req, 200,
                     json_pack("{s:{s:s, s:s}, s:o}", "rep", "id", q->rep, "name",
                               rep ? rep->name : q->rep, "suggestions", list));
        break;
    }
    case Q_VERSIONS: {
        json_t *list = json_array();

        for (int i = 0; i < PQntuples(res[0]); i++)
            json_array_append_new(
                list,
                json_pack("{s:I, s:o, s:o}", "version",
                          (json_int_t)strtoll(PQgetvalue(res[0], i, 0), NULL, 10), "name",
                          str_or_null(res[0], i, 1), "activated_at", str_or_null(res[0], i, 2)));
        respond_json(
            q->req, 200,
            json_pack("{s:I, s:o}", "active", (json_int_t)api->version, "versions", list));
        break;
    }
    case Q_EVENTS: {
        struct waiter *w = q->w;
        int rows = PQntuples(res[0]);

        w->querying = false;
        if (w->after < 0) {
            /* The first connection's baseline: the newest delivery shown. */
            char *body = bt_asprintf("retry: 500\nid: %s\n: connected\n\n",
                                     rows ? PQgetvalue(res[0], 0, 0) : "0");

            waiter_answer(w, body, strlen(body));
            bt_free(body);
            break;
        }
        if (rows == 0) {
            if (api->closing) /* no more waiting */
                waiter_answer(w, "retry: 500\n\n", 12);
            break; /* keep waiting */
        }
        {
            struct bt_buf b;
            int rc;

            bt_buf_init(&b, 4u << 20);
            rc = bt_buf_adds(&b, "retry: 500\n");
            for (int i = 0; i < rows && !rc; i++) {
                json_t *j = suggestion(api, res[0], i);
                char *data = json_dumps(j, JSON_COMPACT);

                rc = bt_buf_printf(&b, "id: %s\nevent: suggestion\ndata: %s\n\n",
                                   PQgetvalue(res[0], i, 0), data);
                bt_free(data);
                json_decref(j);
            }
            if (rc)
                bt_warn("api: panel events for %s over the size cap", w->rep);
            waiter_answer(w, b.data ? b.data : "", b.len);
            bt_buf_free(&b);
        }
        break;
    }
    }
out:
    bt_free(q->rep);
    bt_free(q);
}

void bt_api_panel_push(struct bt_api *api, const char *rep_id, long long delivery_id)
{
    bt_debug("panel: delivery %lld for %s", delivery_id, rep_id);
    for (struct waiter *w = api->waiters, *next; w; w = next) {
        next = w->next; /* a failed query answers (and frees) w at once */
        if (!strcmp(w->rep, rep_id) && !w->querying && delivery_id > w->after)
            events_query(api, w);
    }
}

/* What the rep's browser has not seen yet: sent deliveries after its last
 * event id, oldest first. */
static void events_query(struct bt_api *api, struct waiter *w)
{
    struct query *q = bt_calloc(1, sizeof(*q));
    char after[24];
    const char *p[2] = {w->rep, after};

    snprintf(after, sizeof(after), "%lld", w->after);
    q->api = api;
    q->kind = Q_EVENTS;
    q->w = w;
    w->querying = true;
    run_query(api, q,
              "SELECT " SUGGESTION_COLUMNS
              "FROM deliveries d LEFT JOIN deals x ON x.source = d.source AND "
              "x.deal_id = d.deal_id WHERE d.rep_id = $1 AND d.status = 'sent' AND "
              "d.id > $2::bigint ORDER BY d.id LIMIT 50",
              2, p);
}

static void panel_events(struct bt_api *api, struct bt_http_req *r, const char *rep)
{
    const char *last = bt_http_header(r, "Last-Event-ID");
    struct waiter *w = bt_calloc(1, sizeof(*w));
    char *end = NULL;

    w->api = api;
    w->req = r;
    w->rep = bt_strdup(rep);
    w->until = uv_now(api->loop) + api->hold_ms;
    w->next = api->waiters;
    api->waiters = w;
    if (last && *last) {
        w->after = strtoll(last, &end, 10);
        if (*end || w->after < 0)
            w->after = 0;
        events_query(api, w); /* anything missed since, at once */
        return;
    }
    /* A first connection: start from what the page just listed. */
    {
        struct query *q = bt_calloc(1, sizeof(*q));
        const char *p[1] = {rep};

        q->api = api;
        q->kind = Q_EVENTS;
        q->w = w;
        w->querying = true;
        w->after = -1; /* filled in below: answer with the newest id */
        run_query(api, q,
                  "SELECT coalesce(max(id), 0) FROM deliveries WHERE rep_id = $1 AND "
                  "status = 'sent'",
                  1, p);
    }
}

/* ---------------------------------------------------------------- reports */

static const char *format_type(enum bt_report_format f)
{
    return f == BT_REPORT_JSON  ? "application/json"
           : f == BT_REPORT_CSV ? "text/csv; charset=utf-8"
                                : "text/plain; charset=utf-8";
}

static void report_done(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct query *q = ud;
    struct bt_api *api = q->api;
    struct bt_motion *m = NULL;
    long long version = api->version;
    char *out = NULL;
    int rc;

    api->queries--;
    if (err || n < 1) {
        bt_http_respond_error(q->req, 503, "database unavailable, try again");
        if (err != BT_ECANCELED)
            bt_warn("api: report query failed: %s", msg ? msg : "no result");
        goto out;
    }
    if (q->with_motion) {
        struct bt_diags diags;

        bt_diags_init(&diags);
        rc = bt_report_motion_from_result(res[0], &m, &version, &diags);
        bt_diags_free(&diags);
        if (rc == BT_ENOENT) {
            bt_http_respond_error(q->req, 404, "no such motion version");
            goto out;
        }
        if (rc < 0) {
            bt_http_respond_error(q->req, 500, "the motion version cannot be read");
            goto out;
        }
    } else if (api->motion) {
        m = bt_motion_ref(api->motion);
    }
    if (q->kind == Q_REPORT) {
        struct bt_report *r = NULL;

        rc = bt_report_from_result(&q->ro, res[n - 1], m, m ? version : 0, &r);
        if (!rc)
            rc = bt_report_render(r, q->ro.format, &out);
        bt_report_free(r);
    } else {
        struct bt_report_days *d = NULL;

        rc = bt_report_days_from_result(&q->ro, res[n - 1], &d);
        if (!rc)
            rc = bt_report_days_render(d, q->ro.format, &out);
        bt_report_days_free(d);
    }
    if (rc < 0) {
        bt_error("api: report failed: %s", bt_strerror(rc));
        bt_http_respond_error(q->req, 500, "the report failed");
    } else {
        static const char *const h[] = {"Cache-Control", "no-store", NULL};

        bt_http_respond(q->req, 200, format_type(q->ro.format), out, strlen(out), h);
    }
out:
    bt_free(out);
    bt_motion_unref(m);
    bt_free(q);
}

/* GET /v1/reports/adoption and /v1/reports/opens, with the same query
 * parameters as `baton report`'s options; JSON unless format= says. */
static void report(struct bt_api *api, struct bt_http_req *r, int kind)
{
    static const char *const keys[] = {
        "by",     "since",          "until",         "motion_version",
        "format", "min_deliveries", "ignored_below", NULL};
    struct query *q;
    struct bt_report_query rq, mq;
    struct bt_pg_batch *b;
    char err[256] = "";

    if (!is_admin(api, r)) {
        unauthorized(api, r);
        return;
    }
    q = bt_calloc(1, sizeof(*q));
    q->api = api;
    q->req = r;
    q->kind = kind;
    bt_report_opts_init(&q->ro);
    q->ro.format = BT_REPORT_JSON;
    q->ro.min_deliveries = api->cfg->report.min_deliveries;
    q->ro.ignored_below = api->cfg->report.ignored_below;
    for (size_t i = 0; keys[i]; i++) {
        const char *v = bt_http_query(r, keys[i]);

        if (v && bt_report_opts_set(&q->ro, keys[i], v, err, sizeof(err)) < 0) {
            bt_http_respond_error(r, 400, err);
            bt_free(q);
            return;
        }
    }
    if (bt_report_opts_check(&q->ro, err, sizeof(err)) < 0 ||
        (kind == Q_REPORT ? bt_report_query(&q->ro, &rq) : bt_report_days_query(&q->ro, &rq)) <
            0) {
        bt_http_respond_error(r, 400, err[0] ? err : "bad report options");
        bt_free(q);
        return;
    }
    b = bt_pg_batch_new();
    /* The motion that judges: the one asked for, unless it is the active
     * one already in memory. */
    q->with_motion =
        kind == Q_REPORT && q->ro.motion_version && q->ro.motion_version != api->version;
    if (q->with_motion) {
        if (bt_report_motion_query(&q->ro, &mq) < 0) {
            bt_pg_batch_free(b);
            bt_http_respond_error(r, 400, "bad motion version");
            bt_free(q);
            return;
        }
        bt_pg_batch_add(b, mq.sql, mq.n_params, mq.params);
    }
    bt_pg_batch_add(b, rq.sql, rq.n_params, rq.params);
    api->queries++;
    if (bt_pg_submit(api->pg, b, report_done, q) < 0)
        report_done(BT_EAGAIN, NULL, 0, "database unreachable", q);
}

/* ---------------------------------------------------------------- routes */

static void deal_suggestions(struct bt_api *api, struct bt_http_req *r, const char *rest)
{
    /* rest: "{source}/{deal_id}/suggestions" */
    const char *slash = strchr(rest, '/');
    const char *tail = slash ? strrchr(slash + 1, '/') : NULL;
    struct query *q;
    char *source, *deal;

    if (!slash || !tail || strcmp(tail, "/suggestions") || tail == slash + 1) {
        bt_http_respond_error(r, 404, "not found");
        return;
    }
    if (!is_admin(api, r)) {
        unauthorized(api, r);
        return;
    }
    source = bt_strndup(rest, (size_t)(slash - rest));
    deal = bt_strndup(slash + 1, (size_t)(tail - slash - 1));
    q = bt_calloc(1, sizeof(*q));
    q->api = api;
    q->req = r;
    q->kind = Q_DEAL;
    {
        const char *p[2] = {source, deal};

        run_query(api, q,
                  "SELECT " SUGGESTION_COLUMNS
                  "FROM deliveries d LEFT JOIN deals x ON x.source = d.source AND "
                  "x.deal_id = $2 WHERE d.source = $1 AND (d.deal_id = $2 OR d.deal_id IN "
                  "(SELECT m.deal_id FROM deals m WHERE m.source = $1 AND m.merged_into = $2)) "
                  "ORDER BY d.created_at DESC, d.id DESC",
                  2, p);
    }
    bt_free(source);
    bt_free(deal);
}

static void panel(struct bt_api *api, struct bt_http_req *r, const char *rest)
{
    const char *slash = strchr(rest, '/');
    char *rep = slash ? bt_strndup(rest, (size_t)(slash - rest)) : bt_strdup(rest);
    const char *what = slash ? slash + 1 : "";

    if (!*rep || !api->motion || !bt_motion_find_rep(api->motion, rep) ||
        !panel_allowed(api, r, rep)) {
        /* One answer for an unknown rep and a wrong token: nothing to probe. */
        bt_http_respond_error(r, 404, "no such panel (check the link)");
    } else if (!*what) {
        size_t len;
        const char *ct;
        const char *page = bt_web_asset("panel.html", &len, &ct);

        bt_http_respond(r, 200, ct, page, len, NULL);
    } else if (!strcmp(what, "suggestions")) {
        struct query *q = bt_calloc(1, sizeof(*q));
        const char *p[1] = {rep};

        q->api = api;
        q->req = r;
        q->rep = bt_strdup(rep);
        q->kind = Q_PANEL;
        run_query(api, q,
                  "SELECT " SUGGESTION_COLUMNS
                  "FROM deliveries d LEFT JOIN deals x ON x.source = d.source AND "
                  "x.deal_id = d.deal_id WHERE d.rep_id = $1 AND d.status = 'sent' "
                  "ORDER BY d.created_at DESC, d.id DESC LIMIT 50",
                  1, p);
    } else if (!strcmp(what, "events")) {
        panel_events(api, r, rep);
    } else {
        bt_http_respond_error(r, 404, "not found");
    }
    bt_free(rep);
}

static void dashboard(struct bt_api *api, struct bt_http_req *r)
{
    const char *token = bt_http_query(r, "token");

    if (token && api->cfg->admin_token &&
        same_secret(token, strlen(token), api->cfg->admin_token)) {
        /* Trade the link's token for a cookie the page's requests carry,
         * and take it out of the address bar and the history. */
        char *cookie = bt_asprintf("baton_admin=%s; HttpOnly; SameSite=Strict; Path=/", token);
        const char *h[] = {"Location",      "/dashboard", "Set-Cookie", cookie,
                           "Cache-Control", "no-store",   NULL};

        bt_http_respond(r, 303, "text/plain; charset=utf-8", "", 0, h);
        bt_free(cookie);
        return;
    }
    if (!is_admin(api, r)) {
        static const char page[] =
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Baton</title></head>"
            "<body><h1>Not signed in</h1><p>Open the dashboard with "
            "<code>/dashboard?token=ADMIN_TOKEN</code>.</p></body></html>\n";

        bt_http_respond(r, 401, "text/html; charset=utf-8", page, sizeof(page) - 1, NULL);
        return;
    }
    {
        size_t len;
        const char *ct;
        const char *page = bt_web_asset("dashboard.html", &len, &ct);
        static const char *const h[] = {"Cache-Control", "no-store", NULL};

        bt_http_respond(r, 200, ct, page, len, h);
    }
}

bool bt_api_handle(struct bt_api *api, struct bt_http_req *r, const char *path)
{
    if (!strncmp(path, "/v1/deals/", 10)) {
        deal_suggestions(api, r, path + 10);
    } else if (!strncmp(path, "/panel/", 7)) {
        panel(api, r, path + 7);
    } else if (!strcmp(path, "/dashboard")) {
        dashboard(api, r);
    } else if (!strcmp(path, "/v1/reports/adoption")) {
        report(api, r, Q_REPORT);
    } else if (!strcmp(path, "/v1/reports/opens")) {
        report(api, r, Q_DAYS);
    } else if (!strcmp(path, "/v1/motion/versions")) {
        struct query *q;

        if (!is_admin(api, r)) {
            unauthorized(api, r);
            return true;
        }
        q = bt_calloc(1, sizeof(*q));
        q->api = api;
        q->req = r;
        q->kind = Q_VERSIONS;
        run_query(api, q,
                  "SELECT v.version, v.name, to_char(max(a.activated_at) AT TIME ZONE 'UTC', "
                  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM motion_versions v LEFT JOIN "
                  "motion_activations a ON a.version = v.version GROUP BY v.version, v.name "
                  "ORDER BY v.version DESC",
                  0, NULL);
    } else {
        return false;
    }
    return true;
}

int bt_api_new(uv_loop_t *loop, const struct bt_config *cfg, struct bt_pg *pg, struct bt_api **out)
{
    struct bt_api *api = bt_calloc(1, sizeof(*api));

    api->loop = loop;
    api->cfg = bt_config_ref(cfg);
    api->pg = pg;
    uv_timer_init(loop, &api->keepalive);
    api->keepalive.data = api;
    /* Held well inside the server's own deadline for unanswered requests. */
    api->hold_ms = cfg->http.request_deadline_ms > 2000
                       ? (uint64_t)cfg->http.request_deadline_ms - 1500
                       : 500;
    if (api->hold_ms > 25000)
        api->hold_ms = 25000;
    uv_timer_start(&api->keepalive, on_keepalive, 250, 250);
    *out = api;
    return 0;
}

void bt_api_set_motion(struct bt_api *api, struct bt_motion *m, long long version)
{
    bt_motion_unref(api->motion);
    api->motion = bt_motion_ref(m);
    api->version = version;
}

bool bt_api_idle(const struct bt_api *api)
{
    return api->queries == 0;
}

static void keepalive_closed(uv_handle_t *h)
{
    struct bt_api *api = h->data;

    bt_motion_unref(api->motion);
    bt_config_unref(api->cfg);
    bt_free(api);
}

void bt_api_free(struct bt_api *api)
{
    if (!api)
        return;
    /* Held panel requests are answered now; the browsers come back to
     * whichever instance is still up. */
    api->closing = true;
    for (struct waiter *w = api->waiters, *next; w; w = next) {
        next = w->next;
        if (!w->querying) /* the others are answered when their query ends */
            waiter_answer(w, "retry: 500\n\n", 12);
    }
    uv_close((uv_handle_t *)&api->keepalive, keepalive_closed);
}
