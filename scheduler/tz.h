/*
 * tz.h - IANA time zones read from the system's tzdata (TZif files, RFC 8536),
 * without touching the process-global TZ/localtime state.
 *
 * Instants are int64 seconds since the Unix epoch (UTC). A "wall" time is the
 * local civil time of a zone expressed the same way, as if that zone were UTC:
 * wall = instant + utc_offset(instant).
 */
#ifndef HAECHI_TZ_H
#define HAECHI_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct tz tz;

/* Broken-down civil time. month 1-12, mday 1-31, wday 0 = Sunday. */
typedef struct tz_civil {
    int year, month, mday, hour, minute, second, wday;
} tz_civil;

typedef enum tz_wall_kind {
    TZ_WALL_EXACT,     /* the wall time happens exactly once */
    TZ_WALL_AMBIGUOUS, /* twice (clocks fall back): the earlier instant is returned */
    TZ_WALL_GAP        /* never (clocks spring forward): the first instant after the gap */
} tz_wall_kind;

/*
 * Returns the zone NAME (e.g. "Asia/Seoul", "UTC"), loaded once and cached for
 * the life of the process; callers never free it. Names that are not plain
 * relative paths of letters, digits, '_', '-', '+' and '/' are refused.
 * On failure returns NULL and writes a one-line reason into err.
 * The tzdata directory is $TZDIR when set, else /usr/share/zoneinfo; the
 * cache is keyed by name and directory. Zones with leap-second tables
 * ("right/...") are refused, as instants here are POSIX seconds.
 */
const tz *tz_get(const char *name, char *err, size_t errlen);

const char *tz_name(const tz *zone);

/* A zone read from the LEN bytes of a TZif file at BUF, outside the cache:
 * for tools and tests that have the bytes. The caller frees it with
 * tz_free(). NULL with a one-line reason in err when BUF is not usable. */
tz *tz_from_tzif(const unsigned char *buf, size_t len, const char *name, char *err, size_t errlen);
void tz_free(tz *zone);

/* Calls FN with each zone name tzdata lists (zone.tab), then "UTC": for
 * suggesting a name when one is not known. */
void tz_each_name(void (*fn)(const char *name, void *arg), void *arg);

/* UTC offset in seconds in force at instant t; *abbrev (may be NULL) gets
 * the abbreviation such as "KST" or "CEST", valid for the zone's life. */
int tz_offset_at(const tz *zone, int64_t t, const char **abbrev);

/* Local civil time of instant t. */
void tz_to_civil(const tz *zone, int64_t t, tz_civil *out);

/* The instant of a wall time, and which of the three cases it is.
 * Instants and wall times are clamped to about +-1 million years. */
tz_wall_kind tz_wall_to_instant(const tz *zone, int64_t wall, int64_t *instant);

/* Calendar arithmetic on the proleptic Gregorian calendar.
 * tz_days_from_civil carries months outside 1-12 into the year and counts
 * any mday on from the 1st (2021-13-01 is 2022-01-01, 2021-03-00 is
 * 2021-02-28). tz_days_in_month returns 0 for a month outside 1-12. */
int64_t tz_days_from_civil(int year, int month, int mday);
void tz_civil_from_days(int64_t days, int *year, int *month, int *mday);
int tz_days_in_month(int year, int month);

/* A / B rounded towards minus infinity (B != 0), for days and weeks of
 * instants before the epoch. */
int64_t tz_floor_div(int64_t a, int64_t b);

/* T clamped to about +-1 million years, so that T plus any UTC offset or a
 * few days of arithmetic cannot overflow. */
int64_t tz_clamp(int64_t t);

#endif
