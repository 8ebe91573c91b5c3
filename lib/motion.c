/* motion — reading and validating the motion definition.
 *
 * One pass per section over the YAML tree, in an order where every section
 * can resolve the ids it names: stages, competitors and assets first, then
 * qualified_from, plays, fields and routing. Each problem is reported where
 * it sits and reading goes on, so ops see every error of a file at once. A
 * cross-check that depends on a section which is itself unreadable (no
 * stages list at all, say) is skipped, so that one mistake does not come
 * back as a cascade of follow-on errors.
 *
 * Everything a loaded motion hands out lives in its arena; the lookup tables
 * are sorted arrays searched by bisection, so a motion of thousands of plays
 * and assets costs a few comparisons per look-up. */
#include "motion.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "ydoc.h"

/* A motion file that expands (through YAML aliases) to more nodes and
 * characters than this is refused before it is read: a few lines of
 * anchors can otherwise stand for billions of nodes. */
enum { MAX_WEIGHT = 32u << 20 };
/* Edit-distance comparisons for "did you mean" hints, per file: a file with
 * thousands of unknown ids still gets every error, only without hints once
 * this runs out. */
enum { SUGGEST_BUDGET = 200000 };
/* User text quoted in a message is cut to this many bytes. */
enum { QUOTE_MAX = 80 };

/* One row of a lookup table. ROLE and the position fields are only used
 * while reading: NODE and PATH point into memory freed when reading ends. */
struct entry {
    const char *key;
    int src; /* owner table: the CRM; otherwise 0 */
    const void *item;
    const char *role; /* competitor words: "id", "name" or "alias" */
    const struct bt_ynode *node;
    const char *path;
    size_t pos;
};

struct table {
    struct entry *v;
    size_t n, alloc;
};

struct bt_motion {
    int refs;
    struct bt_arena *arena;
    const char *source;
    size_t source_len;
    const char *name;
    int format, max_assets;
    struct bt_stage *stages;
    size_t n_stages;
    const struct bt_stage *qualified_from;
    struct bt_competitor *competitors;
    size_t n_competitors;
    struct bt_asset *assets;
    size_t n_assets;
    struct bt_play *plays;
    size_t n_plays;
    struct bt_field_map *fields[BT_SRC_COUNT];
    size_t n_fields[BT_SRC_COUNT];
    struct bt_rep *reps;
    size_t n_reps;
    struct bt_route default_route;
    bool has_default;
    const char **cond_fields;
    /* sorted by key (folds: by folded key; owners: by key, then CRM) */
    struct table stage_ix, competitor_ix, fold_ix, asset_ix, play_ix, rep_ix, owner_ix;
};

struct parse {
    const struct bt_ydoc *doc;
    const char *file;
    struct bt_diags d; /* this file's problems, sorted before they are handed over */
    struct bt_arena *scratch;
    struct bt_motion *m;
    size_t suggest_budget;
    size_t pos; /* running file order for table rows */
    /* the section could be read, so a reference into it can be checked */
    bool stages_ok, competitors_ok, assets_ok;
    /* "did you mean" candidates */
    const char **stage_ids, **competitor_words, **asset_ids;
    size_t n_stage_ids, n_competitor_words, n_asset_ids;
};

static const char *const channel_names[] = {
#define BT_CHANNEL_NAME(name) #name,
    BT_CHANNELS(BT_CHANNEL_NAME)
#undef BT_CHANNEL_NAME
};
enum { N_CHANNELS = sizeof(channel_names) / sizeof(channel_names[0]) };

static const char *const source_names[BT_SRC_COUNT] = {"hubspot", "pipedrive", "salesforce",
                                                       "generic"};

/* ---- folding ---------------------------------------------------------- */

/* What reps and CRMs type is compared with ASCII case folded and runs of
 * white space read as one space, leading and trailing ones dropped. The
 * folder yields that stream one byte at a time, so raw input is compared
 * in place, without a copy and without measuring it first. */
struct folder {
    const char *s;
    bool space, started;
};

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int fold_next(struct folder *f)
{
    for (;;) {
        unsigned char c = (unsigned char)*f->s;

        if (!c)
            return 0;
        if (is_space(c)) {
            f->s++;
            f->space = f->started;
            continue;
        }
        if (f->space) {
            f->space = false;
            return ' ';
        }
        f->s++;
        f->started = true;
        return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
    }
}

static int fold_cmp(const char *a, const char *b)
{
    struct folder fa = {a, false, false}, fb = {b, false, false};

    for (;;) {
        int x = fold_next(&fa), y = fold_next(&fb);

        if (x != y || !x)
            return x - y;
    }
}

/* ---- tables ----------------------------------------------------------- */

static void table_add(struct table *t, const struct entry *e)
{
    if (t->n == t->alloc) {
        t->alloc = t->alloc ? t->alloc * 2 : 16;
        t->v = bt_reallocarray(t->v, t->alloc, sizeof(*t->v));
    }
    t->v[t->n++] = *e;
}

static void table_free(struct table *t)
{
    bt_free(t->v);
    t->v = NULL;
    t->n = t->alloc = 0;
}

static int cmp_key(const struct entry *a, const struct entry *b)
{
    int c = strcmp(a->key, b->key);

    if (c)
        return c;
    return (a->src > b->src) - (a->src < b->src);
}

static int cmp_fold(const struct entry *a, const struct entry *b)
{
    return fold_cmp(a->key, b->key);
}

