/*
 * isotime.c - the date-time profile of isotime.h: RFC 3339 section 5.6
 * "date-time" without fractions, plus a bare full-date and a local
 * date-time without offset (ISO 8601 extended format).
 */
#include "isotime.h"

#include "errmsg.h"

#include <stdio.h>
#include <string.h>

#define ISO_TEXT_MAX 40
#define ISO_OFFSET_MAX (14 * 3600)

static const char *const month_names[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
static const char *const wday_abbrs[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* N decimal digits at S, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* The written fields, before any range check. */
typedef struct fields {
    int year, month, day, hour, minute, second;
    int has_time, has_offset, fraction;
    int off_sign, off_hour, off_minute;
} fields;

/* Fills F from the shape of S; -1 when the shape is wrong. */
static int scan_time_and_offset(const char *s, fields *f)
{
    f->has_time = 1;
    if ((f->hour = digits(s, 2)) < 0 || s[2] != ':' || (f->minute = digits(s + 3, 2)) < 0)
        return -1;
    s += 5;
    if (*s == ':') {
        if ((f->second = digits(s + 1, 2)) < 0)
            return -1;
        s += 3;
    }
    if (*s == '.' || *s == ',') {
        f->fraction = 1;
        return 0;
    }
    if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
        f->has_offset = 1;
        return 0;
    }
    if (*s == '+' || *s == '-') {
        f->has_offset = 1;
        f->off_sign = *s == '-' ? -1 : 1;
        if ((f->off_hour = digits(s + 1, 2)) < 0 || s[3] != ':' ||
            (f->off_minute = digits(s + 4, 2)) < 0 || s[6] != '\0')
            return -1;
        return 0;
    }
    return *s == '\0' ? 0 : -1;
}

static int scan(const char *s, fields *f)
{
    memset(f, 0, sizeof *f);
    if (strnlen(s, ISO_TEXT_MAX + 1) > ISO_TEXT_MAX)
        return -1;
    if ((f->year = digits(s, 4)) < 0 || s[4] != '-' || (f->month = digits(s + 5, 2)) < 0 ||
        s[7] != '-' || (f->day = digits(s + 8, 2)) < 0)
        return -1;
    if (s[10] == '\0')
        return 0;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return -1;
    return scan_time_and_offset(s + 11, f);
}

static int out_of_range(const char *txt, const char *what, int v, int lo, int hi, char *err,
                        size_t errlen)
{
    if (v >= lo && v <= hi)
        return 0;
    errmsg_set(err, errlen, "\"%s\" has %s %d, out of range %d-%d", txt, what, v, lo, hi);
    return -1;
}

static int check_ranges(const char *txt, const fields *f, char *err, size_t errlen)
{
    if (out_of_range(txt, "year", f->year, 1970, 9999, err, errlen) ||
        out_of_range(txt, "month", f->month, 1, 12, err, errlen) ||
        out_of_range(txt, "day", f->day, 1, 31, err, errlen))
        return -1;
    int dim = tz_days_in_month(f->year, f->month);
    if (f->day > dim) {
        errmsg_set(err, errlen, "\"%s\" is not a valid date: %s %d has %d days", txt,
                   month_names[f->month - 1], f->year, dim);
        return -1;
    }
    if (out_of_range(txt, "hour", f->hour, 0, 23, err, errlen) ||
        out_of_range(txt, "minute", f->minute, 0, 59, err, errlen) ||
        out_of_range(txt, "second", f->second, 0, 59, err, errlen) ||
        out_of_range(txt, "offset minute", f->off_minute, 0, 59, err, errlen))
        return -1;
    if ((f->off_hour * 60 + f->off_minute) * 60 > ISO_OFFSET_MAX) {
        errmsg_set(err, errlen, "\"%s\" has offset %c%02d:%02d, out of range -14:00 to +14:00", txt,
                   f->off_sign < 0 ? '-' : '+', f->off_hour, f->off_minute);
        return -1;
    }
    return 0;
}

int isotime_parse(const char *text, isotime *out, char *err, size_t errlen)
{
    if (!text || !*text) {
        errmsg_set(err, errlen, "date-time is empty");
        return -1;
    }
    char txt[ISO_TEXT_MAX + 8];
    errmsg_quote(text, ISO_TEXT_MAX, txt, sizeof txt);
    fields f;
    if (scan(text, &f) != 0) {
        errmsg_set(err, errlen,
                   "\"%s\" is not a date-time: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] "
                   "with an optional Z or +HH:MM offset",
                   txt);
        return -1;
    }
    if (f.fraction) {
        errmsg_set(err, errlen, "\"%s\" has a fraction of a second, which is not accepted", txt);
        return -1;
    }
    if (check_ranges(txt, &f, err, errlen) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->wall = tz_days_from_civil(f.year, f.month, f.day) * 86400 + f.hour * 3600 + f.minute * 60 +
                f.second;
    out->offset = f.off_sign * (f.off_hour * 3600 + f.off_minute * 60);
    out->has_offset = (unsigned)f.has_offset;
    out->date_only = !f.has_time;
    return 0;
}

int64_t isotime_instant(const isotime *t, const tz *zone, tz_wall_kind *kind)
{
    int64_t at;
    tz_wall_kind k = TZ_WALL_EXACT;
    /* Without a zone, a local time is read as UTC. */
    if (t->has_offset || !zone)
        at = t->wall - (t->has_offset ? t->offset : 0);
    else
        k = tz_wall_to_instant(zone, t->wall, &at);
    if (kind)
        *kind = k;
    return at;
}

void isotime_format_rfc3339(int64_t t, const tz *zone, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    t = tz_clamp(t);
    int off = zone ? tz_offset_at(zone, t, NULL) : 0;
    /* RFC 3339 offsets have no seconds: show such (pre-1900 LMT) instants
     * in UTC instead of rounding the offset into a wrong wall time. */
    if (off % 60 != 0)
        off = 0;
    tz_civil c;
    int64_t days = (t + off) / 86400 - ((t + off) % 86400 < 0 ? 1 : 0);
    int64_t secs = t + off - days * 86400;
    tz_civil_from_days(days, &c.year, &c.month, &c.mday);
    int a = off < 0 ? -off : off;
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year, c.month, c.mday,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60), off < 0 ? '-' : '+',
             a / 3600, a / 60 % 60);
}

void isotime_format_human(int64_t t, const tz *zone, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    if (!zone) {
        isotime_format_utc(t, buf, len);
        return;
    }
    const char *abbr = NULL;
    tz_civil c;
    tz_offset_at(zone, t, &abbr);
    tz_to_civil(zone, t, &c);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d %s (%s)", c.year, c.month, c.mday, c.hour,
             c.minute, abbr && *abbr ? abbr : "UTC", wday_abbrs[c.wday]);
}

void isotime_format_utc(int64_t t, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    t = tz_clamp(t);
    int64_t days = t / 86400 - (t % 86400 < 0 ? 1 : 0);
    int64_t secs = t - days * 86400;
    int y, m, d;
    tz_civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
}
