/* The motion definition: every file under tests/data/motion/bad/ must be
 * refused with exactly the problems its `# expect:` lines name (or its
 * sidecar FILE.expect, for JSON, which has no comments), every file under
 * good/ must load, and the example motion must load and make sense of the
 * vendor fixtures. */
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diag.h"
#include "mem.h"
#include "motion.h"

/* ---- helpers ---------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of DIR (under the source tree) ending in one of the suffixes,
 * sorted; NULL-terminated, new strings. */
static char **list_dir(const char *rel, size_t *n_out)
{
    char *dir = bt_test_source_path(rel);
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;
    size_t n = 0;

    if (!d)
        fail_msg("cannot open %s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        int yaml = len > 5 && !strcmp(e->d_name + len - 5, ".yaml");
        int json = len > 5 && !strcmp(e->d_name + len - 5, ".json");

        if (!yaml && !json)
            continue;
        v = bt_reallocarray(v, n + 2, sizeof(*v));
        v[n++] = bt_asprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    free(dir);
    if (n)
        qsort(v, n, sizeof(*v), cmp_str);
    v = bt_reallocarray(v, n + 1, sizeof(*v));
    v[n] = NULL;
    *n_out = n;
    return v;
}

static void free_list(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        bt_free(v[i]);
    bt_free(v);
}

/* The expectations of a bad file: "LINE:COL: PATH: message-substring". */
static char **read_expectations(const char *file, size_t *n_out)
{
    char *sidecar = bt_asprintf("%s.expect", file);
    FILE *f = fopen(sidecar, "r");
    const char *prefix = "expect: ";
    char line[1024];
    char **v = NULL;
    size_t n = 0;

    if (!f) {
        f = fopen(file, "r");
        prefix = "# expect: ";
    }
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);

        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!strncmp(line, prefix, strlen(prefix))) {
            v = bt_reallocarray(v, n + 2, sizeof(*v));
            v[n++] = bt_strdup(line + strlen(prefix));
        }
    }
    fclose(f);
    bt_free(sidecar);
    v = bt_reallocarray(v, n + 1, sizeof(*v));
    v[n] = NULL;
    *n_out = n;
    return v;
}

/* Whether diagnostic D (formatted without its file) answers expectation E:
 * the same "LINE:COL: " and the rest of E found in the rest of D. */
static int answers(const char *d, const char *e)
{
    const char *sp = strchr(e, ' ');
    size_t loc;

    if (!sp)
        return 0;
    loc = (size_t)(sp - e) + 1;
    return !strncmp(d, e, loc) && strstr(d + loc, e + loc) != NULL;
}

static char *format_no_file(const struct bt_diag *e)
{
    struct bt_diag copy = *e;

    copy.file = NULL;
    return bt_diag_format(&copy);
}

static struct bt_motion *load_ok(const char *rel)
{
    char *path = bt_test_source_path(rel);
    struct bt_motion *m = NULL;
    struct bt_diags d;

    bt_diags_init(&d);
    if (bt_motion_load(path, &m, &d) != 0) {
        bt_diags_print(&d, stderr);
        fail_msg("%s did not load", path);
    }
    assert_int_equal(d.n, 0);
    bt_diags_free(&d);
    free(path);
    return m;
}

static struct bt_motion *parse_ok(const char *text)
{
    struct bt_motion *m = NULL;
    struct bt_diags d;

    bt_diags_init(&d);
    if (bt_motion_parse("t.yaml", text, strlen(text), &m, &d) != 0) {
        bt_diags_print(&d, stderr);
        fail_msg("the motion did not parse");
    }
    bt_diags_free(&d);
    return m;
}

/* Every problem of TEXT, formatted without the file, one per line. */
static char *parse_problems(const char *text)
{
    struct bt_motion *m = NULL;
    struct bt_diags d;
    struct bt_buf b;

    bt_diags_init(&d);
    assert_int_equal(bt_motion_parse("t.yaml", text, strlen(text), &m, &d), BT_EINVAL);
    assert_null(m);
    bt_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < d.n; i++) {
        char *s = format_no_file(&d.v[i]);

        assert_int_equal(bt_buf_printf(&b, "%s\n", s), 0);
        bt_free(s);
    }
    bt_diags_free(&d);
    return bt_buf_steal(&b);
}

/* ---- data-driven ------------------------------------------------------ */

