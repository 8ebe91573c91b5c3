#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

enum req_state {
    REQ_RECEIVING, /* headers seen, body arriving */
    REQ_TOO_BIG,   /* over the body limit: 413 at the first chance */
    REQ_HANDLING,  /* handed to the handler, not answered */
    REQ_ANSWERED,  /* a response is waiting to be queued */
    REQ_QUEUED     /* MHD has the response */
};

struct bt_http_req {
    struct bt_http *srv;
    struct MHD_Connection *conn; /* NULL once MHD is done with it */
    enum req_state state;
    int refs;       /* MHD's, and the handler's until it responds */
    bool suspended; /* MHD_suspend_connection in effect */
    char *method, *path, *query;
    struct bt_buf body;
    size_t discarded; /* bytes of a too-large body read and dropped */
    struct MHD_Response *resp;
    unsigned status;
    uint64_t deadline;               /* loop ms; 0 when not waiting */
    struct bt_http_req *next, *prev; /* the list of requests waiting for an answer */
    void *data;
};

struct bt_http {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    struct bt_http_opts opts;
    bt_http_handler handler;
    void *ud;
    int listen_fd, port;
    uv_poll_t poll;
    uv_timer_t timer;    /* MHD_get_timeout */
    uv_timer_t deadline; /* the oldest waiting request */
    uv_idle_t kick;      /* one more MHD_run after a resume */
    struct bt_http_req *waiting_head, *waiting_tail;
    size_t pending;
    int closing_handles;
    void (*done)(void *ud);
    void *done_ud;
};

static void run_mhd(struct bt_http *h);

/* A request's path for a log line: a path segment that is a secret (the
 * Salesforce endpoint's token) is not written out. */
static const char *log_path(const char *path, char *buf, size_t len)
{
    static const char secret_after[] = "/v1/webhooks/salesforce/";

    if (strncmp(path, secret_after, sizeof(secret_after) - 1) != 0)
        return path;
    snprintf(buf, len, "%s...", secret_after);
    return buf;
}

static void waiting_unlink(struct bt_http_req *r)
{
    struct bt_http *h = r->srv;

    if (!r->deadline)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        h->waiting_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        h->waiting_tail = r->prev;
    r->next = r->prev = NULL;
    r->deadline = 0;
}

static void req_unref(struct bt_http_req *r)
{
    if (--r->refs > 0)
        return;
    waiting_unlink(r);
    if (r->resp)
        MHD_destroy_response(r->resp);
    bt_buf_free(&r->body);
    bt_free(r->method);
    bt_free(r->path);
    bt_free(r->query);
    bt_free(r);
}

static void kick(struct bt_http *h);

static void resume(struct bt_http_req *r)
{
    if (r->suspended && r->conn) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
        kick(r->srv);
    }
}

static enum MHD_Result queue(struct bt_http_req *r)
{
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);

    MHD_destroy_response(r->resp);
    r->resp = NULL;
    r->state = REQ_QUEUED;
    return ok;
}

static struct MHD_Response *make_response(const char *content_type, const char *body, size_t len,
                                          const char *const *headers)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);

    if (!resp)
        bt_fatal("http: cannot create a response");
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    return resp;
}

static void answer(struct bt_http_req *r, unsigned status, struct MHD_Response *resp)
{
    r->resp = resp;
    r->status = status;
    r->state = REQ_ANSWERED;
    r->srv->pending--;
    waiting_unlink(r);
    resume(r);
}

void bt_http_respond(struct bt_http_req *r, unsigned status, const char *content_type,
                     const char *body, size_t len, const char *const *headers)
{
    if (r->state == REQ_HANDLING && r->conn)
        answer(r, status, make_response(content_type, body, len, headers));
    else if (r->state == REQ_HANDLING)
        r->srv->pending--, r->state = REQ_QUEUED; /* the client left first */
    req_unref(r);
}

void bt_http_respond_error(struct bt_http_req *r, unsigned status, const char *reason)
{
    static const char *const no_store[] = {"Cache-Control", "no-store", NULL};
    struct bt_buf b;
    int rc;

    bt_buf_init(&b, 8192);
    rc = bt_buf_adds(&b, "{\"error\":\"");
    for (const char *p = reason; !rc && *p; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == '"' || c == '\\')
            rc = bt_buf_printf(&b, "\\%c", c);
        else if (c < 0x20)
            rc = bt_buf_printf(&b, "\\u%04x", c);
        else
            rc = bt_buf_add(&b, p, 1);
    }
    if (!rc)
        rc = bt_buf_adds(&b, "\"}\n");
    if (rc)
        bt_http_respond(r, status, "application/json", "{\"error\":\"error\"}\n", 18, no_store);
    else
        bt_http_respond(r, status, "application/json", b.data, b.len, no_store);
    bt_buf_free(&b);
}

/* Deadlines: waiting requests are kept in arrival order and all share one
 * deadline length, so the head is always the next to expire. */
static void on_deadline(uv_timer_t *t);

