#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "sig.h"

/* hubspot/signature-v3-vector.json */
static const char *const hs_secrets[] = {"hs-client-secret-123"};
#define HS_URI "https://baton.example.com/v1/webhooks/hubspot"
#define HS_TS  "1717000001234"
#define HS_NOW 1717000001
#define HS_SIG "MN4G7Nt0WPxi2aabm0RguEkUajIjNrzdsYuPO3dsPlY="

/* standard-webhooks/signature-vector.json */
static const char *const wh_secrets[] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
#define WH_ID  "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
#define WH_TS  "1716995516"
#define WH_NOW 1716995516
#define WH_SIG "v1,wWUF8MUY7YGLpVqeeZCpA0u8PFTm5dJs90j6qoVsSwM="

/* The v1 vector of the fixtures README. */
static const char *const v1_secrets[] = {"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"};
#define V1_BODY                                                                                   \
    "[{\"eventId\":1,\"subscriptionId\":12345,\"portalId\":62515,\"occurredAt\":1564113600000,"   \
    "\"subscriptionType\":\"contact.creation\",\"attemptNumber\":0,\"objectId\":123,"             \
    "\"changeSource\":\"CRM\",\"changeFlag\":\"NEW\",\"appId\":54321}]"
#define V1_SIG "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"

/* Slack's documented example request. */
static const char *const slack_secrets[] = {"8f742231b10e8888abcd99yyyzzz85a5"};
#define SLACK_TS "1531420618"
#define SLACK_BODY                                                                                \
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="        \
    "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"    \
    "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"            \
    "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."              \
    "803a0bc887a14d10d2c447fce8b6703c"
#define SLACK_SIG "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

static char *hs_body(size_t *len)
{
    return bt_test_read_fixture("hubspot/deal-propertychange-batch.json", len);
}

static char *wh_body(size_t *len)
{
    return bt_test_read_fixture("standard-webhooks/deal-changed.json", len);
}

static int hs_verify(const char *const *secrets, size_t n, const char *uri, const char *body,
                     size_t len, const char *ts, const char *sig, int64_t now, char *why)
{
    return bt_sig_hubspot_v3_verify(secrets, n, "POST", uri, body, len, ts, sig, now, why, 128);
}

static void hubspot_v3_vector(void **state)
{
    size_t len;
    char *body = hs_body(&len);
    char why[128], sig[BT_SIG_B64_LEN];

    (void)state;
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW, why), 0);
    assert_string_equal(why, "");
    bt_sig_hubspot_v3_sign(hs_secrets[0], "POST", HS_URI, body, len, HS_TS, sig);
    assert_string_equal(sig, HS_SIG);
    free(body);
}

static void hubspot_v3_refusals(void **state)
{
    static const char *const wrong[] = {"hs-client-secret-124"};
    static const char *const empty[] = {""};
    size_t len;
    char *body = hs_body(&len);
    char why[128];

    (void)state;
    /* Tampered body: one byte off, and one byte short. */
    body[10] ^= 1;
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW, why),
                     BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    body[10] ^= 1;
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len - 1, HS_TS, HS_SIG, HS_NOW, why),
                     BT_EAUTH);
    /* Another URL, method or timestamp within the window. */
    assert_int_equal(
        hs_verify(hs_secrets, 1, HS_URI "?x=1", body, len, HS_TS, HS_SIG, HS_NOW, why), BT_EAUTH);
    assert_int_equal(bt_sig_hubspot_v3_verify(hs_secrets, 1, "PUT", HS_URI, body, len, HS_TS,
                                              HS_SIG, HS_NOW, why, sizeof(why)),
                     BT_EAUTH);
    assert_int_equal(
        hs_verify(hs_secrets, 1, HS_URI, body, len, "1717000001235", HS_SIG, HS_NOW, why),
        BT_EAUTH);
    /* Wrong secret, empty secret, no secret. */
    assert_int_equal(hs_verify(wrong, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW, why), BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    assert_int_equal(hs_verify(empty, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW, why), BT_EAUTH);
    assert_int_equal(hs_verify(NULL, 0, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW, why), BT_EAUTH);
    assert_string_equal(why, "no secret configured");
    /* Old and future timestamps: the window is 5 minutes either way, its
     * edges included. */
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW + 301, why),
                     BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW - 302, why),
                     BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW + 300, why),
                     0);
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW - 298, why),
                     0);
    /* Malformed headers. */
    static const char *const bad_ts[] = {
        "", "-1717000001234", "1717000001234 ", "17170000012a4", "99999999999999999999999", "0x1"};
    for (size_t i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++) {
        assert_int_equal(
            hs_verify(hs_secrets, 1, HS_URI, body, len, bad_ts[i], HS_SIG, HS_NOW, why), BT_EAUTH);
        assert_string_equal(why, "malformed timestamp");
    }
    static const char *const bad_sig[] = {"",
                                          "abc",
                                          "MN4G7Nt0WPxi2aabm0RguEkUajIjNrzdsYuPO3dsPlY",
                                          "MN4G7Nt0WPxi2aabm0RguEkUajIjNr",
                                          "MN4G7Nt0WPxi2aabm0RguEkUajIjNrzdsYuPO3dsPl==",
                                          "MN4G7Nt0WPxi2aabm0RguEkUajIjNrzdsYuPO3d-PlY=",
                                          " MN4G7Nt0WPxi2aabm0RguEkUajIjNrzdsYuPO3dsPlY=",
                                          "MN4G7Nt0WPxi2aabm0RguEkUajIjNrzdsYuPO3dsPlY=="};
    for (size_t i = 0; i < sizeof(bad_sig) / sizeof(bad_sig[0]); i++) {
        assert_int_equal(
            hs_verify(hs_secrets, 1, HS_URI, body, len, HS_TS, bad_sig[i], HS_NOW, why), BT_EAUTH);
        assert_string_equal(why, "malformed signature");
    }
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len, HS_TS, NULL, HS_NOW, why),
                     BT_EAUTH);
    assert_int_equal(hs_verify(hs_secrets, 1, HS_URI, body, len, NULL, HS_SIG, HS_NOW, why),
                     BT_EAUTH);
    assert_int_equal(hs_verify(hs_secrets, 1, NULL, body, len, HS_TS, HS_SIG, HS_NOW, why),
                     BT_EAUTH);
    free(body);
}

