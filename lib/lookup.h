/* lookup — completing a deal from its CRM's API before it is matched.
 *
 * HubSpot's webhooks carry one property per event, so a deal's owner (which
 * routing needs) or a field a play's conditions name may be unknown. Such a
 * deal is fetched from HubSpot's objects API (GET
 * {api_base}/crm/v3/objects/deals/{id}?properties=...) without blocking the
 * loop; the answer is merged into the deal's state like any change (time:
 * the object's updatedAt, so a newer webhook still wins) and the deal is
 * matched on the next cycle. A 429 is honoured through its Retry-After, and
 * a look-up that keeps failing leaves the deal marked, tried again with a
 * growing delay, and says so in the log. Loop thread only. */
#ifndef BT_LOOKUP_H
#define BT_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "deal.h"
#include "fetch.h"
#include "motion.h"
#include "pg.h"

struct bt_lookup;

/* Whether a deal of SOURCE with FIELDS must be looked up before matching:
 * a CRM that supports look-ups, and the owner or a field some play names
 * never heard of (a field known to be empty does not count). */
bool bt_lookup_needed(const struct bt_motion *m, enum bt_source source,
                      const struct bt_fields *fields);

/* The properties to ask HubSpot for, comma-separated: a new string. */
char *bt_lookup_hubspot_properties(const struct bt_motion *m);
/* Parses a HubSpot CRM object (the objects API's answer) into Baton fields
 * through the motion's field maps; every property asked for becomes known
 * (null when the CRM has no value). *UPDATED_MS is the object's updatedAt,
 * or 0. BT_EINVAL on a malformed answer. */
int bt_lookup_hubspot_parse(const struct bt_motion *m, const char *body, size_t len,
                            struct bt_fields *out, int64_t *updated_ms) BT_MUST_CHECK;

int bt_lookup_new(uv_loop_t *loop, const struct bt_config *cfg, struct bt_pg *pg,
                  struct bt_lookup **out) BT_MUST_CHECK;
/* Looks DEAL up (once at a time per deal), merges what comes back and
 * releases the deal's match lease, which OWNER holds, for matching; DONE(ud)
 * fires when the deal should be matched again (a cycle kick). Returns false
 * when no look-up is possible (no API token configured): match on what is
 * known. */
bool bt_lookup_start(struct bt_lookup *lk, const struct bt_motion *m, enum bt_source source,
                     const char *deal_id, const char *owner, int failures, void (*done)(void *ud),
                     void *ud);
bool bt_lookup_idle(const struct bt_lookup *lk);
void bt_lookup_close(struct bt_lookup *lk, void (*done)(void *ud), void *ud);

#endif
