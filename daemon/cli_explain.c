/* baton explain — what a deal in a given state would get from a motion, and
 * why: the assets picked and the plays that picked them, the plays that
 * matched and lost, the ones that nearly matched, and notes on the deal's
 * stage and competitor. The matching itself is lib/match.c; this file only
 * gathers arguments and prints. */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "deal.h"
#include "diag.h"
#include "match.h"
#include "mem.h"
#include "motion.h"

/* Plays for the deal's stage that did not match, printed in text; JSON
 * lists every play that did not match. */
enum { TEXT_MISSES_MAX = 20 };

/* A play that did not match: the first of its conditions that failed, and
 * whether its stage condition (if any) let the deal's stage through. */
struct miss {
    const struct bt_play *play;
    const char *why;
    bool for_stage;
};

struct opts {
    const char *file, *stage, *competitor;
    struct bt_fields fields; /* --field values, without stage and competitor */
    const char **already;
    size_t n_already;
    bool json;
};

/* Why a matched play's asset was or was not sent. */
enum asset_state { AS_PICKED, AS_ALREADY, AS_PICKED_HIGHER, AS_OVER_MAX, AS_UNKNOWN };

static const char *const asset_state_names[] = {"picked", "already_chosen",
                                                "picked_by_higher_play", "over_max", "unknown"};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: baton explain FILE --stage S [--competitor C] [--field NAME=VALUE]...\n"
            "                     [--already ASSET]... [--json]\n"
            "\n"
            "Shows what a deal at stage S would get from the motion in FILE, and why.\n"
            "\n"
            "  --stage S            the deal's stage id\n"
            "  --competitor C       the competitor as a rep or CRM wrote it (id, name or alias)\n"
            "  --field NAME=VALUE   any other deal field (industry, amount, ...); repeatable\n"
            "  --already ASSET      an asset already chosen for the deal; repeatable\n"
            "  --json               one JSON object, for programs\n"
            "\n"
            "Exit status: 0 explained, 1 the motion is invalid, 2 usage error.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "baton explain: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(baton explain --help for usage)\n");
    va_end(ap);
    return CLI_USAGE;
}

/* Takes OPT's value from "--opt=VALUE" or from the next argument. Returns 1
 * when ARGV[*I] is OPT (VALUE set, or NULL when it is missing), else 0. */
static int opt_value(const char *opt, int argc, char **argv, int *i, const char **value)
{
    size_t n = strlen(opt);
    const char *arg = argv[*i];

    if (strncmp(arg, opt, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
        return 0;
    if (arg[n] == '=')
        *value = arg + n + 1;
    else if (*i + 1 < argc)
        *value = argv[++*i];
    else
        *value = NULL;
    return 1;
}

static int add_field(struct opts *o, const char *spec)
{
    const char *eq = strchr(spec, '=');
    char *name;
    int rc = CLI_OK;

    if (!eq || eq == spec)
        return usage_error("--field wants NAME=VALUE, not \"%s\"", spec);
    name = bt_strndup(spec, (size_t)(eq - spec));
    /* Two ways of giving the stage would leave the reader guessing which won. */
    if (!strcmp(name, "stage") || !strcmp(name, "competitor"))
        rc = usage_error("give the %s with --stage / --competitor, not --field", name);
    else
        bt_fields_set(&o->fields, name, eq + 1);
    bt_free(name);
    return rc;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        int rc;

        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(arg, "--json")) {
            o->json = true;
        } else if (opt_value("--stage", argc, argv, &i, &v)) {
            if (!v)
                return usage_error("%s needs a value", "--stage");
            o->stage = v;
        } else if (opt_value("--competitor", argc, argv, &i, &v)) {
            if (!v)
                return usage_error("%s needs a value", "--competitor");
            o->competitor = v;
        } else if (opt_value("--field", argc, argv, &i, &v)) {
            if (!v)
                return usage_error("%s needs NAME=VALUE", "--field");
            rc = add_field(o, v);
            if (rc != CLI_OK)
                return rc;
        } else if (opt_value("--already", argc, argv, &i, &v)) {
            if (!v || !*v)
                return usage_error("%s needs an asset id", "--already");
            o->already = bt_reallocarray(o->already, o->n_already + 1, sizeof(*o->already));
            o->already[o->n_already++] = v;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return usage_error("unknown option \"%s\"", arg);
        } else if (o->file) {
            return usage_error("one motion file at a time (\"%s\" is a second)", arg);
        } else {
            o->file = arg;
        }
    }
    if (!o->file)
        return usage_error("%s", "no motion FILE given");
    if (!o->stage)
        return usage_error("%s", "--stage S is required");
    return CLI_OK;
}

