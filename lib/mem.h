/* mem — allocation that cannot fail, an arena, and a capped growable buffer.
 *
 * Out of memory is not an error Baton recovers from: bt_malloc and friends
 * abort with a message, so callers never check for NULL. jansson is pointed
 * at the same allocator by bt_mem_init(). Safe to call from any callback. */
#ifndef BT_MEM_H
#define BT_MEM_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

void bt_mem_init(void); /* once, at start: routes jansson through bt_malloc */

void *bt_malloc(size_t n);
void *bt_calloc(size_t n, size_t size);
void *bt_realloc(void *p, size_t n);
void *bt_reallocarray(void *p, size_t n, size_t size);
char *bt_strdup(const char *s);
char *bt_strndup(const char *s, size_t n);
/* A new string, formatted like snprintf; never NULL. */
char *bt_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bt_free(void *p);

/* An arena: many small allocations freed at once. Used for parsed documents
 * whose pieces live and die together (a motion, a config). */
struct bt_arena;
struct bt_arena *bt_arena_new(void);
void bt_arena_free(struct bt_arena *a);             /* NULL-safe; frees everything */
void *bt_arena_alloc(struct bt_arena *a, size_t n); /* zeroed, max-aligned */
char *bt_arena_strdup(struct bt_arena *a, const char *s);
char *bt_arena_strndup(struct bt_arena *a, const char *s, size_t n);

/* A growable byte buffer with a cap given at init (curl's dynbuf). The data
 * is always NUL-terminated, so text can be read as a C string. */
struct bt_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap; /* len never exceeds this */
};
void bt_buf_init(struct bt_buf *b, size_t cap);
void bt_buf_free(struct bt_buf *b); /* frees data, keeps cap; reusable */
void bt_buf_reset(struct bt_buf *b);
/* BT_ETOOBIG, leaving the buffer unchanged, when the cap would be crossed. */
int bt_buf_add(struct bt_buf *b, const void *p, size_t n) BT_MUST_CHECK;
int bt_buf_adds(struct bt_buf *b, const char *s) BT_MUST_CHECK;
int bt_buf_printf(struct bt_buf *b, const char *fmt, ...) BT_MUST_CHECK
    __attribute__((format(printf, 2, 3)));
int bt_buf_vprintf(struct bt_buf *b, const char *fmt, va_list ap) BT_MUST_CHECK
    __attribute__((format(printf, 2, 0)));
/* Hands the data to the caller (bt_free) and leaves the buffer empty. */
char *bt_buf_steal(struct bt_buf *b);

#endif