static void bad_files_report_every_expected_problem(void **state)
{
    size_t n_files;
    char **files = list_dir("tests/data/motion/bad", &n_files);
    int failures = 0;

    (void)state;
    assert_true(n_files >= 30);
    for (size_t i = 0; i < n_files; i++) {
        size_t n_exp;
        char **exp = read_expectations(files[i], &n_exp);
        struct bt_motion *m = NULL;
        struct bt_diags d;
        char *used;
        int rc;

        bt_diags_init(&d);
        rc = bt_motion_load(files[i], &m, &d);
        if (rc != BT_EINVAL || m) {
            print_error("%s: loaded (rc %d) but must not\n", files[i], rc);
            failures++;
        }
        if (!n_exp) {
            print_error("%s: has no expectations\n", files[i]);
            failures++;
        }
        used = bt_calloc(d.n + 1, 1);
        for (size_t j = 0; j < n_exp; j++) {
            size_t k;

            for (k = 0; k < d.n; k++) {
                char *s = format_no_file(&d.v[k]);
                int ok = !used[k] && answers(s, exp[j]);

                bt_free(s);
                if (ok)
                    break;
            }
            if (k < d.n) {
                used[k] = 1;
                continue;
            }
            print_error("%s: no diagnostic answers \"%s\"\n", files[i], exp[j]);
            failures++;
        }
        /* no noise: every problem reported is one the file expects */
        for (size_t k = 0; k < d.n; k++) {
            char *s;

            if (used[k])
                continue;
            s = bt_diag_format(&d.v[k]);
            print_error("unexpected: %s\n", s);
            bt_free(s);
            failures++;
        }
        /* sorted by position, each with the file name */
        for (size_t k = 0; k < d.n; k++) {
            assert_string_equal(d.v[k].file, files[i]);
            if (k && (d.v[k - 1].line > d.v[k].line ||
                      (d.v[k - 1].line == d.v[k].line && d.v[k - 1].col > d.v[k].col))) {
                print_error("%s: diagnostics out of order\n", files[i]);
                failures++;
            }
        }
        bt_free(used);
        free_list(exp);
        bt_diags_free(&d);
        bt_motion_unref(m);
    }
    free_list(files);
    assert_int_equal(failures, 0);
}

static void good_files_load(void **state)
{
    size_t n_files;
    char **files = list_dir("tests/data/motion/good", &n_files);

    (void)state;
    assert_true(n_files >= 3);
    for (size_t i = 0; i < n_files; i++) {
        struct bt_motion *m = NULL;
        struct bt_diags d;

        bt_diags_init(&d);
        if (bt_motion_load(files[i], &m, &d) != 0) {
            bt_diags_print(&d, stderr);
            fail_msg("%s did not load", files[i]);
        }
        assert_non_null(m);
        assert_int_equal(bt_motion_format(m), 1);
        bt_motion_unref(m);
        bt_diags_free(&d);
    }
    free_list(files);
}

/* ---- the example motion ----------------------------------------------- */

static void example_motion_is_complete(void **state)
{
    static const char *const hubspot_stages[] = {
        "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
        "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"};
    struct bt_motion *m = load_ok("config/motion.example.yaml");
    char *summary = bt_motion_summary(m);
    size_t kinds = 0;
    const char *seen[64];

    (void)state;
    assert_string_equal(summary, "Mid-market new business: 7 stages, 5 competitors, 12 assets, "
                                 "15 plays, 3 reps");
    bt_free(summary);
    assert_true(bt_motion_n_stages(m) >= 7);
    for (size_t i = 0; i < 7; i++) {
        const struct bt_stage *st = bt_motion_find_stage(m, hubspot_stages[i]);

        assert_non_null(st);
        assert_int_equal(st->index, i);
        assert_ptr_equal(bt_motion_stage(m, i), st);
        assert_non_null(st->label);
    }
    assert_int_equal(bt_motion_find_stage(m, "closedwon")->outcome, BT_OUTCOME_WON);
    assert_int_equal(bt_motion_find_stage(m, "closedlost")->outcome, BT_OUTCOME_LOST);
    assert_int_equal(bt_motion_find_stage(m, "contractsent")->outcome, BT_OUTCOME_OPEN);
    assert_string_equal(bt_motion_qualified_from(m)->id, "qualifiedtobuy");
    assert_int_equal(bt_motion_n_competitors(m), 5);
    assert_string_equal(bt_motion_find_competitor(m, "acme")->name, "Acme");
    assert_true(bt_motion_n_assets(m) >= 12);
    for (size_t i = 0; i < bt_motion_n_assets(m); i++) {
        const struct bt_asset *a = bt_motion_asset(m, i);
        size_t k;

        assert_int_equal(a->index, i);
        assert_int_equal(strncmp(a->url, "https://", 8), 0);
        assert_non_null(a->owner);
        for (k = 0; k < kinds && strcmp(seen[k], a->kind); k++)
            ;
        if (k == kinds)
            seen[kinds++] = a->kind;
    }
    assert_true(kinds >= 4);
    assert_true(bt_motion_n_plays(m) >= 15);
    assert_int_equal(bt_motion_n_reps(m), 3);
    assert_int_equal(bt_motion_max_assets(m), 1);
    /* every asset is sent by some play: no shelfware by construction */
    for (size_t i = 0; i < bt_motion_n_assets(m); i++) {
        const char *id = bt_motion_asset(m, i)->id;
        int sent = 0;

        for (size_t j = 0; j < bt_motion_n_plays(m) && !sent; j++)
            for (size_t k = 0; k < bt_motion_play(m, j)->n_send; k++)
                sent |= !strcmp(bt_motion_play(m, j)->send[k], id);
        if (!sent)
            fail_msg("asset %s is sent by no play", id);
    }
    bt_motion_unref(m);
}

