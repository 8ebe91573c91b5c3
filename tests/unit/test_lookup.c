#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "lookup.h"
#include "mem.h"

static struct bt_motion *example(void)
{
    char *path = bt_test_source_path("config/motion.example.yaml");
    struct bt_diags d;
    struct bt_motion *m = NULL;

    bt_diags_init(&d);
    assert_int_equal(bt_motion_load(path, &m, &d), 0);
    bt_diags_free(&d);
    bt_free(path);
    return m;
}

static void asks_for_every_field_matching_and_routing_read(void **state)
{
    struct bt_motion *m = example();
    char *props = bt_lookup_hubspot_properties(m);

    (void)state;
    /* Through the motion's hubspot field map, as HubSpot names them. */
    assert_non_null(strstr(props, "hubspot_owner_id"));
    assert_non_null(strstr(props, "dealstage"));
    assert_non_null(strstr(props, "competitor"));
    assert_non_null(strstr(props, "dealname"));
    assert_non_null(strstr(props, "industry"));
    assert_non_null(strstr(props, "amount"));
    assert_null(strstr(props, ",,"));
    bt_free(props);
    bt_motion_unref(m);
}

static void the_objects_api_answer_becomes_known_fields(void **state)
{
    struct bt_motion *m = example();
    size_t len;
    char *body = bt_test_read_fixture("hubspot/crm-deal-object.json", &len);
    struct bt_fields f;
    int64_t updated;

    (void)state;
    bt_fields_init(&f);
    assert_int_equal(bt_lookup_hubspot_parse(m, body, len, &f, &updated), 0);
    assert_string_equal(bt_fields_get(&f, "owner"), "882761034");
    assert_string_equal(bt_fields_get(&f, "stage"), "contractsent");
    assert_string_equal(bt_fields_get(&f, "competitor"), "Acme");
    assert_string_equal(bt_fields_get(&f, "name"), "Globex platform");
    assert_string_equal(bt_fields_get(&f, "amount"), "48000");
    /* Asked for and absent: known to be empty, so never asked again. */
    assert_true(bt_fields_has(&f, "industry"));
    assert_null(bt_fields_get(&f, "industry"));
    assert_true(updated == 1716995515000LL); /* 2024-05-29T15:11:55Z */
    bt_fields_free(&f);

    bt_fields_init(&f);
    assert_int_equal(bt_lookup_hubspot_parse(m, "{\"id\":1}", 8, &f, &updated), BT_EINVAL);
    assert_int_equal(bt_lookup_hubspot_parse(m, "not json", 8, &f, &updated), BT_EINVAL);
    bt_fields_free(&f);
    bt_free(body);
    bt_motion_unref(m);
}

static void only_hubspot_deals_missing_something_need_a_lookup(void **state)
{
    struct bt_motion *m = example();
    struct bt_fields f;

    (void)state;
    bt_fields_init(&f);
    bt_fields_set(&f, "stage", "contractsent");
    bt_fields_set(&f, "competitor", "Acme");
    assert_true(bt_lookup_needed(m, BT_SRC_HUBSPOT, &f)); /* no owner */
    assert_false(bt_lookup_needed(m, BT_SRC_PIPEDRIVE, &f)); /* sends the whole record */
    bt_fields_set(&f, "owner", "882761034");
    assert_true(bt_lookup_needed(m, BT_SRC_HUBSPOT, &f)); /* plays read industry, amount */
    bt_fields_set(&f, "industry", NULL);
    bt_fields_set(&f, "amount", "100");
    assert_false(bt_lookup_needed(m, BT_SRC_HUBSPOT, &f));
    bt_fields_free(&f);
    bt_motion_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(asks_for_every_field_matching_and_routing_read),
        cmocka_unit_test(the_objects_api_answer_becomes_known_fields),
        cmocka_unit_test(only_hubspot_deals_missing_something_need_a_lookup),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
