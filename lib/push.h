/* push — the outbox pusher, and the channels it pushes through.
 *
 * The pusher claims due pending deliveries on a PostgreSQL connection of
 * its own (FOR UPDATE SKIP LOCKED, with a lease of push.lease, so several
 * instances share the outbox and a crashed one's claims return to the
 * pool), checks each deal again (a deal that has since reached a won or
 * lost stage is skipped), pushes through the delivery's channel, and
 * records the outcome: sent, a retry at the next gap of the schedule (see
 * retry.h; dead once the delivery is older than push.give_up_after),
 * failed for good (with the reason), or skipped. Every record is
 * conditional on the claim still being ours: leased_by is this instance
 * and attempts is what our claim made it, so an instance whose lease ran
 * out and was taken over never overwrites the newer outcome.
 *
 *  - attempts counts pushes actually made. A claim adds one; a claim that
 *    pushes nothing (the deal was won, the Slack channel was busy, the
 *    channel was misconfigured) gives it back in the same statement that
 *    records why.
 *  - Slack's pace (channels.slack.per_channel_interval, about one message
 *    a second per channel) is kept per instance, in memory: a delivery
 *    whose channel is busy goes back to the pool due when the channel is
 *    free (each waiting delivery gets the next free slot), without counting
 *    an attempt. Two instances pace independently; Slack's 429 and its
 *    Retry-After, which also hold back that channel, cover the rest.
 *  - A lease only stands for "in flight": it is cleared whenever the
 *    outcome is recorded; leased_by is kept as the instance that last held
 *    the delivery (and so, for a sent one, the instance that sent it).
 *  - Wake-ups: NOTIFY baton_delivery (from the matcher on any instance),
 *    bt_push_kick, a timer for the earliest retry this instance scheduled,
 *    and a janitor tick each second (due retries of other instances,
 *    expired leases).
 *
 * Delivery is at least once: a push whose outcome could not be recorded
 * (the instance died, the database went away) is pushed again once its
 * lease runs out. Loop thread only. */
#ifndef BT_PUSH_H
#define BT_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "err.h"
#include "fetch.h"

struct bt_motion;
struct bt_push;

/* ---------------------------------------------------------------- channels */

/* One delivery as a channel (and the panel hook) sees it. Every string is
 * borrowed, valid during the call; those marked "may be NULL" can be. */
struct bt_push_delivery {
    long long id;
    const char *source, *deal_id;
    const char *deal_name;       /* as stored with the delivery, else the deal id */
    const char *stage;           /* the deal's stage id now (else as matched); may be NULL */
    const char *stage_label;     /* the motion's label of it, else the id; may be NULL */
    const char *competitor;      /* the motion's competitor id; may be NULL */
    const char *competitor_name; /* its name in the motion, else the id; may be NULL */
    const char *asset_id;
    const char *asset_kind;  /* "battlecard", "case_study", ...; may be NULL */
    const char *asset_title; /* may be NULL */
    const char *play_id;     /* the play that chose it; may be NULL */
    const char *trigger;     /* created | stage | competitor | owner; may be NULL */
    const char *rep_id;      /* may be NULL */
    const char *channel;     /* slack | teams | webhook | panel */
    const char *to;          /* slack/panel: an id; teams/webhook: a config target name */
    const char *token;       /* the tracked link's token */
    const char *link;        /* {public_url}/o/{token} */
    unsigned attempt;        /* 1 for the first push */
};

