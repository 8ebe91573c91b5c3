#include "match.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/*
 * The index. Most of a play's conditions in a real motion are on stage and
 * competitor, and both are closed sets of motion ids, so they make perfect
 * bucket keys: a deal in stage S with competitor C can only be matched by a
 * play that lists S (or names no stage) and lists C (or names no competitor).
 * bt_matcher_new therefore sorts every play by rank once and files it into a
 * grid of buckets, one row per stage plus one for stages the motion does not
 * list, one column per competitor plus one for plays without a competitor
 * condition. A match reads two buckets, merges them by rank (both are
 * already sorted) and evaluates only the conditions the buckets did not
 * settle. A play with no stage condition is filed into every row; that is
 * the price of never scanning the whole motion.
 */

/*
 * What a match reads of a play is laid out in one array of cells, in rank
 * order: a play's header cell, then one cell per condition the buckets do
 * not settle, with what evaluating it needs copied in (the hashes of its
 * values, its bounds). A match walks hundreds of candidates, and the time
 * goes on cache misses, not on comparisons: one contiguous run per play
 * instead of pointers into the motion keeps it to a miss or two each.
 */
struct cplay {
    const struct bt_play *play;
    const struct bt_asset *const *send; /* resolved; unknown ids dropped */
    uint32_t n_send;
    uint32_t n_rest; /* condition cells that follow this one */
};

struct ccond {
    uint32_t slot; /* into the per-match field cache; NO_SLOT: evaluate generically */
    uint32_t n_values;
    enum bt_cond_op op;
    bool has_min, has_max;
    const struct bt_cond *cond;
    union {
        struct {
            double min, max;
        } range;
        struct {
            uint64_t first;       /* the hash of values[0], normalized */
            const uint64_t *more; /* of values[1..] */
        } any;
    } u;
};

union cell {
    struct cplay p;
    struct ccond c;
};

#define NO_SLOT UINT32_MAX
#define NO_POS  SIZE_MAX

struct bucket {
    uint32_t *v; /* header cells, ascending = best rank first */
    size_t n, alloc;
};

/* Maps an element the motion hands out back to its position. */
struct ptrpos {
    uintptr_t p;
    size_t pos;
};

struct bt_matcher {
    struct bt_motion *m;
    union cell *cells;
    size_t n_plays;
    uint64_t *hashes;               /* storage for the cells' u.any.more */
    const struct bt_asset **assets; /* storage for the cells' send */
    size_t n_stages, n_comps;
    struct ptrpos *stage_pos, *comp_pos; /* sorted by p */
    struct bucket *grid;                 /* (n_stages + 1) rows of (n_comps + 1) buckets */
    const char **slot_field;             /* distinct field names of slotted conditions */
    size_t n_slots;
};

/* ---- comparing values ---------------------------------------------------- */

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Reads S as if it were trimmed, lowercased (ASCII) and had every run of
 * white space collapsed to one space, one byte per call; 0 at the end. This
 * lets two values be compared without building normalized copies. */
static int norm_next(const char **s)
{
    unsigned char c = (unsigned char)**s;

    if (!c)
        return 0;
    if (is_space(c)) {
        while (is_space((unsigned char)**s))
            (*s)++;
        return **s ? ' ' : 0;
    }
    (*s)++;
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* FNV-1a over the normalized bytes: equal values hash equal, so a match
 * compares numbers and confirms with norm_equal only on a hit. */
static uint64_t norm_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    while (is_space((unsigned char)*s))
        s++;
    for (int c = norm_next(&s); c; c = norm_next(&s)) {
        h ^= (unsigned char)c;
        h *= 1099511628211ULL;
    }
    return h;
}

static bool norm_equal(const char *a, const char *b)
{
    int ca, cb;

    while (is_space((unsigned char)*a))
        a++;
    while (is_space((unsigned char)*b))
        b++;
    do {
        ca = norm_next(&a);
        cb = norm_next(&b);
        if (ca != cb)
            return false;
    } while (ca);
    return true;
}

/* The whole value must be a finite number: "48000" and " 1e3 " are numbers,
 * "48k", "$48000", "" and "nan" are not, so they never fall into a range. */