static int pos_order(const struct entry *a, const struct entry *b)
{
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int sort_key(const void *a, const void *b)
{
    int c = cmp_key(a, b);

    return c ? c : pos_order(a, b);
}

static int sort_fold(const void *a, const void *b)
{
    int c = cmp_fold(a, b);

    return c ? c : pos_order(a, b);
}

/* The first row equal to PROBE under CMP, or NULL. */
static const struct entry *table_find(const struct table *t, const struct entry *probe,
                                      int (*cmp)(const struct entry *, const struct entry *))
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (cmp(&t->v[mid], probe) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && cmp(&t->v[lo], probe) == 0 ? &t->v[lo] : NULL;
}

static const void *find_by_key(const struct table *t, const char *key)
{
    struct entry probe = {.key = key};
    const struct entry *e;

    if (!key)
        return NULL;
    e = table_find(t, &probe, cmp_key);
    return e ? e->item : NULL;
}

/* ---- reporting -------------------------------------------------------- */

/* A new string in the scratch arena, formatted like vprintf. */
static const char *vsfmt(struct parse *p, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static const char *vsfmt(struct parse *p, const char *fmt, va_list ap)
{
    struct bt_buf b;
    const char *s;

    bt_buf_init(&b, 4096);
    if (bt_buf_vprintf(&b, fmt, ap) < 0)
        bt_buf_reset(&b); /* user text is cut short by q(), so only a bug gets here */
    s = bt_arena_strdup(p->scratch, b.data ? b.data : "");
    bt_buf_free(&b);
    return s;
}

static const char *sfmt(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *sfmt(struct parse *p, const char *fmt, ...)
{
    const char *s;
    va_list ap;

    va_start(ap, fmt);
    s = vsfmt(p, fmt, ap);
    va_end(ap);
    return s;
}

static void report(struct parse *p, const struct bt_ynode *at, const char *path, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void report(struct parse *p, const struct bt_ynode *at, const char *path, const char *fmt,
                   ...)
{
    const char *msg;
    va_list ap;

    va_start(ap, fmt);
    msg = vsfmt(p, fmt, ap);
    va_end(ap);
    bt_diags_add(&p->d, p->file, at ? at->line : 1, at ? at->col : 1, path, "%s", msg);
}

/* S as it may be quoted in a message: cut to QUOTE_MAX bytes on a character
 * boundary, control characters shown as '?', so one diagnostic stays one
 * readable line whatever the file holds. */
static const char *q(struct parse *p, const char *s)
{
    size_t n = strnlen(s, QUOTE_MAX + 1);
    bool cut = n > QUOTE_MAX;
    char *d;

    if (cut) {
        n = QUOTE_MAX - 3;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    d = bt_arena_alloc(p->scratch, n + 4);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        d[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (cut)
        memcpy(d + n, "...", 4);
    return d;
}

/* " — did you mean "x"?" for WORD among CANDS, or "". */
static const char *hint(struct parse *p, const char *word, const char *const *cands, size_t n)
{
    const char *s;

    if (n > p->suggest_budget)
        return "";
    p->suggest_budget -= n;
    s = bt_suggest(word, cands, n);
    return s ? sfmt(p, " — did you mean \"%s\"?", q(p, s)) : "";
}

/* ---- nodes ------------------------------------------------------------ */

static const char *pidx(struct parse *p, const char *path, size_t i)
{
    char *s = bt_ypath_index(path, i);
    const char *r = bt_arena_strdup(p->scratch, s);

    bt_free(s);
    return r;
}

static const char *pkey(struct parse *p, const char *path, const char *key)
{
    char *s = bt_ypath_key(path, key);
    const char *r = bt_arena_strdup(p->scratch, s);

    bt_free(s);
    return r;
}

static const char *keep(struct parse *p, const char *s)
{
    return bt_arena_strdup(p->m->arena, s);
}

static const char *kind_of(const struct bt_ynode *n)
{
    switch (n->type) {
    case BT_Y_MAP:
        return "a map";
    case BT_Y_SEQ:
        return "a list";
    case BT_Y_SCALAR:
        break;
    }
    return bt_ynode_is_null(n) ? "empty" : "a single value";
}

/* How a node is named in "must be X, not Y" messages. */
static const char *describe(struct parse *p, const struct bt_ynode *n)
{
    if (n->type == BT_Y_SCALAR && !bt_ynode_is_null(n))
        return sfmt(p, "\"%s\"", q(p, n->str));
    return kind_of(n);
}

static bool is_map(struct parse *p, const struct bt_ynode *n, const char *path, const char *what)
{
    if (n->type == BT_Y_MAP)
        return true;
    report(p, n, path, "must be %s, not %s", what, kind_of(n));
    return false;
}

static bool is_seq(struct parse *p, const struct bt_ynode *n, const char *path, const char *what)
{
    if (n->type == BT_Y_SEQ)
        return true;
    report(p, n, path, "must be %s, not %s", what, kind_of(n));
    return false;
}

/* The value under KEY of MAP at PATH, reported when absent. */
static const struct bt_ynode *need(struct parse *p, const struct bt_ynode *map, const char *path,
                                   const char *key)
{
    const struct bt_ynode *v = bt_ynode_get(map, key);

    if (!v)
        report(p, map, path, "missing required key \"%s\"", key);
    return v;
}

/* The text of a scalar that must say something; NULL (reported) otherwise. */
static const char *str_of(struct parse *p, const struct bt_ynode *n, const char *path)
{
    const char *s;

    if (n->type != BT_Y_SCALAR) {
        report(p, n, path, "must be a single value, not %s", kind_of(n));
        return NULL;
    }
    if (bt_ynode_is_null(n) || !n->len) {
        report(p, n, path, "must not be empty");
        return NULL;
    }
    if (memchr(n->str, '\0', n->len)) {
        report(p, n, path, "must not contain NUL characters");
        return NULL;
    }
    for (s = n->str; *s && is_space((unsigned char)*s); s++)
        ;
    if (!*s) {
        report(p, n, path, "must not be blank");
        return NULL;
    }
    return n->str;
}

/* The text under optional KEY of MAP, or NULL when absent or unusable. */
static const char *opt_str(struct parse *p, const struct bt_ynode *map, const char *path,
                           const char *key)
{
    const struct bt_ynode *v = bt_ynode_get(map, key);

    return v ? str_of(p, v, pkey(p, path, key)) : NULL;
}

/* The text under required KEY of MAP, or NULL (reported). */
static const char *req_str(struct parse *p, const struct bt_ynode *map, const char *path,
                           const char *key)
{
    const struct bt_ynode *v = need(p, map, path, key);

    return v ? str_of(p, v, pkey(p, path, key)) : NULL;
}

static void check_keys(struct parse *p, const struct bt_ynode *map, const char *path,
                       const char *const *allowed, bool *clean)
{
    if (bt_ynode_check_keys(p->doc, map, path, allowed, &p->d) > 0 && clean)
        *clean = false;
}

/* For maps whose keys are the user's (conditions, field names, CRM names):
 * every key must be a plain string, given once. Sorting keeps this fast on
 * maps of any size. */
static void check_open_keys(struct parse *p, const struct bt_ynode *map, const char *path)
{
    struct table t = {0};
    size_t first = 0;

    for (size_t i = 0; i < map->n; i++) {
        const struct bt_ynode *k = map->keys[i];
        struct entry e = {.key = k->str, .node = k, .pos = i};

        if (k->type != BT_Y_SCALAR) {
            report(p, k, path, "a key must be a plain string");
            continue;
        }
        table_add(&t, &e);
    }
    if (t.n)
        qsort(t.v, t.n, sizeof(*t.v), sort_key);
    for (size_t i = 1; i < t.n; i++) {
        if (cmp_key(&t.v[i], &t.v[first]) != 0) {
            first = i;
            continue;
        }
        report(p, t.v[i].node, pkey(p, path, t.v[i].key),
               "duplicate key \"%s\" (first given on line %d)", q(p, t.v[i].key),
               t.v[first].node->line);
    }
    table_free(&t);
}

/* A single value counts as a list of one wherever a list is expected. */
static size_t list_len(const struct bt_ynode *v)
{
    return v->type == BT_Y_SEQ ? v->n : 1;
}

static const struct bt_ynode *list_item(const struct bt_ynode *v, size_t i)
{
    return v->type == BT_Y_SEQ ? v->items[i] : v;
}

static const char *list_path(struct parse *p, const struct bt_ynode *v, const char *path, size_t i)
{
    return v->type == BT_Y_SEQ ? pidx(p, path, i) : path;
}

/* Rows of T given twice: each after the first is reported as WHAT. */
static void report_dups(struct parse *p, const struct table *t, const char *what)
{
    size_t first = 0;

    for (size_t i = 1; i < t->n; i++) {
        if (cmp_key(&t->v[i], &t->v[first]) != 0) {
            first = i;
            continue;
        }
        report(p, t->v[i].node, t->v[i].path, "duplicate %s \"%s\" (first given on line %d)", what,
               q(p, t->v[i].key), t->v[first].node->line);
    }
}

static void sort_table(struct table *t, int (*cmp)(const void *, const void *))
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof(*t->v), cmp);
}

/* Nodes plus scalar bytes, counting a node each time an alias repeats it;
 * false once over *LEFT. Depth is bounded by ydoc. */
static bool weigh(const struct bt_ynode *n, size_t *left)
{
    size_t w = 1 + (n->type == BT_Y_SCALAR ? n->len : 0);

    if (w > *left)
        return false;
    *left -= w;
    for (size_t i = 0; n->type != BT_Y_SCALAR && i < n->n; i++) {
        if (n->type == BT_Y_MAP && !weigh(n->keys[i], left))
            return false;
        if (!weigh(n->items[i], left))
            return false;
    }
    return true;
}

/* ---- the header: format, name, max_assets_per_change ------------------- */

static void read_header(struct parse *p, const struct bt_ynode *root)
{
    struct bt_motion *m = p->m;
    const struct bt_ynode *n;
    const char *s;
    long long v;

    n = need(p, root, NULL, "format");
    if (n && !bt_ynode_int(n, &v))
        report(p, n, "format", "must be the number 1, not %s", describe(p, n));
    else if (n && v != 1)
        report(p, n, "format", "format %lld is not one this Baton reads: it reads format 1", v);
    else if (n)
        m->format = 1;
    s = req_str(p, root, NULL, "name");
    if (s)
        m->name = keep(p, s);
    n = bt_ynode_get(root, "max_assets_per_change");
    if (n && (!bt_ynode_int(n, &v) || v < 1 || v > INT_MAX))
        report(p, n, "max_assets_per_change", "must be a whole number of at least 1, not %s",
               describe(p, n));
    else if (n)
        m->max_assets = (int)v;
}

/* ---- stages ----------------------------------------------------------- */

static void read_stages(struct parse *p, const struct bt_ynode *root)
{
    static const char *const keys[] = {"id", "label", "outcome", NULL};
    static const char *const outcomes[] = {"open", "won", "lost"};
    struct bt_motion *m = p->m;
    const struct bt_ynode *list = need(p, root, NULL, "stages");
    size_t won = 0, lost = 0;
    bool clean = true; /* every stage was read: "no won stage" can be trusted */

    if (!list || !is_seq(p, list, "stages", "a list of stages"))
        return;
    p->stages_ok = true;
    m->stages = bt_arena_alloc(m->arena, list->n * sizeof(*m->stages));
    p->stage_ids = bt_arena_alloc(p->scratch, list->n * sizeof(*p->stage_ids));
    if (!list->n) {
        report(p, list, "stages", "must list the pipeline's stages");
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct bt_ynode *it = list->items[i], *on;
        const char *path = pidx(p, "stages", i), *id, *s;
        struct bt_stage *st;
        struct entry e;

        if (!is_map(p, it, path, "a map with id, label and outcome")) {
            clean = false;
            continue;
        }
        check_keys(p, it, path, keys, &clean);
        id = req_str(p, it, path, "id");
        if (!id) {
            clean = false;
            continue;
        }
        st = &m->stages[m->n_stages];
        st->index = m->n_stages++;
        st->id = keep(p, id);
        s = opt_str(p, it, path, "label");
        st->label = s ? keep(p, s) : st->id;
        st->outcome = BT_OUTCOME_OPEN;
        on = bt_ynode_get(it, "outcome");
        s = on ? str_of(p, on, pkey(p, path, "outcome")) : NULL;
        if (on && !s) {
            clean = false;
        } else if (s && !strcmp(s, "won")) {
            st->outcome = BT_OUTCOME_WON;
            won++;
        } else if (s && !strcmp(s, "lost")) {
            st->outcome = BT_OUTCOME_LOST;
            lost++;
        } else if (s && strcmp(s, "open") != 0) {
            report(p, on, pkey(p, path, "outcome"), "unknown outcome \"%s\"%s (won, lost or open)",
                   q(p, s), hint(p, s, outcomes, 3));
            clean = false;
        }
        p->stage_ids[p->n_stage_ids++] = st->id;
        e = (struct entry){.key = st->id,
                           .item = st,
                           .node = bt_ynode_get(it, "id"),
                           .path = pkey(p, path, "id"),
                           .pos = p->pos++};
        table_add(&m->stage_ix, &e);
    }
    sort_table(&m->stage_ix, sort_key);
    report_dups(p, &m->stage_ix, "stage id");
    if (clean && !won)
        report(p, list, "stages",
               "no stage has outcome: won; mark the stage where a deal is won (outcome: won)");
    if (clean && !lost)
        report(p, list, "stages",
               "no stage has outcome: lost; mark the stage where a deal is lost (outcome: lost)");
}

static void read_qualified_from(struct parse *p, const struct bt_ynode *root)
{
    const struct bt_ynode *n = bt_ynode_get(root, "qualified_from");
    const char *s = n ? str_of(p, n, "qualified_from") : NULL;

    if (!s)
        return;
    p->m->qualified_from = bt_motion_find_stage(p->m, s);
    if (!p->m->qualified_from && p->stages_ok)
        report(p, n, "qualified_from", "unknown stage \"%s\"%s", q(p, s),
               hint(p, s, p->stage_ids, p->n_stage_ids));
}

/* ---- competitors ------------------------------------------------------ */

static void add_word(struct parse *p, const char *word, const struct bt_competitor *c,
                     const char *role, const struct bt_ynode *node, const char *path)
{
    struct entry e = {
        .key = word, .item = c, .role = role, .node = node, .path = path, .pos = p->pos++};

    table_add(&p->m->fold_ix, &e);
    p->competitor_words[p->n_competitor_words++] = word;
}

/* Two competitors must never claim one folded word: the CRM's "acme corp"
 * has to mean exactly one of them. */
static void check_folds(struct parse *p)
{
    struct table *t = &p->m->fold_ix;
    size_t first = 0, kept = 0;

    sort_table(t, sort_fold);
    for (size_t i = 1; i < t->n; i++) {
        const struct entry *a = &t->v[first], *b = &t->v[i];
        const struct bt_competitor *owner = a->item;

        if (cmp_fold(a, b) != 0) {
            first = i;
            continue;
        }
        if (a->item == b->item)
            continue;
        /* the very same id twice is reported once, as a duplicate id */
        if (!strcmp(a->role, "id") && !strcmp(b->role, "id") && !strcmp(a->key, b->key))
            continue;
        report(p, b->node, b->path,
               "%s \"%s\" already belongs to competitor \"%s\" (its %s \"%s\", line %d; case "
               "and extra spaces are ignored)",
               b->role, q(p, b->key), q(p, owner->id), a->role, q(p, a->key), a->node->line);
    }
    /* look-ups need each folded word once, the first claim winning */
    for (size_t i = 0; i < t->n; i++)
        if (!kept || cmp_fold(&t->v[kept - 1], &t->v[i]) != 0)
            t->v[kept++] = t->v[i];
    t->n = kept;
}

static void read_competitors(struct parse *p, const struct bt_ynode *root)
{
    static const char *const keys[] = {"id", "name", "aliases", NULL};
    struct bt_motion *m = p->m;
    const struct bt_ynode *list = bt_ynode_get(root, "competitors");
    size_t words = 0;

    if (!list || bt_ynode_is_null(list)) {
        p->competitors_ok = true;
        return;
    }
    if (!is_seq(p, list, "competitors", "a list of competitors"))
        return;
    p->competitors_ok = true;
    for (size_t i = 0; i < list->n; i++) {
        const struct bt_ynode *al = bt_ynode_get(list->items[i], "aliases");

        words += 2 + (al ? list_len(al) : 0);
    }
    m->competitors = bt_arena_alloc(m->arena, list->n * sizeof(*m->competitors));
    p->competitor_words = bt_arena_alloc(p->scratch, words * sizeof(*p->competitor_words));
    for (size_t i = 0; i < list->n; i++) {
        const struct bt_ynode *it = list->items[i], *al;
        const char *path = pidx(p, "competitors", i), *id, *s;
        const char **aliases;
        struct bt_competitor *c;
        struct entry e;

        if (!is_map(p, it, path, "a map with id, name and aliases"))
            continue;
        check_keys(p, it, path, keys, NULL);
        id = req_str(p, it, path, "id");
        if (!id)
            continue;
        c = &m->competitors[m->n_competitors++];
        c->id = keep(p, id);
        add_word(p, c->id, c, "id", bt_ynode_get(it, "id"), pkey(p, path, "id"));
        e = (struct entry){.key = c->id,
                           .item = c,
                           .node = bt_ynode_get(it, "id"),
                           .path = pkey(p, path, "id"),
                           .pos = p->pos++};
        table_add(&m->competitor_ix, &e);
        s = opt_str(p, it, path, "name");
        c->name = s ? keep(p, s) : c->id;
        if (s)
            add_word(p, c->name, c, "name", bt_ynode_get(it, "name"), pkey(p, path, "name"));
        al = bt_ynode_get(it, "aliases");
        if (!al || bt_ynode_is_null(al))
            continue;
        if (al->type == BT_Y_MAP) {
            report(p, al, pkey(p, path, "aliases"), "must be a list of names, not a map");
            continue;
        }
        aliases = bt_arena_alloc(m->arena, list_len(al) * sizeof(*aliases));
        for (size_t j = 0; j < list_len(al); j++) {
            const char *apath = list_path(p, al, pkey(p, path, "aliases"), j);

            s = str_of(p, list_item(al, j), apath);
            if (!s)
                continue;
            aliases[c->n_aliases] = keep(p, s);
            add_word(p, aliases[c->n_aliases++], c, "alias", list_item(al, j), apath);
        }
        c->aliases = aliases;
    }
    sort_table(&m->competitor_ix, sort_key);
    report_dups(p, &m->competitor_ix, "competitor id");
    check_folds(p);
}

/* ---- assets ----------------------------------------------------------- */

/* Why URL is not a link Baton may redirect a rep to, or NULL when it is.
 * *SECRET says the URL must not be repeated in the message. */
static const char *url_problem(const char *url, bool *secret)
{
    const char *host, *end, *port = NULL;
    size_t scheme;

    *secret = false;
    if (!strncasecmp(url, "https://", 8))
        scheme = 8;
    else if (!strncasecmp(url, "http://", 7))
        scheme = 7;
    else
        return "must be an absolute http:// or https:// URL";
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
            return "must not contain spaces, control or non-ASCII characters (percent-encode "
                   "them)";
    host = url + scheme;
    end = host + strcspn(host, "/?#");
    *secret = memchr(host, '@', (size_t)(end - host)) != NULL;
    if (*secret)
        return "must not carry a user name or password: no secret belongs in the motion";
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));

        if (!close || close == host + 1)
            return "has a malformed IPv6 host";
        if (close + 1 < end) {
            if (close[1] != ':')
                return "has a malformed host";
            port = close + 2;
        }
    } else {
        for (const char *c = host; c < end && !port; c++) {
            if (*c == ':')
                port = c + 1;
            else if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                       (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_'))
                return "has an invalid host name";
        }
        if (host == end || (port && port - 1 == host))
            return "has no host";
    }
    if (port) {
        unsigned long v = 0;

        if (port == end)
            return "has an empty port";
        for (const char *c = port; c < end; c++) {
            if (*c < '0' || *c > '9')
                return "has an invalid port";
            v = v * 10 + (unsigned long)(*c - '0');
            if (v > 65535)
                return "has an invalid port";
        }
        if (!v)
            return "has an invalid port";
    }
    return NULL;
}

static void read_assets(struct parse *p, const struct bt_ynode *root)
{
    static const char *const keys[] = {"id", "kind", "title", "url", "owner", NULL};
    struct bt_motion *m = p->m;
    const struct bt_ynode *list = bt_ynode_get(root, "assets");

    if (!list || bt_ynode_is_null(list)) {
        p->assets_ok = true;
        return;
    }
    if (!is_seq(p, list, "assets", "a list of assets"))
        return;
    p->assets_ok = true;
    m->assets = bt_arena_alloc(m->arena, list->n * sizeof(*m->assets));
    p->asset_ids = bt_arena_alloc(p->scratch, list->n * sizeof(*p->asset_ids));
    for (size_t i = 0; i < list->n; i++) {
        const struct bt_ynode *it = list->items[i];
        const char *path = pidx(p, "assets", i), *id, *kind, *title, *url, *owner, *why;
        struct bt_asset *a;
        struct entry e;
        bool secret;

        if (!is_map(p, it, path, "a map with id, kind, title, url and owner"))
            continue;
        check_keys(p, it, path, keys, NULL);
        id = req_str(p, it, path, "id");
        kind = req_str(p, it, path, "kind");
        title = req_str(p, it, path, "title");
        url = req_str(p, it, path, "url");
        owner = opt_str(p, it, path, "owner");
        why = url ? url_problem(url, &secret) : NULL;
        if (why && secret)
            report(p, bt_ynode_get(it, "url"), pkey(p, path, "url"), "the URL %s", why);
        else if (why)
            report(p, bt_ynode_get(it, "url"), pkey(p, path, "url"), "\"%s\" %s", q(p, url), why);
        if (!id)
            continue;
        a = &m->assets[m->n_assets];
        a->index = m->n_assets++;
        a->id = keep(p, id);
        a->kind = kind ? keep(p, kind) : NULL;
        a->title = title ? keep(p, title) : NULL;
        a->url = url ? keep(p, url) : NULL;
        a->owner = owner ? keep(p, owner) : NULL;
        p->asset_ids[p->n_asset_ids++] = a->id;
        e = (struct entry){.key = a->id,
                           .item = a,
                           .node = bt_ynode_get(it, "id"),
                           .path = pkey(p, path, "id"),
                           .pos = p->pos++};
        table_add(&m->asset_ix, &e);
    }
    sort_table(&m->asset_ix, sort_key);
    report_dups(p, &m->asset_ix, "asset id");
}

/* ---- plays ------------------------------------------------------------ */

static void read_stage_cond(struct parse *p, const struct bt_ynode *v, const char *path,
                            struct bt_cond *c)
{
    const char **values;
    bool all_known = true;
    size_t open = 0;

    if (v->type == BT_Y_MAP || bt_ynode_is_null(v)) {
        report(p, v, path, "must be a stage id or a list of stage ids, not %s", kind_of(v));
        return;
    }
    if (!list_len(v)) {
        report(p, v, path, "an empty list can never match, so neither can this play");
        return;
    }
    values = bt_arena_alloc(p->m->arena, list_len(v) * sizeof(*values));
    for (size_t i = 0; i < list_len(v); i++) {
        const char *ipath = list_path(p, v, path, i);
        const char *s = str_of(p, list_item(v, i), ipath);
        const struct bt_stage *st;

        if (!s) {
            all_known = false;
            continue;
        }
        st = bt_motion_find_stage(p->m, s);
        if (!st) {
            all_known = false;
            if (p->stages_ok)
                report(p, list_item(v, i), ipath, "unknown stage \"%s\"%s", q(p, s),
                       hint(p, s, p->stage_ids, p->n_stage_ids));
            continue;
        }
        open += st->outcome == BT_OUTCOME_OPEN;
        values[c->n_values++] = st->id;
    }
    c->values = values;
    if (all_known && !open)
        report(p, v, path,
               "names only won or lost stages, and nothing is chosen for a deal in a won or "
               "lost stage: this play can never match");
}

static void read_competitor_cond(struct parse *p, const struct bt_ynode *v, const char *path,
                                 struct bt_cond *c)
{
    const char **values;

    if (v->type == BT_Y_MAP || bt_ynode_is_null(v)) {
        report(p, v, path, "must be a competitor or a list of competitors, not %s", kind_of(v));
        return;
    }
    if (!list_len(v)) {
        report(p, v, path, "an empty list can never match, so neither can this play");
        return;
    }
    values = bt_arena_alloc(p->m->arena, list_len(v) * sizeof(*values));
    for (size_t i = 0; i < list_len(v); i++) {
        const char *ipath = list_path(p, v, path, i);
        const char *s = str_of(p, list_item(v, i), ipath);
        const struct bt_competitor *comp;

        if (!s)
            continue;
        comp = bt_motion_fold_competitor(p->m, s);
        if (comp)
            values[c->n_values++] = comp->id;
        else if (p->competitors_ok && !p->m->n_competitors)
            report(p, list_item(v, i), ipath,
                   "unknown competitor \"%s\": the motion lists no competitors", q(p, s));
        else if (p->competitors_ok)
            report(p, list_item(v, i), ipath, "unknown competitor \"%s\"%s", q(p, s),
                   hint(p, s, p->competitor_words, p->n_competitor_words));
    }
    c->values = values;
}

static bool read_bound(struct parse *p, const struct bt_ynode *range, const char *path,
                       const char *key, double *out)
{
    const struct bt_ynode *n = bt_ynode_get(range, key);

    if (!n)
        return false;
    if (!bt_ynode_double(n, out)) {
        report(p, n, pkey(p, path, key), "must be a number, not %s", describe(p, n));
        return false;
    }
    return true;
}

static void read_field_cond(struct parse *p, const struct bt_ynode *v, const char *path,
                            struct bt_cond *c)
{
    static const char *const range_keys[] = {"min", "max", NULL};
    const char **values;

    if (bt_ynode_is_null(v)) {
        report(p, v, path, "needs a value: a value, a list of values, or {min, max}");
        return;
    }
    if (v->type == BT_Y_MAP) {
        c->op = BT_COND_RANGE;
        check_keys(p, v, path, range_keys, NULL);
        c->has_min = read_bound(p, v, path, "min", &c->min);
        c->has_max = read_bound(p, v, path, "max", &c->max);
        if (!bt_ynode_get(v, "min") && !bt_ynode_get(v, "max"))
            report(p, v, path, "a range needs min, max or both");
        else if (c->has_min && c->has_max && c->min > c->max)
            report(p, v, path,
                   "min %s is greater than max %s: the range is empty and this play "
                   "can never match",
                   q(p, bt_ynode_get(v, "min")->str), q(p, bt_ynode_get(v, "max")->str));
        return;
    }
    if (!list_len(v)) {
        report(p, v, path, "an empty list can never match, so neither can this play");
        return;
    }
    values = bt_arena_alloc(p->m->arena, list_len(v) * sizeof(*values));
    for (size_t i = 0; i < list_len(v); i++) {
        const char *s = str_of(p, list_item(v, i), list_path(p, v, path, i));

        if (s)
            values[c->n_values++] = keep(p, s);
    }
    c->values = values;
}

static void read_when(struct parse *p, const struct bt_ynode *when, const char *path,
                      struct bt_play *pl)
{
    struct bt_cond *conds;

    if (!when || bt_ynode_is_null(when))
        return;
    if (!is_map(p, when, path, "a map of conditions (stage, competitor, other deal fields)"))
        return;
    check_open_keys(p, when, path);
    conds = bt_arena_alloc(p->m->arena, when->n * sizeof(*conds));
    for (size_t i = 0; i < when->n; i++) {
        const struct bt_ynode *k = when->keys[i];
        struct bt_cond *c = &conds[pl->n_conds];
        const char *cpath;

        if (k->type != BT_Y_SCALAR)
            continue;
        cpath = pkey(p, path, k->str);
        if (!str_of(p, k, cpath))
            continue;
        pl->n_conds++;
        c->field = keep(p, k->str);
        c->op = BT_COND_ANY_OF;
        if (!strcmp(k->str, "stage")) {
            read_stage_cond(p, when->items[i], cpath, c);
            continue;
        }
        if (!strcmp(k->str, "competitor")) {
            read_competitor_cond(p, when->items[i], cpath, c);
            continue;
        }
        /* Any other name is a deal field, but these are almost surely slips:
         * as fields they would never be on a deal, and the play never match. */
        if (!strcasecmp(k->str, "stage") || !strcasecmp(k->str, "stages") ||
            !strcasecmp(k->str, "competitor") || !strcasecmp(k->str, "competitors")) {
            report(p, k, cpath, "unknown condition \"%s\" — did you mean \"%s\"?", q(p, k->str),
                   (k->str[0] | 0x20) == 's' ? "stage" : "competitor");
            continue;
        }
        read_field_cond(p, when->items[i], cpath, c);
    }
    pl->conds = conds;
}

static void read_send(struct parse *p, const struct bt_ynode *it, const char *path,
                      struct bt_play *pl)
{
    const struct bt_ynode *v = need(p, it, path, "send");
    const char *spath = pkey(p, path, "send");
    const char **send;

    if (!v)
        return;
    if (v->type == BT_Y_MAP || bt_ynode_is_null(v)) {
        report(p, v, spath, "must be an asset id or a list of asset ids, not %s", kind_of(v));
        return;
    }
    if (!list_len(v)) {
        report(p, v, spath, "is empty: this play can never deliver anything");
        return;
    }
    send = bt_arena_alloc(p->m->arena, list_len(v) * sizeof(*send));
    for (size_t i = 0; i < list_len(v); i++) {
        const char *ipath = list_path(p, v, spath, i);
        const char *s = str_of(p, list_item(v, i), ipath);
        const struct bt_asset *a;

        if (!s)
            continue;
        a = bt_motion_find_asset(p->m, s);
        if (a)
            send[pl->n_send++] = a->id;
        else if (p->assets_ok)
            report(p, list_item(v, i), ipath, "unknown asset \"%s\"%s", q(p, s),
                   hint(p, s, p->asset_ids, p->n_asset_ids));
    }
    pl->send = send;
}

static void read_plays(struct parse *p, const struct bt_ynode *root)
{
    static const char *const keys[] = {"id", "when", "send", "priority", NULL};
    struct bt_motion *m = p->m;
    const struct bt_ynode *list = bt_ynode_get(root, "plays");

    if (!list || bt_ynode_is_null(list) || !is_seq(p, list, "plays", "a list of plays"))
        return;
    m->plays = bt_arena_alloc(m->arena, list->n * sizeof(*m->plays));
    for (size_t i = 0; i < list->n; i++) {
        const struct bt_ynode *it = list->items[i], *n;
        const char *path = pidx(p, "plays", i), *id;
        struct bt_play *pl;
        long long v;

        if (!is_map(p, it, path, "a map with id, when, send and priority"))
            continue;
        check_keys(p, it, path, keys, NULL);
        pl = &m->plays[m->n_plays];
        pl->index = m->n_plays++;
        pl->line = it->line;
        id = req_str(p, it, path, "id");
        if (id) {
            struct entry e = {.key = keep(p, id),
                              .item = pl,
                              .node = bt_ynode_get(it, "id"),
                              .path = pkey(p, path, "id"),
                              .pos = p->pos++};

            pl->id = e.key;
            table_add(&m->play_ix, &e);
        }
        read_when(p, bt_ynode_get(it, "when"), pkey(p, path, "when"), pl);
        read_send(p, it, path, pl);
        n = bt_ynode_get(it, "priority");
        if (n && (!bt_ynode_int(n, &v) || v < LONG_MIN || v > LONG_MAX))
            report(p, n, pkey(p, path, "priority"), "must be a whole number, not %s",
                   describe(p, n));
        else if (n)
            pl->priority = (long)v;
    }
    sort_table(&m->play_ix, sort_key);
    report_dups(p, &m->play_ix, "play id");
}

/* ---- fields ----------------------------------------------------------- */

/* A field's `values` map: what the CRM sends -> what the motion says. For
 * stage and competitor the motion's side must name a stage or competitor,
 * since that is what conditions compare against. */
static void read_values(struct parse *p, const struct bt_ynode *vm, const char *path,
                        struct bt_field_map *fm)
{
    const char **from, **to;

    if (bt_ynode_is_null(vm))
        return;
    if (!is_map(p, vm, path, "a map of CRM value: motion value"))
        return;
    check_open_keys(p, vm, path);
    from = bt_arena_alloc(p->m->arena, vm->n * sizeof(*from));
    to = bt_arena_alloc(p->m->arena, vm->n * sizeof(*to));
    for (size_t i = 0; i < vm->n; i++) {
        const struct bt_ynode *k = vm->keys[i], *v = vm->items[i];
        const char *kpath, *crm, *ours;

        if (k->type != BT_Y_SCALAR)
            continue;
        kpath = pkey(p, path, k->str);
        crm = str_of(p, k, kpath);
        ours = str_of(p, v, kpath);
        if (!crm || !ours)
            continue;
        if (!strcmp(fm->field, "stage")) {
            const struct bt_stage *st = bt_motion_find_stage(p->m, ours);

            if (!st && p->stages_ok)
                report(p, v, kpath, "unknown stage \"%s\"%s", q(p, ours),
                       hint(p, ours, p->stage_ids, p->n_stage_ids));
            ours = st ? st->id : ours;
        } else if (!strcmp(fm->field, "competitor")) {
            const struct bt_competitor *c = bt_motion_fold_competitor(p->m, ours);

            if (!c && p->competitors_ok)
                report(p, v, kpath, "unknown competitor \"%s\"%s", q(p, ours),
                       hint(p, ours, p->competitor_words, p->n_competitor_words));
            ours = c ? c->id : ours;
        }
        from[fm->n_values] = keep(p, crm);
        to[fm->n_values++] = keep(p, ours);
    }
    fm->from = from;
    fm->to = to;
}

static void read_source_fields(struct parse *p, const struct bt_ynode *map, const char *path,
                               enum bt_source src)
{
    static const char *const keys[] = {"field", "values", NULL};
    struct bt_motion *m = p->m;
    struct table props = {0};
    size_t first = 0;

    if (bt_ynode_is_null(map) || !is_map(p, map, path, "a map of deal field: CRM property"))
        return;
    check_open_keys(p, map, path);
    m->fields[src] = bt_arena_alloc(m->arena, map->n * sizeof(*m->fields[src]));
    for (size_t i = 0; i < map->n; i++) {
        const struct bt_ynode *k = map->keys[i], *v = map->items[i], *pn = v;
        const char *fpath, *prop = NULL;
        struct bt_field_map *fm;

        if (k->type != BT_Y_SCALAR)
            continue;
        fpath = pkey(p, path, k->str);
        if (!str_of(p, k, fpath))
            continue;
        fm = &m->fields[src][m->n_fields[src]++];
        fm->field = keep(p, k->str);
        if (v->type == BT_Y_SCALAR) {
            prop = str_of(p, v, fpath);
        } else if (v->type == BT_Y_MAP) {
            check_keys(p, v, fpath, keys, NULL);
            pn = need(p, v, fpath, "field");
            prop = pn ? str_of(p, pn, pkey(p, fpath, "field")) : NULL;
            if (bt_ynode_get(v, "values"))
                read_values(p, bt_ynode_get(v, "values"), pkey(p, fpath, "values"), fm);
        } else {
            report(p, v, fpath,
                   "must be the CRM's property name or {field: NAME, values: {...}}, not a list");
        }
        if (prop) {
            struct entry e = {
                .key = keep(p, prop), .item = fm, .node = pn, .path = fpath, .pos = i};

            fm->prop = e.key;
            table_add(&props, &e);
        }
    }
    /* one CRM property feeding two deal fields would make by_prop ambiguous */
    sort_table(&props, sort_key);
    for (size_t i = 1; i < props.n; i++) {
        const struct bt_field_map *was = props.v[first].item;

        if (cmp_key(&props.v[i], &props.v[first]) != 0) {
            first = i;
            continue;
        }
        report(p, props.v[i].node, props.v[i].path,
               "property \"%s\" is already mapped to field \"%s\" (line %d)", q(p, props.v[i].key),
               q(p, was->field), props.v[first].node->line);
    }
    table_free(&props);
}

static void read_fields(struct parse *p, const struct bt_ynode *root)
{
    const struct bt_ynode *fields = bt_ynode_get(root, "fields");
    bool seen[BT_SRC_COUNT] = {false};

    if (!fields || bt_ynode_is_null(fields) ||
        !is_map(p, fields, "fields", "a map of CRM: field mappings"))
        return;
    check_open_keys(p, fields, "fields");
    for (size_t i = 0; i < fields->n; i++) {
        const struct bt_ynode *k = fields->keys[i];
        const char *path;
        int src;

        if (k->type != BT_Y_SCALAR)
            continue;
        path = pkey(p, "fields", k->str);
        src = bt_source_parse(k->str);
        if (src < 0) {
            report(p, k, path,
                   "unknown source \"%s\"%s (hubspot, pipedrive, salesforce or "
                   "generic)",
                   q(p, k->str), hint(p, k->str, source_names, BT_SRC_COUNT));
            continue;
        }
        if (seen[src]) /* reported as a duplicate key */
            continue;
        seen[src] = true;
        read_source_fields(p, fields->items[i], path, (enum bt_source)src);
    }
}

/* ---- routing ---------------------------------------------------------- */

/* Teams and webhook URLs carry their own authorization, so they live in the
 * daemon's config; the motion, kept in version control and shown to anyone
 * who runs explain, only names them. */
static bool looks_secret(const char *s)
{
    /* "/": no id or target name has one, but every URL and path does */
    static const char *const marks[] = {
        "/",        "http:",  "https:",  "sig=",  "token=", "key=",   "secret",
        "password", "passwd", "bearer ", "xoxb-", "xoxp-",  "whsec_", "hooks."};
    const char *colon = strchr(s, ':');

    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (strcasestr(s, marks[i]))
            return true;
    return colon && strchr(colon, '@'); /* user:password@host */
}

static bool is_ident(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++) {
        char c = s[n];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (n && (c == '-' || c == '.'))))
            return false;
    }
    return n > 0 && n <= 128;
}

