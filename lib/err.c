#include "err.h"

static const char *const messages[] = {"success",
#define BT_ERR_MSG(name, msg) msg,
                                       BT_ERRORS(BT_ERR_MSG)
#undef BT_ERR_MSG
};

const char *bt_strerror(int err)
{
    unsigned idx = err <= 0 ? (unsigned)-err : 0u;

    if (err > 0 || idx >= sizeof(messages) / sizeof(messages[0]))
        return "unknown error";
    return messages[idx];
}
