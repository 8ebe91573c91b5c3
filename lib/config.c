#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "crm.h"
#include "mem.h"
#include "ydoc.h"

/* The snapshot: the public struct first, then what only this file touches.
 * Secrets are remembered so the last unref can wipe them before the arena's
 * memory goes back to malloc, where a later bug could read it. */
struct box {
    struct bt_config cfg;
    struct bt_arena *arena;
    unsigned refs;
    struct wipe {
        char *p;
        size_t len;
    } * wipe;
    size_t n_wipe, alloc_wipe;
};

static struct box *box_of(const struct bt_config *cfg)
{
    return (struct box *)((char *)(uintptr_t)cfg - offsetof(struct box, cfg));
}

static void box_free(struct box *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_wipe; i++)
        explicit_bzero(b->wipe[i].p, b->wipe[i].len);
    bt_free(b->wipe);
    bt_arena_free(b->arena);
    bt_free(b);
}

const struct bt_config *bt_config_ref(const struct bt_config *cfg)
{
    box_of(cfg)->refs++;
    return cfg;
}

void bt_config_unref(const struct bt_config *cfg)
{
    struct box *b;

    if (!cfg)
        return;
    b = box_of(cfg);
    if (--b->refs == 0)
        box_free(b);
}

/* ---- durations and sizes ---- */

struct unit {
    const char *name;
    uint64_t mult;
};

static const struct unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000},
};

static const struct unit size_units[] = {
    {"B", 1},     {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
    {"kB", 1000}, {"KB", 1000},        {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
};

/* A decimal number (at most 9 digits after the point) and a unit from
 * UNITS, or none (BARE), as a whole count of the smallest unit. Integer
 * arithmetic only: strtod would accept hex, "inf" and the locale's comma. */
static int parse_scaled(const char *s, const struct unit *units, size_t n_units, uint64_t bare,
                        uint64_t *out)
{
    uint64_t mant = 0, scale = 1, mult = 0, v;
    int frac_digits = 0;
    const char *p = s;
    int rc = BT_EINVAL;

    if (!s || *p < '0' || *p > '9')
        goto out;
    for (; *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(mant, 10, &mant) ||
            __builtin_add_overflow(mant, *p - '0', &mant))
            goto out;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            goto out;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (++frac_digits > 9 || __builtin_mul_overflow(mant, 10, &mant) ||
                __builtin_add_overflow(mant, *p - '0', &mant))
                goto out;
            scale *= 10;
        }
    }
    if (!*p)
        mult = bare;
    for (size_t i = 0; i < n_units && !mult; i++)
        if (!strcmp(p, units[i].name))
            mult = units[i].mult;
    if (!mult || __builtin_mul_overflow(mant, mult, &v) || v % scale)
        goto out;
    *out = v / scale;
    rc = 0;
out:
    return rc;
}

int bt_parse_duration_ms(const char *s, int64_t *out)
{
    uint64_t v;
    int rc;

    rc = parse_scaled(s, duration_units, sizeof(duration_units) / sizeof(duration_units[0]), 1000,
                      &v);
    if (!rc && v > INT64_MAX)
        rc = BT_EINVAL;
    if (!rc)
        *out = (int64_t)v;
    return rc;
}

int bt_parse_size(const char *s, uint64_t *out)
{
    return parse_scaled(s, size_units, sizeof(size_units) / sizeof(size_units[0]), 1, out);
}

/* ---- the loader's context and reporting ---- */

struct ctx {
    const struct bt_ydoc *doc;
    struct box *box;
    struct bt_arena *arena;   /* the snapshot's */
    struct bt_arena *scratch; /* node paths; freed when loading ends */
    struct bt_diags *diags;
    const char *dir; /* the config file's directory; NULL: the working directory */
};

/* A mapping being read: getters look keys up in MAP, report a missing
 * required key at AT (the section's own key) and build paths from PATH. */
struct sect {
    const struct bt_ynode *map; /* NULL: the section is absent */
    const struct bt_ynode *at;
    const char *path;
};

__attribute__((format(printf, 4, 5))) static void problem(struct ctx *c, const struct bt_ynode *at,
                                                          const char *path, const char *fmt, ...)
{
    struct bt_buf msg;
    va_list ap;

    bt_buf_init(&msg, 4096);
    va_start(ap, fmt);
    if (bt_buf_vprintf(&msg, fmt, ap) < 0)
        bt_buf_reset(&msg); /* only a path of thousands of characters gets here */
    va_end(ap);
    bt_diags_add(c->diags, c->doc->file, at ? at->line : 0, at ? at->col : 0, path, "%s",
                 msg.data ? msg.data : "");
    bt_buf_free(&msg);
}

static const char *key_path(struct ctx *c, const char *path, const char *key)
{
    char *tmp = bt_ypath_key(path, key);
    const char *p = bt_arena_strdup(c->scratch, tmp);

    bt_free(tmp);
    return p;
}

static const char *index_path(struct ctx *c, const char *path, size_t i)
{
    char *tmp = bt_ypath_index(path, i);
    const char *p = bt_arena_strdup(c->scratch, tmp);

    bt_free(tmp);
    return p;
}

static const struct bt_ynode *key_node(const struct bt_ynode *map, const char *key)
{
    if (!map || map->type != BT_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->type == BT_Y_SCALAR && !strcmp(map->keys[i]->str, key))
            return map->keys[i];
    return NULL;
}

/* The value of KEY; an explicit null (`key:` or `key: ~`) counts as absent,
 * so a value can be commented out without removing its key. */
static const struct bt_ynode *value(const struct sect *s, const char *key)
{
    const struct bt_ynode *n = bt_ynode_get(s->map, key);

    return bt_ynode_is_null(n) ? NULL : n;
}

