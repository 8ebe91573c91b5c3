#include "testutil.h"

#include <string.h>

#include "track.h"

static void tokens_are_random_base64url(void **state)
{
    char a[BT_TOKEN_LEN + 1], b[BT_TOKEN_LEN + 1];

    (void)state;
    assert_int_equal(bt_track_token(a), 0);
    assert_int_equal(bt_track_token(b), 0);
    assert_int_equal(strlen(a), 22);
    assert_string_not_equal(a, b);
    assert_true(bt_track_token_valid(a, strlen(a)));
    assert_null(strpbrk(a, "+/="));
    assert_false(bt_track_token_valid("short", 5));
    assert_false(bt_track_token_valid("abcdefghijklmnopqrst/+", 22));
}

struct hit_case {
    const char *method, *ua;
    int64_t after_ms;
    enum bt_hit_kind kind;
};

static void hits_are_classified(void **state)
{
    static const struct hit_case cases[] = {
        {"GET", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15", 60000,
         BT_HIT_PERSON},
        {"HEAD", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", 60000, BT_HIT_PREFETCH},
        {"GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 60000,
         BT_HIT_PREFETCH},
        {"GET", "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", 60000,
         BT_HIT_PREFETCH},
        {"GET", "facebookexternalhit/1.1", 60000, BT_HIT_PREFETCH},
        {"GET", "", 60000, BT_HIT_PREFETCH},
        {"GET", NULL, 60000, BT_HIT_PREFETCH},
        {"GET", "Mozilla/5.0 Proofpoint URL Defense", 60000, BT_HIT_PREFETCH},
        {"GET", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0", 500, BT_HIT_PREFETCH},
        {"GET", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0", 2500, BT_HIT_PERSON},
        {"GET", "Mozilla/5.0 AcmeLinkChecker/2", 60000, BT_HIT_PREFETCH}, /* from config */
    };
    static const char *const extra[] = {"AcmeLinkChecker", NULL};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why = NULL;
        enum bt_hit_kind k = bt_track_classify(cases[i].method, cases[i].ua,
                                               1000000 + cases[i].after_ms, 1000000, 2000,
                                               extra, &why);

        if (k != cases[i].kind)
            fail_msg("case %zu (%s): got %d (%s)", i, cases[i].ua ? cases[i].ua : "(null)", k,
                     why);
        assert_non_null(why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokens_are_random_base64url),
        cmocka_unit_test(hits_are_classified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