static void hubspot_v3_rotation(void **state)
{
    static const char *const two[] = {"old-secret", "hs-client-secret-123"};
    size_t len;
    char *body = hs_body(&len);
    char why[128];

    (void)state;
    assert_int_equal(hs_verify(two, 2, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW, why), 0);
    assert_int_equal(hs_verify(two, 1, HS_URI, body, len, HS_TS, HS_SIG, HS_NOW, why), BT_EAUTH);
    free(body);
}

static void hubspot_uri_escapes(void **state)
{
    char *u;
    char sig[BT_SIG_B64_LEN], why[128];
    static const char *const secrets[] = {"s"};

    (void)state;
    u = bt_sig_hubspot_uri("https://h/p%3a%2F%3F%40%21%24%27%28%29%2A%2c%3B?q=%20%25%3d%41%3");
    assert_string_equal(u, "https://h/p:/?@!$'()*,;?q=%20%25%3d%41%3");
    bt_free(u);
    u = bt_sig_hubspot_uri("%");
    assert_string_equal(u, "%");
    bt_free(u);
    u = bt_sig_hubspot_uri("%3");
    assert_string_equal(u, "%3");
    bt_free(u);
    u = bt_sig_hubspot_uri("%00%3A");
    assert_string_equal(u, "%00:");
    bt_free(u);
    /* Signed as HubSpot decodes it: the escaped and the plain forms of the
     * same URL carry the same signature; another escape does not. */
    bt_sig_hubspot_v3_sign("s", "POST", "https://h/x?a=b:c", "[]", 2, "1000000", sig);
    assert_int_equal(bt_sig_hubspot_v3_verify(secrets, 1, "POST", "https://h/x?a=b%3Ac", "[]", 2,
                                              "1000000", sig, 1000, why, sizeof(why)),
                     0);
    assert_int_equal(bt_sig_hubspot_v3_verify(secrets, 1, "POST", "https://h/x?a=b%3ac", "[]", 2,
                                              "1000000", sig, 1000, why, sizeof(why)),
                     0);
    assert_int_equal(bt_sig_hubspot_v3_verify(secrets, 1, "POST", "https://h/x?a=b%20c", "[]", 2,
                                              "1000000", sig, 1000, why, sizeof(why)),
                     BT_EAUTH);
}

