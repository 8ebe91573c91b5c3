/* Sending one channel's request the way the pusher would, for the channel
 * unit tests: on a libuv loop of its own, through lib/fetch, with the answer
 * classified by the channel's own classifier. */
#ifndef BT_TEST_PUSHTEST_H
#define BT_TEST_PUSHTEST_H

#include "config.h"
#include "push.h"

struct bt_test_answer {
    int calls;                /* how often the fetch callback fired: must be 1 */
    struct bt_push_verdict v; /* the channel's verdict on the answer */
    long status;              /* the HTTP status (0: no answer) */
};

/* A config loaded from YAML text (fails the test when it does not load). */
struct bt_config *bt_test_push_config(const char *yaml);

/* POSTs H to URL and classifies the answer with CHANNEL's classifier. */
struct bt_test_answer bt_test_push_send(const char *channel, const struct bt_push_http *h,
                                        const char *url);

#endif
