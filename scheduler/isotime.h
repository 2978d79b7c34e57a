/*
 * isotime.h - the date-time strings of campaign files and API answers
 * (a profile of ISO 8601 / RFC 3339).
 *
 * Accepted input:
 *   YYYY-MM-DD                         a date (date_only set; time 00:00:00)
 *   YYYY-MM-DDTHH:MM[:SS]              a local date-time (no offset)
 *   YYYY-MM-DDTHH:MM[:SS]Z             UTC
 *   YYYY-MM-DDTHH:MM[:SS]+HH:MM|-HH:MM an explicit offset
 * 'T' may also be a single space. Fractions of seconds are refused.
 * Years 1970-9999; every field range-checked (Feb 29 only in leap years).
 */
#ifndef HAECHI_ISOTIME_H
#define HAECHI_ISOTIME_H

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

typedef struct isotime {
    int64_t wall; /* the written civil time, as seconds as if UTC */
    int offset;   /* seconds east of UTC when has_offset */
    unsigned has_offset : 1;
    unsigned date_only : 1;
} isotime;

/* Returns 0, or -1 with a reason in err, e.g.
 * "\"2020-02-30\" is not a valid date: February 2020 has 29 days". */
int isotime_parse(const char *text, isotime *out, char *err, size_t errlen);

/* The instant of a parsed time: its own offset when it has one, else
 * ZONE's rules (a wall time in a DST gap maps to the end of the gap).
 * *kind, when not NULL, tells which case applied (TZ_WALL_EXACT when the
 * text had an offset). A NULL zone reads a local time as UTC. */
int64_t isotime_instant(const isotime *t, const tz *zone, tz_wall_kind *kind);

/* "2020-03-22T09:00:00+09:00" for instant t in ZONE (RFC 3339); UTC is
 * "+00:00", and an offset with seconds (old local mean time) is written as
 * UTC. A NULL zone means UTC. */
void isotime_format_rfc3339(int64_t t, const tz *zone, char *buf, size_t len);

/* "2020-03-22 09:00 KST (Sun)" for people. */
void isotime_format_human(int64_t t, const tz *zone, char *buf, size_t len);

/* "2026-11-27T09:51:50Z" for logs and audit records. */
void isotime_format_utc(int64_t t, char *buf, size_t len);

#endif
