/* demo_sink — what the reps would see, for the demo: a local stand-in for
 * Slack's chat.postMessage, a Teams Workflows webhook and a CRM sidebar's
 * webhook receiver. Each push is answered as the real service answers and
 * printed as a line a person can read.
 *
 *   demo_sink PORT        (stops on SIGTERM or SIGINT)
 */
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

struct body {
    struct bt_buf b;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

/* Slack: the fallback text and the button's link. */
static void show_slack(json_t *j)
{
    json_t *blocks = json_object_get(j, "blocks"), *b;
    const char *link = "";
    size_t i;

    json_array_foreach(blocks, i, b)
    {
        json_t *els = json_object_get(b, "elements"), *e;
        size_t k;

        json_array_foreach(els, k, e)
            if (json_object_get(e, "url"))
                link = str(e, "url");
    }
    printf("Slack   -> %-12s %s\n                        open: %s\n", str(j, "channel"),
           str(j, "text"), link);
}

static void show_teams(const char *path, json_t *j)
{
    json_t *card = json_object_get(json_array_get(json_object_get(j, "attachments"), 0),
                                   "content");
    json_t *body = json_object_get(card, "body"), *action;
    const char *title = str(json_array_get(body, 0), "text");
    const char *what = str(json_array_get(body, 1), "text");

    action = json_array_get(json_object_get(card, "actions"), 0);
    printf("Teams   -> %-12s %s — %s\n                        open: %s\n", path, title, what,
           str(action, "url"));
}

static void show_webhook(const char *path, json_t *j)
{
    json_t *data = json_object_get(j, "data");
    json_t *deal = json_object_get(data, "deal"), *asset = json_object_get(data, "asset");

    printf("Webhook -> %-12s %s (%s): %s \"%s\" (play %s)\n                        open: %s\n",
           path, str(deal, "name"), str(deal, "stage"), str(asset, "kind"), str(asset, "title"),
           str(data, "play"), str(data, "link"));
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ok;

    MHD_add_response_header(r, "Content-Type", type);
    ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    struct body *b = *ctx;
    static unsigned long long ts;
    json_t *j;

    (void)cls, (void)method, (void)version;
    if (!b) {
        b = calloc(1, sizeof(*b));
        bt_buf_init(&b->b, 1 << 20);
        *ctx = b;
        return MHD_YES;
    }
    if (*size) {
        if (bt_buf_add(&b->b, data, *size) < 0)
            return MHD_NO;
        *size = 0;
        return MHD_YES;
    }
    j = json_loads(b->b.data ? b->b.data : "", 0, NULL);
    if (!strcmp(url, "/api/chat.postMessage")) {
        char ok[96];

        show_slack(j);
        snprintf(ok, sizeof(ok), "{\"ok\":true,\"channel\":\"%s\",\"ts\":\"1717000000.%06llu\"}",
                 str(j, "channel"), ++ts);
        json_decref(j);
        fflush(stdout);
        return answer(c, 200, "application/json", ok);
    }
    if (!strncmp(url, "/teams/", 7))
        show_teams(url + 7, j);
    else
        show_webhook(url, j);
    json_decref(j);
    fflush(stdout);
    return answer(c, strncmp(url, "/teams/", 7) ? 200 : 202, "text/plain", "");
}

static void done(void *cls, struct MHD_Connection *c, void **ctx,
                 enum MHD_RequestTerminationCode toe)
{
    struct body *b = *ctx;

    (void)cls, (void)c, (void)toe;
    if (b) {
        bt_buf_free(&b->b);
        free(b);
    }
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    int port = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 0;

    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: demo_sink PORT\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
                         NULL, NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "demo_sink: cannot listen on port %d\n", port);
        return 1;
    }
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    return 0;
}
