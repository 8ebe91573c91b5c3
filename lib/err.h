/* err — Baton's error codes.
 *
 * Every fallible function returns 0 or one of these negative codes. The table
 * is an X-macro so the enum and bt_strerror() can never disagree. Details
 * (file, line, node path) travel separately, in a struct bt_diags. */
#ifndef BT_ERR_H
#define BT_ERR_H

#define BT_ERRORS(X)                                                       \
    X(BT_EINVAL, "invalid input")                                          \
    X(BT_ENOENT, "not found")                                              \
    X(BT_EIO, "input/output error")                                        \
    X(BT_EAUTH, "authentication failed")                                   \
    X(BT_ETOOBIG, "too large")                                             \
    X(BT_EDB, "database error")                                            \
    X(BT_EEXIST, "already exists")                                         \
    X(BT_EAGAIN, "try again")                                              \
    X(BT_ECANCELED, "canceled")                                            \
    X(BT_ESCHEMA, "database schema is not up to date")                     \
    X(BT_EFULL, "full")                                                    \
    X(BT_EUSAGE, "usage error")

enum bt_err {
    BT_OK = 0,
#define BT_ERR_ENUM(name, msg) name##_,
    BT_ERR_FIRST_ = 0,
    BT_ERRORS(BT_ERR_ENUM)
#undef BT_ERR_ENUM
};

/* Codes are the negated positions in the table: BT_EINVAL == -1, ... */
#define BT_ERR_CODE(name) (-(int)(name##_))
#define BT_EINVAL BT_ERR_CODE(BT_EINVAL)
#define BT_ENOENT BT_ERR_CODE(BT_ENOENT)
#define BT_EIO BT_ERR_CODE(BT_EIO)
#define BT_EAUTH BT_ERR_CODE(BT_EAUTH)
#define BT_ETOOBIG BT_ERR_CODE(BT_ETOOBIG)
#define BT_EDB BT_ERR_CODE(BT_EDB)
#define BT_EEXIST BT_ERR_CODE(BT_EEXIST)
#define BT_EAGAIN BT_ERR_CODE(BT_EAGAIN)
#define BT_ECANCELED BT_ERR_CODE(BT_ECANCELED)
#define BT_ESCHEMA BT_ERR_CODE(BT_ESCHEMA)
#define BT_EFULL BT_ERR_CODE(BT_EFULL)
#define BT_EUSAGE BT_ERR_CODE(BT_EUSAGE)

#define BT_MUST_CHECK __attribute__((warn_unused_result))

/* A static string for any code; never NULL, even for unknown codes. */
const char *bt_strerror(int err);

#endif
