/*
 * log.c - stderr logging.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static log_level threshold = LOG_INFO;

void log_set_level(log_level level)
{
    threshold = level;
}

void log_msg(log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char stamp[32], line[1024];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level < threshold)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000, names[level], line);
}