static void check_target(struct parse *p, const struct bt_ynode *tn, const char *path,
                         const char *channel, const char *to)
{
    bool named = channel && (!strcmp(channel, "teams") || !strcmp(channel, "webhook"));

    if (looks_secret(to) && (named || !channel))
        report(p, tn, path,
               "looks like a URL or a secret, and no secret belongs in the motion: define it in "
               "the daemon's config under channels.%s.targets and name it here",
               channel ? channel : "<channel>");
    else if (looks_secret(to))
        report(p, tn, path,
               "looks like a URL or a secret, and no secret belongs in the motion: a %s route "
               "names a plain id%s",
               channel, !strcmp(channel, "slack") ? " such as U024BE7LH (a user or channel)" : "");
    else if (channel && !is_ident(to) && named)
        report(p, tn, path,
               "\"%s\" is not a target name: name a target defined in the daemon's config under "
               "channels.%s.targets (letters, digits, '-', '_' and '.')",
               q(p, to), channel);
    else if (channel && !is_ident(to))
        report(p, tn, path, "\"%s\" is not a plain id%s", q(p, to),
               !strcmp(channel, "slack")
                   ? ": give a Slack user or channel id such as U024BE7LH, not a name"
                   : " (letters, digits, '-', '_' and '.')");
}

