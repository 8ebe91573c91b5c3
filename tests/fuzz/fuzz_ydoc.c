/* The motion file and the config are read through ydoc: any bytes must give
 * a tree or diagnostics, never a crash. */
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ydoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bt_diags d;
    struct bt_ydoc *doc = NULL;

    bt_diags_init(&d);
    if (bt_ydoc_load_mem("fuzz.yaml", (const char *)data, size, &doc, &d) == 0)
        bt_ydoc_free(doc);
    bt_diags_free(&d);
    return 0;
}
