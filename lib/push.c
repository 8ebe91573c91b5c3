#include "push.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "motion.h"
#include "pg.h"
#include "retry.h"

/* ---------------------------------------------------------------- channels */

/* The registry. Adding a channel is its file plus an entry here. */
extern const struct bt_push_ops bt_push_slack, bt_push_teams, bt_push_webhook, bt_push_panel;
static const struct bt_push_ops *const channels[] = {
    &bt_push_slack, &bt_push_teams, &bt_push_webhook, &bt_push_panel, NULL,
};

const struct bt_push_ops *bt_push_ops_find(const char *name)
{
    for (size_t i = 0; name && channels[i]; i++)
        if (!strcmp(channels[i]->name, name))
            return channels[i];
    return NULL;
}

void bt_push_http_header(struct bt_push_http *h, const char *fmt, ...)
{
    va_list ap;
    struct bt_buf b;
    int rc;

    if (h->n_headers >= BT_PUSH_MAX_HEADERS)
        bt_fatal("push: more than %d headers on one request", BT_PUSH_MAX_HEADERS);
    bt_buf_init(&b, 64 * 1024);
    va_start(ap, fmt);
    rc = bt_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc < 0)
        bt_fatal("push: a header longer than 64 KiB");
    h->headers[h->n_headers++] = bt_buf_steal(&b);
    h->headers[h->n_headers] = NULL;
}

void bt_push_http_free(struct bt_push_http *h)
{
    bt_free(h->url);
    bt_free(h->body);
    for (size_t i = 0; i < h->n_headers; i++)
        bt_free(h->headers[i]);
    memset(h, 0, sizeof(*h));
}

void bt_push_classify_status(const struct bt_fetch_result *res, struct bt_push_verdict *v)
{
    v->retry_after_ms = -1;
    v->external_id[0] = '\0';
    v->reason[0] = '\0';
    if (res->status == 0) {
        v->outcome = BT_PUSH_RETRY;
        snprintf(v->reason, sizeof(v->reason), "no answer: %s", res->error);
    } else if (res->status >= 200 && res->status < 300) {
        v->outcome = BT_PUSH_SENT; /* a body over the cap changes nothing */
    } else if (res->status == 429) {
        v->outcome = BT_PUSH_RETRY;
        v->retry_after_ms = res->retry_after_ms;
        snprintf(v->reason, sizeof(v->reason), "rate limited (HTTP 429)");
    } else if (res->status == 408 || res->status >= 500) {
        v->outcome = BT_PUSH_RETRY;
        v->retry_after_ms = res->status == 503 ? res->retry_after_ms : -1;
        snprintf(v->reason, sizeof(v->reason), "HTTP %ld", res->status);
    } else {
        v->outcome = BT_PUSH_FAILED;
        snprintf(v->reason, sizeof(v->reason), "HTTP %ld", res->status);
    }
}