static bool read_route(struct parse *p, const struct bt_ynode *map, const char *path,
                       struct bt_route *r)
{
    const char *channel = req_str(p, map, path, "channel");
    const char *to = req_str(p, map, path, "to");
    const char *known = NULL;

    for (size_t i = 0; channel && i < N_CHANNELS; i++)
        if (!strcmp(channel, channel_names[i]))
            known = channel_names[i];
    if (channel && !known)
        report(p, bt_ynode_get(map, "channel"), pkey(p, path, "channel"),
               "unknown channel \"%s\"%s (slack, teams, webhook or panel)", q(p, channel),
               hint(p, channel, channel_names, N_CHANNELS));
    if (to)
        check_target(p, bt_ynode_get(map, "to"), pkey(p, path, "to"), known, to);
    r->channel = known;
    r->to = to ? keep(p, to) : NULL;
    return known && to;
}

static void read_crm(struct parse *p, const struct bt_ynode *crm, const char *path,
                     struct bt_rep *rep)
{
    if (!is_map(p, crm, path, "a map of CRM: owner id"))
        return;
    check_open_keys(p, crm, path);
    if (!crm->n)
        report(p, crm, path, "must give the rep's owner id in at least one CRM");
    for (size_t i = 0; i < crm->n; i++) {
        const struct bt_ynode *k = crm->keys[i];
        const char *kpath, *owner;
        struct entry e;
        int src;

        if (k->type != BT_Y_SCALAR)
            continue;
        kpath = pkey(p, path, k->str);
        src = bt_source_parse(k->str);
        if (src < 0) {
            report(p, k, kpath,
                   "unknown source \"%s\"%s (hubspot, pipedrive, salesforce or "
                   "generic)",
                   q(p, k->str), hint(p, k->str, source_names, BT_SRC_COUNT));
            continue;
        }
        owner = str_of(p, crm->items[i], kpath);
        if (!owner || rep->crm[src])
            continue;
        rep->crm[src] = keep(p, owner);
        e = (struct entry){.key = rep->crm[src],
                           .src = src,
                           .item = rep,
                           .node = crm->items[i],
                           .path = kpath,
                           .pos = p->pos++};
        table_add(&p->m->owner_ix, &e);
    }
}

