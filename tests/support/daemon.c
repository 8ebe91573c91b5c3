#include "daemon.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "match.h"
#include "motion.h"
#include "sig.h"
#include "testutil.h"

const char *bt_test_conninfo(void)
{
    const char *c = getenv("BATON_TEST_DB");

    if (!c || !*c)
        fail_msg("BATON_TEST_DB is not set: run this test inside tests/pg-tmp");
    return c;
}

int bt_test_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void spawn(struct bt_testd *d)
{
    char *bin = bt_asprintf("%s/batond", getenv("BATON_BIN_DIR") ? getenv("BATON_BIN_DIR")
                                                                  : "build");
    int fd;

    d->pid = fork();
    assert_true(d->pid >= 0);
    if (d->pid == 0) {
        fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        unsetenv("BATON_DATABASE");
        execl(bin, "batond", "--config", d->config, (char *)NULL);
        _exit(127);
    }
    bt_free(bin);
    for (int i = 0; i < 300; i++) {
        struct bt_test_resp r;
        char *url = bt_asprintf("%s/healthz", d->base);
        int status;

        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            struct bt_buf log;

            bt_buf_init(&log, 1 << 20);
            bt_test_sh(&log, "tail -30 %s", d->log);
            fail_msg("batond exited at start (status %d):\n%s", status, log.data);
        }
        bt_test_http("GET", url, NULL, NULL, 0, &r);
        bt_free(url);
        if (r.status == 200) {
            bt_test_resp_free(&r);
            return;
        }
        bt_test_resp_free(&r);
        msleep(50);
    }
    fail_msg("batond did not answer /healthz");
}

void bt_testd_start(struct bt_testd *d, const char *motion, const char *extra_yaml)
{
    bt_testd_start_hubspot(d, motion, extra_yaml, NULL);
}