/* The documented matching rule for one play, as a check on the example's
 * plays (the matcher proper is tested with the matcher). */
static int value_is(const char *have, const char *want)
{
    return strcasecmp(have, want) == 0;
}

static int play_holds(const struct bt_motion *m, const struct bt_play *p,
                      const struct bt_fields *deal)
{
    for (size_t i = 0; i < p->n_conds; i++) {
        const struct bt_cond *c = &p->conds[i];
        const char *v = bt_fields_get(deal, c->field);
        int ok = 0;

        if (!v)
            return 0;
        if (!strcmp(c->field, "competitor")) {
            const struct bt_competitor *comp = bt_motion_fold_competitor(m, v);

            v = comp ? comp->id : "";
        }
        if (c->op == BT_COND_RANGE) {
            char *end;
            double x = strtod(v, &end);

            ok = end != v && !*end && (!c->has_min || x >= c->min) && (!c->has_max || x <= c->max);
        }
        for (size_t j = 0; c->op == BT_COND_ANY_OF && j < c->n_values && !ok; j++)
            ok = !strcmp(c->field, "stage") ? !strcmp(v, c->values[j]) : value_is(v, c->values[j]);
        if (!ok)
            return 0;
    }
    return 1;
}

/* The most specific holding play, as the matcher ranks them. */
static const struct bt_play *best_play(const struct bt_motion *m, const struct bt_fields *deal)
{
    const struct bt_play *best = NULL;

    for (size_t i = 0; i < bt_motion_n_plays(m); i++) {
        const struct bt_play *p = bt_motion_play(m, i);

        if (!play_holds(m, p, deal))
            continue;
        if (!best || p->n_conds > best->n_conds ||
            (p->n_conds == best->n_conds && p->priority > best->priority))
            best = p;
    }
    return best;
}

/* Sets the Baton field that PROP of SRC maps to, through its values map. */
static void set_prop(const struct bt_motion *m, enum bt_source src, struct bt_fields *deal,
                     const char *prop, const char *value)
{
    const struct bt_field_map *fm = bt_motion_field_by_prop(m, src, prop);

    if (fm)
        bt_fields_set(deal, fm->field, bt_field_map_value(fm, value));
}

static char *json_text(json_t *v)
{
    if (json_is_string(v))
        return bt_strdup(json_string_value(v));
    if (json_is_integer(v))
        return bt_asprintf("%lld", (long long)json_integer_value(v));
    return NULL;
}

static json_t *load_fixture(const char *rel)
{
    size_t len;
    char *text = bt_test_read_fixture(rel, &len);
    json_t *j = json_loadb(text, len, 0, NULL);

    assert_non_null(j);
    bt_free(text);
    return j;
}

