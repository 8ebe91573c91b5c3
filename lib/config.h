/* config — the daemon's configuration (batond.yaml): where to listen, the
 * database, the motion file, the secrets of every intake and push channel,
 * and the tunables of HTTP, ingest, the journal, pushes, tracking, reports
 * and CRM look-ups.
 *
 * Ownership: a struct bt_config is an immutable, reference-counted snapshot.
 * bt_config_load() hands out the first reference; every string, list and
 * struct reachable from it lives in the snapshot's arena and stays valid
 * while a reference is held. The struct is public so the daemon can read
 * fields directly, but it is READ-ONLY: never write to it. A reload loads a
 * new snapshot and swaps it in only when it validated; work in flight keeps
 * its reference to the old one (bt_config_ref / bt_config_unref).
 *
 * Secrets: fields marked SECRET must never be formatted into a log line, a
 * diagnostic or a response. Loading never puts a secret's value (nor the
 * content of an x_file) into a diagnostic. The last unref wipes them.
 * Every secret x may be given as x_file instead (the file's content without
 * its trailing newline); for a list of secrets, one per line.
 *
 * Paths (motion, journal.path, every x_file) that are relative are taken
 * relative to the config file's directory and handed out already joined.
 *
 * Loading never exits and never stops at the first problem. No callbacks;
 * not thread-safe (the daemon has one thread). */
#ifndef BT_CONFIG_H
#define BT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "deal.h"
#include "diag.h"
#include "err.h"
#include "log.h"

/* A named push target: a Teams Workflows URL or a webhook receiver. */
struct bt_config_target {
    const char *name; /* as the motion's routing names it (`to:`) */
    const char *url;  /* SECRET: such URLs carry their own authorization */
};

struct bt_config_hubspot {
    bool enabled;                      /* sources.hubspot is present */
    const char *const *client_secrets; /* SECRET; at least one; all accepted */
    size_t n_client_secrets;
    bool signature_v1;    /* also accept the legacy v1 signature (default false) */
    const char *api_base; /* default https://api.hubapi.com; no trailing slash */
    const char *token;    /* SECRET: private app token for look-ups; NULL: none */
};

struct bt_config_pipedrive {
    bool enabled;
    const char *username; /* HTTP Basic, both required */
    const char *password; /* SECRET */
};

struct bt_config_salesforce {
    bool enabled;
    const char *organization_id;    /* the org whose messages are accepted */
    const char *const *path_tokens; /* SECRET; the {path_token} URL segment */
    size_t n_path_tokens;
};

struct bt_config_generic {
    bool enabled;
    const char *const *secrets; /* SECRET; Standard Webhooks "whsec_..." */
    size_t n_secrets;
};

struct bt_config_slack {
    bool enabled;
    const char *api_base;            /* default https://slack.com; no trailing slash */
    const char *token;               /* SECRET: bot token (xoxb-...) */
    int64_t per_channel_interval_ms; /* least gap between posts to one channel (1 s) */
};

struct bt_config_teams {
    bool enabled;
    const struct bt_config_target *targets;
    size_t n_targets;
};

struct bt_config_webhook {
    bool enabled;
    const char *secret; /* SECRET: "whsec_..." used to sign every push */
    const struct bt_config_target *targets;
    size_t n_targets;
};

struct bt_config_http {
    int64_t connection_timeout_ms;   /* idle connection closed after (30 s) */
    unsigned max_connections;        /* 1024 */
    unsigned max_connections_per_ip; /* 64 */
    uint64_t memory_limit;           /* per connection, for headers and buffers (256 KiB) */
    uint64_t body_limit;             /* a larger webhook body gets 413 (1 MiB) */
    int64_t request_deadline_ms;     /* a suspended request gets 503 after (10 s) */
};

struct bt_config_ingest {
    unsigned batch_max; /* events per group commit, at most (500) */
};

struct bt_config_journal {
    const char *path;   /* default /var/lib/baton/journal */
    uint64_t max_bytes; /* full beyond this: webhooks get 503 (64 MiB) */
};

struct bt_config_push {
    int64_t connect_timeout_ms;        /* 5 s */
    int64_t timeout_ms;                /* whole request (15 s) */
    unsigned max_connections_per_host; /* 8 */
    uint64_t response_cap;             /* bytes of a response read, at most (64 KiB) */
    const int64_t *retry_schedule_ms;  /* gaps before retries 1..n (5s 30s 2m 10m 30m 1h) */
    size_t n_retry_schedule;
    int64_t retry_after_last_ms; /* the gap once the schedule is used up (1 h) */
    int64_t give_up_after_ms;    /* dead this long after the first attempt (24 h) */
    double jitter;               /* each gap varies by up to ± this fraction (0.2) */
    int64_t lease_ms;            /* a claimed delivery returns to the pool after (60 s) */
    unsigned batch;              /* deliveries claimed at once (100) */
};

