#include "app.h"

#include <jansson.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "assign.h"
#include "crm.h"
#include "http.h"
#include "ingest.h"
#include "journal.h"
#include "links.h"
#include "lookup.h"
#include "log.h"
#include "match.h"
#include "mem.h"
#include "migrate.h"
#include "motion.h"
#include "pg.h"
#include "push.h"
#include "versions.h"

struct bt_app {
    uv_loop_t *loop;
    const struct bt_config *cfg;
    struct bt_http *http;
    struct bt_pg *pg_ingest, *pg_work;
    struct bt_journal *journal;
    struct bt_ingest *ingest;
    struct bt_assign *assign;
    struct bt_push *push;
    struct bt_links *links;
    struct bt_lookup *lookup;
    struct bt_api *api;

    /* The active motion, as the database says (NOTIFY keeps it current). */
    struct bt_motion *motion;
    /* The configured file as read at start: until the database has said
     * which version is active (it may be down), webhooks are still read
     * with its field maps and journaled rather than refused. */
    struct bt_motion *file_motion;
    long long motion_version;
    bool fetching_motion, refetch_motion;

    /* The configured motion file: loaded at start, on SIGHUP and on change. */
    uv_fs_event_t watch;
    bool watching;
    uv_timer_t debounce;
    bool load_running, load_again, load_counted;
    char last_sha[65];

    /* Stopping */
    bool stopping;
    uv_timer_t drain;
    uint64_t drain_until;
    int closing;
    void (*done)(void *ud);
    void *done_ud;
};

/* ---------------------------------------------------------------- motion */

static void fetch_motion(struct bt_app *app);

static void motion_fetched(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct bt_app *app = ud;
    struct bt_diags diags;
    struct bt_motion *m = NULL;
    struct bt_matcher *mt = NULL;
    long long version;
    const char *doc;

    app->fetching_motion = false;
    if (err || n != 1) {
        if (err != BT_ECANCELED)
            bt_warn("motion: cannot read the active version: %s", msg ? msg : "no result");
        return;
    }
    if (PQntuples(res[0]) == 0) {
        if (!app->motion)
            bt_warn("motion: the database has no active motion yet; load one with "
                    "`baton load FILE` or the config's `motion:` file");
        goto again;
    }
    version = strtoll(PQgetvalue(res[0], 0, 0), NULL, 10);
    if (app->motion && version == app->motion_version)
        goto again;
    doc = PQgetvalue(res[0], 0, 1);
    bt_diags_init(&diags);
    if (bt_motion_parse("motion", doc, (size_t)PQgetlength(res[0], 0, 1), &m, &diags) < 0) {
        bt_error("motion: active version %lld does not validate here; keeping version %lld",
                 version, app->motion_version);
        for (size_t i = 0; i < diags.n; i++) {
            char *line = bt_diag_format(&diags.v[i]);

            bt_error("motion: version %lld: %s", version, line);
            bt_free(line);
        }
        bt_diags_free(&diags);
        goto again;
    }
    bt_diags_free(&diags);
    if (bt_matcher_new(m, &mt) < 0) {
        bt_error("motion: cannot compile version %lld", version);
        bt_motion_unref(m);
        goto again;
    }
    bt_info("motion: version %lld is active (%s)", version, bt_motion_name(m));
    bt_motion_unref(app->motion);
    app->motion = m;
    app->motion_version = version;
    bt_assign_set_matcher(app->assign, mt, version);
    bt_push_set_motion(app->push, m);
    bt_api_set_motion(app->api, m, version);
again:
    if (app->refetch_motion) {
        app->refetch_motion = false;
        fetch_motion(app);
    }
}

static void fetch_motion(struct bt_app *app)
{
    struct bt_pg_batch *b;

    if (app->fetching_motion) {
        app->refetch_motion = true;
        return;
    }
    b = bt_pg_batch_new();
    bt_pg_batch_add(b, "SELECT version, document FROM motion_active", 0, NULL);
    if (bt_pg_submit(app->pg_work, b, motion_fetched, app) == 0)
        app->fetching_motion = true;
}

/* Loading the motion file runs `baton load`'s code on libuv's pool, with a
 * blocking connection of its own: it is rare, and it keeps one code path
 * for both ways a motion comes in. */
