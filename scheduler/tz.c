/*
 * tz.c - IANA time zones read from TZif files (RFC 8536: versions 1-3, and
 * version 4 which shares their layout), with the POSIX TZ rule string of the
 * footer (POSIX.1-2017 section 8.3, plus the RFC 8536 section 3.3.1
 * extensions: rule times from -167 to 167 hours) for instants after the last
 * explicit transition.
 *
 * Files are untrusted input: every count is checked against the bytes that
 * are really there before anything is read, and a file that fails any check
 * is refused as a whole.
 */
#include "tz.h"

#include "errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_NAME_MAX 128
#define TZ_PATH_MAX 4096
/* Real TZif files are a few KiB; anything near this is not tzdata. */
#define TZ_FILE_MAX (1u << 20)
#define TZ_FOOTER_MAX 255
#define TZ_ABBR_MAX 16
#define TZ_DAY 86400
/* RFC 8536 keeps offsets within -89999..93599; the wall-to-instant search
 * window relies on |offset| < 26 hours. */
#define TZ_OFF_LIMIT 93600
/* About a million years each way: far beyond any schedule, yet small enough
 * that civil years fit in an int and wall = t + offset cannot overflow. */
#define TZ_T_LIMIT ((int64_t)1 << 45)
/* A wall time has at most a handful of transitions within two days of it. */
#define TZ_SCAN_MAX 64

typedef struct tz_type {
    int32_t utoff;
    uint8_t isdst;
    uint32_t abbr; /* index into chars */
} tz_type;

typedef enum rule_kind { RULE_JULIAN1, RULE_ZERO, RULE_MONTH } rule_kind;

typedef struct tz_rule {
    rule_kind kind;
    int n;        /* Jn: 1-365; n: 0-365 */
    int m, w, d;  /* Mm.w.d */
    int32_t secs; /* local time of day, -167h..167h */
} tz_rule;

typedef struct tz_footer {
    int present;
    int has_dst;
    int32_t std_off, dst_off; /* seconds east of UTC */
    char std_abbr[TZ_ABBR_MAX], dst_abbr[TZ_ABBR_MAX];
    tz_rule start, end;
} tz_footer;

struct tz {
    struct tz *next;
    char *name;
    char *dir;
    size_t timecnt, typecnt, charcnt;
    int64_t *times;
    uint8_t *idx;
    tz_type *types;
    char *chars;
    tz_footer footer;
};

/* Loaded zones live until exit; the list keeps them reachable. */
static struct tz *tz_cache;

/* ---- calendar ---------------------------------------------------------- */