/* The sub-mapping KEY of S, its keys checked against ALLOWED. An explicit
 * null counts as an empty mapping: the section is present. */
static struct sect section(struct ctx *c, const struct sect *s, const char *key,
                           const char *const *allowed)
{
    static const struct bt_ynode empty = {.type = BT_Y_MAP};
    struct sect sub = {NULL, NULL, key_path(c, s->path, key)};
    const struct bt_ynode *n = bt_ynode_get(s->map, key);

    if (!n)
        return sub;
    sub.at = key_node(s->map, key);
    if (bt_ynode_is_null(n)) {
        sub.map = &empty;
    } else if (n->type != BT_Y_MAP) {
        problem(c, n, sub.path, "must be a mapping");
    } else {
        sub.map = n;
        bt_ynode_check_keys(c->doc, n, sub.path, allowed, c->diags);
    }
    return sub;
}

static bool present(const struct sect *s)
{
    return s->map != NULL;
}

/* ---- plain values ---- */

/* A non-empty scalar's text (not copied), or NULL after reporting. SECRET
 * values are never echoed, so no message here quotes the node. */
static const char *scalar(struct ctx *c, const struct bt_ynode *n, const char *path)
{
    const char *res = NULL;

    if (n->type != BT_Y_SCALAR)
        problem(c, n, path, "must be a string, not a %s",
                n->type == BT_Y_MAP ? "mapping" : "list");
    else if (!n->len)
        problem(c, n, path, "must not be empty");
    else if (strlen(n->str) != n->len)
        problem(c, n, path, "must not hold a NUL character");
    else
        res = n->str;
    return res;
}

static void get_str(struct ctx *c, const struct sect *s, const char *key, const char **out)
{
    const struct bt_ynode *n = value(s, key);
    const char *v;

    if (!n)
        return;
    v = scalar(c, n, key_path(c, s->path, key));
    if (v)
        *out = bt_arena_strdup(c->arena, v);
}

static void get_bool(struct ctx *c, const struct sect *s, const char *key, bool *out)
{
    const struct bt_ynode *n = value(s, key);

    if (n && !bt_ynode_bool(n, out))
        problem(c, n, key_path(c, s->path, key), "must be true or false");
}

static void get_uint(struct ctx *c, const struct sect *s, const char *key, unsigned min,
                     unsigned max, unsigned *out)
{
    const struct bt_ynode *n = value(s, key);
    long long v;

    if (!n)
        return;
    if (!bt_ynode_int(n, &v))
        problem(c, n, key_path(c, s->path, key), "must be a whole number");
    else if (v < min || v > max)
        problem(c, n, key_path(c, s->path, key), "must be between %u and %u, not %lld", min, max,
                v);
    else
        *out = (unsigned)v;
}

/* A fraction within [0, 1]. */
static void get_fraction(struct ctx *c, const struct sect *s, const char *key, double *out)
{
    const struct bt_ynode *n = value(s, key);
    double v;

    if (!n)
        return;
    if (!bt_ynode_double(n, &v))
        problem(c, n, key_path(c, s->path, key), "must be a number between 0 and 1");
    else if (v < 0 || v > 1)
        problem(c, n, key_path(c, s->path, key), "must be between 0 and 1, not %.80s", n->str);
    else
        *out = v;
}

static bool duration_node(struct ctx *c, const struct bt_ynode *n, const char *path,
                          int64_t min_ms, int64_t *out)
{
    bool ok = false;
    int64_t v = 0;

    if (n->type != BT_Y_SCALAR)
        problem(c, n, path, "must be a duration such as 250ms, 5s, 2m, 1h or 1d");
    else if (n->str[0] == '-')
        problem(c, n, path, "must not be negative");
    else if (bt_parse_duration_ms(n->str, &v) < 0)
        problem(c, n, path,
                "\"%.80s\" is not a duration: use 250ms, 5s, 2m, 1h, 1d or a number of seconds",
                n->str);
    else if (v < min_ms && min_ms == 1)
        problem(c, n, path, "must be more than 0");
    else if (v < min_ms)
        problem(c, n, path, "must be at least %lld%s",
                (long long)(min_ms % 1000 ? min_ms : min_ms / 1000), min_ms % 1000 ? "ms" : "s");
    else
        ok = true;
    if (ok)
        *out = v;
    return ok;
}

static void get_duration(struct ctx *c, const struct sect *s, const char *key, int64_t min_ms,
                         int64_t *out)
{
    const struct bt_ynode *n = value(s, key);

    if (n)
        duration_node(c, n, key_path(c, s->path, key), min_ms, out);
}

static void get_size(struct ctx *c, const struct sect *s, const char *key, uint64_t min,
                     uint64_t *out)
{
    const struct bt_ynode *n = value(s, key);
    const char *path;
    uint64_t v = 0;

    if (!n)
        return;
    path = key_path(c, s->path, key);
    if (n->type != BT_Y_SCALAR)
        problem(c, n, path, "must be a size such as 65536, 64KiB or 1MiB");
    else if (n->str[0] == '-')
        problem(c, n, path, "must not be negative");
    else if (bt_parse_size(n->str, &v) < 0)
        problem(c, n, path, "\"%.80s\" is not a size: use a number of bytes, KiB, MiB or GiB",
                n->str);
    else if (v < min)
        problem(c, n, path, "must be at least %llu bytes", (unsigned long long)min);
    else
        *out = v;
}

/* Relative paths are taken from the config file's directory: under
 * systemd the working directory is /, which nobody means. */
static const char *resolve(struct ctx *c, const char *p)
{
    char *tmp;
    const char *res;

    if (p[0] == '/' || !c->dir)
        return bt_arena_strdup(c->arena, p);
    tmp = bt_asprintf("%s/%s", c->dir, p);
    res = bt_arena_strdup(c->arena, tmp);
    bt_free(tmp);
    return res;
}