/* One owner id of one CRM routes to one rep, or pushes would depend on
 * file order. */
static void check_owners(struct parse *p)
{
    const struct table *t = &p->m->owner_ix;
    size_t first = 0;

    for (size_t i = 1; i < t->n; i++) {
        const struct bt_rep *was = t->v[first].item;

        if (cmp_key(&t->v[i], &t->v[first]) != 0) {
            first = i;
            continue;
        }
        if (t->v[i].item == was)
            continue;
        report(p, t->v[i].node, t->v[i].path,
               "%s owner \"%s\" is already routed to rep \"%s\" (line %d): one owner, one rep",
               source_names[t->v[i].src], q(p, t->v[i].key), q(p, was->id ? was->id : "?"),
               t->v[first].node->line);
    }
}

static void read_routing(struct parse *p, const struct bt_ynode *root)
{
    static const char *const keys[] = {"default", "reps", NULL};
    static const char *const route_keys[] = {"channel", "to", NULL};
    static const char *const rep_keys[] = {"id", "name", "crm", "channel", "to", NULL};
    struct bt_motion *m = p->m;
    const struct bt_ynode *routing = bt_ynode_get(root, "routing"), *def, *reps;

    if (!routing || bt_ynode_is_null(routing) ||
        !is_map(p, routing, "routing", "a map with default and reps"))
        return;
    check_keys(p, routing, "routing", keys, NULL);
    def = bt_ynode_get(routing, "default");
    if (def && !bt_ynode_is_null(def) &&
        is_map(p, def, "routing.default", "a map with channel and to")) {
        check_keys(p, def, "routing.default", route_keys, NULL);
        m->has_default = read_route(p, def, "routing.default", &m->default_route);
    }
    reps = bt_ynode_get(routing, "reps");
    if (!reps || bt_ynode_is_null(reps) || !is_seq(p, reps, "routing.reps", "a list of reps"))
        return;
    m->reps = bt_arena_alloc(m->arena, reps->n * sizeof(*m->reps));
    for (size_t i = 0; i < reps->n; i++) {
        const struct bt_ynode *it = reps->items[i], *crm;
        const char *path = pidx(p, "routing.reps", i), *id, *name;
        struct bt_rep *rep;

        if (!is_map(p, it, path, "a map with id, name, crm, channel and to"))
            continue;
        check_keys(p, it, path, rep_keys, NULL);
        rep = &m->reps[m->n_reps++];
        id = req_str(p, it, path, "id");
        name = opt_str(p, it, path, "name");
        rep->id = id ? keep(p, id) : NULL;
        rep->name = name ? keep(p, name) : rep->id;
        crm = need(p, it, path, "crm");
        if (crm)
            read_crm(p, crm, pkey(p, path, "crm"), rep);
        read_route(p, it, path, &rep->route);
        if (id) {
            struct entry e = {.key = rep->id,
                              .item = rep,
                              .node = bt_ynode_get(it, "id"),
                              .path = pkey(p, path, "id"),
                              .pos = p->pos++};

            table_add(&m->rep_ix, &e);
        }
    }
    sort_table(&m->rep_ix, sort_key);
    report_dups(p, &m->rep_ix, "rep id");
    sort_table(&m->owner_ix, sort_key);
    check_owners(p);
}

