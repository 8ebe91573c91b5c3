#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crm.h"
#include "mem.h"

static void registry(void **state)
{
    (void)state;
    assert_non_null(bt_crm_find(BT_SRC_HUBSPOT));
    assert_string_equal(bt_crm_find(BT_SRC_HUBSPOT)->name, "hubspot");
    assert_non_null(bt_crm_find(BT_SRC_GENERIC));
    assert_string_equal(bt_crm_find(BT_SRC_GENERIC)->name, "generic");
    for (int s = 0; s < BT_SRC_COUNT; s++) {
        const struct bt_crm_ops *ops = bt_crm_find((enum bt_source)s);

        if (!ops)
            continue;
        assert_int_equal(ops->source, s);
        assert_string_equal(ops->name, bt_source_name((enum bt_source)s));
        assert_non_null(ops->verify);
        assert_non_null(ops->parse);
        assert_non_null(ops->ok_content_type);
        assert_non_null(ops->ok_body);
    }
    assert_null(bt_crm_find(BT_SRC_COUNT));
}

static void changes_grow(void **state)
{
    struct bt_changes c;

    (void)state;
    bt_changes_init(&c);
    for (int i = 0; i < 100; i++) {
        struct bt_change *e = bt_changes_add(&c);

        assert_null(e->event_id);
        assert_int_equal(e->fields.n, 0);
        e->event_id = bt_asprintf("e%d", i);
        e->deal_id = bt_strdup("d");
        bt_fields_set(&e->fields, "stage", "x");
    }
    assert_int_equal(c.n, 100);
    assert_string_equal(c.v[99].event_id, "e99");
    bt_changes_free(&c);
    assert_int_equal(c.n, 0);
    bt_changes_free(&c);
}

static void assert_same_change(const struct bt_change *a, const struct bt_change *b)
{
    assert_int_equal(a->source, b->source);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->event_id, b->event_id);
    assert_string_equal(a->deal_id, b->deal_id);
    assert_int_equal(a->occurred_at, b->occurred_at);
    assert_int_equal(a->fields.n, b->fields.n);
    for (size_t i = 0; i < a->fields.n; i++) {
        assert_string_equal(a->fields.v[i].name, b->fields.v[i].name);
        if (a->fields.v[i].value)
            assert_string_equal(a->fields.v[i].value, b->fields.v[i].value);
        else
            assert_null(b->fields.v[i].value);
    }
    assert_int_equal(a->n_merged, b->n_merged);
    for (size_t i = 0; i < a->n_merged; i++)
        assert_string_equal(a->merged_ids[i], b->merged_ids[i]);
}

static void free_change(struct bt_change *c)
{
    bt_free(c->event_id);
    bt_free(c->deal_id);
    bt_fields_free(&c->fields);
    for (size_t i = 0; i < c->n_merged; i++)
        bt_free(c->merged_ids[i]);
    bt_free(c->merged_ids);
}

static void change_json_round_trip(void **state)
{
    struct bt_changes c;
    struct bt_change back;
    json_t *j;
    char *text;

    (void)state;
    bt_changes_init(&c);
    struct bt_change *u = bt_changes_add(&c);
    u->source = BT_SRC_HUBSPOT;
    u->kind = BT_CHANGE_UPDATE;
    u->event_id = bt_strdup("62515:2410955:3816279340:18239440011:1717000000000");
    u->deal_id = bt_strdup("18239440011");
    u->occurred_at = 1717000000000;
    bt_fields_set(&u->fields, "stage", "contractsent");
    bt_fields_set(&u->fields, "competitor", NULL);
    bt_fields_set(&u->fields, "name", "Ünïcode \"quoted\"");

    struct bt_change *m = bt_changes_add(&c);
    m->source = BT_SRC_GENERIC;
    m->kind = BT_CHANGE_MERGE;
    m->event_id = bt_strdup("msg_1");
    m->deal_id = bt_strdup("D-1");
    m->occurred_at = -1000;
    m->merged_ids = bt_calloc(2, sizeof(char *));
    m->merged_ids[0] = bt_strdup("D-2");
    m->merged_ids[1] = bt_strdup("D-3");
    m->n_merged = 2;

    for (size_t i = 0; i < c.n; i++) {
        json_t *parsed;

        j = bt_change_to_json(&c.v[i]);
        /* Through text, as the journal and the inbox store it. */
        text = json_dumps(j, JSON_COMPACT);
        parsed = json_loads(text, 0, NULL);
        assert_int_equal(bt_change_from_json(parsed, &back), 0);
        assert_same_change(&c.v[i], &back);
        json_decref(parsed);
        json_decref(j);
        free(text);
        free_change(&back);
    }
    bt_changes_free(&c);
}

