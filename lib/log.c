#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static enum bt_log_level min_level = BT_LOG_INFO;
static int timestamps = 1;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void bt_log_set_level(enum bt_log_level level)
{
    min_level = level;
}

void bt_log_set_timestamps(int on)
{
    timestamps = on;
}

int bt_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

__attribute__((format(printf, 2, 0))) static void vlog(enum bt_log_level level, const char *fmt,
                                                       va_list ap)
{
    char line[4096];
    size_t n = 0;

    if (timestamps) {
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", level_names[level]);
    if (n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    /* Keep one event on one line whatever the message holds. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s\n", line);
}

void bt_log(enum bt_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void bt_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(BT_LOG_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}
