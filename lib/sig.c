#include "sig.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mem.h"

enum {
    MAC_LEN = 32,          /* SHA-256 and HMAC-SHA256 */
    SECRET_MAX = 256,      /* decoded whsec_ key; real ones are 24-64 bytes */
    TS_DIGITS_MAX = 18,    /* fits int64 whatever the digits */
    SIG_HEADER_MAX = 8192, /* a webhook-signature list during a rotation */
    ID_MAX = 1024,         /* webhook-id */
    URI_MAX = 16384,       /* the URL HubSpot called */
    SECRET_LEN_MAX = 4096, /* a configured secret */
};

/* A piece of a signed message: MACs are computed over the pieces in order,
 * so a body is never copied to build the message. */
struct part {
    const void *p;
    size_t n;
};

static void set_why(char *why, size_t why_len, const char *msg)
{
    if (why && why_len)
        snprintf(why, why_len, "%s", msg);
}

static int hmac_sha256(const void *key, size_t key_len, const struct part *parts, size_t n_parts,
                       unsigned char out[MAC_LEN])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    size_t out_len = 0;
    int ret = -1;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        goto out;
    ctx = EVP_MAC_CTX_new(mac);
    if (!ctx)
        goto out;
    if (EVP_MAC_init(ctx, key, key_len, params) != 1)
        goto out;
    for (size_t i = 0; i < n_parts; i++)
        if (parts[i].n && EVP_MAC_update(ctx, parts[i].p, parts[i].n) != 1)
            goto out;
    if (EVP_MAC_final(ctx, out, &out_len, MAC_LEN) != 1 || out_len != MAC_LEN)
        goto out;
    ret = 0;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ret;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Decodes padded standard base64 into OUT (CAP bytes). EVP_DecodeBlock
 * skips surrounding blanks and counts padding as data, so the alphabet and
 * the padding are checked here first and the padding subtracted. */
static int b64_decode(const char *in, size_t in_len, unsigned char *out, size_t cap,
                      size_t *out_len)
{
    size_t pad = 0;
    int n;

    if (in_len == 0 || in_len % 4 != 0 || in_len / 4 * 3 > cap || in_len > INT_MAX)
        return -1;
    for (size_t i = 0; i < in_len; i++) {
        if (in[i] == '=') {
            if (in_len - i > 2)
                return -1;
            pad++;
        } else if (pad || !b64_char(in[i])) {
            return -1;
        }
    }
    n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)in_len);
    if (n < 0 || (size_t)n < pad)
        return -1;
    *out_len = (size_t)n - pad;
    return 0;
}

