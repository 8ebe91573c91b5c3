#include "fetch.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "mem.h"

/* One socket curl asked us to watch. Freed only in its uv_close callback,
 * so curl may still hand it back to us (as socketp) until then. */
struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct bt_fetch *f;
    struct sock *prev, *next;
    bool closing;
};

struct bt_fetch_req {
    struct bt_fetch *f;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    struct bt_buf resp;
    bool too_big;
    int64_t retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
    bt_fetch_cb cb;
    void *ud;
    uint64_t started;
    struct bt_fetch_req *prev, *next;
};

struct bt_fetch {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct bt_fetch_opts opts;
    char *user_agent;
    struct bt_fetch_req *reqs;
    size_t n_reqs;
    struct sock *socks;
    int dispatching; /* inside a curl call or a callback: no teardown yet */
    bool want_close, torn_down;
    int closing; /* handles whose close callback is still due */
    void (*done)(void *ud);
    void *done_ud;
};

static void maybe_free(struct bt_fetch *f);

/* ---------------------------------------------------------------- handles */

/* Every handle we close is counted; the last close callback after
 * teardown frees the client. */
static void one_closed(struct bt_fetch *f)
{
    if (--f->closing == 0 && f->torn_down) {
        void (*done)(void *) = f->done;
        void *ud = f->done_ud;

        bt_free(f->user_agent);
        bt_free(f);
        if (done)
            done(ud);
    }
}

static void timer_closed(uv_handle_t *h)
{
    one_closed(h->data);
}

static void sock_closed(uv_handle_t *h)
{
    struct sock *s = h->data;
    struct bt_fetch *f = s->f;

    bt_free(s);
    one_closed(f);
}

/* Stops watching at once (before curl closes the descriptor, whose number
 * the next socket may get) and frees the context once libuv is done. */
static void close_sock(struct bt_fetch *f, struct sock *s)
{
    if (s->closing)
        return;
    s->closing = true;
    if (s->prev)
        s->prev->next = s->next;
    else
        f->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    f->closing++;
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* ---------------------------------------------------------------- completion */

static void unlink_req(struct bt_fetch *f, struct bt_fetch_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        f->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    f->n_reqs--;
}

static void free_req(struct bt_fetch_req *r)
{
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    bt_free(r->body);
    bt_buf_free(&r->resp);
    bt_free(r);
}

/* Takes R off the multi handle, tells its owner, frees it. */
static void complete(struct bt_fetch_req *r, int err, CURLcode rc)
{
    struct bt_fetch *f = r->f;
    struct bt_fetch_result res;
    long status = 0;

    unlink_req(f, r);
    curl_multi_remove_handle(f->multi, r->easy);
    memset(&res, 0, sizeof(res));
    res.err = err;
    res.error = "";
    res.retry_after_ms = r->retry_after_ms;
    if (err != BT_ECANCELED)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (err == BT_EIO) {
        status = 0;
        res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
    } else if (err == BT_ETOOBIG) {
        res.error = "response too large";
    } else if (err == BT_ECANCELED) {
        res.error = "canceled";
    }
    res.status = status;
    res.body = r->resp.data ? r->resp.data : "";
    res.body_len = r->resp.len;
    res.elapsed_ms = (int64_t)(uv_now(f->loop) - r->started);
    f->dispatching++;
    r->cb(&res, r->ud);
    f->dispatching--;
    free_req(r);
}

static void check_done(struct bt_fetch *f)
{
    CURLMsg *m;
    int left;

    /* One message at a time: a callback may cancel another request, and
     * curl_multi_remove_handle drops that request's pending message. */
    while (!f->want_close && (m = curl_multi_info_read(f->multi, &left))) {
        struct bt_fetch_req *r;
        char *priv = NULL;
        CURLcode rc;
        int err;

        if (m->msg != CURLMSG_DONE)
            continue;
        rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        r = (struct bt_fetch_req *)priv;
        if (rc == CURLE_OK)
            err = 0;
        else if (rc == CURLE_WRITE_ERROR && r->too_big)
            err = BT_ETOOBIG;
        else
            err = BT_EIO;
        complete(r, err, rc);
    }
}

/* ---------------------------------------------------------------- curl glue */

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock *s = (struct sock *)p;
    struct bt_fetch *f = s->f;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    f->dispatching++;
    /* S may be closed by curl inside this call: not touched after it. */
    curl_multi_socket_action(f->multi, s->fd, flags, &running);
    check_done(f);
    f->dispatching--;
    maybe_free(f);
}