struct load_job {
    uv_work_t work;
    struct bt_app *app;
    char *file, *conninfo;
    struct bt_diags diags;
    struct bt_load_result res;
    int rc;
    bool invalid;
    char sha[65];
    char last_sha[65]; /* the app's, copied: the worker never reads the app */
};

static void load_work(uv_work_t *w)
{
    struct load_job *job = w->data;
    struct bt_motion *m = NULL;
    PGconn *conn;
    const char *src;
    size_t len;

    job->rc = bt_motion_load(job->file, &m, &job->diags);
    if (job->rc < 0) {
        job->invalid = true;
        return;
    }
    src = bt_motion_source(m, &len);
    bt_sha256_hex(src, len, job->sha);
    if (!strcmp(job->sha, job->last_sha)) {
        job->res.outcome = BT_LOAD_UNCHANGED;
        job->rc = 0;
        bt_motion_unref(m);
        return;
    }
    {
        /* A bounded wait: the pool thread must not hang on an unreachable
         * host (the conninfo may be key=value or a URI; both expand). */
        const char *const keys[] = {"dbname", "connect_timeout", NULL};
        const char *const values[] = {job->conninfo, "10", NULL};

        conn = PQconnectdbParams(keys, values, 1);
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(job->res.error, sizeof(job->res.error), "%s", PQerrorMessage(conn));
        job->rc = BT_EDB;
    } else {
        char *by = bt_versions_default_by();

        job->rc = bt_versions_load(conn, m, job->file, by, &job->res);
        bt_free(by);
    }
    PQfinish(conn);
    bt_motion_unref(m);
}

static void start_load(struct bt_app *app);
static void on_debounce(uv_timer_t *t);
static void one_closed(void *ud);

static void load_done(uv_work_t *w, int status)
{
    struct load_job *job = w->data;
    struct bt_app *app = job->app;

    app->load_running = false;
    if (app->stopping) {
        /* The app waited for this job (see close_all): nothing more to do. */
        bt_diags_free(&job->diags);
        bt_free(job->file);
        bt_free(job->conninfo);
        bt_free(job);
        if (app->load_counted) {
            app->load_counted = false;
            one_closed(app);
        }
        return;
    }
    if (status == UV_ECANCELED) {
        /* nothing ran */
    } else if (job->invalid) {
        bt_error("motion: %s does not validate (%zu problem%s); the active version stays",
                 job->file, job->diags.n, job->diags.n == 1 ? "" : "s");
        bt_diags_sort(&job->diags);
        for (size_t i = 0; i < job->diags.n; i++) {
            char *line = bt_diag_format(&job->diags.v[i]);

            bt_error("motion: %s", line);
            bt_free(line);
        }
    } else if (job->rc < 0) {
        for (char *p = job->res.error; *p; p++)
            if (*p == '\n')
                *p = ' ';
        bt_warn("motion: cannot store %s yet: %s; will try again", job->file, job->res.error);
        if (!app->stopping)
            uv_timer_start(&app->debounce, on_debounce, 5000, 0);
    } else {
        if (job->res.outcome != BT_LOAD_UNCHANGED || strcmp(app->last_sha, job->sha)) {
            if (job->res.outcome == BT_LOAD_UNCHANGED)
                bt_info("motion: %s is version %lld, already active", job->file, job->res.version);
            else
                bt_info("motion: %s loaded as version %lld", job->file, job->res.version);
        }
        if (*job->sha)
            memcpy(app->last_sha, job->sha, sizeof(app->last_sha));
    }
    bt_diags_free(&job->diags);
    bt_free(job->file);
    bt_free(job->conninfo);
    bt_free(job);
    if (app->stopping)
        return;
    if (app->load_again) {
        app->load_again = false;
        start_load(app);
    }
}

static void start_load(struct bt_app *app)
{
    struct load_job *job;

    if (!app->cfg->motion || app->stopping)
        return;
    if (app->load_running) {
        app->load_again = true;
        return;
    }
    job = bt_calloc(1, sizeof(*job));
    job->work.data = job;
    job->app = app;
    job->file = bt_strdup(app->cfg->motion);
    job->conninfo = bt_strdup(app->cfg->database);
    memcpy(job->last_sha, app->last_sha, sizeof(job->last_sha));
    bt_diags_init(&job->diags);
    app->load_running = true;
    if (uv_queue_work(app->loop, &job->work, load_work, load_done) < 0) {
        app->load_running = false;
        bt_free(job->file);
        bt_free(job->conninfo);
        bt_free(job);
    }
}

