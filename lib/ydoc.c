#include "ydoc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mem.h"

/* libyaml's documents number their nodes from 1; build our tree from them,
 * remembering nodes already built so aliases share one bt_ynode. */
struct build {
    yaml_document_t *doc;
    struct bt_arena *arena;
    struct bt_ynode **made;
    int depth;
};

enum { MAX_DEPTH = 64 };

static struct bt_ynode *build_node(struct build *b, int id)
{
    yaml_node_t *y = yaml_document_get_node(b->doc, id);
    struct bt_ynode *n;

    if (!y)
        return NULL;
    if (b->made[id])
        return b->made[id];
    if (b->depth >= MAX_DEPTH)
        return NULL;
    n = bt_arena_alloc(b->arena, sizeof(*n));
    b->made[id] = n;
    n->line = (int)y->start_mark.line + 1;
    n->col = (int)y->start_mark.column + 1;
    b->depth++;
    switch (y->type) {
    case YAML_SCALAR_NODE:
        n->type = BT_Y_SCALAR;
        n->len = y->data.scalar.length;
        n->str = bt_arena_strndup(b->arena, (const char *)y->data.scalar.value, n->len);
        n->quoted = y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_NODE: {
        yaml_node_item_t *it = y->data.sequence.items.start;
        size_t cnt = (size_t)(y->data.sequence.items.top - it);

        n->type = BT_Y_SEQ;
        n->items = bt_arena_alloc(b->arena, (cnt ? cnt : 1) * sizeof(*n->items));
        for (size_t i = 0; i < cnt; i++) {
            struct bt_ynode *c = build_node(b, it[i]);

            if (c)
                n->items[n->n++] = c;
        }
        break;
    }
    case YAML_MAPPING_NODE: {
        yaml_node_pair_t *p = y->data.mapping.pairs.start;
        size_t cnt = (size_t)(y->data.mapping.pairs.top - p);

        n->type = BT_Y_MAP;
        n->items = bt_arena_alloc(b->arena, (cnt ? cnt : 1) * sizeof(*n->items));
        n->keys = bt_arena_alloc(b->arena, (cnt ? cnt : 1) * sizeof(*n->keys));
        for (size_t i = 0; i < cnt; i++) {
            struct bt_ynode *k = build_node(b, p[i].key);
            struct bt_ynode *v = build_node(b, p[i].value);

            if (k && v) {
                n->keys[n->n] = k;
                n->items[n->n++] = v;
            }
        }
        break;
    }
    default:
        n->type = BT_Y_SCALAR;
        n->str = "";
        break;
    }
    b->depth--;
    return n;
}

int bt_ydoc_load_mem(const char *name, const char *buf, size_t len, struct bt_ydoc **out,
                     struct bt_diags *diags)
{
    yaml_parser_t parser;
    yaml_document_t ydoc;
    struct bt_ydoc *doc = NULL;
    bool have_doc = false;
    int rc = BT_EINVAL;

    *out = NULL;
    if (!yaml_parser_initialize(&parser)) {
        bt_diags_add(diags, name, 0, 0, NULL, "cannot initialize the YAML parser");
        return BT_EINVAL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &ydoc)) {
        const char *ctx = parser.context;
        yaml_mark_t m = parser.problem_mark;

        bt_diags_add(diags, name, (int)m.line + 1, (int)m.column + 1, NULL,
                     "YAML syntax error: %s%s%s", parser.problem ? parser.problem : "unknown",
                     ctx ? " " : "", ctx ? ctx : "");
        goto out;
    }
    have_doc = true;
    doc = bt_calloc(1, sizeof(*doc));
    doc->arena = bt_arena_new();
    doc->file = bt_arena_strdup(doc->arena, name);
    if (yaml_document_get_root_node(&ydoc)) {
        size_t count = (size_t)(ydoc.nodes.top - ydoc.nodes.start);
        struct build b = {&ydoc, doc->arena, bt_calloc(count + 1, sizeof(struct bt_ynode *)), 0};

        doc->root = build_node(&b, 1);
        bt_free(b.made);
        if (!doc->root) {
            bt_diags_add(diags, name, 1, 1, NULL, "document nested deeper than %d levels",
                         MAX_DEPTH);
            goto out;
        }
    }
    /* A second document in the stream is almost always a mistake. */
    {
        yaml_document_t next;

        if (yaml_parser_load(&parser, &next)) {
            yaml_node_t *r = yaml_document_get_root_node(&next);

            if (r) {
                bt_diags_add(diags, name, (int)r->start_mark.line + 1,
                             (int)r->start_mark.column + 1, NULL,
                             "only one YAML document is allowed in the file");
                yaml_document_delete(&next);
                goto out;
            }
            yaml_document_delete(&next);
        } else {
            yaml_mark_t m = parser.problem_mark;

            bt_diags_add(diags, name, (int)m.line + 1, (int)m.column + 1, NULL,
                         "YAML syntax error: %s", parser.problem ? parser.problem : "unknown");
            goto out;
        }
    }
    *out = doc;
    doc = NULL;
    rc = 0;