static void change_json_refusals(void **state)
{
    static const char *const bad[] = {
        "[]",
        "{}",
        "{\"source\":\"zoho\",\"kind\":\"update\",\"event_id\":\"e\",\"deal_id\":\"d\","
        "\"occurred_at\":1,\"fields\":{}}",
        "{\"source\":\"hubspot\",\"kind\":\"upsert\",\"event_id\":\"e\",\"deal_id\":\"d\","
        "\"occurred_at\":1,\"fields\":{}}",
        "{\"source\":\"hubspot\",\"kind\":\"update\",\"deal_id\":\"d\","
        "\"occurred_at\":1,\"fields\":{}}",
        "{\"source\":\"hubspot\",\"kind\":\"update\",\"event_id\":\"e\",\"deal_id\":7,"
        "\"occurred_at\":1,\"fields\":{}}",
        "{\"source\":\"hubspot\",\"kind\":\"update\",\"event_id\":\"e\",\"deal_id\":\"d\","
        "\"occurred_at\":\"1\",\"fields\":{}}",
        "{\"source\":\"hubspot\",\"kind\":\"update\",\"event_id\":\"e\",\"deal_id\":\"d\","
        "\"occurred_at\":1,\"fields\":{\"a\":\"x\",\"stage\":1}}",
        "{\"source\":\"hubspot\",\"kind\":\"update\",\"event_id\":\"e\",\"deal_id\":\"d\","
        "\"occurred_at\":1,\"fields\":[]}",
        "{\"source\":\"hubspot\",\"kind\":\"merge\",\"event_id\":\"e\",\"deal_id\":\"d\","
        "\"occurred_at\":1,\"fields\":{},\"merged_ids\":[\"a\",2]}",
        "{\"source\":\"hubspot\",\"kind\":\"merge\",\"event_id\":\"e\",\"deal_id\":\"d\","
        "\"occurred_at\":1,\"fields\":{},\"merged_ids\":\"a\"}",
    };
    struct bt_change c;

    (void)state;
    assert_int_equal(bt_change_from_json(NULL, &c), BT_EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);

        assert_non_null(j);
        assert_int_equal(bt_change_from_json(j, &c), BT_EINVAL);
        /* Left empty: nothing to free, nothing leaked. */
        assert_null(c.event_id);
        assert_null(c.deal_id);
        assert_int_equal(c.fields.n, 0);
        assert_int_equal(c.n_merged, 0);
        json_decref(j);
    }
}

static json_t *strict(const char *s, char *why)
{
    return bt_json_parse_strict(s, strlen(s), why, 160);
}

static char *nested(int depth, const char *open, const char *close)
{
    struct bt_buf b;

    bt_buf_init(&b, 1 << 20);
    for (int i = 0; i < depth; i++)
        assert_int_equal(bt_buf_adds(&b, open), 0);
    for (int i = 0; i < depth; i++)
        assert_int_equal(bt_buf_adds(&b, close), 0);
    return bt_buf_steal(&b);
}

