#include "lookup.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm.h"
#include "log.h"
#include "mem.h"

/* Merges the answer (stamped with its own time) and hands the deal back to
 * the matcher; the deal is still marked to_match. */
static const char MERGE_SQL[] = "SELECT baton_merge_deal('hubspot', $1, $2::jsonb, $3::jsonb, "
                                "'update')";
static const char RELEASE_SQL[] =
    "UPDATE deals SET match_lease = NULL, match_owner = NULL, looked_up_at = now(), "
    "  lookup_failures = 0 WHERE source = 'hubspot' AND deal_id = $1 AND match_owner = $2";
/* Not now: keep the deal marked and out of the matcher's way for a while. */
static const char DEFER_SQL[] =
    "UPDATE deals SET match_lease = now() + make_interval(secs => $2::double precision), "
    "lookup_failures = lookup_failures + $3::int WHERE source = 'hubspot' AND deal_id = $1 "
    "AND match_owner = $4";

struct job {
    struct bt_lookup *lk;
    struct bt_motion *motion;
    char *deal_id;
    char *owner; /* the lease holder that asked */
    int failures;
    void (*done)(void *ud);
    void *ud;
    struct job *next;
};

struct bt_lookup {
    uv_loop_t *loop;
    const struct bt_config *cfg;
    struct bt_pg *pg;
    struct bt_fetch *fetch;
    struct job *jobs; /* in flight, at most one per deal */
    size_t writes;
    bool closing, fetch_closed;
    void (*closed)(void *ud);
    void *closed_ud;
};

static const char *const standard_fields[] = {"owner", "stage",  "competitor",
                                              "name",  "amount", NULL};

static const char *hubspot_prop(const struct bt_motion *m, const char *field)
{
    const struct bt_field_map *fm = bt_motion_field_by_name(m, BT_SRC_HUBSPOT, field);

    return fm ? fm->prop : field;
}

bool bt_lookup_needed(const struct bt_motion *m, enum bt_source source,
                      const struct bt_fields *fields)
{
    const char *const *cond = bt_motion_condition_fields(m);

    if (source != BT_SRC_HUBSPOT)
        return false; /* the other CRMs send the whole record */
    if (!bt_fields_has(fields, "owner") || !bt_fields_has(fields, "stage"))
        return true;
    for (size_t i = 0; cond && cond[i]; i++)
        if (!bt_fields_has(fields, cond[i]))
            return true;
    return false;
}

/* Every field matching or routing may read, once each. */
static size_t wanted_fields(const struct bt_motion *m, const char **out, size_t cap)
{
    const char *const *cond = bt_motion_condition_fields(m);
    size_t n = 0;

    for (size_t i = 0; standard_fields[i] && n < cap; i++)
        out[n++] = standard_fields[i];
    for (size_t i = 0; cond && cond[i] && n < cap; i++) {
        bool dup = false;

        for (size_t j = 0; j < n && !dup; j++)
            dup = !strcmp(out[j], cond[i]);
        if (!dup)
            out[n++] = cond[i];
    }
    return n;
}

char *bt_lookup_hubspot_properties(const struct bt_motion *m)
{
    const char *fields[64];
    size_t n = wanted_fields(m, fields, 64);
    struct bt_buf b;

    bt_buf_init(&b, 16384);
    for (size_t i = 0; i < n; i++) {
        const char *prop = hubspot_prop(m, fields[i]);

        /* Property names are identifiers; anything else is not asked for. */
        bool ok = *prop != '\0';

        for (const char *p = prop; *p && ok; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.';
        if (ok && (b.len ? bt_buf_adds(&b, ",") : 0) == 0)
            (void)!bt_buf_adds(&b, prop);
    }
    return bt_buf_steal(&b);
}

int bt_lookup_hubspot_parse(const struct bt_motion *m, const char *body, size_t len,
                            struct bt_fields *out, int64_t *updated_ms)
{
    char why[256];
    json_t *j = bt_json_parse_strict(body, len, why, sizeof(why));
    json_t *props = json_object_get(j, "properties");
    const char *fields[64];
    size_t n = wanted_fields(m, fields, 64);
    const char *updated;
    int rc = BT_EINVAL;

    *updated_ms = 0;
    if (!json_is_object(props))
        goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(props, hubspot_prop(m, fields[i]));
        const struct bt_field_map *fm = bt_motion_field_by_name(m, BT_SRC_HUBSPOT, fields[i]);
        const char *s = json_string_value(v);

        if (s && *s)
            bt_fields_set(out, fields[i], fm ? bt_field_map_value(fm, s) : s);
        else
            bt_fields_set(out, fields[i], NULL); /* asked, and the CRM has none */
    }
    updated = json_string_value(json_object_get(j, "updatedAt"));
    if (updated && bt_parse_time_ms(updated, updated_ms) < 0)
        *updated_ms = 0;
    rc = 0;
out:
    json_decref(j);
    return rc;
}

