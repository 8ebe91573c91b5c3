/* track — tracked links: tokens, and telling a person's click from a
 * prefetch by an unfurler or a security scanner.
 *
 * Pure functions; no I/O but the kernel's random source. */
#ifndef BT_TRACK_H
#define BT_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* 128 random bits, base64url without padding: 22 characters and a NUL. */
#define BT_TOKEN_LEN 22
int bt_track_token(char out[BT_TOKEN_LEN + 1]) BT_MUST_CHECK;
/* Whether S has the shape of a token (22 base64url characters). */
bool bt_track_token_valid(const char *s, size_t len);

enum bt_hit_kind { BT_HIT_PERSON, BT_HIT_PREFETCH };

/* Classifies one request for a tracked link. WHY gets a static reason
 * ("head request", "user agent: Slackbot", "within the prefetch window", or
 * "person"). EXTRA is a NULL-terminated list of more agent substrings that
 * mark a prefetch (from config); may be NULL. Times in ms. */
enum bt_hit_kind bt_track_classify(const char *method, const char *user_agent, int64_t hit_ms,
                                   int64_t sent_ms, int64_t prefetch_window_ms,
                                   const char *const *extra, const char **why);

#endif
