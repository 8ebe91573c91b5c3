#include "sink.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "sig.h"
#include "testutil.h"

struct rule {
    char *match;
    unsigned left, status, delay_ms;
    char *body, *retry_after, *location;
    struct rule *next;
};

struct bt_sink {
    enum bt_sink_mode mode;
    char *secret;
    struct MHD_Daemon *daemon;
    char url[64];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bt_sink_req *reqs;
    size_t n, alloc;
    struct rule *rules;
    unsigned active, max_active;
    unsigned long long ts_seq;
};

/* One request being received. */
struct conn {
    struct bt_sink *sink;
    int64_t at_ms;
    struct bt_buf body;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void msleep(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct bt_buf *b = cls;
    size_t start = b->len;

    (void)kind;
    if (bt_buf_printf(b, "%s: %s\n", key, value ? value : "") == 0)
        for (size_t i = start; b->data[i] != ':'; i++)
            if (b->data[i] >= 'A' && b->data[i] <= 'Z')
                b->data[i] = (char)(b->data[i] - 'A' + 'a');
    return MHD_YES;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    struct bt_buf *b = cls;

    (void)kind;
    if (bt_buf_printf(b, "%s%s=%s", b->len ? "&" : "", key, value ? value : "") < 0)
        return MHD_NO;
    return MHD_YES;
}

char *bt_sink_header(const struct bt_sink_req *r, const char *name)
{
    size_t nl = strlen(name);

    for (const char *p = r->headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);

        if (len > nl + 1 && !strncmp(p, name, nl) && p[nl] == ':' && p[nl + 1] == ' ')
            return bt_strndup(p + nl + 2, len - nl - 2);
        p += len + (eol ? 1 : 0);
    }
    return NULL;
}

static const char *str(const json_t *j)
{
    const char *v = json_string_value(j);

    return v ? v : "";
}

static bool contains(const struct bt_sink_req *r, const char *match)
{
    return !match || strstr(r->path, match) || strstr(r->body, match);
}

/* ---------------------------------------------------------------- checks */

static bool has_button(const json_t *blocks)
{
    size_t i, k;
    json_t *b, *e;

    json_array_foreach(blocks, i, b)
    {
        if (strcmp(str(json_object_get(b, "type")), "actions") != 0)
            continue;
        json_array_foreach(json_object_get(b, "elements"), k, e)
        {
            if (json_is_string(json_object_get(e, "url")))
                return true;
        }
    }
    return false;
}

static int check_slack(struct bt_sink *s, struct bt_sink_req *r, json_t **channel)
{
    char *auth = bt_sink_header(r, "authorization");
    char *ctype = bt_sink_header(r, "content-type");
    char *want = bt_asprintf("Bearer %s", s->secret ? s->secret : "");
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    int ok = 0;

    if (!auth || strcmp(auth, want) != 0)
        snprintf(r->why, sizeof(r->why), "invalid_auth");
    else if (!ctype || strncmp(ctype, "application/json", 16) != 0)
        snprintf(r->why, sizeof(r->why), "content type is not JSON");
    else if (!json_is_object(j))
        snprintf(r->why, sizeof(r->why), "body is not a JSON object");
    else if (!json_string_length(json_object_get(j, "channel")))
        snprintf(r->why, sizeof(r->why), "no channel");
    else if (!json_string_length(json_object_get(j, "text")))
        snprintf(r->why, sizeof(r->why), "no fallback text");
    else if (!json_array_size(json_object_get(j, "blocks")))
        snprintf(r->why, sizeof(r->why), "no blocks");
    else if (!json_is_false(json_object_get(j, "unfurl_links")) ||
             !json_is_false(json_object_get(j, "unfurl_media")))
        snprintf(r->why, sizeof(r->why), "unfurling is not off");
    else if (!has_button(json_object_get(j, "blocks")))
        snprintf(r->why, sizeof(r->why), "no button with a URL");
    else
        ok = 1;
    if (ok)
        *channel = json_incref(json_object_get(j, "channel"));
    json_decref(j);
    bt_free(auth);
    bt_free(ctype);
    bt_free(want);
    return ok;
}

