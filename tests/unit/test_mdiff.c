/* mdiff: what changes between two motions. Each test builds two motions
 * that differ in one section from a small default, and checks the entries;
 * the last compares tests/data/versions/base.yaml and modified.yaml against
 * the printed diff kept next to them. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdiff.h"
#include "mem.h"
#include "motion.h"

/* The sections of a motion file; NULL takes the default below. */
struct sections {
    const char *head, *stages, *competitors, *assets, *plays, *fields, *routing;
};

static const struct sections defaults = {
    "format: 1\nname: Unit\n",
    "stages:\n"
    "  - {id: discovery, label: Discovery}\n"
    "  - {id: demo, label: Demo}\n"
    "  - {id: won, label: Won, outcome: won}\n"
    "  - {id: lost, label: Lost, outcome: lost}\n",
    "competitors:\n"
    "  - {id: acme, name: Acme, aliases: [\"ACME Inc.\", \"acme corp\"]}\n",
    "assets:\n"
    "  - {id: a1, kind: battlecard, title: One, url: https://x/a1}\n"
    "  - {id: a2, kind: deck, title: Two, url: https://x/a2, owner: pmm@x}\n",
    "plays:\n"
    "  - {id: p1, when: {stage: [discovery, demo], competitor: acme}, send: [a1, a2]}\n"
    "  - {id: p2, when: {amount: {min: 10, max: 100}}, send: [a2]}\n",
    "fields:\n"
    "  hubspot:\n"
    "    stage: dealstage\n"
    "  pipedrive:\n"
    "    stage: {field: stage_id, values: {\"1\": discovery, \"2\": demo}}\n",
    "routing:\n"
    "  default: {channel: slack, to: C0DESK}\n"
    "  reps:\n"
    "    - {id: dana, name: Dana, crm: {hubspot: \"111\"}, channel: slack, to: U1}\n",
};

static struct bt_motion *build(const struct sections *s)
{
    const char *parts[7] = {
        s->head ? s->head : defaults.head,
        s->stages ? s->stages : defaults.stages,
        s->competitors ? s->competitors : defaults.competitors,
        s->assets ? s->assets : defaults.assets,
        s->plays ? s->plays : defaults.plays,
        s->fields ? s->fields : defaults.fields,
        s->routing ? s->routing : defaults.routing,
    };
    struct bt_motion *m = NULL;
    struct bt_diags d;
    struct bt_buf b;

    bt_buf_init(&b, 1u << 20);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(bt_buf_adds(&b, parts[i]), 0);
    bt_diags_init(&d);
    if (bt_motion_parse("unit.yaml", b.data, b.len, &m, &d) < 0) {
        bt_diags_print(&d, stderr);
        fail_msg("test motion does not validate:\n%s", b.data);
    }
    bt_diags_free(&d);
    bt_buf_free(&b);
    return m;
}

/* The diff of the default motion against one with CHANGED sections. */
static struct bt_mdiff *diff_with(const struct sections *changed)
{
    static const struct sections none;
    struct bt_motion *o = build(&none), *n = build(changed);
    struct bt_mdiff *d = NULL;

    bt_mdiff_new(o, n, &d);
    /* The diff keeps nothing of either motion. */
    bt_motion_unref(o);
    bt_motion_unref(n);
    return d;
}

static char *printed(const struct bt_mdiff *d)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);

    assert_non_null(f);
    bt_mdiff_print(d, f);
    fclose(f);
    return s;
}

/* The entry for ITEM ID, or NULL. */
static const struct bt_mdiff_entry *find(const struct bt_mdiff *d, enum bt_mdiff_item item,
                                         const char *id)
{
    for (size_t i = 0; i < bt_mdiff_count(d); i++) {
        const struct bt_mdiff_entry *e = bt_mdiff_entry(d, i);

        if (e->item == item && ((!id && !e->id) || (id && e->id && !strcmp(e->id, id))))
            return e;
    }
    return NULL;
}

static const struct bt_mdiff_attr *attr_of(const struct bt_mdiff_entry *e, const char *name)
{
    for (size_t i = 0; i < e->n_attrs; i++)
        if (!strcmp(e->attrs[i].name, name))
            return &e->attrs[i];
    return NULL;
}

#define assert_attr(e, name, old_v, new_v)                                                        \
    do {                                                                                          \
        const struct bt_mdiff_attr *a_ = attr_of(e, name);                                        \
        assert_non_null(a_);                                                                      \
        if (old_v)                                                                                \
            assert_string_equal(a_->old_value, (const char *)(old_v));                            \
        else                                                                                      \
            assert_null(a_->old_value);                                                           \
        if (new_v)                                                                                \
            assert_string_equal(a_->new_value, (const char *)(new_v));                            \
        else                                                                                      \
            assert_null(a_->new_value);                                                           \
    } while (0)

