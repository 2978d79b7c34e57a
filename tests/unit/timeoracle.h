/*
 * timeoracle.h - reading and writing test times with libc (strptime,
 * timegm, gmtime_r), independently of tz.c and isotime.c, so that the time
 * tests do not lean on the code they test to read their own inputs.
 */
#ifndef HAECHI_TEST_TIMEORACLE_H
#define HAECHI_TEST_TIMEORACLE_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline int64_t oracle_parse(const char *text, const char *format)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, format, &tm);
    if (!end || *end)
        return INT64_MIN;
    return (int64_t)timegm(&tm);
}

/* "2021-03-14T07:00:00Z" as an instant. */
static inline int64_t utc(const char *text)
{
    return oracle_parse(text, "%Y-%m-%dT%H:%M:%SZ");
}

/* A wall time "YYYY-MM-DD HH:MM:SS" as seconds as if UTC. */
static inline int64_t wall(const char *text)
{
    return oracle_parse(text, "%Y-%m-%d %H:%M:%S");
}

static inline void utc_text(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "%" PRId64, t);
}

#endif