static int check_teams(struct bt_sink_req *r)
{
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *att = json_array_get(json_object_get(j, "attachments"), 0);
    json_t *card = json_object_get(att, "content");
    json_t *action = json_array_get(json_object_get(card, "actions"), 0);
    json_t *block = json_array_get(json_object_get(card, "body"), 0);
    int ok = 0;

    if (strcmp(str(json_object_get(j, "type")), "message") != 0)
        snprintf(r->why, sizeof(r->why), "type is not message");
    else if (json_array_size(json_object_get(j, "attachments")) != 1)
        snprintf(r->why, sizeof(r->why), "not one attachment");
    else if (strcmp(str(json_object_get(att, "contentType")),
                    "application/vnd.microsoft.card.adaptive") != 0)
        snprintf(r->why, sizeof(r->why), "not an adaptive card");
    else if (strcmp(str(json_object_get(card, "type")), "AdaptiveCard") ||
             !json_is_string(json_object_get(card, "version")))
        snprintf(r->why, sizeof(r->why), "content is not an AdaptiveCard with a version");
    else if (strcmp(str(json_object_get(block, "type")), "TextBlock") != 0)
        snprintf(r->why, sizeof(r->why), "the card has no TextBlock");
    else if (strcmp(str(json_object_get(action, "type")), "Action.OpenUrl") != 0 ||
             !json_string_length(json_object_get(action, "url")))
        snprintf(r->why, sizeof(r->why), "no Action.OpenUrl with a url");
    else
        ok = 1;
    json_decref(j);
    return ok;
}

static int check_webhook(struct bt_sink *s, struct bt_sink_req *r)
{
    char *id = bt_sink_header(r, "webhook-id");
    char *ts = bt_sink_header(r, "webhook-timestamp");
    char *sig = bt_sink_header(r, "webhook-signature");
    const char *secrets[1] = {s->secret};
    json_t *j = NULL;
    char why[128] = "", want[48];
    int ok = 0;

    if (bt_sig_stdwh_verify(secrets, 1, id, ts, r->body, r->body_len, sig, (int64_t)time(NULL),
                            why, sizeof(why)) != 0) {
        snprintf(r->why, sizeof(r->why), "bad signature: %s", why);
        goto out;
    }
    j = json_loadb(r->body, r->body_len, 0, NULL);
    snprintf(
        want, sizeof(want), "dlv_%lld",
        (long long)json_integer_value(json_object_get(json_object_get(j, "data"), "delivery_id")));
    if (strcmp(str(json_object_get(j, "type")), "baton.delivery") != 0)
        snprintf(r->why, sizeof(r->why), "type is not baton.delivery");
    else if (strcmp(id, want) != 0)
        snprintf(r->why, sizeof(r->why), "webhook-id is not dlv_<delivery_id>");
    else
        ok = 1;
out:
    json_decref(j);
    bt_free(id);
    bt_free(ts);
    bt_free(sig);
    return ok;
}

/* ---------------------------------------------------------------- answers */

struct answer {
    unsigned status, delay_ms;
    char *body, *retry_after, *location;
    const char *content_type;
};