static void test_identical(void **state)
{
    struct sections same = {0};
    struct bt_mdiff *d = diff_with(&same);
    char *out = printed(d);

    (void)state;
    assert_int_equal(bt_mdiff_count(d), 0);
    assert_string_equal(out, "no changes\n");
    free(out);
    bt_mdiff_free(d);
}

static void test_everything_added(void **state)
{
    struct sections none = {0};
    struct bt_motion *n = build(&none);
    struct bt_mdiff *d = NULL;
    const struct bt_mdiff_entry *e;

    (void)state;
    bt_mdiff_new(NULL, n, &d);
    /* 4 stages, 1 competitor, 2 assets, 2 plays, 2 field maps, 1 rep, the route. */
    assert_int_equal(bt_mdiff_count(d), 13);
    for (size_t i = 0; i < bt_mdiff_count(d); i++) {
        e = bt_mdiff_entry(d, i);
        assert_int_equal(e->kind, BT_MDIFF_ADDED);
        assert_int_equal(e->n_attrs, 0);
        assert_int_not_equal(e->item, BT_MDIFF_MOTION);
    }
    e = bt_mdiff_entry(d, 0);
    assert_int_equal(e->item, BT_MDIFF_STAGE);
    assert_string_equal(e->id, "discovery");
    assert_non_null(find(d, BT_MDIFF_FIELD, "pipedrive.stage"));
    assert_non_null(find(d, BT_MDIFF_DEFAULT_ROUTE, NULL));
    assert_null(bt_mdiff_entry(d, 13));
    bt_mdiff_free(d);
    bt_motion_unref(n);
}

static void test_assets(void **state)
{
    struct sections s = {
        .assets = "assets:\n"
                  "  - {id: a3, kind: case_study, title: Three, url: https://x/a3}\n"
                  "  - {id: a2, kind: deck, title: Two v2, url: https://x/a2, owner: pmm@y}\n",
        .plays = "plays:\n"
                 "  - {id: p1, when: {stage: [discovery, demo], competitor: acme}, "
                 "send: [a3, a2]}\n"
                 "  - {id: p2, when: {amount: {min: 10, max: 100}}, send: [a2]}\n",
    };
    struct bt_mdiff *d = diff_with(&s);
    const struct bt_mdiff_entry *e;

    (void)state;
    e = find(d, BT_MDIFF_ASSET, "a3");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_ADDED);
    e = find(d, BT_MDIFF_ASSET, "a1");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_REMOVED);
    e = find(d, BT_MDIFF_ASSET, "a2");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_CHANGED);
    assert_int_equal(e->n_attrs, 2);
    assert_attr(e, "title", "Two", "Two v2");
    assert_attr(e, "owner", "pmm@x", "pmm@y");
    assert_null(attr_of(e, "url"));
    e = find(d, BT_MDIFF_PLAY, "p1");
    assert_non_null(e);
    assert_attr(e, "send", "a1, a2", "a3, a2");
    /* Added (in the new file's order) before removed, assets before plays. */
    assert_int_equal(bt_mdiff_entry(d, 0)->item, BT_MDIFF_ASSET);
    assert_string_equal(bt_mdiff_entry(d, 0)->id, "a3");
    assert_string_equal(bt_mdiff_entry(d, 1)->id, "a2");
    assert_string_equal(bt_mdiff_entry(d, 2)->id, "a1");
    assert_int_equal(bt_mdiff_entry(d, 3)->item, BT_MDIFF_PLAY);
    assert_int_equal(bt_mdiff_count(d), 4);
    bt_mdiff_free(d);
}

static void test_plays(void **state)
{
    /* Conditions and their values reordered: the same play. */
    struct sections same = {
        .plays = "plays:\n"
                 "  - {id: p1, when: {competitor: acme, stage: [demo, discovery]}, "
                 "send: [a1, a2]}\n"
                 "  - {id: p2, when: {amount: {max: 100, min: 10}}, send: [a2]}\n",
    };
    struct sections changed = {
        .plays = "plays:\n"
                 "  - {id: p1, when: {stage: [discovery, demo]}, send: [a2, a1], priority: 5}\n"
                 "  - {id: p2, when: {amount: {min: 10}}, send: [a2]}\n"
                 "  - {id: p3, when: {industry: [Healthcare, Retail]}, send: [a1]}\n",
    };
    struct bt_mdiff *d = diff_with(&same);
    const struct bt_mdiff_entry *e;

    (void)state;
    assert_int_equal(bt_mdiff_count(d), 0);
    bt_mdiff_free(d);

    d = diff_with(&changed);
    e = find(d, BT_MDIFF_PLAY, "p1");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_CHANGED);
    assert_int_equal(e->n_attrs, 3);
    assert_attr(e, "when", "competitor: acme; stage: demo, discovery", "stage: demo, discovery");
    assert_attr(e, "send", "a1, a2", "a2, a1"); /* order of preference matters */
    assert_attr(e, "priority", "0", "5");
    e = find(d, BT_MDIFF_PLAY, "p2");
    assert_non_null(e);
    assert_attr(e, "when", "amount: 10..100", "amount: >= 10");
    e = find(d, BT_MDIFF_PLAY, "p3");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_ADDED);
    assert_int_equal(bt_mdiff_count(d), 3);
    bt_mdiff_free(d);
}

