#include "testutil.h"

#include <string.h>

#include "err.h"

static void codes_are_negative_and_distinct(void **state)
{
    (void)state;
    assert_true(BT_EINVAL < 0);
    assert_true(BT_EUSAGE < BT_EINVAL);
    assert_int_not_equal(BT_EIO, BT_EAUTH);
}

static void every_code_has_its_message(void **state)
{
    (void)state;
    assert_string_equal(bt_strerror(0), "success");
    assert_string_equal(bt_strerror(BT_EINVAL), "invalid input");
    assert_string_equal(bt_strerror(BT_EAUTH), "authentication failed");
    assert_string_equal(bt_strerror(BT_EUSAGE), "usage error");
    assert_string_equal(bt_strerror(-1000), "unknown error");
    assert_string_equal(bt_strerror(5), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_are_negative_and_distinct),
        cmocka_unit_test(every_code_has_its_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
