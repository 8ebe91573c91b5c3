#include "mem.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "baton: out of memory (%zu bytes)\n", n);
    abort();
}

void *bt_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        oom(n);
    return p;
}

void *bt_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
        oom(n * size);
    return p;
}

void *bt_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        oom(n);
    return q;
}

void *bt_reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        oom(SIZE_MAX);
    return bt_realloc(p, n * size);
}

char *bt_strdup(const char *s)
{
    return bt_strndup(s, strlen(s));
}

char *bt_strndup(const char *s, size_t n)
{
    char *d = bt_malloc(n + 1);

    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *bt_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort(); /* only a bad format string gets here */
    s = bt_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void bt_free(void *p)
{
    free(p);
}

static void *json_malloc(size_t n)
{
    return bt_malloc(n);
}

void bt_mem_init(void)
{
    json_set_alloc_funcs(json_malloc, bt_free);
}

/* Arena: a list of chunks, bump-allocated. */
struct chunk {
    struct chunk *next;
    size_t used, size;
    max_align_t data[];
};

struct bt_arena {
    struct chunk *head;
};

enum { CHUNK_MIN = 16 * 1024 };

struct bt_arena *bt_arena_new(void)
{
    return bt_calloc(1, sizeof(struct bt_arena));
}

void bt_arena_free(struct bt_arena *a)
{
    struct chunk *c, *next;

    if (!a)
        return;
    for (c = a->head; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *bt_arena_alloc(struct bt_arena *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    struct chunk *c = a->head;
    void *p;

    n = (n + align - 1) / align * align;
    if (!n)
        n = align;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;

        c = bt_malloc(sizeof(*c) + size);
        c->used = 0;
        c->size = size;
        c->next = a->head;
        a->head = c;
    }
    p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *bt_arena_strndup(struct bt_arena *a, const char *s, size_t n)
{
    char *d = bt_arena_alloc(a, n + 1);

    memcpy(d, s, n);
    return d;
}

char *bt_arena_strdup(struct bt_arena *a, const char *s)
{
    return s ? bt_arena_strndup(a, s, strlen(s)) : NULL;
}

/* Buffers */
void bt_buf_init(struct bt_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = b->alloc = 0;
    b->cap = cap;
}

void bt_buf_free(struct bt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void bt_buf_reset(struct bt_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int bt_buf_add(struct bt_buf *b, const void *p, size_t n)
{
    if (n > b->cap - b->len)
        return BT_ETOOBIG;
    if (b->len + n + 1 > b->alloc) {
        size_t want = b->alloc ? b->alloc : 256;

        while (want < b->len + n + 1)
            want *= 2;
        if (want > b->cap + 1)
            want = b->cap + 1;
        b->data = bt_realloc(b->data, want);
        b->alloc = want;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int bt_buf_adds(struct bt_buf *b, const char *s)
{
    return bt_buf_add(b, s, strlen(s));
}

int bt_buf_vprintf(struct bt_buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return BT_EINVAL;
    if ((size_t)n < sizeof(small))
        return bt_buf_add(b, small, (size_t)n);
    {
        char *big = bt_malloc((size_t)n + 1);

        vsnprintf(big, (size_t)n + 1, fmt, ap);
        rc = bt_buf_add(b, big, (size_t)n);
        free(big);
    }
    return rc;
}

int bt_buf_printf(struct bt_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = bt_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *bt_buf_steal(struct bt_buf *b)
{
    char *d = b->data ? b->data : bt_strdup("");

    b->data = NULL;
    b->len = b->alloc = 0;
    return d;
}
