#include "testutil.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "mem.h"
#include "motion.h"
#include "ydoc.h"

/* ---- helpers -------------------------------------------------------------- */

static struct bt_motion *parse_motion(const char *name, const char *text, size_t len)
{
    struct bt_motion *m = NULL;
    struct bt_diags d;

    bt_diags_init(&d);
    if (bt_motion_parse(name, text, len, &m, &d) != 0) {
        bt_diags_print(&d, stderr);
        fail_msg("%s does not validate", name);
    }
    bt_diags_free(&d);
    return m;
}

static struct bt_motion *load_motion(const char *path)
{
    struct bt_motion *m = NULL;
    struct bt_diags d;

    bt_diags_init(&d);
    if (bt_motion_load(path, &m, &d) != 0) {
        bt_diags_print(&d, stderr);
        fail_msg("%s does not validate", path);
    }
    bt_diags_free(&d);
    return m;
}

static struct bt_matcher *new_matcher(struct bt_motion *m)
{
    struct bt_matcher *mt = NULL;

    assert_int_equal(bt_matcher_new(m, &mt), 0);
    assert_non_null(mt);
    return mt;
}

/* ---- the naive matcher: the rules as written, over every play -------------- */

static int cmp_rank(const void *a, const void *b)
{
    return bt_play_rank_cmp(*(const struct bt_play *const *)a, *(const struct bt_play *const *)b);
}

static bool in_list(const char *const *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], id))
            return true;
    return false;
}

static void naive_match(const struct bt_motion *m, const struct bt_fields *deal,
                        const char *const *already, size_t n_already, struct bt_match_result *r)
{
    const char *stage = bt_fields_get(deal, "stage");
    const char *comp = bt_fields_get(deal, "competitor");
    const struct bt_stage *st = stage ? bt_motion_find_stage(m, stage) : NULL;
    const struct bt_competitor *c = comp ? bt_motion_fold_competitor(m, comp) : NULL;
    size_t np = bt_motion_n_plays(m);
    int max = bt_motion_max_assets(m);

    memset(r, 0, sizeof(*r));
    r->competitor = c ? c->id : NULL;
    if (!stage) {
        r->status = BT_MATCH_NO_STAGE;
        return;
    }
    if (st && st->outcome != BT_OUTCOME_OPEN) {
        r->status = BT_MATCH_OUTCOME;
        return;
    }
    r->status = st ? BT_MATCH_OK : BT_MATCH_UNKNOWN_STAGE;
    r->matched = bt_calloc(np + 1, sizeof(*r->matched));
    for (size_t i = 0; i < np; i++)
        if (bt_play_holds(m, bt_motion_play(m, i), deal, NULL))
            r->matched[r->n_matched++] = bt_motion_play(m, i);
    qsort(r->matched, r->n_matched, sizeof(*r->matched), cmp_rank);
    r->picks = bt_calloc((size_t)max + 1, sizeof(*r->picks));
    r->skipped = bt_calloc(bt_motion_n_assets(m) + 1, sizeof(*r->skipped));
    for (size_t i = 0; i < r->n_matched; i++) {
        const struct bt_play *p = r->matched[i];

        for (size_t k = 0; k < p->n_send; k++) {
            const struct bt_asset *a = bt_motion_find_asset(m, p->send[k]);
            bool dup = false;

            if (in_list(already, n_already, a->id)) {
                for (size_t s = 0; s < r->n_skipped; s++)
                    dup |= r->skipped[s] == a;
                if (!dup)
                    r->skipped[r->n_skipped++] = a;
                continue;
            }
            for (size_t s = 0; s < r->n_picks; s++)
                dup |= r->picks[s].asset == a;
            if (!dup && r->n_picks < (size_t)max)
                r->picks[r->n_picks++] = (struct bt_pick){a, p};
        }
    }
}

