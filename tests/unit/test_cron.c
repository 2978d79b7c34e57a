/*
 * test_cron.c - cron.h: parsing (bits and exact error text) and cron_next
 * against a table of known answers computed independently of the code
 * (by hand for DST gaps and overlaps, cross-checked with a separate
 * reference evaluator over Python's zoneinfo).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "timeoracle.h"
#include "cron.h"

struct next_row {
    const char *expr, *zone, *after, *want, *limit; /* want "none": nothing fires */
};

static const struct next_row next_rows[] = {
    /* New York spring forward 2021-03-14: 02:00 EST -> 03:00 EDT at 07:00Z */
    {"30 2 * * *", "America/New_York", "2021-03-14T05:00:00Z", "2021-03-14T07:00:00Z", NULL},
    {"30 2 * * *", "America/New_York", "2021-03-14T07:00:00Z", "2021-03-15T06:30:00Z", NULL},
    {"*/15 2 * * *", "America/New_York", "2021-03-14T06:59:00Z", "2021-03-14T07:00:00Z", NULL},
    {"*/15 2 * * *", "America/New_York", "2021-03-14T07:00:00Z", "2021-03-15T06:00:00Z", NULL},
    {"0 2 * * *", "America/New_York", "2021-03-14T05:00:00Z", "2021-03-14T07:00:00Z", NULL},
    {"0 3 * * *", "America/New_York", "2021-03-14T05:00:00Z", "2021-03-14T07:00:00Z", NULL},
    {"59 1 * * *", "America/New_York", "2021-03-14T05:00:00Z", "2021-03-14T06:59:00Z", NULL},
    {"0 * * * *", "America/New_York", "2021-03-14T06:00:00Z", "2021-03-14T07:00:00Z", NULL},
    {"0 * * * *", "America/New_York", "2021-03-14T07:00:00Z", "2021-03-14T08:00:00Z", NULL},
    /* New York fall back 2021-11-07: 02:00 EDT -> 01:00 EST at 06:00Z */
    {"30 1 * * *", "America/New_York", "2021-11-07T04:00:00Z", "2021-11-07T05:30:00Z", NULL},
    {"30 1 * * *", "America/New_York", "2021-11-07T05:30:00Z", "2021-11-08T06:30:00Z", NULL},
    {"0 1 * * *", "America/New_York", "2021-11-07T04:30:00Z", "2021-11-07T05:00:00Z", NULL},
    {"0 2 * * *", "America/New_York", "2021-11-07T04:00:00Z", "2021-11-07T07:00:00Z", NULL},
    {"0 * * * *", "America/New_York", "2021-11-07T05:00:00Z", "2021-11-07T07:00:00Z", NULL},
    {"*/30 * * * *", "America/New_York", "2021-11-07T05:45:00Z", "2021-11-07T07:00:00Z", NULL},
    {"*/30 * * * *", "America/New_York", "2021-11-07T06:15:00Z", "2021-11-07T07:00:00Z", NULL},
    {"@hourly", "America/New_York", "2021-11-07T05:00:00Z", "2021-11-07T07:00:00Z", NULL},
    /* New York in 2100, past the last explicit transition (footer rule) */
    {"30 2 * * *", "America/New_York", "2100-03-14T05:00:00Z", "2100-03-14T07:00:00Z", NULL},
    {"30 1 * * *", "America/New_York", "2100-11-07T04:00:00Z", "2100-11-07T05:30:00Z", NULL},
    {"30 1 * * *", "America/New_York", "2100-11-07T05:30:00Z", "2100-11-08T06:30:00Z", NULL},
    /* Berlin spring forward 2021-03-28: 02:00 CET -> 03:00 CEST at 01:00Z */
    {"30 2 * * *", "Europe/Berlin", "2021-03-27T23:00:00Z", "2021-03-28T01:00:00Z", NULL},
    {"30 2 * * *", "Europe/Berlin", "2021-03-28T01:00:00Z", "2021-03-29T00:30:00Z", NULL},
    {"0 2 * * *", "Europe/Berlin", "2021-03-27T23:00:00Z", "2021-03-28T01:00:00Z", NULL},
    {"*/20 2 * * *", "Europe/Berlin", "2021-03-28T00:59:00Z", "2021-03-28T01:00:00Z", NULL},
    {"*/20 2 * * *", "Europe/Berlin", "2021-03-28T01:00:00Z", "2021-03-29T00:00:00Z", NULL},
    {"0 3 * * *", "Europe/Berlin", "2021-03-27T23:00:00Z", "2021-03-28T01:00:00Z", NULL},
    /* Berlin fall back 2021-10-31: 03:00 CEST -> 02:00 CET at 01:00Z */
    {"30 2 * * *", "Europe/Berlin", "2021-10-30T22:00:00Z", "2021-10-31T00:30:00Z", NULL},
    {"30 2 * * *", "Europe/Berlin", "2021-10-31T00:30:00Z", "2021-11-01T01:30:00Z", NULL},
    {"0 2 * * *", "Europe/Berlin", "2021-10-30T22:00:00Z", "2021-10-31T00:00:00Z", NULL},
    {"0 3 * * *", "Europe/Berlin", "2021-10-30T22:00:00Z", "2021-10-31T02:00:00Z", NULL},
    {"15 * * * *", "Europe/Berlin", "2021-10-31T00:20:00Z", "2021-10-31T02:15:00Z", NULL},
    {"45 2 * * *", "Europe/Berlin", "2021-10-31T01:10:00Z", "2021-11-01T01:45:00Z", NULL},
    /* Lord Howe moves by 30 minutes: 02:00 -> 02:30 on 2021-10-03 */
    {"15 2 * * *", "Australia/Lord_Howe", "2021-10-02T13:30:00Z", "2021-10-02T15:30:00Z", NULL},
    /* Seoul: no DST since 1988, footer "KST-9"; 1988 DST 02:00 -> 03:00 on May 8 */
    {"0 9 * * MON-FRI", "Asia/Seoul", "2020-03-20T00:00:00Z", "2020-03-23T00:00:00Z", NULL},
    {"0 9 * * *", "Asia/Seoul", "2020-03-21T23:59:59Z", "2020-03-22T00:00:00Z", NULL},
    {"30 2 * * *", "Asia/Seoul", "1988-05-07T15:00:00Z", "1988-05-07T17:00:00Z", NULL},
    {"0 0 1 1 *", "Asia/Seoul", "2021-12-31T14:59:59Z", "2021-12-31T15:00:00Z", NULL},
    {"@daily", "Asia/Seoul", "2021-06-01T15:00:00Z", "2021-06-02T15:00:00Z", NULL},
    /* leap days */
    {"0 0 29 2 *", "America/New_York", "2021-01-01T00:00:00Z", "2024-02-29T05:00:00Z", NULL},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z", NULL},
    {"0 12 29 2 *", "Asia/Seoul", "2024-02-29T03:00:00Z", "2028-02-29T03:00:00Z", NULL},
    {"0 0 29 2 1", "UTC", "2021-03-01T00:00:00Z", "2022-02-07T00:00:00Z", NULL},
    /* Vixie OR rule and the '*' exception */
    {"0 0 13 * FRI", "UTC", "2021-08-01T00:00:00Z", "2021-08-06T00:00:00Z", NULL},
    {"0 0 13 * FRI", "UTC", "2021-08-06T00:00:00Z", "2021-08-13T00:00:00Z", NULL},
    {"0 0 13 * FRI", "UTC", "2021-08-27T00:00:00Z", "2021-09-03T00:00:00Z", NULL},
    {"0 0 13 * 5", "UTC", "2021-09-10T00:00:00Z", "2021-09-13T00:00:00Z", NULL},
    {"0 0 1 * MON", "UTC", "2022-05-24T00:00:00Z", "2022-05-30T00:00:00Z", NULL},
    {"0 0 1 * MON", "UTC", "2022-05-30T00:00:00Z", "2022-06-01T00:00:00Z", NULL},
    {"0 0 1-7 * MON", "UTC", "2021-06-08T00:00:00Z", "2021-06-14T00:00:00Z", NULL},
    {"0 0 */10 * MON", "UTC", "2022-01-01T00:00:00Z", "2022-01-31T00:00:00Z", NULL},
    {"0 0 * DEC SUN", "UTC", "2021-01-01T00:00:00Z", "2021-12-05T00:00:00Z", NULL},
    /* names, ranges, 7 as Sunday */
    {"0 0 1 jan,Jul *", "UTC", "2021-01-01T00:00:00Z", "2021-07-01T00:00:00Z", NULL},
    {"0 8 * * Mon-Wed", "UTC", "2021-06-03T00:00:00Z", "2021-06-07T08:00:00Z", NULL},
    {"0 12 * * 5-7", "UTC", "2021-06-01T00:00:00Z", "2021-06-04T12:00:00Z", NULL},
    {"0 12 * * 7", "UTC", "2021-06-04T12:00:00Z", "2021-06-06T12:00:00Z", NULL},
    {"0 12 * * 0,7", "UTC", "2021-06-06T12:00:00Z", "2021-06-13T12:00:00Z", NULL},
    {"0 6 * MAR-may SAT", "UTC", "2021-05-29T06:00:00Z", "2022-03-05T06:00:00Z", NULL},
    /* steps */
    {"*/15 * * * *", "UTC", "2021-06-01T10:07:30Z", "2021-06-01T10:15:00Z", NULL},
    {"5/15 * * * *", "UTC", "2021-06-01T10:51:00Z", "2021-06-01T11:05:00Z", NULL},
    {"10-30/10 9-17/4 * * *", "UTC", "2021-06-01T13:30:00Z", "2021-06-01T17:10:00Z", NULL},
    {"0 */6 * * *", "UTC", "2021-06-01T18:00:00Z", "2021-06-02T00:00:00Z", NULL},
    {"0 0 */5 * *", "UTC", "2021-01-26T00:00:00Z", "2021-01-31T00:00:00Z", NULL},
    {"0 0 */5 * *", "UTC", "2021-01-31T00:00:00Z", "2021-02-01T00:00:00Z", NULL},
    {"* * * * *", "UTC", "2021-06-01T10:00:30Z", "2021-06-01T10:01:00Z", NULL},
    {"* * * * *", "UTC", "2021-06-01T10:00:00Z", "2021-06-01T10:01:00Z", NULL},
    /* macros */
    {"@yearly", "America/New_York", "2021-06-01T00:00:00Z", "2022-01-01T05:00:00Z", NULL},
    {"@annually", "UTC", "2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z", NULL},
    {"@monthly", "Europe/Berlin", "2021-12-15T00:00:00Z", "2021-12-31T23:00:00Z", NULL},
    {"@weekly", "UTC", "2021-06-01T00:00:00Z", "2021-06-06T00:00:00Z", NULL},
    {"@midnight", "Europe/Berlin", "2021-07-01T12:00:00Z", "2021-07-01T22:00:00Z", NULL},
    {"@HOURLY", "UTC", "2021-07-01T12:00:00Z", "2021-07-01T13:00:00Z", NULL},
    /* year boundaries */
    {"59 23 31 12 *", "UTC", "2021-12-31T23:59:00Z", "2022-12-31T23:59:00Z", NULL},
    {"*/10 * * * *", "UTC", "2021-12-31T23:55:00Z", "2022-01-01T00:00:00Z", NULL},
    {"0 0 1 1 *", "America/New_York", "2021-12-31T23:00:00Z", "2022-01-01T05:00:00Z", NULL},
    /* last day of month: 31 skips the 30-day months (and February) */
    {"0 0 31 * *", "UTC", "2021-01-31T00:00:00Z", "2021-03-31T00:00:00Z", NULL},
    {"0 0 31 * *", "UTC", "2021-04-01T00:00:00Z", "2021-05-31T00:00:00Z", NULL},
    {"0 0 31 * *", "UTC", "2021-05-31T00:00:00Z", "2021-07-31T00:00:00Z", NULL},
    {"0 0 31 * *", "UTC", "2021-07-31T00:00:00Z", "2021-08-31T00:00:00Z", NULL},
    {"0 0 31 * *", "UTC", "2021-08-31T00:00:00Z", "2021-10-31T00:00:00Z", NULL},
    {"0 0 30 * *", "UTC", "2021-01-30T00:00:00Z", "2021-03-30T00:00:00Z", NULL},
    /* never, and the limit */
    {"0 0 30 2 *", "UTC", "2021-01-01T00:00:00Z", "none", "2121-01-01T00:00:00Z"},
    {"0 0 31 4,6,9,11 *", "America/New_York", "2021-01-01T00:00:00Z", "none",
     "2121-01-01T00:00:00Z"},
    {"0 0 1 1 *", "UTC", "2021-06-01T00:00:00Z", "none", "2021-12-31T23:59:59Z"},
    {"0 0 1 1 *", "UTC", "2021-06-01T00:00:00Z", "2022-01-01T00:00:00Z", "2022-01-01T00:00:00Z"},
};

