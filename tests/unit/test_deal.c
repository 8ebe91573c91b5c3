#include "testutil.h"

#include "deal.h"
#include "mem.h"

static void sources_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < BT_SRC_COUNT; i++)
        assert_int_equal(bt_source_parse(bt_source_name(i)), i);
    assert_int_equal(bt_source_parse("zoho"), -1);
}

static void fields_set_get_clear(void **state)
{
    struct bt_fields f;

    (void)state;
    bt_fields_init(&f);
    bt_fields_set(&f, "stage", "qualifiedtobuy");
    bt_fields_set(&f, "stage", "presentationscheduled");
    bt_fields_set(&f, "competitor", NULL);
    assert_int_equal(f.n, 2);
    assert_string_equal(bt_fields_get(&f, "stage"), "presentationscheduled");
    assert_null(bt_fields_get(&f, "competitor"));
    assert_true(bt_fields_has(&f, "competitor"));
    assert_false(bt_fields_has(&f, "owner"));
    bt_fields_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sources_round_trip),
        cmocka_unit_test(fields_set_get_clear),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
