/* links — the tracked link GET /o/{token}: a 302 to the URL the delivery
 * stored (never one taken from the request), and every hit recorded and
 * classified (a person, or a prefetch by an unfurler or scanner).
 *
 * The redirect waits only for the token's look-up; hits are written in
 * batches a moment later, so a click never waits on a database write. No raw
 * IP address is stored. Loop thread only. */
#ifndef BT_LINKS_H
#define BT_LINKS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "http.h"
#include "pg.h"

struct bt_links;

struct bt_links_opts {
    int64_t prefetch_window_ms;
    const char *const *extra_agents; /* NULL-terminated; may be NULL */
    unsigned flush_ms;               /* how long hits may wait to be written (200 ms) */
};

struct bt_links_stats {
    unsigned long long hits, persons, prefetches, not_found, written, dropped;
};

int bt_links_new(uv_loop_t *loop, struct bt_pg *pg, const struct bt_links_opts *opts,
                 struct bt_links **out) BT_MUST_CHECK;
/* Answers R for TOKEN (the path segment after /o/). */
void bt_links_handle(struct bt_links *l, struct bt_http_req *r, const char *token);
bool bt_links_idle(const struct bt_links *l);
const struct bt_links_stats *bt_links_stats(const struct bt_links *l);
/* Writes what is queued (if it can), then frees once closed. */
void bt_links_close(struct bt_links *l, void (*done)(void *ud), void *ud);

#endif