static void test_reps_and_default_route(void **state)
{
    struct sections s = {
        .routing = "routing:\n"
                   "  default: {channel: panel, to: desk}\n"
                   "  reps:\n"
                   "    - {id: kim, name: Kim, crm: {generic: u-9}, channel: panel, to: kim}\n"
                   "    - {id: dana, name: Dana, crm: {hubspot: \"111\", pipedrive: \"7\"}, "
                   "channel: teams, to: emea}\n",
    };
    struct sections no_default = {
        .routing = "routing:\n"
                   "  reps:\n"
                   "    - {id: dana, name: Dana, crm: {hubspot: \"111\"}, channel: slack, "
                   "to: U1}\n",
    };
    struct bt_mdiff *d = diff_with(&s);
    const struct bt_mdiff_entry *e;

    (void)state;
    e = find(d, BT_MDIFF_REP, "dana");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_CHANGED);
    assert_int_equal(e->n_attrs, 3);
    assert_attr(e, "crm", "hubspot=111", "hubspot=111, pipedrive=7");
    assert_attr(e, "channel", "slack", "teams");
    assert_attr(e, "to", "U1", "emea");
    e = find(d, BT_MDIFF_REP, "kim");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_ADDED);
    e = find(d, BT_MDIFF_DEFAULT_ROUTE, NULL);
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_CHANGED);
    assert_attr(e, "channel", "slack", "panel");
    assert_attr(e, "to", "C0DESK", "desk");
    /* The default route comes last. */
    assert_ptr_equal(bt_mdiff_entry(d, bt_mdiff_count(d) - 1), e);
    bt_mdiff_free(d);

    d = diff_with(&no_default);
    assert_int_equal(bt_mdiff_count(d), 1);
    e = bt_mdiff_entry(d, 0);
    assert_int_equal(e->item, BT_MDIFF_DEFAULT_ROUTE);
    assert_int_equal(e->kind, BT_MDIFF_REMOVED);
    bt_mdiff_free(d);
}

static void test_stages_and_motion(void **state)
{
    /* A stage added in the middle: not a reordering of the others. */
    struct sections added = {
        .stages = "stages:\n"
                  "  - {id: discovery, label: Discovery}\n"
                  "  - {id: qualified, label: Qualified}\n"
                  "  - {id: demo, label: Demo}\n"
                  "  - {id: won, label: Closed won, outcome: won}\n"
                  "  - {id: lost, label: Lost, outcome: lost}\n",
    };
    struct sections reordered = {
        .head = "format: 1\nname: Unit 2\nmax_assets_per_change: 2\nqualified_from: demo\n",
        .stages = "stages:\n"
                  "  - {id: demo, label: Demo}\n"
                  "  - {id: discovery, label: Discovery}\n"
                  "  - {id: won, label: Won, outcome: won}\n"
                  "  - {id: lost, label: Lost, outcome: lost}\n",
    };
    struct bt_mdiff *d = diff_with(&added);
    const struct bt_mdiff_entry *e;

    (void)state;
    assert_int_equal(bt_mdiff_count(d), 2);
    e = find(d, BT_MDIFF_STAGE, "qualified");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_ADDED);
    e = find(d, BT_MDIFF_STAGE, "won");
    assert_non_null(e);
    assert_attr(e, "label", "Won", "Closed won");
    assert_null(find(d, BT_MDIFF_MOTION, "Unit"));
    bt_mdiff_free(d);

    d = diff_with(&reordered);
    assert_int_equal(bt_mdiff_count(d), 1);
    e = bt_mdiff_entry(d, 0);
    assert_int_equal(e->item, BT_MDIFF_MOTION);
    assert_string_equal(e->id, "Unit 2");
    assert_attr(e, "name", "Unit", "Unit 2");
    assert_attr(e, "max_assets_per_change", "1", "2");
    assert_attr(e, "qualified_from", NULL, "demo");
    assert_attr(e, "stage order", "discovery, demo, won, lost", "demo, discovery, won, lost");
    assert_null(attr_of(e, "play order"));
    bt_mdiff_free(d);
}

