#include "testutil.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crm.h"
#include "diag.h"
#include "mem.h"
#include "motion.h"

extern const struct bt_crm_ops bt_crm_salesforce;

static struct bt_motion *motion;

#define ORG "00D5g000000AbCdEAK"

static const char *const tokens[] = {"old-token-4c1f", "tok-9f8e7d6c5b4a"};

static const struct bt_crm_auth auth = {
    .organization_id = ORG,
    .path_tokens = tokens,
    .n_path_tokens = 2,
};

/* ---- helpers ----------------------------------------------------------- */

static struct bt_request request(const char *body, size_t len, const char *token)
{
    struct bt_request req = {
        .method = "POST",
        .public_url = "https://baton.example.com/v1/webhooks/salesforce/tok",
        .path_token = token,
        .body = body,
        .body_len = len,
        .now = 1716995520,
    };
    return req;
}

static int parse_len(const char *body, size_t len, struct bt_changes *out, char *why,
                     size_t why_len)
{
    struct bt_request req = request(body, len, "tok-9f8e7d6c5b4a");

    why[0] = '\0';
    return bt_crm_salesforce.parse(motion, &req, out, why, why_len);
}

static void parse_ok(const char *body, struct bt_changes *out)
{
    char why[256];

    bt_changes_init(out);
    if (parse_len(body, strlen(body), out, why, sizeof(why)) != 0)
        fail_msg("parse failed: %s", why);
}

/* Parsing fails with BT_EINVAL and a reason containing WANT, and the list
 * is left as it was. */
static void parse_fails(const char *body, const char *want)
{
    struct bt_changes out;
    struct bt_change *pre;
    char why[256];

    bt_changes_init(&out);
    pre = bt_changes_add(&out);
    pre->event_id = bt_strdup("earlier");
    pre->deal_id = bt_strdup("1");
    assert_int_equal(parse_len(body, strlen(body), &out, why, sizeof(why)), BT_EINVAL);
    if (!strstr(why, want))
        fail_msg("reason \"%s\" lacks \"%s\"", why, want);
    assert_int_equal(out.n, 1);
    assert_string_equal(out.v[0].event_id, "earlier");
    bt_changes_free(&out);
}

static int verify(const char *body, const char *token, const struct bt_crm_auth *a, char *why,
                  size_t why_len)
{
    struct bt_request req = request(body, body ? strlen(body) : 0, token);

    why[0] = '\0';
    return bt_crm_salesforce.verify(a, &req, why, why_len);
}

static void assert_field(const struct bt_change *c, const char *name, const char *value)
{
    if (!bt_fields_has(&c->fields, name))
        fail_msg("field %s missing", name);
    if (value)
        assert_string_equal(bt_fields_get(&c->fields, name), value);
    else
        assert_null(bt_fields_get(&c->fields, name));
}

#define ENVELOPE_HEAD                                                                   \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"                                        \
    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "    \
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"            \
    "<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"                 \
    "<OrganizationId>" ORG "</OrganizationId><ActionId>04k5g000000XyZaAAC</ActionId>"
#define ENVELOPE_TAIL "</notifications></soapenv:Body></soapenv:Envelope>"
#define SOBJECT_OPEN                                                                    \
    "<sObject xsi:type=\"sf:Opportunity\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"