static void get_path(struct ctx *c, const struct sect *s, const char *key, const char **out)
{
    const struct bt_ynode *n = value(s, key);
    const char *v;

    if (!n)
        return;
    v = scalar(c, n, key_path(c, s->path, key));
    if (v)
        *out = resolve(c, v);
}

/* ---- URLs and addresses ---- */

/* An absolute http(s) URL with a host; REST_OK: a query or fragment may
 * follow. Never quotes S: some URLs are secrets. */
static bool url_ok(const char *s, bool rest_ok)
{
    const char *host;
    size_t host_len;

    if (!strncmp(s, "http://", 7))
        host = s + 7;
    else if (!strncmp(s, "https://", 8))
        host = s + 8;
    else
        return false;
    host_len = strcspn(host, "/?#");
    if (!host_len)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return rest_ok || !strpbrk(host, "?#");
}

/* A public URL: an http(s) base without query or fragment, kept without a
 * trailing slash so that paths can be appended. */
static void get_base_url(struct ctx *c, const struct sect *s, const char *key, const char *example,
                         const char **out)
{
    const struct bt_ynode *n = value(s, key);
    const char *path, *v;
    size_t len;

    if (!n)
        return;
    path = key_path(c, s->path, key);
    v = scalar(c, n, path);
    if (!v)
        return;
    if (!url_ok(v, false)) {
        problem(c, n, path,
                "\"%.80s\" must be an absolute http:// or https:// URL without query, "
                "such as %s",
                v, example);
        return;
    }
    len = strlen(v);
    while (len > 0 && v[len - 1] == '/')
        len--;
    *out = bt_arena_strndup(c->arena, v, len);
}

/* "1.2.3.4:PORT" or "[v6]:PORT". Host names are refused on purpose: a
 * listening address that depends on DNS at start-up surprises people. */
static bool parse_listen(const char *s, struct bt_config *cfg)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *hs = s;
    size_t hl;
    long port = 0;
    bool ok = false;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (!close || close[1] != ':')
            goto out;
        hs = s + 1;
        hl = (size_t)(close - hs);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            goto out;
        hl = (size_t)(colon - s);
    }
    if (!hl || hl >= sizeof(host))
        goto out;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (!colon[1] || strlen(colon + 1) > 5)
        goto out;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            goto out;
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65535)
        goto out;
    memset(&cfg->listen_addr, 0, sizeof(cfg->listen_addr));
    if (s[0] == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&cfg->listen_addr;

        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            goto out;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        cfg->listen_addr_len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&cfg->listen_addr;

        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            goto out;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        cfg->listen_addr_len = sizeof(*a);
    }
    cfg->listen_port = (uint16_t)port;
    ok = true;
out:
    return ok;
}

/* ---- secrets ---- */

enum secret_kind {
    SECRET_ANY,
    SECRET_TOKEN, /* the only lock on a door: long enough to resist guessing */
    SECRET_PATH,  /* a URL path segment, and a token */
    SECRET_WHSEC, /* Standard Webhooks: "whsec_" + base64 */
    SECRET_URL    /* an http(s) URL carrying its own authorization */
};

enum { MIN_TOKEN_LEN = 16, MAX_SECRET_FILE = 64 * 1024 };

static bool base64_ok(const char *s)
{
    size_t len = strlen(s), data = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "abcdefghijklmnopqrstuvwxyz0123456789+/");
    size_t pad = strspn(s + data, "=");

    if (!data || data + pad != len || pad > 2)
        return false;
    return pad ? len % 4 == 0 : len % 4 != 1;
}

