/* bench_ingest — webhooks per second through a real batond into a real
 * PostgreSQL, against two baselines measured in the same run:
 *
 *   http    GET /healthz through the same server and client: what the HTTP
 *           path alone allows, so ingest/http is the cost of verifying,
 *           parsing and committing;
 *   commit  one INSERT per transaction on one libpq connection: what the
 *           database allows without group commit, so ingest/commit is what
 *           batching buys.
 *
 * Also reports batond's peak resident memory before and after the run.
 * Runs inside tests/pg-tmp (tests/bench/run arranges it); ratios only, never
 * a pass or fail on time. */
#include <curl/curl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "sig.h"

enum { CONNS = 32, EVENTS = 4000, HEALTH = 8000, COMMITS = 1000 };

static const char SECRET[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

struct req {
    CURL *c;
    struct curl_slist *h;
    char *body;
};

/* N requests over CONNS concurrent keep-alive connections; returns req/s.
 * GENERIC: signed webhooks (each a new event); else GET URL. */
static double blast(const char *base, int n, int generic, int *failures)
{
    CURLM *m = curl_multi_init();
    struct req *reqs = calloc(CONNS, sizeof(*reqs));
    int started = 0, done = 0, running;
    double t0 = now_s();
    long long ts = (long long)time(NULL);

    *failures = 0;
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)CONNS);
    for (int i = 0; i < CONNS; i++)
        reqs[i].c = curl_easy_init();
    for (;;) {
        for (int i = 0; i < CONNS && started < n; i++) {
            struct req *r = &reqs[i];
            char *url;

            if (r->h || r->body)
                continue;
            if (generic) {
                char id[64], *sig = NULL, *h_id, *h_ts, *h_sig;

                snprintf(id, sizeof(id), "bench_%lld_%d", ts, started);
                r->body = bt_asprintf("{\"type\":\"deal.changed\",\"timestamp\":"
                                      "\"2024-05-29T15:11:55Z\",\"data\":{\"deal_id\":\"B-%d\","
                                      "\"stage\":\"qualifiedtobuy\",\"competitor\":\"Initech\","
                                      "\"owner\":\"u-77\",\"amount\":%d}}",
                                      started % 500, started);
                if (bt_sig_stdwh_sign(SECRET, id, ts, r->body, strlen(r->body), &sig) < 0)
                    abort();
                h_id = bt_asprintf("webhook-id: %s", id);
                h_ts = bt_asprintf("webhook-timestamp: %lld", ts);
                h_sig = bt_asprintf("webhook-signature: %s", sig);
                r->h = curl_slist_append(r->h, "Content-Type: application/json");
                r->h = curl_slist_append(r->h, h_id);
                r->h = curl_slist_append(r->h, h_ts);
                r->h = curl_slist_append(r->h, h_sig);
                bt_free(sig);
                bt_free(h_id);
                bt_free(h_ts);
                bt_free(h_sig);
                url = bt_asprintf("%s/v1/webhooks/generic", base);
                curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, r->body);
                curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, r->h);
            } else {
                r->h = curl_slist_append(NULL, "Accept: */*");
                url = bt_asprintf("%s/healthz", base);
                curl_easy_setopt(r->c, CURLOPT_HTTPGET, 1L);
            }
            curl_easy_setopt(r->c, CURLOPT_URL, url);
            curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(r->c, CURLOPT_PRIVATE, r);
            curl_multi_add_handle(m, r->c);
            bt_free(url);
            started++;
        }
        curl_multi_perform(m, &running);
        int finished = 0;
        {
            CURLMsg *msg;
            int left;

            while ((msg = curl_multi_info_read(m, &left))) {
                struct req *r;
                long status = 0;

                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                if (msg->data.result != CURLE_OK || status != 200)
                    (*failures)++;
                curl_multi_remove_handle(m, r->c);
                curl_slist_free_all(r->h);
                bt_free(r->body);
                r->h = NULL;
                r->body = NULL;
                done++;
                finished++;
            }
        }
        if (done >= n)
            break;
        /* A slot just freed is refilled at once, not after the next event. */
        if (!finished)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (int i = 0; i < CONNS; i++)
        curl_easy_cleanup(reqs[i].c);
    free(reqs);
    curl_multi_cleanup(m);
    return n / (now_s() - t0);
}

