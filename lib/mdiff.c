#include "mdiff.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Every item is compared as a list of named attributes rendered to text:
 * one renderer per kind of item, one generic comparison. Rendering is
 * canonical where order carries no meaning (a play's conditions, the values
 * of one condition, a competitor's aliases), so reordering those is not
 * reported as a change. */
#define MAX_ATTRS 8
#define VALUE_CAP (64 * 1024) /* longer values are cut: this is for reading */

struct attrs {
    size_t n;
    const char *name[MAX_ATTRS];
    const char *value[MAX_ATTRS]; /* NULL: absent */
};

struct bt_mdiff {
    struct bt_arena *arena;
    struct bt_mdiff_entry *v;
    size_t n, alloc;
};

struct item_ops {
    enum bt_mdiff_item item;
    size_t (*count)(const struct bt_motion *m);
    const char *(*id)(const struct bt_motion *m, size_t i, struct bt_arena *a);
    void (*render)(const struct bt_motion *m, size_t i, struct bt_arena *a, struct attrs *out);
};

static const char *const item_names[] = {
#define BT_MDIFF_NAME(name, label) label,
    BT_MDIFF_ITEMS(BT_MDIFF_NAME)
#undef BT_MDIFF_NAME
};

const char *bt_mdiff_item_name(enum bt_mdiff_item item)
{
    return (size_t)item < sizeof(item_names) / sizeof(item_names[0]) ? item_names[item] : "?";
}

static void attr(struct attrs *out, const char *name, const char *value)
{
    if (out->n < MAX_ATTRS) {
        out->name[out->n] = name;
        out->value[out->n] = value;
        out->n++;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a, b, c" from N strings (NULL entries skipped), sorted first if asked. */
static const char *join(struct bt_arena *a, const char *const *v, size_t n, bool sorted)
{
    const char **tmp = bt_calloc(n ? n : 1, sizeof(*tmp));
    struct bt_buf b;
    const char *s;
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (v[i])
            tmp[k++] = v[i];
    if (sorted)
        qsort(tmp, k, sizeof(*tmp), cmp_str);
    bt_buf_init(&b, VALUE_CAP);
    for (size_t i = 0; i < k; i++)
        if (bt_buf_printf(&b, "%s%s", i ? ", " : "", tmp[i]) < 0)
            break;
    s = bt_arena_strdup(a, b.data ? b.data : "");
    bt_buf_free(&b);
    bt_free(tmp);
    return s;
}

static const char *fmt_long(struct bt_arena *a, long v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%ld", v);
    return bt_arena_strdup(a, buf);
}

/* Stages */
static size_t stage_count(const struct bt_motion *m)
{
    return bt_motion_n_stages(m);
}

static const char *stage_id(const struct bt_motion *m, size_t i, struct bt_arena *a)
{
    (void)a;
    return bt_motion_stage(m, i)->id;
}

static const char *outcome_name(enum bt_outcome o)
{
    switch (o) {
    case BT_OUTCOME_WON:
        return "won";
    case BT_OUTCOME_LOST:
        return "lost";
    case BT_OUTCOME_OPEN:
        break;
    }
    return "open";
}

static void stage_render(const struct bt_motion *m, size_t i, struct bt_arena *a,
                         struct attrs *out)
{
    const struct bt_stage *s = bt_motion_stage(m, i);

    (void)a;
    attr(out, "label", s->label);
    attr(out, "outcome", outcome_name(s->outcome));
}

/* Competitors */
static size_t competitor_count(const struct bt_motion *m)
{
    return bt_motion_n_competitors(m);
}

static const char *competitor_id(const struct bt_motion *m, size_t i, struct bt_arena *a)
{
    (void)a;
    return bt_motion_competitor(m, i)->id;
}

static void competitor_render(const struct bt_motion *m, size_t i, struct bt_arena *a,
                              struct attrs *out)
{
    const struct bt_competitor *c = bt_motion_competitor(m, i);

    attr(out, "name", c->name);
    attr(out, "aliases", join(a, c->aliases, c->n_aliases, true));
}

/* Assets */
static size_t asset_count(const struct bt_motion *m)
{
    return bt_motion_n_assets(m);
}

static const char *asset_id(const struct bt_motion *m, size_t i, struct bt_arena *a)
{
    (void)a;
    return bt_motion_asset(m, i)->id;
}

static void asset_render(const struct bt_motion *m, size_t i, struct bt_arena *a,
                         struct attrs *out)
{
    const struct bt_asset *as = bt_motion_asset(m, i);

    (void)a;
    attr(out, "kind", as->kind);
    attr(out, "title", as->title);
    attr(out, "url", as->url);
    attr(out, "owner", as->owner);
}

/* Plays */
static size_t play_count(const struct bt_motion *m)
{
    return bt_motion_n_plays(m);
}

static const char *play_id(const struct bt_motion *m, size_t i, struct bt_arena *a)
{
    (void)a;
    return bt_motion_play(m, i)->id;
}

static const char *cond_render(const struct bt_cond *c, struct bt_arena *a)
{
    struct bt_buf b;
    const char *s;
    int rc = 0;

    bt_buf_init(&b, VALUE_CAP);
    rc |= bt_buf_printf(&b, "%s: ", c->field);
    if (c->op == BT_COND_ANY_OF) {
        rc |= bt_buf_adds(&b, join(a, c->values, c->n_values, true));
    } else if (c->has_min && c->has_max) {
        rc |= bt_buf_printf(&b, "%g..%g", c->min, c->max);
    } else if (c->has_min) {
        rc |= bt_buf_printf(&b, ">= %g", c->min);
    } else if (c->has_max) {
        rc |= bt_buf_printf(&b, "<= %g", c->max);
    } else {
        rc |= bt_buf_adds(&b, "any number");
    }
    (void)rc; /* over the cap: the value is cut, which is fine for reading */
    s = bt_arena_strdup(a, b.data ? b.data : "");
    bt_buf_free(&b);
    return s;
}

static void play_render(const struct bt_motion *m, size_t i, struct bt_arena *a, struct attrs *out)
{
    const struct bt_play *p = bt_motion_play(m, i);
    const char **conds = bt_calloc(p->n_conds ? p->n_conds : 1, sizeof(*conds));
    struct bt_buf b;

    /* Conditions all have to hold, so their order means nothing: sorted. */
    for (size_t k = 0; k < p->n_conds; k++)
        conds[k] = cond_render(&p->conds[k], a);
    qsort(conds, p->n_conds, sizeof(*conds), cmp_str);
    bt_buf_init(&b, VALUE_CAP);
    for (size_t k = 0; k < p->n_conds; k++)
        if (bt_buf_printf(&b, "%s%s", k ? "; " : "", conds[k]) < 0)
            break;
    attr(out, "when", p->n_conds ? bt_arena_strdup(a, b.data ? b.data : "") : "(any deal)");
    bt_buf_free(&b);
    bt_free(conds);
    /* send is in order of preference: order matters. */
    attr(out, "send", join(a, p->send, p->n_send, false));
    attr(out, "priority", fmt_long(a, p->priority));
}

/* Field mappings: one item per source and Baton field, counted across
 * sources in the order of enum bt_source. */
static bool field_at(const struct bt_motion *m, size_t i, enum bt_source *src, size_t *j)
{
    for (int s = 0; s < BT_SRC_COUNT; s++) {
        size_t n = bt_motion_n_field_maps(m, (enum bt_source)s);

        if (i < n) {
            *src = (enum bt_source)s;
            *j = i;
            return true;
        }
        i -= n;
    }
    return false;
}

static size_t field_count(const struct bt_motion *m)
{
    size_t n = 0;

    for (int s = 0; s < BT_SRC_COUNT; s++)
        n += bt_motion_n_field_maps(m, (enum bt_source)s);
    return n;
}

static const char *field_id(const struct bt_motion *m, size_t i, struct bt_arena *a)
{
    enum bt_source src;
    size_t j;
    char *id, *s;

    if (!field_at(m, i, &src, &j))
        return "?";
    id = bt_asprintf("%s.%s", bt_source_name(src), bt_motion_field_map(m, src, j)->field);
    s = bt_arena_strdup(a, id);
    bt_free(id);
    return s;
}

static void field_render(const struct bt_motion *m, size_t i, struct bt_arena *a,
                         struct attrs *out)
{
    const struct bt_field_map *fm;
    enum bt_source src;
    const char **pairs;
    size_t j;

    if (!field_at(m, i, &src, &j))
        return;
    fm = bt_motion_field_map(m, src, j);
    attr(out, "property", fm->prop);
    pairs = bt_calloc(fm->n_values ? fm->n_values : 1, sizeof(*pairs));
    for (size_t k = 0; k < fm->n_values; k++) {
        char *p = bt_asprintf("%s=%s", fm->from[k], fm->to[k]);

        pairs[k] = bt_arena_strdup(a, p);
        bt_free(p);
    }
    attr(out, "values", fm->n_values ? join(a, pairs, fm->n_values, true) : NULL);
    bt_free(pairs);
}

/* Routing reps */
static size_t rep_count(const struct bt_motion *m)
{
    return bt_motion_n_reps(m);
}

static const char *rep_id(const struct bt_motion *m, size_t i, struct bt_arena *a)
{
    (void)a;
    return bt_motion_rep(m, i)->id;
}

static void rep_render(const struct bt_motion *m, size_t i, struct bt_arena *a, struct attrs *out)
{
    const struct bt_rep *r = bt_motion_rep(m, i);
    const char *crm[BT_SRC_COUNT];
    size_t n = 0;

    for (int s = 0; s < BT_SRC_COUNT; s++) {
        if (r->crm[s]) {
            char *p = bt_asprintf("%s=%s", bt_source_name((enum bt_source)s), r->crm[s]);

            crm[n++] = bt_arena_strdup(a, p);
            bt_free(p);
        }
    }
    attr(out, "name", r->name);
    attr(out, "crm", n ? join(a, crm, n, false) : NULL);
    attr(out, "channel", r->route.channel);
    attr(out, "to", r->route.to);
}

static const struct item_ops item_ops[] = {
    {BT_MDIFF_STAGE, stage_count, stage_id, stage_render},
    {BT_MDIFF_COMPETITOR, competitor_count, competitor_id, competitor_render},
    {BT_MDIFF_ASSET, asset_count, asset_id, asset_render},
    {BT_MDIFF_PLAY, play_count, play_id, play_render},
    {BT_MDIFF_FIELD, field_count, field_id, field_render},
    {BT_MDIFF_REP, rep_count, rep_id, rep_render},
};

static const struct item_ops *ops_of(enum bt_mdiff_item item)
{
    for (size_t i = 0; i < sizeof(item_ops) / sizeof(item_ops[0]); i++)
        if (item_ops[i].item == item)
            return &item_ops[i];
    abort(); /* only the items in the table above are asked for */
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static struct bt_mdiff_entry *add_entry(struct bt_mdiff *d, enum bt_mdiff_item item,
                                        enum bt_mdiff_kind kind, const char *id)
{
    struct bt_mdiff_entry *e;

    if (d->n == d->alloc) {
        d->alloc = d->alloc ? d->alloc * 2 : 16;
        d->v = bt_reallocarray(d->v, d->alloc, sizeof(*d->v));
    }
    e = &d->v[d->n++];
    memset(e, 0, sizeof(*e));
    e->item = item;
    e->kind = kind;
    e->id = bt_arena_strdup(d->arena, id);
    return e;
}

/* Adds a CHANGED entry when OLD and NEW differ in any attribute. Both lists
 * come from the same renderer, so attribute I names the same thing in each. */
static void compare(struct bt_mdiff *d, enum bt_mdiff_item item, const char *id,
                    const struct attrs *o, const struct attrs *n)
{
    struct bt_mdiff_attr *changed;
    struct bt_mdiff_entry *e;
    size_t k = 0;

    changed = bt_arena_alloc(d->arena, sizeof(*changed) * MAX_ATTRS);
    for (size_t i = 0; i < n->n && i < o->n; i++) {
        if (same(o->value[i], n->value[i]))
            continue;
        changed[k].name = n->name[i];
        changed[k].old_value = bt_arena_strdup(d->arena, o->value[i]);
        changed[k].new_value = bt_arena_strdup(d->arena, n->value[i]);
        k++;
    }
    if (!k)
        return;
    e = add_entry(d, item, BT_MDIFF_CHANGED, id);
    e->attrs = changed;
    e->n_attrs = k;
}

static bool find_id(const struct item_ops *ops, const struct bt_motion *m, const char *id,
                    struct bt_arena *a, size_t *at)
{
    size_t n = m ? ops->count(m) : 0;

    for (size_t i = 0; i < n; i++) {
        if (!strcmp(ops->id(m, i, a), id)) {
            *at = i;
            return true;
        }
    }
    return false;
}

static void diff_items(struct bt_mdiff *d, const struct item_ops *ops, const struct bt_motion *o,
                       const struct bt_motion *n)
{
    size_t n_new = ops->count(n), n_old = o ? ops->count(o) : 0, j;

    for (size_t i = 0; i < n_new; i++) {
        const char *id = ops->id(n, i, d->arena);
        struct attrs ao = {0}, an = {0};

        if (!find_id(ops, o, id, d->arena, &j)) {
            add_entry(d, ops->item, BT_MDIFF_ADDED, id);
            continue;
        }
        ops->render(o, j, d->arena, &ao);
        ops->render(n, i, d->arena, &an);
        compare(d, ops->item, id, &ao, &an);
    }
    for (size_t i = 0; i < n_old; i++) {
        const char *id = ops->id(o, i, d->arena);

        if (!find_id(ops, n, id, d->arena, &j))
            add_entry(d, ops->item, BT_MDIFF_REMOVED, id);
    }
}

/* The ids both motions have, in the order of M, joined: equal strings for
 * the two motions mean the common items kept their relative order. Items
 * added or removed do not count as reordering. */
static const char *common_order(const struct item_ops *ops, const struct bt_motion *m,
                                const struct bt_motion *other, struct bt_arena *a)
{
    size_t n = ops->count(m), k = 0, j;
    const char **ids = bt_calloc(n ? n : 1, sizeof(*ids));
    const char *s;

    for (size_t i = 0; i < n; i++) {
        const char *id = ops->id(m, i, a);

        if (find_id(ops, other, id, a, &j))
            ids[k++] = id;
    }
    s = join(a, ids, k, false);
    bt_free(ids);
    return s;
}

/* The order of all ids of M, for showing a reordering. */
static const char *full_order(const struct item_ops *ops, const struct bt_motion *m,
                              struct bt_arena *a)
{
    size_t n = ops->count(m);
    const char **ids = bt_calloc(n ? n : 1, sizeof(*ids));
    const char *s;

    for (size_t i = 0; i < n; i++)
        ids[i] = ops->id(m, i, a);
    s = join(a, ids, n, false);
    bt_free(ids);
    return s;
}

static void motion_render(const struct bt_motion *m, struct bt_arena *a, struct attrs *out)
{
    const struct bt_stage *q = bt_motion_qualified_from(m);

    attr(out, "name", bt_motion_name(m));
    attr(out, "format", fmt_long(a, bt_motion_format(m)));
    attr(out, "max_assets_per_change", fmt_long(a, bt_motion_max_assets(m)));
    attr(out, "qualified_from", q ? q->id : NULL);
}

static void diff_motion(struct bt_mdiff *d, const struct bt_motion *o, const struct bt_motion *n)
{
    /* Pipeline order is meaningful (stage index, qualified_from), and file
     * order breaks ties between plays: both are settings of the motion. */
    static const struct {
        const char *name;
        enum bt_mdiff_item item;
    } orders[] = {{"stage order", BT_MDIFF_STAGE}, {"play order", BT_MDIFF_PLAY}};
    struct attrs ao = {0}, an = {0};

    motion_render(o, d->arena, &ao);
    motion_render(n, d->arena, &an);
    for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
        const struct item_ops *ops = ops_of(orders[i].item);
        const char *co = common_order(ops, o, n, d->arena);
        const char *cn = common_order(ops, n, o, d->arena);

        if (strcmp(co, cn) != 0) {
            attr(&ao, orders[i].name, full_order(ops, o, d->arena));
            attr(&an, orders[i].name, full_order(ops, n, d->arena));
        } else {
            attr(&ao, orders[i].name, NULL);
            attr(&an, orders[i].name, NULL);
        }
    }
    compare(d, BT_MDIFF_MOTION, bt_motion_name(n) ? bt_motion_name(n) : "", &ao, &an);
}

static void route_render(const struct bt_route *r, struct attrs *out)
{
    attr(out, "channel", r->channel);
    attr(out, "to", r->to);
}

static void diff_default_route(struct bt_mdiff *d, const struct bt_motion *o,
                               const struct bt_motion *n)
{
    const struct bt_route *ro = o ? bt_motion_default_route(o) : NULL;
    const struct bt_route *rn = bt_motion_default_route(n);
    struct attrs ao = {0}, an = {0};

    if (!ro && !rn)
        return;
    if (!ro || !rn) {
        add_entry(d, BT_MDIFF_DEFAULT_ROUTE, rn ? BT_MDIFF_ADDED : BT_MDIFF_REMOVED, NULL);
        return;
    }
    route_render(ro, &ao);
    route_render(rn, &an);
    compare(d, BT_MDIFF_DEFAULT_ROUTE, NULL, &ao, &an);
}

void bt_mdiff_new(const struct bt_motion *old_m, const struct bt_motion *new_m,
                  struct bt_mdiff **out)
{
    struct bt_mdiff *d = bt_calloc(1, sizeof(*d));
    size_t i;

    d->arena = bt_arena_new();
    if (old_m)
        diff_motion(d, old_m, new_m);
    /* Items in the order of enum bt_mdiff_item; routing reps then the
     * default route come last, as in the file. */
    for (i = 0; i < sizeof(item_ops) / sizeof(item_ops[0]); i++)
        diff_items(d, &item_ops[i], old_m, new_m);
    diff_default_route(d, old_m, new_m);
    *out = d;
}

void bt_mdiff_free(struct bt_mdiff *d)
{
    if (!d)
        return;
    bt_arena_free(d->arena);
    bt_free(d->v);
    bt_free(d);
}

size_t bt_mdiff_count(const struct bt_mdiff *d)
{
    return d->n;
}

const struct bt_mdiff_entry *bt_mdiff_entry(const struct bt_mdiff *d, size_t i)
{
    return i < d->n ? &d->v[i] : NULL;
}

void bt_mdiff_print(const struct bt_mdiff *d, FILE *out)
{
    static const char marks[] = {'+', '-', '~'};

    if (d->n == 0) {
        fprintf(out, "no changes\n");
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        const struct bt_mdiff_entry *e = &d->v[i];

        fprintf(out, "%c %s", marks[e->kind], bt_mdiff_item_name(e->item));
        if (e->id && *e->id)
            fprintf(out, " %s", e->id);
        for (size_t k = 0; k < e->n_attrs; k++)
            fprintf(out, "%s%s", k ? ", " : ": ", e->attrs[k].name);
        fputc('\n', out);
        for (size_t k = 0; k < e->n_attrs; k++)
            fprintf(out, "    %s: %s -> %s\n", e->attrs[k].name,
                    e->attrs[k].old_value ? e->attrs[k].old_value : "(none)",
                    e->attrs[k].new_value ? e->attrs[k].new_value : "(none)");
    }
}
