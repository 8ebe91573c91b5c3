/* bench_match — the indexed matcher against a naive scan of every play.
 *
 * Builds random motions of 100, 1,000 and 10,000 plays, matches the same
 * random deals with bt_match and with a scan that evaluates every play with
 * bt_play_holds (then ranks and picks the same way), and prints ns per match
 * for both and their ratio. Both are measured in the same run on the same
 * deals, so the ratio holds even on a noisy machine; nothing here passes or
 * fails on time. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "match.h"
#include "mem.h"
#include "motion.h"

enum { N_OPEN = 8, N_COMPS = 20, N_ASSETS = 300, N_DEALS = 2000 };

static const char *const industries[] = {"Healthcare", "Retail", "Finance", "Energy",
                                         "Public Sector"};
static const char *const regions[] = {"EMEA", "AMER", "APAC"};

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;
static volatile size_t bench_sink;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)(((rng_state * 2685821657736338717ULL) >> 33) % n);
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_match: %s: %s\n", what, bt_strerror(rc));
        exit(1);
    }
}

static void add_ids(struct bt_buf *b, const char *prefix, unsigned n, unsigned limit)
{
    unsigned picked[4];

    check(bt_buf_adds(b, "["), "buffer");
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
        check(bt_buf_printf(b, "%s%s%u", i ? ", " : "", prefix, v), "buffer");
    }
    check(bt_buf_adds(b, "]"), "buffer");
}

/* How often a play names each condition, in percent. A large real motion
 * is "specific": nearly every play is for a stage and a competitor (that is
 * how a motion grows to thousands of plays). "loose" is a worst case for
 * the index: a fifth of the plays name no stage and half no competitor, so
 * hundreds of plays match every deal and all of them must be listed. */
struct shape {
    const char *name;
    unsigned stage, competitor, industry, amount, region;
};

static const struct shape shapes[] = {
    {"specific", 97, 90, 40, 30, 30},
    {"loose", 80, 50, 30, 30, 20},
};

static char *random_motion(const struct shape *sh, size_t n_plays, size_t *len)
{
    struct bt_buf b;
    int rc = 0;

    bt_buf_init(&b, 64u << 20);
    rc |= bt_buf_adds(&b, "format: 1\nname: bench\nmax_assets_per_change: 2\nstages:\n");
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

        rc |= bt_buf_printf(&b, "  - id: p%zu\n    when: {", i);
        if (rnd(100) < sh->stage) {
            rc |= bt_buf_adds(&b, "stage: ");
            add_ids(&b, "s", 1 + rnd(2), N_OPEN);
            any = true;
        }
        if (rnd(100) < sh->competitor) {
            rc |= bt_buf_adds(&b, any ? ", competitor: " : "competitor: ");
            add_ids(&b, "c", 1 + rnd(2), N_COMPS);
            any = true;
        }
        if (rnd(100) < sh->industry) {
            rc |= bt_buf_printf(&b, "%sindustry: [\"%s\"]", any ? ", " : "", industries[rnd(5)]);
            any = true;
        }
        if (rnd(100) < sh->amount) {
            unsigned lo = rnd(100) * 1000;

            rc |= bt_buf_printf(&b, "%samount: {min: %u, max: %u}", any ? ", " : "", lo,
                                lo + rnd(50) * 1000);
            any = true;
        }
        if (!any || rnd(100) < sh->region)
            rc |= bt_buf_printf(&b, "%sregion: %s", any ? ", " : "", regions[rnd(3)]);
        rc |= bt_buf_adds(&b, "}\n");
        if (rnd(10) < 3)
            rc |= bt_buf_printf(&b, "    priority: %u\n", 1 + rnd(3));
        rc |= bt_buf_adds(&b, "    send: ");
        add_ids(&b, "a", 1 + rnd(3), N_ASSETS);
        rc |= bt_buf_adds(&b, "\n");
    }
    check(rc, "building the motion");
    *len = b.len;
    return bt_buf_steal(&b);
}

struct deal {
    struct bt_fields f;
    char already[2][16];
    const char *already_v[2];
    size_t n_already;
};

static void random_deal(struct deal *d)
{
    char tmp[32];
    unsigned r = rnd(100);

    bt_fields_init(&d->f);
    if (r < 92)
        snprintf(tmp, sizeof(tmp), "s%u", rnd(N_OPEN));
    else
        snprintf(tmp, sizeof(tmp), "won");
    bt_fields_set(&d->f, "stage", tmp);
    r = rnd(100);
    if (r < 40)
        snprintf(tmp, sizeof(tmp), "c%u", rnd(N_COMPS));
    else if (r < 60)
        snprintf(tmp, sizeof(tmp), "C%u Inc.", rnd(N_COMPS));
    else if (r < 70)
        snprintf(tmp, sizeof(tmp), "Initech");
    else
        tmp[0] = '\0';
    if (tmp[0])
        bt_fields_set(&d->f, "competitor", tmp);
    if (rnd(10) < 7)
        bt_fields_set(&d->f, "industry", industries[rnd(5)]);
    snprintf(tmp, sizeof(tmp), "%u", rnd(150000));
    bt_fields_set(&d->f, "amount", tmp);
    bt_fields_set(&d->f, "region", regions[rnd(3)]);
    d->n_already = rnd(3);
    for (size_t i = 0; i < d->n_already; i++) {
        snprintf(d->already[i], sizeof(d->already[i]), "a%u", rnd(N_ASSETS));
        d->already_v[i] = d->already[i];
    }
}