/* ---- after reading ---------------------------------------------------- */

/* The deal fields plays name besides stage and competitor, each once, in
 * order of first use: what a CRM look-up must fetch. */
static void collect_condition_fields(struct bt_motion *m)
{
    const char **v = NULL;
    size_t n = 0, alloc = 0;

    for (size_t i = 0; i < m->n_plays; i++) {
        for (size_t j = 0; j < m->plays[i].n_conds; j++) {
            const char *f = m->plays[i].conds[j].field;
            bool seen = !strcmp(f, "stage") || !strcmp(f, "competitor");

            for (size_t k = 0; k < n && !seen; k++)
                seen = !strcmp(v[k], f);
            if (seen)
                continue;
            if (n == alloc) {
                alloc = alloc ? alloc * 2 : 8;
                v = bt_reallocarray(v, alloc, sizeof(*v));
            }
            v[n++] = f;
        }
    }
    m->cond_fields = bt_arena_alloc(m->arena, (n + 1) * sizeof(*m->cond_fields));
    if (n)
        memcpy(m->cond_fields, v, n * sizeof(*v));
    bt_free(v);
}

static struct bt_motion *motion_new(const char *buf, size_t len)
{
    struct bt_motion *m = bt_calloc(1, sizeof(*m));

    m->refs = 1;
    m->arena = bt_arena_new();
    m->source = bt_arena_strndup(m->arena, buf, len);
    m->source_len = len;
    m->max_assets = 1;
    return m;
}