static void decide(struct bt_sink *s, struct bt_sink_req *r, struct answer *a)
{
    json_t *channel = NULL;
    struct rule *rule = NULL;

    a->content_type = "application/json";
    switch (s->mode) {
    case BT_SINK_SLACK:
        r->checks_ok = check_slack(s, r, &channel);
        if (!r->checks_ok) {
            a->status = 200;
            a->body = bt_asprintf("{\"ok\":false,\"error\":\"%s\"}",
                                  !strcmp(r->why, "invalid_auth") ? "invalid_auth"
                                                                  : "invalid_arguments");
        }
        break;
    case BT_SINK_TEAMS:
        r->checks_ok = check_teams(r);
        if (!r->checks_ok) {
            a->status = 400;
            a->body = bt_strdup("{\"error\":{\"code\":\"InvalidRequestContent\"}}");
        }
        break;
    case BT_SINK_WEBHOOK:
        r->checks_ok = check_webhook(s, r);
        if (!r->checks_ok) {
            a->status = 401;
            a->body = bt_strdup("{\"error\":\"bad signature\"}");
        }
        break;
    case BT_SINK_ANY:
        r->checks_ok = 1;
        break;
    }
    if (r->checks_ok) {
        for (rule = s->rules; rule; rule = rule->next)
            if (rule->left && contains(r, rule->match))
                break;
        if (rule) {
            rule->left--;
            a->status = rule->status;
            a->delay_ms = rule->delay_ms;
            a->body = rule->body ? bt_strdup(rule->body) : NULL;
            a->retry_after = rule->retry_after ? bt_strdup(rule->retry_after) : NULL;
            a->location = rule->location ? bt_strdup(rule->location) : NULL;
        } else {
            a->status = s->mode == BT_SINK_TEAMS ? 202 : 200;
        }
    }
    if (!a->body) {
        if (s->mode == BT_SINK_SLACK && a->status == 200)
            a->body = bt_asprintf("{\"ok\":true,\"channel\":\"%s\",\"ts\":\"1700000000.%06llu\","
                                  "\"message\":{\"type\":\"message\"}}",
                                  str(channel), ++s->ts_seq);
        else if (s->mode == BT_SINK_SLACK && a->status == 429)
            a->body = bt_strdup("{\"ok\":false,\"error\":\"ratelimited\"}");
        else if (a->status >= 200 && a->status < 300 && s->mode != BT_SINK_TEAMS)
            a->body = bt_strdup("{}");
        else
            a->body = bt_strdup("");
    }
    r->status = a->status;
    r->answer = bt_strdup(a->body);
    json_decref(channel);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct bt_sink *s = cls;
    struct conn *st = *con_cls;
    struct bt_sink_req r;
    struct answer a;
    struct bt_buf h, q;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)version;
    if (!st) {
        st = bt_calloc(1, sizeof(*st));
        st->sink = s;
        st->at_ms = now_ms();
        bt_buf_init(&st->body, 16u << 20);
        *con_cls = st;
        pthread_mutex_lock(&s->mu);
        if (++s->active > s->max_active)
            s->max_active = s->active;
        pthread_mutex_unlock(&s->mu);
        return MHD_YES;
    }
    if (*upload_size) {
        if (bt_buf_add(&st->body, upload_data, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    memset(&r, 0, sizeof(r));
    memset(&a, 0, sizeof(a));
    bt_buf_init(&h, 1 << 20);
    bt_buf_init(&q, 1 << 20);
    MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, &h);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    r.method = bt_strdup(method);
    r.path = bt_strdup(url);
    r.query = bt_buf_steal(&q);
    r.headers = bt_buf_steal(&h);
    r.body_len = st->body.len;
    r.body = bt_strndup(st->body.data ? st->body.data : "", st->body.len);
    r.at_ms = st->at_ms;

    pthread_mutex_lock(&s->mu);
    decide(s, &r, &a);
    if (s->n == s->alloc) {
        s->alloc = s->alloc ? s->alloc * 2 : 64;
        s->reqs = bt_reallocarray(s->reqs, s->alloc, sizeof(*s->reqs));
    }
    s->reqs[s->n++] = r;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);

    if (a.delay_ms)
        msleep(a.delay_ms);
    resp = MHD_create_response_from_buffer(strlen(a.body), a.body, MHD_RESPMEM_MUST_COPY);
    if (*a.body)
        MHD_add_response_header(resp, "Content-Type", a.content_type);
    if (a.retry_after)
        MHD_add_response_header(resp, "Retry-After", a.retry_after);
    if (a.location)
        MHD_add_response_header(resp, "Location", a.location);
    ret = MHD_queue_response(c, a.status, resp);
    MHD_destroy_response(resp);
    bt_free(a.body);
    bt_free(a.retry_after);
    bt_free(a.location);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct bt_sink *s = cls;
    struct conn *st = *con_cls;

    (void)c;
    (void)toe;
    if (!st)
        return;
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_mutex_unlock(&s->mu);
    bt_buf_free(&st->body);
    bt_free(st);
    *con_cls = NULL;
}

/* ---------------------------------------------------------------- API */