static int cmp_rank(const void *a, const void *b)
{
    return bt_play_rank_cmp(*(const struct bt_play *const *)a, *(const struct bt_play *const *)b);
}

/* The rules as written, over every play; returns the number of picks. */
static size_t naive_match(const struct bt_motion *m, const struct deal *d,
                          const struct bt_play **matched, const struct bt_asset **picks)
{
    const char *stage = bt_fields_get(&d->f, "stage");
    const struct bt_stage *st = stage ? bt_motion_find_stage(m, stage) : NULL;
    size_t np = bt_motion_n_plays(m), n_matched = 0, n_picks = 0;
    size_t max = (size_t)bt_motion_max_assets(m);

    if (!stage || (st && st->outcome != BT_OUTCOME_OPEN))
        return 0;
    for (size_t i = 0; i < np; i++)
        if (bt_play_holds(m, bt_motion_play(m, i), &d->f, NULL))
            matched[n_matched++] = bt_motion_play(m, i);
    qsort(matched, n_matched, sizeof(*matched), cmp_rank);
    for (size_t i = 0; i < n_matched && n_picks < max; i++) {
        for (size_t k = 0; k < matched[i]->n_send && n_picks < max; k++) {
            const struct bt_asset *a = bt_motion_find_asset(m, matched[i]->send[k]);
            bool skip = false;

            for (size_t j = 0; j < d->n_already; j++)
                skip |= !strcmp(d->already[j], a->id);
            for (size_t j = 0; j < n_picks; j++)
                skip |= picks[j] == a;
            if (!skip)
                picks[n_picks++] = a;
        }
    }
    return n_picks;
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void bench(const struct shape *sh, size_t n_plays, struct deal *deals)
{
    size_t len, sink = 0, matched_total = 0;
    char *text = random_motion(sh, n_plays, &len);
    struct bt_motion *m = NULL;
    struct bt_matcher *mt = NULL;
    struct bt_diags d;
    const struct bt_play **matched;
    const struct bt_asset **picks;
    /* Enough work to time well, without the naive scan of 10,000 plays
     * taking minutes. */
    size_t n_fast = n_plays >= 10000 ? 50000 : 200000;
    size_t n_slow = n_plays >= 10000 ? 500 : 2000000 / n_plays;
    double t0, t_build, t_fast, t_slow;

    bt_diags_init(&d);
    if (bt_motion_parse("bench.yaml", text, len, &m, &d) != 0) {
        bt_diags_print(&d, stderr);
        exit(1);
    }
    t0 = now_ns();
    check(bt_matcher_new(m, &mt), "bt_matcher_new");
    t_build = now_ns() - t0;
    matched = bt_calloc(n_plays + 1, sizeof(*matched));
    picks = bt_calloc((size_t)bt_motion_max_assets(m) + 1, sizeof(*picks));

    t0 = now_ns();
    for (size_t i = 0; i < n_fast; i++) {
        const struct deal *dl = &deals[i % N_DEALS];
        struct bt_match_result r;

        check(bt_match(mt, &dl->f, dl->already_v, dl->n_already, &r), "bt_match");
        sink += r.n_picks;
        if (i < N_DEALS)
            matched_total += r.n_matched;
        bt_match_result_free(&r);
    }
    t_fast = (now_ns() - t0) / (double)n_fast;

    t0 = now_ns();
    for (size_t i = 0; i < n_slow; i++)
        sink += naive_match(m, &deals[i % N_DEALS], matched, picks);
    t_slow = (now_ns() - t0) / (double)n_slow;

    printf("%-8s %6zu plays %9.0f ns/match indexed %10.0f ns/match naive %7.1fx  "
           "(%.1f plays match a deal; index built in %.2f ms)\n",
           sh->name, n_plays, t_fast, t_slow, t_slow / t_fast, (double)matched_total / N_DEALS,
           t_build / 1e6);
    bench_sink = sink; /* keeps the work from being optimized away */
    bt_free(matched);
    bt_free(picks);
    bt_matcher_free(mt);
    bt_motion_unref(m);
    bt_diags_free(&d);
    bt_free(text);
}

int main(void)
{
    static const size_t sizes[] = {100, 1000, 10000};
    struct deal *deals;

    bt_mem_init();
    deals = bt_calloc(N_DEALS, sizeof(*deals));
    for (size_t i = 0; i < N_DEALS; i++)
        random_deal(&deals[i]);
    printf("bench_match: %d random deals, 8 open stages, %d competitors; "
           "naive = bt_play_holds on every play, then rank and pick\n",
           N_DEALS, N_COMPS);
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            bench(&shapes[k], sizes[i], deals);
    for (size_t i = 0; i < N_DEALS; i++)
        bt_fields_free(&deals[i].f);
    bt_free(deals);
    return 0;
}
