#include "retry.h"

#include <math.h>

#include "config.h"

void bt_retry_from_config(struct bt_retry *r, const struct bt_config_push *p)
{
    r->schedule_ms = p->retry_schedule_ms;
    r->n_schedule = p->n_retry_schedule;
    r->after_last_ms = p->retry_after_last_ms;
    r->give_up_ms = p->give_up_after_ms;
    r->jitter = p->jitter;
}

int64_t bt_retry_gap_ms(const struct bt_retry *r, unsigned attempt, int64_t retry_after_ms,
                        double u)
{
    int64_t base, floor_ms;
    double j = r->jitter, gap;

    if (attempt == 0)
        attempt = 1;
    if (r->n_schedule && attempt <= r->n_schedule)
        base = r->schedule_ms[attempt - 1];
    else
        base = r->after_last_ms;
    if (retry_after_ms >= 0) {
        floor_ms = r->n_schedule ? r->schedule_ms[0] : r->after_last_ms;
        gap = (double)(retry_after_ms > floor_ms ? retry_after_ms : floor_ms);
        if (r->give_up_ms > 0 && gap > (double)r->give_up_ms)
            gap = (double)r->give_up_ms;
        return (int64_t)gap;
    }
    if (j < 0)
        j = 0;
    if (j > 1)
        j = 1;
    if (u < 0)
        u = 0;
    if (u >= 1)
        u = nextafter(1.0, 0.0);
    gap = (double)base * (1.0 + j * (2.0 * u - 1.0));
    return gap < 0 ? 0 : (int64_t)llround(gap);
}