static void example_motion_fits_the_fixtures(void **state)
{
    struct bt_motion *m = load_ok("config/motion.example.yaml");
    struct bt_fields deal;
    const struct bt_play *p;
    json_t *j, *v;
    const char *key;
    char *s;

    (void)state;
    /* HubSpot: the deal object's properties, named as the CRM names them */
    bt_fields_init(&deal);
    j = load_fixture("hubspot/crm-deal-object.json");
    json_object_foreach(json_object_get(j, "properties"), key, v) {
        s = json_text(v);
        if (s)
            set_prop(m, BT_SRC_HUBSPOT, &deal, key, s);
        bt_free(s);
    }
    json_decref(j);
    assert_string_equal(bt_fields_get(&deal, "stage"), "contractsent");
    assert_string_equal(bt_motion_fold_competitor(m, bt_fields_get(&deal, "competitor"))->id,
                        "acme");
    assert_string_equal(
        bt_motion_rep_for_owner(m, BT_SRC_HUBSPOT, bt_fields_get(&deal, "owner"))->id, "dana");
    p = best_play(m, &deal);
    assert_non_null(p);
    assert_string_equal(p->id, "acme-late");
    bt_fields_free(&deal);

    /* Pipedrive v2: stage and option ids through the values maps */
    bt_fields_init(&deal);
    j = load_fixture("pipedrive/v2-change-deal.json");
    json_object_foreach(json_object_get(j, "data"), key, v) {
        s = json_text(v);
        if (s)
            set_prop(m, BT_SRC_PIPEDRIVE, &deal, key, s);
        bt_free(s);
    }
    json_object_foreach(json_object_get(json_object_get(j, "data"), "custom_fields"), key, v) {
        s = json_text(json_object_get(v, json_object_get(v, "id") ? "id" : "value"));
        if (s)
            set_prop(m, BT_SRC_PIPEDRIVE, &deal, key, s);
        bt_free(s);
    }
    json_decref(j);
    assert_string_equal(bt_fields_get(&deal, "stage"), "presentationscheduled");
    assert_string_equal(bt_fields_get(&deal, "competitor"), "acme");
    assert_string_equal(bt_fields_get(&deal, "industry"), "Healthcare");
    assert_string_equal(
        bt_motion_rep_for_owner(m, BT_SRC_PIPEDRIVE, bt_fields_get(&deal, "owner"))->id, "dana");
    p = best_play(m, &deal);
    assert_non_null(p);
    assert_string_equal(p->id, "acme-healthcare-demo");
    assert_string_equal(p->send[0], "cs-mercy-health");
    bt_fields_free(&deal);

    /* Salesforce: the outbound message's sObject fields */
    bt_fields_init(&deal);
    set_prop(m, BT_SRC_SALESFORCE, &deal, "StageName", "Proposal/Price Quote");
    set_prop(m, BT_SRC_SALESFORCE, &deal, "Main_Competitor__c", "Acme");
    set_prop(m, BT_SRC_SALESFORCE, &deal, "OwnerId", "0055g00000Qwert1AAA");
    s = bt_test_read_fixture("salesforce/outbound-message.xml", NULL);
    assert_non_null(strstr(s, "<sf:StageName>Proposal/Price Quote</sf:StageName>"));
    assert_non_null(strstr(s, "<sf:Main_Competitor__c>Acme</sf:Main_Competitor__c>"));
    assert_non_null(strstr(s, "<sf:OwnerId>0055g00000Qwert1AAA</sf:OwnerId>"));
    bt_free(s);
    assert_string_equal(bt_fields_get(&deal, "stage"), "presentationscheduled");
    assert_string_equal(
        bt_motion_rep_for_owner(m, BT_SRC_SALESFORCE, bt_fields_get(&deal, "owner"))->id,
        "dana");
    p = best_play(m, &deal);
    assert_non_null(p);
    assert_string_equal(p->id, "acme-at-demo");
    bt_fields_free(&deal);

    /* generic: Baton's own field names; amount 48000 */
    bt_fields_init(&deal);
    j = load_fixture("standard-webhooks/deal-changed.json");
    json_object_foreach(json_object_get(j, "data"), key, v) {
        s = json_text(v);
        if (s)
            bt_fields_set(&deal, key, s);
        bt_free(s);
    }
    json_object_foreach(json_object_get(json_object_get(j, "data"), "fields"), key, v) {
        s = json_text(v);
        if (s)
            bt_fields_set(&deal, key, s);
        bt_free(s);
    }
    json_decref(j);
    assert_string_equal(
        bt_motion_rep_for_owner(m, BT_SRC_GENERIC, bt_fields_get(&deal, "owner"))->id, "dana");
    p = best_play(m, &deal);
    assert_non_null(p);
    assert_string_equal(p->id, "acme-healthcare-demo");
    bt_fields_free(&deal);
    bt_motion_unref(m);
}

/* ---- accessors -------------------------------------------------------- */