/* An envelope of N notifications: a new string (bt_free). */
static char *envelope(size_t n)
{
    struct bt_buf b;

    bt_buf_init(&b, 1u << 24);
    assert_int_equal(bt_buf_adds(&b, ENVELOPE_HEAD), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(bt_buf_printf(&b,
                                       "<Notification><Id>04l5g00000N%06zu</Id>" SOBJECT_OPEN
                                       "<sf:Id>0065g00000D%06zu</sf:Id>"
                                       "<sf:StageName>Discovery Call</sf:StageName>"
                                       "</sObject></Notification>",
                                       i, i),
                         0);
    assert_int_equal(bt_buf_adds(&b, ENVELOPE_TAIL), 0);
    return bt_buf_steal(&b);
}

static int setup(void **state)
{
    struct bt_diags d;
    char *path = bt_test_source_path("config/motion.example.yaml");
    int ret;

    (void)state;
    bt_diags_init(&d);
    ret = bt_motion_load(path, &motion, &d);
    if (ret != 0)
        bt_diags_print(&d, stderr);
    bt_diags_free(&d);
    free(path);
    return ret;
}

static int teardown(void **state)
{
    (void)state;
    bt_motion_unref(motion);
    motion = NULL;
    return 0;
}

/* ---- the fixture ------------------------------------------------------- */

static void fixture(void **state)
{
    size_t len;
    char *body = bt_test_read_fixture("salesforce/outbound-message.xml", &len);
    struct bt_changes out;
    const struct bt_change *c;
    char why[256];

    (void)state;
    bt_changes_init(&out);
    if (parse_len(body, len, &out, why, sizeof(why)) != 0)
        fail_msg("parse failed: %s", why);
    assert_int_equal(out.n, 1);
    c = &out.v[0];
    assert_int_equal(c->source, BT_SRC_SALESFORCE);
    assert_int_equal(c->kind, BT_CHANGE_UPDATE);
    assert_string_equal(c->event_id, "04l5g00000AbCdEAAV");
    assert_string_equal(c->deal_id, "0065g00000XyZ12AAB");
    assert_int_equal(c->occurred_at, 0); /* no LastModifiedDate: "now" */
    assert_field(c, "stage", "presentationscheduled");
    assert_field(c, "competitor", "Acme"); /* folded to a motion id when matched */
    assert_field(c, "owner", "0055g00000Qwert1AAA");
    assert_false(bt_fields_has(&c->fields, "Id"));
    assert_false(bt_fields_has(&c->fields, "name")); /* not sent: unchanged */
    bt_changes_free(&out);

    assert_int_equal(verify(body, "tok-9f8e7d6c5b4a", &auth, why, sizeof(why)), 0);
    free(body);
}

static void ack_matches_fixture(void **state)
{
    char *ack = bt_test_read_fixture("salesforce/ack.xml", NULL);

    (void)state;
    assert_string_equal(bt_crm_salesforce.ok_body, ack);
    assert_string_equal(bt_crm_salesforce.ok_content_type, "text/xml");
    assert_ptr_equal(bt_crm_find(BT_SRC_SALESFORCE), &bt_crm_salesforce);
    free(ack);
}

/* ---- authentication ---------------------------------------------------- */

static void path_token(void **state)
{
    char *body = envelope(1), why[128];
    struct bt_crm_auth none = {.organization_id = ORG};

    (void)state;
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4a", &auth, why, sizeof(why)), 0);
    assert_int_equal(verify(body, "old-token-4c1f", &auth, why, sizeof(why)), 0); /* rotation */
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4b", &auth, why, sizeof(why)), BT_EAUTH);
    assert_string_equal(why, "wrong path token");
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4", &auth, why, sizeof(why)), BT_EAUTH);
    assert_string_equal(why, "wrong path token");
    assert_int_equal(verify(body, "", &auth, why, sizeof(why)), BT_EAUTH);
    assert_int_equal(verify(body, NULL, &auth, why, sizeof(why)), BT_EAUTH);
    assert_string_equal(why, "missing path token");
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4a", &none, why, sizeof(why)), BT_EAUTH);
    bt_free(body);
}

static void organization(void **state)
{
    char *body = envelope(1), why[128];
    struct bt_crm_auth other = auth, short_id = auth, unset = auth;

    (void)state;
    other.organization_id = "00D5g000000ZzZzEAK";
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4a", &other, why, sizeof(why)), BT_EAUTH);
    assert_string_equal(why, "wrong OrganizationId");
    /* The 15-character form of the same id. */
    short_id.organization_id = "00D5g000000AbCd";
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4a", &short_id, why, sizeof(why)), 0);
    short_id.organization_id = "00D5g000000Abcd";
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4a", &short_id, why, sizeof(why)), BT_EAUTH);
    unset.organization_id = NULL;
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4a", &unset, why, sizeof(why)), 0);
    /* A body with no readable organization is left to parse() for a 400. */
    assert_int_equal(verify("<x/>", "tok-9f8e7d6c5b4a", &auth, why, sizeof(why)), 0);
    bt_free(body);
}

/* ---- bodies ------------------------------------------------------------ */

static void nil_clears_and_time(void **state)
{
    struct bt_changes out;

    (void)state;
    parse_ok(ENVELOPE_HEAD "<Notification><Id>04l5g00000AbCdFAAV</Id>" SOBJECT_OPEN
                           "<sf:Id>0065g00000XyZ12AAB</sf:Id>"
                           "<sf:Main_Competitor__c xsi:nil=\"true\"/>"
                           "<sf:Amount>48000.50</sf:Amount>"
                           "<sf:Name>Umbrella &amp; Co</sf:Name>"
                           "<sf:LastModifiedDate>2024-05-29T15:11:55.000Z</sf:LastModifiedDate>"
                           "<sf:Account><sf:Name>Umbrella</sf:Name></sf:Account>"
                           "</sObject></Notification>" ENVELOPE_TAIL,
             &out);
    assert_int_equal(out.n, 1);
    assert_field(&out.v[0], "competitor", NULL);
    assert_field(&out.v[0], "amount", "48000.50");
    assert_field(&out.v[0], "name", "Umbrella & Co");
    assert_int_equal(out.v[0].occurred_at, 1716995515000LL);
    bt_changes_free(&out);
}

static void many_notifications(void **state)
{
    char *body = envelope(100);
    struct bt_changes out;

    (void)state;
    parse_ok(body, &out);
    assert_int_equal(out.n, 100);
    assert_string_equal(out.v[99].event_id, "04l5g00000N000099");
    assert_string_equal(out.v[99].deal_id, "0065g00000D000099");
    assert_field(&out.v[99], "stage", "Discovery Call"); /* not in `values`: as sent */
    bt_changes_free(&out);
    bt_free(body);

    body = envelope(101);
    parse_fails(body, "more than 100 Notifications");
    bt_free(body);
}

static void other_objects_ignored(void **state)
{
    struct bt_changes out;

    (void)state;
    parse_ok(ENVELOPE_HEAD "<Notification><Id>04l5g00000AbCdGAAV</Id>"
                           "<sObject xsi:type=\"sf:Lead\" "
                           "xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">"
                           "<sf:Id>00Q5g00000AbCdEAAV</sf:Id><sf:Status>Open</sf:Status>"
                           "</sObject></Notification>" ENVELOPE_TAIL,
             &out);
    assert_int_equal(out.v[0].kind, BT_CHANGE_IGNORE);
    assert_int_equal(out.v[0].fields.n, 0);
    bt_changes_free(&out);
}

static void malformed(void **state)
{
    (void)state;
    parse_fails("", "empty body");
    parse_fails("<soapenv:Envelope", "malformed XML");
    parse_fails("{\"not\":\"xml\"}", "malformed XML");
    parse_fails("<Envelope><Body/></Envelope>", "not a SOAP 1.1 Envelope");
    parse_fails("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                "<soapenv:Header/></soapenv:Envelope>",
                "no Body");
    parse_fails("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                "<soapenv:Body><notifications/></soapenv:Body></soapenv:Envelope>",
                "no outbound-message notifications");
    parse_fails("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                "<soapenv:Body><notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
                "<Notification/></notifications></soapenv:Body></soapenv:Envelope>",
                "no OrganizationId");
    parse_fails(ENVELOPE_HEAD ENVELOPE_TAIL, "no Notification");
    parse_fails(ENVELOPE_HEAD "<Notification>" SOBJECT_OPEN "<sf:Id>0065g00000XyZ12AAB</sf:Id>"
                              "</sObject></Notification>" ENVELOPE_TAIL,
                "Notification[0]: expected an Id");
    parse_fails(ENVELOPE_HEAD "<Notification><Id>04l5g00000AbCdEAAV</Id></Notification>"
                ENVELOPE_TAIL,
                "Notification[0]: expected an sObject");
    parse_fails(ENVELOPE_HEAD "<Notification><Id>a</Id>" SOBJECT_OPEN "<sf:Id>b</sf:Id>"
                              "</sObject></Notification>"
                              "<Notification><Id>c</Id>" SOBJECT_OPEN
                              "<sf:StageName>x</sf:StageName></sObject></Notification>"
                ENVELOPE_TAIL,
                "Notification[1]: sObject has no Id");
    parse_fails(ENVELOPE_HEAD "<Notification><Id>a</Id>" SOBJECT_OPEN "<sf:Id>b</sf:Id>"
                              "<sf:LastModifiedDate>soon</sf:LastModifiedDate>"
                              "</sObject></Notification>" ENVELOPE_TAIL,
                "LastModifiedDate");
}

static int loader_calls;

static xmlParserInputPtr counting_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    (void)url, (void)id, (void)ctxt;
    loader_calls++;
    return NULL;
}

