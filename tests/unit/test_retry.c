#include "testutil.h"

#include <stdlib.h>

#include "config.h"
#include "retry.h"

static const int64_t schedule[] = {5000, 30000, 120000};

static struct bt_retry policy(double jitter)
{
    struct bt_retry r = {schedule, 3, 3600000, 24 * 3600000LL, jitter};

    return r;
}

static void gaps_follow_the_schedule_then_the_last_gap(void **state)
{
    struct bt_retry r = policy(0);

    (void)state;
    assert_int_equal(bt_retry_gap_ms(&r, 1, -1, 0.5), 5000);
    assert_int_equal(bt_retry_gap_ms(&r, 2, -1, 0.5), 30000);
    assert_int_equal(bt_retry_gap_ms(&r, 3, -1, 0.5), 120000);
    assert_int_equal(bt_retry_gap_ms(&r, 4, -1, 0.5), 3600000);
    assert_int_equal(bt_retry_gap_ms(&r, 400, -1, 0.5), 3600000);
    /* Attempt 0 cannot happen; it is read as the first. */
    assert_int_equal(bt_retry_gap_ms(&r, 0, -1, 0.5), 5000);
    /* Without jitter the random draw changes nothing. */
    assert_int_equal(bt_retry_gap_ms(&r, 2, -1, 0.0), 30000);
    assert_int_equal(bt_retry_gap_ms(&r, 2, -1, 0.999), 30000);
}

static void jitter_stays_within_its_fraction(void **state)
{
    struct bt_retry r = policy(0.2);

    (void)state;
    assert_int_equal(bt_retry_gap_ms(&r, 1, -1, 0.0), 4000);
    assert_int_equal(bt_retry_gap_ms(&r, 1, -1, 0.5), 5000);
    assert_int_equal(bt_retry_gap_ms(&r, 1, -1, 0.75), 5500);
    assert_in_range(bt_retry_gap_ms(&r, 1, -1, 0.999999), 5999, 6000);
    /* Out-of-range draws are clamped, never negative or beyond the band. */
    assert_int_equal(bt_retry_gap_ms(&r, 1, -1, -3.0), 4000);
    assert_in_range(bt_retry_gap_ms(&r, 1, -1, 7.0), 5999, 6000);
    srand(42);
    for (int i = 0; i < 10000; i++) {
        double u = (double)rand() / ((double)RAND_MAX + 1.0);

        assert_in_range(bt_retry_gap_ms(&r, 4, -1, u), 2880000, 4320000);
    }
    /* A jitter beyond 1 would make negative gaps: it is held at 1. */
    r.jitter = 5;
    assert_int_equal(bt_retry_gap_ms(&r, 1, -1, 0.0), 0);
    assert_int_equal(bt_retry_gap_ms(&r, 1, -1, 0.75), 7500);
}

static void retry_after_replaces_the_gap_it_falls_on(void **state)
{
    struct bt_retry r = policy(0.2);

    (void)state;
    /* As asked, whatever the step, and without jitter. */
    assert_int_equal(bt_retry_gap_ms(&r, 1, 30000, 0.0), 30000);
    assert_int_equal(bt_retry_gap_ms(&r, 5, 30000, 0.9), 30000);
    assert_int_equal(bt_retry_gap_ms(&r, 1, 9000, 0.5), 9000);
    /* "Retry-After: 0" must not make a busy loop: the shortest step. */
    assert_int_equal(bt_retry_gap_ms(&r, 3, 0, 0.5), 5000);
    /* Nor may a receiver park a delivery past the give-up bound. */
    assert_int_equal(bt_retry_gap_ms(&r, 1, 400LL * 24 * 3600000, 0.5), 24 * 3600000LL);
}

static void an_empty_schedule_uses_the_last_gap(void **state)
{
    struct bt_retry r = {NULL, 0, 60000, 3600000, 0};

    (void)state;
    assert_int_equal(bt_retry_gap_ms(&r, 1, -1, 0.5), 60000);
    assert_int_equal(bt_retry_gap_ms(&r, 9, -1, 0.5), 60000);
    assert_int_equal(bt_retry_gap_ms(&r, 1, 0, 0.5), 60000);
}

static void the_default_config_is_the_designed_schedule(void **state)
{
    char *path = bt_test_source_path("tests/data/config/good/minimal.yaml");
    struct bt_config *cfg = NULL;
    struct bt_diags d;
    struct bt_retry r;
    static const int64_t want[] = {5000, 30000, 120000, 600000, 1800000, 3600000, 3600000};

    (void)state;
    bt_diags_init(&d);
    assert_int_equal(bt_config_load(path, &cfg, &d), 0);
    bt_retry_from_config(&r, &cfg->push);
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(bt_retry_gap_ms(&r, i + 1, -1, 0.5), want[i]);
    assert_int_equal(r.give_up_ms, 24 * 3600000LL);
    assert_true(r.jitter > 0.19 && r.jitter < 0.21);
    bt_config_unref(cfg);
    bt_diags_free(&d);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gaps_follow_the_schedule_then_the_last_gap),
        cmocka_unit_test(jitter_stays_within_its_fraction),
        cmocka_unit_test(retry_after_replaces_the_gap_it_falls_on),
        cmocka_unit_test(an_empty_schedule_uses_the_last_gap),
        cmocka_unit_test(the_default_config_is_the_designed_schedule),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