static void plays_hold_what_the_file_says(void **state)
{
    struct bt_motion *m = load_ok("config/motion.example.yaml");
    const struct bt_play *p = bt_motion_find_play(m, "acme-healthcare-demo");
    const struct bt_play *r = bt_motion_find_play(m, "midmarket-pricing");
    const struct bt_play *e = bt_motion_find_play(m, "enterprise-pricing");

    (void)state;
    assert_non_null(p);
    assert_ptr_equal(bt_motion_play(m, p->index), p);
    assert_int_equal(p->n_conds, 3);
    assert_string_equal(p->conds[0].field, "stage");
    assert_int_equal(p->conds[0].op, BT_COND_ANY_OF);
    assert_int_equal(p->conds[0].n_values, 1);
    assert_string_equal(p->conds[0].values[0], "presentationscheduled");
    assert_string_equal(p->conds[1].field, "competitor");
    assert_string_equal(p->conds[1].values[0], "acme");
    assert_string_equal(p->conds[2].field, "industry");
    assert_string_equal(p->conds[2].values[0], "Healthcare");
    assert_int_equal(p->priority, 10);
    assert_int_equal(p->n_send, 2);
    assert_true(p->line > 0);
    assert_int_equal(r->conds[1].op, BT_COND_RANGE);
    assert_true(r->conds[1].has_min && r->conds[1].has_max);
    assert_true(r->conds[1].min == 20000 && r->conds[1].max == 99999);
    assert_true(e->conds[1].has_min && !e->conds[1].has_max);
    assert_int_equal(bt_motion_find_play(m, "demo-deck")->priority, 0);
    assert_null(bt_motion_find_play(m, "nope"));
    assert_null(bt_motion_find_play(m, NULL));
    assert_null(bt_motion_play(m, 999));
    assert_null(bt_motion_find_asset(m, "bc-acmee"));
    assert_string_equal(bt_motion_find_asset(m, "bc-acme")->kind, "battlecard");
    assert_null(bt_motion_stage(m, 7));
    assert_null(bt_motion_find_stage(m, "ClosedWon")); /* stage ids are exact */
    bt_motion_unref(m);
}

static void competitors_fold_through_ids_names_and_aliases(void **state)
{
    struct bt_motion *m = load_ok("config/motion.example.yaml");
    static const char *const acme[] = {"acme", "Acme", "ACME", "ACME Inc.", "acme inc.",
                                       "acme corp", "  ACME   Corp ", "acme\tcorp",
                                       "Acme Software"};

    (void)state;
    for (size_t i = 0; i < sizeof(acme) / sizeof(acme[0]); i++) {
        const struct bt_competitor *c = bt_motion_fold_competitor(m, acme[i]);

        if (!c)
            fail_msg("\"%s\" does not fold to acme", acme[i]);
        assert_string_equal(c->id, "acme");
    }
    assert_string_equal(bt_motion_fold_competitor(m, "vandelay ind.")->id, "vandelay");
    assert_string_equal(bt_motion_fold_competitor(m, "Build In-House")->id, "inhouse");
    assert_null(bt_motion_fold_competitor(m, "acme inc")); /* punctuation counts */
    assert_null(bt_motion_fold_competitor(m, "acmecorp"));
    assert_null(bt_motion_fold_competitor(m, ""));
    assert_null(bt_motion_fold_competitor(m, "   "));
    assert_null(bt_motion_fold_competitor(m, NULL));
    assert_int_equal(bt_motion_find_competitor(m, "acme")->n_aliases, 4);
    assert_null(bt_motion_find_competitor(m, "Acme")); /* find is by exact id */
    bt_motion_unref(m);
}

static void field_maps_translate_crm_values(void **state)
{
    struct bt_motion *m = load_ok("config/motion.example.yaml");
    const struct bt_field_map *fm;

    (void)state;
    fm = bt_motion_field_by_prop(m, BT_SRC_HUBSPOT, "dealstage");
    assert_non_null(fm);
    assert_string_equal(fm->field, "stage");
    assert_int_equal(fm->n_values, 0);
    assert_string_equal(bt_field_map_value(fm, "contractsent"), "contractsent");
    assert_string_equal(bt_motion_field_by_name(m, BT_SRC_HUBSPOT, "owner")->prop,
                        "hubspot_owner_id");
    assert_ptr_equal(bt_motion_field_map(m, BT_SRC_HUBSPOT, 0), fm);
    assert_null(bt_motion_field_by_prop(m, BT_SRC_HUBSPOT, "hs_object_id"));

    fm = bt_motion_field_by_name(m, BT_SRC_PIPEDRIVE, "stage");
    assert_string_equal(fm->prop, "stage_id");
    assert_int_equal(fm->n_values, 5);
    assert_string_equal(bt_field_map_value(fm, "3"), "presentationscheduled");
    assert_string_equal(bt_field_map_value(fm, "99"), "99");
    assert_null(bt_field_map_value(fm, NULL));
    fm = bt_motion_field_by_prop(m, BT_SRC_PIPEDRIVE, "3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3");
    assert_string_equal(fm->field, "competitor");
    assert_string_equal(bt_field_map_value(fm, "17"), "acme");

    fm = bt_motion_field_by_name(m, BT_SRC_SALESFORCE, "stage");
    assert_string_equal(bt_field_map_value(fm, "Proposal/Price Quote"), "presentationscheduled");
    assert_string_equal(bt_field_map_value(fm, "Closed Won"), "closedwon");
    assert_string_equal(bt_motion_field_by_name(m, BT_SRC_SALESFORCE, "competitor")->prop,
                        "Main_Competitor__c");

    assert_int_equal(bt_motion_n_field_maps(m, BT_SRC_GENERIC), 0);
    assert_null(bt_motion_field_map(m, BT_SRC_GENERIC, 0));
    assert_null(bt_motion_field_by_name(m, BT_SRC_GENERIC, "stage"));
    assert_string_equal(bt_field_map_value(NULL, "x"), "x");
    bt_motion_unref(m);
}