static void on_timeout(uv_timer_t *t)
{
    struct bt_fetch *f = t->data;
    int running;

    f->dispatching++;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(f);
    f->dispatching--;
    maybe_free(f);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct bt_fetch *f = userp;
    struct sock *s = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s && !s->closing) {
            close_sock(f, s);
            curl_multi_assign(f->multi, fd, NULL);
        }
        return 0;
    }
    if (s && s->closing)
        return 0; /* tearing down: curl's last words about a socket we let go */
    if (!s) {
        s = bt_calloc(1, sizeof(*s));
        if (uv_poll_init_socket(f->loop, &s->poll, fd) != 0) {
            bt_warn("fetch: cannot watch socket %d", (int)fd);
            bt_free(s);
            return -1;
        }
        s->poll.data = s;
        s->fd = fd;
        s->f = f;
        s->next = f->socks;
        if (s->next)
            s->next->prev = s;
        f->socks = s;
        curl_multi_assign(f->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static int on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
    struct bt_fetch *f = userp;

    (void)multi;
    if (f->torn_down)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&f->timer);
    else /* 0 means "now": the next loop turn, never from inside curl */
        uv_timer_start(&f->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct bt_fetch_req *r = ud;
    size_t len = size * n;

    if (bt_buf_add(&r->resp, p, len) < 0) {
        /* Keep what fits, then stop reading: a push answer has no business
         * being large, and the cap is what keeps a hostile one harmless. */
        size_t room = r->resp.cap - r->resp.len;
        int kept = room ? bt_buf_add(&r->resp, p, room) : 0;

        (void)kept;
        r->too_big = true;
        return 0;
    }
    return len;
}

/* Retry-After: seconds, or an HTTP date. Read from every response, so the
 * final one wins over an interim 100 Continue. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    static const char name[] = "retry-after:";
    struct bt_fetch_req *r = ud;
    size_t len = size * n;
    char value[128];
    size_t vl;

    if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
        r->retry_after_ms = -1;
        return len;
    }
    if (len <= sizeof(name) - 1 || strncasecmp(p, name, sizeof(name) - 1) != 0)
        return len;
    p += sizeof(name) - 1;
    vl = len - (sizeof(name) - 1);
    while (vl && (*p == ' ' || *p == '\t'))
        p++, vl--;
    while (vl && (p[vl - 1] == '\r' || p[vl - 1] == '\n' || p[vl - 1] == ' '))
        vl--;
    if (!vl || vl >= sizeof(value))
        return len;
    memcpy(value, p, vl);
    value[vl] = '\0';
    if (strspn(value, "0123456789") == vl) {
        long long s = 0;

        for (size_t i = 0; i < vl && s < 100000000LL; i++)
            s = s * 10 + (value[i] - '0');
        r->retry_after_ms = (int64_t)s * 1000;
    } else {
        time_t when = curl_getdate(value, NULL);
        time_t now = time(NULL);

        if (when != (time_t)-1)
            r->retry_after_ms = when > now ? (int64_t)(when - now) * 1000 : 0;
    }
    return len;
}

/* ---------------------------------------------------------------- API */

int bt_fetch_new(uv_loop_t *loop, const struct bt_fetch_opts *opts, struct bt_fetch **out)
{
    struct bt_fetch *f = bt_calloc(1, sizeof(*f));

    *out = NULL;
    f->loop = loop;
    f->opts = *opts;
    if (f->opts.connect_timeout_ms <= 0)
        f->opts.connect_timeout_ms = 5000;
    if (f->opts.timeout_ms <= 0)
        f->opts.timeout_ms = 15000;
    if (!f->opts.response_cap)
        f->opts.response_cap = 64 * 1024;
    f->user_agent = bt_strdup(opts->user_agent ? opts->user_agent : "baton/" BATON_VERSION);
    f->opts.user_agent = NULL;
    f->multi = curl_multi_init();
    if (!f->multi) {
        bt_free(f->user_agent);
        bt_free(f);
        return BT_EIO;
    }
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    if (f->opts.max_connections_per_host)
        curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)f->opts.max_connections_per_host);
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    *out = f;
    return 0;
}

