#include "track.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <strings.h>

int bt_track_token(char out[BT_TOKEN_LEN + 1])
{
    unsigned char raw[16], b64[32];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return BT_EIO;
    EVP_EncodeBlock(b64, raw, sizeof(raw)); /* 24 characters, two of them '=' */
    for (int i = 0; i < BT_TOKEN_LEN; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[BT_TOKEN_LEN] = '\0';
    return 0;
}

bool bt_track_token_valid(const char *s, size_t len)
{
    if (len != BT_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Agents that fetch links without a person: chat unfurlers, link previews,
 * mail security gateways, crawlers. Matched as case-insensitive substrings. */
static const char *const prefetch_agents[] = {
    "Slackbot",
    "Slack-ImgProxy",
    "SkypeUriPreview",
    "MicrosoftPreview",
    "facebookexternalhit",
    "Twitterbot",
    "LinkedInBot",
    "WhatsApp",
    "TelegramBot",
    "Discordbot",
    "Google-PageRenderer",
    "Proofpoint",
    "Mimecast",
    "Barracuda",
    "Safe Links",
    "SafeLinks",
    "bot",
    "crawler",
    "spider",
    "preview",
    "scanner",
    "curl/",
    "python-requests",
    "Go-http-client",
    "Wget",
    NULL,
};

static bool contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

enum bt_hit_kind bt_track_classify(const char *method, const char *user_agent, int64_t hit_ms,
                                   int64_t sent_ms, int64_t prefetch_window_ms,
                                   const char *const *extra, const char **why)
{
    if (method && !strcasecmp(method, "HEAD")) {
        *why = "head request";
        return BT_HIT_PREFETCH;
    }
    if (!user_agent || !*user_agent) {
        *why = "empty user agent";
        return BT_HIT_PREFETCH;
    }
    for (size_t i = 0; prefetch_agents[i]; i++) {
        if (contains(user_agent, prefetch_agents[i])) {
            *why = "unfurler or scanner user agent";
            return BT_HIT_PREFETCH;
        }
    }
    for (size_t i = 0; extra && extra[i]; i++) {
        if (contains(user_agent, extra[i])) {
            *why = "configured prefetch agent";
            return BT_HIT_PREFETCH;
        }
    }
    if (sent_ms > 0 && hit_ms >= sent_ms && hit_ms - sent_ms < prefetch_window_ms) {
        *why = "within the prefetch window";
        return BT_HIT_PREFETCH;
    }
    *why = "person";
    return BT_HIT_PERSON;
}