static void job_free(struct job *job)
{
    struct job **pp;

    for (pp = &job->lk->jobs; *pp; pp = &(*pp)->next) {
        if (*pp == job) {
            *pp = job->next;
            break;
        }
    }
    bt_motion_unref(job->motion);
    bt_free(job->deal_id);
    bt_free(job->owner);
    bt_free(job);
}

static void maybe_closed(struct bt_lookup *lk);

static void written(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct job *job = ud;
    struct bt_lookup *lk = job->lk;

    (void)res, (void)n;
    lk->writes--;
    if (err && err != BT_ECANCELED)
        bt_warn("lookup: hubspot deal %s: cannot store the answer: %s", job->deal_id, msg);
    if (job->done && !lk->closing)
        job->done(job->ud);
    job_free(job);
    maybe_closed(lk);
}

static void submit(struct job *job, struct bt_pg_batch *b)
{
    job->lk->writes++;
    if (bt_pg_submit(job->lk->pg, b, written, job) < 0) {
        job->lk->writes++;
        written(BT_EAGAIN, NULL, 0, "database unreachable", job);
        job->lk->writes--;
    }
}

static void defer(struct job *job, double seconds, int failed)
{
    struct bt_pg_batch *b = bt_pg_batch_new();
    char secs[32], inc[8];
    const char *p[4] = {job->deal_id, secs, inc, job->owner};

    snprintf(secs, sizeof(secs), "%.3f", seconds);
    snprintf(inc, sizeof(inc), "%d", failed);
    bt_pg_batch_add(b, DEFER_SQL, 4, p);
    submit(job, b);
}

static void fetched(const struct bt_fetch_result *res, void *ud)
{
    struct job *job = ud;
    const struct bt_config *cfg = job->lk->cfg;

    if (res->err == BT_ECANCELED) {
        struct bt_lookup *lk = job->lk;

        job_free(job); /* the lease returns the deal to the queue */
        maybe_closed(lk);
        return;
    }
    if (res->err == 0 && res->status == 200) {
        struct bt_fields f;
        int64_t updated;

        bt_fields_init(&f);
        if (bt_lookup_hubspot_parse(job->motion, res->body, res->body_len, &f, &updated) == 0) {
            json_t *obj = json_object();
            char *fields, times[32];
            const char *p1[2] = {job->deal_id, job->owner};
            struct bt_pg_batch *b = bt_pg_batch_new();

            for (size_t i = 0; i < f.n; i++)
                json_object_set_new(obj, f.v[i].name,
                                    f.v[i].value ? json_string(f.v[i].value) : json_null());
            fields = json_dumps(obj, JSON_COMPACT);
            /* Unknown time: older than any webhook, so none is overwritten. */
            snprintf(times, sizeof(times), "%lld", (long long)(updated ? updated : 0));
            {
                const char *p[3] = {job->deal_id, fields, times};

                bt_pg_batch_add(b, MERGE_SQL, 3, p);
            }
            bt_pg_batch_add(b, RELEASE_SQL, 2, p1);
            bt_debug("lookup: hubspot deal %s completed (%zu fields)", job->deal_id, f.n);
            submit(job, b);
            bt_free(fields);
            json_decref(obj);
            bt_fields_free(&f);
            return;
        }
        bt_fields_free(&f);
        bt_warn("lookup: hubspot deal %s: the objects API answered something unreadable",
                job->deal_id);
    } else if (res->err == 0 && res->status == 404) {
        /* Gone from the CRM: match on what is known rather than ask again. */
        const char *p[2] = {job->deal_id, job->owner};
        struct bt_pg_batch *b = bt_pg_batch_new();

        bt_warn("lookup: hubspot deal %s is not in HubSpot (404); matching on what is known",
                job->deal_id);
        bt_pg_batch_add(b, RELEASE_SQL, 2, p);
        submit(job, b);
        return;
    } else if (res->err == 0 && res->status == 429) {
        double wait = res->retry_after_ms >= 0 ? (double)res->retry_after_ms / 1000.0 : 10.0;

        bt_info("lookup: hubspot rate limit: deal %s waits %.1f s", job->deal_id, wait);
        defer(job, wait, 0);
        return;
    }
    {
        /* Keeps failing: the deal stays marked and is tried again later,
         * each time after a longer wait (capped at an hour). */
        double base = (double)cfg->lookup.base_delay_ms / 1000.0, wait = base;

        for (int i = 0; i < job->failures && wait < 3600; i++)
            wait *= 2;
        if (wait > 3600)
            wait = 3600;
        bt_warn("lookup: hubspot deal %s: look-up failed (%s%ld%s), attempt %d; the deal "
                "stays to match, next try in %.0f s",
                job->deal_id, res->err ? res->error : "HTTP ", res->err ? 0L : res->status,
                res->err ? "" : "", job->failures + 1, wait);
        defer(job, wait, 1);
    }
}