static void hubspot_v1_vector(void **state)
{
    static const char *const wrong[] = {"xxxxxxxx-yyyy-yyyy-yyyy-yyyyyyyyyyyy"};
    static const char *const rotated[] = {"a", "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"};
    const char *body = V1_BODY;
    size_t len = strlen(body);
    char why[128], upper[sizeof(V1_SIG)];

    (void)state;
    assert_int_equal(bt_sig_hubspot_v1_verify(v1_secrets, 1, body, len, V1_SIG, why, 128), 0);
    assert_int_equal(bt_sig_hubspot_v1_verify(rotated, 2, body, len, V1_SIG, why, 128), 0);
    for (size_t i = 0; i < sizeof(upper); i++)
        upper[i] = (char)(V1_SIG[i] >= 'a' && V1_SIG[i] <= 'f' ? V1_SIG[i] - 32 : V1_SIG[i]);
    assert_int_equal(bt_sig_hubspot_v1_verify(v1_secrets, 1, body, len, upper, why, 128), 0);
    assert_int_equal(bt_sig_hubspot_v1_verify(v1_secrets, 1, body, len - 1, V1_SIG, why, 128),
                     BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    assert_int_equal(bt_sig_hubspot_v1_verify(wrong, 1, body, len, V1_SIG, why, 128), BT_EAUTH);
    assert_int_equal(bt_sig_hubspot_v1_verify(v1_secrets, 1, body, len, "232db2", why, 128),
                     BT_EAUTH);
    assert_string_equal(why, "malformed signature");
    assert_int_equal(bt_sig_hubspot_v1_verify(v1_secrets, 1, body, len, V1_SIG "0", why, 128),
                     BT_EAUTH);
    assert_int_equal(bt_sig_hubspot_v1_verify(v1_secrets, 1, body, len,
                                              "g32db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3"
                                              "ca654d05f4817de",
                                              why, 128),
                     BT_EAUTH);
    assert_int_equal(bt_sig_hubspot_v1_verify(v1_secrets, 1, body, len, NULL, why, 128), BT_EAUTH);
}

static int wh_verify(const char *const *secrets, size_t n, const char *id, const char *ts,
                     const char *body, size_t len, const char *sig, int64_t now, char *why)
{
    return bt_sig_stdwh_verify(secrets, n, id, ts, body, len, sig, now, why, 128);
}

static void stdwh_vector(void **state)
{
    size_t len;
    char *body = wh_body(&len), *sig = NULL;
    char why[128];

    (void)state;
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW, why), 0);
    assert_string_equal(why, "");
    assert_int_equal(bt_sig_stdwh_sign(wh_secrets[0], WH_ID, 1716995516, body, len, &sig), 0);
    assert_string_equal(sig, WH_SIG);
    bt_free(sig);
    /* The prefix is optional, as in the reference libraries. */
    assert_int_equal(
        bt_sig_stdwh_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", WH_ID, 1716995516, body, len, &sig),
        0);
    assert_string_equal(sig, WH_SIG);
    bt_free(sig);
    free(body);
}

static void stdwh_refusals(void **state)
{
    static const char *const wrong[] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx"};
    static const char *const broken[] = {"whsec_not base64!", "whsec_", ""};
    size_t len;
    char *body = wh_body(&len);
    char why[128];

    (void)state;
    body[20] ^= 1;
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW, why),
                     BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    body[20] ^= 1;
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID "x", WH_TS, body, len, WH_SIG, WH_NOW, why),
                     BT_EAUTH);
    assert_int_equal(wh_verify(wrong, 1, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW, why), BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    assert_int_equal(wh_verify(broken, 3, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW, why), BT_EAUTH);
    assert_string_equal(why, "no usable secret configured");
    /* Old and future. */
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW + 301, why),
                     BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW - 301, why),
                     BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW + 300, why),
                     0);
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW - 300, why),
                     0);
    /* Malformed and missing headers. */
    assert_int_equal(
        wh_verify(wh_secrets, 1, WH_ID, "1716995516.0", body, len, WH_SIG, WH_NOW, why), BT_EAUTH);
    assert_string_equal(why, "malformed webhook-timestamp");
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, "v1", WH_NOW, why),
                     BT_EAUTH);
    assert_string_equal(why, "no v1 signature in webhook-signature");
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len,
                               "v1a,wWUF8MUY7YGLpVqeeZCpA0u8PFTm5dJs90j6qoVsSwM=", WH_NOW, why),
                     BT_EAUTH);
    assert_string_equal(why, "no v1 signature in webhook-signature");
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, "v1,!!!! v1,", WH_NOW, why),
                     BT_EAUTH);
    assert_string_equal(why, "signature mismatch");
    assert_int_equal(wh_verify(wh_secrets, 1, NULL, WH_TS, body, len, WH_SIG, WH_NOW, why),
                     BT_EAUTH);
    assert_string_equal(why, "missing webhook-id");
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, NULL, body, len, WH_SIG, WH_NOW, why),
                     BT_EAUTH);
    assert_string_equal(why, "missing webhook-timestamp");
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, NULL, WH_NOW, why),
                     BT_EAUTH);
    assert_string_equal(why, "missing webhook-signature");
    free(body);
}