/* "" when A and B agree, else what differs (static buffer). */
static const char *result_diff(const struct bt_match_result *a, const struct bt_match_result *b)
{
    static char why[256];

    if (a->status != b->status)
        snprintf(why, sizeof(why), "status %s vs %s", bt_match_status_name(a->status),
                 bt_match_status_name(b->status));
    else if ((a->competitor == NULL) != (b->competitor == NULL) ||
             (a->competitor && strcmp(a->competitor, b->competitor)))
        snprintf(why, sizeof(why), "competitor %s vs %s", a->competitor ? a->competitor : "-",
                 b->competitor ? b->competitor : "-");
    else if (a->n_matched != b->n_matched)
        snprintf(why, sizeof(why), "%zu vs %zu matched", a->n_matched, b->n_matched);
    else if (a->n_picks != b->n_picks)
        snprintf(why, sizeof(why), "%zu vs %zu picks", a->n_picks, b->n_picks);
    else if (a->n_skipped != b->n_skipped)
        snprintf(why, sizeof(why), "%zu vs %zu skipped", a->n_skipped, b->n_skipped);
    else
        why[0] = '\0';
    for (size_t i = 0; !why[0] && i < a->n_matched; i++)
        if (a->matched[i] != b->matched[i])
            snprintf(why, sizeof(why), "matched[%zu] %s vs %s", i, a->matched[i]->id,
                     b->matched[i]->id);
    for (size_t i = 0; !why[0] && i < a->n_picks; i++)
        if (a->picks[i].asset != b->picks[i].asset || a->picks[i].play != b->picks[i].play)
            snprintf(why, sizeof(why), "picks[%zu] %s@%s vs %s@%s", i, a->picks[i].asset->id,
                     a->picks[i].play->id, b->picks[i].asset->id, b->picks[i].play->id);
    for (size_t i = 0; !why[0] && i < a->n_skipped; i++)
        if (a->skipped[i] != b->skipped[i])
            snprintf(why, sizeof(why), "skipped[%zu] %s vs %s", i, a->skipped[i]->id,
                     b->skipped[i]->id);
    return why;
}

/* ---- table-driven cases (tests/data/match/NAME.cases.yaml) ---------------- */

static const char *status_names[] = {"ok", "outcome", "no_stage", "unknown_stage"};

static bool node_list(const struct bt_ynode *n, const char *what, const char *cname)
{
    if (!n || n->type == BT_Y_SEQ)
        return true;
    print_error("case \"%s\": %s must be a list\n", cname, what);
    return false;
}

/* Compares a list of "asset@play" / ids with what the matcher gave; prints
 * the difference and returns false when they disagree. */
static bool check_ids(const char *cname, const char *what, const struct bt_ynode *want, char **got,
                      size_t n_got)
{
    bool ok = want->n == n_got;

    for (size_t i = 0; ok && i < n_got; i++)
        ok = !strcmp(bt_ynode_str(want->items[i]) ? bt_ynode_str(want->items[i]) : "", got[i]);
    if (!ok) {
        print_error("case \"%s\": %s: want [", cname, what);
        for (size_t i = 0; i < want->n; i++)
            print_error("%s%s", i ? ", " : "", bt_ynode_str(want->items[i]));
        print_error("], got [");
        for (size_t i = 0; i < n_got; i++)
            print_error("%s%s", i ? ", " : "", got[i]);
        print_error("]\n");
    }
    return ok;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bt_free(v[i]);
    bt_free(v);
}

