#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "webassets.h"

static const char *const pages[] = {"dashboard.html", "panel.html"};

/* The page NAME as embedded; fails the test, saying why, when it is not. */
static const char *page(const char *name, size_t *len)
{
    const char *type = NULL;
    const char *data = bt_web_asset(name, len, &type);

    if (!data)
        fail_msg("%s is not embedded: the build must call bt_web_embed(baton) "
                 "from lib/web/embed.cmake",
                 name);
    assert_non_null(type);
    assert_int_equal(strncmp(type, "text/html", 9), 0);
    return data;
}

static bool contains_ci(const char *data, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++)
        if (!strncasecmp(data + i, needle, n))
            return true;
    return false;
}

static void both_pages_are_embedded_as_html(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        size_t len = 0;
        const char *data = page(pages[i], &len);

        assert_true(len > 1000);
        assert_int_equal(strncasecmp(data, "<!doctype html>", 15), 0);
        /* NUL-terminated, and no NUL inside: usable as a C string too. */
        assert_int_equal(data[len], '\0');
        assert_int_equal(strlen(data), len);
        assert_true(contains_ci(data, len, "</html>"));
    }
}

/* The embedded bytes are exactly the files in lib/web/: a page edited
 * without rebuilding, or mangled on the way in, shows up here. */
static void pages_match_the_source_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        char *rel = bt_asprintf("lib/web/%s", pages[i]);
        char *path = bt_test_source_path(rel);
        size_t want_len, len;
        char *want = bt_test_read_file(path, &want_len);
        const char *data = page(pages[i], &len);

        assert_int_equal(len, want_len);
        assert_memory_equal(data, want, len);
        bt_free(want);
        free(path);
        bt_free(rel);
    }
}

static void unknown_names_get_null(void **state)
{
    static const char *const bad[] = {
        "",
        "dashboard",
        "dashboard.htm",
        "/dashboard.html",
        "../web/panel.html",
        "DASHBOARD.HTML",
        "panel.html ",
        "embed.cmake",
        "webassets_data.h",
    };
    size_t len = 123;
    const char *type = "untouched";

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = 123;
        type = "untouched";
        if (bt_web_asset(bad[i], &len, &type))
            fail_msg("\"%s\" should not be found", bad[i]);
        assert_int_equal(len, 0);
        assert_null(type);
    }
    assert_null(bt_web_asset(NULL, &len, &type));
    assert_null(bt_web_asset("nope", NULL, NULL));
    /* The out-parameters are optional on success too. */
    assert_non_null(bt_web_asset("panel.html", NULL, NULL));
}

/* The pages must work with no network but the daemon's own: nothing in them
 * may point at another host. They carry no link data of their own (links
 * come from the JSON at run time), so any absolute or protocol-relative URL
 * is a mistake; even the SVG namespace is taken from the parser at run time
 * rather than written out. */
static void pages_reference_no_outside_host(void **state)
{
    static const char *const outside[] = {
        "http://",     "https://", "//cdn",    "src=\"//", "src='//", "href=\"//",
        "href='//",    "url(//",   "url(\"//", "url('//",  "@import", "<link rel=\"stylesheet",
        "<script src", "<iframe",  "ws://",    "wss://",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        size_t len;
        const char *data = page(pages[i], &len);

        for (size_t j = 0; j < sizeof(outside) / sizeof(outside[0]); j++)
            if (contains_ci(data, len, outside[j]))
                fail_msg("%s contains \"%s\"", pages[i], outside[j]);
    }
}

/* The ids the daemon's browser tests and the contract rely on. */
static void pages_carry_their_stable_ids(void **state)
{
    static const struct {
        const char *page, *needle;
    } ids[] = {
        {"dashboard.html", "id=\"funnel\""},
        {"dashboard.html", "id=\"open-rate-stage\""},
        {"dashboard.html", "id=\"open-rate-rep\""},
        {"dashboard.html", "id=\"shelfware\""},
        {"dashboard.html", "id=\"ignored\""},
        {"dashboard.html", "id=\"opens-over-time\""},
        {"dashboard.html", "id=\"win-rate\""},
        {"dashboard.html", "id=\"filter-since\""},
        {"dashboard.html", "id=\"filter-until\""},
        {"dashboard.html", "id=\"filter-version\""},
        {"dashboard.html", "/v1/reports/adoption"},
        {"dashboard.html", "/v1/reports/opens"},
        {"dashboard.html", "/v1/motion/versions"},
        {"panel.html", "id=\"suggestions\""},
        {"panel.html", "id=\"status\""},
        {"panel.html", "data-delivery-id"},
        {"panel.html", "EventSource"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        size_t len;
        const char *data = page(ids[i].page, &len);

        if (!contains_ci(data, len, ids[i].needle))
            fail_msg("%s lacks %s", ids[i].page, ids[i].needle);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_pages_are_embedded_as_html),
        cmocka_unit_test(pages_match_the_source_files),
        cmocka_unit_test(unknown_names_get_null),
        cmocka_unit_test(pages_reference_no_outside_host),
        cmocka_unit_test(pages_carry_their_stable_ids),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