/* Why V is not a valid secret of KIND, or NULL. Never quotes V. */
static const char *secret_problem(enum secret_kind kind, const char *v)
{
    switch (kind) {
    case SECRET_ANY:
        return NULL;
    case SECRET_TOKEN:
        return strlen(v) < MIN_TOKEN_LEN ? "is too short: use at least 16 random characters "
                                           "(openssl rand -hex 16)"
                                         : NULL;
    case SECRET_PATH:
        if (v[strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")])
            return "may hold only letters, digits and - . _ ~ (it is a URL path segment)";
        return secret_problem(SECRET_TOKEN, v);
    case SECRET_WHSEC:
        if (strncmp(v, "whsec_", 6) || !base64_ok(v + 6))
            return "is not a Standard Webhooks secret: \"whsec_\" followed by base64";
        return NULL;
    case SECRET_URL:
        return url_ok(v, true) ? NULL : "must be an absolute http:// or https:// URL";
    }
    return NULL;
}

static const char *keep_secret(struct ctx *c, const char *v, size_t len)
{
    struct box *b = c->box;
    char *p = bt_arena_strndup(c->arena, v, len);

    if (b->n_wipe == b->alloc_wipe) {
        b->alloc_wipe = b->alloc_wipe ? 2 * b->alloc_wipe : 16;
        b->wipe = bt_reallocarray(b->wipe, b->alloc_wipe, sizeof(*b->wipe));
    }
    b->wipe[b->n_wipe].p = p;
    b->wipe[b->n_wipe++].len = len;
    return p;
}

/* Reads a secret file: its content without trailing newlines, in a new
 * buffer (wipe and bt_free it), or NULL after reporting at N. Messages
 * name the file, never what it holds. One fixed buffer, so no copy of the
 * secret is left behind by a realloc. */
static char *read_secret_file(struct ctx *c, const struct bt_ynode *n, const char *path,
                              const char *file)
{
    char *buf = bt_malloc(MAX_SECRET_FILE + 1);
    size_t len = 0;
    ssize_t got = 1;
    int fd, err = 0;
    bool ok = false;

    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        err = errno;
    while (!err && got != 0 && len <= MAX_SECRET_FILE) {
        got = read(fd, buf + len, MAX_SECRET_FILE + 1 - len);
        if (got < 0 && errno != EINTR)
            err = errno;
        else if (got > 0)
            len += (size_t)got;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len < MAX_SECRET_FILE ? len : MAX_SECRET_FILE] = '\0';
    if (err)
        problem(c, n, path, "cannot read %s: %s", file, strerror(err));
    else if (len > MAX_SECRET_FILE)
        problem(c, n, path, "%s is larger than %d KiB", file, MAX_SECRET_FILE / 1024);
    else if (!len)
        problem(c, n, path, "%s is empty", file);
    else if (memchr(buf, '\0', len))
        problem(c, n, path, "%s holds a NUL byte", file);
    else
        ok = true;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        explicit_bzero(buf, MAX_SECRET_FILE + 1);
        bt_free(buf);
        buf = NULL;
    }
    return buf;
}

static void wipe_free(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    bt_free(s);
}

/* Looks KEY and KEY_file up. Both given is an error; neither is one when
 * REQUIRED. Returns how many of the two are given and sets *v / *f. */
static int secret_source(struct ctx *c, const struct sect *s, const char *key, bool required,
                         const struct bt_ynode **v, const struct bt_ynode **f,
                         const char **fkey_out)
{
    char *tmp = bt_asprintf("%s_file", key);
    const char *fkey;

    fkey = bt_arena_strdup(c->scratch, tmp);
    bt_free(tmp);
    *fkey_out = fkey;
    *v = value(s, key);
    *f = value(s, fkey);
    if (*v && *f) {
        problem(c, key_node(s->map, fkey), key_path(c, s->path, fkey),
                "give either %s or %s, not both", key, fkey);
        return 2;
    }
    if (!*v && !*f && required && present(s))
        problem(c, s->at ? s->at : s->map, key_path(c, s->path, key), "missing: give %s or %s",
                key, fkey);
    return *v || *f;
}

/* Checks V against KIND and keeps a copy in the snapshot, or reports at N
 * and returns NULL. FILE and LINE say where V came from (NULL, 0: the
 * config itself) so the message can point there without quoting V. */
static const char *accept_secret(struct ctx *c, const struct bt_ynode *n, const char *path,
                                 const char *file, size_t line, enum secret_kind kind,
                                 const char *v)
{
    const char *why = secret_problem(kind, v);

    if (why && !file)
        problem(c, n, path, "%s", why);
    else if (why && !line)
        problem(c, n, path, "the content of %s %s", file, why);
    else if (why)
        problem(c, n, path, "%s, line %zu, %s", file, line, why);
    return why ? NULL : keep_secret(c, v, strlen(v));
}

/* A single secret: KEY in the config, or the content of the file KEY_file. */
static void get_secret(struct ctx *c, const struct sect *s, const char *key, bool required,
                       enum secret_kind kind, const char **out)
{
    const struct bt_ynode *v, *f;
    const char *fkey, *path, *raw, *file, *kept = NULL;
    char *content = NULL;

    if (secret_source(c, s, key, required, &v, &f, &fkey) != 1)
        return;
    path = key_path(c, s->path, v ? key : fkey);
    raw = scalar(c, v ? v : f, path);
    if (raw && v) {
        kept = accept_secret(c, v, path, NULL, 0, kind, raw);
    } else if (raw) {
        file = resolve(c, raw);
        content = read_secret_file(c, f, path, file);
        if (content)
            kept = accept_secret(c, f, path, file, 0, kind, content);
    }
    if (kept)
        *out = kept;
    wipe_free(content);
}

/* One secret per line of FILE, into a new list in the snapshot; blank lines
 * are skipped. Returns how many were kept; *bad when a line was refused. */
static size_t secrets_from_file(struct ctx *c, const struct bt_ynode *f, const char *path,
                                const char *file, enum secret_kind kind, const char ***list,
                                bool *bad)
{
    char *content = read_secret_file(c, f, path, file);
    size_t n = 0, lineno = 0, len;

    if (!content)
        return 0;
    len = strlen(content); /* the loop cuts it apart: remember how much to wipe */
    *list = bt_arena_alloc(c->arena, (len / 2 + 1) * sizeof(**list));
    for (char *p = content, *eol; p; p = eol ? eol + 1 : NULL) {
        const char *one;
        size_t l;

        eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        lineno++;
        l = strlen(p);
        if (l && p[l - 1] == '\r')
            p[--l] = '\0';
        if (!l)
            continue;
        one = accept_secret(c, f, path, file, lineno, kind, p);
        if (one)
            (*list)[n++] = one;
        else
            *bad = true;
    }
    if (!n && !*bad)
        problem(c, f, path, "%s holds no secret", file);
    explicit_bzero(content, len);
    bt_free(content);
    return n;
}

/* A list of secrets, all valid at once so they can be rotated without a
 * gap: KEY as a string or a list, or KEY_file with one per line. */
static void get_secret_list(struct ctx *c, const struct sect *s, const char *key, bool required,
                            enum secret_kind kind, const char *const **out, size_t *n_out)
{
    const struct bt_ynode *v, *f;
    const char *fkey, *path, *raw;
    const char **list = NULL;
    size_t n = 0;
    bool bad = false;

    if (secret_source(c, s, key, required, &v, &f, &fkey) != 1)
        return;
    path = key_path(c, s->path, v ? key : fkey);
    if (v && v->type == BT_Y_SEQ) {
        if (!v->n)
            problem(c, v, path, "empty list: give at least one");
        list = bt_arena_alloc(c->arena, (v->n ? v->n : 1) * sizeof(*list));
        for (size_t i = 0; i < v->n; i++) {
            const char *ip = index_path(c, path, i), *one = NULL;

            raw = scalar(c, v->items[i], ip);
            if (raw)
                one = accept_secret(c, v->items[i], ip, NULL, 0, kind, raw);
            if (one)
                list[n++] = one;
            else
                bad = true;
        }
    } else if (v && v->type == BT_Y_MAP) {
        problem(c, v, path, "must be a string or a list of strings");
    } else if (v) {
        raw = scalar(c, v, path);
        list = bt_arena_alloc(c->arena, sizeof(*list));
        list[0] = raw ? accept_secret(c, v, path, NULL, 0, kind, raw) : NULL;
        n = list[0] != NULL;
    } else {
        raw = scalar(c, f, path);
        if (raw)
            n = secrets_from_file(c, f, path, resolve(c, raw), kind, &list, &bad);
    }
    if (!bad && n) {
        *out = list;
        *n_out = n;
    }
}

/* ---- push targets ---- */

/* `targets: {NAME: {url | url_file}}`: the URLs carry their own
 * authorization (Teams' sig=, a receiver's token), so they are secrets. */
static void get_targets(struct ctx *c, const struct sect *s, const struct bt_config_target **out,
                        size_t *n_out)
{
    static const char *const target_keys[] = {"url", "url_file", NULL};
    const struct bt_ynode *n = value(s, "targets");
    const char *path = key_path(c, s->path, "targets");
    struct bt_config_target *v;
    size_t cnt = 0;

    if (!n)
        return;
    if (n->type != BT_Y_MAP) {
        problem(c, n, path, "must be a mapping of target names to {url: ...}");
        return;
    }
    v = bt_arena_alloc(c->arena, (n->n ? n->n : 1) * sizeof(*v));
    for (size_t i = 0; i < n->n; i++) {
        const struct bt_ynode *k = n->keys[i], *t = n->items[i];
        struct sect ts = {NULL, k, NULL};
        const char *url = NULL;
        bool dup = false;

        if (k->type != BT_Y_SCALAR || !k->len) {
            problem(c, k, path, "a target name must be a non-empty string");
            continue;
        }
        ts.path = key_path(c, path, k->str);
        for (size_t j = 0; j < i && !dup; j++)
            dup = n->keys[j]->type == BT_Y_SCALAR && !strcmp(n->keys[j]->str, k->str);
        if (dup) {
            problem(c, k, ts.path, "target \"%.80s\" is defined twice", k->str);
            continue;
        }
        if (bt_ynode_is_null(t) || t->type != BT_Y_MAP) {
            problem(c, bt_ynode_is_null(t) ? k : t, ts.path,
                    "must be a mapping with url or url_file");
            continue;
        }
        ts.map = t;
        bt_ynode_check_keys(c->doc, t, ts.path, target_keys, c->diags);
        get_secret(c, &ts, "url", true, SECRET_URL, &url);
        if (url) {
            v[cnt].name = bt_arena_strdup(c->arena, k->str);
            v[cnt++].url = url;
        }
    }
    *out = v;
    *n_out = cnt;
}

/* ---- sections ---- */

static void parse_sources(struct ctx *c, const struct sect *root, struct bt_config *cfg)
{
    static const char *const keys[] = {"hubspot", "pipedrive", "salesforce", "generic", NULL};
    static const char *const hubspot_keys[] = {"client_secret",
                                               "client_secret_file",
                                               "signature_v1",
                                               "api_base",
                                               "token",
                                               "token_file",
                                               NULL};
    static const char *const pipedrive_keys[] = {"username", "password", "password_file", NULL};
    static const char *const salesforce_keys[] = {"organization_id", "path_token",
                                                  "path_token_file", NULL};
    static const char *const generic_keys[] = {"secret", "secret_file", NULL};
    struct sect s = section(c, root, "sources", keys), sub;

    sub = section(c, &s, "hubspot", hubspot_keys);
    if (present(&sub)) {
        struct bt_config_hubspot *h = &cfg->sources.hubspot;

        h->enabled = true;
        get_secret_list(c, &sub, "client_secret", true, SECRET_ANY, &h->client_secrets,
                        &h->n_client_secrets);
        get_bool(c, &sub, "signature_v1", &h->signature_v1);
        get_base_url(c, &sub, "api_base", "https://api.hubapi.com", &h->api_base);
        get_secret(c, &sub, "token", false, SECRET_ANY, &h->token);
        /* HubSpot's v3 signature covers the URL it called, which only
         * public_url can rebuild behind a proxy. */
        if (!value(root, "public_url"))
            problem(c, sub.at, "public_url",
                    "required with sources.hubspot: HubSpot signs the public URL it calls");
    }
    sub = section(c, &s, "pipedrive", pipedrive_keys);
    if (present(&sub)) {
        struct bt_config_pipedrive *p = &cfg->sources.pipedrive;

        p->enabled = true;
        if (!value(&sub, "username"))
            problem(c, sub.at, key_path(c, sub.path, "username"), "missing");
        get_str(c, &sub, "username", &p->username);
        get_secret(c, &sub, "password", true, SECRET_ANY, &p->password);
    }
    sub = section(c, &s, "salesforce", salesforce_keys);
    if (present(&sub)) {
        struct bt_config_salesforce *sf = &cfg->sources.salesforce;
        const struct bt_ynode *org = value(&sub, "organization_id");

        sf->enabled = true;
        get_str(c, &sub, "organization_id", &sf->organization_id);
        if (!org) {
            problem(c, sub.at, key_path(c, sub.path, "organization_id"),
                    "missing: the id of the org whose messages are accepted (00D...)");
        } else if (sf->organization_id) {
            size_t len = strlen(sf->organization_id);
            size_t alnum = strspn(sf->organization_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                       "abcdefghijklmnopqrstuvwxyz0123456789");

            if ((len != 15 && len != 18) || alnum != len) {
                problem(c, org, key_path(c, sub.path, "organization_id"),
                        "\"%.80s\" is not a Salesforce organization id (15 or 18 letters and "
                        "digits, such as 00D5g000000AbCdEAK)",
                        sf->organization_id);
                sf->organization_id = NULL;
            }
        }
        get_secret_list(c, &sub, "path_token", true, SECRET_PATH, &sf->path_tokens,
                        &sf->n_path_tokens);
    }
    sub = section(c, &s, "generic", generic_keys);
    if (present(&sub)) {
        struct bt_config_generic *g = &cfg->sources.generic;

        g->enabled = true;
        get_secret_list(c, &sub, "secret", true, SECRET_WHSEC, &g->secrets, &g->n_secrets);
    }
}

static void parse_channels(struct ctx *c, const struct sect *root, struct bt_config *cfg)
{
    static const char *const keys[] = {"slack", "teams", "webhook", NULL};
    static const char *const slack_keys[] = {"api_base", "token", "token_file",
                                             "per_channel_interval", NULL};
    static const char *const teams_keys[] = {"targets", NULL};
    static const char *const webhook_keys[] = {"secret", "secret_file", "targets", NULL};
    struct sect s = section(c, root, "channels", keys), sub;

    sub = section(c, &s, "slack", slack_keys);
    if (present(&sub)) {
        struct bt_config_slack *sl = &cfg->channels.slack;

        sl->enabled = true;
        get_base_url(c, &sub, "api_base", "https://slack.com", &sl->api_base);
        get_secret(c, &sub, "token", true, SECRET_ANY, &sl->token);
        get_duration(c, &sub, "per_channel_interval", 0, &sl->per_channel_interval_ms);
    }
    sub = section(c, &s, "teams", teams_keys);
    if (present(&sub)) {
        cfg->channels.teams.enabled = true;
        get_targets(c, &sub, &cfg->channels.teams.targets, &cfg->channels.teams.n_targets);
    }
    sub = section(c, &s, "webhook", webhook_keys);
    if (present(&sub)) {
        struct bt_config_webhook *w = &cfg->channels.webhook;

        w->enabled = true;
        get_secret(c, &sub, "secret", true, SECRET_WHSEC, &w->secret);
        get_targets(c, &sub, &w->targets, &w->n_targets);
    }
}

static void parse_http(struct ctx *c, const struct sect *root, struct bt_config_http *h)
{
    static const char *const keys[] = {"connection_timeout",
                                       "max_connections",
                                       "max_connections_per_ip",
                                       "memory_limit",
                                       "body_limit",
                                       "request_deadline",
                                       NULL};
    struct sect s = section(c, root, "http", keys);

    get_duration(c, &s, "connection_timeout", 1000, &h->connection_timeout_ms);
    get_uint(c, &s, "max_connections", 1, 1000000, &h->max_connections);
    get_uint(c, &s, "max_connections_per_ip", 1, 1000000, &h->max_connections_per_ip);
    /* below a few KiB libmicrohttpd cannot even hold the request headers */
    get_size(c, &s, "memory_limit", 8 * 1024, &h->memory_limit);
    get_size(c, &s, "body_limit", 1024, &h->body_limit);
    get_duration(c, &s, "request_deadline", 100, &h->request_deadline_ms);
}

static void parse_push(struct ctx *c, const struct sect *root, struct bt_config_push *p)
{
    static const char *const keys[] = {"connect_timeout",
                                       "timeout",
                                       "max_connections_per_host",
                                       "response_cap",
                                       "retry_schedule",
                                       "retry_after_last",
                                       "give_up_after",
                                       "jitter",
                                       "lease",
                                       "batch",
                                       NULL};
    struct sect s = section(c, root, "push", keys);
    const struct bt_ynode *sched = value(&s, "retry_schedule");

    get_duration(c, &s, "connect_timeout", 1, &p->connect_timeout_ms);
    get_duration(c, &s, "timeout", 1, &p->timeout_ms);
    get_uint(c, &s, "max_connections_per_host", 1, 1024, &p->max_connections_per_host);
    get_size(c, &s, "response_cap", 1024, &p->response_cap);
    if (sched) {
        const char *path = key_path(c, s.path, "retry_schedule");

        if (sched->type != BT_Y_SEQ) {
            problem(c, sched, path, "must be a list of durations, such as [5s, 30s, 2m]");
        } else if (!sched->n) {
            problem(c, sched, path, "empty list: give at least one duration");
        } else {
            int64_t *v = bt_arena_alloc(c->arena, sched->n * sizeof(*v));
            bool ok = true;

            for (size_t i = 0; i < sched->n; i++)
                ok &= duration_node(c, sched->items[i], index_path(c, path, i), 1, &v[i]);
            if (ok) {
                p->retry_schedule_ms = v;
                p->n_retry_schedule = sched->n;
            }
        }
    }
    get_duration(c, &s, "retry_after_last", 1, &p->retry_after_last_ms);
    get_duration(c, &s, "give_up_after", 1, &p->give_up_after_ms);
    get_fraction(c, &s, "jitter", &p->jitter);
    get_duration(c, &s, "lease", 1000, &p->lease_ms);
    get_uint(c, &s, "batch", 1, 10000, &p->batch);
}

static void parse_tuning(struct ctx *c, const struct sect *root, struct bt_config *cfg)
{
    static const char *const ingest_keys[] = {"batch_max", NULL};
    static const char *const journal_keys[] = {"path", "max_bytes", NULL};
    static const char *const tracking_keys[] = {"prefetch_window", "extra_prefetch_agents", NULL};
    static const char *const report_keys[] = {"min_deliveries", "ignored_below", NULL};
    static const char *const lookup_keys[] = {"timeout", "base_delay", "max_attempts", NULL};
    struct sect s;
    const struct bt_ynode *agents;

    parse_http(c, root, &cfg->http);
    s = section(c, root, "ingest", ingest_keys);
    get_uint(c, &s, "batch_max", 1, 100000, &cfg->ingest.batch_max);
    s = section(c, root, "journal", journal_keys);
    get_path(c, &s, "path", &cfg->journal.path);
    get_size(c, &s, "max_bytes", 64 * 1024, &cfg->journal.max_bytes);
    parse_push(c, root, &cfg->push);

    s = section(c, root, "tracking", tracking_keys);
    get_duration(c, &s, "prefetch_window", 0, &cfg->tracking.prefetch_window_ms);
    agents = value(&s, "extra_prefetch_agents");
    if (agents && agents->type != BT_Y_SEQ) {
        problem(c, agents, key_path(c, s.path, "extra_prefetch_agents"),
                "must be a list of user-agent substrings");
    } else if (agents) {
        const char *path = key_path(c, s.path, "extra_prefetch_agents");
        const char **v = bt_arena_alloc(c->arena, (agents->n + 1) * sizeof(*v));
        size_t n = 0;

        for (size_t i = 0; i < agents->n; i++) {
            const char *a = scalar(c, agents->items[i], index_path(c, path, i));

            if (a)
                v[n++] = bt_arena_strdup(c->arena, a);
        }
        cfg->tracking.extra_prefetch_agents = v;
        cfg->tracking.n_extra_prefetch_agents = n;
    }

    s = section(c, root, "report", report_keys);
    get_uint(c, &s, "min_deliveries", 1, 1000000, &cfg->report.min_deliveries);
    get_fraction(c, &s, "ignored_below", &cfg->report.ignored_below);

    s = section(c, root, "lookup", lookup_keys);
    get_duration(c, &s, "timeout", 1, &cfg->lookup.timeout_ms);
    get_duration(c, &s, "base_delay", 1, &cfg->lookup.base_delay_ms);
    get_uint(c, &s, "max_attempts", 1, 100, &cfg->lookup.max_attempts);
}

static void parse_log_level(struct ctx *c, const struct sect *root, struct bt_config *cfg)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    const struct bt_ynode *n = value(root, "log_level");
    const char *v;
    int level;

    if (!n)
        return;
    v = scalar(c, n, "log_level");
    if (!v)
        return;
    level = bt_log_level_parse(v);
    if (level < 0) {
        const char *s = bt_suggest(v, names, 4);

        /* "warning", "err": a longer or shorter spelling of a level */
        for (int i = 0; i < 4 && !s; i++)
            if (!strncasecmp(v, names[i],
                             strlen(v) < strlen(names[i]) ? strlen(v) : strlen(names[i])))
                s = names[i];

        problem(c, n, "log_level",
                "unknown log level \"%.80s\"%s%s%s: use debug, info, warn or error", v,
                s ? " (did you mean \"" : "", s ? s : "", s ? "\"?)" : "");
        return;
    }
    cfg->log_level = (enum bt_log_level)level;
}