static bool run_case(const struct bt_matcher *mt, const struct bt_ynode *c)
{
    const struct bt_motion *m = bt_matcher_motion(mt);
    const struct bt_ynode *name = bt_ynode_get(c, "name"), *deal = bt_ynode_get(c, "deal");
    const struct bt_ynode *already = bt_ynode_get(c, "already");
    const struct bt_ynode *status = bt_ynode_get(c, "status");
    const struct bt_ynode *comp = bt_ynode_get(c, "competitor");
    const struct bt_ynode *matched = bt_ynode_get(c, "matched");
    const struct bt_ynode *picks = bt_ynode_get(c, "picks");
    const struct bt_ynode *skipped = bt_ynode_get(c, "skipped");
    const char *cname = name && bt_ynode_str(name) ? bt_ynode_str(name) : "(unnamed)";
    const char **al = NULL;
    size_t n_al = already ? already->n : 0;
    struct bt_ynode none = {.type = BT_Y_SEQ};
    struct bt_match_result res, ref;
    struct bt_fields f;
    char **got;
    bool ok = true;

    if (!deal || deal->type != BT_Y_MAP || !picks || !node_list(picks, "picks", cname) ||
        !node_list(already, "already", cname) || !node_list(matched, "matched", cname) ||
        !node_list(skipped, "skipped", cname)) {
        print_error("case \"%s\": needs a deal map and a picks list\n", cname);
        return false;
    }
    bt_fields_init(&f);
    for (size_t i = 0; i < deal->n; i++)
        bt_fields_set(&f, bt_ynode_str(deal->keys[i]),
                      bt_ynode_is_null(deal->items[i]) ? NULL : bt_ynode_str(deal->items[i]));
    al = bt_calloc(n_al + 1, sizeof(*al));
    for (size_t i = 0; i < n_al; i++)
        al[i] = bt_ynode_str(already->items[i]);

    assert_int_equal(bt_match(mt, &f, al, n_al, &res), 0);

    if (strcmp(status ? bt_ynode_str(status) : "ok", status_names[res.status])) {
        print_error("case \"%s\": status: want %s, got %s\n", cname,
                    status ? bt_ynode_str(status) : "ok", status_names[res.status]);
        ok = false;
    }
    if (comp) {
        const char *want = bt_ynode_is_null(comp) ? NULL : bt_ynode_str(comp);

        if ((want == NULL) != (res.competitor == NULL) || (want && strcmp(want, res.competitor))) {
            print_error("case \"%s\": competitor: want %s, got %s\n", cname, want ? want : "~",
                        res.competitor ? res.competitor : "~");
            ok = false;
        }
    }
    got = bt_calloc(res.n_picks + 1, sizeof(*got));
    for (size_t i = 0; i < res.n_picks; i++)
        got[i] = bt_asprintf("%s@%s", res.picks[i].asset->id, res.picks[i].play->id);
    ok &= check_ids(cname, "picks", picks, got, res.n_picks);
    free_strs(got, res.n_picks);
    if (matched) {
        got = bt_calloc(res.n_matched + 1, sizeof(*got));
        for (size_t i = 0; i < res.n_matched; i++)
            got[i] = bt_strdup(res.matched[i]->id);
        ok &= check_ids(cname, "matched", matched, got, res.n_matched);
        free_strs(got, res.n_matched);
    }
    got = bt_calloc(res.n_skipped + 1, sizeof(*got));
    for (size_t i = 0; i < res.n_skipped; i++)
        got[i] = bt_strdup(res.skipped[i]->id);
    ok &= check_ids(cname, "skipped", skipped ? skipped : &none, got, res.n_skipped);
    free_strs(got, res.n_skipped);

    /* Every case also holds the index to the rules as written. */
    naive_match(m, &f, al, n_al, &ref);
    if (*result_diff(&res, &ref)) {
        print_error("case \"%s\": index and naive scan disagree: %s\n", cname,
                    result_diff(&res, &ref));
        ok = false;
    }
    bt_match_result_free(&ref);
    bt_match_result_free(&res);
    bt_free(al);
    bt_fields_free(&f);
    return ok;
}

static size_t run_cases_file(const char *dir, const char *file, size_t *n_cases)
{
    char *path = bt_asprintf("%s/%s", dir, file);
    struct bt_ydoc *doc = NULL;
    struct bt_diags d;
    const struct bt_ynode *mnode, *cases;
    struct bt_motion *m;
    struct bt_matcher *mt;
    char *mpath;
    size_t failed = 0;

    bt_diags_init(&d);
    if (bt_ydoc_load_file(path, &doc, &d) != 0) {
        bt_diags_print(&d, stderr);
        fail_msg("cannot read %s", path);
    }
    mnode = bt_ynode_get(doc->root, "motion");
    cases = bt_ynode_get(doc->root, "cases");
    if (!mnode || !bt_ynode_str(mnode) || !cases || cases->type != BT_Y_SEQ)
        fail_msg("%s: needs `motion: FILE` and a `cases` list", path);
    mpath = bt_asprintf("%s/%s", dir, bt_ynode_str(mnode));
    m = load_motion(mpath);
    mt = new_matcher(m);
    bt_motion_unref(m); /* the matcher holds its own reference */
    for (size_t i = 0; i < cases->n; i++) {
        if (!run_case(mt, cases->items[i])) {
            print_error("  in %s, case %zu (line %d)\n", file, i + 1, cases->items[i]->line);
            failed++;
        }
    }
    *n_cases += cases->n;
    bt_matcher_free(mt);
    bt_free(mpath);
    bt_ydoc_free(doc);
    bt_diags_free(&d);
    bt_free(path);
    return failed;
}

