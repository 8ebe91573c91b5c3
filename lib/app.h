/* app — one batond: the HTTP endpoints, the database connections, ingest,
 * matching, and the active motion, wired onto one libuv loop.
 *
 * The app holds a reference to the config it was made with. Everything
 * runs on the loop thread but the motion file's load, which (like `baton
 * load`) uses a blocking connection on libuv's pool. */
#ifndef BT_APP_H
#define BT_APP_H

#include <uv.h>

#include "config.h"
#include "err.h"

struct bt_app;

/* Checks, with a short blocking connection, that the database schema is
 * not behind this build. Returns 0 when it is current or the database is
 * unreachable (the daemon starts and journals), BT_ESCHEMA otherwise, with
 * the reason logged. For start-up only. */
int bt_app_preflight(const struct bt_config *cfg) BT_MUST_CHECK;

int bt_app_new(uv_loop_t *loop, const struct bt_config *cfg, struct bt_app **out) BT_MUST_CHECK;
int bt_app_port(const struct bt_app *app);
/* SIGHUP: load the motion file again (as `baton load` would). */
void bt_app_reload(struct bt_app *app);
/* SIGTERM: stop accepting, finish what is in flight (at most DRAIN_MS), then
 * close every handle and call DONE. The app is freed before DONE runs. */
void bt_app_stop(struct bt_app *app, unsigned drain_ms, void (*done)(void *ud), void *ud);

#endif
