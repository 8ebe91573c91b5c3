#include "assign.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "track.h"

/* Claims up to $1 marked deals for $2 seconds and returns, for each, its
 * state and every asset already chosen for it (or for deals merged into it). */
static const char CLAIM_SQL[] =
    "UPDATE deals d SET match_lease = now() + make_interval(secs => $2::int), "
    "  match_owner = $3 "
    "FROM (SELECT source, deal_id FROM deals "
    "      WHERE to_match AND NOT deleted AND (match_lease IS NULL OR match_lease < now()) "
    "      ORDER BY updated_at LIMIT $1::int FOR UPDATE SKIP LOCKED) q "
    "WHERE d.source = q.source AND d.deal_id = q.deal_id "
    "RETURNING d.source, d.deal_id, d.fields::text, d.change_seq, coalesce(d.trigger, ''), "
    "  coalesce((SELECT json_agg(x.asset_id)::text FROM deliveries x "
    "            WHERE x.source = d.source AND (x.deal_id = d.deal_id OR x.deal_id IN "
    "              (SELECT m.deal_id FROM deals m WHERE m.source = d.source "
    "                 AND m.merged_into = d.deal_id))), '[]'), d.lookup_failures, "
    "  d.looked_up_at IS NOT NULL";

static const char INSERT_SQL[] =
    "INSERT INTO deliveries (source, deal_id, asset_id, motion_version, play_id, trigger, "
    "  stage, competitor, rep_id, channel, target, status, token, asset_kind, asset_title, "
    "  asset_url, deal_name) "
    "VALUES ($1, $2, $3, $4::bigint, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
    "  $17) "
    "ON CONFLICT (source, deal_id, asset_id) DO NOTHING RETURNING id";

static const char DONE_SQL[] =
    "UPDATE deals SET to_match = (change_seq <> $3::bigint), match_lease = NULL, "
    "  match_owner = NULL WHERE source = $1 AND deal_id = $2 AND match_owner = $4";

struct bt_assign {
    uv_loop_t *loop;
    struct bt_pg *pg;
    struct bt_assign_opts opts;
    struct bt_matcher *matcher, *next_matcher;
    long long version, next_version;
    bool have_next, running, again, closing;
    uv_timer_t retry;
    /* The janitor: deals whose lease ran out (a crashed instance, a
     * look-up that asked to wait) are picked up without anyone kicking. */
    uv_timer_t janitor;
    int open_handles;
    char owner[64]; /* this matcher's name on the leases it holds */
    struct bt_assign_stats stats;
};

static void cycle(struct bt_assign *a);

static void on_retry(uv_timer_t *t)
{
    cycle(t->data);
}

static void finish(struct bt_assign *a, bool more, bool failed)
{
    a->running = false;
    if (a->closing) {
        bt_assign_free(a);
        return;
    }
    if (failed) {
        a->stats.errors++;
        uv_timer_start(&a->retry, on_retry, 1000, 0);
    } else if (more || a->again) {
        a->again = false;
        cycle(a);
    }
}

