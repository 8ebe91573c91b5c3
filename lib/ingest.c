#include "ingest.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

static const char INGEST_SQL[] = "SELECT baton_ingest($1, $2, $3, $4, $5::bigint, $6::jsonb, "
                                 "$7::jsonb, $8::jsonb)";

/* One submitter's changes, waiting or in flight. */
struct pending {
    struct bt_changes changes;
    bt_ingest_cb cb;
    void *ud;
    bool solo; /* retried alone after its batch failed */
    struct pending *next;
};

struct flight {
    struct bt_ingest *in;
    struct pending *list;
};

struct bt_ingest {
    uv_loop_t *loop;
    struct bt_pg *pg;
    struct bt_journal *journal;
    struct bt_ingest_opts opts;
    /* Flushes what arrived during one loop turn. An idle handle, not a
     * check: a pending idle handle keeps the loop from blocking in poll,
     * while a check started from the idle phase would wait for the next
     * event before it ran. */
    uv_idle_t flush;
    struct pending *head, *tail;
    size_t queued, in_flight, journaling;
    /* replay */
    size_t replay_outstanding;
    char **replay_lines; /* taken from the journal, fed in a few at a time */
    size_t replay_next, replay_n;
    bool replaying, replay_failed;
    bool closing;
    void (*closed)(void *ud);
    void *closed_ud;
    struct bt_ingest_stats stats;
};

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void pending_done(struct pending *p, int err)
{
    bt_ingest_cb cb = p->cb;
    void *ud = p->ud;

    bt_changes_free(&p->changes);
    bt_free(p);
    cb(err, ud);
}

static char *changes_json(const struct bt_changes *c)
{
    json_t *arr = json_array();
    char *s, *out;

    for (size_t i = 0; i < c->n; i++)
        json_array_append_new(arr, bt_change_to_json(&c->v[i]));
    s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    out = bt_strdup(s);
    bt_free(s);
    return out;
}

/* Journal */
struct jreq {
    struct bt_ingest *in;
    struct pending *p;
};

static void maybe_closed(struct bt_ingest *in);
static void flush(struct bt_ingest *in);

static void journaled(int err, void *ud)
{
    struct jreq *j = ud;
    struct bt_ingest *in = j->in;

    in->journaling--;
    if (err)
        in->stats.refused++;
    else
        in->stats.journaled += j->p->changes.n;
    pending_done(j->p, err);
    bt_free(j);
    maybe_closed(in);
}

static void journal_pending(struct bt_ingest *in, struct pending *p)
{
    char *line = changes_json(&p->changes);
    struct jreq *j = bt_malloc(sizeof(*j));
    int rc;

    j->in = in;
    j->p = p;
    rc = bt_journal_append(in->journal, line, strlen(line), journaled, j);
    bt_free(line);
    if (rc) {
        if (rc == BT_EFULL)
            bt_warn("ingest: the database is unreachable and the journal is full: refusing "
                    "%zu event(s) with 503",
                    p->changes.n);
        in->stats.refused++;
        bt_free(j);
        pending_done(p, rc == BT_EFULL ? BT_EFULL : BT_EIO);
        return;
    }
    in->journaling++;
}

/* Database */
static void add_change(struct bt_pg_batch *b, const struct bt_change *c)
{
    json_t *j = bt_change_to_json(c);
    json_t *fields = json_object_get(j, "fields");
    json_t *merged = json_object_get(j, "merged_ids");
    char at[32];
    char *payload = json_dumps(j, JSON_COMPACT);
    char *fields_s = json_dumps(fields, JSON_COMPACT);
    char *merged_s = merged ? json_dumps(merged, JSON_COMPACT) : NULL;
    const char *params[8];

    snprintf(at, sizeof(at), "%lld", (long long)c->occurred_at);
    params[0] = bt_source_name(c->source);
    params[1] = c->event_id;
    params[2] = c->deal_id;
    params[3] = json_string_value(json_object_get(j, "kind"));
    params[4] = at;
    params[5] = fields_s;
    params[6] = payload;
    params[7] = merged_s;
    bt_pg_batch_add_prepared(b, "bt_ingest", INGEST_SQL, 8, params);
    bt_free(payload);
    bt_free(fields_s);
    bt_free(merged_s);
    json_decref(j);
}

static void submit_list(struct bt_ingest *in, struct pending *list);

