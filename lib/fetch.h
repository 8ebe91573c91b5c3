/* fetch — outbound HTTP requests on the libuv loop, with libcurl multi.
 *
 * curl's multi-uv pattern: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION);
 * each socket gets a uv_poll_t, and one uv_timer_t serves the whole client.
 * A poll is stopped as soon as curl says it is done with a socket (before
 * curl closes it) and freed in its uv_close callback. DNS uses curl's own
 * threaded resolver, so nothing here blocks the loop.
 *
 * Every request has a connect timeout and a total timeout, never follows a
 * redirect (a 3xx is handed back as it is), keeps at most response_cap
 * bytes of the answer, and shares at most max_connections_per_host
 * connections to one host with the other requests (more wait their turn).
 *
 * Callbacks run on the loop thread. A started request's callback fires
 * exactly once: with the answer, with a transport error, or with
 * BT_ECANCELED when it is cancelled or the client closes. It never fires
 * inside bt_fetch_start. Loop thread only. */
#ifndef BT_FETCH_H
#define BT_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"

struct bt_fetch;
struct bt_fetch_req;

struct bt_fetch_opts {
    int64_t connect_timeout_ms;        /* 0: 5 s */
    int64_t timeout_ms;                /* the whole request; 0: 15 s */
    unsigned max_connections_per_host; /* 0: no limit */
    size_t response_cap;               /* bytes of a body kept; 0: 64 KiB */
    const char *user_agent;            /* NULL: "baton/VERSION" */
};

struct bt_fetch_request {
    const char *method;         /* "POST", "GET", ... */
    const char *url;            /* may be a secret: never logged here */
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const char *body;           /* copied; NULL for none */
    size_t body_len;
};

struct bt_fetch_result {
    /* 0: an HTTP answer came (any status); BT_EIO: no answer (status 0,
     * error says why); BT_ETOOBIG: the body crossed response_cap (status
     * is set, body holds the first response_cap bytes); BT_ECANCELED. */
    int err;
    long status;
    const char *error;      /* curl's text for err != 0, else "" */
    int64_t retry_after_ms; /* the answer's Retry-After; -1 when absent */
    const char *body;       /* NUL-terminated; valid during the callback */
    size_t body_len;
    int64_t elapsed_ms;
};

typedef void (*bt_fetch_cb)(const struct bt_fetch_result *res, void *ud);

int bt_fetch_new(uv_loop_t *loop, const struct bt_fetch_opts *opts,
                 struct bt_fetch **out) BT_MUST_CHECK;

/* Starts a request; everything in RQ is copied. *OUT (may be NULL) is a
 * handle valid until the callback fires. BT_EINVAL (a malformed request)
 * or BT_ECANCELED (the client is closing): CB is never called. */
int bt_fetch_start(struct bt_fetch *f, const struct bt_fetch_request *rq, bt_fetch_cb cb, void *ud,
                   struct bt_fetch_req **out) BT_MUST_CHECK;

/* The callback fires with BT_ECANCELED before this returns. R must be a
 * request whose callback has not fired yet. */
void bt_fetch_cancel(struct bt_fetch_req *r);

/* Requests started and not yet called back. */
size_t bt_fetch_in_flight(const struct bt_fetch *f);

/* Cancels what is still in flight (each callback fires with BT_ECANCELED
 * before this returns), closes every connection and handle; DONE(ud) fires
 * once they are all closed and F is freed. Safe to call from a fetch
 * callback. Wait for bt_fetch_in_flight() == 0 first to let requests end
 * on their own. */
void bt_fetch_close(struct bt_fetch *f, void (*done)(void *ud), void *ud);

#endif