static void next_table(void)
{
    for (size_t i = 0; i < sizeof next_rows / sizeof next_rows[0]; i++) {
        const struct next_row *r = &next_rows[i];
        char name[160], why[512] = "", err[256], got[40];
        snprintf(name, sizeof name, "next \"%s\" %s after %s", r->expr, r->zone, r->after);
        cron_expr e;
        const tz *zone = tz_get(r->zone, err, sizeof err);
        int64_t after = utc(r->after), next = 0;
        /* Ten years unless the row says otherwise. */
        int64_t limit = r->limit ? utc(r->limit) : after + 10 * 366 * 86400LL;
        if (!zone) {
            snprintf(why, sizeof why, "zone: %s", err);
        } else if (cron_parse(r->expr, &e, err, sizeof err) != 0) {
            snprintf(why, sizeof why, "parse: %s", err);
        } else if (cron_next(&e, zone, after, limit, &next) != 0) {
            if (strcmp(r->want, "none") != 0)
                snprintf(why, sizeof why, "nothing fires, want %s", r->want);
        } else {
            utc_text(next, got, sizeof got);
            if (strcmp(got, r->want) != 0)
                snprintf(why, sizeof why, "got %s, want %s", got, r->want);
        }
        check_row(name, why[0] == '\0', why);
    }
}