static void committed(int err, PGresult *const *res, size_t n, const char *msg, void *ud)
{
    struct flight *f = ud;
    struct bt_ingest *in = f->in;
    struct pending *p, *next;
    bool marked = false, single = f->list && !f->list->next;

    in->in_flight--;
    if (!err) {
        in->stats.committed_batches++;
        for (size_t i = 0; i < n; i++) {
            const char *v = PQntuples(res[i]) ? PQgetvalue(res[i], 0, 0) : "";

            in->stats.events++;
            if (!strcmp(v, "marked"))
                marked = true;
            else if (!strcmp(v, "duplicate"))
                in->stats.duplicates++;
        }
        for (p = f->list; p; p = next) {
            next = p->next;
            pending_done(p, 0);
        }
        if (marked && in->opts.on_marked)
            in->opts.on_marked(in->opts.ud);
    } else if (err == BT_EDB && !in->closing) {
        /* The server refused a statement: find out whose by retrying each
         * submitter alone; only the culprit then fails. */
        bt_error("ingest: a batch was refused: %s", msg);
        for (p = f->list; p; p = next) {
            next = p->next;
            p->next = NULL;
            if (p->solo || single) {
                in->stats.refused++;
                /* Refused for its own content: trying it again will not help. */
                pending_done(p, BT_EINVAL);
            } else {
                p->solo = true;
                submit_list(in, p);
            }
        }
    } else {
        /* Lost connection (the commit may or may not have happened) or a
         * passing refusal (a deadlock, a server shutting down): the journal
         * keeps the events; replaying what did commit is harmless. */
        for (p = f->list; p; p = next) {
            next = p->next;
            p->next = NULL;
            journal_pending(in, p);
        }
    }
    bt_free(f);
    maybe_closed(in);
}

static void submit_list(struct bt_ingest *in, struct pending *list)
{
    struct bt_pg_batch *b = bt_pg_batch_new();
    struct flight *f = bt_malloc(sizeof(*f));
    struct pending *p, *next;

    for (p = list; p; p = p->next)
        for (size_t i = 0; i < p->changes.n; i++)
            add_change(b, &p->changes.v[i]);
    f->in = in;
    f->list = list;
    if (!bt_pg_batch_len(b)) {
        bt_pg_batch_free(b);
    } else if (bt_pg_submit(in->pg, b, committed, f) == 0) { /* it takes b either way */
        in->in_flight++;
        return;
    }
    bt_free(f);
    for (p = list; p; p = next) {
        next = p->next;
        p->next = NULL;
        if (!p->changes.n)
            pending_done(p, 0);
        else
            journal_pending(in, p);
    }
}

static void flush(struct bt_ingest *in)
{
    while (in->head) {
        struct pending *list = in->head, *last = list;
        size_t events = list->changes.n;

        /* Up to batch_max events per transaction; a submitter is never split. */
        while (last->next && events + last->next->changes.n <= in->opts.batch_max) {
            last = last->next;
            events += last->changes.n;
        }
        in->head = last->next;
        if (!in->head)
            in->tail = NULL;
        last->next = NULL;
        for (struct pending *p = list; p; p = p->next)
            in->queued--;
        submit_list(in, list);
    }
    uv_idle_stop(&in->flush);
}

static void on_flush(uv_idle_t *i)
{
    flush(i->data);
}

static void enqueue(struct bt_ingest *in, struct pending *p)
{
    for (size_t i = 0; i < p->changes.n; i++)
        if (!p->changes.v[i].occurred_at)
            p->changes.v[i].occurred_at = now_ms();
    p->next = NULL;
    if (in->tail)
        in->tail->next = p;
    else
        in->head = p;
    in->tail = p;
    in->queued++;
    uv_idle_start(&in->flush, on_flush);
}

void bt_ingest_submit(struct bt_ingest *in, struct bt_changes *changes, bt_ingest_cb cb, void *ud)
{
    struct pending *p = bt_calloc(1, sizeof(*p));

    p->changes = *changes;
    bt_changes_init(changes);
    p->cb = cb;
    p->ud = ud;
    enqueue(in, p);
}

/* Replay */
static void replay_take(struct bt_ingest *in);
static void replay_feed(struct bt_ingest *in);

/* One replayed journal line, in flight. */
struct replayed {
    struct bt_ingest *in;
    size_t line;
};

/* A journaled record the database refuses for its content would otherwise
 * hold the replay file (and the journal's room) forever: it is set aside in
 * PATH.rejected, in the same line format, for a person to look at. */
static void reject_line(struct bt_ingest *in, const char *line)
{
    char *path = bt_asprintf("%s.rejected", bt_journal_path(in->journal));
    FILE *f = fopen(path, "a");

    if (!f || fprintf(f, "%s\n", line) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        bt_error("ingest: cannot set a refused journal record aside in %s", path);
        in->replay_failed = true;
    } else {
        bt_error("ingest: the database refuses a journaled record; it is set aside in %s",
                 path);
    }
    if (f)
        fclose(f);
    bt_free(path);
}