/* XXE and entity bombs: any DOCTYPE is refused before a declaration in it is
 * read, so no entity is ever loaded or expanded. */
static void doctype_refused(void **state)
{
    char path[] = "/tmp/baton-xxe-XXXXXX", *body;
    int fd = mkstemp(path);
    xmlExternalEntityLoader old = xmlGetExternalEntityLoader();
    struct bt_changes out;
    char why[256];

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "XXE-MARKER", 10), 10);
    close(fd);
    body = bt_asprintf("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file://%s\">]>"
                       "<soapenv:Envelope "
                       "xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                       "<soapenv:Body><notifications "
                       "xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
                       "<OrganizationId>&e;</OrganizationId><Notification><Id>&e;</Id>"
                       "<sObject><Id>&e;</Id></sObject></Notification>"
                       "</notifications></soapenv:Body></soapenv:Envelope>",
                       path);
    loader_calls = 0;
    xmlSetExternalEntityLoader(counting_loader);
    bt_changes_init(&out);
    assert_int_equal(parse_len(body, strlen(body), &out, why, sizeof(why)), BT_EINVAL);
    assert_string_equal(why, "DOCTYPE not allowed");
    assert_null(strstr(why, "XXE-MARKER"));
    assert_int_equal(out.n, 0);
    /* verify() leaves it to parse(): nothing is read there either. */
    assert_int_equal(verify(body, "tok-9f8e7d6c5b4a", &auth, why, sizeof(why)), 0);
    xmlSetExternalEntityLoader(old);
    assert_int_equal(loader_calls, 0);
    unlink(path);
    bt_free(body);

    parse_fails("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\">"
                "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><x>&b;</x>",
                "DOCTYPE not allowed");
    parse_fails("<!DOCTYPE soapenv:Envelope SYSTEM \"http://example.com/x.dtd\">"
                "<soapenv:Envelope/>",
                "DOCTYPE not allowed");
    /* Without a DTD an entity reference is simply undefined. */
    parse_fails(ENVELOPE_HEAD "<Notification><Id>&e;</Id></Notification>" ENVELOPE_TAIL,
                "malformed XML");
}