/* ---- loading ---------------------------------------------------------- */

int bt_motion_parse(const char *name, const char *buf, size_t len, struct bt_motion **out,
                    struct bt_diags *diags)
{
    static const char *const keys[] = {"format",
                                       "name",
                                       "max_assets_per_change",
                                       "stages",
                                       "qualified_from",
                                       "competitors",
                                       "assets",
                                       "plays",
                                       "fields",
                                       "routing",
                                       NULL};
    struct parse p = {0};
    struct bt_ydoc *doc = NULL;
    size_t left = MAX_WEIGHT;
    int rc = BT_EINVAL;

    *out = NULL;
    bt_diags_init(&p.d);
    p.file = name;
    p.scratch = bt_arena_new();
    p.suggest_budget = SUGGEST_BUDGET;
    if (bt_ydoc_load_mem(name, buf, len, &doc, &p.d) != 0)
        goto out;
    p.doc = doc;
    p.m = motion_new(buf, len);
    if (!doc->root) {
        report(&p, NULL, NULL,
               "the file is empty: a motion needs at least format, name and "
               "stages");
        goto out;
    }
    if (!weigh(doc->root, &left)) {
        report(&p, doc->root, NULL,
               "the document is too large once its YAML aliases are "
               "expanded");
        goto out;
    }
    if (doc->root->type != BT_Y_MAP) {
        report(&p, doc->root, NULL,
               "a motion must be a map of keys (format, name, stages, ...), "
               "not %s",
               kind_of(doc->root));
        goto out;
    }
    check_keys(&p, doc->root, "", keys, NULL);
    read_header(&p, doc->root);
    read_stages(&p, doc->root);
    read_competitors(&p, doc->root);
    read_assets(&p, doc->root);
    read_qualified_from(&p, doc->root);
    read_plays(&p, doc->root);
    read_fields(&p, doc->root);
    read_routing(&p, doc->root);
    if (p.d.n)
        goto out;
    collect_condition_fields(p.m);
    *out = p.m;
    p.m = NULL;
    rc = 0;
out:
    bt_diags_sort(&p.d);
    for (size_t i = 0; i < p.d.n; i++)
        bt_diags_add(diags, p.d.v[i].file, p.d.v[i].line, p.d.v[i].col, p.d.v[i].path, "%s",
                     p.d.v[i].msg);
    bt_diags_free(&p.d);
    bt_motion_unref(p.m);
    bt_ydoc_free(doc);
    bt_arena_free(p.scratch);
    return rc;
}

