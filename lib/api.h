/* api — the read side of Baton over HTTP: a deal's suggestions (what a CRM
 * sidebar card fetches), the adoption report, the motion versions, the
 * dashboard and the rep panel with its live stream.
 *
 * Admin endpoints take the config's admin token as `Authorization: Bearer`
 * or, for the dashboard in a browser, the `baton_admin` cookie that
 * `/dashboard?token=...` sets. Without an admin token in the config they are
 * closed. Rep panels are opened with a per-rep link token (an HMAC of the
 * rep id under a key derived from the admin token), not guessable.
 * Loop thread only; database reads go through the given connection. */
#ifndef BT_API_H
#define BT_API_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "http.h"
#include "motion.h"
#include "pg.h"

struct bt_api;

int bt_api_new(uv_loop_t *loop, const struct bt_config *cfg, struct bt_pg *pg,
               struct bt_api **out) BT_MUST_CHECK;
/* The active motion and its version (takes a reference). */
void bt_api_set_motion(struct bt_api *api, struct bt_motion *m, long long version);
/* Whether PATH is one of ours; if so, answers R. */
bool bt_api_handle(struct bt_api *api, struct bt_http_req *r, const char *path);
/* A delivery was pushed to a rep's panel: stream it to open panels. */
void bt_api_panel_push(struct bt_api *api, const char *rep_id, long long delivery_id);
bool bt_api_idle(const struct bt_api *api);
void bt_api_free(struct bt_api *api);

/* The panel link token of REP under CFG: 22 base64url characters in OUT.
 * BT_ENOENT when the config has no admin token to derive the key from. */
int bt_api_panel_token(const struct bt_config *cfg, const char *rep, char out[23]) BT_MUST_CHECK;

#endif
