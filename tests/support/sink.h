/* sink — a local HTTP receiver for tests: plays Slack, a Teams Workflows
 * webhook or a Standard Webhooks receiver on a free loopback port.
 *
 * libmicrohttpd with its own threads (one per connection, so a slow answer
 * holds back nobody else). Every request is recorded (method, path,
 * headers, body, arrival time, what it was answered) and may be read from
 * the test's thread at any time. Answers follow a script of rules, each
 * for the next N requests whose path or body contains a text; without a
 * rule, the mode's success. Whatever the rules say, a request that fails
 * the mode's checks is answered as the real service would refuse it:
 *   slack    Authorization: Bearer <secret>, else 200 {"ok":false,
 *            "error":"invalid_auth"}; a JSON body with channel, text,
 *            blocks (with a button to a URL), unfurl_links and unfurl_media
 *            false, else 200 {"ok":false,"error":"invalid_arguments"};
 *            success is 200 {"ok":true,"channel":...,"ts":...}
 *   teams    the Workflows message with an Adaptive Card and an
 *            Action.OpenUrl button, else 400; success is 202
 *   webhook  a valid Standard Webhooks signature for the secret, else 401;
 *            success is 200
 *   any      no checks; success is 200 {} */
#ifndef BT_TEST_SINK_H
#define BT_TEST_SINK_H

#include <stddef.h>
#include <stdint.h>

enum bt_sink_mode { BT_SINK_ANY, BT_SINK_SLACK, BT_SINK_TEAMS, BT_SINK_WEBHOOK };

struct bt_sink;

struct bt_sink_req {
    char *method, *path, *query; /* query: "" when none */
    char *headers;               /* "name: value\n" lines, names in lower case */
    char *body;                  /* NUL-terminated */
    size_t body_len;
    int64_t at_ms;   /* when it arrived: CLOCK_MONOTONIC, ms */
    unsigned status; /* what it was answered */
    char *answer;    /* and with which body */
    int checks_ok;   /* the mode's checks: 1 passed, 0 failed (see why) */
    char why[160];
};

/* Starts a sink; SECRET is the Slack token or the whsec_ secret (may be
 * NULL for the other modes). Fails the test when it cannot. */
struct bt_sink *bt_sink_start(enum bt_sink_mode mode, const char *secret);
/* "http://127.0.0.1:PORT" */
const char *bt_sink_url(const struct bt_sink *s);
/* Stops the daemon (waits for answers being delayed) and frees everything. */
void bt_sink_stop(struct bt_sink *s);

/* The next COUNT requests whose path or body contains MATCH (NULL: any)
 * are answered STATUS with BODY (NULL: the mode's usual body for STATUS),
 * after DELAY_MS. RETRY_AFTER (may be NULL) becomes a Retry-After header,
 * LOCATION a Location header. Rules are tried in the order they were
 * added; a used-up rule is skipped. */
void bt_sink_rule(struct bt_sink *s, const char *match, unsigned count, unsigned status,
                  const char *body, const char *retry_after, unsigned delay_ms,
                  const char *location);
/* Drops every rule not used up yet. */
void bt_sink_clear_rules(struct bt_sink *s);

/* Requests recorded so far whose path or body contains MATCH (NULL: all). */
size_t bt_sink_count(struct bt_sink *s, const char *match);
/* Waits until bt_sink_count(MATCH) reaches N or TIMEOUT_MS pass; returns
 * the count then. */
size_t bt_sink_wait(struct bt_sink *s, const char *match, size_t n, int timeout_ms);
/* Copies of the requests recorded so far whose path or body contains MATCH
 * (NULL: all), in arrival order: *OUT is a new array of *N entries, freed
 * with bt_sink_reqs_free. */
void bt_sink_requests(struct bt_sink *s, const char *match, struct bt_sink_req **out, size_t *n);
void bt_sink_reqs_free(struct bt_sink_req *v, size_t n);
/* A header of a recorded request (NAME in lower case), as a new string, or
 * NULL. */
char *bt_sink_header(const struct bt_sink_req *r, const char *name);
/* The most requests that were being answered at once. */
unsigned bt_sink_max_concurrent(struct bt_sink *s);
/* Forgets the requests recorded so far (not the rules). */
void bt_sink_reset(struct bt_sink *s);

#endif
