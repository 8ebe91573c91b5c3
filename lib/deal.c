#include "deal.h"

#include <string.h>

#include "mem.h"

static const char *const source_names[BT_SRC_COUNT] = {"hubspot", "pipedrive", "salesforce",
                                                       "generic"};

const char *bt_source_name(enum bt_source src)
{
    return (unsigned)src < BT_SRC_COUNT ? source_names[src] : "unknown";
}

int bt_source_parse(const char *s)
{
    for (int i = 0; i < BT_SRC_COUNT; i++)
        if (!strcmp(s, source_names[i]))
            return i;
    return -1;
}

void bt_fields_init(struct bt_fields *f)
{
    f->v = NULL;
    f->n = f->alloc = 0;
}

void bt_fields_free(struct bt_fields *f)
{
    for (size_t i = 0; i < f->n; i++) {
        bt_free(f->v[i].name);
        bt_free(f->v[i].value);
    }
    bt_free(f->v);
    bt_fields_init(f);
}

static struct bt_field *find(const struct bt_fields *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->v[i].name, name))
            return &f->v[i];
    return NULL;
}

void bt_fields_set(struct bt_fields *f, const char *name, const char *value)
{
    struct bt_field *e = find(f, name);

    if (!e) {
        if (f->n == f->alloc) {
            f->alloc = f->alloc ? f->alloc * 2 : 8;
            f->v = bt_reallocarray(f->v, f->alloc, sizeof(*f->v));
        }
        e = &f->v[f->n++];
        e->name = bt_strdup(name);
    } else {
        bt_free(e->value);
    }
    e->value = value ? bt_strdup(value) : NULL;
}

const char *bt_fields_get(const struct bt_fields *f, const char *name)
{
    const struct bt_field *e = find(f, name);

    return e && e->value && *e->value ? e->value : NULL;
}

int bt_fields_has(const struct bt_fields *f, const char *name)
{
    return find(f, name) != NULL;
}