out:
    if (have_doc)
        yaml_document_delete(&ydoc);
    yaml_parser_delete(&parser);
    bt_ydoc_free(doc);
    return rc;
}

int bt_ydoc_load_file(const char *file, struct bt_ydoc **out, struct bt_diags *diags)
{
    struct bt_buf b;
    char chunk[8192];
    FILE *f;
    size_t n;
    int rc;

    *out = NULL;
    f = fopen(file, "rb");
    if (!f) {
        bt_diags_add(diags, file, 0, 0, NULL, "cannot open: %s", strerror(errno));
        return BT_EIO;
    }
    bt_buf_init(&b, 16u << 20);
    rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = bt_buf_add(&b, chunk, n);
        if (rc < 0) {
            bt_diags_add(diags, file, 0, 0, NULL, "file is larger than 16 MiB");
            break;
        }
    }
    if (!rc && ferror(f)) {
        bt_diags_add(diags, file, 0, 0, NULL, "cannot read: %s", strerror(errno));
        rc = BT_EIO;
    }
    fclose(f);
    if (!rc)
        rc = bt_ydoc_load_mem(file, b.data ? b.data : "", b.len, out, diags);
    bt_buf_free(&b);
    return rc;
}

void bt_ydoc_free(struct bt_ydoc *doc)
{
    if (!doc)
        return;
    bt_arena_free(doc->arena);
    bt_free(doc);
}

struct bt_ynode *bt_ynode_get(const struct bt_ynode *map, const char *key)
{
    if (!map || map->type != BT_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->type == BT_Y_SCALAR && strcmp(map->keys[i]->str, key) == 0)
            return map->items[i];
    return NULL;
}

bool bt_ynode_is_null(const struct bt_ynode *n)
{
    if (!n || n->type != BT_Y_SCALAR || n->quoted)
        return false;
    return !*n->str || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
           !strcmp(n->str, "Null") || !strcmp(n->str, "NULL");
}

const char *bt_ynode_str(const struct bt_ynode *n)
{
    return n && n->type == BT_Y_SCALAR ? n->str : NULL;
}

bool bt_ynode_int(const struct bt_ynode *n, long long *out)
{
    char *end;
    long long v;

    if (!n || n->type != BT_Y_SCALAR || !*n->str || strlen(n->str) != n->len)
        return false;
    errno = 0;
    v = strtoll(n->str, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool bt_ynode_double(const struct bt_ynode *n, double *out)
{
    char *end;
    double v;

    if (!n || n->type != BT_Y_SCALAR || !*n->str || strlen(n->str) != n->len)
        return false;
    errno = 0;
    v = strtod(n->str, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool bt_ynode_bool(const struct bt_ynode *n, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off"};

    if (!n || n->type != BT_Y_SCALAR || n->quoted)
        return false;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcmp(n->str, yes[i])) {
            *out = true;
            return true;
        }
        if (!strcmp(n->str, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

int bt_ynode_check_keys(const struct bt_ydoc *doc, const struct bt_ynode *map, const char *path,
                        const char *const *allowed, struct bt_diags *diags)
{
    size_t n_allowed = 0;
    int problems = 0;

    if (!map || map->type != BT_Y_MAP)
        return 0;
    while (allowed[n_allowed])
        n_allowed++;
    for (size_t i = 0; i < map->n; i++) {
        const struct bt_ynode *k = map->keys[i];
        bool known = false;
        char *kp;

        if (k->type != BT_Y_SCALAR) {
            bt_diags_add(diags, doc->file, k->line, k->col, path, "a key must be a plain string");
            problems++;
            continue;
        }
        kp = bt_ypath_key(path, k->str);
        for (size_t j = 0; j < n_allowed && !known; j++)
            known = !strcmp(k->str, allowed[j]);
        if (!known) {
            const char *s = bt_suggest(k->str, allowed, n_allowed);

            bt_diags_add(diags, doc->file, k->line, k->col, kp, "unknown key \"%s\"%s%s%s", k->str,
                         s ? " — did you mean \"" : "", s ? s : "", s ? "\"?" : "");
            problems++;
        }
        for (size_t j = 0; j < i; j++) {
            if (map->keys[j]->type == BT_Y_SCALAR && !strcmp(map->keys[j]->str, k->str)) {
                bt_diags_add(diags, doc->file, k->line, k->col, kp,
                             "duplicate key \"%s\" (first given on line %d)", k->str,
                             map->keys[j]->line);
                problems++;
                break;
            }
        }
        bt_free(kp);
    }
    return problems;
}

char *bt_ypath_index(const char *path, size_t i)
{
    return bt_asprintf("%s[%zu]", path ? path : "", i);
}

char *bt_ypath_key(const char *path, const char *key)
{
    if (!path || !*path)
        return bt_strdup(key);
    return bt_asprintf("%s.%s", path, key);
}