int bt_motion_load(const char *file, struct bt_motion **out, struct bt_diags *diags)
{
    struct bt_buf b;
    char chunk[8192];
    FILE *f;
    size_t n;
    int rc = BT_EIO;

    *out = NULL;
    bt_buf_init(&b, 16u << 20);
    f = fopen(file, "rb");
    if (!f) {
        bt_diags_add(diags, file, 0, 0, NULL, "cannot open: %s", strerror(errno));
        goto out;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (bt_buf_add(&b, chunk, n) < 0) {
            bt_diags_add(diags, file, 0, 0, NULL, "file is larger than 16 MiB");
            rc = BT_EINVAL;
            goto out;
        }
    }
    if (ferror(f)) {
        bt_diags_add(diags, file, 0, 0, NULL, "cannot read: %s", strerror(errno));
        goto out;
    }
    rc = bt_motion_parse(file, b.data ? b.data : "", b.len, out, diags);
out:
    if (f)
        fclose(f);
    bt_buf_free(&b);
    return rc;
}

struct bt_motion *bt_motion_ref(struct bt_motion *m)
{
    if (m)
        m->refs++;
    return m;
}

void bt_motion_unref(struct bt_motion *m)
{
    if (!m || --m->refs > 0)
        return;
    table_free(&m->stage_ix);
    table_free(&m->competitor_ix);
    table_free(&m->fold_ix);
    table_free(&m->asset_ix);
    table_free(&m->play_ix);
    table_free(&m->rep_ix);
    table_free(&m->owner_ix);
    bt_arena_free(m->arena);
    bt_free(m);
}

/* ---- accessors -------------------------------------------------------- */

const char *bt_motion_source(const struct bt_motion *m, size_t *len)
{
    if (len)
        *len = m->source_len;
    return m->source;
}

const char *bt_motion_name(const struct bt_motion *m)
{
    return m->name;
}

int bt_motion_format(const struct bt_motion *m)
{
    return m->format;
}

int bt_motion_max_assets(const struct bt_motion *m)
{
    return m->max_assets;
}

size_t bt_motion_n_stages(const struct bt_motion *m)
{
    return m->n_stages;
}

const struct bt_stage *bt_motion_stage(const struct bt_motion *m, size_t i)
{
    return i < m->n_stages ? &m->stages[i] : NULL;
}

const struct bt_stage *bt_motion_find_stage(const struct bt_motion *m, const char *id)
{
    return find_by_key(&m->stage_ix, id);
}

const struct bt_stage *bt_motion_qualified_from(const struct bt_motion *m)
{
    return m->qualified_from;
}

size_t bt_motion_n_competitors(const struct bt_motion *m)
{
    return m->n_competitors;
}

const struct bt_competitor *bt_motion_competitor(const struct bt_motion *m, size_t i)
{
    return i < m->n_competitors ? &m->competitors[i] : NULL;
}

const struct bt_competitor *bt_motion_find_competitor(const struct bt_motion *m, const char *id)
{
    return find_by_key(&m->competitor_ix, id);
}

const struct bt_competitor *bt_motion_fold_competitor(const struct bt_motion *m, const char *raw)
{
    struct entry probe = {.key = raw};
    const struct entry *e;

    if (!raw)
        return NULL;
    e = table_find(&m->fold_ix, &probe, cmp_fold);
    return e ? e->item : NULL;
}

size_t bt_motion_n_assets(const struct bt_motion *m)
{
    return m->n_assets;
}

const struct bt_asset *bt_motion_asset(const struct bt_motion *m, size_t i)
{
    return i < m->n_assets ? &m->assets[i] : NULL;
}

const struct bt_asset *bt_motion_find_asset(const struct bt_motion *m, const char *id)
{
    return find_by_key(&m->asset_ix, id);
}

size_t bt_motion_n_plays(const struct bt_motion *m)
{
    return m->n_plays;
}

const struct bt_play *bt_motion_play(const struct bt_motion *m, size_t i)
{
    return i < m->n_plays ? &m->plays[i] : NULL;
}

const struct bt_play *bt_motion_find_play(const struct bt_motion *m, const char *id)
{
    return find_by_key(&m->play_ix, id);
}

size_t bt_motion_n_field_maps(const struct bt_motion *m, enum bt_source src)
{
    return (unsigned)src < BT_SRC_COUNT ? m->n_fields[src] : 0;
}

const struct bt_field_map *bt_motion_field_map(const struct bt_motion *m, enum bt_source src,
                                               size_t i)
{
    return i < bt_motion_n_field_maps(m, src) ? &m->fields[src][i] : NULL;
}

const struct bt_field_map *bt_motion_field_by_prop(const struct bt_motion *m, enum bt_source src,
                                                   const char *prop)
{
    for (size_t i = 0; prop && i < bt_motion_n_field_maps(m, src); i++)
        if (!strcmp(m->fields[src][i].prop, prop))
            return &m->fields[src][i];
    return NULL;
}

const struct bt_field_map *bt_motion_field_by_name(const struct bt_motion *m, enum bt_source src,
                                                   const char *field)
{
    for (size_t i = 0; field && i < bt_motion_n_field_maps(m, src); i++)
        if (!strcmp(m->fields[src][i].field, field))
            return &m->fields[src][i];
    return NULL;
}

const char *bt_field_map_value(const struct bt_field_map *fm, const char *value)
{
    for (size_t i = 0; fm && value && i < fm->n_values; i++)
        if (!strcmp(fm->from[i], value))
            return fm->to[i];
    return value;
}

size_t bt_motion_n_reps(const struct bt_motion *m)
{
    return m->n_reps;
}

const struct bt_rep *bt_motion_rep(const struct bt_motion *m, size_t i)
{
    return i < m->n_reps ? &m->reps[i] : NULL;
}

const struct bt_rep *bt_motion_find_rep(const struct bt_motion *m, const char *id)
{
    return find_by_key(&m->rep_ix, id);
}

const struct bt_rep *bt_motion_rep_for_owner(const struct bt_motion *m, enum bt_source src,
                                             const char *owner)
{
    struct entry probe = {.key = owner, .src = (int)src};
    const struct entry *e;

    if (!owner)
        return NULL;
    e = table_find(&m->owner_ix, &probe, cmp_key);
    return e ? e->item : NULL;
}

const struct bt_route *bt_motion_default_route(const struct bt_motion *m)
{
    return m->has_default ? &m->default_route : NULL;
}

const char *const *bt_motion_condition_fields(const struct bt_motion *m)
{
    return m->cond_fields;
}

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

char *bt_motion_summary(const struct bt_motion *m)
{
    return bt_asprintf("%s: %zu stage%s, %zu competitor%s, %zu asset%s, %zu play%s, %zu rep%s",
                       m->name, m->n_stages, plural(m->n_stages), m->n_competitors,
                       plural(m->n_competitors), m->n_assets, plural(m->n_assets), m->n_plays,
                       plural(m->n_plays), m->n_reps, plural(m->n_reps));
}