struct bt_config_tracking {
    int64_t prefetch_window_ms; /* hits this soon after the push are not a person's (2 s) */
    const char *const *extra_prefetch_agents; /* more robot user-agent substrings; NULL-ended */
    size_t n_extra_prefetch_agents;
};

struct bt_config_report {
    unsigned min_deliveries; /* fewer deliveries: "too early" to judge (5) */
    double ignored_below;    /* open rate under which an asset is "ignored" (0.2) */
};

struct bt_config_lookup {
    int64_t timeout_ms;    /* one CRM API request (10 s) */
    int64_t base_delay_ms; /* first retry after this, doubling (1 s) */
    unsigned max_attempts; /* then the deal is matched on what is known (5) */
};

struct bt_config {
    const char *file; /* the file it was loaded from */

    const char *listen;                  /* as written: "127.0.0.1:8080", "[::1]:8080" */
    struct sockaddr_storage listen_addr; /* the same, ready for bind() */
    socklen_t listen_addr_len;
    uint16_t listen_port;
    const char *public_url;  /* absolute http(s) URL, no trailing slash */
    const char *database;    /* SECRET (may hold a password): a libpq conninfo */
    bool database_from_env;  /* it came from $BATON_DATABASE */
    const char *motion;      /* the motion file to load and watch; NULL: none */
    const char *admin_token; /* SECRET: bearer token of the admin endpoints; NULL: none */
    enum bt_log_level log_level;

    struct {
        struct bt_config_hubspot hubspot;
        struct bt_config_pipedrive pipedrive;
        struct bt_config_salesforce salesforce;
        struct bt_config_generic generic;
    } sources;
    struct {
        struct bt_config_slack slack;
        struct bt_config_teams teams;
        struct bt_config_webhook webhook;
    } channels;
    struct bt_config_http http;
    struct bt_config_ingest ingest;
    struct bt_config_journal journal;
    struct bt_config_push push;
    struct bt_config_tracking tracking;
    struct bt_config_report report;
    struct bt_config_lookup lookup;
};

/* Reads and validates FILE. $BATON_DATABASE, when set and not empty,
 * replaces `database` (whose value, or file, is then not read). On success returns 0 and *out
 * holds the first reference. On failure returns BT_EIO (FILE unreadable) or BT_EINVAL, leaves *out
 * NULL and appends every problem to diags, each with file, line, column and node path (sort them
 * with bt_diags_sort before printing). */
int bt_config_load(const char *file, struct bt_config **out, struct bt_diags *diags) BT_MUST_CHECK;

/* Takes another reference to CFG (not NULL); returns it. */
const struct bt_config *bt_config_ref(const struct bt_config *cfg);
/* Drops one; the last wipes the secrets and frees everything. NULL-safe. */
void bt_config_unref(const struct bt_config *cfg);

/* The URL of target NAME of push channel CHANNEL ("teams" or "webhook"), or
 * NULL when either is unknown. SECRET; valid while CFG is referenced. */
const char *bt_config_target_url(const struct bt_config *cfg, const char *channel,
                                 const char *name);

/* Fills *out with what the intake SOURCE needs to check authenticity;
 * pointers into CFG, valid while it is referenced. BT_ENOENT (and *out
 * zeroed) when the source is not configured: its endpoint should answer 404. */
struct bt_crm_auth;
int bt_config_inbound_auth(const struct bt_config *cfg, enum bt_source source,
                           struct bt_crm_auth *out) BT_MUST_CHECK;

/* "250ms", "5s", "2m", "1h", "1d", or a plain number of seconds ("30",
 * "0.5"), to milliseconds. BT_EINVAL when malformed, negative, finer than a
 * millisecond or too large. */
int bt_parse_duration_ms(const char *s, int64_t *out) BT_MUST_CHECK;
/* "512", "512B", "64KiB", "1MiB", "1GiB" (or kB, MB, GB: powers of 1000) to
 * bytes. BT_EINVAL when malformed, negative, fractional bytes or too large. */
int bt_parse_size(const char *s, uint64_t *out) BT_MUST_CHECK;

#endif