static void table_cases(void **state)
{
    char *dir = bt_test_source_path("tests/data/match");
    DIR *dp = opendir(dir);
    struct dirent *e;
    size_t files = 0, n_cases = 0, failed = 0;
    static const char suffix[] = ".cases.yaml";

    (void)state;
    if (!dp)
        fail_msg("cannot open %s", dir);
    while ((e = readdir(dp)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len <= sizeof(suffix) - 1 || strcmp(e->d_name + len - (sizeof(suffix) - 1), suffix))
            continue;
        files++;
        failed += run_cases_file(dir, e->d_name, &n_cases);
    }
    closedir(dp);
    bt_free(dir);
    assert_true(files >= 2);
    assert_true(n_cases >= 30);
    if (failed)
        fail_msg("%zu of %zu match cases failed", failed, n_cases);
}

/* ---- a few things the tables cannot say ----------------------------------- */

static const char small_motion[] =
    "format: 1\n"
    "name: small\n"
    "stages:\n"
    "  - {id: demo, label: Demo}\n"
    "  - {id: won, label: Won, outcome: won}\n"
    "  - {id: lost, label: Lost, outcome: lost}\n"
    "competitors:\n"
    "  - {id: acme, name: Acme, aliases: [\"ACME Inc.\"]}\n"
    "assets:\n"
    "  - {id: a1, kind: deck, title: A1, url: \"https://cms.example.com/a1\"}\n"
    "plays:\n"
    "  - id: p1\n"
    "    when: {stage: [demo], competitor: acme, industry: [Healthcare], amount: {min: 5}}\n"
    "    send: [a1]\n";

static void play_holds_names_the_failing_condition(void **state)
{
    struct bt_motion *m = parse_motion("small.yaml", small_motion, strlen(small_motion));
    const struct bt_play *p = bt_motion_find_play(m, "p1");
    const char *why = "untouched";
    struct bt_fields f;

    (void)state;
    assert_non_null(p);
    bt_fields_init(&f);
    bt_fields_set(&f, "stage", "demo");
    bt_fields_set(&f, "competitor", "ACME Inc.");
    bt_fields_set(&f, "industry", "healthcare");
    bt_fields_set(&f, "amount", "5");
    assert_int_equal(bt_play_holds(m, p, &f, &why), 1);
    assert_null(why);
    bt_fields_set(&f, "industry", "Retail");
    assert_int_equal(bt_play_holds(m, p, &f, &why), 0);
    assert_string_equal(why, "industry");
    bt_fields_set(&f, "competitor", "Initech");
    assert_int_equal(bt_play_holds(m, p, &f, &why), 0);
    assert_string_equal(why, "competitor");
    bt_fields_set(&f, "competitor", "acme");
    bt_fields_set(&f, "industry", "Healthcare");
    bt_fields_set(&f, "amount", "4.99");
    assert_int_equal(bt_play_holds(m, p, &f, NULL), 0);
    bt_fields_set(&f, "stage", "won");
    assert_int_equal(bt_play_holds(m, p, &f, &why), 0);
    assert_string_equal(why, "stage");
    bt_fields_free(&f);
    bt_motion_unref(m);
}

static void bad_arguments_fail_cleanly(void **state)
{
    struct bt_motion *m = parse_motion("small.yaml", small_motion, strlen(small_motion));
    struct bt_matcher *mt = NULL;
    struct bt_match_result res;
    struct bt_fields f;

    (void)state;
    assert_int_equal(bt_matcher_new(NULL, &mt), BT_EINVAL);
    assert_null(mt);
    mt = new_matcher(m);
    bt_fields_init(&f);
    assert_int_equal(bt_match(mt, NULL, NULL, 0, &res), BT_EINVAL);
    assert_int_equal(res.n_picks, 0);
    bt_match_result_free(&res);
    assert_int_equal(bt_match(mt, &f, NULL, 2, &res), BT_EINVAL);
    bt_match_result_free(&res);
    assert_int_equal(bt_match(mt, &f, NULL, 0, &res), 0);
    assert_int_equal(res.status, BT_MATCH_NO_STAGE);
    bt_match_result_free(&res);
    bt_match_result_free(&res); /* freeing twice is harmless */
    assert_ptr_equal(bt_matcher_motion(mt), m);
    bt_fields_free(&f);
    bt_matcher_free(mt);
    bt_matcher_free(NULL);
    bt_motion_unref(m);
}

static void status_names_are_stable(void **state)
{
    (void)state;
    for (int s = BT_MATCH_OK; s <= BT_MATCH_UNKNOWN_STAGE; s++)
        assert_string_equal(bt_match_status_name(s), status_names[s]);
}

/* ---- the index against a naive scan on a large random motion -------------- */

