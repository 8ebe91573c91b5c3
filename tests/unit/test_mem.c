#include "testutil.h"

#include <string.h>

#include "mem.h"

static void buf_respects_its_cap(void **state)
{
    struct bt_buf b;

    (void)state;
    bt_buf_init(&b, 8);
    assert_int_equal(bt_buf_adds(&b, "12345"), 0);
    assert_int_equal(bt_buf_adds(&b, "6789"), BT_ETOOBIG);
    assert_string_equal(b.data, "12345"); /* unchanged by the refused add */
    assert_int_equal(bt_buf_adds(&b, "678"), 0);
    assert_int_equal(b.len, 8);
    assert_int_equal(bt_buf_adds(&b, "x"), BT_ETOOBIG);
    bt_buf_free(&b);
}

static void buf_printf_grows(void **state)
{
    struct bt_buf b;
    char *s;

    (void)state;
    bt_buf_init(&b, 4096);
    for (int i = 0; i < 100; i++)
        assert_int_equal(bt_buf_printf(&b, "%03d,", i), 0);
    assert_int_equal(b.len, 400);
    assert_memory_equal(b.data + 396, "099,", 4);
    s = bt_buf_steal(&b);
    assert_null(b.data);
    bt_free(s);
}

static void arena_allocates_zeroed_aligned_memory(void **state)
{
    struct bt_arena *a = bt_arena_new();
    char *big;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        long long *p = bt_arena_alloc(a, sizeof(long long) * 3);

        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        assert_int_equal(p[0] | p[1] | p[2], 0);
        p[0] = i;
    }
    big = bt_arena_alloc(a, 100000);
    big[99999] = 'x';
    assert_string_equal(bt_arena_strdup(a, "motion"), "motion");
    assert_null(bt_arena_strdup(a, NULL));
    bt_arena_free(a);
}

static void asprintf_formats(void **state)
{
    char *s = bt_asprintf("%s[%d]", "plays", 3);

    (void)state;
    assert_string_equal(s, "plays[3]");
    bt_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_respects_its_cap),
        cmocka_unit_test(buf_printf_grows),
        cmocka_unit_test(arena_allocates_zeroed_aligned_memory),
        cmocka_unit_test(asprintf_formats),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
