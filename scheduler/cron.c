/*
 * cron.c - five-field cron expressions with the semantics of Vixie cron's
 * crontab(5) (the day-of-month/day-of-week OR rule, 7 as Sunday, names,
 * ranges, steps and @ macros), evaluated in an IANA time zone.
 */
#include "cron.h"

#include "errmsg.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CRON_TEXT_MAX 256
#define CRON_DAY 86400
/* The Gregorian calendar repeats every 146097 days (a whole number of
 * weeks), so a day pattern that matches nothing in that span never will. */
#define CRON_CYCLE_DAYS 146097
/* Wall time and instant differ by less than 26 hours (see tz.c). */
#define CRON_SLACK_DAYS 3
/* About a million years each way, like tz.c's working range. */
#define CRON_T_LIMIT ((int64_t)1 << 45)

typedef struct cron_field {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] stands for lo + i, or NULL */
    const char *name_kind;
} cron_field;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const wday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

static const cron_field fields[F_COUNT] = {
    {"minute", 0, 59, NULL, NULL},
    {"hour", 0, 23, NULL, NULL},
    {"day-of-month", 1, 31, NULL, NULL},
    {"month", 1, 12, month_names, "month name"},
    {"day-of-week", 0, 7, wday_names, "weekday name"},
};

static const struct {
    const char *name;
    const char *fields;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* LEN bytes of S, made safe to quote in a one-line message: control
 * characters and quotes become '?', other UTF-8 stays ("월" reads as 월),
 * and a cut falls between characters. */
static void shown(const char *s, size_t len, char *out, size_t outlen)
{
    size_t i = 0;
    for (; i < len && i + 4 < outlen && i < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c != 0x7f && c != '"') ? (char)c : '?';
    }
    while (i > 0 && i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--; /* do not end inside a character */
    if (i < len && i + 3 < outlen) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int upper(char c)
{
    return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

/* ---- parsing ------------------------------------------------------------ */

/* A slice of the expression being parsed. */
typedef struct span {
    const char *s;
    size_t len;
} span;

/* Reads a number or a name at *p (stopping at '-', '/' or the end of ITEM).
 * Returns 0 with *value set, or -1 with err set. */
static int parse_value(const cron_field *f, span item, size_t *pos, int *value, char *err,
                       size_t errlen)
{
    size_t start = *pos, end = start;
    while (end < item.len && item.s[end] != '-' && item.s[end] != '/')
        end++;
    span tok = {item.s + start, end - start};
    char txt[64];
    shown(tok.len ? tok.s : item.s, tok.len ? tok.len : item.len, txt, sizeof txt);
    *pos = end;
    int digits = tok.len > 0, v = 0;
    for (size_t i = 0; i < tok.len && digits; i++) {
        digits = tok.s[i] >= '0' && tok.s[i] <= '9';
        if (v < 100000)
            v = v * 10 + (tok.s[i] - '0');
    }
    if (digits) {
        if (v < f->lo || v > f->hi) {
            errmsg_set(err, errlen, "%s %s is out of range %d-%d", f->name, txt, f->lo, f->hi);
            return -1;
        }
        *value = v;
        return 0;
    }
    for (int i = 0; f->names && f->names[i] && tok.len == 3; i++) {
        if (upper(tok.s[0]) == f->names[i][0] && upper(tok.s[1]) == f->names[i][1] &&
            upper(tok.s[2]) == f->names[i][2]) {
            *value = f->lo + i;
            return 0;
        }
    }
    if (f->names)
        errmsg_set(err, errlen, "%s \"%s\" is not a number or %s", f->name, txt, f->name_kind);
    else
        errmsg_set(err, errlen, "%s \"%s\" is not a number", f->name, txt);
    return -1;
}

static int parse_step(const cron_field *f, span item, size_t *pos, int *step, char *err,
                      size_t errlen)
{
    span tok = {item.s + *pos, item.len - *pos};
    char txt[64];
    shown(tok.s, tok.len, txt, sizeof txt);
    int v = 0, span_size = f->hi - f->lo + 1;
    if (tok.len == 0) {
        errmsg_set(err, errlen, "%s step is missing after '/'", f->name);
        return -1;
    }
    for (size_t i = 0; i < tok.len; i++) {
        if (tok.s[i] < '0' || tok.s[i] > '9') {
            errmsg_set(err, errlen, "%s step \"%s\" is not a number", f->name, txt);
            return -1;
        }
        if (v <= span_size)
            v = v * 10 + (tok.s[i] - '0');
    }
    if (v == 0) {
        errmsg_set(err, errlen, "%s step 0 must be at least 1", f->name);
        return -1;
    }
    if (v > span_size) {
        errmsg_set(err, errlen, "%s step %s is out of range 1-%d", f->name, txt, span_size);
        return -1;
    }
    *pos = item.len;
    *step = v;
    return 0;
}

/* One comma-separated item: '*', a, a-b, each optionally /step. */
static int parse_item(const cron_field *f, span item, uint64_t *bits, char *err, size_t errlen)
{
    size_t pos = 0;
    int lo = f->lo, hi = f->hi, step = 1;
    if (item.s[0] == '*') {
        pos = 1;
    } else {
        if (parse_value(f, item, &pos, &lo, err, errlen) != 0)
            return -1;
        hi = lo;
        if (pos < item.len && item.s[pos] == '-') {
            size_t dash = pos++;
            if (parse_value(f, item, &pos, &hi, err, errlen) != 0)
                return -1;
            if (hi < lo) {
                char a[64], b[64];
                shown(item.s, dash, a, sizeof a);
                shown(item.s + dash + 1, pos - dash - 1, b, sizeof b);
                errmsg_set(err, errlen, "%s range %s-%s runs backwards", f->name, a, b);
                return -1;
            }
        } else if (pos < item.len && item.s[pos] == '/') {
            hi = f->hi; /* "a/n" steps from a to the end of the field */
        }
    }
    if (pos < item.len && item.s[pos] == '/') {
        pos++;
        if (parse_step(f, item, &pos, &step, err, errlen) != 0)
            return -1;
    }
    if (pos < item.len) {
        char txt[64], rest[64];
        shown(item.s, item.len, txt, sizeof txt);
        shown(item.s + pos, item.len - pos, rest, sizeof rest);
        errmsg_set(err, errlen, "%s item \"%s\" has unexpected \"%s\"", f->name, txt, rest);
        return -1;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << v;
    return 0;
}

static int parse_field(const cron_field *f, span text, uint64_t *bits, char *err, size_t errlen)
{
    size_t start = 0;
    *bits = 0;
    for (size_t i = 0; i <= text.len; i++) {
        if (i < text.len && text.s[i] != ',')
            continue;
        if (i == start) {
            char txt[64];
            shown(text.s, text.len, txt, sizeof txt);
            errmsg_set(err, errlen, "%s has an empty list item in \"%s\"", f->name, txt);
            return -1;
        }
        span item = {text.s + start, i - start};
        if (parse_item(f, item, bits, err, errlen) != 0)
            return -1;
        start = i + 1;
    }
    return 0;
}

/* Splits TEXT at white space; returns the number of fields seen (which may
 * exceed MAX; only the first MAX are stored). */
static size_t split_fields(const char *text, span *out, size_t max)
{
    size_t n = 0;
    const char *p = text;
    while (*p) {
        while (*p && is_space(*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !is_space(*p))
            p++;
        if (n < max)
            out[n] = (span){start, (size_t)(p - start)};
        n++;
    }
    return n;
}

static int parse_fields(const char *text, cron_expr *out, char *err, size_t errlen)
{
    span f[F_COUNT];
    size_t n = split_fields(text, f, F_COUNT);
    if (n != F_COUNT) {
        errmsg_set(err, errlen,
                   "expected 5 fields (minute hour day-of-month month day-of-week), got %zu", n);
        return -1;
    }
    uint64_t bits[F_COUNT];
    for (int i = 0; i < F_COUNT; i++)
        if (parse_field(&fields[i], f[i], &bits[i], err, errlen) != 0)
            return -1;
    memset(out, 0, sizeof *out);
    out->minutes = bits[F_MINUTE];
    out->hours = (uint32_t)bits[F_HOUR];
    out->mdays = (uint32_t)bits[F_MDAY];
    out->months = (uint16_t)bits[F_MONTH];
    /* 7 is another name for Sunday. */
    out->wdays = (uint8_t)((bits[F_WDAY] | bits[F_WDAY] >> 7) & 0x7f);
    out->mday_star = f[F_MDAY].s[0] == '*';
    out->wday_star = f[F_WDAY].s[0] == '*';
    return 0;
}

static int parse_macro(const char *text, cron_expr *out, char *err, size_t errlen)
{
    size_t len = 0;
    while (text[len] && !is_space(text[len]))
        len++;
    const char *rest = text + len;
    while (*rest && is_space(*rest))
        rest++;
    char word[64];
    shown(text, len, word, sizeof word);
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        if (strlen(macros[i].name) != len || strncasecmp(macros[i].name, text, len) != 0)
            continue;
        if (*rest) {
            char txt[64];
            shown(rest, strlen(rest), txt, sizeof txt);
            errmsg_set(err, errlen, "%s takes no fields, but \"%s\" follows it", word, txt);
            return -1;
        }
        return parse_fields(macros[i].fields, out, err, errlen);
    }
    errmsg_set(err, errlen,
               "%s is not supported: only @yearly, @annually, @monthly, @weekly, @daily, "
               "@midnight, @hourly",
               word);
    return -1;
}

int cron_parse(const char *text, cron_expr *out, char *err, size_t errlen)
{
    if (!text || !out) {
        errmsg_set(err, errlen, "cron expression is missing");
        return -1;
    }
    if (strnlen(text, CRON_TEXT_MAX + 1) > CRON_TEXT_MAX) {
        errmsg_set(err, errlen, "cron expression is longer than %d characters", CRON_TEXT_MAX);
        return -1;
    }
    while (*text && is_space(*text))
        text++;
    if (!*text) {
        errmsg_set(err, errlen, "cron expression is empty");
        return -1;
    }
    cron_expr e;
    if ((*text == '@' ? parse_macro(text, &e, err, errlen) : parse_fields(text, &e, err, errlen)) !=
        0)
        return -1;
    /* memcpy keeps the zeroed padding: callers compare expressions with memcmp. */
    memcpy(out, &e, sizeof *out);
    return 0;
}

/* ---- evaluation --------------------------------------------------------- */

static int day_matches(const cron_expr *e, int mday, int wday)
{
    int by_mday = (e->mdays >> mday) & 1, by_wday = (e->wdays >> wday) & 1;
    /* Vixie: a '*' field defers to the other; two restricted fields OR. */
    if (e->mday_star || e->wday_star)
        return by_mday && by_wday;
    return by_mday || by_wday;
}

/* The first fire on local day DAY whose instant is after AFTER, skipping
 * wall times before FROM_WALL. Returns 1 with *at set, or 0. */
static int scan_day(const cron_expr *e, const tz *zone, int64_t day, int64_t from_wall,
                    int64_t after, int64_t *at)
{
    for (int h = 0; h < 24; h++) {
        int64_t hour = day * CRON_DAY + h * 3600;
        if (!((e->hours >> h) & 1) || hour + 3599 < from_wall)
            continue;
        for (int m = 0; m < 60; m++) {
            int64_t wall = hour + m * 60, inst;
            if (!((e->minutes >> m) & 1) || wall < from_wall)
                continue;
            tz_wall_to_instant(zone, wall, &inst);
            if (inst > after) {
                *at = inst;
                return 1;
            }
        }
    }
    return 0;
}

/*
 * Wall-to-instant is monotone (gaps map to their end, repeats to their
 * first occurrence), so walking wall times upward from AFTER's own wall
 * time meets fires in instant order, and the first one past AFTER is it.
 */
int cron_next(const cron_expr *expr, const tz *zone, int64_t after, int64_t limit, int64_t *next)
{
    if (!expr || !zone || !next || after >= limit || after >= CRON_T_LIMIT)
        return -1;
    /* Far-off bounds are clamped so wall-time arithmetic cannot overflow. */
    if (after < -CRON_T_LIMIT)
        after = -CRON_T_LIMIT;
    if (limit > CRON_T_LIMIT)
        limit = CRON_T_LIMIT;
    int64_t from_wall = tz_floor_div(after + tz_offset_at(zone, after, NULL), 60) * 60;
    int64_t day = tz_floor_div(from_wall, CRON_DAY);
    int64_t last =
        tz_floor_div(limit + tz_offset_at(zone, limit, NULL), CRON_DAY) + CRON_SLACK_DAYS;
    if (last > day + CRON_CYCLE_DAYS)
        last = day + CRON_CYCLE_DAYS;
    while (day <= last) {
        int y, m, d;
        tz_civil_from_days(day, &y, &m, &d);
        if (!((expr->months >> m) & 1)) {
            day = tz_days_from_civil(y, m + 1, 1);
            continue;
        }
        int wday = (int)(day - tz_floor_div(day + 4, 7) * 7 + 4);
        int64_t at;
        if (day_matches(expr, d, wday) && scan_day(expr, zone, day, from_wall, after, &at)) {
            if (at > limit)
                return -1;
            *next = at;
            return 0;
        }
        day++;
    }
    return -1;
}
