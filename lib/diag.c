#include "diag.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void bt_diags_init(struct bt_diags *d)
{
    d->v = NULL;
    d->n = d->alloc = 0;
}

void bt_diags_free(struct bt_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        bt_free(d->v[i].file);
        bt_free(d->v[i].path);
        bt_free(d->v[i].msg);
    }
    bt_free(d->v);
    bt_diags_init(d);
}

void bt_diags_add(struct bt_diags *d, const char *file, int line, int col, const char *path,
                  const char *fmt, ...)
{
    struct bt_buf msg;
    struct bt_diag *e;
    va_list ap;

    if (d->n == d->alloc) {
        d->alloc = d->alloc ? d->alloc * 2 : 8;
        d->v = bt_reallocarray(d->v, d->alloc, sizeof(*d->v));
    }
    bt_buf_init(&msg, 4096);
    va_start(ap, fmt);
    if (bt_buf_vprintf(&msg, fmt, ap) < 0)
        bt_buf_reset(&msg); /* over the cap: keep what fits below */
    va_end(ap);
    e = &d->v[d->n++];
    e->file = file ? bt_strdup(file) : NULL;
    e->line = line;
    e->col = col;
    e->path = path && *path ? bt_strdup(path) : NULL;
    e->msg = bt_buf_steal(&msg);
}

static int cmp_diag(const void *a, const void *b)
{
    const struct bt_diag *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return 0;
}

void bt_diags_sort(struct bt_diags *d)
{
    /* insertion sort: stable, and lists are short */
    for (size_t i = 1; i < d->n; i++) {
        struct bt_diag tmp = d->v[i];
        size_t j = i;

        while (j > 0 && cmp_diag(&d->v[j - 1], &tmp) > 0) {
            d->v[j] = d->v[j - 1];
            j--;
        }
        d->v[j] = tmp;
    }
}

char *bt_diag_format(const struct bt_diag *e)
{
    struct bt_buf b;
    int rc = 0;

    bt_buf_init(&b, 64 * 1024);
    if (e->file)
        rc |= bt_buf_printf(&b, "%s:", e->file);
    if (e->line > 0)
        rc |= bt_buf_printf(&b, "%d:%d:", e->line, e->col > 0 ? e->col : 1);
    if (b.len)
        rc |= bt_buf_adds(&b, " ");
    if (e->path)
        rc |= bt_buf_printf(&b, "%s: ", e->path);
    rc |= bt_buf_adds(&b, e->msg);
    (void)rc; /* a line over 64 KiB is cut; nothing else can fail */
    return bt_buf_steal(&b);
}

void bt_diags_print(const struct bt_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        char *s = bt_diag_format(&d->v[i]);

        fprintf(out, "%s\n", s);
        bt_free(s);
    }
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = bt_calloc(lb + 1, sizeof(size_t));
    size_t result;

    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    result = row[lb];
    bt_free(row);
    return result;
}

const char *bt_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t len = strlen(word);
    /* Allow about one typo per four characters, at least one, at most three. */
    size_t limit = len / 4 + 1;

    if (limit > 3)
        limit = 3;
    if (len > 256)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d;

        if (!candidates[i] || strlen(candidates[i]) > 256)
            continue;
        d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best && best_d <= limit && strcmp(best, word) != 0 ? best : NULL;
}
