/* webassets — the web pages batond serves, embedded in the binary at build
 * time: the adoption dashboard and the rep panel (the .html files in
 * lib/web/, turned into C arrays by lib/web/embed.cmake). Each page is one
 * self-contained file with its CSS and JavaScript inline, so the daemon needs
 * nothing on disk and the pages load nothing from outside hosts.
 *
 * Read-only static data: safe from any thread and any callback. */
#ifndef BT_WEBASSETS_H
#define BT_WEBASSETS_H

#include <stddef.h>

/* The embedded file called NAME ("dashboard.html", "panel.html"), or NULL
 * for any other name (NULL included). The bytes are static and
 * NUL-terminated; *LEN gets their length without the NUL and *CONTENT_TYPE a
 * static MIME type with its charset ("text/html; charset=utf-8"). LEN and
 * CONTENT_TYPE may be NULL; on a NULL return they get 0 and NULL. */
const char *bt_web_asset(const char *name, size_t *len, const char **content_type);

#endif
