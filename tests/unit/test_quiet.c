/* Quiet hours in local time (quiet.h). */
#include "check.h"
#include "isotime.h"
#include "quiet.h"

static int64_t at(const char *text, const tz *zone)
{
    isotime t;
    char err[128];
    if (isotime_parse(text, &t, err, sizeof err) != 0)
        return -1;
    return isotime_instant(&t, zone, NULL);
}

static const struct {
    const char *zone, *when, *until; /* until NULL: not held */
    int start, end;
} cases[] = {
    /* 21:00-08:00 in Seoul */
    {"Asia/Seoul", "2020-03-22T20:59", NULL, 21 * 60, 8 * 60},
    {"Asia/Seoul", "2020-03-22T21:00", "2020-03-23T08:00", 21 * 60, 8 * 60},
    {"Asia/Seoul", "2020-03-22T23:30", "2020-03-23T08:00", 21 * 60, 8 * 60},
    {"Asia/Seoul", "2020-03-23T00:00", "2020-03-23T08:00", 21 * 60, 8 * 60},
    {"Asia/Seoul", "2020-03-23T07:59", "2020-03-23T08:00", 21 * 60, 8 * 60},
    {"Asia/Seoul", "2020-03-23T08:00", NULL, 21 * 60, 8 * 60},
    {"Asia/Seoul", "2020-03-23T15:00", NULL, 21 * 60, 8 * 60},
    /* a window inside one day */
    {"Asia/Seoul", "2020-03-23T12:30", "2020-03-23T13:00", 12 * 60, 13 * 60},
    {"Asia/Seoul", "2020-03-23T13:00", NULL, 12 * 60, 13 * 60},
    /* month and year ends */
    {"Asia/Seoul", "2020-12-31T22:00", "2021-01-01T08:00", 21 * 60, 8 * 60},
    {"Asia/Seoul", "2020-02-28T22:00", "2020-02-29T08:00", 21 * 60, 8 * 60},
    /* a DST change inside the window: 08:00 is local time after it */
    {"America/New_York", "2021-03-13T22:00", "2021-03-14T08:00", 21 * 60, 8 * 60},
    {"America/New_York", "2021-11-06T22:00", "2021-11-07T08:00", 21 * 60, 8 * 60},
    /* a window ending inside a DST gap: the first instant after the gap */
    {"America/New_York", "2021-03-14T01:30", "2021-03-14T03:00", 21 * 60, 2 * 60 + 30},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[128], name[128], why[256], got[64] = "not held";
        const tz *zone = tz_get(cases[i].zone, err, sizeof err);
        quiet_hours q = {.on = 1, .start_min = cases[i].start, .end_min = cases[i].end};
        int64_t until = 0, t = zone ? at(cases[i].when, zone) : -1;
        int held = zone && quiet_hold(&q, zone, t, &until);
        if (held)
            isotime_format_rfc3339(until, zone, got, sizeof got);
        int ok =
            zone && t >= 0 && (cases[i].until ? held && until == at(cases[i].until, zone) : !held);
        snprintf(name, sizeof name, "%s %s", cases[i].zone, cases[i].when);
        snprintf(why, sizeof why, "got %s, want %s", got,
                 cases[i].until ? cases[i].until : "not held");
        check_row(name, ok, why);
    }
}

static void test_off_never_holds(void)
{
    char err[128];
    const tz *zone = tz_get("Asia/Seoul", err, sizeof err);
    quiet_hours q = {0};
    int64_t until = 0;
    CHECK(zone != NULL);
    CHECK_INT(quiet_hold(&q, zone, at("2020-03-22T23:00", zone), &until), 0);
}

static void test_parse_and_format(void)
{
    json_t *v = json_pack("{s:s, s:s}", "start", "20:50", "end", "08:00");
    quiet_hours q;
    char buf[32];
    quiet_parse(v, &q);
    CHECK_INT(q.on, 1);
    CHECK_INT(q.start_min, 20 * 60 + 50);
    quiet_format(&q, buf, sizeof buf);
    CHECK_STR(buf, "20:50-08:00");
    json_decref(v);
    quiet_parse(json_false(), &q);
    CHECK_INT(q.on, 0);
    quiet_format(&q, buf, sizeof buf);
    CHECK_STR(buf, "off");
}

int main(void)
{
    test_table();
    RUN(test_off_never_holds);
    RUN(test_parse_and_format);
    return check_exit_status();
}