static bool parse_number(const char *s, double *out)
{
    char *end;
    double v;

    while (is_space((unsigned char)*s))
        s++;
    if (!*s)
        return false;
    v = strtod(s, &end);
    if (end == s)
        return false;
    while (is_space((unsigned char)*end))
        end++;
    if (*end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool in_range(const struct bt_cond *c, double v)
{
    return (!c->has_min || v >= c->min) && (!c->has_max || v <= c->max);
}

static bool any_exact(const struct bt_cond *c, const char *id)
{
    for (size_t i = 0; i < c->n_values; i++)
        if (!strcmp(c->values[i], id))
            return true;
    return false;
}

static bool any_norm(const struct bt_cond *c, const char *v)
{
    for (size_t i = 0; i < c->n_values; i++)
        if (norm_equal(c->values[i], v))
            return true;
    return false;
}

static bool is_stage(const struct bt_cond *c)
{
    return !strcmp(c->field, "stage");
}

static bool is_competitor(const struct bt_cond *c)
{
    return !strcmp(c->field, "competitor");
}

/* The reference semantics of one condition. The matcher's fast path must
 * agree with this exactly; the unit tests compare the two. */
static bool cond_holds(const struct bt_motion *m, const struct bt_cond *c,
                       const struct bt_fields *deal)
{
    const char *v = bt_fields_get(deal, c->field);
    const struct bt_stage *st;
    const struct bt_competitor *comp;
    double num;

    if (!v)
        return false;
    if (c->op == BT_COND_RANGE)
        return parse_number(v, &num) && in_range(c, num);
    if (is_stage(c)) {
        st = bt_motion_find_stage(m, v);
        return st && any_exact(c, st->id);
    }
    if (is_competitor(c)) {
        comp = bt_motion_fold_competitor(m, v);
        return comp && any_exact(c, comp->id);
    }
    return any_norm(c, v);
}

int bt_play_holds(const struct bt_motion *m, const struct bt_play *p, const struct bt_fields *deal,
                  const char **why_field)
{
    if (why_field)
        *why_field = NULL;
    for (size_t i = 0; i < p->n_conds; i++) {
        if (!cond_holds(m, &p->conds[i], deal)) {
            if (why_field)
                *why_field = p->conds[i].field;
            return 0;
        }
    }
    return 1;
}

const char *bt_match_status_name(enum bt_match_status st)
{
    switch (st) {
    case BT_MATCH_OK:
        return "ok";
    case BT_MATCH_OUTCOME:
        return "outcome";
    case BT_MATCH_NO_STAGE:
        return "no_stage";
    case BT_MATCH_UNKNOWN_STAGE:
        return "unknown_stage";
    }
    return "unknown";
}

/* ---- building the index --------------------------------------------------- */

static int cmp_ptrpos(const void *a, const void *b)
{
    const struct ptrpos *x = a, *y = b;

    return x->p < y->p ? -1 : x->p > y->p;
}

static size_t find_pos(const struct ptrpos *v, size_t n, const void *p)
{
    struct ptrpos key = {(uintptr_t)p, 0};
    const struct ptrpos *hit = p ? bsearch(&key, v, n, sizeof(*v), cmp_ptrpos) : NULL;

    return hit ? hit->pos : NO_POS;
}

int bt_play_rank_cmp(const struct bt_play *a, const struct bt_play *b)
{
    if (a->n_conds != b->n_conds)
        return a->n_conds > b->n_conds ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int cmp_play(const void *a, const void *b)
{
    return bt_play_rank_cmp(*(const struct bt_play *const *)a, *(const struct bt_play *const *)b);
}

static void bucket_add(struct bucket *b, uint32_t i)
{
    /* A stage or competitor listed twice in one play must not file it twice. */
    if (b->n && b->v[b->n - 1] == i)
        return;
    if (b->n == b->alloc) {
        b->alloc = b->alloc ? b->alloc * 2 : 4;
        b->v = bt_reallocarray(b->v, b->alloc, sizeof(*b->v));
    }
    b->v[b->n++] = i;
}

static uint32_t slot_for(struct bt_matcher *mt, const char *field)
{
    for (size_t i = 0; i < mt->n_slots; i++)
        if (!strcmp(mt->slot_field[i], field))
            return (uint32_t)i;
    mt->slot_field = bt_reallocarray(mt->slot_field, mt->n_slots + 1, sizeof(*mt->slot_field));
    mt->slot_field[mt->n_slots] = field;
    return (uint32_t)mt->n_slots++;
}

/* Positions (rows or columns) that the condition C lists, written to OUT;
 * ids the motion does not know are dropped, so such a value never matches,
 * exactly as cond_holds would have it. */
static size_t cond_positions(const struct bt_matcher *mt, const struct bt_cond *c, bool stage,
                             size_t *out)
{
    size_t n = 0;

    for (size_t i = 0; i < c->n_values; i++) {
        const char *id = c->values[i];
        size_t pos;

        if (stage) {
            const struct bt_stage *st = bt_motion_find_stage(mt->m, id);

            pos = st && !strcmp(st->id, id) ? find_pos(mt->stage_pos, mt->n_stages, st) : NO_POS;
        } else {
            const struct bt_competitor *comp = bt_motion_find_competitor(mt->m, id);

            pos =
                comp && !strcmp(comp->id, id) ? find_pos(mt->comp_pos, mt->n_comps, comp) : NO_POS;
            if (pos != NO_POS)
                pos++; /* column 0 is for plays without a competitor condition */
        }
        if (pos != NO_POS)
            out[n++] = pos;
    }
    return n;
}

static void file_play(struct bt_matcher *mt, uint32_t idx, const struct bt_cond *stage_c,
                      const struct bt_cond *comp_c)
{
    size_t cols = mt->n_comps + 1;
    size_t n_rows, n_cols;
    size_t *rows = bt_malloc((stage_c ? stage_c->n_values : mt->n_stages + 1) * sizeof(size_t));
    size_t *colv = bt_malloc((comp_c ? comp_c->n_values : 1) * sizeof(size_t));

    if (stage_c) {
        n_rows = cond_positions(mt, stage_c, true, rows);
    } else {
        /* No stage condition: any stage the motion lists, and unknown ones. */
        for (size_t s = 0; s <= mt->n_stages; s++)
            rows[s] = s;
        n_rows = mt->n_stages + 1;
    }
    if (comp_c) {
        n_cols = cond_positions(mt, comp_c, false, colv);
    } else {
        colv[0] = 0;
        n_cols = 1;
    }
    for (size_t r = 0; r < n_rows; r++)
        for (size_t c = 0; c < n_cols; c++)
            bucket_add(&mt->grid[rows[r] * cols + colv[c]], idx);
    bt_free(rows);
    bt_free(colv);
}

/* Fills the condition cell CC from C. */
static void compile_cond(struct bt_matcher *mt, struct ccond *cc, const struct bt_cond *c,
                         size_t *hi)
{
    cc->cond = c;
    cc->op = c->op;
    /* Stage and competitor values need resolving through the motion; only a
     * malformed play would leave one here, so it gets no fast path. */
    cc->slot = is_stage(c) || is_competitor(c) ? NO_SLOT : slot_for(mt, c->field);
    if (c->op == BT_COND_RANGE) {
        cc->has_min = c->has_min;
        cc->has_max = c->has_max;
        cc->u.range.min = c->min;
        cc->u.range.max = c->max;
        return;
    }
    cc->n_values = (uint32_t)c->n_values;
    cc->u.any.first = c->n_values ? norm_hash(c->values[0]) : 0;
    cc->u.any.more = &mt->hashes[*hi];
    for (size_t v = 1; v < c->n_values; v++)
        mt->hashes[(*hi)++] = norm_hash(c->values[v]);
}

int bt_matcher_new(struct bt_motion *m, struct bt_matcher **out)
{
    struct bt_matcher *mt = NULL;
    const struct bt_play **order = NULL;
    size_t n_cells, n_send = 0, n_values = 0, at = 0, ai = 0, hi = 0;
    int rc = BT_EINVAL;

    if (!out)
        goto out;
    *out = NULL;
    if (!m)
        goto out;
    mt = bt_calloc(1, sizeof(*mt));
    mt->m = bt_motion_ref(m);
    mt->n_plays = bt_motion_n_plays(m);
    mt->n_stages = bt_motion_n_stages(m);
    mt->n_comps = bt_motion_n_competitors(m);

    mt->stage_pos = bt_calloc(mt->n_stages, sizeof(*mt->stage_pos));
    for (size_t i = 0; i < mt->n_stages; i++)
        mt->stage_pos[i] = (struct ptrpos){(uintptr_t)bt_motion_stage(m, i), i};
    qsort(mt->stage_pos, mt->n_stages, sizeof(*mt->stage_pos), cmp_ptrpos);
    mt->comp_pos = bt_calloc(mt->n_comps, sizeof(*mt->comp_pos));
    for (size_t i = 0; i < mt->n_comps; i++)
        mt->comp_pos[i] = (struct ptrpos){(uintptr_t)bt_motion_competitor(m, i), i};
    qsort(mt->comp_pos, mt->n_comps, sizeof(*mt->comp_pos), cmp_ptrpos);

    order = bt_calloc(mt->n_plays, sizeof(*order));
    n_cells = mt->n_plays;
    for (size_t i = 0; i < mt->n_plays; i++) {
        const struct bt_play *p = bt_motion_play(m, i);

        order[i] = p;
        n_cells += p->n_conds;
        n_send += p->n_send;
        for (size_t k = 0; k < p->n_conds; k++)
            n_values += p->conds[k].n_values;
    }
    if (n_cells > UINT32_MAX)
        goto out;
    qsort(order, mt->n_plays, sizeof(*order), cmp_play);

    mt->cells = bt_calloc(n_cells, sizeof(*mt->cells));
    mt->hashes = bt_calloc(n_values, sizeof(*mt->hashes));
    mt->assets = bt_calloc(n_send, sizeof(*mt->assets));
    mt->grid = bt_calloc((mt->n_stages + 1) * (mt->n_comps + 1), sizeof(*mt->grid));
    for (size_t i = 0; i < mt->n_plays; i++) {
        const struct bt_play *p = order[i];
        struct cplay *cp = &mt->cells[at].p;
        const struct bt_cond *stage_c = NULL, *comp_c = NULL;
        uint32_t head = (uint32_t)at++;

        cp->play = p;
        cp->send = &mt->assets[ai];
        for (size_t k = 0; k < p->n_send; k++) {
            const struct bt_asset *a = bt_motion_find_asset(m, p->send[k]);

            if (a)
                mt->assets[ai + cp->n_send++] = a;
        }
        ai += cp->n_send;

        for (size_t k = 0; k < p->n_conds; k++) {
            const struct bt_cond *c = &p->conds[k];

            if (c->op == BT_COND_ANY_OF && is_stage(c) && !stage_c) {
                stage_c = c;
            } else if (c->op == BT_COND_ANY_OF && is_competitor(c) && !comp_c) {
                comp_c = c;
            } else {
                compile_cond(mt, &mt->cells[at++].c, c, &hi);
                cp->n_rest++;
            }
        }
        file_play(mt, head, stage_c, comp_c);
    }
    *out = mt;
    mt = NULL;
    rc = 0;
out:
    bt_free(order);
    bt_matcher_free(mt);
    return rc;
}

void bt_matcher_free(struct bt_matcher *mt)
{
    if (!mt)
        return;
    if (mt->grid)
        for (size_t i = 0; i < (mt->n_stages + 1) * (mt->n_comps + 1); i++)
            bt_free(mt->grid[i].v);
    bt_free(mt->grid);
    bt_free(mt->cells);
    bt_free(mt->hashes);
    bt_free(mt->assets);
    bt_free(mt->stage_pos);
    bt_free(mt->comp_pos);
    bt_free(mt->slot_field);
    bt_motion_unref(mt->m);
    bt_free(mt);
}

const struct bt_motion *bt_matcher_motion(const struct bt_matcher *mt)
{
    return mt->m;
}

/* ---- matching ------------------------------------------------------------- */

/* What one match learned of a deal field, looked up on first use. */
struct slotval {
    signed char have; /* 0: not looked up; 1: present; -1: absent or empty */
    signed char num;  /* 0: not parsed; 1: a number; -1: not a number */
    bool hashed;
    const char *raw;
    double v;
    uint64_t h;
};

struct ctx {
    const struct bt_matcher *mt;
    const struct bt_fields *deal;
    struct slotval *slots;
};

static bool ccond_holds(struct ctx *x, const struct ccond *cc)
{
    struct slotval *sv;

    if (cc->slot == NO_SLOT)
        return cond_holds(x->mt->m, cc->cond, x->deal);
    sv = &x->slots[cc->slot];
    if (!sv->have) {
        sv->raw = bt_fields_get(x->deal, cc->cond->field);
        sv->have = sv->raw ? 1 : -1;
    }
    if (sv->have < 0)
        return false;
    if (cc->op == BT_COND_RANGE) {
        if (!sv->num)
            sv->num = parse_number(sv->raw, &sv->v) ? 1 : -1;
        return sv->num > 0 && (!cc->has_min || sv->v >= cc->u.range.min) &&
               (!cc->has_max || sv->v <= cc->u.range.max);
    }
    if (!sv->hashed) {
        sv->h = norm_hash(sv->raw);
        sv->hashed = true;
    }
    for (size_t i = 0; i < cc->n_values; i++) {
        uint64_t h = i ? cc->u.any.more[i - 1] : cc->u.any.first;

        /* equal hashes are confirmed: a collision must not match */
        if (h == sv->h && norm_equal(cc->cond->values[i], sv->raw))
            return true;
    }
    return false;
}

/* Whether the conditions of the play whose header is CELLS[0] hold. */
static bool cplay_holds(struct ctx *x, const union cell *cells)
{
    for (size_t i = 1; i <= cells[0].p.n_rest; i++)
        if (!ccond_holds(x, &cells[i].c))
            return false;
    return true;
}

static void add_matched(struct bt_match_result *res, size_t *alloc, const struct bt_play *p)
{
    if (res->n_matched == *alloc) {
        *alloc = *alloc ? *alloc * 2 : 8;
        res->matched = bt_reallocarray(res->matched, *alloc, sizeof(*res->matched));
    }
    res->matched[res->n_matched++] = p;
}

static bool is_already(const struct bt_asset *a, const struct bt_asset *const *already, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (already[i] == a)
            return true;
    return false;
}

static bool picked(const struct bt_match_result *res, const struct bt_asset *a)
{
    for (size_t i = 0; i < res->n_picks; i++)
        if (res->picks[i].asset == a)
            return true;
    return false;
}

static bool was_skipped(const struct bt_match_result *res, const struct bt_asset *a)
{
    for (size_t i = 0; i < res->n_skipped; i++)
        if (res->skipped[i] == a)
            return true;
    return false;
}

/* Walks the matched plays best first. Assets already chosen for the deal are
 * recorded as skipped all the way down (explain shows them), but picking
 * stops at max_assets_per_change. MATCHED_CP parallels res->matched. */
static void choose(const struct bt_matcher *mt, const struct cplay *const *matched_cp,
                   const struct bt_asset *const *already, size_t n_already,
                   struct bt_match_result *res)
{
    int max = bt_motion_max_assets(mt->m);
    size_t cap = max > 0 ? (size_t)max : 0;
    size_t skipped_alloc = 0;

    res->picks = bt_calloc(cap ? cap : 1, sizeof(*res->picks));
    for (size_t i = 0; i < res->n_matched; i++) {
        const struct cplay *cp = matched_cp[i];

        for (size_t k = 0; k < cp->n_send; k++) {
            const struct bt_asset *a = cp->send[k];

            if (is_already(a, already, n_already)) {
                if (was_skipped(res, a))
                    continue;
                if (res->n_skipped == skipped_alloc) {
                    skipped_alloc = skipped_alloc ? skipped_alloc * 2 : 4;
                    res->skipped =
                        bt_reallocarray(res->skipped, skipped_alloc, sizeof(*res->skipped));
                }
                res->skipped[res->n_skipped++] = a;
            } else if (res->n_picks < cap && !picked(res, a)) {
                res->picks[res->n_picks].asset = a;
                res->picks[res->n_picks].play = cp->play;
                res->n_picks++;
            }
        }
    }
}

int bt_match(const struct bt_matcher *mt, const struct bt_fields *deal, const char *const *already,
             size_t n_already, struct bt_match_result *res)
{
    struct slotval small[16];
    const struct bt_asset *small_already[16], **al = small_already;
    struct ctx x = {mt, deal, NULL};
    const struct cplay **matched_cp = NULL;
    const struct bucket *a, *b;
    const char *stage_raw, *comp_raw;
    const struct bt_stage *st;
    const struct bt_competitor *comp;
    size_t row, col, i = 0, j = 0, alloc = 0, cp_alloc = 0;
    int rc = BT_EINVAL;

    if (!res)
        return BT_EINVAL;
    memset(res, 0, sizeof(*res));
    if (!mt || !deal || (n_already && !already))
        goto out;
    x.slots = mt->n_slots <= sizeof(small) / sizeof(small[0])
                  ? small
                  : bt_calloc(mt->n_slots, sizeof(*x.slots));
    memset(x.slots, 0, mt->n_slots * sizeof(*x.slots));
    /* Resolved once, so picking compares pointers; ids the motion does not
     * know (an asset since removed) cannot be picked anyway. */
    if (n_already > sizeof(small_already) / sizeof(small_already[0]))
        al = bt_calloc(n_already, sizeof(*al));
    for (size_t k = 0; k < n_already; k++)
        al[k] = already[k] ? bt_motion_find_asset(mt->m, already[k]) : NULL;

    comp_raw = bt_fields_get(deal, "competitor");
    comp = comp_raw ? bt_motion_fold_competitor(mt->m, comp_raw) : NULL;
    res->competitor = comp ? comp->id : NULL;
    stage_raw = bt_fields_get(deal, "stage");
    st = stage_raw ? bt_motion_find_stage(mt->m, stage_raw) : NULL;
    rc = 0;
    if (!stage_raw) {
        res->status = BT_MATCH_NO_STAGE;
        goto out;
    }
    if (st && st->outcome != BT_OUTCOME_OPEN) {
        res->status = BT_MATCH_OUTCOME;
        goto out;
    }
    res->status = st ? BT_MATCH_OK : BT_MATCH_UNKNOWN_STAGE;
    row = st ? find_pos(mt->stage_pos, mt->n_stages, st) : mt->n_stages;
    if (row == NO_POS)
        row = mt->n_stages; /* a stage not among the motion's own: cannot happen */
    col = comp ? find_pos(mt->comp_pos, mt->n_comps, comp) : NO_POS;
    col = col == NO_POS ? 0 : col + 1;

    /* Plays without a competitor condition, merged by rank with those for
     * the deal's competitor (none when it has no known competitor). */
    a = &mt->grid[row * (mt->n_comps + 1)];
    b = col ? &mt->grid[row * (mt->n_comps + 1) + col] : NULL;
    while (i < a->n || (b && j < b->n)) {
        uint32_t idx;
        const struct cplay *cp;

        if (b && j < b->n && (i >= a->n || b->v[j] < a->v[i]))
            idx = b->v[j++];
        else
            idx = a->v[i++];
        if (!cplay_holds(&x, &mt->cells[idx]))
            continue;
        cp = &mt->cells[idx].p;
        add_matched(res, &alloc, cp->play);
        if (res->n_matched > cp_alloc) {
            cp_alloc = alloc;
            matched_cp = bt_reallocarray(matched_cp, cp_alloc, sizeof(*matched_cp));
        }
        matched_cp[res->n_matched - 1] = cp;
    }
    choose(mt, matched_cp, al, n_already, res);
out:
    if (x.slots != small)
        bt_free(x.slots);
    if (al != small_already)
        bt_free(al);
    bt_free(matched_cp);
    return rc;
}

void bt_match_result_free(struct bt_match_result *res)
{
    if (!res)
        return;
    bt_free(res->picks);
    bt_free(res->matched);
    bt_free(res->skipped);
    memset(res, 0, sizeof(*res));
}