int64_t tz_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t tz_clamp(int64_t t)
{
    return t < -TZ_T_LIMIT ? -TZ_T_LIMIT : t > TZ_T_LIMIT ? TZ_T_LIMIT : t;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Months outside 1-12 carry into the year and any mday counts on from the
 * 1st, so callers can say "the 1st of month 13" or "day 0". */
int64_t tz_days_from_civil(int year, int month, int mday)
{
    int64_t y = (int64_t)year + tz_floor_div((int64_t)month - 1, 12);
    int64_t m = (int64_t)month - 1 - tz_floor_div((int64_t)month - 1, 12) * 12 + 1;
    /* Count years from March so the leap day ends the year. */
    if (m <= 2)
        y -= 1;
    int64_t era = tz_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 + ((int64_t)mday - 1);
}

void tz_civil_from_days(int64_t days, int *year, int *month, int *mday)
{
    /* Keeps the year within int. */
    const int64_t lim = (int64_t)700000000000;
    days = days < -lim ? -lim : days > lim ? lim : days;
    int64_t z = days + 719468;
    int64_t era = tz_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    if (year)
        *year = (int)y;
    if (month)
        *month = (int)m;
    if (mday)
        *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
}

int tz_days_in_month(int year, int month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return dim[month - 1] + (month == 2 && is_leap(year) ? 1 : 0);
}

/* 1970-01-01 was a Thursday. */
static int weekday_of(int64_t days)
{
    return (int)(days - tz_floor_div(days + 4, 7) * 7 + 4);
}

/* ---- POSIX TZ rules ------------------------------------------------------ */

/* The day (since the epoch) on which RULE falls in YEAR. */
static int64_t rule_day(const tz_rule *r, int year)
{
    int64_t jan1 = tz_days_from_civil(year, 1, 1);
    switch (r->kind) {
    case RULE_JULIAN1:
        /* Jn never counts February 29. */
        return jan1 + r->n - 1 + (is_leap(year) && r->n >= 60 ? 1 : 0);
    case RULE_ZERO: return jan1 + r->n;
    case RULE_MONTH:
    default: {
        int64_t first = tz_days_from_civil(year, r->m, 1);
        int mday = 1 + (r->d - weekday_of(first) + 7) % 7 + (r->w - 1) * 7;
        while (mday > tz_days_in_month(year, r->m))
            mday -= 7;
        return first + mday - 1;
    }
    }
}

typedef struct rule_event {
    int64_t at;
    int year;
    int to_dst;
} rule_event;

/* The two changes of YEAR; a rule's time is local time before the change. */
static void year_events(const tz_footer *f, int year, rule_event ev[2])
{
    ev[0].at = rule_day(&f->start, year) * TZ_DAY + f->start.secs - f->std_off;
    ev[0].year = year;
    ev[0].to_dst = 1;
    ev[1].at = rule_day(&f->end, year) * TZ_DAY + f->end.secs - f->dst_off;
    ev[1].year = year;
    ev[1].to_dst = 0;
}

static int utc_year(int64_t t)
{
    int y;
    tz_civil_from_days(tz_floor_div(tz_clamp(t), TZ_DAY), &y, NULL, NULL);
    return y;
}

/* Whether the footer has daylight saving time in force at T. Changes are
 * ordered by instant, then by rule year, so that a permanent-DST rule such
 * as "EST5EDT,0/0,J365/25" (whose end meets next year's start) stays DST. */
static int footer_dst_at(const tz_footer *f, int64_t t)
{
    int y = utc_year(t);
    rule_event best = {INT64_MIN, 0, 0};
    int found = 0;
    for (int yy = y - 2; yy <= y + 1; yy++) {
        rule_event ev[2];
        year_events(f, yy, ev);
        for (int i = 0; i < 2; i++) {
            if (ev[i].at > t)
                continue;
            if (!found || ev[i].at > best.at || (ev[i].at == best.at && ev[i].year >= best.year)) {
                best = ev[i];
                found = 1;
            }
        }
    }
    return found && best.to_dst;
}

static int64_t footer_next_change(const tz_footer *f, int64_t t)
{
    int y = utc_year(t);
    int64_t best = INT64_MAX;
    for (int yy = y - 1; yy <= y + 2; yy++) {
        rule_event ev[2];
        year_events(f, yy, ev);
        for (int i = 0; i < 2; i++)
            if (ev[i].at > t && ev[i].at < best)
                best = ev[i].at;
    }
    return best;
}

/* ---- POSIX TZ string parser ------------------------------------------- */

static int parse_digits(const char **p, int maxdigits, int *out)
{
    int v = 0, n = 0;
    while (**p >= '0' && **p <= '9' && n < maxdigits) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0 || (**p >= '0' && **p <= '9'))
        return -1;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to MAXH; returns seconds, sign applied. */
static int parse_hms(const char **p, int maxh, int allow_sign, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (**p == '+' || **p == '-') {
        if (!allow_sign)
            return -1;
        sign = **p == '-' ? -1 : 1;
        (*p)++;
    }
    if (parse_digits(p, 3, &h) != 0 || h > maxh)
        return -1;
    if (**p == ':') {
        (*p)++;
        if (parse_digits(p, 2, &m) != 0 || m > 59)
            return -1;
        if (**p == ':') {
            (*p)++;
            if (parse_digits(p, 2, &s) != 0 || s > 59)
                return -1;
        }
    }
    *out = (int32_t)(sign * (h * 3600 + m * 60 + s));
    return 0;
}

static int is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_abbr(const char **p, char *out)
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '<') {
        s++;
        while (is_alpha(s[n]) || is_digit(s[n]) || s[n] == '+' || s[n] == '-')
            n++;
        if (s[n] != '>')
            return -1;
        *p = s + n + 1;
    } else {
        while (is_alpha(s[n]))
            n++;
        *p = s + n;
    }
    if (n < 3 || n >= TZ_ABBR_MAX)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