/* A libpq conninfo, checked without connecting. libpq's own message may
 * quote part of the string, which may hold a password, so it is not shown. */
static bool conninfo_ok(const char *s)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(s, &err);

    PQfreemem(err);
    if (!opts)
        return false;
    PQconninfoFree(opts);
    return true;
}

/* $BATON_DATABASE replaces the file's database entirely (which is then not
 * read), so one config can serve hosts that keep the conninfo elsewhere. */
static void parse_database(struct ctx *c, const struct sect *root, struct bt_config *cfg)
{
    const char *env = getenv("BATON_DATABASE");
    const struct bt_ynode *v = value(root, "database"), *f = value(root, "database_file");
    const char *db = NULL;

    if (env && *env) {
        cfg->database_from_env = true;
        if (conninfo_ok(env))
            cfg->database = keep_secret(c, env, strlen(env));
        else
            bt_diags_add(c->diags, NULL, 0, 0, "BATON_DATABASE",
                         "not a valid libpq connection string");
        return;
    }
    if (!v && !f) {
        problem(c, NULL, "database",
                "missing: give database (a libpq conninfo such as "
                "\"host=/run/postgresql dbname=baton\") or database_file, "
                "or set BATON_DATABASE");
        return;
    }
    get_secret(c, root, "database", false, SECRET_ANY, &db);
    if (db && !conninfo_ok(db))
        problem(c, v ? v : f, v ? "database" : "database_file",
                "not a valid libpq connection string (such as \"host=/run/postgresql "
                "dbname=baton\" or postgresql://db.example.com/baton)");
    else
        cfg->database = db;
}

