/* log — one line per event on stderr (journald adds the time under systemd).
 *
 * Lines are capped at 4 KiB. Never pass a secret: values that may hold one
 * are never formatted into a message at all. Single-threaded; safe in callbacks. */
#ifndef BT_LOG_H
#define BT_LOG_H

enum bt_log_level { BT_LOG_DEBUG, BT_LOG_INFO, BT_LOG_WARN, BT_LOG_ERROR };

void bt_log_set_level(enum bt_log_level level);
/* Parses "debug", "info", "warn", "error"; -1 when unknown. */
int bt_log_level_parse(const char *s);
/* Prefix each line with an ISO-8601 UTC time (off under systemd). */
void bt_log_set_timestamps(int on);
void bt_log(enum bt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define bt_debug(...) bt_log(BT_LOG_DEBUG, __VA_ARGS__)
#define bt_info(...)  bt_log(BT_LOG_INFO, __VA_ARGS__)
#define bt_warn(...)  bt_log(BT_LOG_WARN, __VA_ARGS__)
#define bt_error(...) bt_log(BT_LOG_ERROR, __VA_ARGS__)

/* For start-up and impossible states only: logs and exits(1). */
void bt_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