static void replay_one_done(int err, void *ud)
{
    struct replayed *r = ud;
    struct bt_ingest *in = r->in;

    if (err == BT_EINVAL)
        reject_line(in, in->replay_lines[r->line]);
    else if (err)
        in->replay_failed = true;
    else
        in->stats.replayed++;
    bt_free(r);
    in->replay_outstanding--;
    if (!in->closing)
        replay_feed(in);
    if (in->replay_outstanding)
        return;
    in->replaying = false;
    bt_journal_lines_free(in->replay_lines);
    in->replay_lines = NULL;
    if (in->replay_next < in->replay_n) {
        /* Closing before the replay ended: the file stays for next time. */
        in->replay_failed = true;
    }
    if (in->replay_failed) {
        bt_warn("ingest: journal replay incomplete; it will be retried");
        return;
    }
    bt_journal_replayed(in->journal);
    bt_info("ingest: journal replayed");
    /* Events journaled during the replay are in the current file. */
    if (bt_journal_bytes(in->journal) && bt_pg_up(in->pg))
        replay_take(in);
}

/* A replay goes in slices, so a large journal neither floods the pipeline
 * (its batches would time out waiting their turn) nor starves live
 * webhooks queued behind it. */
enum { REPLAY_SLICE = 64 };

static void replay_feed(struct bt_ingest *in)
{
    while (in->replay_next < in->replay_n && in->replay_outstanding < REPLAY_SLICE) {
        size_t i = in->replay_next++;
        json_error_t jerr;
        json_t *arr = json_loads(in->replay_lines[i], 0, &jerr);
        struct pending *p = bt_calloc(1, sizeof(*p));
        struct replayed *r = bt_malloc(sizeof(*r));
        size_t k;
        json_t *item;

        r->in = in;
        r->line = i;
        bt_changes_init(&p->changes);
        p->cb = replay_one_done;
        p->ud = r;
        json_array_foreach(arr, k, item)
        {
            struct bt_change tmp;

            if (bt_change_from_json(item, &tmp) == 0) {
                struct bt_change *c = bt_changes_add(&p->changes);

                *c = tmp;
            } else {
                bt_error("ingest: journal line %zu, change %zu is unreadable; skipped", i + 1, k);
            }
        }
        if (!arr)
            bt_error("ingest: journal line %zu is not JSON (%s); skipped", i + 1, jerr.text);
        json_decref(arr);
        in->replay_outstanding++;
        enqueue(in, p);
    }
}

static void replay_take(struct bt_ingest *in)
{
    char **lines;
    size_t n;

    if (bt_journal_take(in->journal, &lines, &n) < 0) {
        /* Keep every file as it is; the next reconnect tries again. */
        bt_warn("ingest: cannot read the journal for replay yet");
        return;
    }
    if (!n) {
        bt_journal_lines_free(lines);
        bt_journal_replayed(in->journal);
        return;
    }
    bt_info("ingest: replaying %zu journaled request(s)", n);
    in->replaying = true;
    in->replay_failed = false;
    in->replay_outstanding = 0;
    in->replay_lines = lines;
    in->replay_next = 0;
    in->replay_n = n;
    replay_feed(in);
}

void bt_ingest_db_up(struct bt_ingest *in)
{
    if (!in->replaying && bt_journal_bytes(in->journal))
        replay_take(in);
}

int bt_ingest_new(uv_loop_t *loop, struct bt_pg *pg, struct bt_journal *journal,
                  const struct bt_ingest_opts *opts, struct bt_ingest **out)
{
    struct bt_ingest *in = bt_calloc(1, sizeof(*in));

    in->loop = loop;
    in->pg = pg;
    in->journal = journal;
    in->opts = *opts;
    if (!in->opts.batch_max)
        in->opts.batch_max = 500;
    uv_idle_init(loop, &in->flush);
    in->flush.data = in;
    *out = in;
    return 0;
}

int bt_ingest_idle(const struct bt_ingest *in)
{
    return !in->queued && !in->in_flight && !in->journaling && !in->replaying;
}

const struct bt_ingest_stats *bt_ingest_stats(const struct bt_ingest *in)
{
    return &in->stats;
}

static void flush_closed(uv_handle_t *h)
{
    struct bt_ingest *in = h->data;
    void (*done)(void *) = in->closed;
    void *ud = in->closed_ud;

    bt_free(in);
    if (done)
        done(ud);
}

/* Frees once nothing is in flight: batches the database cancels at
 * shutdown go to the journal, and their fdatasyncs come back here. */
static void maybe_closed(struct bt_ingest *in)
{
    if (!in->closing || in->in_flight || in->journaling || in->queued)
        return;
    if (uv_is_closing((uv_handle_t *)&in->flush))
        return;
    uv_idle_stop(&in->flush);
    uv_close((uv_handle_t *)&in->flush, flush_closed);
}

void bt_ingest_close(struct bt_ingest *in, void (*done)(void *ud), void *ud)
{
    in->closing = true;
    in->closed = done;
    in->closed_ud = ud;
    flush(in); /* what is queued goes to the database or the journal */
    maybe_closed(in);
}