static void on_debounce(uv_timer_t *t)
{
    start_load(t->data);
}

/* Editors save by writing a new file and renaming it over the old one, so
 * the directory is watched, and a burst of events makes one load. */
static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct bt_app *app = h->data;
    char *copy = bt_strdup(app->cfg->motion);
    const char *base = basename(copy);

    (void)events;
    if (status == 0 && (!name || !strcmp(name, base)))
        uv_timer_start(&app->debounce, on_debounce, 200, 0);
    bt_free(copy);
}

void bt_app_reload(struct bt_app *app)
{
    bt_info("motion: reloading %s", app->cfg->motion ? app->cfg->motion : "(no motion file)");
    app->last_sha[0] = '\0'; /* SIGHUP always asks the database */
    start_load(app);
}

/* ---------------------------------------------------------------- database */

static void on_ingest_up(void *ud)
{
    struct bt_app *app = ud;

    bt_ingest_db_up(app->ingest);
}

static void on_work_up(void *ud)
{
    struct bt_app *app = ud;

    fetch_motion(app);
    bt_assign_kick(app->assign);
}

static void on_notify(const char *channel, const char *payload, void *ud)
{
    struct bt_app *app = ud;

    if (!strcmp(channel, BT_VERSIONS_CHANNEL)) {
        fetch_motion(app);
    } else if (!strcmp(channel, "baton_sent") && payload) {
        /* "rep delivery-id": a delivery went out; open panels show it. */
        const char *sp = strchr(payload, ' ');

        if (sp && sp > payload) {
            char *rep = bt_strndup(payload, (size_t)(sp - payload));

            bt_api_panel_push(app->api, rep, strtoll(sp + 1, NULL, 10));
            bt_free(rep);
        }
    }
}

static void on_marked(void *ud)
{
    struct bt_app *app = ud;

    bt_assign_kick(app->assign);
}

/* New deliveries were stored: push them now rather than at the next tick. */
static void on_delivery_stored(void *ud)
{
    struct bt_app *app = ud;

    bt_push_kick(app->push);
}

/* ---------------------------------------------------------------- HTTP */

struct webhook {
    struct bt_app *app;
    struct bt_http_req *req;
    const struct bt_crm_ops *ops;
    size_t events;
};

static const char *req_header(void *ctx, const char *name)
{
    return bt_http_header(ctx, name);
}

static void webhook_stored(int err, void *ud)
{
    struct webhook *w = ud;

    if (!err) {
        bt_debug("webhook %s: %zu event(s) stored", w->ops->name, w->events);
        bt_http_respond(w->req, 200, w->ops->ok_content_type, w->ops->ok_body,
                        strlen(w->ops->ok_body), NULL);
    } else {
        static const char *const retry[] = {"Retry-After", "30", NULL};
        static const char body[] = "{\"error\":\"storage unavailable, try again later\"}\n";

        bt_http_respond(w->req, 503, "application/json", body, sizeof(body) - 1, retry);
    }
    bt_free(w);
}