int bt_fetch_start(struct bt_fetch *f, const struct bt_fetch_request *rq, bt_fetch_cb cb, void *ud,
                   struct bt_fetch_req **out)
{
    struct bt_fetch_req *r;
    CURL *e;
    int rc = BT_EINVAL;

    if (out)
        *out = NULL;
    if (f->want_close)
        return BT_ECANCELED;
    if (!rq->url || !rq->method || !cb)
        return BT_EINVAL;
    r = bt_calloc(1, sizeof(*r));
    r->f = f;
    r->cb = cb;
    r->ud = ud;
    r->retry_after_ms = -1;
    bt_buf_init(&r->resp, f->opts.response_cap);
    r->easy = e = curl_easy_init();
    if (!e)
        goto fail;
    for (size_t i = 0; rq->headers && rq->headers[i]; i++)
        r->headers = curl_slist_append(r->headers, rq->headers[i]);
    /* No "Expect: 100-continue" round trip before a body. */
    r->headers = curl_slist_append(r->headers, "Expect:");
    if (!r->headers)
        goto fail;
    if (curl_easy_setopt(e, CURLOPT_URL, rq->url) != CURLE_OK)
        goto fail;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)f->opts.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)f->opts.timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, f->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    if (rq->body || !strcmp(rq->method, "POST") || !strcmp(rq->method, "PUT") ||
        !strcmp(rq->method, "PATCH")) {
        r->body = bt_malloc(rq->body_len + 1);
        if (rq->body_len)
            memcpy(r->body, rq->body, rq->body_len);
        r->body[rq->body_len] = '\0';
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
    if (!strcmp(rq->method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
    r->started = uv_now(f->loop);
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK)
        goto fail;
    r->next = f->reqs;
    if (r->next)
        r->next->prev = r;
    f->reqs = r;
    f->n_reqs++;
    if (out)
        *out = r;
    return 0;
fail:
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    bt_free(r->body);
    bt_buf_free(&r->resp);
    bt_free(r);
    return rc;
}

void bt_fetch_cancel(struct bt_fetch_req *r)
{
    struct bt_fetch *f = r->f;

    f->dispatching++;
    complete(r, BT_ECANCELED, CURLE_OK);
    f->dispatching--;
    maybe_free(f);
}

size_t bt_fetch_in_flight(const struct bt_fetch *f)
{
    return f->n_reqs;
}

/* Once nobody is inside a curl call or a callback: stop the polls first
 * (curl closes the sockets in curl_multi_cleanup), then the timer. */
static void maybe_free(struct bt_fetch *f)
{
    if (!f->want_close || f->dispatching || f->torn_down)
        return;
    f->torn_down = true;
    while (f->socks)
        close_sock(f, f->socks);
    curl_multi_cleanup(f->multi);
    f->multi = NULL;
    f->closing++;
    uv_close((uv_handle_t *)&f->timer, timer_closed);
}

void bt_fetch_close(struct bt_fetch *f, void (*done)(void *ud), void *ud)
{
    if (f->want_close)
        return;
    f->want_close = true;
    f->done = done;
    f->done_ud = ud;
    f->dispatching++;
    while (f->reqs)
        complete(f->reqs, BT_ECANCELED, CURLE_OK);
    f->dispatching--;
    maybe_free(f);
}
