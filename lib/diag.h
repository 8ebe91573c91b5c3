/* diag — diagnostics: every problem a parser or validator found, with where.
 *
 * Parsers never stop at the first problem and never exit; they append here
 * and return BT_EINVAL, and the caller decides what to print. Entries own
 * their strings. Not thread-safe; no callbacks. */
#ifndef BT_DIAG_H
#define BT_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct bt_diag {
    char *file; /* may be NULL */
    int line;   /* 1-based; 0 = unknown */
    int col;    /* 1-based; 0 = unknown */
    char *path; /* node path such as plays[3].send[0]; may be NULL */
    char *msg;
};

struct bt_diags {
    struct bt_diag *v;
    size_t n, alloc;
};

void bt_diags_init(struct bt_diags *d);
void bt_diags_free(struct bt_diags *d); /* frees entries; reusable after */
void bt_diags_add(struct bt_diags *d, const char *file, int line, int col, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Orders entries by line, then column, keeping insertion order for ties. */
void bt_diags_sort(struct bt_diags *d);
/* Writes "FILE:LINE:COL: PATH: message" lines, omitting parts that are unknown. */
void bt_diags_print(const struct bt_diags *d, FILE *out);
/* One entry formatted as bt_diags_print does; new string (bt_free). */
char *bt_diag_format(const struct bt_diag *e);

/* "did you mean" support: the candidate closest to WORD by edit distance,
 * case-insensitively, or NULL when none is close enough to suggest. */
const char *bt_suggest(const char *word, const char *const *candidates, size_t n);

#endif