static int generic_errors;

static void count_generic(void *ctx, const char *msg, ...)
{
    (void)ctx, (void)msg;
    generic_errors++;
}

/* A body that libxml2 takes for UCS-4 and fails to convert: the failure is
 * reported, never printed through libxml2's global handler. */
static void encoding_error_quiet(void **state)
{
    static const char body[] = "<\0\0\0\xf5?><!DOCTYPE x [<s";
    struct bt_request req;
    struct bt_changes out;
    char why[256];

    (void)state;
    generic_errors = 0;
    xmlSetGenericErrorFunc(NULL, count_generic);
    bt_changes_init(&out);
    assert_int_equal(parse_len(body, sizeof(body) - 1, &out, why, sizeof(why)), BT_EINVAL);
    assert_non_null(strstr(why, "malformed XML"));
    req = request(body, sizeof(body) - 1, "tok-9f8e7d6c5b4a");
    assert_int_equal(bt_crm_salesforce.verify(&auth, &req, why, sizeof(why)), 0);
    assert_int_equal(generic_errors, 0);
    xmlSetGenericErrorFunc(NULL, NULL);
}

static void too_big(void **state)
{
    size_t len = (4u << 20) + 1;
    char *body = bt_malloc(len), why[128];
    struct bt_changes out;

    (void)state;
    memset(body, ' ', len);
    bt_changes_init(&out);
    assert_int_equal(parse_len(body, len, &out, why, sizeof(why)), BT_EINVAL);
    assert_non_null(strstr(why, "larger than"));
    bt_free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture),
        cmocka_unit_test(ack_matches_fixture),
        cmocka_unit_test(path_token),
        cmocka_unit_test(organization),
        cmocka_unit_test(nil_clears_and_time),
        cmocka_unit_test(many_notifications),
        cmocka_unit_test(other_objects_ignored),
        cmocka_unit_test(malformed),
        cmocka_unit_test(doctype_refused),
        cmocka_unit_test(encoding_error_quiet),
        cmocka_unit_test(too_big),
    };

    bt_mem_init();
    return cmocka_run_group_tests(tests, setup, teardown);
}
