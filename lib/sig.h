/* sig — webhook signatures: HubSpot v1 and v3, Standard Webhooks (verify and
 * sign) and Slack v0, all on OpenSSL.
 *
 * Pure functions: no I/O, no globals, no callbacks; safe to call from any
 * callback. Secrets are NUL-terminated strings from the config; everything
 * else may come from outside and is treated as hostile: bodies are
 * (pointer, length), header values are bounded before use, and MACs are
 * compared in constant time on their decoded bytes. Where a list of secrets
 * is taken, any one of them verifying is enough (rotation without a gap).
 *
 * Verifiers return 0 or BT_EAUTH and, when WHY is not NULL, put a reason in
 * it that never contains a secret or an expected MAC. */
#ifndef BT_SIG_H
#define BT_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* How far a signed timestamp may be from now, either way. */
#define BT_SIG_TOLERANCE_S 300

/* HubSpot v1: X-HubSpot-Signature = hex SHA-256 of secret + body. There is
 * no timestamp, so a captured request can be replayed: opt-in only. */
int bt_sig_hubspot_v1_verify(const char *const *secrets, size_t n_secrets, const char *body,
                             size_t body_len, const char *signature, char *why,
                             size_t why_len) BT_MUST_CHECK;

/* HubSpot v3: X-HubSpot-Signature-v3 = base64 HMAC-SHA256(secret, method +
 * uri + body + timestamp), TIMESTAMP being X-HubSpot-Request-Timestamp (ms)
 * as sent. URI is the full URL HubSpot called; the escapes HubSpot decodes
 * before signing (%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B) are
 * decoded here. NOW is in seconds; a timestamp more than
 * BT_SIG_TOLERANCE_S away from it is refused. */
int bt_sig_hubspot_v3_verify(const char *const *secrets, size_t n_secrets, const char *method,
                             const char *uri, const char *body, size_t body_len,
                             const char *timestamp, const char *signature, int64_t now, char *why,
                             size_t why_len) BT_MUST_CHECK;
/* The v3 signature (base64, NUL-terminated) into OUT, which holds at least
 * BT_SIG_B64_LEN bytes. For tests and tools that play HubSpot. */
#define BT_SIG_B64_LEN 45
void bt_sig_hubspot_v3_sign(const char *secret, const char *method, const char *uri,
                            const char *body, size_t body_len, const char *timestamp, char *out);
/* URI with HubSpot's escapes decoded: a new string (bt_free). */
char *bt_sig_hubspot_uri(const char *uri);

/* Standard Webhooks: webhook-signature is a space-separated list of
 * "v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>", the key
 * being the base64 secret after its "whsec_" prefix. Entries of other
 * versions are skipped; any valid v1 entry for any secret is enough.
 * TIMESTAMP is webhook-timestamp as sent (seconds); NOW in seconds. A secret
 * that is not valid base64 never verifies. */
int bt_sig_stdwh_verify(const char *const *secrets, size_t n_secrets, const char *id,
                        const char *timestamp, const char *body, size_t body_len,
                        const char *signature, int64_t now, char *why,
                        size_t why_len) BT_MUST_CHECK;
/* The webhook-signature header value ("v1,<base64>") for an outbound push:
 * *out is a new string (bt_free). BT_EINVAL when SECRET is not a valid
 * whsec_ secret (*out is then NULL). */
int bt_sig_stdwh_sign(const char *secret, const char *id, int64_t timestamp, const char *body,
                      size_t body_len, char **out) BT_MUST_CHECK;
/* Whether SECRET is a usable Standard Webhooks secret, for config checks. */
int bt_sig_stdwh_secret_ok(const char *secret);

/* Slack v0: X-Slack-Signature = "v0=" + hex HMAC-SHA256(secret, "v0:" +
 * X-Slack-Request-Timestamp + ":" + body); timestamp in seconds. */
int bt_sig_slack_verify(const char *const *secrets, size_t n_secrets, const char *timestamp,
                        const char *body, size_t body_len, const char *signature, int64_t now,
                        char *why, size_t why_len) BT_MUST_CHECK;
/* The X-Slack-Signature value into OUT (at least BT_SIG_SLACK_LEN bytes). */
#define BT_SIG_SLACK_LEN 68
void bt_sig_slack_sign(const char *secret, const char *timestamp, const char *body,
                       size_t body_len, char *out);

#endif