static void routing_finds_reps_by_owner(void **state)
{
    struct bt_motion *m = load_ok("config/motion.example.yaml");
    const struct bt_rep *dana = bt_motion_find_rep(m, "dana");
    const struct bt_route *def = bt_motion_default_route(m);

    (void)state;
    assert_non_null(dana);
    assert_string_equal(dana->name, "Dana Reyes");
    assert_string_equal(dana->route.channel, "slack");
    assert_string_equal(dana->route.to, "U024BE7LH");
    assert_string_equal(dana->crm[BT_SRC_SALESFORCE], "0055g00000Qwert1AAA");
    assert_ptr_equal(bt_motion_rep_for_owner(m, BT_SRC_HUBSPOT, "882761034"), dana);
    assert_ptr_equal(bt_motion_rep_for_owner(m, BT_SRC_PIPEDRIVE, "12415231"), dana);
    assert_ptr_equal(bt_motion_rep_for_owner(m, BT_SRC_SALESFORCE, "0055g00000Qwert1AAA"), dana);
    assert_ptr_equal(bt_motion_rep_for_owner(m, BT_SRC_GENERIC, "u-77"), dana);
    /* an owner id belongs to one CRM */
    assert_null(bt_motion_rep_for_owner(m, BT_SRC_HUBSPOT, "12415231"));
    assert_null(bt_motion_rep_for_owner(m, BT_SRC_HUBSPOT, NULL));
    assert_string_equal(bt_motion_find_rep(m, "lukas")->route.channel, "teams");
    assert_string_equal(bt_motion_find_rep(m, "lukas")->route.to, "emea-deals");
    assert_null(bt_motion_find_rep(m, "lukas")->crm[BT_SRC_GENERIC]);
    assert_string_equal(bt_motion_find_rep(m, "priya")->route.channel, "webhook");
    assert_non_null(def);
    assert_string_equal(def->channel, "slack");
    assert_string_equal(def->to, "C0DEALDESK");
    assert_ptr_equal(bt_motion_rep(m, 0), dana);
    assert_null(bt_motion_rep(m, 3));
    bt_motion_unref(m);
}

static void condition_fields_list_other_fields_once(void **state)
{
    struct bt_motion *m = load_ok("config/motion.example.yaml");
    const char *const *f = bt_motion_condition_fields(m);
    int industry = 0, amount = 0;
    size_t n = 0;

    (void)state;
    for (; f[n]; n++) {
        assert_string_not_equal(f[n], "stage");
        assert_string_not_equal(f[n], "competitor");
        industry += !strcmp(f[n], "industry");
        amount += !strcmp(f[n], "amount");
    }
    assert_int_equal(n, 2);
    assert_int_equal(industry, 1);
    assert_int_equal(amount, 1);
    bt_motion_unref(m);
}

static void defaults_apply(void **state)
{
    struct bt_motion *m = parse_ok("format: 1\nname: d\nstages:\n  - id: a\n"
                                   "  - {id: w, outcome: won}\n  - {id: l, outcome: lost}\n"
                                   "competitors: [{id: acme}]\n"
                                   "assets: [{id: x, kind: deck, title: X, "
                                   "url: 'https://h.example/x'}]\n"
                                   "plays: [{id: p, send: x}]\n"
                                   "routing: {reps: [{id: r, crm: {hubspot: 1}, channel: panel, "
                                   "to: r}]}\n");
    char *s;

    (void)state;
    assert_int_equal(bt_motion_max_assets(m), 1);
    assert_null(bt_motion_qualified_from(m));
    assert_null(bt_motion_default_route(m));
    assert_string_equal(bt_motion_find_stage(m, "a")->label, "a");
    assert_string_equal(bt_motion_find_competitor(m, "acme")->name, "acme");
    assert_int_equal(bt_motion_find_competitor(m, "acme")->n_aliases, 0);
    assert_null(bt_motion_find_asset(m, "x")->owner);
    assert_int_equal(bt_motion_find_play(m, "p")->priority, 0);
    assert_int_equal(bt_motion_find_play(m, "p")->n_conds, 0);
    assert_int_equal(bt_motion_find_play(m, "p")->n_send, 1);
    assert_string_equal(bt_motion_find_rep(m, "r")->name, "r");
    assert_null(bt_motion_condition_fields(m)[0]);
    s = bt_motion_summary(m);
    assert_string_equal(s, "d: 3 stages, 1 competitor, 1 asset, 1 play, 1 rep");
    bt_free(s);
    bt_motion_unref(m);
}