static int parse_rule(const char **p, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    if (**p == 'J') {
        (*p)++;
        r->kind = RULE_JULIAN1;
        if (parse_digits(p, 3, &r->n) != 0 || r->n < 1 || r->n > 365)
            return -1;
    } else if (**p == 'M') {
        (*p)++;
        r->kind = RULE_MONTH;
        if (parse_digits(p, 2, &r->m) != 0 || r->m < 1 || r->m > 12 || expect(p, '.') != 0 ||
            parse_digits(p, 1, &r->w) != 0 || r->w < 1 || r->w > 5 || expect(p, '.') != 0 ||
            parse_digits(p, 1, &r->d) != 0 || r->d > 6)
            return -1;
    } else {
        r->kind = RULE_ZERO;
        if (parse_digits(p, 3, &r->n) != 0 || r->n > 365)
            return -1;
    }
    r->secs = 2 * 3600;
    if (**p == '/') {
        (*p)++;
        if (parse_hms(p, 167, 1, &r->secs) != 0)
            return -1;
    }
    return 0;
}

/* POSIX offsets count hours west of Greenwich; ours count seconds east. */
static int parse_posix_offset(const char **p, int32_t *east)
{
    int32_t west;
    if (parse_hms(p, 24, 1, &west) != 0)
        return -1;
    *east = -west;
    return 0;
}

static int parse_footer(const char *s, tz_footer *f)
{
    memset(f, 0, sizeof *f);
    if (*s == '\0')
        return 0;
    f->present = 1;
    if (parse_abbr(&s, f->std_abbr) != 0 || parse_posix_offset(&s, &f->std_off) != 0)
        return -1;
    if (*s == '\0')
        return 0;
    f->has_dst = 1;
    if (parse_abbr(&s, f->dst_abbr) != 0)
        return -1;
    f->dst_off = f->std_off + 3600;
    if (*s != ',' && parse_posix_offset(&s, &f->dst_off) != 0)
        return -1;
    /* The rules are optional in POSIX, but TZif footers always carry them
     * and guessing them would be wrong somewhere. */
    if (expect(&s, ',') != 0 || parse_rule(&s, &f->start) != 0 || expect(&s, ',') != 0 ||
        parse_rule(&s, &f->end) != 0 || *s != '\0')
        return -1;
    return 0;
}

/* ---- zone lookups ------------------------------------------------------- */