static void arm_deadline(struct bt_http *h)
{
    uint64_t now = uv_now(h->loop);

    if (!h->waiting_head) {
        uv_timer_stop(&h->deadline);
        return;
    }
    uv_timer_start(&h->deadline, on_deadline,
                   h->waiting_head->deadline > now ? h->waiting_head->deadline - now : 0, 0);
}

static void on_deadline(uv_timer_t *t)
{
    struct bt_http *h = t->data;
    uint64_t now = uv_now(h->loop);

    while (h->waiting_head && h->waiting_head->deadline <= now) {
        struct bt_http_req *r = h->waiting_head;
        char ra[16];
        const char *headers[] = {"Retry-After", ra, NULL};

        snprintf(ra, sizeof(ra), "%u", h->opts.retry_after_s);
        char lp[64];

        bt_warn("http: %s %s not answered within %u ms, answering 503", r->method,
                log_path(r->path, lp, sizeof(lp)), h->opts.deadline_ms);
        answer(r, 503,
               make_response("application/json", "{\"error\":\"timed out, try again\"}\n", 33,
                             headers));
    }
    arm_deadline(h);
}

static void wait_for_answer(struct bt_http_req *r)
{
    struct bt_http *h = r->srv;

    r->deadline = uv_now(h->loop) + h->opts.deadline_ms;
    if (!r->deadline)
        r->deadline = 1;
    r->prev = h->waiting_tail;
    r->next = NULL;
    if (h->waiting_tail)
        h->waiting_tail->next = r;
    else
        h->waiting_head = r;
    h->waiting_tail = r;
    if (h->waiting_head == r)
        arm_deadline(h);
}