bool bt_lookup_start(struct bt_lookup *lk, const struct bt_motion *m, enum bt_source source,
                     const char *deal_id, const char *owner, int failures, void (*done)(void *ud),
                     void *ud)
{
    const struct bt_config_hubspot *hs = &lk->cfg->sources.hubspot;
    struct bt_fetch_request rq;
    struct job *job;
    char *props, *url, *auth;
    int rc;

    if (source != BT_SRC_HUBSPOT || !hs->token || lk->closing)
        return false;
    for (const char *c = deal_id; *c; c++) {
        /* HubSpot ids are numbers; anything else is not put in a URL. */
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              *c == '-' || *c == '_'))
            return false;
    }
    for (job = lk->jobs; job; job = job->next)
        if (!strcmp(job->deal_id, deal_id))
            return true; /* already on its way */
    props = bt_lookup_hubspot_properties(m);
    url = bt_asprintf("%s/crm/v3/objects/deals/%s?properties=%s", hs->api_base, deal_id, props);
    auth = bt_asprintf("Authorization: Bearer %s", hs->token);
    {
        const char *headers[] = {auth, "Accept: application/json", NULL};

        memset(&rq, 0, sizeof(rq));
        rq.method = "GET";
        rq.url = url;
        rq.headers = headers;
        job = bt_calloc(1, sizeof(*job));
        job->lk = lk;
        job->motion = bt_motion_ref((struct bt_motion *)m);
        job->deal_id = bt_strdup(deal_id);
        job->owner = bt_strdup(owner);
        job->failures = failures;
        job->done = done;
        job->ud = ud;
        job->next = lk->jobs;
        lk->jobs = job;
        rc = bt_fetch_start(lk->fetch, &rq, fetched, job, NULL);
    }
    if (rc < 0) {
        job_free(job);
        job = NULL;
    }
    bt_free(props);
    bt_free(url);
    /* The token is a secret: wipe our copy of the header. */
    memset(auth, 0, strlen(auth));
    bt_free(auth);
    return job != NULL;
}

int bt_lookup_new(uv_loop_t *loop, const struct bt_config *cfg, struct bt_pg *pg,
                  struct bt_lookup **out)
{
    struct bt_lookup *lk = bt_calloc(1, sizeof(*lk));
    struct bt_fetch_opts fo;
    int rc;

    memset(&fo, 0, sizeof(fo));
    fo.timeout_ms = cfg->lookup.timeout_ms;
    fo.max_connections_per_host = 4;
    fo.response_cap = 1 << 20;
    lk->loop = loop;
    lk->cfg = bt_config_ref(cfg);
    lk->pg = pg;
    rc = bt_fetch_new(loop, &fo, &lk->fetch);
    if (rc < 0) {
        bt_config_unref(cfg);
        bt_free(lk);
        return rc;
    }
    *out = lk;
    return 0;
}

bool bt_lookup_idle(const struct bt_lookup *lk)
{
    return !lk->jobs && !lk->writes;
}

static void finish_close(struct bt_lookup *lk)
{
    void (*done)(void *) = lk->closed;
    void *done_ud = lk->closed_ud;

    bt_config_unref(lk->cfg);
    bt_free(lk);
    if (done)
        done(done_ud);
}

static void fetch_closed(void *ud)
{
    struct bt_lookup *lk = ud;

    lk->fetch_closed = true;
    maybe_closed(lk);
}

/* Frees once closing, the fetch client closed, and no write in flight. */
static void maybe_closed(struct bt_lookup *lk)
{
    if (!lk->closing || lk->writes || lk->jobs)
        return;
    if (lk->fetch) {
        struct bt_fetch *f = lk->fetch;

        lk->fetch = NULL;
        bt_fetch_close(f, fetch_closed, lk);
        return;
    }
    if (lk->fetch_closed)
        finish_close(lk);
}

void bt_lookup_close(struct bt_lookup *lk, void (*done)(void *ud), void *ud)
{
    lk->closing = true;
    lk->closed = done;
    lk->closed_ud = ud;
    if (lk->jobs && lk->fetch) {
        /* Cancel what is in flight: each callback fires with BT_ECANCELED,
         * and the deals' leases return them to the queue. */
        struct bt_fetch *f = lk->fetch;

        lk->fetch = NULL;
        bt_fetch_close(f, fetch_closed, lk);
        return;
    }
    maybe_closed(lk);
}