static void webhook(struct bt_app *app, struct bt_http_req *r, const char *rest)
{
    struct bt_crm_auth auth;
    struct bt_request breq;
    struct bt_changes changes;
    struct webhook *w;
    char source_name[32], why[512], *url = NULL;
    const char *slash = strchr(rest, '/'), *query;
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    int src, rc;

    if (n >= sizeof(source_name)) {
        bt_http_respond_error(r, 404, "unknown source");
        return;
    }
    memcpy(source_name, rest, n);
    source_name[n] = '\0';
    src = bt_source_parse(source_name);
    /* Only Salesforce has a path segment after the source: its token. */
    if (src < 0 || !bt_crm_find((enum bt_source)src) ||
        ((src == BT_SRC_SALESFORCE) != (slash != NULL)) || (slash && strchr(slash + 1, '/'))) {
        bt_http_respond_error(r, 404, "unknown webhook endpoint");
        return;
    }
    if (strcmp(bt_http_method(r), "POST") != 0) {
        static const char *const allow[] = {"Allow", "POST", NULL};

        bt_http_respond(r, 405, "application/json", "{\"error\":\"use POST\"}\n", 21, allow);
        return;
    }
    if (bt_config_inbound_auth(app->cfg, (enum bt_source)src, &auth) < 0) {
        bt_http_respond_error(r, 404, "this source is not configured");
        return;
    }
    memset(&breq, 0, sizeof(breq));
    query = bt_http_query_string(r);
    url = bt_asprintf("%s%s%s%s", app->cfg->public_url, bt_http_path(r), *query ? "?" : "", query);
    breq.method = bt_http_method(r);
    breq.public_url = url;
    breq.path_token = slash ? slash + 1 : NULL;
    breq.header = req_header;
    breq.header_ctx = r;
    breq.body = bt_http_body(r, &breq.body_len);
    breq.now = (int64_t)time(NULL);
    why[0] = '\0';
    w = NULL;
    rc = bt_crm_find((enum bt_source)src)->verify(&auth, &breq, why, sizeof(why));
    if (rc < 0) {
        bt_warn("webhook %s: refused: %s", source_name, why[0] ? why : "authentication failed");
        bt_http_respond_error(r, 401, why[0] ? why : "authentication failed");
        goto out;
    }
    if (!app->motion && !app->file_motion) {
        /* Field mappings live in the motion; without one the events cannot
         * be read. Our problem, not the sender's: ask for a retry. */
        static const char *const retry[] = {"Retry-After", "30", NULL};
        static const char body[] = "{\"error\":\"no motion loaded yet, try again later\"}\n";

        bt_http_respond(r, 503, "application/json", body, sizeof(body) - 1, retry);
        goto out;
    }
    bt_changes_init(&changes);
    rc = bt_crm_find((enum bt_source)src)
             ->parse(app->motion ? app->motion : app->file_motion, &breq, &changes, why,
                     sizeof(why));
    if (rc < 0) {
        bt_warn("webhook %s: malformed: %s", source_name, why);
        bt_http_respond_error(r, 400, why[0] ? why : "malformed body");
        bt_changes_free(&changes);
        goto out;
    }
    w = bt_calloc(1, sizeof(*w));
    w->app = app;
    w->req = r;
    w->ops = bt_crm_find((enum bt_source)src);
    w->events = changes.n;
    bt_ingest_submit(app->ingest, &changes, webhook_stored, w);
out:
    bt_free(url);
}

static void respond_json(struct bt_http_req *r, unsigned status, json_t *j)
{
    static const char *const no_store[] = {"Cache-Control", "no-store", NULL};
    char *s = json_dumps(j, JSON_COMPACT);

    bt_http_respond(r, status, "application/json", s, strlen(s), no_store);
    bt_free(s);
    json_decref(j);
}

static void readyz(struct bt_app *app, struct bt_http_req *r)
{
    json_t *reasons = json_array();
    bool ready;

    if (!bt_pg_up(app->pg_work) || !bt_pg_up(app->pg_ingest))
        json_array_append_new(reasons, json_string("database unreachable"));
    if (!app->motion)
        json_array_append_new(reasons, json_string("no motion loaded"));
    ready = json_array_size(reasons) == 0;
    respond_json(r, ready ? 200 : 503,
                 json_pack("{s:s, s:o, s:I}", "status", ready ? "ready" : "not ready", "reasons",
                           reasons, "motion_version", (json_int_t)app->motion_version));
}

static void on_request(struct bt_http_req *r, void *ud)
{
    struct bt_app *app = ud;
    const char *path = bt_http_path(r);
    static const char prefix[] = "/v1/webhooks/";

    if (!strncmp(path, prefix, sizeof(prefix) - 1))
        webhook(app, r, path + sizeof(prefix) - 1);
    else if (!strncmp(path, "/o/", 3))
        bt_links_handle(app->links, r, path + 3);
    else if (bt_api_handle(app->api, r, path))
        return;
    else if (!strcmp(path, "/healthz"))
        respond_json(r, 200, json_pack("{s:s}", "status", "alive"));
    else if (!strcmp(path, "/readyz"))
        readyz(app, r);
    else
        bt_http_respond_error(r, 404, "not found");
}

/* ---------------------------------------------------------------- life */