static void json_input_loads(void **state)
{
    struct bt_motion *m = load_ok("tests/data/motion/good/minimal.json");
    const struct bt_play *p;

    (void)state;
    assert_string_equal(bt_motion_name(m), "JSON motion");
    assert_int_equal(bt_motion_max_assets(m), 2);
    p = bt_motion_find_play(m, "acme-demo");
    assert_non_null(p);
    assert_string_equal(p->conds[1].values[0], "acme"); /* the alias, stored as the id */
    assert_true(p->conds[2].has_min && p->conds[2].min == 1000);
    assert_int_equal(p->priority, 3);
    assert_string_equal(bt_motion_default_route(m)->channel, "panel");
    bt_motion_unref(m);
}

static void shorthands_expand(void **state)
{
    struct bt_motion *m = load_ok("tests/data/motion/good/shorthand.yaml");
    const struct bt_play *p = bt_motion_find_play(m, "big-globex");

    (void)state;
    assert_int_equal(bt_motion_max_assets(m), 3);
    assert_string_equal(bt_motion_qualified_from(m)->id, "demo");
    assert_int_equal(bt_motion_find_competitor(m, "acme")->n_aliases, 1);
    assert_string_equal(bt_motion_fold_competitor(m, "acme INC.")->id, "acme");
    assert_int_equal(p->conds[0].n_values, 2);
    assert_string_equal(p->conds[0].values[0], "globex");
    assert_string_equal(p->conds[0].values[1], "acme");
    assert_true(!p->conds[1].has_min && p->conds[1].has_max && p->conds[1].max == 1e6);
    assert_int_equal(p->conds[2].n_values, 2);
    assert_int_equal(p->n_send, 2); /* the anchored list */
    assert_int_equal(p->priority, -1);
    assert_int_equal(bt_motion_find_play(m, "anything")->n_send, 1);
    assert_string_equal(bt_motion_find_play(m, "anything")->send[0], "deck");
    assert_int_equal(bt_motion_n_field_maps(m, BT_SRC_GENERIC), 0);
    assert_int_equal(bt_motion_n_field_maps(m, BT_SRC_HUBSPOT), 1);
    bt_motion_unref(m);
}

/* ---- lifetime --------------------------------------------------------- */

static void motion_keeps_its_source_and_is_refcounted(void **state)
{
    char *path = bt_test_source_path("config/motion.example.yaml");
    size_t flen, mlen;
    char *bytes = bt_test_read_file(path, &flen);
    struct bt_motion *m = load_ok("config/motion.example.yaml");
    struct bt_motion *again;
    const struct bt_asset *a;
    const char *src;

    (void)state;
    src = bt_motion_source(m, &mlen);
    assert_int_equal(mlen, flen);
    assert_memory_equal(src, bytes, flen);
    again = bt_motion_ref(m);
    assert_ptr_equal(again, m);
    bt_motion_ref(m);
    a = bt_motion_find_asset(m, "bc-acme");
    bt_motion_unref(m);
    bt_motion_unref(m);
    /* one reference left: what it handed out is still valid */
    assert_string_equal(a->url, "https://cms.example.com/battlecards/acme");
    bt_motion_unref(again);
    bt_motion_unref(NULL);
    assert_null(bt_motion_ref(NULL));
    bt_free(bytes);
    free(path);
}

/* ---- diagnostics ------------------------------------------------------ */

static void every_error_comes_back_sorted(void **state)
{
    const char *text = "plays:\n"
                       "  - {id: p, send: [nope]}\n"
                       "assets:\n"
                       "  - {id: a, kind: deck, title: A, url: relative/a}\n"
                       "stages:\n"
                       "  - {id: s}\n"
                       "format: 2\n";
    struct bt_motion *m = NULL;
    struct bt_diags d;

    (void)state;
    bt_diags_init(&d);
    bt_diags_add(&d, "earlier", 99, 1, NULL, "a problem the caller already had");
    assert_int_equal(bt_motion_parse("t.yaml", text, strlen(text), &m, &d), BT_EINVAL);
    assert_null(m);
    /* the caller's entry stays first; ours follow, in file order */
    assert_string_equal(d.v[0].file, "earlier");
    assert_true(d.n >= 7);
    for (size_t i = 2; i < d.n; i++)
        assert_true(d.v[i - 1].line < d.v[i].line ||
                    (d.v[i - 1].line == d.v[i].line && d.v[i - 1].col <= d.v[i].col));
    bt_diags_free(&d);
}

