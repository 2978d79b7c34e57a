/*
 * test_isotime.c - isotime.h: the accepted shapes, every range check with
 * its exact message, instants in zones (gap, repeat, explicit offset) and
 * the three output formats.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "timeoracle.h"
#include "isotime.h"

struct parse_row {
    const char *text, *wall;
    int offset, has_offset, date_only;
};

static const struct parse_row parse_rows[] = {
    {"2020-03-22", "2020-03-22 00:00:00", 0, 0, 1},
    {"2020-03-22T09:00", "2020-03-22 09:00:00", 0, 0, 0},
    {"2020-03-22T09:00:15", "2020-03-22 09:00:15", 0, 0, 0},
    {"2020-03-22 09:00", "2020-03-22 09:00:00", 0, 0, 0},
    {"2020-03-22T09:00Z", "2020-03-22 09:00:00", 0, 1, 0},
    {"2020-03-22T09:00:00+09:00", "2020-03-22 09:00:00", 32400, 1, 0},
    {"2020-03-22T09:00:00-04:30", "2020-03-22 09:00:00", -16200, 1, 0},
    {"2020-03-22T09:00-14:00", "2020-03-22 09:00:00", -50400, 1, 0},
    {"2020-03-22T09:00:00-00:00", "2020-03-22 09:00:00", 0, 1, 0},
    {"2020-03-22t09:00:00z", "2020-03-22 09:00:00", 0, 1, 0},
    {"2024-02-29", "2024-02-29 00:00:00", 0, 0, 1},
    {"2000-02-29T23:59:59", "2000-02-29 23:59:59", 0, 0, 0},
    {"1970-01-01T00:00:00Z", "1970-01-01 00:00:00", 0, 1, 0},
    {"9999-12-31T23:59:59+14:00", "9999-12-31 23:59:59", 50400, 1, 0},
};

static void parse_table(void)
{
    for (size_t i = 0; i < sizeof parse_rows / sizeof parse_rows[0]; i++) {
        const struct parse_row *r = &parse_rows[i];
        char name[128], why[512] = "", err[256];
        isotime t;
        snprintf(name, sizeof name, "parse \"%s\"", r->text);
        if (isotime_parse(r->text, &t, err, sizeof err) != 0)
            snprintf(why, sizeof why, "refused: %s", err);
        else if (t.wall != wall(r->wall) || t.offset != r->offset ||
                 (int)t.has_offset != r->has_offset || (int)t.date_only != r->date_only)
            snprintf(why, sizeof why, "got wall %" PRId64 " offset %d has %u date %u", t.wall,
                     t.offset, (unsigned)t.has_offset, (unsigned)t.date_only);
        check_row(name, why[0] == '\0', why);
    }
}

#define SHAPE                                                                                      \
    "is not a date-time: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] with an "                    \
    "optional Z or +HH:MM offset"

struct error_row {
    const char *text, *want;
};

static const struct error_row error_rows[] = {
    {"", "date-time is empty"},
    {"22/03/2020", "\"22/03/2020\" " SHAPE},
    {"2020-3-22", "\"2020-3-22\" " SHAPE},
    {"2020-03-22T9:00", "\"2020-03-22T9:00\" " SHAPE},
    {"2020-03-22T09", "\"2020-03-22T09\" " SHAPE},
    {"2020-03-22T09:00:00+0900", "\"2020-03-22T09:00:00+0900\" " SHAPE},
    {"2020-03-22T09:00:00+09", "\"2020-03-22T09:00:00+09\" " SHAPE},
    {"2020-03-22Z", "\"2020-03-22Z\" " SHAPE},
    {"2020-03-22T09:00:00 ", "\"2020-03-22T09:00:00 \" " SHAPE},
    {" 2020-03-22", "\" 2020-03-22\" " SHAPE},
    {"2020-03-22_09:00", "\"2020-03-22_09:00\" " SHAPE},
    {"20200322T0900", "\"20200322T0900\" " SHAPE},
    {"2020-03-22\x01", "\"2020-03-22?\" " SHAPE},
    {"\"2020\"", "\"?2020?\" " SHAPE},
    {"2020-03-22T09:00:00Z and a great deal more text",
     "\"2020-03-22T09:00:00Z and a great deal mo...\" " SHAPE},
    {"2020-03-22T09:00:00.5Z", "\"2020-03-22T09:00:00.5Z\" has a fraction of a second, "
                               "which is not accepted"},
    {"2020-02-30", "\"2020-02-30\" is not a valid date: February 2020 has 29 days"},
    {"2021-02-29", "\"2021-02-29\" is not a valid date: February 2021 has 28 days"},
    {"2100-02-29", "\"2100-02-29\" is not a valid date: February 2100 has 28 days"},
    {"2020-04-31T10:00", "\"2020-04-31T10:00\" is not a valid date: April 2020 has 30 days"},
    {"2020-13-01", "\"2020-13-01\" has month 13, out of range 1-12"},
    {"2020-00-10", "\"2020-00-10\" has month 0, out of range 1-12"},
    {"2020-01-00", "\"2020-01-00\" has day 0, out of range 1-31"},
    {"2020-01-32", "\"2020-01-32\" has day 32, out of range 1-31"},
    {"1969-12-31", "\"1969-12-31\" has year 1969, out of range 1970-9999"},
    {"0000-01-01", "\"0000-01-01\" has year 0, out of range 1970-9999"},
    {"2020-03-22T25:00", "\"2020-03-22T25:00\" has hour 25, out of range 0-23"},
    {"2020-03-22T24:00", "\"2020-03-22T24:00\" has hour 24, out of range 0-23"},
    {"2020-03-22T09:60", "\"2020-03-22T09:60\" has minute 60, out of range 0-59"},
    {"2020-03-22T09:00:60Z", "\"2020-03-22T09:00:60Z\" has second 60, out of range 0-59"},
    {"2020-03-22T09:00+14:30", "\"2020-03-22T09:00+14:30\" has offset +14:30, out of range "
                               "-14:00 to +14:00"},
    {"2020-03-22T09:00-15:00", "\"2020-03-22T09:00-15:00\" has offset -15:00, out of range "
                               "-14:00 to +14:00"},
    {"2020-03-22T09:00+05:60", "\"2020-03-22T09:00+05:60\" has offset minute 60, out of "
                               "range 0-59"},
};

static void error_table(void)
{
    for (size_t i = 0; i < sizeof error_rows / sizeof error_rows[0]; i++) {
        const struct error_row *r = &error_rows[i];
        char name[128], why[700] = "", err[256] = "";
        isotime t;
        snprintf(name, sizeof name, "parse error \"%.40s\"", r->text);
        for (char *p = name; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = '?';
        if (isotime_parse(r->text, &t, err, sizeof err) == 0)
            snprintf(why, sizeof why, "accepted, want \"%s\"", r->want);
        else if (strcmp(err, r->want) != 0)
            snprintf(why, sizeof why, "error \"%s\", want \"%s\"", err, r->want);
        check_row(name, why[0] == '\0', why);
    }
}

static void parse_edges(void)
{
    char err[256];
    isotime t;
    CHECK_INT(isotime_parse(NULL, &t, err, sizeof err), -1);
    CHECK_STR(err, "date-time is empty");
    /* A short error buffer is cut, not overrun. */
    char small[6];
    CHECK_INT(isotime_parse("2020-13-01", &t, small, sizeof small), -1);
    CHECK_STR(small, "\"2020");
    CHECK_INT(isotime_parse("2020-13-01", &t, NULL, 0), -1);
}