static void too_big(struct bt_http_req *r)
{
    static const char msg[] = "{\"error\":\"request body too large\"}\n";
    static const char *const close_hdr[] = {"Connection", "close", NULL};

    r->resp = make_response("application/json", msg, sizeof(msg) - 1, close_hdr);
    r->status = 413;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    struct bt_http *h = cls;
    struct bt_http_req *r = *con_cls;

    (void)version;
    if (!r) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

        r = bt_calloc(1, sizeof(*r));
        r->srv = h;
        r->conn = conn;
        r->refs = 1;
        r->method = bt_strdup(method);
        r->path = bt_strdup(url);
        bt_buf_init(&r->body, h->opts.body_limit);
        *con_cls = r;
        if (cl) {
            char *end;
            unsigned long long n;

            errno = 0;
            n = strtoull(cl, &end, 10);
            if (errno || *end || n > h->opts.body_limit) {
                /* Refuse at once: queueing now also closes the connection,
                 * which is what we want for a body we will not read. */
                r->state = REQ_TOO_BIG;
                too_big(r);
                return queue(r);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->state == REQ_RECEIVING && bt_buf_add(&r->body, upload_data, *upload_size) < 0) {
            /* A chunked body crossed the limit. libmicrohttpd 0.9.75 cannot
             * answer before the body has been read, so the rest is read and
             * dropped (memory stays bounded) and 413 goes out at its end;
             * a sender that keeps going far past the limit is cut off. */
            r->state = REQ_TOO_BIG;
            bt_buf_free(&r->body);
            too_big(r);
        }
        if (r->state == REQ_TOO_BIG) {
            r->discarded += *upload_size;
            if (r->discarded / 16 > h->opts.body_limit)
                return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    switch (r->state) {
    case REQ_RECEIVING:
        r->state = REQ_HANDLING;
        r->refs++; /* the handler's */
        h->pending++;
        h->handler(r, h->ud);
        if (r->state == REQ_ANSWERED)
            return queue(r);
        if (r->state == REQ_HANDLING) {
            wait_for_answer(r);
            r->suspended = true;
            MHD_suspend_connection(conn);
        }
        return MHD_YES;
    case REQ_TOO_BIG:
        if (r->resp)
            return queue(r);
        return MHD_NO;
    case REQ_ANSWERED:
        return queue(r);
    case REQ_HANDLING:
        r->suspended = true;
        MHD_suspend_connection(conn);
        return MHD_YES;
    case REQ_QUEUED:
        return MHD_YES;
    }
    return MHD_NO;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct bt_http_req *r = *con_cls;

    (void)cls, (void)conn;
    if (!r)
        return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->state == REQ_HANDLING) {
        char lp[64];

        bt_debug("http: client left %s %s before the answer", r->method,
                 log_path(r->path, lp, sizeof(lp)));
    }
    r->conn = NULL;
    req_unref(r);
}

/* The loop side */
static void on_timer(uv_timer_t *t)
{
    run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status, (void)events;
    run_mhd(p->data);
}

static void on_kick(uv_idle_t *i)
{
    uv_idle_stop(i);
    run_mhd(i->data);
}

static void kick(struct bt_http *h)
{
    if (h->mhd)
        uv_idle_start(&h->kick, on_kick);
}

static void run_mhd(struct bt_http *h)
{
    MHD_UNSIGNED_LONG_LONG ms;

    if (!h->mhd)
        return;
    MHD_run(h->mhd);
    if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
        uv_timer_start(&h->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&h->timer);
}

static int open_listener(const char *host, int port, int *fd_out, int *port_out)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd = -1, one = 1, rc = BT_EINVAL;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        bt_error("http: \"%s\" is not a numeric address", host);
        goto out;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto sys_error;
    /* SO_REUSEPORT: several batond processes may share one port. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto sys_error;
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0)
        goto sys_error;
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        goto sys_error;
    *port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    *fd_out = fd;
    fd = -1;
    rc = 0;
    goto out;
sys_error:
    bt_error("http: cannot listen on %s:%d: %s", host, port, strerror(errno));
    rc = BT_EIO;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int bt_http_new(uv_loop_t *loop, const struct bt_http_opts *opts, bt_http_handler handler,
                void *ud, struct bt_http **out)
{
    struct bt_http *h = bt_calloc(1, sizeof(*h));
    const union MHD_DaemonInfo *info;
    int rc;

    *out = NULL;
    h->loop = loop;
    h->opts = *opts;
    h->handler = handler;
    h->ud = ud;
    rc = open_listener(opts->host, opts->port, &h->listen_fd, &h->port);
    if (rc)
        goto fail;
    h->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, access_cb, h,
        MHD_OPTION_LISTEN_SOCKET, h->listen_fd, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)opts->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)opts->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)opts->max_connections_per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        opts->memory_limit, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h, MHD_OPTION_END);
    if (!h->mhd) {
        bt_error("http: cannot start the HTTP server");
        close(h->listen_fd);
        rc = BT_EIO;
        goto fail;
    }
    info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(loop, &h->poll, info->epoll_fd);
    uv_timer_init(loop, &h->timer);
    uv_timer_init(loop, &h->deadline);
    uv_idle_init(loop, &h->kick);
    h->poll.data = h->timer.data = h->deadline.data = h->kick.data = h;
    uv_poll_start(&h->poll, UV_READABLE, on_poll);
    run_mhd(h);
    *out = h;
    return 0;
fail:
    bt_free(h);
    return rc;
}

int bt_http_port(const struct bt_http *h)
{
    return h->port;
}

size_t bt_http_pending(const struct bt_http *h)
{
    return h->pending;
}

void bt_http_quiesce(struct bt_http *h)
{
    if (h->mhd && h->listen_fd >= 0) {
        MHD_socket fd = MHD_quiesce_daemon(h->mhd);

        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        h->listen_fd = -1;
    }
}

static void on_handle_closed(uv_handle_t *handle)
{
    struct bt_http *h = handle->data;

    if (--h->closing_handles == 0) {
        void (*done)(void *) = h->done;
        void *done_ud = h->done_ud;

        bt_free(h);
        if (done)
            done(done_ud);
    }
}

void bt_http_close(struct bt_http *h, void (*done)(void *ud), void *ud)
{
    /* Whatever still waits gets its 503 before MHD goes away. */
    while (h->waiting_head) {
        h->waiting_head->deadline = 1;
        on_deadline(&h->deadline);
    }
    if (h->mhd) {
        MHD_run(h->mhd);
        uv_poll_stop(&h->poll);
        MHD_stop_daemon(h->mhd);
        h->mhd = NULL;
    }
    if (h->listen_fd >= 0)
        close(h->listen_fd), h->listen_fd = -1;
    h->done = done;
    h->done_ud = ud;
    h->closing_handles = 4;
    uv_close((uv_handle_t *)&h->poll, on_handle_closed);
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
    uv_close((uv_handle_t *)&h->deadline, on_handle_closed);
    uv_close((uv_handle_t *)&h->kick, on_handle_closed);
}

const char *bt_http_method(const struct bt_http_req *r)
{
    return r->method;
}

const char *bt_http_path(const struct bt_http_req *r)
{
    return r->path;
}

const char *bt_http_header(const struct bt_http_req *r, const char *name)
{
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

const char *bt_http_query(const struct bt_http_req *r, const char *name)
{
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

/* A query string over the buffer's cap is cut short; a signature over it
 * then fails, which is the right answer for such a request. */
static int add_encoded(struct bt_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (; *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            rc = bt_buf_add(b, s, 1);
        else
            rc = bt_buf_add(b, enc, 3);
    }
    return rc;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct bt_buf *b = cls;

    (void)kind;
    if (b->len && bt_buf_adds(b, "&"))
        return MHD_NO;
    if (add_encoded(b, key))
        return MHD_NO;
    if (value && (bt_buf_adds(b, "=") || add_encoded(b, value)))
        return MHD_NO;
    return MHD_YES;
}

const char *bt_http_query_string(struct bt_http_req *r)
{
    struct bt_buf b;

    if (r->query || !r->conn)
        return r->query ? r->query : "";
    bt_buf_init(&b, 64 * 1024);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &b);
    r->query = bt_buf_steal(&b);
    return r->query;
}

const char *bt_http_body(const struct bt_http_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

void bt_http_set_data(struct bt_http_req *r, void *data)
{
    r->data = data;
}

void *bt_http_data(const struct bt_http_req *r)
{
    return r->data;
}
