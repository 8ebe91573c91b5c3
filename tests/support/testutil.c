#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static char *join(const char *env, const char *fallback, const char *rel)
{
    const char *base = getenv(env);

    return bt_asprintf("%s/%s", base && *base ? base : fallback, rel);
}

char *bt_test_source_path(const char *rel)
{
    return join("BATON_SOURCE_DIR", ".", rel);
}

char *bt_test_fixture_path(const char *rel)
{
    return join("BATON_FIXTURES", "../shared/fixtures", rel);
}

char *bt_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct bt_buf b;
    char chunk[4096];
    size_t n;

    if (!f)
        fail_msg("cannot open %s", path);
    bt_buf_init(&b, 64u << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(bt_buf_add(&b, chunk, n), 0);
    fclose(f);
    if (len)
        *len = b.len;
    return bt_buf_steal(&b);
}

char *bt_test_read_fixture(const char *rel, size_t *len)
{
    char *path = bt_test_fixture_path(rel);
    size_t n;
    char *data = bt_test_read_file(path, &n);

    free(path);
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        data[--n] = '\0';
    if (len)
        *len = n;
    return data;
}