static void set_defaults(struct bt_config *cfg)
{
    static const int64_t schedule[] = {5000, 30000, 120000, 600000, 1800000, 3600000};

    cfg->listen = "127.0.0.1:8080";
    if (!parse_listen(cfg->listen, cfg))
        bt_fatal("config: the default listen address does not parse"); /* impossible */
    cfg->log_level = BT_LOG_INFO;
    cfg->sources.hubspot.api_base = "https://api.hubapi.com";
    cfg->channels.slack.api_base = "https://slack.com";
    cfg->channels.slack.per_channel_interval_ms = 1000;
    cfg->http = (struct bt_config_http){
        .connection_timeout_ms = 30000,
        .max_connections = 1024,
        .max_connections_per_ip = 64,
        .memory_limit = 256 * 1024,
        .body_limit = 1024 * 1024,
        .request_deadline_ms = 10000,
    };
    cfg->ingest.batch_max = 500;
    cfg->journal.path = "/var/lib/baton/journal";
    cfg->journal.max_bytes = 64 * 1024 * 1024;
    cfg->push = (struct bt_config_push){
        .connect_timeout_ms = 5000,
        .timeout_ms = 15000,
        .max_connections_per_host = 8,
        .response_cap = 64 * 1024,
        .retry_schedule_ms = schedule,
        .n_retry_schedule = sizeof(schedule) / sizeof(schedule[0]),
        .retry_after_last_ms = 3600000,
        .give_up_after_ms = 24 * 3600000LL,
        .jitter = 0.2,
        .lease_ms = 60000,
        .batch = 100,
    };
    cfg->tracking.prefetch_window_ms = 2000;
    cfg->report.min_deliveries = 5;
    cfg->report.ignored_below = 0.2;
    cfg->lookup = (struct bt_config_lookup){
        .timeout_ms = 10000,
        .base_delay_ms = 1000,
        .max_attempts = 5,
    };
}

