/* The tracked-link path: any bytes as the token and the user agent must be
 * rejected or classified, never crash. Input: token, a NUL, user agent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    const char *why = NULL;
    size_t tlen;

    memcpy(buf, data, size);
    buf[size] = '\0';
    tlen = strlen(buf);
    if (bt_track_token_valid(buf, tlen) && tlen != BT_TOKEN_LEN)
        abort();
    (void)bt_track_classify(size & 1 ? "HEAD" : "GET", tlen < size ? buf + tlen + 1 : NULL,
                            (int64_t)size * 1000, 1000, 2000, NULL, &why);
    if (!why)
        abort();
    free(buf);
    return 0;
}