static void stdwh_lists_and_rotation(void **state)
{
    static const char *const rotated[] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx",
                                          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    size_t len;
    char *body = wh_body(&len);
    char why[128];

    (void)state;
    assert_int_equal(wh_verify(rotated, 2, WH_ID, WH_TS, body, len, WH_SIG, WH_NOW, why), 0);
    /* Any one valid entry suffices, wherever it sits in the list. */
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len,
                               "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " WH_SIG, WH_NOW,
                               why),
                     0);
    assert_int_equal(wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len,
                               "v2,whatever  " WH_SIG " v1,garbage", WH_NOW, why),
                     0);
    assert_int_equal(
        wh_verify(wh_secrets, 1, WH_ID, WH_TS, body, len, " " WH_SIG " ", WH_NOW, why), 0);
    free(body);
}

static void stdwh_sign_round_trip(void **state)
{
    static const char *const secrets[] = {"whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ=="};
    const char body[] = "{\"type\":\"baton.delivery\"}";
    char *sig = NULL, why[128];

    (void)state;
    assert_true(bt_sig_stdwh_secret_ok(secrets[0]));
    assert_false(bt_sig_stdwh_secret_ok("whsec_"));
    assert_false(bt_sig_stdwh_secret_ok("whsec_abc"));
    assert_false(bt_sig_stdwh_secret_ok(NULL));
    assert_int_equal(
        bt_sig_stdwh_sign(secrets[0], "msg_1", 1700000000, body, sizeof(body) - 1, &sig), 0);
    assert_int_equal(strncmp(sig, "v1,", 3), 0);
    assert_int_equal(
        wh_verify(secrets, 1, "msg_1", "1700000000", body, sizeof(body) - 1, sig, 1700000100, why),
        0);
    assert_int_equal(
        wh_verify(secrets, 1, "msg_2", "1700000000", body, sizeof(body) - 1, sig, 1700000100, why),
        BT_EAUTH);
    bt_free(sig);
    assert_int_equal(bt_sig_stdwh_sign("whsec_***", "msg_1", 1, body, 2, &sig), BT_EINVAL);
    assert_null(sig);
}

static void slack_v0(void **state)
{
    static const char *const wrong[] = {"8f742231b10e8888abcd99yyyzzz85a6"};
    const char *body = SLACK_BODY;
    size_t len = strlen(body);
    char why[128], sig[BT_SIG_SLACK_LEN];

    (void)state;
    bt_sig_slack_sign(slack_secrets[0], SLACK_TS, body, len, sig);
    assert_string_equal(sig, SLACK_SIG);
    assert_int_equal(bt_sig_slack_verify(slack_secrets, 1, SLACK_TS, body, len, SLACK_SIG,
                                         1531420618, why, sizeof(why)),
                     0);
    assert_int_equal(bt_sig_slack_verify(slack_secrets, 1, SLACK_TS, body, len - 1, SLACK_SIG,
                                         1531420618, why, sizeof(why)),
                     BT_EAUTH);
    assert_int_equal(bt_sig_slack_verify(wrong, 1, SLACK_TS, body, len, SLACK_SIG, 1531420618, why,
                                         sizeof(why)),
                     BT_EAUTH);
    assert_int_equal(bt_sig_slack_verify(slack_secrets, 1, SLACK_TS, body, len, SLACK_SIG,
                                         1531420618 + 301, why, sizeof(why)),
                     BT_EAUTH);
    assert_string_equal(why, "timestamp outside the 5-minute window");
    assert_int_equal(bt_sig_slack_verify(slack_secrets, 1, SLACK_TS, body, len, SLACK_SIG + 3,
                                         1531420618, why, sizeof(why)),
                     BT_EAUTH);
    assert_string_equal(why, "malformed X-Slack-Signature");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hubspot_v3_vector),     cmocka_unit_test(hubspot_v3_refusals),
        cmocka_unit_test(hubspot_v3_rotation),   cmocka_unit_test(hubspot_uri_escapes),
        cmocka_unit_test(hubspot_v1_vector),     cmocka_unit_test(stdwh_vector),
        cmocka_unit_test(stdwh_refusals),        cmocka_unit_test(stdwh_lists_and_rotation),
        cmocka_unit_test(stdwh_sign_round_trip), cmocka_unit_test(slack_v0),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
