/* The report's options come from a query string (GET /v1/reports/...): any
 * key and value must be accepted or refused with a reason, never crash, and
 * accepted ones must always make a statement. Input: key NUL value NUL ... */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = bt_strndup((const char *)data, size);
    struct bt_report_opts o;
    struct bt_report_query q;
    char err[256];
    size_t off = 0;

    bt_report_opts_init(&o);
    while (off < size) {
        const char *key = buf + off;
        size_t klen = strnlen(key, size - off);
        const char *value;

        off += klen + 1;
        if (off >= size)
            break;
        value = buf + off;
        off += strnlen(value, size - off) + 1;
        (void)!bt_report_opts_set(&o, key, value, err, sizeof(err));
    }
    if (bt_report_opts_check(&o, err, sizeof(err)) == 0) {
        if (bt_report_query(&o, &q) != 0 || bt_report_days_query(&o, &q) != 0)
            abort();
    }
    bt_free(buf);
    return 0;
}