int bt_app_preflight(const struct bt_config *cfg)
{
    PGconn *conn = PQconnectdb(cfg->database);
    int current = 0, latest = 0, rc = 0;

    if (PQstatus(conn) != CONNECTION_OK) {
        bt_warn("database unreachable at start (%s); webhooks will be journaled until it is "
                "back",
                "see the database's own log");
        goto out;
    }
    if (bt_migrate_status(conn, bt_migrate_default_dir(), &current, &latest) < 0) {
        bt_error("cannot read the database schema version");
        rc = BT_ESCHEMA;
        goto out;
    }
    if (current < latest) {
        bt_error("database schema is at version %d, this batond needs %d: run `baton migrate`",
                 current, latest);
        rc = BT_ESCHEMA;
    }
out:
    PQfinish(conn);
    return rc;
}

int bt_app_new(uv_loop_t *loop, const struct bt_config *cfg, struct bt_app **out)
{
    static const char *const channels[] = {BT_VERSIONS_CHANNEL, "baton_sent", NULL};
    struct bt_app *app = bt_calloc(1, sizeof(*app));
    struct bt_http_opts ho;
    struct bt_pg_opts po;
    struct bt_ingest_opts io;
    struct bt_assign_opts ao;
    char host[64];
    int rc;

    *out = NULL;
    app->loop = loop;
    app->cfg = bt_config_ref(cfg);
    uv_timer_init(loop, &app->debounce);
    uv_timer_init(loop, &app->drain);
    app->debounce.data = app->drain.data = app;

    rc = bt_journal_open(loop, cfg->journal.path, cfg->journal.max_bytes, &app->journal);
    if (rc)
        goto fail;

    memset(&po, 0, sizeof(po));
    po.conninfo = cfg->database;
    po.batch_timeout_ms = 30000;
    po.ud = app;
    po.name = "ingest";
    po.on_up = on_ingest_up;
    rc = bt_pg_new(loop, &po, &app->pg_ingest);
    if (rc)
        goto fail;
    po.name = "work";
    po.on_up = on_work_up;
    po.listen = channels;
    po.on_notify = on_notify;
    rc = bt_pg_new(loop, &po, &app->pg_work);
    if (rc)
        goto fail;

    memset(&io, 0, sizeof(io));
    io.batch_max = cfg->ingest.batch_max;
    io.on_marked = on_marked;
    io.ud = app;
    rc = bt_ingest_new(loop, app->pg_ingest, app->journal, &io, &app->ingest);
    if (rc)
        goto fail;
    rc = bt_lookup_new(loop, cfg, app->pg_work, &app->lookup);
    if (rc)
        goto fail;
    rc = bt_api_new(loop, cfg, app->pg_work, &app->api);
    if (rc)
        goto fail;
    memset(&ao, 0, sizeof(ao));
    ao.lookup = app->lookup;
    ao.batch = 100;
    ao.lease_s = 30;
    ao.on_delivery = on_delivery_stored;
    ao.ud = app;
    rc = bt_assign_new(loop, app->pg_work, &ao, &app->assign);
    if (rc)
        goto fail;
    rc = bt_push_new(loop, cfg, cfg->public_url, &app->push);
    if (rc)
        goto fail;

    {
        struct bt_links_opts lo;

        memset(&lo, 0, sizeof(lo));
        lo.prefetch_window_ms = cfg->tracking.prefetch_window_ms;
        lo.extra_agents = cfg->tracking.extra_prefetch_agents;
        rc = bt_links_new(loop, app->pg_work, &lo, &app->links);
        if (rc)
            goto fail;
    }

    /* The listen address comes from config as "host:port" or "[v6]:port". */
    {
        const char *l = cfg->listen, *colon = strrchr(l, ':');
        size_t hl = colon ? (size_t)(colon - l) : 0;

        if (hl && l[0] == '[' && l[hl - 1] == ']')
            l++, hl -= 2;
        if (hl >= sizeof(host))
            hl = sizeof(host) - 1;
        memcpy(host, l, hl);
        host[hl] = '\0';
    }
    memset(&ho, 0, sizeof(ho));
    ho.host = host;
    ho.port = cfg->listen_port;
    ho.connection_timeout_s = (unsigned)((cfg->http.connection_timeout_ms + 999) / 1000);
    ho.max_connections = cfg->http.max_connections;
    ho.max_connections_per_ip = cfg->http.max_connections_per_ip;
    ho.memory_limit = cfg->http.memory_limit;
    ho.body_limit = cfg->http.body_limit;
    ho.deadline_ms = (unsigned)cfg->http.request_deadline_ms;
    ho.retry_after_s = 30;
    rc = bt_http_new(loop, &ho, on_request, app, &app->http);
    if (rc)
        goto fail;
    bt_info("listening on %s:%d", host, bt_http_port(app->http));

    if (cfg->motion) {
        char *copy = bt_strdup(cfg->motion);

        uv_fs_event_init(loop, &app->watch);
        app->watch.data = app;
        if (uv_fs_event_start(&app->watch, on_fs_event, dirname(copy), 0) == 0)
            app->watching = true;
        else
            bt_warn("motion: cannot watch %s for changes; SIGHUP reloads it", cfg->motion);
        bt_free(copy);
        {
            struct bt_diags diags;

            bt_diags_init(&diags);
            if (bt_motion_load(cfg->motion, &app->file_motion, &diags) < 0)
                app->file_motion = NULL; /* the load job logs every problem */
            bt_diags_free(&diags);
        }
        start_load(app);
    }
    *out = app;
    return 0;
fail:
    bt_fatal("cannot start: %s", bt_strerror(rc));
}

