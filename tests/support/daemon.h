/* Helpers for integration tests: a real batond on loopback against the
 * test's PostgreSQL (BATON_TEST_DB, from tests/pg-tmp), HTTP requests with
 * libcurl, and database checks with libpq. Every helper fails the test on
 * an unexpected error; a started daemon is stopped by bt_testd_stop or,
 * should the test die first, killed by the pg-tmp process group's end. */
#ifndef BT_TEST_DAEMON_H
#define BT_TEST_DAEMON_H

#include <libpq-fe.h>
#include <stddef.h>
#include <sys/types.h>

#include "mem.h"

struct bt_testd {
    pid_t pid;
    int port;
    char dir[64];     /* a temporary folder for config, journal, log */
    char *config, *log, *journal;
    char base[64];    /* "http://127.0.0.1:PORT" */
};

/* The test's database conninfo. */
const char *bt_test_conninfo(void);
/* A free loopback port (bound and released: good enough for tests). */
int bt_test_free_port(void);

/* Writes a config (listen, public_url = base, database, journal, the
 * generic and hubspot sources with test secrets) plus EXTRA_YAML (top-level
 * keys, may be NULL) and starts batond. MOTION is a motion file path or NULL.
 * Returns once /healthz answers. */
void bt_testd_start(struct bt_testd *d, const char *motion, const char *extra_yaml);
/* The same, with HUBSPOT_EXTRA (e.g. "token: x, api_base: http://...")
 * added to the hubspot source's settings. */
void bt_testd_start_hubspot(struct bt_testd *d, const char *motion, const char *extra_yaml,
                            const char *hubspot_extra);
/* Restarts a stopped or killed daemon with the same config and port. */
void bt_testd_restart(struct bt_testd *d);
/* Waits until /readyz says ready (database up, motion loaded). */
void bt_testd_wait_ready(struct bt_testd *d);
/* SIGTERM; asserts a clean exit 0 within 15 s. */
void bt_testd_stop(struct bt_testd *d);
/* SIGKILL, no questions asked. */
void bt_testd_kill(struct bt_testd *d);
/* Removes the temporary folder. */
void bt_testd_cleanup(struct bt_testd *d);
/* Whether the daemon's log contains TEXT. */
int bt_testd_log_contains(struct bt_testd *d, const char *text);

/* The secrets the test config uses. */
#define BT_TEST_HUBSPOT_SECRET "hs-test-secret-1"
#define BT_TEST_GENERIC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define BT_TEST_PIPEDRIVE_USER "baton"
#define BT_TEST_PIPEDRIVE_PASSWORD "pd-test-password"
#define BT_TEST_SALESFORCE_ORG "00D5g000000AbCdEAK"
#define BT_TEST_SALESFORCE_TOKEN "sf-path-token-0123456789"

struct bt_test_resp {
    long status;
    struct bt_buf body;
    struct bt_buf headers;
};
/* HEADERS: NULL-terminated "Name: value" strings, or NULL. */
void bt_test_http(const char *method, const char *url, const char *const *headers,
                  const char *body, size_t len, struct bt_test_resp *out);
void bt_test_resp_free(struct bt_test_resp *r);

/* Posts BODY to /v1/webhooks/hubspot with a valid v3 signature made at
 * time NOW (seconds; 0 = the current time) with SECRET (NULL = the test's). */
void bt_test_post_hubspot(struct bt_testd *d, const char *body, size_t len, long long now,
                          const char *secret, struct bt_test_resp *out);
/* Posts BODY to /v1/webhooks/generic signed the Standard Webhooks way. */
void bt_test_post_generic(struct bt_testd *d, const char *id, const char *body, size_t len,
                          long long now, const char *secret, struct bt_test_resp *out);

/* The first asset the library's own matcher picks for a deal with these
 * fields (NULL-terminated name, value pairs) under MOTION_FILE (NULL: the
 * example motion): what the daemon must agree with. New string or NULL. */
char *bt_test_expected_asset(const char *motion_file, ...) __attribute__((sentinel));
/* SQL's first value as a number (-1 for no row or NULL). */
long long bt_test_db_count(PGconn *db, const char *sql);

/* A connection to the test database. */
PGconn *bt_test_db(void);
/* The first column of the first row of SQL (parameters: NULL-terminated
 * list of text values), as a new string; NULL for SQL NULL or no row. */
char *bt_test_db_value(PGconn *db, const char *sql, ...);
/* Polls SQL until it returns EXPECT (as text) or TIMEOUT_MS pass; returns
 * the last value seen (new string, or NULL). */
char *bt_test_db_wait(PGconn *db, const char *expect, int timeout_ms, const char *sql);

/* Runs a command line through the shell; returns its exit status and, if
 * OUT is given, what it printed (stdout and stderr). */
int bt_test_sh(struct bt_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
