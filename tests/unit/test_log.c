#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

/* Runs FN with stderr sent to a file and returns what it printed. */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/baton-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    size_t len;
    char *out;

    fflush(stderr);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    out = bt_test_read_file(path, &len);
    unlink(path);
    return out;
}

static void levels_body(void)
{
    bt_log_set_timestamps(0);
    bt_log_set_level(BT_LOG_WARN);
    bt_debug("hidden debug");
    bt_info("hidden info");
    bt_warn("shown %d", 1);
    bt_error("shown %s", "two");
    bt_log_set_level(BT_LOG_INFO);
}

static void only_lines_at_or_above_the_level(void **state)
{
    char *out = capture(levels_body);

    (void)state;
    assert_string_equal(out, "warn: shown 1\nerror: shown two\n");
    bt_free(out);
}

static void newline_body(void)
{
    bt_log_set_timestamps(0);
    bt_warn("a message\nwith\r\na forged line");
}

static void one_event_stays_on_one_line(void **state)
{
    char *out = capture(newline_body);

    (void)state;
    assert_string_equal(out, "warn: a message with  a forged line\n");
    bt_free(out);
}

static void long_body(void)
{
    char big[10000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bt_log_set_timestamps(1);
    bt_info("%s", big);
}

static void lines_are_capped_and_stamped(void **state)
{
    char *out = capture(long_body);

    (void)state;
    assert_true(strlen(out) <= 4096);
    assert_int_equal(out[4], '-');          /* 2026-12-04T... */
    assert_non_null(strstr(out, "Z info: xxx"));
    bt_free(out);
}

static void level_names_parse(void **state)
{
    (void)state;
    assert_int_equal(bt_log_level_parse("debug"), BT_LOG_DEBUG);
    assert_int_equal(bt_log_level_parse("WARN"), BT_LOG_WARN);
    assert_int_equal(bt_log_level_parse("loud"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_lines_at_or_above_the_level),
        cmocka_unit_test(one_event_stays_on_one_line),
        cmocka_unit_test(lines_are_capped_and_stamped),
        cmocka_unit_test(level_names_parse),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
