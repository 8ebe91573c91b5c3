#include "webassets.h"

#include <string.h>

/* The pages come from a header that lib/web/embed.cmake generates into the
 * build tree (BT_WEB_FILES, an X-macro of name and byte array). A build that
 * does not run that step still compiles, with no pages: bt_web_asset() then
 * finds nothing, the daemon answers 404, and the webassets unit test fails
 * saying why, rather than every target failing to link. */
#if __has_include("webassets_data.h")
#include "webassets_data.h"
#else
#define BT_WEB_FILES(X)
#endif

struct web_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};

/* clang-format off */
static const struct web_file files[] = {
#define WEB_FILE_ENTRY(name, bytes) {name, bytes, sizeof(bytes) - 1},
    BT_WEB_FILES(WEB_FILE_ENTRY)
#undef WEB_FILE_ENTRY
    {NULL, NULL, 0},
};
/* clang-format on */

static const char *type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
    };
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

const char *bt_web_asset(const char *name, size_t *len, const char **content_type)
{
    const struct web_file *f = NULL;

    for (size_t i = 0; name && files[i].name; i++) {
        if (!strcmp(files[i].name, name)) {
            f = &files[i];
            break;
        }
    }
    if (len)
        *len = f ? f->len : 0;
    if (content_type)
        *content_type = f ? type_of(f->name) : NULL;
    return f ? (const char *)f->data : NULL;
}
