/* ydoc — a YAML (or JSON) document as a tree whose every node knows its line
 * and column, read with libyaml, for the files people edit: the motion and
 * the daemon's config.
 *
 * The document owns all nodes; they are valid until bt_ydoc_free(). Aliases
 * are resolved by libyaml (an aliased node appears in several places).
 * Duplicate mapping keys are kept in the tree and reported by
 * bt_ynode_check_keys(), so that all problems come out at once. */
#ifndef BT_YDOC_H
#define BT_YDOC_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "err.h"

enum bt_ytype { BT_Y_SCALAR, BT_Y_SEQ, BT_Y_MAP };

struct bt_ynode {
    enum bt_ytype type;
    int line, col;           /* 1-based */
    const char *str;         /* scalar: its text, NUL-terminated */
    size_t len;              /* scalar: its length (may hold NULs from JSON) */
    bool quoted;             /* scalar: written in quotes or as a block */
    size_t n;                /* seq: items; map: pairs */
    struct bt_ynode **items; /* seq: items; map: values */
    struct bt_ynode **keys;  /* map: keys (scalars or, rarely, other nodes) */
};

struct bt_ydoc {
    struct bt_ynode *root; /* NULL for an empty document */
    const char *file;      /* name used in diagnostics */
    struct bt_arena *arena;
};

/* Reads FILE. On failure returns BT_EIO (unreadable) or BT_EINVAL (syntax)
 * and appends what went wrong, with line and column, to diags. */
int bt_ydoc_load_file(const char *file, struct bt_ydoc **out,
                      struct bt_diags *diags) BT_MUST_CHECK;
/* Same, from memory; NAME is the file name used in diagnostics. */
int bt_ydoc_load_mem(const char *name, const char *buf, size_t len, struct bt_ydoc **out,
                     struct bt_diags *diags) BT_MUST_CHECK;
void bt_ydoc_free(struct bt_ydoc *doc); /* NULL-safe */

/* The value under KEY in a mapping (the first, if repeated), or NULL. */
struct bt_ynode *bt_ynode_get(const struct bt_ynode *map, const char *key);
/* A plain scalar "", "~", "null" or "Null"/"NULL". */
bool bt_ynode_is_null(const struct bt_ynode *n);
/* Scalar conversions; false when the node is not a scalar of that kind. */
bool bt_ynode_int(const struct bt_ynode *n, long long *out);
bool bt_ynode_double(const struct bt_ynode *n, double *out);
bool bt_ynode_bool(const struct bt_ynode *n, bool *out);
/* A scalar's text, or NULL for non-scalars. */
const char *bt_ynode_str(const struct bt_ynode *n);

/* Reports, at PATH under doc->file, every key of MAP that is not in ALLOWED
 * (NULL-terminated), with a "did you mean", and every key given twice.
 * Returns the number of problems. */
int bt_ynode_check_keys(const struct bt_ydoc *doc, const struct bt_ynode *map, const char *path,
                        const char *const *allowed, struct bt_diags *diags);

/* Path helpers: new strings (bt_free) such as "plays[3]" and "plays[3].send". */
char *bt_ypath_index(const char *path, size_t i);
char *bt_ypath_key(const char *path, const char *key);

#endif
