/* assign — turns deals marked *to match* into deliveries.
 *
 * A cycle claims a slice of marked deals with a lease (FOR UPDATE SKIP
 * LOCKED, so instances share the queue), matches each once on its merged
 * state against the active motion, resolves the route (the owner's rep, the
 * default route, or unroutable), and in one transaction inserts the new
 * deliveries and clears each mark — unless a newer change arrived meanwhile,
 * in which case the deal stays marked and is matched again. A crash between
 * the two only means the lease runs out and the deal is matched again; the
 * one-delivery-per-deal-and-asset rule makes that harmless. Cycles repeat
 * while there is work. Loop thread only. */
#ifndef BT_ASSIGN_H
#define BT_ASSIGN_H

#include <stdbool.h>
#include <uv.h>

#include "lookup.h"
#include "match.h"
#include "pg.h"

struct bt_assign;

struct bt_assign_opts {
    unsigned batch;                /* deals per cycle */
    unsigned lease_s;              /* how long a claim holds */
    void (*on_delivery)(void *ud); /* new deliveries were stored */
    struct bt_lookup *lookup;      /* completes deals from their CRM first; may be NULL */
    void *ud;
};

struct bt_assign_stats {
    unsigned long long deals, deliveries, unroutable, cycles, errors, lookups;
};

int bt_assign_new(uv_loop_t *loop, struct bt_pg *pg, const struct bt_assign_opts *opts,
                  struct bt_assign **out) BT_MUST_CHECK;
/* Takes MT (or NULL: nothing is matched until one arrives); VERSION is the
 * motion version deliveries will record. Applied between cycles. */
void bt_assign_set_matcher(struct bt_assign *a, struct bt_matcher *mt, long long version);
/* Run a cycle soon (after an ingest commit, a new motion, a reconnect). */
void bt_assign_kick(struct bt_assign *a);
bool bt_assign_idle(const struct bt_assign *a);
const struct bt_assign_stats *bt_assign_stats(const struct bt_assign *a);
/* Frees once idle; a cycle in flight finishes first. */
void bt_assign_free(struct bt_assign *a);

#endif