char *bt_push_clip(const char *s, size_t max)
{
    size_t n;

    if (!s)
        return NULL;
    n = strlen(s);
    if (n <= max)
        return bt_strdup(s);
    while (max && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return bt_asprintf("%.*s\xE2\x80\xA6", (int)max, s);
}

void bt_push_kind_label(const char *kind, char *buf, size_t len)
{
    size_t i = 0;

    if (!len)
        return;
    if (!kind || !*kind)
        kind = "asset";
    for (; kind[i] && i + 1 < len; i++)
        buf[i] = kind[i] == '_' || kind[i] == '-' ? ' ' : kind[i];
    buf[i] = '\0';
    if (buf[0] >= 'a' && buf[0] <= 'z')
        buf[0] = (char)(buf[0] - 'a' + 'A');
}

/* ---------------------------------------------------------------- SQL */

/* Claims up to $1 due deliveries for $2 ms as $3, counting an attempt, and
 * returns each with its deal's state now. Rows leased by an instance that
 * died come back once their lease has run out. */
static const char CLAIM_SQL[] =
    "UPDATE deliveries d "
    "SET lease_until = now() + make_interval(secs => $2::double precision / 1000), "
    "    leased_by = $3, attempts = d.attempts + 1 "
    "FROM (SELECT dl.id, x.fields->>'stage' AS cur_stage, coalesce(x.deleted, false) AS gone "
    "      FROM deliveries dl "
    "      LEFT JOIN deals x ON x.source = dl.source AND x.deal_id = dl.deal_id "
    "      WHERE dl.status = 'pending' AND dl.next_attempt_at <= now() "
    "        AND (dl.lease_until IS NULL OR dl.lease_until < now()) "
    "      ORDER BY dl.next_attempt_at, dl.id LIMIT $1::int "
    "      FOR UPDATE OF dl SKIP LOCKED) q "
    "WHERE d.id = q.id "
    "RETURNING d.id, d.source, d.deal_id, d.asset_id, d.play_id, d.trigger, d.stage, "
    "  d.competitor, d.rep_id, d.channel, d.target, d.token, d.asset_kind, d.asset_title, "
    "  d.deal_name, d.attempts, q.cur_stage, q.gone";
enum {
    C_ID,
    C_SOURCE,
    C_DEAL,
    C_ASSET,
    C_PLAY,
    C_TRIGGER,
    C_STAGE,
    C_COMPETITOR,
    C_REP,
    C_CHANNEL,
    C_TARGET,
    C_TOKEN,
    C_KIND,
    C_TITLE,
    C_NAME,
    C_ATTEMPTS,
    C_CUR_STAGE,
    C_GONE,
    C_COUNT
};

/* Every record names the claim it settles ($1 id, $2 instance, $3 the
 * attempts our claim made): a claim that ran out and was taken over is no
 * longer ours, and the update then changes nothing. */
#define OURS                                                                                      \
    "WHERE id = $1::bigint AND leased_by = $2 AND attempts = $3::int AND status = 'pending'"

/* Rep panels on every instance learn of it through baton_sent ("rep id"). */
static const char SENT_SQL[] =
    "WITH s AS (UPDATE deliveries SET status = 'sent', sent_at = now(), external_id = $4, "
    "  last_error = NULL, lease_until = NULL " OURS " RETURNING id, rep_id) "
    "SELECT pg_notify('baton_sent', rep_id || ' ' || id) FROM s";

/* Back to the pool due in $4 ms with the error $5, or dead when it has
 * been trying for longer than $6 ms. */
static const char RETRY_SQL[] =
    "UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => "
    "    $4::double precision / 1000), last_error = $5, lease_until = NULL, "
    "  status = CASE WHEN now() - created_at > make_interval(secs => $6::double precision / 1000) "
    "    THEN 'dead' ELSE 'pending' END " OURS " RETURNING status";

/* Back to the pool due in $4 ms, the attempt given back: nothing was sent. */
static const char PACE_SQL[] =
    "UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => "
    "    $4::double precision / 1000), attempts = attempts - 1, lease_until = NULL " OURS;

/* Settled for good: 'failed' or 'skipped' ($4) because of $5; $6 is 1 when
 * nothing was sent (the attempt is given back). */
static const char FINAL_SQL[] =
    "UPDATE deliveries SET status = $4, last_error = $5, attempts = attempts - $6::int, "
    "  lease_until = NULL " OURS;

/* ---------------------------------------------------------------- state */

enum { JANITOR_MS = 1000, CLOSE_WAIT_MS = 1000, WAKE_LATE_MS = 5 };

/* A claimed delivery. It lives on the list of its state, so draining and
 * stats are list walks. */
enum job_state { JOB_CLAIMED, JOB_SENDING, JOB_RECORDING };
static const char *const job_state_names[] = {"claimed", "sending", "recording"};

enum record { REC_SENT, REC_RETRY, REC_PACE, REC_FAILED, REC_SKIPPED };

struct job {
    struct bt_push *push;
    enum job_state state;
    struct job *prev, *next;
    struct bt_arena *arena; /* every string of d */
    struct bt_push_delivery d;
    char id[24], attempts[16];
    const struct bt_push_ops *ops;
    struct bt_fetch_req *req;
    enum record rec;
    int64_t wake_ms;                  /* RETRY, PACE: when it is due again, from now */
    bool took_slot;                   /* Slack: this push holds its channel's slot */
    uint64_t slot_before, slot_taken; /* the channel's free_at before and after */
};

/* When each Slack channel may be posted to next. */
struct pace {
    char *channel;
    uint64_t free_at;   /* no post before this (uv time) */
    uint64_t next_slot; /* the end of the line of deliveries put back to wait */
    struct pace *next;
};

struct bt_push {
    uv_loop_t *loop;
    const struct bt_config *cfg;
    char *public_url;
    char instance[128];
    struct bt_pg *pg;
    struct bt_fetch *fetch;
    struct bt_motion *motion;
    struct bt_retry retry;

    uv_timer_t janitor, wake;
    uint64_t wake_due; /* 0: the wake timer is not armed */
    bool claiming, again, more;
    unsigned claim_limit;
    struct job *lists[3]; /* by job_state */
    size_t counts[3];
    struct pace *paces;
    uint64_t rng;
    struct bt_push_stats stats;

    bool quiesced, closing, finishing;
    int open_handles; /* closes still to come back once finishing */
    void (*done)(void *ud);
    void *done_ud;
};

static void cycle(struct bt_push *p);
static void after_job(struct bt_push *p);

static void unlink_job(struct job *j)
{
    struct bt_push *p = j->push;

    if (j->prev)
        j->prev->next = j->next;
    else
        p->lists[j->state] = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
    p->counts[j->state]--;
}

static void link_job(struct job *j, enum job_state s)
{
    struct bt_push *p = j->push;

    j->state = s;
    j->next = p->lists[s];
    if (j->next)
        j->next->prev = j;
    p->lists[s] = j;
    p->counts[s]++;
}

/* The one place a delivery changes state (and says so at debug level). */
static void set_state(struct job *j, enum job_state s)
{
    bt_debug("push: delivery %s %s -> %s", j->id, job_state_names[j->state], job_state_names[s]);
    unlink_job(j);
    link_job(j, s);
}

static void drop_job(struct job *j)
{
    unlink_job(j);
    bt_arena_free(j->arena);
    bt_free(j);
}

static size_t active(const struct bt_push *p)
{
    return p->counts[JOB_CLAIMED] + p->counts[JOB_SENDING] + p->counts[JOB_RECORDING];
}

/* xorshift64*: jitter needs spread, not secrecy. */
static double uniform(struct bt_push *p)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return (double)((p->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Where a delivery goes, for log lines: a Slack or panel id, or a target
 * NAME — never a Teams or webhook URL, which is a secret. */
static const char *where(const struct job *j)
{
    return j->d.to ? j->d.to : "(nowhere)";
}

/* ---------------------------------------------------------------- wake-ups */

static void on_wake(uv_timer_t *t)
{
    struct bt_push *p = t->data;

    p->wake_due = 0;
    cycle(p);
}

/* Something this instance put back is due in DELAY_MS: look then, rather
 * than at the next janitor tick (the schedule's first gaps are short). */
static void wake_in(struct bt_push *p, int64_t delay_ms)
{
    uint64_t due = uv_now(p->loop) + (uint64_t)(delay_ms > 0 ? delay_ms : 0) + WAKE_LATE_MS;

    if (p->closing || p->quiesced)
        return;
    if (p->wake_due && p->wake_due <= due)
        return;
    p->wake_due = due;
    uv_timer_start(&p->wake, on_wake, due - uv_now(p->loop), 0);
}

static void on_janitor(uv_timer_t *t)
{
    struct bt_push *p = t->data;
    uint64_t now = uv_now(p->loop);
    struct pace **pp = &p->paces;

    /* Channels idle for a minute need no memory of their pace. */
    while (*pp) {
        struct pace *e = *pp;

        if (e->free_at + 60000 < now && e->next_slot + 60000 < now) {
            *pp = e->next;
            bt_free(e->channel);
            bt_free(e);
        } else {
            pp = &e->next;
        }
    }
    cycle(p);
}

/* ---------------------------------------------------------------- Slack pace */

static struct pace *pace_find(struct bt_push *p, const char *channel)
{
    struct pace *e;

    for (e = p->paces; e && strcmp(e->channel, channel); e = e->next)
        ;
    return e;
}

/* 0 when J's channel may be posted to now (and it is then taken until the
 * interval has passed), else how long to wait for the slot reserved for
 * this delivery. A delivery coming back for its slot is let through a
 * little early: timers and the database's clock do not line up to the
 * millisecond, and missing the slot by a hair would send it to the end of
 * the line. */
static int64_t pace_wait(struct bt_push *p, struct job *j)
{
    int64_t interval = p->cfg->channels.slack.per_channel_interval_ms;
    uint64_t now = uv_now(p->loop), grace, slot;
    const char *channel = j->d.to;
    struct pace *e;

    if (interval <= 0 || !channel)
        return 0;
    grace = (uint64_t)(interval / 20 < 50 ? interval / 20 : 50);
    e = pace_find(p, channel);
    if (!e) {
        e = bt_calloc(1, sizeof(*e));
        e->channel = bt_strdup(channel);
        e->next = p->paces;
        p->paces = e;
    }
    if (now + grace >= e->free_at) {
        j->took_slot = true;
        j->slot_before = e->free_at;
        e->free_at = (now > e->free_at ? now : e->free_at) + (uint64_t)interval;
        j->slot_taken = e->free_at;
        if (e->next_slot < e->free_at)
            e->next_slot = e->free_at;
        return 0;
    }
    slot = e->next_slot > e->free_at ? e->next_slot : e->free_at;
    e->next_slot = slot + (uint64_t)interval;
    return (int64_t)(slot - now);
}

/* J's post did not happen (an error, not a rate limit): Slack counted no
 * message, so its slot goes back unless a later post took the next. */
static void pace_give_back(struct bt_push *p, struct job *j)
{
    struct pace *e = j->took_slot ? pace_find(p, j->d.to) : NULL;

    if (e && e->free_at == j->slot_taken)
        e->free_at = j->slot_before;
    j->took_slot = false;
}

/* Slack asked this channel to wait: nothing goes to it before then. */
static void pace_hold(struct bt_push *p, const char *channel, int64_t ms)
{
    uint64_t until = uv_now(p->loop) + (uint64_t)ms;

    for (struct pace *e = p->paces; e; e = e->next)
        if (!strcmp(e->channel, channel)) {
            if (e->free_at < until)
                e->free_at = until;
            if (e->next_slot < until)
                e->next_slot = until;
        }
}

/* ---------------------------------------------------------------- records */

static void recorded(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct job *j = ud;
    struct bt_push *p = j->push;
    const char *changed = n ? PQcmdTuples(res[0]) : "";

    if (err) {
        if (err != BT_ECANCELED) {
            p->stats.errors++;
            bt_warn("push: cannot record delivery %s (it returns when its lease runs out): %s",
                    j->id, msg ? msg : "no result");
        }
    } else if (!strcmp(changed, "0")) {
        p->stats.lost++;
        bt_warn("push: delivery %s: our claim ran out and another took it; its outcome "
                "stands",
                j->id);
    } else {
        switch (j->rec) {
        case REC_SENT:
            p->stats.sent++;
            break;
        case REC_RETRY:
            if (PQntuples(res[0]) == 1 && !strcmp(PQgetvalue(res[0], 0, 0), "dead")) {
                p->stats.dead++;
                bt_warn("push: delivery %s to %s %s is dead after %u attempts", j->id,
                        j->d.channel, where(j), j->d.attempt);
            } else {
                p->stats.retried++;
                wake_in(p, j->wake_ms);
            }
            break;
        case REC_PACE:
            p->stats.paced++;
            wake_in(p, j->wake_ms);
            break;
        case REC_FAILED:
            p->stats.failed++;
            break;
        case REC_SKIPPED:
            p->stats.skipped++;
            break;
        }
    }
    drop_job(j);
    after_job(p);
}

static void record(struct job *j, enum record rec, const char *sql, int n,
                   const char *const *extra)
{
    struct bt_push *p = j->push;
    struct bt_pg_batch *b = bt_pg_batch_new();
    const char *params[8] = {j->id, p->instance, j->attempts};

    for (int i = 0; i < n; i++)
        params[3 + i] = extra[i];
    bt_pg_batch_add(b, sql, 3 + n, params);
    j->rec = rec;
    set_state(j, JOB_RECORDING);
    if (bt_pg_submit(p->pg, b, recorded, j) < 0) {
        p->stats.errors++;
        bt_warn("push: cannot record delivery %s, the database is away (it returns when its "
                "lease runs out)",
                j->id);
        drop_job(j);
        after_job(p);
    }
}

static void record_sent(struct job *j, const char *external_id)
{
    const char *x[1] = {external_id && *external_id ? external_id : NULL};

    if (j->ops->build)
        bt_info("push: delivery %s sent to %s %s%s%s", j->id, j->d.channel, where(j),
                x[0] ? " as " : "", x[0] ? x[0] : "");
    else
        bt_info("push: delivery %s is on %s's panel", j->id, where(j));
    record(j, REC_SENT, SENT_SQL, 1, x);
}

static void record_retry(struct job *j, const char *reason, int64_t retry_after_ms)
{
    struct bt_push *p = j->push;
    char gap[32], give_up[32];
    const char *x[3] = {gap, reason, give_up};

    j->wake_ms = bt_retry_gap_ms(&p->retry, j->d.attempt, retry_after_ms, uniform(p));
    snprintf(gap, sizeof(gap), "%" PRId64, j->wake_ms);
    snprintf(give_up, sizeof(give_up), "%" PRId64, p->retry.give_up_ms);
    bt_info("push: delivery %s to %s %s, attempt %u: %s; next in %" PRId64 " ms%s", j->id,
            j->d.channel, where(j), j->d.attempt, reason, j->wake_ms,
            retry_after_ms >= 0 ? " (as asked)" : "");
    record(j, REC_RETRY, RETRY_SQL, 3, x);
}

static void record_pace(struct job *j, int64_t wait_ms)
{
    char ms[32];
    const char *x[1] = {ms};

    j->wake_ms = wait_ms;
    snprintf(ms, sizeof(ms), "%" PRId64, wait_ms);
    bt_debug("push: delivery %s waits %" PRId64 " ms for %s %s", j->id, wait_ms, j->d.channel,
             where(j));
    record(j, REC_PACE, PACE_SQL, 1, x);
}

static void record_final(struct job *j, enum record rec, const char *reason, bool unsent)
{
    const char *x[3] = {rec == REC_SKIPPED ? "skipped" : "failed", reason, unsent ? "1" : "0"};

    if (rec == REC_SKIPPED)
        bt_info("push: delivery %s skipped: %s", j->id, reason);
    else
        bt_warn("push: delivery %s to %s %s failed for good: %s", j->id,
                j->d.channel ? j->d.channel : "(no channel)", where(j), reason);
    record(j, rec, FINAL_SQL, 3, x);
}

/* ---------------------------------------------------------------- pushing */

static void on_fetched(const struct bt_fetch_result *res, void *ud)
{
    struct job *j = ud;
    struct bt_push *p = j->push;
    struct bt_push_verdict v;

    j->req = NULL;
    if (res->err == BT_ECANCELED) {
        /* Closing: the claim stays, and its lease brings it back. */
        bt_debug("push: delivery %s canceled in flight", j->id);
        drop_job(j);
        after_job(p);
        return;
    }
    memset(&v, 0, sizeof(v));
    j->ops->classify(res, &v);
    switch (v.outcome) {
    case BT_PUSH_SENT:
        record_sent(j, v.external_id);
        break;
    case BT_PUSH_RETRY:
        if (v.retry_after_ms >= 0 && j->took_slot)
            pace_hold(p, j->d.to, v.retry_after_ms);
        else if (res->status != 429)
            pace_give_back(p, j);
        record_retry(j, v.reason, v.retry_after_ms);
        break;
    case BT_PUSH_FAILED:
        pace_give_back(p, j);
        record_final(j, REC_FAILED, v.reason, false);
        break;
    }
}

static void push_one(struct bt_push *p, struct job *j, const char *cur_stage, bool gone)
{
    const struct bt_stage *st = cur_stage ? bt_motion_find_stage(p->motion, cur_stage) : NULL;
    struct bt_push_http http;
    struct bt_fetch_request rq;
    char why[256];
    int64_t wait;

    if (p->quiesced) {
        record_pace(j, 0); /* stopping: hand it straight back */
        return;
    }
    if (gone) {
        record_final(j, REC_SKIPPED, "deal deleted", true);
        return;
    }
    if (st && st->outcome != BT_OUTCOME_OPEN) {
        char reason[300];

        snprintf(reason, sizeof(reason), "deal reached %s", st->id);
        record_final(j, REC_SKIPPED, reason, true);
        return;
    }
    j->ops = bt_push_ops_find(j->d.channel);
    if (!j->ops) {
        snprintf(why, sizeof(why), "unknown channel %.100s", j->d.channel ? j->d.channel : "");
        record_final(j, REC_FAILED, why, true);
        return;
    }
    if (!j->ops->build) {
        record_sent(j, NULL);
        return;
    }
    if (j->ops == &bt_push_slack) {
        wait = pace_wait(p, j);
        if (wait > 0) {
            record_pace(j, wait);
            return;
        }
    }
    memset(&http, 0, sizeof(http));
    why[0] = '\0';
    if (j->ops->build(p->cfg, &j->d, (int64_t)time(NULL), &http, why, sizeof(why)) < 0) {
        pace_give_back(p, j);
        record_final(j, REC_FAILED, why[0] ? why : "cannot build the request", true);
        bt_push_http_free(&http);
        return;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    rq.url = http.url;
    rq.headers = (const char *const *)http.headers;
    rq.body = http.body;
    rq.body_len = http.body_len;
    set_state(j, JOB_SENDING);
    if (bt_fetch_start(p->fetch, &rq, on_fetched, j, &j->req) < 0) {
        pace_give_back(p, j);
        record_retry(j, "cannot start the request", -1);
    }
    bt_push_http_free(&http);
}

static const char *col(PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c);
}

static const char *keep(struct bt_arena *a, const char *s)
{
    return s ? bt_arena_strdup(a, s) : NULL;
}

static struct job *job_from_row(struct bt_push *p, PGresult *r, int row)
{
    struct job *j = bt_calloc(1, sizeof(*j));
    struct bt_push_delivery *d = &j->d;
    struct bt_arena *a = bt_arena_new();
    const char *cur = col(r, row, C_CUR_STAGE), *stage;
    const struct bt_stage *st;
    const struct bt_competitor *comp;

    j->push = p;
    j->arena = a;
    link_job(j, JOB_CLAIMED);
    snprintf(j->id, sizeof(j->id), "%s", PQgetvalue(r, row, C_ID));
    snprintf(j->attempts, sizeof(j->attempts), "%s", PQgetvalue(r, row, C_ATTEMPTS));
    d->id = strtoll(j->id, NULL, 10);
    d->attempt = (unsigned)strtoul(j->attempts, NULL, 10);
    d->source = keep(a, col(r, row, C_SOURCE));
    d->deal_id = keep(a, col(r, row, C_DEAL));
    d->deal_name = keep(a, col(r, row, C_NAME) ? col(r, row, C_NAME) : d->deal_id);
    stage = cur ? cur : col(r, row, C_STAGE);
    d->stage = keep(a, stage);
    st = stage ? bt_motion_find_stage(p->motion, stage) : NULL;
    d->stage_label = st && st->label ? keep(a, st->label) : d->stage;
    d->competitor = keep(a, col(r, row, C_COMPETITOR));
    comp = d->competitor ? bt_motion_find_competitor(p->motion, d->competitor) : NULL;
    d->competitor_name = comp && comp->name ? keep(a, comp->name) : d->competitor;
    d->asset_id = keep(a, col(r, row, C_ASSET));
    d->asset_kind = keep(a, col(r, row, C_KIND));
    d->asset_title = keep(a, col(r, row, C_TITLE));
    d->play_id = keep(a, col(r, row, C_PLAY));
    d->trigger = keep(a, col(r, row, C_TRIGGER));
    d->rep_id = keep(a, col(r, row, C_REP));
    d->channel = keep(a, col(r, row, C_CHANNEL));
    d->to = keep(a, col(r, row, C_TARGET));
    d->token = keep(a, col(r, row, C_TOKEN));
    {
        char *link = bt_asprintf("%s/o/%s", p->public_url, d->token ? d->token : "");

        d->link = keep(a, link);
        bt_free(link);
    }
    return j;
}

static void claimed(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct bt_push *p = ud;
    int rows;

    if (err || n != 1) {
        p->claiming = false;
        if (err != BT_ECANCELED) {
            p->stats.errors++;
            bt_error("push: claiming deliveries failed: %s", msg ? msg : "no result");
        }
        after_job(p);
        return;
    }
    rows = PQntuples(res[0]);
    if (PQnfields(res[0]) != C_COUNT)
        rows = 0;
    p->stats.claimed += (unsigned long long)rows;
    /* A full slice suggests more are due. */
    p->more = rows > 0 && (unsigned)rows >= p->claim_limit;
    for (int i = 0; i < rows; i++) {
        struct job *j = job_from_row(p, res[0], i);

        push_one(p, j, col(res[0], i, C_CUR_STAGE), !strcmp(PQgetvalue(res[0], i, C_GONE), "t"));
    }
    /* Still "claiming" until every row is on its way, so that a job ending
     * inside the loop neither claims again nor ends a close early. */
    p->claiming = false;
    after_job(p);
}

static void cycle(struct bt_push *p)
{
    unsigned batch = p->cfg->push.batch ? p->cfg->push.batch : 100;
    size_t busy = active(p);
    struct bt_pg_batch *b;
    char limit[16], lease[32];
    const char *params[3] = {limit, lease, p->instance};

    if (p->quiesced || p->closing)
        return;
    if (p->claiming) {
        p->again = true;
        return;
    }
    if (!p->motion || !bt_pg_up(p->pg))
        return;
    /* Claim in slices of at least half a batch once busy: a claim per
     * finished push would cost more round trips than the pushes. */
    if (busy >= batch || (busy && (batch - busy) * 2 < batch)) {
        p->again = true;
        return;
    }
    p->again = false;
    p->claim_limit = (unsigned)(batch - busy);
    snprintf(limit, sizeof(limit), "%u", p->claim_limit);
    snprintf(lease, sizeof(lease), "%" PRId64, p->cfg->push.lease_ms);
    b = bt_pg_batch_new();
    bt_pg_batch_add(b, CLAIM_SQL, 3, params);
    p->claiming = true;
    if (bt_pg_submit(p->pg, b, claimed, p) < 0)
        p->claiming = false;
}

/* ---------------------------------------------------------------- life */

static void finish_close(struct bt_push *p);

/* A job or a claim ended: claim more if more are due, or end the close. */
static void after_job(struct bt_push *p)
{
    if (p->closing) {
        if (!p->finishing && bt_push_idle(p))
            finish_close(p);
        return;
    }
    if (p->again || p->more)
        cycle(p);
}

static void on_pg_up(void *ud)
{
    cycle(ud);
}

static void on_notify(const char *channel, const char *payload, void *ud)
{
    (void)channel;
    (void)payload;
    cycle(ud);
}

int bt_push_new(uv_loop_t *loop, const struct bt_config *cfg, const char *public_url,
                struct bt_push **out)
{
    static const char *const listen[] = {"baton_delivery", NULL};
    struct bt_push *p = bt_calloc(1, sizeof(*p));
    struct bt_fetch_opts fo;
    struct bt_pg_opts po;
    char host[64] = "localhost";
    uint32_t tag = 0;
    int rc;

    *out = NULL;
    p->loop = loop;
    p->cfg = bt_config_ref(cfg);
    p->public_url = bt_strdup(public_url ? public_url : cfg->public_url ? cfg->public_url : "");
    bt_retry_from_config(&p->retry, &cfg->push);
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    if (getrandom(&tag, sizeof(tag), 0) != (ssize_t)sizeof(tag))
        tag = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    snprintf(p->instance, sizeof(p->instance), "%s:%ld:%08" PRIx32, host, (long)getpid(), tag);
    if (getrandom(&p->rng, sizeof(p->rng), 0) != (ssize_t)sizeof(p->rng) || !p->rng)
        p->rng = 0x9E3779B97F4A7C15ULL ^ tag;
    if (cfg->push.timeout_ms >= cfg->push.lease_ms)
        bt_warn("push: push.timeout (%" PRId64 " ms) is not shorter than push.lease (%" PRId64
                " ms): a slow push may be claimed again while in flight",
                cfg->push.timeout_ms, cfg->push.lease_ms);

    memset(&fo, 0, sizeof(fo));
    fo.connect_timeout_ms = cfg->push.connect_timeout_ms;
    fo.timeout_ms = cfg->push.timeout_ms;
    fo.max_connections_per_host = cfg->push.max_connections_per_host;
    fo.response_cap = (size_t)cfg->push.response_cap;
    rc = bt_fetch_new(loop, &fo, &p->fetch);
    if (rc < 0)
        goto fail;

    memset(&po, 0, sizeof(po));
    po.conninfo = cfg->database;
    po.name = "push";
    po.listen = listen;
    po.batch_timeout_ms = 30000;
    po.on_up = on_pg_up;
    po.on_notify = on_notify;
    po.ud = p;
    rc = bt_pg_new(loop, &po, &p->pg);
    if (rc < 0)
        goto fail;

    uv_timer_init(loop, &p->janitor);
    uv_timer_init(loop, &p->wake);
    p->janitor.data = p->wake.data = p;
    uv_timer_start(&p->janitor, on_janitor, JANITOR_MS, JANITOR_MS);
    bt_info("push: instance %s", p->instance);
    *out = p;
    return 0;
fail:
    /* Only reached before any handle of ours exists. */
    if (p->fetch)
        bt_fetch_close(p->fetch, NULL, NULL);
    bt_config_unref(p->cfg);
    bt_free(p->public_url);
    bt_free(p);
    return rc;
}

void bt_push_set_motion(struct bt_push *p, struct bt_motion *m)
{
    struct bt_motion *old = p->motion;

    p->motion = m ? bt_motion_ref(m) : NULL;
    bt_motion_unref(old);
    cycle(p);
}

void bt_push_kick(struct bt_push *p)
{
    cycle(p);
}

void bt_push_quiesce(struct bt_push *p)
{
    p->quiesced = true;
}

bool bt_push_idle(const struct bt_push *p)
{
    return !p->claiming && active(p) == 0;
}

const struct bt_push_stats *bt_push_stats(struct bt_push *p)
{
    p->stats.in_flight = active(p);
    return &p->stats;
}

const char *bt_push_instance(const struct bt_push *p)
{
    return p->instance;
}

static void one_closed(struct bt_push *p)
{
    if (--p->open_handles > 0)
        return;
    {
        void (*done)(void *) = p->done;
        void *ud = p->done_ud;

        while (p->paces) {
            struct pace *e = p->paces;

            p->paces = e->next;
            bt_free(e->channel);
            bt_free(e);
        }
        bt_motion_unref(p->motion);
        bt_config_unref(p->cfg);
        bt_free(p->public_url);
        bt_free(p);
        if (done)
            done(ud);
    }
}

static void part_closed(void *ud)
{
    one_closed(ud);
}

static void timer_closed(uv_handle_t *h)
{
    one_closed(h->data);
}

/* Cancels what is still in flight (it stays claimed; the lease brings it
 * back), then closes the connection — whose pending records and claim
 * come back canceled — and the handles. */
static void finish_close(struct bt_push *p)
{
    if (p->finishing)
        return;
    p->finishing = true;
    p->open_handles = 1; /* held until every close below is started */
    uv_timer_stop(&p->wake);
    uv_timer_stop(&p->janitor);
    if (p->counts[JOB_SENDING])
        bt_warn("push: stopping with %zu push(es) in flight; they go out again once their "
                "lease runs out",
                p->counts[JOB_SENDING]);
    p->open_handles++;
    bt_fetch_close(p->fetch, part_closed, p);
    p->open_handles++;
    bt_pg_close(p->pg, part_closed, p);
    p->open_handles += 2;
    uv_close((uv_handle_t *)&p->janitor, timer_closed);
    uv_close((uv_handle_t *)&p->wake, timer_closed);
    one_closed(p);
}

static void on_close_wait(uv_timer_t *t)
{
    finish_close(t->data);
}

void bt_push_close(struct bt_push *p, void (*done)(void *ud), void *ud)
{
    if (p->closing)
        return;
    p->closing = true;
    p->quiesced = true;
    p->done = done;
    p->done_ud = ud;
    uv_timer_stop(&p->janitor);
    if (bt_push_idle(p))
        finish_close(p);
    else
        uv_timer_start(&p->wake, on_close_wait, CLOSE_WAIT_MS, 0);
}