static void stored(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct bt_assign *a = ud;
    unsigned long long inserted = 0;

    if (err) {
        bt_error("assign: storing deliveries failed: %s", msg);
        finish(a, false, true);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (PQresultStatus(res[i]) == PGRES_TUPLES_OK)
            inserted += (unsigned long long)PQntuples(res[i]);
    a->stats.deliveries += inserted;
    if (inserted && a->opts.on_delivery)
        a->opts.on_delivery(a->opts.ud);
    finish(a, false, false);
}

static void fields_from_json(const char *text, struct bt_fields *f)
{
    json_t *j = json_loads(text, 0, NULL);
    const char *k;
    json_t *v;

    json_object_foreach(j, k, v)
    {
        if (json_is_string(v))
            bt_fields_set(f, k, json_string_value(v));
        else if (json_is_null(v))
            bt_fields_set(f, k, NULL);
        else {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

            bt_fields_set(f, k, s);
            bt_free(s);
        }
    }
    json_decref(j);
}

/* Where a delivery for this deal goes: the owner's rep, else the default
 * route, else nowhere (kept as unroutable, and counted in reports). */
static const struct bt_route *route_for(const struct bt_motion *m, enum bt_source src,
                                        const struct bt_fields *deal, const char **rep_id)
{
    const char *owner = bt_fields_get(deal, "owner");
    const struct bt_rep *rep = owner ? bt_motion_rep_for_owner(m, src, owner) : NULL;

    *rep_id = rep ? rep->id : NULL;
    if (rep)
        return &rep->route;
    return bt_motion_default_route(m);
}

static void looked_up(void *ud)
{
    struct bt_assign *a = ud;

    bt_assign_kick(a);
}

static void match_deal(struct bt_assign *a, PGresult *r, int row, struct bt_pg_batch *b)
{
    const struct bt_motion *m = bt_matcher_motion(a->matcher);
    const char *source = PQgetvalue(r, row, 0), *deal_id = PQgetvalue(r, row, 1);
    const char *seq = PQgetvalue(r, row, 3), *trigger = PQgetvalue(r, row, 4);
    int src = bt_source_parse(source);
    json_t *already_j = json_loads(PQgetvalue(r, row, 5), 0, NULL);
    size_t n_already = json_array_size(already_j);
    const char **already = bt_calloc(n_already + 1, sizeof(char *));
    struct bt_fields deal;
    struct bt_match_result res;
    char version[32];

    bt_fields_init(&deal);
    fields_from_json(PQgetvalue(r, row, 2), &deal);
    /* A deal missing what matching or routing needs is completed from its
     * CRM first; the look-up hands it back to a later cycle. A deal looked
     * up once is matched on what it has, so a field the CRM never fills
     * cannot hold it back forever. */
    if (src >= 0 && a->opts.lookup && strcmp(PQgetvalue(r, row, 7), "t") &&
        bt_lookup_needed(m, (enum bt_source)src, &deal) &&
        bt_lookup_start(a->opts.lookup, m, (enum bt_source)src, deal_id, a->owner,
                        (int)strtol(PQgetvalue(r, row, 6), NULL, 10), looked_up, a)) {
        a->stats.lookups++;
        bt_fields_free(&deal);
        bt_free(already);
        json_decref(already_j);
        return;
    }
    for (size_t i = 0; i < n_already; i++)
        already[i] = json_string_value(json_array_get(already_j, i));
    snprintf(version, sizeof(version), "%lld", a->version);
    memset(&res, 0, sizeof(res));
    if (src >= 0 && bt_match(a->matcher, &deal, already, n_already, &res) == 0) {
        const char *rep_id = NULL;
        const struct bt_route *route = route_for(m, (enum bt_source)src, &deal, &rep_id);
        const char *competitor =
            res.competitor ? res.competitor : bt_fields_get(&deal, "competitor");

        for (size_t i = 0; i < res.n_picks; i++) {
            char token[BT_TOKEN_LEN + 1];
            const struct bt_asset *asset = res.picks[i].asset;
            const char *p[17];

            if (bt_track_token(token) < 0)
                bt_fatal("assign: no randomness for tracking tokens");
            p[0] = source;
            p[1] = deal_id;
            p[2] = res.picks[i].asset->id;
            p[3] = version;
            p[4] = res.picks[i].play->id;
            p[5] = *trigger ? trigger : NULL;
            p[6] = bt_fields_get(&deal, "stage");
            p[7] = competitor;
            p[8] = rep_id;
            p[9] = route ? route->channel : NULL;
            p[10] = route ? route->to : NULL;
            p[11] = route ? "pending" : "unroutable";
            p[12] = token;
            p[13] = asset->kind;
            p[14] = asset->title;
            p[15] = asset->url;
            p[16] = bt_fields_get(&deal, "name");
            bt_pg_batch_add_prepared(b, "bt_assign_insert", INSERT_SQL, 17, p);
            if (!route)
                a->stats.unroutable++;
            bt_debug("assign: %s deal %s gets %s (play %s)", source, deal_id,
                     res.picks[i].asset->id, res.picks[i].play->id);
        }
    } else if (src < 0) {
        bt_warn("assign: deal %s has unknown source \"%s\"", deal_id, source);
    }
    {
        const char *p[4] = {source, deal_id, seq, a->owner};

        bt_pg_batch_add_prepared(b, "bt_assign_done", DONE_SQL, 4, p);
    }
    a->stats.deals++;
    bt_match_result_free(&res);
    bt_fields_free(&deal);
    bt_free(already);
    json_decref(already_j);
}

static void claimed(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct bt_assign *a = ud;
    struct bt_pg_batch *b;
    int rows;

    if (err || n != 1) {
        bt_error("assign: claiming deals failed: %s", msg ? msg : "no result");
        finish(a, false, true);
        return;
    }
    rows = PQntuples(res[0]);
    if (rows == 0) {
        finish(a, false, false);
        return;
    }
    b = bt_pg_batch_new();
    for (int i = 0; i < rows; i++)
        match_deal(a, res[0], i, b);
    /* Pushers on every instance wake up for new deliveries. */
    bt_pg_batch_add(b, "NOTIFY baton_delivery", 0, NULL);
    /* A full slice suggests more are waiting. */
    a->again = a->again || (unsigned)rows >= a->opts.batch;
    if (bt_pg_submit(a->pg, b, stored, a) < 0)
        finish(a, false, true);
}

static void cycle(struct bt_assign *a)
{
    struct bt_pg_batch *b;
    char limit[16], lease[16];
    const char *p[3] = {limit, lease, a->owner};

    if (a->running) {
        a->again = true;
        return;
    }
    if (a->have_next) {
        bt_matcher_free(a->matcher);
        a->matcher = a->next_matcher;
        a->version = a->next_version;
        a->next_matcher = NULL;
        a->have_next = false;
    }
    if (!a->matcher || !bt_pg_up(a->pg) || a->closing)
        return;
    snprintf(limit, sizeof(limit), "%u", a->opts.batch);
    snprintf(lease, sizeof(lease), "%u", a->opts.lease_s);
    b = bt_pg_batch_new();
    bt_pg_batch_add_prepared(b, "bt_assign_claim", CLAIM_SQL, 3, p);
    a->running = true;
    a->again = false;
    a->stats.cycles++;
    if (bt_pg_submit(a->pg, b, claimed, a) < 0)
        a->running = false;
}

int bt_assign_new(uv_loop_t *loop, struct bt_pg *pg, const struct bt_assign_opts *opts,
                  struct bt_assign **out)
{
    struct bt_assign *a = bt_calloc(1, sizeof(*a));

    a->loop = loop;
    a->pg = pg;
    a->opts = *opts;
    {
        char host[32] = "host";
        char token[BT_TOKEN_LEN + 1];

        gethostname(host, sizeof(host) - 1);
        if (bt_track_token(token) < 0)
            bt_fatal("assign: no randomness");
        snprintf(a->owner, sizeof(a->owner), "%s:%d:%.8s", host, (int)getpid(), token);
    }
    if (!a->opts.batch)
        a->opts.batch = 100;
    if (!a->opts.lease_s)
        a->opts.lease_s = 30;
    uv_timer_init(loop, &a->retry);
    uv_timer_init(loop, &a->janitor);
    a->retry.data = a->janitor.data = a;
    a->open_handles = 2;
    uv_timer_start(&a->janitor, on_retry, 1000, 1000);
    *out = a;
    return 0;
}

void bt_assign_set_matcher(struct bt_assign *a, struct bt_matcher *mt, long long version)
{
    bt_matcher_free(a->next_matcher);
    a->next_matcher = mt;
    a->next_version = version;
    a->have_next = true;
    cycle(a);
}

void bt_assign_kick(struct bt_assign *a)
{
    cycle(a);
}

bool bt_assign_idle(const struct bt_assign *a)
{
    return !a->running;
}

const struct bt_assign_stats *bt_assign_stats(const struct bt_assign *a)
{
    return &a->stats;
}

static void retry_closed(uv_handle_t *h)
{
    struct bt_assign *a = h->data;

    if (--a->open_handles > 0)
        return;
    bt_matcher_free(a->matcher);
    bt_matcher_free(a->next_matcher);
    bt_free(a);
}

void bt_assign_free(struct bt_assign *a)
{
    if (!a)
        return;
    a->closing = true;
    if (a->running)
        return; /* finish() comes back here */
    uv_close((uv_handle_t *)&a->retry, retry_closed);
    uv_close((uv_handle_t *)&a->janitor, retry_closed);
}
