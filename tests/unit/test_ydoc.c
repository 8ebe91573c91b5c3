#include "testutil.h"

#include <string.h>

#include "mem.h"
#include "ydoc.h"

static struct bt_ydoc *load(const char *text, struct bt_diags *d)
{
    struct bt_ydoc *doc = NULL;

    assert_int_equal(bt_ydoc_load_mem("t.yaml", text, strlen(text), &doc, d), 0);
    return doc;
}

static void nodes_know_their_position(void **state)
{
    struct bt_diags d;
    struct bt_ydoc *doc;
    struct bt_ynode *plays, *send;

    (void)state;
    bt_diags_init(&d);
    doc = load("format: 1\nplays:\n  - id: p1\n    send: [a, \"b\"]\n", &d);
    assert_int_equal(doc->root->type, BT_Y_MAP);
    plays = bt_ynode_get(doc->root, "plays");
    assert_non_null(plays);
    assert_int_equal(plays->type, BT_Y_SEQ);
    send = bt_ynode_get(plays->items[0], "send");
    assert_int_equal(send->n, 2);
    assert_int_equal(send->items[1]->line, 4);
    assert_int_equal(send->items[1]->col, 15);
    assert_true(send->items[1]->quoted);
    assert_false(send->items[0]->quoted);
    bt_ydoc_free(doc);
    bt_diags_free(&d);
}

static void syntax_errors_have_line_and_column(void **state)
{
    struct bt_diags d;
    struct bt_ydoc *doc = NULL;
    const char *bad = "a: 1\nb: [1, 2\nc: 3\n";

    (void)state;
    bt_diags_init(&d);
    assert_int_equal(bt_ydoc_load_mem("bad.yaml", bad, strlen(bad), &doc, &d), BT_EINVAL);
    assert_null(doc);
    assert_int_equal(d.n, 1);
    assert_true(d.v[0].line >= 2);
    assert_non_null(strstr(d.v[0].msg, "YAML syntax error"));
    bt_diags_free(&d);
}

static void json_is_accepted(void **state)
{
    struct bt_diags d;
    struct bt_ydoc *doc;
    long long v;

    (void)state;
    bt_diags_init(&d);
    doc = load("{\"format\": 1, \"name\": \"x\", \"stages\": [{\"id\": \"s1\"}]}", &d);
    assert_true(bt_ynode_int(bt_ynode_get(doc->root, "format"), &v));
    assert_int_equal(v, 1);
    assert_string_equal(bt_ynode_str(bt_ynode_get(doc->root, "name")), "x");
    bt_ydoc_free(doc);
    bt_diags_free(&d);
}

static void scalars_convert(void **state)
{
    struct bt_diags d;
    struct bt_ydoc *doc;
    long long i;
    double x;
    bool b;

    (void)state;
    bt_diags_init(&d);
    doc = load("i: -42\nx: 1.5e3\nb: yes\nn: ~\nq: \"null\"\nbad: 12abc\n", &d);
    assert_true(bt_ynode_int(bt_ynode_get(doc->root, "i"), &i));
    assert_int_equal(i, -42);
    assert_true(bt_ynode_double(bt_ynode_get(doc->root, "x"), &x));
    assert_true(x == 1500.0);
    assert_true(bt_ynode_bool(bt_ynode_get(doc->root, "b"), &b));
    assert_true(b);
    assert_true(bt_ynode_is_null(bt_ynode_get(doc->root, "n")));
    assert_false(bt_ynode_is_null(bt_ynode_get(doc->root, "q")));
    assert_false(bt_ynode_int(bt_ynode_get(doc->root, "bad"), &i));
    assert_null(bt_ynode_get(doc->root, "missing"));
    bt_ydoc_free(doc);
    bt_diags_free(&d);
}

static void unknown_and_duplicate_keys_are_reported(void **state)
{
    static const char *const allowed[] = {"id", "label", "outcome", NULL};
    struct bt_diags d;
    struct bt_ydoc *doc;

    (void)state;
    bt_diags_init(&d);
    doc = load("id: a\nlabl: A\nid: b\n", &d);
    assert_int_equal(bt_ynode_check_keys(doc, doc->root, "stages[0]", allowed, &d), 2);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.v[0].path, "stages[0].labl");
    assert_non_null(strstr(d.v[0].msg, "did you mean \"label\""));
    assert_int_equal(d.v[1].line, 3);
    assert_non_null(strstr(d.v[1].msg, "duplicate key"));
    bt_ydoc_free(doc);
    bt_diags_free(&d);
}

static void aliases_share_nodes(void **state)
{
    struct bt_diags d;
    struct bt_ydoc *doc;

    (void)state;
    bt_diags_init(&d);
    doc = load("a: &x {k: v}\nb: *x\n", &d);
    assert_ptr_equal(bt_ynode_get(doc->root, "a"), bt_ynode_get(doc->root, "b"));
    bt_ydoc_free(doc);
    bt_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nodes_know_their_position),
        cmocka_unit_test(syntax_errors_have_line_and_column),
        cmocka_unit_test(json_is_accepted),
        cmocka_unit_test(scalars_convert),
        cmocka_unit_test(unknown_and_duplicate_keys_are_reported),
        cmocka_unit_test(aliases_share_nodes),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