static void parse_root(struct ctx *c, const struct bt_ynode *node, struct bt_config *cfg)
{
    static const char *const keys[] = {
        "listen",           "public_url", "database", "database_file", "motion", "admin_token",
        "admin_token_file", "log_level",  "sources",  "channels",      "http",   "ingest",
        "journal",          "push",       "tracking", "report",        "lookup", NULL};
    static const struct bt_ynode empty = {.type = BT_Y_MAP};
    struct sect root = {node ? node : &empty, NULL, ""};
    const struct bt_ynode *n;
    const char *v;

    if (node && node->type != BT_Y_MAP) {
        problem(c, node, NULL, "the configuration must be a mapping of keys to values");
        return;
    }
    bt_ynode_check_keys(c->doc, root.map, "", keys, c->diags);

    n = value(&root, "listen");
    v = n ? scalar(c, n, "listen") : NULL;
    if (v && parse_listen(v, cfg))
        cfg->listen = bt_arena_strdup(c->arena, v);
    else if (v)
        problem(c, n, "listen",
                "\"%.80s\" is not an address and port such as 127.0.0.1:8080 or [::1]:8080", v);
    get_base_url(c, &root, "public_url", "https://baton.example.com", &cfg->public_url);
    if (!value(&root, "public_url")) {
        char *url = bt_asprintf("http://%s", cfg->listen);

        cfg->public_url = bt_arena_strdup(c->arena, url);
        bt_free(url);
    }
    parse_database(c, &root, cfg);
    get_path(c, &root, "motion", &cfg->motion);
    get_secret(c, &root, "admin_token", false, SECRET_TOKEN, &cfg->admin_token);
    parse_log_level(c, &root, cfg);
    parse_sources(c, &root, cfg);
    parse_channels(c, &root, cfg);
    parse_tuning(c, &root, cfg);
}