static void problems_have_lines_paths_and_hints(void **state)
{
    char *s = parse_problems("format: 1\nname: n\n"
                             "stages: [{id: s}, {id: w, outcome: won}, {id: l, outcome: lost}]\n"
                             "assets:\n"
                             "  - {id: bc-acme, kind: k, title: t, url: 'https://e.example/'}\n"
                             "plays:\n"
                             "  - {id: a, send: bc-acme}\n"
                             "  - {id: b, send: bc-acme}\n"
                             "  - {id: c, send: bc-acme}\n"
                             "  - {id: d, send: [bc-acmee]}\n");

    (void)state;
    assert_string_equal(s, "10:20: plays[3].send[0]: unknown asset \"bc-acmee\" — did you mean "
                           "\"bc-acme\"?\n");
    bt_free(s);
}

static void secrets_are_not_echoed(void **state)
{
    char *s = parse_problems("format: 1\nname: n\n"
                             "stages: [{id: s}, {id: w, outcome: won}, {id: l, outcome: lost}]\n"
                             "assets: [{id: a, kind: k, title: t, "
                             "url: 'https://u:hunter2@e.example/'}]\n"
                             "routing:\n"
                             "  default: {channel: teams,\n"
                             "            to: 'https://x.example/w?sig=hunter2'}\n");

    (void)state;
    assert_null(strstr(s, "hunter2"));
    assert_non_null(strstr(s, "channels.teams.targets"));
    assert_non_null(strstr(s, "user name or password"));
    bt_free(s);
}

static void long_and_control_text_is_quoted_safely(void **state)
{
    struct bt_buf b;
    char *s;

    (void)state;
    bt_buf_init(&b, 1 << 20);
    assert_int_equal(bt_buf_adds(&b, "format: 1\nname: n\nstages: [{id: s}, "
                                     "{id: w, outcome: won}, {id: l, outcome: lost}]\n"
                                     "qualified_from: \"x\\ny"),
                     0);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(bt_buf_adds(&b, "z"), 0);
    assert_int_equal(bt_buf_adds(&b, "\"\n"), 0);
    s = parse_problems(b.data);
    assert_non_null(strstr(s, "unknown stage \"x?yzzz"));
    assert_non_null(strstr(s, "...\""));
    assert_true(strlen(s) < 300);
    assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1); /* one problem, one line */
    bt_free(s);
    bt_buf_free(&b);
}

static void alias_bombs_are_refused(void **state)
{
    const char *text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
    char *s = parse_problems(text);

    (void)state;
    assert_non_null(strstr(s, "too large"));
    bt_free(s);
}

static void unreadable_file_is_an_io_error(void **state)
{
    struct bt_motion *m = NULL;
    struct bt_diags d;

    (void)state;
    bt_diags_init(&d);
    assert_int_equal(bt_motion_load("/nonexistent/motion.yaml", &m, &d), BT_EIO);
    assert_null(m);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.v[0].msg, "cannot open"));
    bt_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_files_report_every_expected_problem),
        cmocka_unit_test(good_files_load),
        cmocka_unit_test(example_motion_is_complete),
        cmocka_unit_test(example_motion_fits_the_fixtures),
        cmocka_unit_test(plays_hold_what_the_file_says),
        cmocka_unit_test(competitors_fold_through_ids_names_and_aliases),
        cmocka_unit_test(field_maps_translate_crm_values),
        cmocka_unit_test(routing_finds_reps_by_owner),
        cmocka_unit_test(condition_fields_list_other_fields_once),
        cmocka_unit_test(defaults_apply),
        cmocka_unit_test(json_input_loads),
        cmocka_unit_test(shorthands_expand),
        cmocka_unit_test(motion_keeps_its_source_and_is_refcounted),
        cmocka_unit_test(every_error_comes_back_sorted),
        cmocka_unit_test(problems_have_lines_paths_and_hints),
        cmocka_unit_test(secrets_are_not_echoed),
        cmocka_unit_test(long_and_control_text_is_quoted_safely),
        cmocka_unit_test(alias_bombs_are_refused),
        cmocka_unit_test(unreadable_file_is_an_io_error),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