/* ---- reading the result -------------------------------------------------- */

static bool in_already(const struct opts *o, const char *id)
{
    for (size_t i = 0; i < o->n_already; i++)
        if (!strcmp(o->already[i], id))
            return true;
    return false;
}

static enum asset_state asset_state(const struct bt_motion *m, const struct opts *o,
                                    const struct bt_match_result *r, const struct bt_play *p,
                                    const char *asset_id, const struct bt_play **by)
{
    const struct bt_asset *a = bt_motion_find_asset(m, asset_id);

    *by = NULL;
    if (!a)
        return AS_UNKNOWN;
    if (in_already(o, a->id))
        return AS_ALREADY;
    for (size_t i = 0; i < r->n_picks; i++) {
        if (r->picks[i].asset != a)
            continue;
        *by = r->picks[i].play;
        return r->picks[i].play == p ? AS_PICKED : AS_PICKED_HIGHER;
    }
    return AS_OVER_MAX;
}

static size_t picks_of(const struct bt_match_result *r, const struct bt_play *p)
{
    size_t n = 0;

    for (size_t i = 0; i < r->n_picks; i++)
        n += r->picks[i].play == p;
    return n;
}

/* ---- text ---------------------------------------------------------------- */

/* "industry is one of Healthcare, Pharma  (deal: "Retail")", no newline. */
static void print_cond(const struct bt_cond *c, const struct bt_fields *deal)
{
    const char *v = bt_fields_get(deal, c->field);

    printf("%s ", c->field);
    if (c->op == BT_COND_RANGE) {
        if (c->has_min && c->has_max)
            printf("from %.15g to %.15g", c->min, c->max);
        else if (c->has_min)
            printf("at least %.15g", c->min);
        else if (c->has_max)
            printf("at most %.15g", c->max);
        else
            fputs("is any number", stdout);
    } else {
        fputs(c->n_values == 1 ? "is " : "is one of ", stdout);
        for (size_t i = 0; i < c->n_values; i++)
            printf("%s%s", i ? ", " : "", c->values[i]);
    }
    if (v)
        printf("  (deal: \"%s\")", v);
    else
        printf("  (deal: none)");
}

static const struct bt_cond *find_cond(const struct bt_play *p, const char *field)
{
    for (size_t i = 0; i < p->n_conds; i++)
        if (!strcmp(p->conds[i].field, field))
            return &p->conds[i];
    return NULL;
}

static void print_play_head(const struct bt_play *p, size_t rank)
{
    printf("  #%zu %s (line %d): %zu condition%s, priority %ld\n", rank, p->id, p->line,
           p->n_conds, p->n_conds == 1 ? "" : "s", p->priority);
}