int bt_config_load(const char *file, struct bt_config **out, struct bt_diags *diags)
{
    struct bt_ydoc *doc = NULL;
    struct box *b = NULL;
    struct ctx c = {0};
    const char *slash = strrchr(file, '/');
    char *dir = NULL;
    size_t before = diags->n;
    int rc;

    *out = NULL;
    rc = bt_ydoc_load_file(file, &doc, diags);
    if (rc < 0)
        goto out;
    if (slash)
        dir = bt_strndup(file, slash == file ? 1 : (size_t)(slash - file));
    b = bt_calloc(1, sizeof(*b));
    b->arena = bt_arena_new();
    b->refs = 1;
    c = (struct ctx){doc, b, b->arena, bt_arena_new(), diags, dir};
    set_defaults(&b->cfg);
    b->cfg.file = bt_arena_strdup(b->arena, file);
    parse_root(&c, doc->root, &b->cfg);
    if (diags->n > before) {
        rc = BT_EINVAL;
        goto out;
    }
    *out = &b->cfg;
    b = NULL;
out:
    box_free(b);
    bt_arena_free(c.scratch);
    bt_free(dir);
    bt_ydoc_free(doc);
    return rc;
}

const char *bt_config_target_url(const struct bt_config *cfg, const char *channel,
                                 const char *name)
{
    const struct bt_config_target *v = NULL;
    size_t n = 0;

    if (!strcmp(channel, "teams")) {
        v = cfg->channels.teams.targets;
        n = cfg->channels.teams.n_targets;
    } else if (!strcmp(channel, "webhook")) {
        v = cfg->channels.webhook.targets;
        n = cfg->channels.webhook.n_targets;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name))
            return v[i].url;
    return NULL;
}

int bt_config_inbound_auth(const struct bt_config *cfg, enum bt_source source,
                           struct bt_crm_auth *out)
{
    int rc = BT_ENOENT;

    memset(out, 0, sizeof(*out));
    switch (source) {
    case BT_SRC_HUBSPOT:
        if (!cfg->sources.hubspot.enabled)
            break;
        out->secrets = cfg->sources.hubspot.client_secrets;
        out->n_secrets = cfg->sources.hubspot.n_client_secrets;
        out->hubspot_v1 = cfg->sources.hubspot.signature_v1;
        rc = 0;
        break;
    case BT_SRC_PIPEDRIVE:
        if (!cfg->sources.pipedrive.enabled)
            break;
        out->username = cfg->sources.pipedrive.username;
        out->password = cfg->sources.pipedrive.password;
        rc = 0;
        break;
    case BT_SRC_SALESFORCE:
        if (!cfg->sources.salesforce.enabled)
            break;
        out->organization_id = cfg->sources.salesforce.organization_id;
        out->path_tokens = cfg->sources.salesforce.path_tokens;
        out->n_path_tokens = cfg->sources.salesforce.n_path_tokens;
        rc = 0;
        break;
    case BT_SRC_GENERIC:
        if (!cfg->sources.generic.enabled)
            break;
        out->secrets = cfg->sources.generic.secrets;
        out->n_secrets = cfg->sources.generic.n_secrets;
        rc = 0;
        break;
    case BT_SRC_COUNT:
        break;
    }
    return rc;
}
