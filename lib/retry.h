/* retry — when a failed push is tried again.
 *
 * The schedule is a list of gaps: the retry after the first failed attempt
 * waits the first gap, the next one the second, and once the list is used
 * up every retry waits retry_after_last. Each gap varies by up to ± jitter
 * (a fraction), so deliveries that failed together do not come back
 * together. A receiver's Retry-After replaces the gap it falls on.
 *
 * Pure functions: the caller brings the randomness, so tests are exact. */
#ifndef BT_RETRY_H
#define BT_RETRY_H

#include <stddef.h>
#include <stdint.h>

struct bt_config_push;

struct bt_retry {
    const int64_t *schedule_ms; /* gaps before retries 1..n; borrowed */
    size_t n_schedule;
    int64_t after_last_ms; /* every gap once the schedule is used up */
    int64_t give_up_ms;    /* a Retry-After is never honoured beyond this */
    double jitter;         /* 0..1 */
};

/* The policy of the config's push section; borrows its arrays, so it is
 * valid while the config is referenced. */
void bt_retry_from_config(struct bt_retry *r, const struct bt_config_push *p);

/* The gap in ms before the retry that follows failed attempt ATTEMPT (1 is
 * the first attempt). RETRY_AFTER_MS >= 0 is what the receiver asked for
 * and replaces the scheduled gap: it is not jittered (the receiver knows
 * its limits), but it is never shorter than the schedule's first gap (a
 * "Retry-After: 0" must not make a busy loop) nor longer than give_up_ms.
 * U is uniform in [0, 1): 0.5 is the gap without jitter. Never negative. */
int64_t bt_retry_gap_ms(const struct bt_retry *r, unsigned attempt, int64_t retry_after_ms,
                        double u);

#endif
