/*
 * cron.h - five-field cron expressions as Vixie cron reads them
 * (minute hour day-of-month month day-of-week), evaluated in a time zone.
 *
 * Accepted: '*', numbers, ranges a-b, steps "*" + "/n", a-b/n and a/n (from a to
 * the field's end), comma lists, month names JAN-DEC and weekday names
 * SUN-SAT (any case), 7 as Sunday, and the macros @yearly @annually @monthly
 * @weekly @daily @midnight @hourly. When both day-of-month and day-of-week
 * are restricted (neither starts with '*'), a day matches if EITHER does.
 * A step larger than its field's span (60, 24, 31, 12, 8) is refused.
 * Text is at most 256 characters; macros are matched in any case.
 */
#ifndef HAECHI_CRON_H
#define HAECHI_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

typedef struct cron_expr {
    uint64_t minutes;       /* bit n: minute n, 0-59 */
    uint32_t hours;         /* bit n: hour n, 0-23 */
    uint32_t mdays;         /* bit n: day of month n, 1-31 */
    uint16_t months;        /* bit n: month n, 1-12 */
    uint8_t wdays;          /* bit n: weekday n, 0-6, 0 = Sunday */
    unsigned mday_star : 1; /* day-of-month field started with '*' */
    unsigned wday_star : 1; /* day-of-week field started with '*' */
} cron_expr;

/*
 * Parses TEXT. Returns 0, or -1 with a one-line reason in err that names the
 * field and the rule, e.g. "day-of-week 8 is out of range 0-7",
 * "expected 5 fields (minute hour day-of-month month day-of-week), got 6",
 * "minute step 0 must be at least 1", "hour range 20-3 runs backwards".
 */
int cron_parse(const char *text, cron_expr *out, char *err, size_t errlen);

/*
 * The first fire instant strictly after AFTER and not after LIMIT, with the
 * expression read as local time of ZONE. A local time that does not exist
 * (spring forward) fires once, at the first instant after the gap; a local
 * time that happens twice (fall back) fires once, at its first occurrence.
 * Returns 0 and sets *next, or -1 when nothing fires in (after, limit].
 * A day pattern that matches no day in a 400-year Gregorian cycle fails
 * fast whatever LIMIT is.
 */
int cron_next(const cron_expr *expr, const tz *zone, int64_t after, int64_t limit, int64_t *next);

#endif
