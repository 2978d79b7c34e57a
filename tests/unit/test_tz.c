/*
 * test_tz.c - tz.h: offsets and abbreviations around real transitions
 * (explicit TZif data and footer rules), wall-to-instant in all three
 * cases, the calendar helpers, zone-name validation, and TZif files that
 * are synthesized, corrupted or hostile, read through $TZDIR.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tz.h"

/* libc's timegm reads the test inputs, independently of tz.c. */
static int64_t utc(const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return INT64_MIN;
    return (int64_t)timegm(&tm);
}

/* A wall time "YYYY-MM-DD HH:MM:SS" as seconds as if UTC. */
static int64_t wall(const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, "%Y-%m-%d %H:%M:%S", &tm);
    if (!end || *end)
        return INT64_MIN;
    return (int64_t)timegm(&tm);
}

static void utc_text(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "%" PRId64, t);
}

static const char *zoneinfo_dir(void)
{
    const char *dir = getenv("TZDIR");
    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

/* ---- offsets ------------------------------------------------------------ */

struct offset_row {
    const char *zone, *at;
    int offset;
    const char *abbr;
};

static const struct offset_row offset_rows[] = {
    /* New York 2021: EST -> EDT at 07:00Z on Mar 14, back at 06:00Z on Nov 7 */
    {"America/New_York", "2021-03-14T06:59:59Z", -18000, "EST"},
    {"America/New_York", "2021-03-14T07:00:00Z", -14400, "EDT"},
    {"America/New_York", "2021-11-07T05:59:59Z", -14400, "EDT"},
    {"America/New_York", "2021-11-07T06:00:00Z", -18000, "EST"},
    {"America/New_York", "1970-01-01T00:00:00Z", -18000, "EST"},
    /* before the first transition: type 0, local mean time */
    {"America/New_York", "1800-01-01T00:00:00Z", -17762, "LMT"},
    /* past 2037, where only the footer "EST5EDT,M3.2.0,M11.1.0" speaks */
    {"America/New_York", "2100-03-14T06:59:59Z", -18000, "EST"},
    {"America/New_York", "2100-03-14T07:00:00Z", -14400, "EDT"},
    {"America/New_York", "2100-11-07T05:59:59Z", -14400, "EDT"},
    {"America/New_York", "2100-11-07T06:00:00Z", -18000, "EST"},
    {"America/New_York", "2300-07-01T00:00:00Z", -14400, "EDT"},
    {"America/New_York", "2300-12-01T00:00:00Z", -18000, "EST"},
    /* Berlin 2021 and 2100: CET <-> CEST at 01:00Z on the last Sundays */
    {"Europe/Berlin", "2021-03-28T00:59:59Z", 3600, "CET"},
    {"Europe/Berlin", "2021-03-28T01:00:00Z", 7200, "CEST"},
    {"Europe/Berlin", "2021-10-31T00:59:59Z", 7200, "CEST"},
    {"Europe/Berlin", "2021-10-31T01:00:00Z", 3600, "CET"},
    {"Europe/Berlin", "2100-03-28T00:59:59Z", 3600, "CET"},
    {"Europe/Berlin", "2100-03-28T01:00:00Z", 7200, "CEST"},
    {"Europe/Berlin", "2100-10-31T00:59:59Z", 7200, "CEST"},
    {"Europe/Berlin", "2100-10-31T01:00:00Z", 3600, "CET"},
    {"Europe/Berlin", "1945-06-01T00:00:00Z", 10800, "CEMT"},
    /* Seoul: Korean DST of 1987 and 1988, then KST only ("KST-9") */
    {"Asia/Seoul", "1987-05-09T16:59:59Z", 32400, "KST"},
    {"Asia/Seoul", "1987-05-09T17:00:00Z", 36000, "KDT"},
    {"Asia/Seoul", "1987-10-10T16:59:59Z", 36000, "KDT"},
    {"Asia/Seoul", "1987-10-10T17:00:00Z", 32400, "KST"},
    {"Asia/Seoul", "1988-05-07T16:59:59Z", 32400, "KST"},
    {"Asia/Seoul", "1988-05-07T17:00:00Z", 36000, "KDT"},
    {"Asia/Seoul", "1988-10-08T16:59:59Z", 36000, "KDT"},
    {"Asia/Seoul", "1988-10-08T17:00:00Z", 32400, "KST"},
    {"Asia/Seoul", "2020-03-22T00:00:00Z", 32400, "KST"},
    {"Asia/Seoul", "2100-06-01T00:00:00Z", 32400, "KST"},
    {"Asia/Seoul", "1900-01-01T00:00:00Z", 30472, "LMT"},
    /* no transitions at all */
    {"UTC", "2021-06-01T00:00:00Z", 0, "UTC"},
    {"UTC", "1900-01-01T00:00:00Z", 0, "UTC"},
    {"Etc/UTC", "2500-01-01T00:00:00Z", 0, "UTC"},
    /* half hours, southern summers, numeric abbreviations */
    {"Asia/Kolkata", "2021-01-01T00:00:00Z", 19800, "IST"},
    {"America/St_Johns", "2021-01-01T00:00:00Z", -12600, "NST"},
    {"America/St_Johns", "2021-07-01T00:00:00Z", -9000, "NDT"},
    {"Australia/Sydney", "2021-01-01T00:00:00Z", 39600, "AEDT"},
    {"Australia/Sydney", "2021-07-01T00:00:00Z", 36000, "AEST"},
    {"Asia/Tehran", "2021-01-01T00:00:00Z", 12600, "+0330"},
    /* Nuuk's footer has a negative rule time: "M3.5.0/-1" */
    {"America/Nuuk", "2030-03-31T00:59:59Z", -7200, "-02"},
    {"America/Nuuk", "2030-03-31T01:00:00Z", -3600, "-01"},
    {"America/Nuuk", "2030-10-27T00:59:59Z", -3600, "-01"},
    {"America/Nuuk", "2030-10-27T01:00:00Z", -7200, "-02"},
};

static void offset_table(void)
{
    for (size_t i = 0; i < sizeof offset_rows / sizeof offset_rows[0]; i++) {
        const struct offset_row *r = &offset_rows[i];
        char name[128], why[512] = "", err[256];
        snprintf(name, sizeof name, "offset %s at %s", r->zone, r->at);
        const tz *zone = tz_get(r->zone, err, sizeof err);
        if (!zone) {
            snprintf(why, sizeof why, "zone: %s", err);
        } else {
            const char *abbr = NULL;
            int off = tz_offset_at(zone, utc(r->at), &abbr);
            if (off != r->offset || !abbr || strcmp(abbr, r->abbr) != 0)
                snprintf(why, sizeof why, "got %d %s, want %d %s", off, abbr ? abbr : "(null)",
                         r->offset, r->abbr);
        }
        check_row(name, why[0] == '\0', why);
    }
}

/* ---- wall to instant ---------------------------------------------------- */

struct wall_row {
    const char *zone, *wall;
    tz_wall_kind kind;
    const char *instant;
};

static const struct wall_row wall_rows[] = {
    /* New York spring forward: walls [02:00, 03:00) do not exist */
    {"America/New_York", "2021-03-14 01:59:59", TZ_WALL_EXACT, "2021-03-14T06:59:59Z"},
    {"America/New_York", "2021-03-14 02:00:00", TZ_WALL_GAP, "2021-03-14T07:00:00Z"},
    {"America/New_York", "2021-03-14 02:30:00", TZ_WALL_GAP, "2021-03-14T07:00:00Z"},
    {"America/New_York", "2021-03-14 02:59:59", TZ_WALL_GAP, "2021-03-14T07:00:00Z"},
    {"America/New_York", "2021-03-14 03:00:00", TZ_WALL_EXACT, "2021-03-14T07:00:00Z"},
    /* New York fall back: walls [01:00, 02:00) happen twice */
    {"America/New_York", "2021-11-07 00:59:59", TZ_WALL_EXACT, "2021-11-07T04:59:59Z"},
    {"America/New_York", "2021-11-07 01:00:00", TZ_WALL_AMBIGUOUS, "2021-11-07T05:00:00Z"},
    {"America/New_York", "2021-11-07 01:30:00", TZ_WALL_AMBIGUOUS, "2021-11-07T05:30:00Z"},
    {"America/New_York", "2021-11-07 01:59:59", TZ_WALL_AMBIGUOUS, "2021-11-07T05:59:59Z"},
    {"America/New_York", "2021-11-07 02:00:00", TZ_WALL_EXACT, "2021-11-07T07:00:00Z"},
    {"America/New_York", "2021-06-01 12:00:00", TZ_WALL_EXACT, "2021-06-01T16:00:00Z"},
    {"America/New_York", "2100-03-14 02:30:00", TZ_WALL_GAP, "2100-03-14T07:00:00Z"},
    {"America/New_York", "2100-11-07 01:30:00", TZ_WALL_AMBIGUOUS, "2100-11-07T05:30:00Z"},
    /* Berlin */
    {"Europe/Berlin", "2021-03-28 02:30:00", TZ_WALL_GAP, "2021-03-28T01:00:00Z"},
    {"Europe/Berlin", "2021-03-28 03:00:00", TZ_WALL_EXACT, "2021-03-28T01:00:00Z"},
    {"Europe/Berlin", "2021-10-31 02:30:00", TZ_WALL_AMBIGUOUS, "2021-10-31T00:30:00Z"},
    {"Europe/Berlin", "2021-10-31 03:00:00", TZ_WALL_EXACT, "2021-10-31T02:00:00Z"},
    /* Seoul 1988 and today */
    {"Asia/Seoul", "1988-05-08 02:30:00", TZ_WALL_GAP, "1988-05-07T17:00:00Z"},
    {"Asia/Seoul", "1988-10-09 02:30:00", TZ_WALL_AMBIGUOUS, "1988-10-08T16:30:00Z"},
    {"Asia/Seoul", "2020-03-22 09:00:00", TZ_WALL_EXACT, "2020-03-22T00:00:00Z"},
    {"UTC", "2021-01-01 00:00:00", TZ_WALL_EXACT, "2021-01-01T00:00:00Z"},
    /* Lord Howe moves its clocks by half an hour */
    {"Australia/Lord_Howe", "2021-10-03 02:15:00", TZ_WALL_GAP, "2021-10-02T15:30:00Z"},
    {"Australia/Lord_Howe", "2021-04-04 01:45:00", TZ_WALL_AMBIGUOUS, "2021-04-03T14:45:00Z"},
};

static const char *kind_name(tz_wall_kind k)
{
    return k == TZ_WALL_EXACT ? "exact" : k == TZ_WALL_AMBIGUOUS ? "ambiguous" : "gap";
}

static void wall_table(void)
{
    for (size_t i = 0; i < sizeof wall_rows / sizeof wall_rows[0]; i++) {
        const struct wall_row *r = &wall_rows[i];
        char name[128], why[512] = "", err[256], got[40];
        snprintf(name, sizeof name, "wall %s %s", r->zone, r->wall);
        const tz *zone = tz_get(r->zone, err, sizeof err);
        int64_t at = 0;
        if (!zone) {
            snprintf(why, sizeof why, "zone: %s", err);
        } else {
            tz_wall_kind k = tz_wall_to_instant(zone, wall(r->wall), &at);
            utc_text(at, got, sizeof got);
            if (k != r->kind || strcmp(got, r->instant) != 0)
                snprintf(why, sizeof why, "got %s %s, want %s %s", kind_name(k), got,
                         kind_name(r->kind), r->instant);
        }
        check_row(name, why[0] == '\0', why);
    }
}

/* ---- civil time and calendar --------------------------------------------- */

static void civil_times(void)
{
    char err[256];
    const tz *ny = tz_get("America/New_York", err, sizeof err);
    const tz *seoul = tz_get("Asia/Seoul", err, sizeof err);
    const tz *u = tz_get("UTC", err, sizeof err);
    CHECK(ny && seoul && u);
    if (!ny || !seoul || !u)
        return;
    tz_civil c;
    tz_to_civil(seoul, utc("2020-03-22T00:00:00Z"), &c);
    CHECK_INT(c.year, 2020);
    CHECK_INT(c.month, 3);
    CHECK_INT(c.mday, 22);
    CHECK_INT(c.hour, 9);
    CHECK_INT(c.minute, 0);
    CHECK_INT(c.wday, 0);
    /* Both 01:30s of the fall-back night. */
    tz_to_civil(ny, utc("2021-11-07T05:30:00Z"), &c);
    CHECK_INT(c.hour, 1);
    CHECK_INT(c.minute, 30);
    tz_to_civil(ny, utc("2021-11-07T06:30:00Z"), &c);
    CHECK_INT(c.hour, 1);
    CHECK_INT(c.minute, 30);
    CHECK_INT(c.wday, 0);
    tz_to_civil(u, -1, &c);
    CHECK_INT(c.year, 1969);
    CHECK_INT(c.month, 12);
    CHECK_INT(c.mday, 31);
    CHECK_INT(c.hour, 23);
    CHECK_INT(c.minute, 59);
    CHECK_INT(c.second, 59);
    CHECK_INT(c.wday, 3);
    /* Absurd instants are clamped, not overflowed. */
    tz_to_civil(ny, INT64_MAX, &c);
    CHECK(c.year > 100000);
    tz_to_civil(ny, INT64_MIN, &c);
    CHECK(c.year < -100000);
    int64_t at;
    tz_wall_to_instant(ny, INT64_MAX, &at);
    tz_wall_to_instant(ny, INT64_MIN, &at);
    CHECK_STR(tz_name(ny), "America/New_York");
}

static void calendar(void)
{
    CHECK_INT(tz_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(tz_days_from_civil(1969, 12, 31), -1);
    CHECK_INT(tz_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT(tz_days_from_civil(2024, 2, 29), 19782);
    CHECK_INT(tz_days_from_civil(1, 1, 1), -719162);
    /* Months and days outside their ranges carry. */
    CHECK_INT(tz_days_from_civil(2021, 13, 1), tz_days_from_civil(2022, 1, 1));
    CHECK_INT(tz_days_from_civil(2021, 0, 1), tz_days_from_civil(2020, 12, 1));
    CHECK_INT(tz_days_from_civil(2021, 3, 0), tz_days_from_civil(2021, 2, 28));
    CHECK_INT(tz_days_in_month(2000, 2), 29);
    CHECK_INT(tz_days_in_month(1900, 2), 28);
    CHECK_INT(tz_days_in_month(2024, 2), 29);
    CHECK_INT(tz_days_in_month(2100, 2), 28);
    CHECK_INT(tz_days_in_month(2021, 4), 30);
    CHECK_INT(tz_days_in_month(2021, 12), 31);
    CHECK_INT(tz_days_in_month(2021, 13), 0);
    CHECK_INT(tz_days_in_month(2021, 0), 0);
    /* Round trip, against timegm for the day count. */
    for (int64_t d = -800000; d <= 800000; d += 997) {
        int y, m, md;
        tz_civil_from_days(d, &y, &m, &md);
        if (tz_days_from_civil(y, m, md) != d || md < 1 || md > tz_days_in_month(y, m)) {
            check_fail(__FILE__, __LINE__, "day %" PRId64 " -> %d-%d-%d", d, y, m, md);
            break;
        }
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = md};
        if ((int64_t)timegm(&tm) != d * 86400) {
            check_fail(__FILE__, __LINE__, "day %" PRId64 " disagrees with timegm", d);
            break;
        }
    }
}

/* ---- names -------------------------------------------------------------- */

struct name_row {
    const char *name, *want, *after_dir; /* want + zoneinfo dir + after_dir */
};

static const struct name_row name_rows[] = {
    {"", "time zone name is empty"},
    {"../etc/passwd", "invalid time zone name \"../etc/passwd\": only letters, digits, '_', "
                      "'-', '+' and '/' are allowed"},
    {"/etc/passwd", "invalid time zone name \"/etc/passwd\": it must be a relative name such "
                    "as \"Asia/Seoul\""},
    {"Asia//Seoul", "invalid time zone name \"Asia//Seoul\": it must be a relative name such "
                    "as \"Asia/Seoul\""},
    {"Asia/Seoul/", "invalid time zone name \"Asia/Seoul/\": it must be a relative name such "
                    "as \"Asia/Seoul\""},
    {"Asia/Seoul\n", "invalid time zone name \"Asia/Seoul?\": only letters, digits, '_', '-', "
                     "'+' and '/' are allowed"},
    {"zone1970.tab", "invalid time zone name \"zone1970.tab\": only letters, digits, '_', "
                     "'-', '+' and '/' are allowed"},
    {"Asia/Se oul", "invalid time zone name \"Asia/Se oul\": only letters, digits, '_', '-', "
                    "'+' and '/' are allowed"},
    {"Nope/Zone", "unknown time zone \"Nope/Zone\" (no such zone in ", ")"},
    {"Asia/Seol", "unknown time zone \"Asia/Seol\" (no such zone in ", ")"},
    {"Asia/Seoul/X", "unknown time zone \"Asia/Seoul/X\" (no such zone in ", ")"},
    {"Asia", "unknown time zone \"Asia\" (a directory of zones in ", ", not a zone)"},
};

static void name_table(void)
{
    for (size_t i = 0; i < sizeof name_rows / sizeof name_rows[0]; i++) {
        const struct name_row *r = &name_rows[i];
        char name[128], why[700] = "", err[256] = "", want[256];
        snprintf(name, sizeof name, "bad name \"%.40s\"", r->name);
        for (char *p = name; *p; p++)
            if (*p == '\n')
                *p = '?';
        snprintf(want, sizeof want, "%s%s%s", r->want, r->after_dir ? zoneinfo_dir() : "",
                 r->after_dir ? r->after_dir : "");
        const tz *zone = tz_get(r->name, err, sizeof err);
        if (zone)
            snprintf(why, sizeof why, "accepted, want \"%s\"", want);
        else if (strcmp(err, want) != 0)
            snprintf(why, sizeof why, "error \"%s\", want \"%s\"", err, want);
        check_row(name, why[0] == '\0', why);
    }
}

static void names_misc(void)
{
    char err[256];
    CHECK(tz_get(NULL, err, sizeof err) == NULL);
    CHECK_STR(err, "time zone name is empty");
    char longname[200];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(tz_get(longname, err, sizeof err) == NULL);
    CHECK(strstr(err, "is longer than 128 characters") != NULL);
    /* Cached: the same zone comes back. */
    const tz *a = tz_get("Asia/Seoul", err, sizeof err);
    const tz *b = tz_get("Asia/Seoul", NULL, 0);
    CHECK(a != NULL);
    CHECK(a == b);
    /* "right/" zones count leap seconds, which instants here do not. */
    struct stat st;
    char path[512];
    snprintf(path, sizeof path, "%s/right/UTC", zoneinfo_dir());
    if (stat(path, &st) == 0) {
        CHECK(tz_get("right/UTC", err, sizeof err) == NULL);
        CHECK(strstr(err, "leap seconds") != NULL);
    }
}