/* An HTTP request a channel built for one delivery. */
#define BT_PUSH_MAX_HEADERS 8
struct bt_push_http {
    char *url; /* SECRET for teams and webhook: the URL is the authorization */
    char *body;
    size_t body_len;
    char *headers[BT_PUSH_MAX_HEADERS + 1]; /* "Name: value", NULL-terminated */
    size_t n_headers;
};
/* Appends a header (formatted); more than BT_PUSH_MAX_HEADERS is a bug. */
void bt_push_http_header(struct bt_push_http *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bt_push_http_free(struct bt_push_http *h); /* frees the members, keeps H */

enum bt_push_outcome { BT_PUSH_SENT, BT_PUSH_RETRY, BT_PUSH_FAILED };

struct bt_push_verdict {
    enum bt_push_outcome outcome;
    char reason[256];       /* RETRY and FAILED: why, for last_error (never a secret) */
    char external_id[128];  /* SENT: the receiver's id of the message (Slack's ts), or "" */
    int64_t retry_after_ms; /* RETRY: what the receiver asked for, or -1 */
};

/* A channel: "Variants are const function tables". Pure functions: no I/O,
 * no globals; NOW_S (seconds) is the time to stamp and sign with. */
struct bt_push_ops {
    const char *name;
    /* Builds the request for D into *OUT (zeroed by the caller). 0, or
     * BT_ENOENT / BT_EINVAL with a reason in WHY (never a secret) when the
     * delivery can never be sent as things are configured: it fails for
     * good. NULL for a channel with nothing to send over HTTP (panel: the
     * delivery is sent the moment it is recorded, and the panel hook
     * shows it). */
    int (*build)(const struct bt_config *cfg, const struct bt_push_delivery *d, int64_t now_s,
                 struct bt_push_http *out, char *why, size_t why_len);
    /* What the answer means. RES->err is never BT_ECANCELED here. */
    void (*classify)(const struct bt_fetch_result *res, struct bt_push_verdict *v);
};

/* The channel named NAME, or NULL. */
const struct bt_push_ops *bt_push_ops_find(const char *name);

/* For channels whose receivers only speak HTTP status: 2xx sent; no
 * answer, 408, 429 (with its Retry-After) and 5xx retried; any other
 * status (3xx included: redirects are not followed) failed for good. */
void bt_push_classify_status(const struct bt_fetch_result *res, struct bt_push_verdict *v);
/* S cut to at most MAX bytes on a UTF-8 boundary, with an ellipsis when it
 * was cut: a new string (bt_free). NULL for NULL. */
char *bt_push_clip(const char *s, size_t max);
/* "Battlecard" for "battlecard", "Case study" for "case_study", "Asset"
 * for NULL: into BUF, always NUL-terminated. */
void bt_push_kind_label(const char *kind, char *buf, size_t len);

/* ---------------------------------------------------------------- pusher */

struct bt_push_stats {
    unsigned long long claimed; /* claims taken (a delivery may be claimed several times) */
    unsigned long long sent, retried, failed, dead, skipped;
    unsigned long long paced;  /* put back because the Slack channel was busy */
    unsigned long long lost;   /* outcomes not recorded: the claim was no longer ours */
    unsigned long long errors; /* database errors */
    size_t in_flight;          /* claimed and not yet recorded */
};

/* Connects (a connection of its own, LISTENing on baton_delivery) and
 * starts the janitor. Holds a reference to CFG; copies PUBLIC_URL (the
 * tracked links' base). Nothing is claimed until a motion is set. */
int bt_push_new(uv_loop_t *loop, const struct bt_config *cfg, const char *public_url,
                struct bt_push **out) BT_MUST_CHECK;
/* Takes a reference to M (the active motion: stage outcomes and labels,
 * competitor names); drops the one it held. */
void bt_push_set_motion(struct bt_push *p, struct bt_motion *m);
/* Look for due deliveries soon (new ones were stored). */
void bt_push_kick(struct bt_push *p);
/* Claims nothing more; what is in flight finishes (for draining). */
void bt_push_quiesce(struct bt_push *p);
/* Nothing claimed, in flight or being recorded. */
bool bt_push_idle(const struct bt_push *p);
const struct bt_push_stats *bt_push_stats(struct bt_push *p);
/* "host:pid:random": what leased_by holds for this instance. */
const char *bt_push_instance(const struct bt_push *p);
/* Stops claiming, lets pushes in flight finish for up to a second, cancels
 * the rest (they stay claimed: their lease returns them to the pool), closes
 * the connection and every handle; DONE(ud) fires once P is freed. */
void bt_push_close(struct bt_push *p, void (*done)(void *ud), void *ud);

#endif