int bt_app_port(const struct bt_app *app)
{
    return bt_http_port(app->http);
}

static void one_closed(void *ud)
{
    struct bt_app *app = ud;

    if (--app->closing > 0)
        return;
    {
        void (*done)(void *) = app->done;
        void *done_ud = app->done_ud;

        bt_journal_close(app->journal);
        bt_motion_unref(app->motion);
        bt_motion_unref(app->file_motion);
        bt_config_unref(app->cfg);
        bt_free(app);
        if (done)
            done(done_ud);
    }
}

static void handle_closed(uv_handle_t *h)
{
    one_closed(h->data);
}

static void close_all(struct bt_app *app)
{
    uv_timer_stop(&app->drain);
    app->closing = 1; /* held until every close below is started */
    app->closing++;
    bt_http_close(app->http, one_closed, app);
    app->closing++;
    bt_ingest_close(app->ingest, one_closed, app);
    bt_assign_free(app->assign);
    bt_api_free(app->api);
    app->closing++;
    bt_lookup_close(app->lookup, one_closed, app);
    app->closing++;
    bt_push_close(app->push, one_closed, app);
    app->closing++;
    bt_links_close(app->links, one_closed, app);
    app->closing += 2;
    bt_pg_close(app->pg_ingest, one_closed, app);
    bt_pg_close(app->pg_work, one_closed, app);
    app->closing += 2;
    uv_close((uv_handle_t *)&app->debounce, handle_closed);
    uv_close((uv_handle_t *)&app->drain, handle_closed);
    if (app->watching) {
        app->closing++;
        uv_close((uv_handle_t *)&app->watch, handle_closed);
    }
    if (app->load_running) {
        /* A motion load on the pool still holds the app: wait for it. */
        app->closing++;
        app->load_counted = true;
    }
    one_closed(app);
}

static void on_drain(uv_timer_t *t)
{
    struct bt_app *app = t->data;
    bool idle = bt_http_pending(app->http) == 0 && bt_ingest_idle(app->ingest) &&
                bt_assign_idle(app->assign) && bt_links_idle(app->links) &&
                bt_push_idle(app->push) && bt_lookup_idle(app->lookup) && bt_api_idle(app->api) &&
                !app->load_running;

    if (idle || uv_now(app->loop) >= app->drain_until) {
        if (!idle)
            bt_warn("stopping with work still in flight (it is journaled or will be redone)");
        close_all(app);
    }
}

void bt_app_stop(struct bt_app *app, unsigned drain_ms, void (*done)(void *ud), void *ud)
{
    if (app->stopping)
        return;
    bt_info("stopping: finishing what is in flight");
    app->stopping = true;
    app->done = done;
    app->done_ud = ud;
    bt_http_quiesce(app->http);
    bt_push_quiesce(app->push);
    if (app->watching)
        uv_fs_event_stop(&app->watch);
    uv_timer_stop(&app->debounce);
    app->drain_until = uv_now(app->loop) + drain_ms;
    uv_timer_start(&app->drain, on_drain, 0, 20);
}