/* Index of the last transition at or before t, or -1 before the first. */
static long last_transition_at(const tz *z, int64_t t)
{
    size_t lo = 0, hi = z->timecnt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

static int uses_footer(const tz *z, int64_t t)
{
    return z->footer.present && (z->timecnt == 0 || t > z->times[z->timecnt - 1]);
}

static int32_t offset_and_abbr(const tz *z, int64_t t, const char **abbrev)
{
    if (uses_footer(z, t)) {
        const tz_footer *f = &z->footer;
        int dst = f->has_dst && footer_dst_at(f, t);
        if (abbrev)
            *abbrev = dst ? f->dst_abbr : f->std_abbr;
        return dst ? f->dst_off : f->std_off;
    }
    long i = last_transition_at(z, t);
    /* RFC 8536 3.2: type 0 governs times before the first transition. */
    const tz_type *type = &z->types[i < 0 ? 0 : z->idx[i]];
    if (abbrev)
        *abbrev = z->chars + type->abbr;
    return type->utoff;
}

/* The first instant after T at which the zone's rules may change. */
static int64_t next_change(const tz *z, int64_t t)
{
    if (z->timecnt > 0 && t < z->times[z->timecnt - 1])
        return z->times[last_transition_at(z, t) + 1];
    if (z->footer.present && z->footer.has_dst)
        return footer_next_change(&z->footer, t);
    return INT64_MAX;
}

const char *tz_name(const tz *zone)
{
    return zone ? zone->name : "";
}

int tz_offset_at(const tz *zone, int64_t t, const char **abbrev)
{
    return (int)offset_and_abbr(zone, t, abbrev);
}

void tz_to_civil(const tz *zone, int64_t t, tz_civil *out)
{
    int64_t wall = tz_clamp(t) + offset_and_abbr(zone, tz_clamp(t), NULL);
    int64_t days = tz_floor_div(wall, TZ_DAY);
    int64_t secs = wall - days * TZ_DAY;
    tz_civil_from_days(days, &out->year, &out->month, &out->mday);
    out->hour = (int)(secs / 3600);
    out->minute = (int)(secs / 60 % 60);
    out->second = (int)(secs % 60);
    out->wday = weekday_of(days);
}

/*
 * The offset is piecewise constant between changes, so walk the changes
 * within two days of WALL (more than any offset) and, in each stretch, see
 * whether WALL minus that stretch's offset lands inside it.
 */
tz_wall_kind tz_wall_to_instant(const tz *zone, int64_t wall, int64_t *instant)
{
    wall = tz_clamp(wall);
    int64_t from = wall - 2 * TZ_DAY, to = wall + 2 * TZ_DAY;
    int64_t at = from, first = 0, gap_end = 0;
    int32_t off = offset_and_abbr(zone, at, NULL);
    int found = 0, have_gap = 0;
    for (int i = 0; i < TZ_SCAN_MAX && at <= to; i++) {
        int64_t change = next_change(zone, at);
        int64_t cand = wall - off;
        if (cand >= at && cand < change && found++ == 0)
            first = cand;
        if (change == INT64_MAX || change > to)
            break;
        int32_t next_off = offset_and_abbr(zone, change, NULL);
        if (!have_gap && change + off <= wall && wall < change + next_off) {
            have_gap = 1;
            gap_end = change;
        }
        at = change;
        off = next_off;
    }
    if (found) {
        *instant = first;
        return found > 1 ? TZ_WALL_AMBIGUOUS : TZ_WALL_EXACT;
    }
    *instant = have_gap ? gap_end : wall - offset_and_abbr(zone, wall, NULL);
    return TZ_WALL_GAP;
}

/* ---- TZif reader -------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p;
    size_t left;
} reader;

typedef struct tzif_header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_header;

static const unsigned char *take(reader *r, size_t n)
{
    if (n > r->left)
        return NULL;
    const unsigned char *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be_signed(const unsigned char *p, int size)
{
    if (size == 4) {
        uint32_t u = be32(p);
        return u > INT32_MAX ? (int64_t)u - ((int64_t)1 << 32) : (int64_t)u;
    }
    uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
    return u > INT64_MAX ? -(int64_t)(~u) - 1 : (int64_t)u;
}

static const char *read_header(reader *r, tzif_header *h)
{
    const unsigned char *p = take(r, 44);
    if (!p)
        return "it is shorter than a TZif header";
    if (memcmp(p, "TZif", 4) != 0)
        return "it does not start with the TZif magic";
    h->version = (char)p[4];
    if (h->version != '\0' && (h->version < '2' || h->version > '4'))
        return "its TZif version is unknown";
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return NULL;
}

static uint64_t block_size(const tzif_header *h, int tsize)
{
    return (uint64_t)h->timecnt * (uint64_t)(tsize + 1) + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (uint64_t)(tsize + 4) + h->isstdcnt + h->isutcnt;
}

static const char *check_counts(const tzif_header *h, const reader *r, int tsize)
{
    if (h->typecnt == 0 || h->typecnt > 256)
        return "its count of local time types is not 1-256";
    if (h->charcnt == 0)
        return "it has no abbreviation characters";
    if ((h->isstdcnt != 0 && h->isstdcnt != h->typecnt) ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt))
        return "its standard/UT indicator counts do not match its type count";
    if (block_size(h, tsize) > r->left)
        return "its counts describe more data than the file holds";
    return NULL;
}

static const char *read_types(reader *r, const tzif_header *h, tz *z)
{
    for (size_t i = 0; i < z->typecnt; i++) {
        const unsigned char *p = take(r, 6);
        int64_t utoff = be_signed(p, 4);
        if (utoff <= -TZ_OFF_LIMIT || utoff >= TZ_OFF_LIMIT)
            return "a UTC offset is beyond 26 hours";
        if (p[4] > 1)
            return "a DST indicator is not 0 or 1";
        if (p[5] >= h->charcnt)
            return "an abbreviation index is out of range";
        z->types[i].utoff = (int32_t)utoff;
        z->types[i].isdst = p[4];
        z->types[i].abbr = p[5];
    }
    return NULL;
}

static const char *read_block(reader *r, const tzif_header *h, int tsize, tz *z)
{
    const char *why = check_counts(h, r, tsize);
    if (why)
        return why;
    z->timecnt = h->timecnt;
    z->typecnt = h->typecnt;
    z->charcnt = h->charcnt;
    z->times = calloc(z->timecnt + 1, sizeof *z->times);
    z->idx = calloc(z->timecnt + 1, 1);
    z->types = calloc(z->typecnt, sizeof *z->types);
    z->chars = calloc(z->charcnt + 1, 1);
    if (!z->times || !z->idx || !z->types || !z->chars)
        return "out of memory";
    for (size_t i = 0; i < z->timecnt; i++) {
        z->times[i] = be_signed(take(r, (size_t)tsize), tsize);
        if (i > 0 && z->times[i] <= z->times[i - 1])
            return "its transition times are not ascending";
    }
    memcpy(z->idx, take(r, z->timecnt), z->timecnt);
    for (size_t i = 0; i < z->timecnt; i++)
        if (z->idx[i] >= z->typecnt)
            return "a transition names a local time type that does not exist";
    if ((why = read_types(r, h, z)) != NULL)
        return why;
    memcpy(z->chars, take(r, z->charcnt), z->charcnt);
    for (size_t i = 0; i < z->typecnt; i++)
        if (!memchr(z->chars + z->types[i].abbr, '\0', z->charcnt - z->types[i].abbr))
            return "an abbreviation is not NUL-terminated";
    take(r, (size_t)h->leapcnt * (size_t)(tsize + 4) + h->isstdcnt + h->isutcnt);
    return NULL;
}

static const char *read_footer(reader *r, tz *z)
{
    const unsigned char *nl = take(r, 1);
    if (!nl || *nl != '\n')
        return "its footer is missing";
    const unsigned char *end = memchr(r->p, '\n', r->left);
    if (!end)
        return "its footer is not terminated";
    size_t len = (size_t)(end - r->p);
    if (len > TZ_FOOTER_MAX)
        return "its footer is too long";
    char text[TZ_FOOTER_MAX + 1];
    memcpy(text, take(r, len + 1), len);
    text[len] = '\0';
    if (parse_footer(text, &z->footer) != 0)
        return "its footer is not a valid POSIX TZ string";
    return NULL;
}

static const char *parse_tzif(const unsigned char *buf, size_t len, tz *z)
{
    reader r = {buf, len};
    tzif_header h;
    const char *why = read_header(&r, &h);
    if (why)
        return why;
    if (h.version == '\0') {
        if (h.leapcnt != 0)
            return "it has leap seconds, which haechi does not use";
        return read_block(&r, &h, 4, z);
    }
    /* Version 2+: skip the 32-bit block for the 64-bit one that follows. */
    if (block_size(&h, 4) > r.left)
        return "its counts describe more data than the file holds";
    take(&r, (size_t)block_size(&h, 4));
    if ((why = read_header(&r, &h)) != NULL)
        return why;
    if (h.leapcnt != 0)
        return "it has leap seconds, which haechi does not use";
    if ((why = read_block(&r, &h, 8, z)) != NULL)
        return why;
    return read_footer(&r, z);
}