struct bt_sink *bt_sink_start(enum bt_sink_mode mode, const char *secret)
{
    struct bt_sink *s = bt_calloc(1, sizeof(*s));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->mode = mode;
    s->secret = secret ? bt_strdup(secret) : NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                     MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                 s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!s->daemon)
        fail_msg("sink: cannot start libmicrohttpd");
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || !info->port)
        fail_msg("sink: no port");
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)info->port);
    return s;
}

const char *bt_sink_url(const struct bt_sink *s)
{
    return s->url;
}

static void free_req(struct bt_sink_req *r)
{
    bt_free(r->method);
    bt_free(r->path);
    bt_free(r->query);
    bt_free(r->headers);
    bt_free(r->body);
    bt_free(r->answer);
}

static void free_rules(struct bt_sink *s)
{
    while (s->rules) {
        struct rule *r = s->rules;

        s->rules = r->next;
        bt_free(r->match);
        bt_free(r->body);
        bt_free(r->retry_after);
        bt_free(r->location);
        bt_free(r);
    }
}

void bt_sink_stop(struct bt_sink *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    for (size_t i = 0; i < s->n; i++)
        free_req(&s->reqs[i]);
    bt_free(s->reqs);
    free_rules(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    bt_free(s->secret);
    bt_free(s);
}

void bt_sink_rule(struct bt_sink *s, const char *match, unsigned count, unsigned status,
                  const char *body, const char *retry_after, unsigned delay_ms,
                  const char *location)
{
    struct rule *r = bt_calloc(1, sizeof(*r)), **pp;

    r->match = match ? bt_strdup(match) : NULL;
    r->left = count;
    r->status = status;
    r->delay_ms = delay_ms;
    r->body = body ? bt_strdup(body) : NULL;
    r->retry_after = retry_after ? bt_strdup(retry_after) : NULL;
    r->location = location ? bt_strdup(location) : NULL;
    pthread_mutex_lock(&s->mu);
    for (pp = &s->rules; *pp; pp = &(*pp)->next)
        ;
    *pp = r;
    pthread_mutex_unlock(&s->mu);
}

void bt_sink_clear_rules(struct bt_sink *s)
{
    pthread_mutex_lock(&s->mu);
    free_rules(s);
    pthread_mutex_unlock(&s->mu);
}

static size_t count_locked(struct bt_sink *s, const char *match)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n; i++)
        n += contains(&s->reqs[i], match);
    return n;
}

size_t bt_sink_count(struct bt_sink *s, const char *match)
{
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = count_locked(s, match);
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t bt_sink_wait(struct bt_sink *s, const char *match, size_t n, int timeout_ms)
{
    struct timespec until;
    size_t have;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while ((have = count_locked(s, match)) < n)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
            break;
    have = count_locked(s, match);
    pthread_mutex_unlock(&s->mu);
    return have;
}

static char *dup_or_null(const char *p)
{
    return p ? bt_strdup(p) : NULL;
}

void bt_sink_requests(struct bt_sink *s, const char *match, struct bt_sink_req **out, size_t *n)
{
    size_t k = 0;

    pthread_mutex_lock(&s->mu);
    *out = bt_calloc(s->n + 1, sizeof(**out));
    for (size_t i = 0; i < s->n; i++) {
        const struct bt_sink_req *r = &s->reqs[i];
        struct bt_sink_req *c = &(*out)[k];

        if (!contains(r, match))
            continue;
        *c = *r;
        c->method = dup_or_null(r->method);
        c->path = dup_or_null(r->path);
        c->query = dup_or_null(r->query);
        c->headers = dup_or_null(r->headers);
        c->body = bt_strndup(r->body, r->body_len);
        c->answer = dup_or_null(r->answer);
        k++;
    }
    pthread_mutex_unlock(&s->mu);
    *n = k;
}

void bt_sink_reqs_free(struct bt_sink_req *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_req(&v[i]);
    bt_free(v);
}

unsigned bt_sink_max_concurrent(struct bt_sink *s)
{
    unsigned m;

    pthread_mutex_lock(&s->mu);
    m = s->max_active;
    pthread_mutex_unlock(&s->mu);
    return m;
}

void bt_sink_reset(struct bt_sink *s)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        free_req(&s->reqs[i]);
    s->n = 0;
    s->max_active = s->active;
    pthread_mutex_unlock(&s->mu);
}