static void print_text(const struct bt_motion *m, const struct opts *o,
                       const struct bt_fields *deal, const struct bt_match_result *r,
                       const struct bt_competitor *comp, const char *const *notes, size_t n_notes,
                       const struct miss *misses, size_t n_misses)
{
    const struct bt_stage *st = bt_motion_find_stage(m, o->stage);
    int max = bt_motion_max_assets(m);
    size_t others = 0, n_near = 0;

    printf("Motion: %s (%s)\n", bt_motion_name(m) ? bt_motion_name(m) : "unnamed", o->file);
    printf("Deal:   stage %s", o->stage);
    if (st && st->label)
        printf(" (%s)", st->label);
    printf("\n");
    if (o->competitor) {
        printf("        competitor \"%s\"", o->competitor);
        if (comp)
            printf(" -> %s (%s)", comp->id, comp->name ? comp->name : comp->id);
        else
            printf(" -> no competitor of this motion");
        printf("\n");
    }
    for (size_t i = 0; i < o->fields.n; i++)
        printf("        %s = %s\n", o->fields.v[i].name,
               o->fields.v[i].value ? o->fields.v[i].value : "");
    if (o->n_already) {
        printf("Already chosen for the deal:");
        for (size_t i = 0; i < o->n_already; i++)
            printf(" %s", o->already[i]);
        printf("\n");
    }
    printf("\n");

    if (r->n_picks) {
        printf("Sends %zu asset%s (max_assets_per_change: %d):\n", r->n_picks,
               r->n_picks == 1 ? "" : "s", max);
    } else {
        printf("Sends nothing.\n");
    }
    for (size_t i = 0; i < r->n_picks; i++) {
        const struct bt_asset *a = r->picks[i].asset;
        const struct bt_play *p = r->picks[i].play;

        printf("  %zu. %s [%s] %s\n", i + 1, a->id, a->kind ? a->kind : "-",
               a->title ? a->title : "");
        if (a->url)
            printf("     %s\n", a->url);
        printf("     chosen by play %s (line %d): %zu condition%s, priority %ld\n", p->id, p->line,
               p->n_conds, p->n_conds == 1 ? "" : "s", p->priority);
        if (!p->n_conds)
            printf("       (no conditions: matches any deal in an open stage)\n");
        for (size_t k = 0; k < p->n_conds; k++) {
            printf("       ");
            print_cond(&p->conds[k], deal);
            printf("\n");
        }
    }

    for (size_t i = 0; i < r->n_matched; i++)
        others += picks_of(r, r->matched[i]) == 0;
    if (others) {
        printf("\nOther plays that matched, best first:\n");
        for (size_t i = 0; i < r->n_matched; i++) {
            const struct bt_play *p = r->matched[i];

            if (picks_of(r, p))
                continue;
            print_play_head(p, i + 1);
            for (size_t k = 0; k < p->n_send; k++) {
                const struct bt_play *by;
                enum asset_state s = asset_state(m, o, r, p, p->send[k], &by);

                printf("       %s: ", p->send[k]);
                switch (s) {
                case AS_ALREADY:
                    printf("already chosen for this deal\n");
                    break;
                case AS_PICKED_HIGHER:
                    printf("already sent by the higher play %s\n", by->id);
                    break;
                case AS_OVER_MAX:
                    printf("lower rank: max_assets_per_change (%d) already reached\n", max);
                    break;
                case AS_PICKED:
                case AS_UNKNOWN:
                    printf("not an asset of this motion\n");
                    break;
                }
            }
        }
    }

    for (size_t i = 0; i < n_misses; i++)
        n_near += misses[i].for_stage;
    if (n_near) {
        printf("\nPlays for this stage that did not match, and the first condition that "
               "failed:\n");
    }
    for (size_t i = 0, shown = 0; i < n_misses && shown < TEXT_MISSES_MAX; i++) {
        const struct bt_cond *c = find_cond(misses[i].play, misses[i].why);

        if (!misses[i].for_stage)
            continue;
        printf("  %s (line %d): ", misses[i].play->id, misses[i].play->line);
        if (c)
            print_cond(c, deal);
        else
            printf("%s", misses[i].why);
        printf("\n");
        shown++;
    }
    if (n_near > TEXT_MISSES_MAX)
        printf("  ... and %zu more (--json lists them all)\n", n_near - TEXT_MISSES_MAX);
    if (n_misses > n_near)
        printf("%s(%zu play%s for other stages did not match either; --json lists them)\n",
               n_near ? "" : "\n", n_misses - n_near, n_misses - n_near == 1 ? "" : "s");

    if (n_notes) {
        printf("\nNotes:\n");
        for (size_t i = 0; i < n_notes; i++)
            printf("  - %s\n", notes[i]);
    }
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* A new reference. */
static json_t *cond_json(const struct bt_cond *c)
{
    json_t *j = json_object();

    json_object_set_new(j, "field", json_string(c->field));
    if (c->op == BT_COND_RANGE) {
        json_object_set_new(j, "min", c->has_min ? json_real(c->min) : json_null());
        json_object_set_new(j, "max", c->has_max ? json_real(c->max) : json_null());
    } else {
        json_t *v = json_array();

        for (size_t i = 0; i < c->n_values; i++)
            json_array_append_new(v, json_string(c->values[i]));
        json_object_set_new(j, "any_of", v);
    }
    return j;
}

/* A new reference. */
static json_t *play_json(const struct bt_play *p)
{
    json_t *j = json_object(), *conds = json_array();

    json_object_set_new(j, "id", json_string(p->id));
    json_object_set_new(j, "line", json_integer(p->line));
    json_object_set_new(j, "priority", json_integer(p->priority));
    for (size_t i = 0; i < p->n_conds; i++)
        json_array_append_new(conds, cond_json(&p->conds[i]));
    json_object_set_new(j, "conditions", conds);
    return j;
}

static int print_json(const struct bt_motion *m, const struct opts *o,
                      const struct bt_fields *deal, const struct bt_match_result *r,
                      const char *const *notes, size_t n_notes, const struct miss *misses,
                      size_t n_misses)
{
    json_t *root = json_object(), *jd = json_object(), *jf = json_object();
    json_t *arr;
    int rc;

    json_object_set_new(root, "motion", str_or_null(bt_motion_name(m)));
    json_object_set_new(root, "file", json_string(o->file));
    json_object_set_new(root, "status", json_string(bt_match_status_name(r->status)));
    for (size_t i = 0; i < deal->n; i++)
        json_object_set_new(jf, deal->v[i].name, str_or_null(deal->v[i].value));
    json_object_set_new(jd, "fields", jf);
    json_object_set_new(jd, "competitor_id", str_or_null(r->competitor));
    json_object_set_new(root, "deal", jd);
    arr = json_array();
    for (size_t i = 0; i < o->n_already; i++)
        json_array_append_new(arr, json_string(o->already[i]));
    json_object_set_new(root, "already", arr);
    json_object_set_new(root, "max_assets_per_change", json_integer(bt_motion_max_assets(m)));

    arr = json_array();
    for (size_t i = 0; i < r->n_picks; i++) {
        const struct bt_asset *a = r->picks[i].asset;
        json_t *ja = json_object(), *jp = json_object();

        json_object_set_new(ja, "id", json_string(a->id));
        json_object_set_new(ja, "kind", str_or_null(a->kind));
        json_object_set_new(ja, "title", str_or_null(a->title));
        json_object_set_new(ja, "url", str_or_null(a->url));
        json_object_set_new(ja, "owner", str_or_null(a->owner));
        json_object_set_new(jp, "asset", ja);
        json_object_set_new(jp, "play", play_json(r->picks[i].play));
        json_array_append_new(arr, jp);
    }
    json_object_set_new(root, "picks", arr);

    arr = json_array();
    for (size_t i = 0; i < r->n_matched; i++) {
        const struct bt_play *p = r->matched[i];
        json_t *jp = play_json(p), *ja = json_array();

        json_object_set_new(jp, "rank", json_integer((json_int_t)(i + 1)));
        for (size_t k = 0; k < p->n_send; k++) {
            const struct bt_play *by;
            json_t *js = json_object();

            json_object_set_new(js, "id", json_string(p->send[k]));
            json_object_set_new(
                js, "state",
                json_string(asset_state_names[asset_state(m, o, r, p, p->send[k], &by)]));
            if (by && by != p)
                json_object_set_new(js, "by", json_string(by->id));
            json_array_append_new(ja, js);
        }
        json_object_set_new(jp, "assets", ja);
        json_array_append_new(arr, jp);
    }
    json_object_set_new(root, "matched", arr);

    arr = json_array();
    for (size_t i = 0; i < r->n_skipped; i++)
        json_array_append_new(arr, json_string(r->skipped[i]->id));
    json_object_set_new(root, "skipped", arr);

    arr = json_array();
    for (size_t i = 0; i < n_misses; i++) {
        json_t *jm = json_object();

        json_object_set_new(jm, "play", json_string(misses[i].play->id));
        json_object_set_new(jm, "line", json_integer(misses[i].play->line));
        json_object_set_new(jm, "failed", json_string(misses[i].why));
        json_object_set_new(jm, "for_stage", json_boolean(misses[i].for_stage));
        json_array_append_new(arr, jm);
    }
    json_object_set_new(root, "not_matched", arr);

    arr = json_array();
    for (size_t i = 0; i < n_notes; i++)
        json_array_append_new(arr, json_string(notes[i]));
    json_object_set_new(root, "notes", arr);

    rc = json_dumpf(root, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(root);
    return rc;
}

/* ---- notes --------------------------------------------------------------- */

struct notes {
    char **v;
    size_t n;
};

static void note(struct notes *ns, char *s)
{
    ns->v = bt_reallocarray(ns->v, ns->n + 1, sizeof(*ns->v));
    ns->v[ns->n++] = s;
}

static char *did_you_mean(const char *word, const char *const *cands, size_t n)
{
    const char *s = bt_suggest(word, cands, n);

    return s ? bt_asprintf(" (did you mean \"%s\"?)", s) : bt_strdup("");
}

static void stage_notes(const struct bt_motion *m, const struct opts *o,
                        const struct bt_match_result *r, struct notes *ns)
{
    const struct bt_stage *st = bt_motion_find_stage(m, o->stage);
    size_t n = bt_motion_n_stages(m);
    const char **ids = bt_calloc(n + 1, sizeof(*ids));
    char *hint;

    for (size_t i = 0; i < n; i++)
        ids[i] = bt_motion_stage(m, i)->id;
    switch (r->status) {
    case BT_MATCH_OUTCOME:
        note(ns, bt_asprintf("stage %s is a %s outcome: Baton sends nothing for a closed deal",
                             st->id, st->outcome == BT_OUTCOME_WON ? "won" : "lost"));
        break;
    case BT_MATCH_NO_STAGE:
        note(ns, bt_strdup("the deal has no stage: Baton sends nothing until it has one"));
        break;
    case BT_MATCH_UNKNOWN_STAGE:
        hint = did_you_mean(o->stage, ids, n);
        note(ns, bt_asprintf("stage \"%s\" is not in the motion%s: only plays without a stage "
                             "condition can match",
                             o->stage, hint));
        bt_free(hint);
        break;
    case BT_MATCH_OK:
        break;
    }
    bt_free(ids);
}

static void competitor_notes(const struct bt_motion *m, const struct opts *o,
                             const struct bt_competitor *comp, struct notes *ns)
{
    size_t n = bt_motion_n_competitors(m), k = 0;
    const char **words;
    char *hint;

    if (!o->competitor || comp)
        return;
    if (!*o->competitor) {
        note(ns, bt_strdup("the competitor is empty: plays with a competitor condition cannot "
                           "match"));
        return;
    }
    words = bt_calloc(n * 2 + 1, sizeof(*words));
    for (size_t i = 0; i < n; i++) {
        const struct bt_competitor *c = bt_motion_competitor(m, i);

        words[k++] = c->id;
        if (c->name)
            words[k++] = c->name;
    }
    hint = did_you_mean(o->competitor, words, k);
    note(ns, bt_asprintf("competitor \"%s\" folds to none of the motion's competitors (ids, "
                         "names, aliases)%s: plays with a competitor condition cannot match",
                         o->competitor, hint));
    bt_free(hint);
    bt_free(words);
}

static void input_notes(const struct bt_motion *m, const struct opts *o, struct notes *ns)
{
    const char *const *used = bt_motion_condition_fields(m);
    size_t n = bt_motion_n_assets(m);
    const char **ids = bt_calloc(n + 1, sizeof(*ids));

    for (size_t i = 0; i < n; i++)
        ids[i] = bt_motion_asset(m, i)->id;
    for (size_t i = 0; i < o->n_already; i++) {
        char *hint;

        if (bt_motion_find_asset(m, o->already[i]))
            continue;
        hint = did_you_mean(o->already[i], ids, n);
        note(ns, bt_asprintf("--already %s: not an asset of this motion%s", o->already[i], hint));
        bt_free(hint);
    }
    for (size_t i = 0; i < o->fields.n; i++) {
        const char *name = o->fields.v[i].name;
        bool found = false;
        size_t n_used = 0;

        for (; used && used[n_used]; n_used++)
            found |= !strcmp(used[n_used], name);
        if (!found) {
            char *hint = did_you_mean(name, used, n_used);

            note(ns, bt_asprintf("--field %s: no play has a condition on %s%s", name, name, hint));
            bt_free(hint);
        }
    }
    bt_free(ids);
}

static void outcome_notes(const struct bt_match_result *r, struct notes *ns)
{
    if (r->status != BT_MATCH_OK && r->status != BT_MATCH_UNKNOWN_STAGE)
        return;
    if (!r->n_matched)
        note(ns, bt_strdup("no play matched this deal"));
    else if (!r->n_picks)
        note(ns, bt_strdup("every asset of the matching plays was already chosen for the deal"));
}

/* ---- the command --------------------------------------------------------- */

/* Whether P's stage conditions let a deal at ST (NULL: a stage the motion
 * does not list) through, whatever its other conditions say. */
static bool stage_fits(const struct bt_play *p, const struct bt_stage *st)
{
    for (size_t i = 0; i < p->n_conds; i++) {
        const struct bt_cond *c = &p->conds[i];
        bool listed = false;

        if (strcmp(c->field, "stage") || c->op != BT_COND_ANY_OF)
            continue;
        for (size_t k = 0; st && k < c->n_values; k++)
            listed |= !strcmp(c->values[k], st->id);
        if (!listed)
            return false;
    }
    return true;
}

static int load(const char *file, struct bt_motion **m)
{
    struct bt_diags d;
    int rc;

    bt_diags_init(&d);
    rc = bt_motion_load(file, m, &d);
    if (rc != 0) {
        bt_diags_sort(&d);
        bt_diags_print(&d, stderr);
        fprintf(stderr, "%s: %zu error%s; the motion is not valid\n", file, d.n,
                d.n == 1 ? "" : "s");
    }
    bt_diags_free(&d);
    return rc;
}

int cli_explain(int argc, char **argv)
{
    struct opts o = {0};
    struct bt_motion *m = NULL;
    struct bt_matcher *mt = NULL;
    struct bt_match_result r = {0};
    struct bt_fields deal;
    struct notes ns = {0};
    struct miss *misses = NULL;
    const struct bt_competitor *comp = NULL;
    const struct bt_stage *st;
    size_t n_misses = 0, n_plays;
    int rc;

    bt_fields_init(&o.fields);
    bt_fields_init(&deal);
    rc = parse_args(argc, argv, &o);
    if (rc < 0) {
        rc = CLI_OK; /* --help */
        goto out;
    }
    if (rc != CLI_OK)
        goto out;
    rc = CLI_FAIL;
    if (load(o.file, &m) != 0)
        goto out;
    if (bt_matcher_new(m, &mt) != 0) {
        fprintf(stderr, "baton explain: %s: cannot index the motion\n", o.file);
        goto out;
    }

    bt_fields_set(&deal, "stage", o.stage);
    if (o.competitor)
        bt_fields_set(&deal, "competitor", o.competitor);
    for (size_t i = 0; i < o.fields.n; i++)
        bt_fields_set(&deal, o.fields.v[i].name, o.fields.v[i].value);
    if (bt_match(mt, &deal, o.already, o.n_already, &r) != 0) {
        fprintf(stderr, "baton explain: matching failed\n");
        goto out;
    }
    if (r.competitor)
        comp = bt_motion_find_competitor(m, r.competitor);

    /* Plays that did not match, each with the condition that stopped it.
     * Text shows those for the deal's stage (a play written for this moment
     * that did not fire); the others would mostly be noise there. */
    n_plays = bt_motion_n_plays(m);
    misses = bt_calloc(n_plays + 1, sizeof(*misses));
    st = bt_motion_find_stage(m, o.stage);
    if (r.status == BT_MATCH_OK || r.status == BT_MATCH_UNKNOWN_STAGE) {
        for (size_t i = 0; i < n_plays; i++) {
            const struct bt_play *p = bt_motion_play(m, i);
            const char *why = NULL;

            if (bt_play_holds(m, p, &deal, &why) || !why)
                continue;
            misses[n_misses++] = (struct miss){p, why, stage_fits(p, st)};
        }
    }

    stage_notes(m, &o, &r, &ns);
    competitor_notes(m, &o, comp, &ns);
    input_notes(m, &o, &ns);
    outcome_notes(&r, &ns);

    if (o.json) {
        if (print_json(m, &o, &deal, &r, (const char *const *)ns.v, ns.n, misses, n_misses) != 0) {
            fprintf(stderr, "baton explain: cannot write JSON\n");
            goto out;
        }
    } else {
        print_text(m, &o, &deal, &r, comp, (const char *const *)ns.v, ns.n, misses, n_misses);
    }
    rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
out:
    for (size_t i = 0; i < ns.n; i++)
        bt_free(ns.v[i]);
    bt_free(ns.v);
    bt_free(misses);
    bt_match_result_free(&r);
    bt_matcher_free(mt);
    bt_motion_unref(m);
    bt_fields_free(&deal);
    bt_fields_free(&o.fields);
    bt_free(o.already);
    return rc;
}