struct instant_row {
    const char *text, *zone;
    tz_wall_kind kind;
    const char *want;
};

static const struct instant_row instant_rows[] = {
    {"2020-03-22T09:00", "Asia/Seoul", TZ_WALL_EXACT, "2020-03-22T00:00:00Z"},
    {"2020-03-22", "Asia/Seoul", TZ_WALL_EXACT, "2020-03-21T15:00:00Z"},
    {"2021-03-14T02:30", "America/New_York", TZ_WALL_GAP, "2021-03-14T07:00:00Z"},
    {"2021-11-07T01:30", "America/New_York", TZ_WALL_AMBIGUOUS, "2021-11-07T05:30:00Z"},
    /* An explicit offset picks the second 01:30 and ignores the zone. */
    {"2021-11-07T01:30-05:00", "America/New_York", TZ_WALL_EXACT, "2021-11-07T06:30:00Z"},
    {"2021-03-14T02:30Z", "America/New_York", TZ_WALL_EXACT, "2021-03-14T02:30:00Z"},
    {"2021-10-31T02:30", "Europe/Berlin", TZ_WALL_AMBIGUOUS, "2021-10-31T00:30:00Z"},
    {"2021-03-28T02:30:00", "Europe/Berlin", TZ_WALL_GAP, "2021-03-28T01:00:00Z"},
    {"2021-06-01T12:00", "UTC", TZ_WALL_EXACT, "2021-06-01T12:00:00Z"},
};

