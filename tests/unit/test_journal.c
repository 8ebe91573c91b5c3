#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "mem.h"

struct fixture {
    char dir[64];
    char *path;
    uv_loop_t loop;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    strcpy(f->dir, "/tmp/baton-journal-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->path = bt_asprintf("%s/journal", f->dir);
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char *replay = bt_asprintf("%s.replay", f->path);

    unlink(f->path);
    unlink(replay);
    rmdir(f->dir);
    bt_free(replay);
    bt_free(f->path);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void count_cb(int err, void *ud)
{
    int *n = ud;

    assert_int_equal(err, 0);
    (*n)++;
}

static void appends_are_durable_then_acknowledged(void **state)
{
    struct fixture *f = *state;
    struct bt_journal *j;
    int acked = 0;
    char **lines;
    size_t n;

    assert_int_equal(bt_journal_open(&f->loop, f->path, 1 << 20, &j), 0);
    assert_int_equal(bt_journal_append(j, "{\"a\":1}", 7, count_cb, &acked), 0);
    assert_int_equal(bt_journal_append(j, "{\"b\":2}", 7, count_cb, &acked), 0);
    assert_int_equal(acked, 0); /* not before the fdatasync completed */
    assert_int_equal(bt_journal_appends_in_flight(j), 2);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(acked, 2);
    assert_int_equal(bt_journal_bytes(j), 16);

    assert_int_equal(bt_journal_take(j, &lines, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(lines[0], "{\"a\":1}");
    assert_string_equal(lines[1], "{\"b\":2}");
    bt_journal_lines_free(lines);
    /* New appends go to a fresh file while the old one is replayed. */
    assert_int_equal(bt_journal_append(j, "{\"c\":3}", 7, count_cb, &acked), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(bt_journal_bytes(j), 24);
    bt_journal_replayed(j);
    assert_int_equal(bt_journal_bytes(j), 8);
    assert_int_equal(bt_journal_take(j, &lines, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(lines[0], "{\"c\":3}");
    bt_journal_lines_free(lines);
    bt_journal_replayed(j);
    assert_int_equal(bt_journal_take(j, &lines, &n), 0);
    assert_int_equal(n, 0);
    bt_journal_close(j);
}

static void a_full_journal_refuses_at_once(void **state)
{
    struct fixture *f = *state;
    struct bt_journal *j;
    int acked = 0;

    assert_int_equal(bt_journal_open(&f->loop, f->path, 20, &j), 0);
    assert_int_equal(bt_journal_append(j, "0123456789", 10, count_cb, &acked), 0);
    assert_int_equal(bt_journal_append(j, "0123456789", 10, count_cb, &acked), BT_EFULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(acked, 1);
    bt_journal_close(j);
}

static void survives_a_restart_and_skips_a_torn_record(void **state)
{
    struct fixture *f = *state;
    struct bt_journal *j;
    FILE *fp = fopen(f->path, "w");
    int acked = 0;
    char **lines;
    size_t n;

    /* A crash left a torn last record. */
    fputs("{\"kept\":1}\n{\"torn\":", fp);
    fclose(fp);
    assert_int_equal(bt_journal_open(&f->loop, f->path, 1 << 20, &j), 0);
    /* The next record starts on a line of its own, so it is not lost. */
    assert_int_equal(bt_journal_append(j, "{\"next\":2}", 10, count_cb, &acked), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(acked, 1);
    assert_int_equal(bt_journal_take(j, &lines, &n), 0);
    /* The torn fragment comes back as a line of its own, which the replay
     * reports and skips (it was never acknowledged). */
    assert_int_equal(n, 3);
    assert_string_equal(lines[0], "{\"kept\":1}");
    assert_string_equal(lines[1], "{\"torn\":");
    assert_string_equal(lines[2], "{\"next\":2}");
    bt_journal_lines_free(lines);
    bt_journal_close(j);

    /* Not marked replayed: the next start offers the same records again. */
    assert_int_equal(bt_journal_open(&f->loop, f->path, 1 << 20, &j), 0);
    assert_int_equal(bt_journal_take(j, &lines, &n), 0);
    assert_int_equal(n, 3);
    bt_journal_lines_free(lines);
    bt_journal_replayed(j);
    assert_int_equal(bt_journal_take(j, &lines, &n), 0);
    assert_int_equal(n, 0);
    bt_journal_lines_free(lines);
    bt_journal_close(j);
}

static void one_journal_one_process(void **state)
{
    struct fixture *f = *state;
    struct bt_journal *j, *k = NULL;
    pid_t pid;
    int status;

    assert_int_equal(bt_journal_open(&f->loop, f->path, 1 << 20, &j), 0);
    pid = fork();
    if (pid == 0) {
        uv_loop_t loop;

        uv_loop_init(&loop);
        _exit(bt_journal_open(&loop, f->path, 1 << 20, &k) == BT_EEXIST ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    bt_journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(appends_are_durable_then_acknowledged, setup, teardown),
        cmocka_unit_test_setup_teardown(a_full_journal_refuses_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(survives_a_restart_and_skips_a_torn_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(one_journal_one_process, setup, teardown),
    };
    bt_mem_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