static unsigned long long rng_state;

static unsigned rnd(unsigned n)
{
    /* xorshift64*: deterministic across platforms, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)(((rng_state * 2685821657736338717ULL) >> 33) % n);
}

enum { N_OPEN = 8, N_COMPS = 20, N_ASSETS = 300 };
static const char *const industries[] = {"Healthcare", "Retail", "Finance", "Energy",
                                         "Public Sector"};
static const char *const regions[] = {"EMEA", "AMER", "APAC"};

/* Appends N distinct numbers below LIMIT to B as a flow list of PREFIX%u. */
static void add_ids(struct bt_buf *b, const char *prefix, unsigned n, unsigned limit)
{
    unsigned picked[4];

    assert_int_equal(bt_buf_adds(b, "["), 0);
    for (unsigned i = 0; i < n; i++) {
        unsigned v;
        bool dup;

        do {
            v = rnd(limit);
            dup = false;
            for (unsigned k = 0; k < i; k++)
                dup |= picked[k] == v;
        } while (dup);
        picked[i] = v;
        assert_int_equal(bt_buf_printf(b, "%s%s%u", i ? ", " : "", prefix, v), 0);
    }
    assert_int_equal(bt_buf_adds(b, "]"), 0);
}

static char *random_motion(size_t n_plays, size_t *len)
{
    struct bt_buf b;
    int rc = 0;

    bt_buf_init(&b, 64u << 20);
    rc |= bt_buf_adds(&b, "format: 1\nname: random\nmax_assets_per_change: 2\nstages:\n");
    for (unsigned i = 0; i < N_OPEN; i++)
        rc |= bt_buf_printf(&b, "  - {id: s%u, label: Stage %u}\n", i, i);
    rc |= bt_buf_adds(&b, "  - {id: won, label: Won, outcome: won}\n"
                          "  - {id: lost, label: Lost, outcome: lost}\ncompetitors:\n");
    for (unsigned i = 0; i < N_COMPS; i++)
        rc |= bt_buf_printf(&b,
                            "  - {id: c%u, name: Competitor %u, aliases: [\"C%u Inc.\", "
                            "\"c%u corp\"]}\n",
                            i, i, i, i);
    rc |= bt_buf_adds(&b, "assets:\n");
    for (unsigned i = 0; i < N_ASSETS; i++)
        rc |= bt_buf_printf(&b,
                            "  - {id: a%u, kind: deck, title: Asset %u, "
                            "url: \"https://cms.example.com/a/%u\"}\n",
                            i, i, i);
    rc |= bt_buf_adds(&b, "plays:\n");
    for (size_t i = 0; i < n_plays; i++) {
        bool any = false;

        rc |= bt_buf_printf(&b, "  - id: p%zu\n", i);
        if (rnd(10) < 9) {
            rc |= bt_buf_adds(&b, "    when: {");
            if (rnd(10) < 8) {
                rc |= bt_buf_adds(&b, "stage: ");
                add_ids(&b, "s", 1 + rnd(3), N_OPEN);
                any = true;
            }
            if (rnd(2)) {
                rc |= bt_buf_adds(&b, any ? ", competitor: " : "competitor: ");
                add_ids(&b, "c", 1 + rnd(2), N_COMPS);
                any = true;
            }
            if (rnd(10) < 3) {
                rc |= bt_buf_printf(&b, "%sindustry: [\"%s\", %s]", any ? ", " : "",
                                    industries[rnd(5)], rnd(2) ? "retail" : "\" FINANCE \"");
                any = true;
            }
            if (rnd(10) < 3) {
                unsigned lo = rnd(100) * 1000, hi = lo + rnd(50) * 1000;

                rc |= bt_buf_adds(&b, any ? ", amount: " : "amount: ");
                if (rnd(3) == 0)
                    rc |= bt_buf_printf(&b, "{min: %u}", lo);
                else if (rnd(2))
                    rc |= bt_buf_printf(&b, "{max: %u}", hi);
                else
                    rc |= bt_buf_printf(&b, "{min: %u, max: %u}", lo, hi);
                any = true;
            }
            if (!any || rnd(10) < 2)
                rc |= bt_buf_printf(&b, "%sregion: %s", any ? ", " : "", regions[rnd(3)]);
            rc |= bt_buf_adds(&b, "}\n");
        }
        if (rnd(10) < 3)
            rc |= bt_buf_printf(&b, "    priority: %u\n", 1 + rnd(3));
        rc |= bt_buf_adds(&b, "    send: ");
        add_ids(&b, "a", 1 + rnd(3), N_ASSETS);
        rc |= bt_buf_adds(&b, "\n");
    }
    assert_int_equal(rc, 0);
    *len = b.len;
    return bt_buf_steal(&b);
}

static void random_deal(struct bt_fields *f, char *already[3], size_t *n_already)
{
    unsigned r = rnd(100);
    char tmp[64];

    bt_fields_free(f);
    if (r < 75) {
        snprintf(tmp, sizeof(tmp), "s%u", rnd(N_OPEN));
        bt_fields_set(f, "stage", tmp);
    } else if (r < 83) {
        bt_fields_set(f, "stage", rnd(2) ? "won" : "lost");
    } else if (r < 91) {
        bt_fields_set(f, "stage", "s-unknown");
    }
    r = rnd(100);
    if (r < 40)
        snprintf(tmp, sizeof(tmp), rnd(2) ? "c%u" : "C%u", rnd(N_COMPS));
    else if (r < 55)
        snprintf(tmp, sizeof(tmp), " competitor   %u ", rnd(N_COMPS));
    else if (r < 70)
        snprintf(tmp, sizeof(tmp), rnd(2) ? "C%u INC." : "c%u corp", rnd(N_COMPS));
    else if (r < 80)
        snprintf(tmp, sizeof(tmp), "Initech");
    else
        tmp[0] = '\0';
    if (tmp[0])
        bt_fields_set(f, "competitor", tmp);
    if (rnd(10) < 6)
        bt_fields_set(f, "industry", rnd(3) ? industries[rnd(5)] : " public   SECTOR");
    r = rnd(10);
    if (r < 5)
        snprintf(tmp, sizeof(tmp), "%u", rnd(150000));
    else if (r < 7)
        snprintf(tmp, sizeof(tmp), "%u.0", rnd(150) * 1000);
    else if (r < 8)
        snprintf(tmp, sizeof(tmp), "lots");
    else
        tmp[0] = '\0';
    if (tmp[0])
        bt_fields_set(f, "amount", tmp);
    if (rnd(2))
        bt_fields_set(f, "region", rnd(2) ? regions[rnd(3)] : "emea");
    *n_already = rnd(4);
    for (size_t i = 0; i < *n_already; i++)
        snprintf(already[i], 16, "a%u", rnd(N_ASSETS));
}

static void index_agrees_with_naive_scan(void **state)
{
    size_t len, n_matched = 0, n_picks = 0;
    char *text;
    struct bt_motion *m;
    struct bt_matcher *mt;
    struct bt_fields f;
    char bufs[3][16], *already[3] = {bufs[0], bufs[1], bufs[2]};

    (void)state;
    rng_state = 0x9e3779b97f4a7c15ULL;
    text = random_motion(10000, &len);
    m = parse_motion("random.yaml", text, len);
    assert_int_equal(bt_motion_n_plays(m), 10000);
    mt = new_matcher(m);
    bt_fields_init(&f);
    for (int i = 0; i < 2000; i++) {
        struct bt_match_result res, ref;
        size_t n_already;
        const char *diff;

        random_deal(&f, already, &n_already);
        assert_int_equal(bt_match(mt, &f, (const char *const *)already, n_already, &res), 0);
        naive_match(m, &f, (const char *const *)already, n_already, &ref);
        diff = result_diff(&res, &ref);
        if (*diff) {
            for (size_t k = 0; k < f.n; k++)
                print_error("  %s=%s\n", f.v[k].name, f.v[k].value ? f.v[k].value : "~");
            fail_msg("deal %d: index and naive scan disagree: %s", i, diff);
        }
        n_matched += res.n_matched;
        n_picks += res.n_picks;
        bt_match_result_free(&ref);
        bt_match_result_free(&res);
    }
    /* The random motion must actually exercise matching, not agree on nothing. */
    assert_true(n_matched > 2000);
    assert_true(n_picks > 1000);
    bt_fields_free(&f);
    bt_matcher_free(mt);
    bt_motion_unref(m);
    bt_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_cases),
        cmocka_unit_test(play_holds_names_the_failing_condition),
        cmocka_unit_test(bad_arguments_fail_cleanly),
        cmocka_unit_test(status_names_are_stable),
        cmocka_unit_test(index_agrees_with_naive_scan),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