/* OUT holds at least 4 * ceil(n / 3) + 1 bytes. */
static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly 2 * n hex digits (either case) into N bytes. */
static int hex_decode(const char *in, size_t in_len, unsigned char *out, size_t n)
{
    if (in_len != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A Unix timestamp as senders write it: decimal digits only, no sign, no
 * blanks, short enough that it cannot overflow. */
static int parse_ts(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    for (i = 0; s[i]; i++) {
        if (i == TS_DIGITS_MAX || s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0)
        return -1;
    *out = v;
    return 0;
}

/* Whether TS (in units per second, UNIT) lies within the tolerance of NOW
 * (seconds), in the past or the future. */
static bool in_window(int64_t ts, int64_t unit, int64_t now)
{
    int64_t now_u, diff;

    if (now < 0 || now > INT64_MAX / unit)
        return false;
    now_u = now * unit;
    diff = now_u - ts; /* both in [0, INT64_MAX): cannot overflow */
    return diff <= BT_SIG_TOLERANCE_S * unit && diff >= -BT_SIG_TOLERANCE_S * unit;
}

/* strnlen with a cap: LEN, or -1 when S is NULL or CAP long or longer. */
static int bounded_len(const char *s, size_t cap, size_t *len)
{
    if (!s)
        return -1;
    *len = strnlen(s, cap);
    return *len == cap ? -1 : 0;
}

/* A configured secret as an HMAC key; empty ones never verify, so a blank
 * line in a secret file cannot open the door. */
static bool secret_usable(const char *secret, size_t *len)
{
    return bounded_len(secret, SECRET_LEN_MAX, len) == 0 && *len > 0;
}

int bt_sig_hubspot_v1_verify(const char *const *secrets, size_t n_secrets, const char *body,
                             size_t body_len, const char *signature, char *why, size_t why_len)
{
    unsigned char want[MAC_LEN], got[MAC_LEN];
    size_t sig_len;
    int ret = BT_EAUTH;

    if (!signature) {
        set_why(why, why_len, "missing signature");
        goto out;
    }
    if (bounded_len(signature, 2 * MAC_LEN + 1, &sig_len) != 0 ||
        hex_decode(signature, sig_len, want, MAC_LEN) != 0) {
        set_why(why, why_len, "malformed signature");
        goto out;
    }
    set_why(why, why_len, n_secrets ? "signature mismatch" : "no secret configured");
    for (size_t i = 0; i < n_secrets; i++) {
        size_t key_len;
        EVP_MD_CTX *md;
        unsigned int got_len = 0;
        int ok;

        if (!secret_usable(secrets[i], &key_len))
            continue;
        md = EVP_MD_CTX_new();
        ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, secrets[i], key_len) == 1 &&
             (body_len == 0 || EVP_DigestUpdate(md, body, body_len) == 1) &&
             EVP_DigestFinal_ex(md, got, &got_len) == 1 && got_len == MAC_LEN;
        EVP_MD_CTX_free(md);
        if (ok && CRYPTO_memcmp(want, got, MAC_LEN) == 0) {
            ret = 0;
            goto out;
        }
    }
out:
    OPENSSL_cleanse(got, sizeof(got));
    if (ret == 0 && why && why_len)
        why[0] = '\0';
    return ret;
}

/* The escapes HubSpot decodes in the URI before signing it. */
static int hubspot_unescape(char a, char b)
{
    static const char keep[] = ":/?@!$'()*,;";
    int hi = hex_val(a), lo = hex_val(b), c;

    if (hi < 0 || lo < 0)
        return -1;
    c = hi << 4 | lo;
    return c && strchr(keep, c) ? c : -1;
}

char *bt_sig_hubspot_uri(const char *uri)
{
    size_t len = strnlen(uri, URI_MAX), j = 0;
    char *out = bt_malloc(len + 1);

    for (size_t i = 0; i < len; i++) {
        int c = -1;

        if (uri[i] == '%' && len - i >= 3)
            c = hubspot_unescape(uri[i + 1], uri[i + 2]);
        if (c >= 0) {
            out[j++] = (char)c;
            i += 2;
        } else {
            out[j++] = uri[i];
        }
    }
    out[j] = '\0';
    return out;
}

static void hubspot_v3_mac(const char *secret, size_t key_len, const char *method, const char *uri,
                           const char *body, size_t body_len, const char *timestamp, size_t ts_len,
                           unsigned char mac[MAC_LEN], bool *ok)
{
    struct part parts[4] = {
        {method, strlen(method)}, {uri, strlen(uri)}, {body, body_len}, {timestamp, ts_len}};

    *ok = hmac_sha256(secret, key_len, parts, 4, mac) == 0;
}

void bt_sig_hubspot_v3_sign(const char *secret, const char *method, const char *uri,
                            const char *body, size_t body_len, const char *timestamp, char *out)
{
    unsigned char mac[MAC_LEN];
    char *u = bt_sig_hubspot_uri(uri);
    bool ok;

    hubspot_v3_mac(secret, strlen(secret), method, u, body, body_len, timestamp, strlen(timestamp),
                   mac, &ok);
    if (!ok)
        bt_fatal("OpenSSL cannot compute HMAC-SHA256");
    b64_encode(mac, MAC_LEN, out);
    bt_free(u);
}

int bt_sig_hubspot_v3_verify(const char *const *secrets, size_t n_secrets, const char *method,
                             const char *uri, const char *body, size_t body_len,
                             const char *timestamp, const char *signature, int64_t now, char *why,
                             size_t why_len)
{
    unsigned char want[MAC_LEN + 3], got[MAC_LEN];
    size_t sig_len, want_len = 0, ts_len, uri_len;
    int64_t ts;
    char *u = NULL;
    int ret = BT_EAUTH;

    if (!signature || !timestamp) {
        set_why(why, why_len, !signature ? "missing signature" : "missing timestamp");
        goto out;
    }
    if (bounded_len(timestamp, TS_DIGITS_MAX + 1, &ts_len) != 0 || parse_ts(timestamp, &ts)) {
        set_why(why, why_len, "malformed timestamp");
        goto out;
    }
    if (!in_window(ts, 1000, now)) {
        set_why(why, why_len, "timestamp outside the 5-minute window");
        goto out;
    }
    if (bounded_len(signature, 4 * MAC_LEN, &sig_len) != 0 ||
        b64_decode(signature, sig_len, want, sizeof(want), &want_len) != 0 ||
        want_len != MAC_LEN) {
        set_why(why, why_len, "malformed signature");
        goto out;
    }
    if (!method || !uri || bounded_len(uri, URI_MAX, &uri_len) != 0) {
        set_why(why, why_len, "request URL missing or too long");
        goto out;
    }
    u = bt_sig_hubspot_uri(uri);
    set_why(why, why_len, n_secrets ? "signature mismatch" : "no secret configured");
    for (size_t i = 0; i < n_secrets; i++) {
        size_t key_len;
        bool ok;

        if (!secret_usable(secrets[i], &key_len))
            continue;
        hubspot_v3_mac(secrets[i], key_len, method, u, body, body_len, timestamp, ts_len, got,
                       &ok);
        if (ok && CRYPTO_memcmp(want, got, MAC_LEN) == 0) {
            ret = 0;
            goto out;
        }
    }
out:
    bt_free(u);
    OPENSSL_cleanse(got, sizeof(got));
    if (ret == 0 && why && why_len)
        why[0] = '\0';
    return ret;
}

/* The HMAC key of a Standard Webhooks secret: base64 after "whsec_" (the
 * reference libraries also take it without the prefix). */
static int stdwh_key(const char *secret, unsigned char *key, size_t *key_len)
{
    static const char prefix[] = "whsec_";
    size_t len;

    if (!secret || bounded_len(secret, SECRET_LEN_MAX, &len) != 0)
        return -1;
    if (len >= sizeof(prefix) - 1 && !memcmp(secret, prefix, sizeof(prefix) - 1)) {
        secret += sizeof(prefix) - 1;
        len -= sizeof(prefix) - 1;
    }
    if (b64_decode(secret, len, key, SECRET_MAX, key_len) != 0 || *key_len == 0)
        return -1;
    return 0;
}

int bt_sig_stdwh_secret_ok(const char *secret)
{
    unsigned char key[SECRET_MAX];
    size_t key_len;
    int ok = stdwh_key(secret, key, &key_len) == 0;

    OPENSSL_cleanse(key, sizeof(key));
    return ok;
}

static int stdwh_mac(const unsigned char *key, size_t key_len, const char *id, size_t id_len,
                     const char *ts, size_t ts_len, const char *body, size_t body_len,
                     unsigned char mac[MAC_LEN])
{
    struct part parts[5] = {{id, id_len}, {".", 1}, {ts, ts_len}, {".", 1}, {body, body_len}};

    return hmac_sha256(key, key_len, parts, 5, mac);
}

int bt_sig_stdwh_sign(const char *secret, const char *id, int64_t timestamp, const char *body,
                      size_t body_len, char **out)
{
    unsigned char key[SECRET_MAX], mac[MAC_LEN];
    char ts[24], b64[BT_SIG_B64_LEN];
    size_t key_len;
    int ret = BT_EINVAL;

    *out = NULL;
    if (stdwh_key(secret, key, &key_len) != 0)
        goto out;
    snprintf(ts, sizeof(ts), "%lld", (long long)timestamp);
    /* Signing has no caller to hand an OpenSSL failure to: only a broken
     * library gets here. */
    if (stdwh_mac(key, key_len, id, strlen(id), ts, strlen(ts), body, body_len, mac) != 0)
        bt_fatal("OpenSSL cannot compute HMAC-SHA256");
    b64_encode(mac, MAC_LEN, b64);
    *out = bt_asprintf("v1,%s", b64);
    ret = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    return ret;
}

/* Whether one "v1,<base64>" entry of a webhook-signature list matches any
 * of the expected MACs. Malformed entries and other versions match nothing,
 * so a sender may list schemes Baton does not know. */
static bool stdwh_entry_matches(const char *e, size_t n, const unsigned char (*macs)[MAC_LEN],
                                size_t n_macs)
{
    unsigned char got[MAC_LEN + 3];
    size_t got_len = 0;
    bool match = false;

    if (n < 3 || memcmp(e, "v1,", 3) != 0)
        return false;
    if (b64_decode(e + 3, n - 3, got, sizeof(got), &got_len) != 0 || got_len != MAC_LEN)
        return false;
    /* Every MAC is compared, so the time taken does not say which secret
     * matched. */
    for (size_t i = 0; i < n_macs; i++)
        match |= CRYPTO_memcmp(got, macs[i], MAC_LEN) == 0;
    return match;
}

int bt_sig_stdwh_verify(const char *const *secrets, size_t n_secrets, const char *id,
                        const char *timestamp, const char *body, size_t body_len,
                        const char *signature, int64_t now, char *why, size_t why_len)
{
    unsigned char(*macs)[MAC_LEN] = NULL;
    unsigned char key[SECRET_MAX];
    size_t id_len, ts_len, sig_len, n_macs = 0, key_len;
    bool any_v1 = false;
    int64_t ts;
    int ret = BT_EAUTH;

    if (!id || !timestamp || !signature) {
        set_why(why, why_len,
                !id          ? "missing webhook-id"
                : !timestamp ? "missing webhook-timestamp"
                             : "missing webhook-signature");
        goto out;
    }
    if (bounded_len(id, ID_MAX, &id_len) != 0 || id_len == 0) {
        set_why(why, why_len, "webhook-id is empty or too long");
        goto out;
    }
    if (bounded_len(timestamp, TS_DIGITS_MAX + 1, &ts_len) != 0 || parse_ts(timestamp, &ts)) {
        set_why(why, why_len, "malformed webhook-timestamp");
        goto out;
    }
    if (!in_window(ts, 1, now)) {
        set_why(why, why_len, "timestamp outside the 5-minute window");
        goto out;
    }
    if (bounded_len(signature, SIG_HEADER_MAX, &sig_len) != 0) {
        set_why(why, why_len, "webhook-signature is too long");
        goto out;
    }
    macs = bt_calloc(n_secrets ? n_secrets : 1, sizeof(*macs));
    for (size_t i = 0; i < n_secrets; i++) {
        if (stdwh_key(secrets[i], key, &key_len) != 0)
            continue;
        if (stdwh_mac(key, key_len, id, id_len, timestamp, ts_len, body, body_len, macs[n_macs]) ==
            0)
            n_macs++;
    }
    if (n_macs == 0) {
        set_why(why, why_len, "no usable secret configured");
        goto out;
    }
    for (size_t i = 0; i < sig_len;) {
        size_t j = i;

        while (j < sig_len && signature[j] != ' ')
            j++;
        if (j > i) {
            any_v1 |= j - i >= 3 && !memcmp(signature + i, "v1,", 3);
            if (stdwh_entry_matches(signature + i, j - i, (const unsigned char(*)[MAC_LEN])macs,
                                    n_macs)) {
                ret = 0;
                goto out;
            }
        }
        i = j + 1;
    }
    set_why(why, why_len, any_v1 ? "signature mismatch" : "no v1 signature in webhook-signature");
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (macs)
        OPENSSL_cleanse(macs, (n_secrets ? n_secrets : 1) * sizeof(*macs));
    bt_free(macs);
    if (ret == 0 && why && why_len)
        why[0] = '\0';
    return ret;
}

static int slack_mac(const char *secret, size_t key_len, const char *ts, size_t ts_len,
                     const char *body, size_t body_len, unsigned char mac[MAC_LEN])
{
    struct part parts[4] = {{"v0:", 3}, {ts, ts_len}, {":", 1}, {body, body_len}};

    return hmac_sha256(secret, key_len, parts, 4, mac);
}

void bt_sig_slack_sign(const char *secret, const char *timestamp, const char *body,
                       size_t body_len, char *out)
{
    unsigned char mac[MAC_LEN];

    if (slack_mac(secret, strlen(secret), timestamp, strlen(timestamp), body, body_len, mac))
        bt_fatal("OpenSSL cannot compute HMAC-SHA256");
    memcpy(out, "v0=", 3);
    hex_encode(mac, MAC_LEN, out + 3);
}

int bt_sig_slack_verify(const char *const *secrets, size_t n_secrets, const char *timestamp,
                        const char *body, size_t body_len, const char *signature, int64_t now,
                        char *why, size_t why_len)
{
    unsigned char want[MAC_LEN], got[MAC_LEN];
    size_t ts_len, sig_len;
    int64_t ts;
    int ret = BT_EAUTH;

    if (!timestamp || !signature) {
        set_why(why, why_len,
                !timestamp ? "missing X-Slack-Request-Timestamp" : "missing X-Slack-Signature");
        goto out;
    }
    if (bounded_len(timestamp, TS_DIGITS_MAX + 1, &ts_len) != 0 || parse_ts(timestamp, &ts)) {
        set_why(why, why_len, "malformed X-Slack-Request-Timestamp");
        goto out;
    }
    if (!in_window(ts, 1, now)) {
        set_why(why, why_len, "timestamp outside the 5-minute window");
        goto out;
    }
    if (bounded_len(signature, 3 + 2 * MAC_LEN + 1, &sig_len) != 0 || sig_len < 3 ||
        memcmp(signature, "v0=", 3) != 0 ||
        hex_decode(signature + 3, sig_len - 3, want, MAC_LEN) != 0) {
        set_why(why, why_len, "malformed X-Slack-Signature");
        goto out;
    }
    set_why(why, why_len, n_secrets ? "signature mismatch" : "no secret configured");
    for (size_t i = 0; i < n_secrets; i++) {
        size_t key_len;

        if (!secret_usable(secrets[i], &key_len))
            continue;
        if (slack_mac(secrets[i], key_len, timestamp, ts_len, body, body_len, got) == 0 &&
            CRYPTO_memcmp(want, got, MAC_LEN) == 0) {
            ret = 0;
            goto out;
        }
    }
out:
    OPENSSL_cleanse(got, sizeof(got));
    if (ret == 0 && why && why_len)
        why[0] = '\0';
    return ret;
}