void bt_testd_start_hubspot(struct bt_testd *d, const char *motion, const char *extra_yaml,
                            const char *hubspot_extra)
{
    FILE *f;

    memset(d, 0, sizeof(*d));
    strcpy(d->dir, "/tmp/baton-testd-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    d->port = bt_test_free_port();
    snprintf(d->base, sizeof(d->base), "http://127.0.0.1:%d", d->port);
    d->config = bt_asprintf("%s/batond.yaml", d->dir);
    d->log = bt_asprintf("%s/batond.log", d->dir);
    d->journal = bt_asprintf("%s/journal", d->dir);
    f = fopen(d->config, "w");
    assert_non_null(f);
    fprintf(f,
            "listen: 127.0.0.1:%d\n"
            "public_url: %s\n"
            "database: \"%s\"\n"
            "log_level: debug\n"
            "journal: {path: %s}\n"
            "sources:\n"
            "  hubspot: {client_secret: [" BT_TEST_HUBSPOT_SECRET ", hs-old-secret]%s%s}\n"
            "  generic: {secret: " BT_TEST_GENERIC_SECRET "}\n"
            "  pipedrive: {username: " BT_TEST_PIPEDRIVE_USER ", password: "
            BT_TEST_PIPEDRIVE_PASSWORD "}\n"
            "  salesforce: {organization_id: " BT_TEST_SALESFORCE_ORG ", path_token: "
            BT_TEST_SALESFORCE_TOKEN "}\n",
            d->port, d->base, bt_test_conninfo(), d->journal, hubspot_extra ? ", " : "",
            hubspot_extra ? hubspot_extra : "");
    if (motion)
        fprintf(f, "motion: %s\n", motion);
    if (extra_yaml)
        fputs(extra_yaml, f);
    fclose(f);
    spawn(d);
}

void bt_testd_restart(struct bt_testd *d)
{
    spawn(d);
}

void bt_testd_wait_ready(struct bt_testd *d)
{
    char *url = bt_asprintf("%s/readyz", d->base);

    for (int i = 0; i < 400; i++) {
        struct bt_test_resp r;

        bt_test_http("GET", url, NULL, NULL, 0, &r);
        if (r.status == 200) {
            bt_test_resp_free(&r);
            bt_free(url);
            return;
        }
        bt_test_resp_free(&r);
        msleep(50);
    }
    fail_msg("batond never became ready (see %s)", d->log);
}

void bt_testd_stop(struct bt_testd *d)
{
    int status = 0;

    if (d->pid <= 0)
        return;
    kill(d->pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("batond did not exit cleanly (status %d), see %s", status, d->log);
            return;
        }
        msleep(50);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    fail_msg("batond did not stop within 15 s of SIGTERM");
}

void bt_testd_kill(struct bt_testd *d)
{
    int status;

    if (d->pid <= 0)
        return;
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->pid = 0;
}

void bt_testd_cleanup(struct bt_testd *d)
{
    if (d->pid > 0)
        bt_testd_kill(d);
    if (getenv("BATON_TEST_KEEP") == NULL && d->dir[0])
        bt_test_sh(NULL, "rm -rf '%s'", d->dir);
    bt_free(d->config);
    bt_free(d->log);
    bt_free(d->journal);
    d->config = d->log = d->journal = NULL;
}

int bt_testd_log_contains(struct bt_testd *d, const char *text)
{
    size_t len;
    char *log = bt_test_read_file(d->log, &len);
    int found = strstr(log, text) != NULL;

    bt_free(log);
    return found;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    if (bt_buf_add(ud, p, size * n) < 0)
        return 0;
    return size * n;
}

void bt_test_http(const char *method, const char *url, const char *const *headers,
                  const char *body, size_t len, struct bt_test_resp *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;

    bt_buf_init(&out->body, 16 << 20);
    bt_buf_init(&out->headers, 1 << 20);
    out->status = 0;
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

void bt_test_resp_free(struct bt_test_resp *r)
{
    bt_buf_free(&r->body);
    bt_buf_free(&r->headers);
}

void bt_test_post_hubspot(struct bt_testd *d, const char *body, size_t len, long long now,
                          const char *secret, struct bt_test_resp *out)
{
    char *url = bt_asprintf("%s/v1/webhooks/hubspot", d->base);
    char ts[32], sig[BT_SIG_B64_LEN];
    char *h_ts, *h_sig;

    snprintf(ts, sizeof(ts), "%lld", (now ? now : (long long)time(NULL)) * 1000LL);
    bt_sig_hubspot_v3_sign(secret ? secret : BT_TEST_HUBSPOT_SECRET, "POST", url, body, len, ts,
                           sig);
    h_ts = bt_asprintf("X-HubSpot-Request-Timestamp: %s", ts);
    h_sig = bt_asprintf("X-HubSpot-Signature-v3: %s", sig);
    {
        const char *h[] = {"Content-Type: application/json", h_ts, h_sig, NULL};

        bt_test_http("POST", url, h, body, len, out);
    }
    bt_free(h_ts);
    bt_free(h_sig);
    bt_free(url);
}

void bt_test_post_generic(struct bt_testd *d, const char *id, const char *body, size_t len,
                          long long now, const char *secret, struct bt_test_resp *out)
{
    char *url = bt_asprintf("%s/v1/webhooks/generic", d->base);
    long long ts = now ? now : (long long)time(NULL);
    char *sig = NULL, *h_id, *h_ts, *h_sig;

    assert_int_equal(
        bt_sig_stdwh_sign(secret ? secret : BT_TEST_GENERIC_SECRET, id, ts, body, len, &sig), 0);
    h_id = bt_asprintf("webhook-id: %s", id);
    h_ts = bt_asprintf("webhook-timestamp: %lld", ts);
    h_sig = bt_asprintf("webhook-signature: %s", sig);
    {
        const char *h[] = {"Content-Type: application/json", h_id, h_ts, h_sig, NULL};

        bt_test_http("POST", url, h, body, len, out);
    }
    bt_free(sig);
    bt_free(h_id);
    bt_free(h_ts);
    bt_free(h_sig);
    bt_free(url);
}

char *bt_test_expected_asset(const char *motion_file, ...)
{
    char *path = motion_file ? bt_strdup(motion_file)
                             : bt_test_source_path("config/motion.example.yaml");
    struct bt_diags d;
    struct bt_motion *m = NULL;
    struct bt_matcher *mt = NULL;
    struct bt_fields f;
    struct bt_match_result res;
    char *asset = NULL;
    const char *name;
    va_list ap;

    bt_diags_init(&d);
    assert_int_equal(bt_motion_load(path, &m, &d), 0);
    assert_int_equal(bt_matcher_new(m, &mt), 0);
    bt_fields_init(&f);
    va_start(ap, motion_file);
    while ((name = va_arg(ap, const char *))) {
        const char *value = va_arg(ap, const char *);

        bt_fields_set(&f, name, value);
    }
    va_end(ap);
    assert_int_equal(bt_match(mt, &f, NULL, 0, &res), 0);
    if (res.n_picks)
        asset = bt_strdup(res.picks[0].asset->id);
    bt_match_result_free(&res);
    bt_fields_free(&f);
    bt_matcher_free(mt);
    bt_motion_unref(m);
    bt_diags_free(&d);
    bt_free(path);
    return asset;
}

long long bt_test_db_count(PGconn *db, const char *sql)
{
    char *v = bt_test_db_value(db, sql, NULL);
    long long n = v ? strtoll(v, NULL, 10) : -1;

    bt_free(v);
    return n;
}

PGconn *bt_test_db(void)
{
    PGconn *db = PQconnectdb(bt_test_conninfo());

    if (PQstatus(db) != CONNECTION_OK)
        fail_msg("cannot connect to the test database: %s", PQerrorMessage(db));
    return db;
}

char *bt_test_db_value(PGconn *db, const char *sql, ...)
{
    const char *params[16];
    int n = 0;
    va_list ap;
    PGresult *r;
    char *v = NULL;

    va_start(ap, sql);
    while (n < 16 && (params[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("query failed: %s\n%s", PQresultErrorMessage(r), sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = bt_strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

char *bt_test_db_wait(PGconn *db, const char *expect, int timeout_ms, const char *sql)
{
    char *v = NULL;

    for (int waited = 0;; waited += 50) {
        bt_free(v);
        v = bt_test_db_value(db, sql, NULL);
        if ((v && expect && !strcmp(v, expect)) || (!v && !expect) || waited >= timeout_ms)
            return v;
        msleep(50);
    }
}

int bt_test_sh(struct bt_buf *out, const char *fmt, ...)
{
    va_list ap;
    struct bt_buf cmd;
    FILE *p;
    char chunk[4096];
    size_t n;
    int status;

    bt_buf_init(&cmd, 1 << 16);
    va_start(ap, fmt);
    assert_int_equal(bt_buf_vprintf(&cmd, fmt, ap), 0);
    va_end(ap);
    assert_int_equal(bt_buf_adds(&cmd, " 2>&1"), 0);
    p = popen(cmd.data, "r");
    assert_non_null(p);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        if (out)
            assert_int_equal(bt_buf_add(out, chunk, n), 0);
    status = pclose(p);
    bt_buf_free(&cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