static void test_competitors_and_fields(void **state)
{
    struct sections same = {
        .competitors = "competitors:\n"
                       "  - {id: acme, name: Acme, aliases: [\"acme corp\", \"ACME Inc.\"]}\n",
    };
    struct sections changed = {
        .competitors = "competitors:\n"
                       "  - {id: acme, name: Acme, aliases: [\"ACME Inc.\"]}\n",
        .fields = "fields:\n"
                  "  hubspot:\n"
                  "    stage: deal_stage\n"
                  "    owner: hubspot_owner_id\n"
                  "  pipedrive:\n"
                  "    stage: {field: stage_id, values: {\"1\": discovery, \"3\": demo}}\n",
    };
    struct bt_mdiff *d = diff_with(&same);
    const struct bt_mdiff_entry *e;

    (void)state;
    assert_int_equal(bt_mdiff_count(d), 0); /* aliases are a set */
    bt_mdiff_free(d);

    d = diff_with(&changed);
    e = find(d, BT_MDIFF_COMPETITOR, "acme");
    assert_non_null(e);
    assert_attr(e, "aliases", "ACME Inc., acme corp", "ACME Inc.");
    e = find(d, BT_MDIFF_FIELD, "hubspot.stage");
    assert_non_null(e);
    assert_attr(e, "property", "dealstage", "deal_stage");
    e = find(d, BT_MDIFF_FIELD, "hubspot.owner");
    assert_non_null(e);
    assert_int_equal(e->kind, BT_MDIFF_ADDED);
    e = find(d, BT_MDIFF_FIELD, "pipedrive.stage");
    assert_non_null(e);
    assert_attr(e, "values", "1=discovery, 2=demo", "1=discovery, 3=demo");
    assert_int_equal(bt_mdiff_count(d), 4);
    bt_mdiff_free(d);
}

static void test_print(void **state)
{
    struct sections s = {
        .assets = "assets:\n"
                  "  - {id: a1, kind: battlecard, title: One, url: https://x/a1}\n"
                  "  - {id: a2, kind: deck, title: Two, url: https://x/a2}\n"
                  "  - {id: a4, kind: deck, title: Four, url: https://x/a4}\n",
    };
    struct bt_mdiff *d = diff_with(&s);
    char *out = printed(d);

    (void)state;
    assert_string_equal(out, "~ asset a2: owner\n"
                             "    owner: pmm@x -> (none)\n"
                             "+ asset a4\n");
    free(out);
    bt_mdiff_free(d);
    assert_string_equal(bt_mdiff_item_name(BT_MDIFF_DEFAULT_ROUTE), "default route");
    assert_string_equal(bt_mdiff_item_name(BT_MDIFF_REP), "rep");
    bt_mdiff_free(NULL);
}

/* The data-driven case: tests/data/versions/base.yaml -> modified.yaml must
 * print exactly base-to-modified.diff. */
static void test_files(void **state)
{
    char *base = bt_test_source_path("tests/data/versions/base.yaml");
    char *modified = bt_test_source_path("tests/data/versions/modified.yaml");
    char *golden = bt_test_source_path("tests/data/versions/base-to-modified.diff");
    struct bt_motion *o = NULL, *n = NULL;
    struct bt_mdiff *d = NULL;
    struct bt_diags diags;
    char *want, *got;

    (void)state;
    bt_diags_init(&diags);
    assert_int_equal(bt_motion_load(base, &o, &diags), 0);
    assert_int_equal(bt_motion_load(modified, &n, &diags), 0);
    bt_mdiff_new(o, n, &d);
    got = printed(d);
    want = bt_test_read_file(golden, NULL);
    assert_string_equal(got, want);
    free(got);
    free(want);
    bt_mdiff_free(d);

    /* Backwards, every addition is a removal and the other way round. */
    bt_mdiff_new(n, o, &d);
    for (size_t i = 0; i < bt_mdiff_count(d); i++) {
        const struct bt_mdiff_entry *e = bt_mdiff_entry(d, i);

        if (e->item == BT_MDIFF_ASSET && !strcmp(e->id, "pg-old"))
            assert_int_equal(e->kind, BT_MDIFF_ADDED);
        if (e->item == BT_MDIFF_ASSET && !strcmp(e->id, "bc-initech"))
            assert_int_equal(e->kind, BT_MDIFF_REMOVED);
    }
    bt_mdiff_free(d);
    bt_motion_unref(o);
    bt_motion_unref(n);
    bt_diags_free(&diags);
    free(base);
    free(modified);
    free(golden);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_everything_added),
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_plays),
        cmocka_unit_test(test_reps_and_default_route),
        cmocka_unit_test(test_stages_and_motion),
        cmocka_unit_test(test_competitors_and_fields),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_files),
    };

    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
