/* http — libmicrohttpd driven by a libuv loop: MHD in external epoll mode,
 * its epoll fd in a uv_poll_t, MHD_run() on readiness and a uv_timer_t for
 * MHD_get_timeout(). No MHD thread.
 *
 * The handler is called once per request, on the loop thread, when the
 * whole body has arrived (bodies over body_limit are answered 413 by this
 * module and never reach it). The handler then owns one reference to the
 * request and must call bt_http_respond() exactly once, now or later from
 * any loop callback; until then the connection is suspended. A request not
 * answered within request_deadline gets 503 with Retry-After from this
 * module, and the owner's later bt_http_respond() is a harmless no-op, so
 * owners never need to know. Responses are queued on the access handler's
 * second or later call, which keeps keep-alive connections alive. */
#ifndef BT_HTTP_H
#define BT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"

struct bt_http;
struct bt_http_req;

struct bt_http_opts {
    const char *host;              /* numeric address to bind, "127.0.0.1" or "::1" */
    int port;                      /* 0: any free port (see bt_http_port) */
    unsigned connection_timeout_s; /* idle keep-alive connections are closed after it */
    unsigned max_connections;
    unsigned max_connections_per_ip;
    size_t memory_limit;    /* per connection, for headers */
    size_t body_limit;      /* larger bodies get 413 */
    unsigned deadline_ms;   /* a suspended request gets 503 after this */
    unsigned retry_after_s; /* the Retry-After of that 503 */
};

typedef void (*bt_http_handler)(struct bt_http_req *req, void *ud);

int bt_http_new(uv_loop_t *loop, const struct bt_http_opts *opts, bt_http_handler handler,
                void *ud, struct bt_http **out) BT_MUST_CHECK;
int bt_http_port(const struct bt_http *h);
/* Stops accepting new connections; requests in flight go on. */
void bt_http_quiesce(struct bt_http *h);
/* Requests received and not yet answered. */
size_t bt_http_pending(const struct bt_http *h);
/* Answers what is still suspended with 503, stops MHD, closes the handles;
 * DONE(ud) fires once everything is closed. */
void bt_http_close(struct bt_http *h, void (*done)(void *ud), void *ud);

/* Request accessors: valid until bt_http_respond(). */
const char *bt_http_method(const struct bt_http_req *r);
const char *bt_http_path(const struct bt_http_req *r); /* percent-decoded, no query */
/* A header (case-insensitive name) or a query argument; NULL when absent,
 * and always NULL once the client has gone away. */
const char *bt_http_header(const struct bt_http_req *r, const char *name);
const char *bt_http_query(const struct bt_http_req *r, const char *name);
/* The query string as the sender wrote it, re-encoded ("" when none). */
const char *bt_http_query_string(struct bt_http_req *r);
const char *bt_http_body(const struct bt_http_req *r, size_t *len);
/* Per-request user data, for owners that keep state across callbacks. */
void bt_http_set_data(struct bt_http_req *r, void *data);
void *bt_http_data(const struct bt_http_req *r);

/* Answers the request. HEADERS is NULL or a NULL-terminated list of name,
 * value pairs. The body is copied. Calling it on a request already answered
 * (by the deadline) only releases the caller's reference. */
void bt_http_respond(struct bt_http_req *r, unsigned status, const char *content_type,
                     const char *body, size_t len, const char *const *headers);
/* A JSON error body {"error": reason} with STATUS. */
void bt_http_respond_error(struct bt_http_req *r, unsigned status, const char *reason);

#endif