/* ---- loading ------------------------------------------------------------ */

static void zone_free(tz *z)
{
    if (!z)
        return;
    free(z->name);
    free(z->dir);
    free(z->times);
    free(z->idx);
    free(z->types);
    free(z->chars);
    free(z);
}

static int check_name(const char *name, char *err, size_t errlen)
{
    char shown[80];
    if (!name || !*name) {
        errmsg_set(err, errlen, "time zone name is empty");
        return -1;
    }
    errmsg_quote(name, 64, shown, sizeof shown);
    size_t len = strnlen(name, TZ_NAME_MAX + 1);
    if (len > TZ_NAME_MAX) {
        errmsg_set(err, errlen, "time zone name \"%s\" is longer than %d characters", shown,
                   TZ_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-' && c != '+' && c != '/') {
            errmsg_set(err, errlen,
                       "invalid time zone name \"%s\": only letters, digits, '_', '-', '+' "
                       "and '/' are allowed",
                       shown);
            return -1;
        }
        if (c == '/' && (i == 0 || i + 1 == len || name[i + 1] == '/')) {
            errmsg_set(err, errlen,
                       "invalid time zone name \"%s\": it must be a relative name such as "
                       "\"Asia/Seoul\"",
                       shown);
            return -1;
        }
    }
    return 0;
}