struct error_row {
    const char *expr, *want;
};

static const struct error_row error_rows[] = {
    {"", "cron expression is empty"},
    {" \t ", "cron expression is empty"},
    {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
    {"* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
    {"60 * * * *", "minute 60 is out of range 0-59"},
    {"99999999999999 * * * *", "minute 99999999999999 is out of range 0-59"},
    {"* 24 * * *", "hour 24 is out of range 0-23"},
    {"* * 0 * *", "day-of-month 0 is out of range 1-31"},
    {"* * 32 * *", "day-of-month 32 is out of range 1-31"},
    {"* * * 0 *", "month 0 is out of range 1-12"},
    {"* * * 13 *", "month 13 is out of range 1-12"},
    {"* * * * 8", "day-of-week 8 is out of range 0-7"},
    {"* * * * 1-8", "day-of-week 8 is out of range 0-7"},
    {"*/0 * * * *", "minute step 0 must be at least 1"},
    {"* */61 * * *", "hour step 61 is out of range 1-24"},
    {"*/61 * * * *", "minute step 61 is out of range 1-60"},
    {"*/ * * * *", "minute step is missing after '/'"},
    {"*/x * * * *", "minute step \"x\" is not a number"},
    {"* 20-3 * * *", "hour range 20-3 runs backwards"},
    {"* * * * SAT-SUN", "day-of-week range SAT-SUN runs backwards"},
    {"* * * DEC-JAN *", "month range DEC-JAN runs backwards"},
    {"* * x * *", "day-of-month \"x\" is not a number"},
    {"* * MON * *", "day-of-month \"MON\" is not a number"},
    {"* * * FOO *", "month \"FOO\" is not a number or month name"},
    {"* * * JANUARY *", "month \"JANUARY\" is not a number or month name"},
    {"* * * * FRX", "day-of-week \"FRX\" is not a number or weekday name"},
    {"5x * * * *", "minute \"5x\" is not a number"},
    {"-5 * * * *", "minute \"-5\" is not a number"},
    {"1-2-3 * * * *", "minute item \"1-2-3\" has unexpected \"-3\""},
    {"*-5 * * * *", "minute item \"*-5\" has unexpected \"-5\""},
    {"1,,2 * * * *", "minute has an empty list item in \"1,,2\""},
    {"* 1, * * *", "hour has an empty list item in \"1,\""},
    {"@reboot", "@reboot is not supported: only @yearly, @annually, @monthly, @weekly, "
                "@daily, @midnight, @hourly"},
    {"@daily 5", "@daily takes no fields, but \"5\" follows it"},
    {"@", "@ is not supported: only @yearly, @annually, @monthly, @weekly, "
          "@daily, @midnight, @hourly"},
};

static void error_table(void)
{
    for (size_t i = 0; i < sizeof error_rows / sizeof error_rows[0]; i++) {
        const struct error_row *r = &error_rows[i];
        char name[160], why[512] = "", err[256] = "";
        snprintf(name, sizeof name, "parse error \"%s\"", r->expr);
        cron_expr e;
        if (cron_parse(r->expr, &e, err, sizeof err) == 0)
            snprintf(why, sizeof why, "accepted, want \"%s\"", r->want);
        else if (strcmp(err, r->want) != 0)
            snprintf(why, sizeof why, "error \"%s\", want \"%s\"", err, r->want);
        check_row(name, why[0] == '\0', why);
    }
}

static void parse_bits(void)
{
    cron_expr e;
    char err[256];
    CHECK_INT(cron_parse("0,30 9-17 * * MON-FRI", &e, err, sizeof err), 0);
    CHECK(e.minutes == ((1ULL << 0) | (1ULL << 30)));
    CHECK_INT(e.hours, 0x3fe00);
    CHECK_INT(e.mdays, 0xfffffffe);
    CHECK_INT(e.months, 0x1ffe);
    CHECK_INT(e.wdays, 0x3e);
    CHECK_INT(e.mday_star, 1);
    CHECK_INT(e.wday_star, 0);
    /* 7 folds into Sunday, in lists and ranges alike. */
    CHECK_INT(cron_parse("* * * * 5-7", &e, err, sizeof err), 0);
    CHECK_INT(e.wdays, 0x61);
    CHECK_INT(cron_parse("* * * * 7", &e, err, sizeof err), 0);
    CHECK_INT(e.wdays, 0x01);
    /* "*" in day-of-week means all seven days. */
    CHECK_INT(cron_parse("* * * * *", &e, err, sizeof err), 0);
    CHECK_INT(e.wdays, 0x7f);
    CHECK_INT(e.wday_star, 1);
}

static void parse_steps_and_names(void)
{
    cron_expr e;
    char err[256];
    CHECK_INT(cron_parse("5/15 */6 */10 jan-Mar/2 */3", &e, err, sizeof err), 0);
    CHECK(e.minutes == ((1ULL << 5) | (1ULL << 20) | (1ULL << 35) | (1ULL << 50)));
    CHECK_INT(e.hours, (1 << 0) | (1 << 6) | (1 << 12) | (1 << 18));
    CHECK_INT(e.mdays, (1u << 1) | (1u << 11) | (1u << 21) | (1u << 31));
    CHECK_INT(e.months, (1 << 1) | (1 << 3));
    CHECK_INT(e.wdays, (1 << 0) | (1 << 3) | (1 << 6));
    CHECK_INT(e.mday_star, 1);
    CHECK_INT(e.wday_star, 1);
    /* A step starting at a number counts as restricted for the OR rule. */
    CHECK_INT(cron_parse("0 0 1/10 * sun", &e, err, sizeof err), 0);
    CHECK_INT(e.mday_star, 0);
    CHECK_INT(e.wday_star, 0);
    CHECK_INT(e.wdays, 0x01);
}

static void parse_macros(void)
{
    cron_expr m, f;
    char err[256];
    static const char *const pairs[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},  {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},     {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}, {"  @Daily\n", "0 0 * * *"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        CHECK_INT(cron_parse(pairs[i][0], &m, err, sizeof err), 0);
        CHECK_INT(cron_parse(pairs[i][1], &f, err, sizeof err), 0);
        CHECK(memcmp(&m, &f, sizeof m) == 0);
    }
}

static void parse_limits(void)
{
    char text[300], err[256];
    cron_expr e;
    /* 256 characters are fine, 257 are not. */
    memset(text, ' ', sizeof text);
    memcpy(text, "* * * * *", 9);
    text[256] = '\0';
    CHECK_INT(cron_parse(text, &e, err, sizeof err), 0);
    text[256] = ' ';
    text[257] = '\0';
    CHECK_INT(cron_parse(text, &e, err, sizeof err), -1);
    CHECK_STR(err, "cron expression is longer than 256 characters");
    CHECK_INT(cron_parse(NULL, &e, err, sizeof err), -1);
    /* A tiny error buffer is truncated, never overrun. */
    char small[8];
    CHECK_INT(cron_parse("61 * * * *", &e, small, sizeof small), -1);
    CHECK_STR(small, "minute ");
    /* Control characters are quoted safely. */
    CHECK_INT(cron_parse("* * \x01 * *", &e, err, sizeof err), -1);
    CHECK_STR(err, "day-of-month \"?\" is not a number");
    /* On failure the output is left alone. */
    cron_expr before;
    memset(&before, 0xab, sizeof before);
    e = before;
    CHECK_INT(cron_parse("* * * * 9", &e, err, sizeof err), -1);
    CHECK(memcmp(&e, &before, sizeof e) == 0);
}

/* Every fire of one day, by repeated cron_next from the previous fire. */
static int fires_between(const char *expr, const char *zone_name, const char *from, const char *to,
                         int64_t *out, int max)
{
    char err[256];
    cron_expr e;
    const tz *zone = tz_get(zone_name, err, sizeof err);
    if (!zone || cron_parse(expr, &e, err, sizeof err) != 0)
        return -1;
    int n = 0;
    int64_t t = utc(from), next;
    while (n < max && cron_next(&e, zone, t, utc(to), &next) == 0) {
        out[n++] = next;
        t = next;
    }
    return n;
}

static void ny_spring_fires_once(void)
{
    int64_t f[64];
    /* 2021-03-14 local day in New York is 05:00Z..04:00Z next day. */
    int n = fires_between("30 2 * * *", "America/New_York", "2021-03-14T05:00:00Z",
                          "2021-03-15T04:00:00Z", f, 64);
    CHECK_INT(n, 1);
    CHECK_INT(f[0], utc("2021-03-14T07:00:00Z"));
    n = fires_between("*/15 2 * * *", "America/New_York", "2021-03-14T05:00:00Z",
                      "2021-03-15T04:00:00Z", f, 64);
    CHECK_INT(n, 1);
    CHECK_INT(f[0], utc("2021-03-14T07:00:00Z"));
    /* Hourly: 23 fires on a 23-hour day. */
    n = fires_between("0 * * * *", "America/New_York", "2021-03-14T04:59:59Z",
                      "2021-03-15T03:59:59Z", f, 64);
    CHECK_INT(n, 23);
}

static void ny_fall_fires_once(void)
{
    int64_t f[64];
    int n = fires_between("30 1 * * *", "America/New_York", "2021-11-07T04:00:00Z",
                          "2021-11-08T05:00:00Z", f, 64);
    CHECK_INT(n, 1);
    CHECK_INT(f[0], utc("2021-11-07T05:30:00Z"));
    /* Hourly on a 25-hour day still fires 24 times: the repeat is skipped. */
    n = fires_between("0 * * * *", "America/New_York", "2021-11-07T03:59:59Z",
                      "2021-11-08T04:59:59Z", f, 64);
    CHECK_INT(n, 24);
}

static void berlin_fires_once(void)
{
    int64_t f[64];
    int n = fires_between("30 2 * * *", "Europe/Berlin", "2021-03-27T23:00:00Z",
                          "2021-03-28T22:00:00Z", f, 64);
    CHECK_INT(n, 1);
    CHECK_INT(f[0], utc("2021-03-28T01:00:00Z"));
    n = fires_between("*/10 2 * * *", "Europe/Berlin", "2021-10-30T22:00:00Z",
                      "2021-10-31T23:00:00Z", f, 64);
    CHECK_INT(n, 6);
    CHECK_INT(f[0], utc("2021-10-31T00:00:00Z"));
    CHECK_INT(f[5], utc("2021-10-31T00:50:00Z"));
}

static void next_bounds(void)
{
    char err[256];
    cron_expr e;
    const tz *utc_zone = tz_get("UTC", err, sizeof err);
    int64_t next = 12345;
    CHECK(utc_zone != NULL);
    if (!utc_zone)
        return;
    CHECK_INT(cron_parse("* * * * *", &e, err, sizeof err), 0);
    /* An empty or inverted window fires nothing and leaves *next alone. */
    CHECK_INT(cron_next(&e, utc_zone, 600, 600, &next), -1);
    CHECK_INT(cron_next(&e, utc_zone, 600, 0, &next), -1);
    CHECK_INT(next, 12345);
    CHECK_INT(cron_next(&e, utc_zone, 600, 660, &next), 0);
    CHECK_INT(next, 660);
    CHECK_INT(cron_next(&e, utc_zone, INT64_MAX - 1, INT64_MAX, &next), -1);
    CHECK_INT(cron_next(&e, utc_zone, INT64_MIN, INT64_MAX, &next), 0);
    CHECK_INT(cron_next(NULL, utc_zone, 0, 100, &next), -1);
    CHECK_INT(cron_next(&e, NULL, 0, 100, &next), -1);
    /* Before 1970 works too. */
    CHECK_INT(cron_parse("0 0 1 1 *", &e, err, sizeof err), 0);
    CHECK_INT(cron_next(&e, utc_zone, utc("1960-06-01T00:00:00Z"), 0, &next), 0);
    CHECK_INT(next, utc("1961-01-01T00:00:00Z"));
}

/* Impossible days must be found out quickly, whatever the limit. */
static void never_is_fast(void)
{
    static const char *const never[] = {"0 0 30 2 *", "0 0 31 2,4,6,9,11 *", "* * 31 4 *",
                                        "0 0 31 11 *"};
    char err[256];
    const tz *ny = tz_get("America/New_York", err, sizeof err);
    CHECK(ny != NULL);
    if (!ny)
        return;
    clock_t start = clock();
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        cron_expr e;
        int64_t next;
        CHECK_INT(cron_parse(never[i], &e, err, sizeof err), 0);
        CHECK_INT(cron_next(&e, ny, 0, INT64_MAX, &next), -1);
        CHECK_INT(
            cron_next(&e, ny, utc("2021-01-01T00:00:00Z"), utc("2121-01-01T00:00:00Z"), &next), -1);
    }
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (secs > 2.0)
        check_fail(__FILE__, __LINE__, "impossible searches took %.2f s", secs);
}

/* A year of fires, one call each, must stay cheap too. */
static void a_year_of_fires_is_fast(void)
{
    int64_t f[1];
    char err[256];
    cron_expr e;
    const tz *berlin = tz_get("Europe/Berlin", err, sizeof err);
    CHECK(berlin != NULL);
    CHECK_INT(cron_parse("59 23 * * *", &e, err, sizeof err), 0);
    if (!berlin)
        return;
    clock_t start = clock();
    int n = 0;
    int64_t t = utc("2021-01-01T00:00:00Z");
    while (cron_next(&e, berlin, t, utc("2022-01-01T00:00:00Z"), &f[0]) == 0) {
        t = f[0];
        n++;
    }
    CHECK_INT(n, 365);
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (secs > 2.0)
        check_fail(__FILE__, __LINE__, "a year of daily fires took %.2f s", secs);
}

int main(void)
{
    next_table();
    error_table();
    RUN(parse_bits);
    RUN(parse_steps_and_names);
    RUN(parse_macros);
    RUN(parse_limits);
    RUN(ny_spring_fires_once);
    RUN(ny_fall_fires_once);
    RUN(berlin_fires_once);
    RUN(next_bounds);
    RUN(never_is_fast);
    RUN(a_year_of_fires_is_fast);
    return check_exit_status();
}
