#include "testutil.h"

#include <string.h>

#include "diag.h"
#include "mem.h"

static void formats_file_line_col_path_message(void **state)
{
    struct bt_diags d;
    char *s;

    (void)state;
    bt_diags_init(&d);
    bt_diags_add(&d, "m.yaml", 12, 7, "plays[3].send[0]", "unknown asset \"%s\"", "bc-acmee");
    bt_diags_add(&d, "m.yaml", 0, 0, NULL, "cannot open");
    assert_int_equal(d.n, 2);
    s = bt_diag_format(&d.v[0]);
    assert_string_equal(s, "m.yaml:12:7: plays[3].send[0]: unknown asset \"bc-acmee\"");
    bt_free(s);
    s = bt_diag_format(&d.v[1]);
    assert_string_equal(s, "m.yaml: cannot open");
    bt_free(s);
    bt_diags_free(&d);
    assert_int_equal(d.n, 0);
}

static void sorts_by_position_stably(void **state)
{
    struct bt_diags d;

    (void)state;
    bt_diags_init(&d);
    bt_diags_add(&d, "f", 9, 1, NULL, "c");
    bt_diags_add(&d, "f", 2, 5, NULL, "b");
    bt_diags_add(&d, "f", 2, 1, NULL, "a");
    bt_diags_add(&d, "f", 9, 1, NULL, "d");
    bt_diags_sort(&d);
    assert_string_equal(d.v[0].msg, "a");
    assert_string_equal(d.v[1].msg, "b");
    assert_string_equal(d.v[2].msg, "c");
    assert_string_equal(d.v[3].msg, "d");
    bt_diags_free(&d);
}

static void suggests_near_misses_only(void **state)
{
    const char *const ids[] = {"bc-acme", "bc-globex", "cs-healthcare"};

    (void)state;
    assert_string_equal(bt_suggest("bc-acmee", ids, 3), "bc-acme");
    assert_string_equal(bt_suggest("BC-ACME", ids, 3), "bc-acme");
    assert_string_equal(bt_suggest("bc-glbex", ids, 3), "bc-globex");
    assert_null(bt_suggest("pricing", ids, 3));
    assert_null(bt_suggest("bc-acme", ids, 3)); /* an exact name needs no hint */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_file_line_col_path_message),
        cmocka_unit_test(sorts_by_position_stably),
        cmocka_unit_test(suggests_near_misses_only),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