static double single_commits(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    double t0;

    PQclear(PQexec(c, "CREATE TEMP TABLE bench_rows (id int, body text)"));
    t0 = now_s();
    for (int i = 0; i < COMMITS; i++) {
        char id[16];
        const char *p[2] = {id, "{\"type\":\"deal.changed\"}"};

        snprintf(id, sizeof(id), "%d", i);
        PQclear(PQexecParams(c, "INSERT INTO bench_rows VALUES ($1::int, $2)", 2, NULL, p, NULL,
                             NULL, 0));
    }
    t0 = COMMITS / (now_s() - t0);
    PQfinish(c);
    return t0;
}

static long peak_kib(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    long kib = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

int main(void)
{
    const char *db = getenv("BATON_TEST_DB");
    const char *bin = getenv("BATON_BIN_DIR");
    const char *src = getenv("BATON_SOURCE_DIR") ? getenv("BATON_SOURCE_DIR") : ".";
    char dir[] = "/tmp/baton-bench-XXXXXX", base[64], *cfg, *log;
    int port = 20000 + (int)(time(NULL) % 20000), fail_h, fail_i;
    double health, ingest, commit;
    long rss0, rss1;
    pid_t pid;
    FILE *f;

    if (!db || !bin) {
        fprintf(stderr, "bench_ingest: run through tests/bench/run (needs a database)\n");
        return 2;
    }
    bt_mem_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!mkdtemp(dir))
        return 1;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    cfg = bt_asprintf("%s/batond.yaml", dir);
    log = bt_asprintf("%s/batond.log", dir);
    f = fopen(cfg, "w");
    fprintf(f,
            "listen: 127.0.0.1:%d\npublic_url: %s\ndatabase: \"%s\"\nlog_level: warn\n"
            "motion: %s/config/motion.example.yaml\njournal: {path: %s/journal}\n"
            "sources:\n  generic: {secret: %s}\n",
            port, base, db, src, dir, SECRET);
    fclose(f);
    pid = fork();
    if (pid == 0) {
        char *exe = bt_asprintf("%s/batond", bin);

        freopen(log, "w", stderr);
        execl(exe, "batond", "--config", cfg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        usleep(100 * 1000);
        if (blast(base, 1, 0, &fail_h), fail_h == 0)
            break;
    }
    sleep(1); /* the motion is loaded and active */
    rss0 = peak_kib(pid);
    health = blast(base, HEALTH, 0, &fail_h);
    ingest = blast(base, EVENTS, 1, &fail_i);
    rss1 = peak_kib(pid);
    commit = single_commits(db);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);

    printf("%d connections, %d webhooks, %d health checks, %d single commits\n", CONNS, EVENTS,
           HEALTH, COMMITS);
    printf("  http   GET /healthz           %9.0f req/s\n", health);
    printf("  commit one row per commit     %9.0f rows/s\n", commit);
    printf("  ingest signed webhook, stored %9.0f events/s (%d failed)\n", ingest, fail_i);
    printf("  ratios: ingest/http %.2f, ingest/commit %.2f\n", ingest / health, ingest / commit);
    printf("  batond peak RSS: %ld KiB at start, %ld KiB after the run\n", rss0, rss1);

    {
        char *rm = bt_asprintf("rm -rf '%s'", dir);

        if (system(rm) != 0)
            fprintf(stderr, "bench_ingest: could not remove %s\n", dir);
        bt_free(rm);
    }
    bt_free(cfg);
    bt_free(log);
    curl_global_cleanup();
    return fail_i ? 1 : 0;
}