static void instant_table(void)
{
    for (size_t i = 0; i < sizeof instant_rows / sizeof instant_rows[0]; i++) {
        const struct instant_row *r = &instant_rows[i];
        char name[128], why[512] = "", err[256];
        snprintf(name, sizeof name, "instant \"%s\" in %s", r->text, r->zone);
        isotime t;
        const tz *zone = tz_get(r->zone, err, sizeof err);
        if (!zone) {
            snprintf(why, sizeof why, "zone: %s", err);
        } else if (isotime_parse(r->text, &t, err, sizeof err) != 0) {
            snprintf(why, sizeof why, "parse: %s", err);
        } else {
            tz_wall_kind k = (tz_wall_kind)-1;
            int64_t at = isotime_instant(&t, zone, &k);
            if (at != utc(r->want) || k != r->kind)
                snprintf(why, sizeof why, "got %" PRId64 " kind %d, want %s kind %d", at, (int)k,
                         r->want, (int)r->kind);
        }
        check_row(name, why[0] == '\0', why);
    }
}

static void instant_without_zone(void)
{
    char err[256];
    isotime t;
    CHECK_INT(isotime_parse("2021-06-01T12:00", &t, err, sizeof err), 0);
    CHECK_INT(isotime_instant(&t, NULL, NULL), utc("2021-06-01T12:00:00Z"));
}

struct format_row {
    const char *zone, *at, *rfc3339, *human;
};

static const struct format_row format_rows[] = {
    {"Asia/Seoul", "2020-03-22T00:00:00Z", "2020-03-22T09:00:00+09:00",
     "2020-03-22 09:00 KST (Sun)"},
    {"UTC", "2021-06-01T00:00:00Z", "2021-06-01T00:00:00+00:00", "2021-06-01 00:00 UTC (Tue)"},
    {"America/New_York", "2021-11-07T05:30:00Z", "2021-11-07T01:30:00-04:00",
     "2021-11-07 01:30 EDT (Sun)"},
    {"America/New_York", "2021-11-07T06:30:00Z", "2021-11-07T01:30:00-05:00",
     "2021-11-07 01:30 EST (Sun)"},
    {"America/New_York", "2100-07-04T16:00:00Z", "2100-07-04T12:00:00-04:00",
     "2100-07-04 12:00 EDT (Sun)"},
    {"Europe/Berlin", "2021-12-31T23:00:00Z", "2022-01-01T00:00:00+01:00",
     "2022-01-01 00:00 CET (Sat)"},
    {"Asia/Kolkata", "2021-01-01T00:00:00Z", "2021-01-01T05:30:00+05:30",
     "2021-01-01 05:30 IST (Fri)"},
    {"America/St_Johns", "2021-01-01T00:00:00Z", "2020-12-31T20:30:00-03:30",
     "2020-12-31 20:30 NST (Thu)"},
    {"Asia/Tehran", "2021-01-01T00:00:00Z", "2021-01-01T03:30:00+03:30",
     "2021-01-01 03:30 +0330 (Fri)"},
    /* Local mean time has seconds in its offset; RFC 3339 cannot say so. */
    {"America/New_York", "1800-01-01T00:00:00Z", "1800-01-01T00:00:00+00:00",
     "1799-12-31 19:03 LMT (Tue)"},
};