static unsigned char *read_file(int fd, size_t size, size_t *len)
{
    unsigned char *buf = malloc(size + 1);
    size_t got = 0;
    if (!buf)
        return NULL;
    /* One byte more than fstat promised tells a file that grew. */
    while (got < size + 1) {
        ssize_t n = read(fd, buf + got, size + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    *len = got;
    return buf;
}

static unsigned char *load_file(const char *name, const char *dir, const char *path, size_t *len,
                                char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            errmsg_set(err, errlen, "unknown time zone \"%s\" (no such zone in %s)", name, dir);
        else
            errmsg_set(err, errlen, "time zone \"%s\": cannot open %s: %s", name, path,
                       strerror(errno));
        return NULL;
    }
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) != 0)
        errmsg_set(err, errlen, "time zone \"%s\": cannot stat %s: %s", name, path,
                   strerror(errno));
    else if (S_ISDIR(st.st_mode))
        errmsg_set(err, errlen, "unknown time zone \"%s\" (a directory of zones in %s, not a zone)",
                   name, dir);
    else if (!S_ISREG(st.st_mode))
        errmsg_set(err, errlen, "unknown time zone \"%s\" (%s is not a regular file)", name, path);
    else if (st.st_size < 0 || (uint64_t)st.st_size > TZ_FILE_MAX)
        errmsg_set(err, errlen, "time zone \"%s\": %s is too large to be a TZif file", name, path);
    else if (!(buf = read_file(fd, (size_t)st.st_size, len)))
        errmsg_set(err, errlen, "time zone \"%s\": out of memory reading %s", name, path);
    else if (*len != (size_t)st.st_size) {
        errmsg_set(err, errlen, "time zone \"%s\": %s changed size while being read", name, path);
        free(buf);
        buf = NULL;
    }
    close(fd);
    return buf;
}

/* A new zone from the TZif bytes BUF, or NULL with the reason in *why. */
static tz *zone_parse(const unsigned char *buf, size_t len, const char *name, const char *dir,
                      const char **why)
{
    tz *z = calloc(1, sizeof *z);
    *why = "out of memory";
    if (z && (z->name = strdup(name)) && (z->dir = strdup(dir)))
        *why = parse_tzif(buf, len, z);
    if (*why) {
        zone_free(z);
        return NULL;
    }
    return z;
}

static tz *load_zone(const char *name, const char *dir, char *err, size_t errlen)
{
    char path[TZ_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        errmsg_set(err, errlen, "time zone \"%s\": the path under %s is too long", name, dir);
        return NULL;
    }
    size_t len = 0;
    unsigned char *buf = load_file(name, dir, path, &len, err, errlen);
    if (!buf)
        return NULL;
    const char *why;
    tz *z = zone_parse(buf, len, name, dir, &why);
    free(buf);
    if (!z)
        errmsg_set(err, errlen, "time zone \"%s\": %s is not usable: %s", name, path, why);
    return z;
}

tz *tz_from_tzif(const unsigned char *buf, size_t len, const char *name, char *err, size_t errlen)
{
    const char *why;
    tz *z = zone_parse(buf, len, name, "", &why);
    if (!z)
        errmsg_set(err, errlen, "time zone \"%s\" is not usable: %s", name, why);
    return z;
}

void tz_free(tz *zone)
{
    zone_free(zone);
}

static const char *tz_dir(void)
{
    const char *dir = getenv("TZDIR");
    return dir && *dir ? dir : TZ_DEFAULT_DIR;
}

void tz_each_name(void (*fn)(const char *name, void *arg), void *arg)
{
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/zone.tab", tz_dir());
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    /* zone.tab: country code, coordinates, zone name, comment; tab-separated. */
    while (fgets(line, sizeof line, f)) {
        char *save = NULL;
        if (line[0] == '#')
            continue;
        strtok_r(line, "\t\n", &save);
        strtok_r(NULL, "\t\n", &save);
        char *zone = strtok_r(NULL, "\t\n", &save);
        if (zone)
            fn(zone, arg);
    }
    fclose(f);
    fn("UTC", arg);
}

const tz *tz_get(const char *name, char *err, size_t errlen)
{
    if (check_name(name, err, errlen) != 0)
        return NULL;
    const char *dir = tz_dir();
    for (tz *z = tz_cache; z; z = z->next)
        if (strcmp(z->name, name) == 0 && strcmp(z->dir, dir) == 0)
            return z;
    tz *z = load_zone(name, dir, err, errlen);
    if (!z)
        return NULL;
    z->next = tz_cache;
    tz_cache = z;
    return z;
}