static void json_strict(void **state)
{
    char why[160];
    json_t *j;
    char *s;

    (void)state;
    j = strict("{\"a\":[1,2.5,\"x\",null,true],\"b\":{\"c\":-9223372036854775808}}", why);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "b"), "c")), INT64_MIN);
    json_decref(j);

    assert_null(strict("{\"a\":1,\"a\":2}", why));
    assert_non_null(strstr(why, "duplicate"));
    assert_null(strict("[{\"x\":{\"k\":1,\"k\":1}}]", why));
    assert_non_null(strstr(why, "duplicate"));

    static const char *const huge[] = {"[99999999999999999999]", "[-99999999999999999999]",
                                       "[9223372036854775808]", "{\"a\":1e400}", "[-1e400]"};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        assert_null(strict(huge[i], why));
        assert_string_equal(why, "number out of range");
    }

    static const char *const garbage[] = {
        "", "not json", "{", "{} x", "{}{}", "[1,]", "{\"a\":\"\\u0000\"}", "{'a':1}", "[1] \x01"};
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        assert_null(strict(garbage[i], why));
        assert_true(strlen(why) > 0);
    }
    assert_null(strict("42", why));
    assert_null(strict("\"x\"", why));
    /* Bytes after the text, even NUL, are not ignored. */
    assert_null(bt_json_parse_strict("{}\0{}", 5, why, sizeof(why)));

    s = nested(64, "[", "]");
    j = strict(s, why);
    assert_non_null(j);
    json_decref(j);
    bt_free(s);
    s = nested(65, "[", "]");
    assert_null(strict(s, why));
    assert_string_equal(why, "nesting deeper than 64 levels");
    bt_free(s);
    s = nested(100, "{\"a\":", "}");
    assert_null(strict(s, why));
    assert_string_equal(why, "nesting deeper than 64 levels");
    bt_free(s);
    /* Brackets inside strings are text, not nesting. */
    s = nested(100, "[", "]");
    char *doc = bt_asprintf("{\"s\":\"%s\\\"[[[\",\"t\":\"\\\\\"}", s);
    j = strict(doc, why);
    assert_non_null(j);
    json_decref(j);
    bt_free(doc);
    bt_free(s);
}

static void times(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {
        {"2024-05-29T15:11:55Z", 1716995515000},
        {"2024-05-29t15:11:55z", 1716995515000},
        {"2024-05-29T15:11:55+00:00", 1716995515000},
        {"2024-05-29T15:11:55-00:00", 1716995515000},
        {"2024-05-29T15:11:55.724+02:00", 1716988315724},
        {"2024-05-29T13:11:55.7249999Z", 1716988315724},
        {"2024-05-29T13:11:55.7Z", 1716988315700},
        {"2024-05-29T18:41:55+05:30", 1716988315000},
        {"2024-05-29 15:11:55", 1716995515000},
        {"2024-05-29 17:11:55+02:00", 1716995515000},
        {"2000-02-29T00:00:00Z", 951782400000},
        {"1969-12-31T23:59:59Z", -1000},
        {"1970-01-01T00:00:00Z", 0},
        {"2016-12-31T23:59:60Z", 1483228800000},
    };
    static const char *const bad[] = {
        "",
        "2024",
        "2024-05-29",
        "2024-05-29T15:11:55",
        "2024-05-29T15:11Z",
        "2024-05-29T15:11:55 Z",
        "2024-05-29T15:11:55ZZ",
        "2024-05-29T15:11:55.Z",
        "2024-05-29T15:11:55+0200",
        "2024-05-29T15:11:55+02",
        "2024-05-29T15:11:55+24:00",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-05-29T24:00:00Z",
        "2024-05-29T23:60:00Z",
        "2024-05-29T23:59:61Z",
        "2024-5-29T15:11:55Z",
        "+2024-05-29T15:11:55Z",
        " 2024-05-29T15:11:55Z",
        "2024-05-29X15:11:55Z",
        "1716995515",
        "2024-05-29T15:11:55.1234567890123456789012345678901234567890Z",
    };
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ms = 0;
        assert_int_equal(bt_parse_time_ms(good[i].s, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (bt_parse_time_ms(bad[i], &ms) != BT_EINVAL)
            fail_msg("accepted %s", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry),
        cmocka_unit_test(changes_grow),
        cmocka_unit_test(change_json_round_trip),
        cmocka_unit_test(change_json_refusals),
        cmocka_unit_test(json_strict),
        cmocka_unit_test(times),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