static void format_table(void)
{
    for (size_t i = 0; i < sizeof format_rows / sizeof format_rows[0]; i++) {
        const struct format_row *r = &format_rows[i];
        char name[128], why[512] = "", err[256], rfc[64], human[64];
        snprintf(name, sizeof name, "format %s at %s", r->zone, r->at);
        const tz *zone = tz_get(r->zone, err, sizeof err);
        if (!zone) {
            snprintf(why, sizeof why, "zone: %s", err);
        } else {
            isotime_format_rfc3339(utc(r->at), zone, rfc, sizeof rfc);
            isotime_format_human(utc(r->at), zone, human, sizeof human);
            if (strcmp(rfc, r->rfc3339) != 0 || strcmp(human, r->human) != 0)
                snprintf(why, sizeof why, "got \"%s\" \"%s\"", rfc, human);
        }
        check_row(name, why[0] == '\0', why);
    }
}

static void format_utc(void)
{
    char buf[64];
    isotime_format_utc(0, buf, sizeof buf);
    CHECK_STR(buf, "1970-01-01T00:00:00Z");
    isotime_format_utc(-1, buf, sizeof buf);
    CHECK_STR(buf, "1969-12-31T23:59:59Z");
    isotime_format_utc(utc("2026-11-27T09:51:50Z"), buf, sizeof buf);
    CHECK_STR(buf, "2026-11-27T09:51:50Z");
    isotime_format_utc(utc("2024-02-29T23:59:59Z"), buf, sizeof buf);
    CHECK_STR(buf, "2024-02-29T23:59:59Z");
    /* Short buffers are cut and terminated; empty ones untouched. */
    isotime_format_utc(0, buf, 5);
    CHECK_STR(buf, "1970");
    buf[0] = 'x';
    isotime_format_utc(0, buf, 0);
    CHECK(buf[0] == 'x');
    isotime_format_rfc3339(0, NULL, buf, sizeof buf);
    CHECK_STR(buf, "1970-01-01T00:00:00+00:00");
    isotime_format_human(0, NULL, buf, sizeof buf);
    CHECK_STR(buf, "1970-01-01T00:00:00Z");
    /* Absurd instants do not overflow. */
    isotime_format_utc(INT64_MAX, buf, sizeof buf);
    isotime_format_utc(INT64_MIN, buf, sizeof buf);
    CHECK(strlen(buf) > 0);
}

/* What rfc3339 writes, parse reads back to the same instant. */
static void round_trip(void)
{
    static const char *const zones[] = {"America/New_York", "Europe/Berlin", "Asia/Seoul",
                                        "Australia/Lord_Howe", "UTC"};
    char err[256], buf[64];
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        const tz *zone = tz_get(zones[z], err, sizeof err);
        CHECK(zone != NULL);
        if (!zone)
            continue;
        /* From 1970-01-02: the parser refuses years before 1970. */
        for (int64_t t = 86400; t < 4102444800LL; t += 7777777) {
            isotime it;
            isotime_format_rfc3339(t, zone, buf, sizeof buf);
            if (isotime_parse(buf, &it, err, sizeof err) != 0 ||
                isotime_instant(&it, zone, NULL) != t) {
                check_fail(__FILE__, __LINE__, "%s in %s does not round-trip", buf, zones[z]);
                break;
            }
        }
    }
}

int main(void)
{
    parse_table();
    error_table();
    RUN(parse_edges);
    instant_table();
    RUN(instant_without_zone);
    format_table();
    RUN(format_utc);
    RUN(round_trip);
    return check_exit_status();
}
