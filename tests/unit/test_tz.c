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
#include "timeoracle.h"
#include "tz.h"

static const char *zoneinfo_dir(void)
{
    const char *dir = getenv("TZDIR");
    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

/* The real tzdata, remembered before the tests point TZDIR elsewhere. */
static char real_dir[512];

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
    {"", "time zone name is empty", NULL},
    {"../etc/passwd",
     "invalid time zone name \"../etc/passwd\": only letters, digits, '_', "
     "'-', '+' and '/' are allowed",
     NULL},
    {"/etc/passwd",
     "invalid time zone name \"/etc/passwd\": it must be a relative name such "
     "as \"Asia/Seoul\"",
     NULL},
    {"Asia//Seoul",
     "invalid time zone name \"Asia//Seoul\": it must be a relative name such "
     "as \"Asia/Seoul\"",
     NULL},
    {"Asia/Seoul/",
     "invalid time zone name \"Asia/Seoul/\": it must be a relative name such "
     "as \"Asia/Seoul\"",
     NULL},
    {"Asia/Seoul\n",
     "invalid time zone name \"Asia/Seoul?\": only letters, digits, '_', '-', "
     "'+' and '/' are allowed",
     NULL},
    {"zone1970.tab",
     "invalid time zone name \"zone1970.tab\": only letters, digits, '_', "
     "'-', '+' and '/' are allowed",
     NULL},
    {"Asia/Se oul",
     "invalid time zone name \"Asia/Se oul\": only letters, digits, '_', '-', "
     "'+' and '/' are allowed",
     NULL},
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

/* ---- synthesized TZif files --------------------------------------------- */

typedef struct bytes {
    unsigned char data[16384];
    size_t len;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (n > 0 && n <= sizeof b->data - b->len) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

static void put32(bytes *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(b, p, 4);
}

static void put64(bytes *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

typedef struct zone_spec {
    char version; /* '\0' for version 1, else '2', '3' */
    size_t ntimes;
    const int64_t *times;
    const uint8_t *idx;
    size_t ntypes;
    const int32_t *utoff;
    const uint8_t *isdst;
    const uint8_t *abbr;
    const char *chars;
    size_t nchars;
    uint32_t leapcnt, isstdcnt;
    const char *footer; /* version 2+; NULL leaves it out */
} zone_spec;

static void put_header(bytes *b, const zone_spec *z)
{
    unsigned char head[20] = {'T', 'Z', 'i', 'f', (unsigned char)z->version};
    put(b, head, sizeof head);
    put32(b, 0); /* isutcnt */
    put32(b, z->isstdcnt);
    put32(b, z->leapcnt);
    put32(b, (uint32_t)z->ntimes);
    put32(b, (uint32_t)z->ntypes);
    put32(b, (uint32_t)z->nchars);
}

static void put_block(bytes *b, const zone_spec *z, int tsize)
{
    for (size_t i = 0; i < z->ntimes; i++) {
        if (tsize == 4)
            put32(b, (uint32_t)(int32_t)z->times[i]);
        else
            put64(b, (uint64_t)z->times[i]);
    }
    put(b, z->idx, z->ntimes);
    for (size_t i = 0; i < z->ntypes; i++) {
        put32(b, (uint32_t)z->utoff[i]);
        put(b, &z->isdst[i], 1);
        put(b, &z->abbr[i], 1);
    }
    put(b, z->chars, z->nchars);
    for (uint32_t i = 0; i < z->leapcnt; i++) {
        if (tsize == 4)
            put32(b, 78796800);
        else
            put64(b, 78796800);
        put32(b, 1);
    }
    for (uint32_t i = 0; i < z->isstdcnt; i++)
        put(b, "\0", 1);
}

static void build(bytes *b, const zone_spec *z)
{
    b->len = 0;
    put_header(b, z);
    put_block(b, z, 4);
    if (z->version == '\0')
        return;
    put_header(b, z);
    put_block(b, z, 8);
    if (z->footer) {
        put(b, "\n", 1);
        put(b, z->footer, strlen(z->footer));
        put(b, "\n", 1);
    }
}

static const int32_t one_utoff[] = {0};
static const uint8_t one_isdst[] = {0};
static const uint8_t one_abbr[] = {0};

/* A zone with no transitions: the footer alone says everything. */
static zone_spec footer_zone(const char *footer)
{
    zone_spec z = {'2', 0, NULL, NULL, 1, one_utoff, one_isdst, one_abbr, "LMT", 4, 0, 0, footer};
    return z;
}

/* New York's 2021 changes, EST then EDT then EST. */
static const int64_t ny_times[] = {1615705200, 1636264800};
static const uint8_t ny_idx[] = {1, 0};
static const int32_t ny_utoff[] = {-18000, -14400};
static const uint8_t ny_isdst[] = {0, 1};
static const uint8_t ny_abbr[] = {0, 4};

static zone_spec ny_zone(char version, const char *footer)
{
    zone_spec z = {version, 2,          ny_times, ny_idx, 2, ny_utoff, ny_isdst,
                   ny_abbr, "EST\0EDT", 8,        0,      0, footer};
    return z;
}

static char tmpdir[256];
static char made[256][32]; /* files and directories to remove at the end */
static size_t nmade;

static void remember(const char *name)
{
    for (size_t i = 0; i < nmade; i++)
        if (strcmp(made[i], name) == 0)
            return;
    if (nmade < sizeof made / sizeof made[0])
        snprintf(made[nmade++], sizeof made[0], "%s", name);
    else
        check_fail(__FILE__, __LINE__, "too many temporary files to remember");
}

static int write_zone(const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = len ? fwrite(data, 1, len, f) : 0;
    int rc = fclose(f);
    remember(name);
    return n == len && rc == 0 ? 0 : -1;
}

static void remove_made(void)
{
    char path[512];
    for (size_t i = nmade; i-- > 0;) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, made[i]);
        if (unlink(path) != 0 && (errno == EISDIR || errno == EPERM))
            rmdir(path);
    }
    rmdir(tmpdir);
}

static int make_tmpdir(void)
{
    const char *base = getenv("HAECHI_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/tz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    return setenv("TZDIR", tmpdir, 1);
}

/* Loads NAME from the temporary TZDIR; NULL means it was refused. */
static const tz *load(const char *name, char *err, size_t errlen)
{
    err[0] = '\0';
    return tz_get(name, err, errlen);
}

struct footer_row {
    const char *footer, *at;
    int offset;
    const char *abbr;
};

static const struct footer_row footer_rows[] = {
    {"EST5EDT,M3.2.0,M11.1.0", "2021-03-14T06:59:59Z", -18000, "EST"},
    {"EST5EDT,M3.2.0,M11.1.0", "2021-03-14T07:00:00Z", -14400, "EDT"},
    {"EST5EDT,M3.2.0,M11.1.0", "2021-11-07T05:59:59Z", -14400, "EDT"},
    {"EST5EDT,M3.2.0,M11.1.0", "2021-11-07T06:00:00Z", -18000, "EST"},
    {"CET-1CEST,M3.5.0,M10.5.0/3", "2021-03-28T00:59:59Z", 3600, "CET"},
    {"CET-1CEST,M3.5.0,M10.5.0/3", "2021-03-28T01:00:00Z", 7200, "CEST"},
    {"CET-1CEST,M3.5.0,M10.5.0/3", "2021-10-31T00:59:59Z", 7200, "CEST"},
    {"CET-1CEST,M3.5.0,M10.5.0/3", "2021-10-31T01:00:00Z", 3600, "CET"},
    {"<+0330>-3:30", "2021-06-01T00:00:00Z", 12600, "+0330"},
    {"KST-9", "2021-06-01T00:00:00Z", 32400, "KST"},
    {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2030-03-31T00:59:59Z", -7200, "-02"},
    {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2030-03-31T01:00:00Z", -3600, "-01"},
    {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2030-10-27T00:59:59Z", -3600, "-01"},
    {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2030-10-27T01:00:00Z", -7200, "-02"},
    /* Jn never counts February 29: J60 is March 1 and J300 October 27 */
    {"AAA3BBB,J60/2,J300/2", "2023-03-01T04:59:59Z", -10800, "AAA"},
    {"AAA3BBB,J60/2,J300/2", "2023-03-01T05:00:00Z", -7200, "BBB"},
    {"AAA3BBB,J60/2,J300/2", "2024-02-29T12:00:00Z", -10800, "AAA"},
    {"AAA3BBB,J60/2,J300/2", "2024-03-01T04:59:59Z", -10800, "AAA"},
    {"AAA3BBB,J60/2,J300/2", "2024-03-01T05:00:00Z", -7200, "BBB"},
    {"AAA3BBB,J60/2,J300/2", "2024-10-27T03:59:59Z", -7200, "BBB"},
    {"AAA3BBB,J60/2,J300/2", "2024-10-27T04:00:00Z", -10800, "AAA"},
    /* n counts from 0 (January 1) and does count February 29; glibc agrees,
     * Python's zoneinfo is a day early here */
    {"AAA3BBB,59/2,299/2", "2023-02-28T12:00:00Z", -10800, "AAA"},
    {"AAA3BBB,59/2,299/2", "2023-03-01T05:00:00Z", -7200, "BBB"},
    {"AAA3BBB,59/2,299/2", "2024-02-29T04:59:59Z", -10800, "AAA"},
    {"AAA3BBB,59/2,299/2", "2024-02-29T05:00:00Z", -7200, "BBB"},
    {"AAA3BBB,59/2,299/2", "2023-10-27T03:59:59Z", -7200, "BBB"},
    {"AAA3BBB,59/2,299/2", "2024-10-26T04:00:00Z", -10800, "AAA"},
    /* TZif v3: rule times beyond 24 hours and below zero */
    {"AAA5BBB,M3.2.0/26,M11.1.0/-3", "2021-03-15T06:59:59Z", -18000, "AAA"},
    {"AAA5BBB,M3.2.0/26,M11.1.0/-3", "2021-03-15T07:00:00Z", -14400, "BBB"},
    {"AAA5BBB,M3.2.0/26,M11.1.0/-3", "2021-11-07T00:59:59Z", -14400, "BBB"},
    {"AAA5BBB,M3.2.0/26,M11.1.0/-3", "2021-11-07T01:00:00Z", -18000, "AAA"},
    /* permanent DST: the end of one year meets the start of the next */
    {"EST5EDT,0/0,J365/25", "2021-01-01T00:00:00Z", -14400, "EDT"},
    {"EST5EDT,0/0,J365/25", "2021-06-01T00:00:00Z", -14400, "EDT"},
    {"EST5EDT,0/0,J365/25", "2022-01-01T04:59:59Z", -14400, "EDT"},
    {"EST5EDT,0/0,J365/25", "2022-01-01T05:00:00Z", -14400, "EDT"},
    /* southern hemisphere: DST spans the new year */
    {"AEST-10AEDT,M10.1.0,M4.1.0/3", "2021-01-15T00:00:00Z", 39600, "AEDT"},
    {"AEST-10AEDT,M10.1.0,M4.1.0/3", "2021-04-03T15:59:59Z", 39600, "AEDT"},
    {"AEST-10AEDT,M10.1.0,M4.1.0/3", "2021-04-03T16:00:00Z", 36000, "AEST"},
    {"AEST-10AEDT,M10.1.0,M4.1.0/3", "2021-10-02T15:59:59Z", 36000, "AEST"},
    {"AEST-10AEDT,M10.1.0,M4.1.0/3", "2021-10-02T16:00:00Z", 39600, "AEDT"},
    /* two-hour DST */
    {"<+00>0<+02>-2,M3.5.0/1,M10.5.0/3", "2021-03-28T00:59:59Z", 0, "+00"},
    {"<+00>0<+02>-2,M3.5.0/1,M10.5.0/3", "2021-03-28T01:00:00Z", 7200, "+02"},
    {"<+00>0<+02>-2,M3.5.0/1,M10.5.0/3", "2021-10-31T00:59:59Z", 7200, "+02"},
    {"<+00>0<+02>-2,M3.5.0/1,M10.5.0/3", "2021-10-31T01:00:00Z", 0, "+00"},
};

static void footer_table(void)
{
    for (size_t i = 0; i < sizeof footer_rows / sizeof footer_rows[0]; i++) {
        const struct footer_row *r = &footer_rows[i];
        char name[128], zname[32], why[700] = "", err[512];
        bytes b;
        snprintf(name, sizeof name, "footer \"%s\" at %s", r->footer, r->at);
        /* One file per row: a loaded zone is cached under its name. */
        snprintf(zname, sizeof zname, "Footer%zu", i);
        zone_spec z = footer_zone(r->footer);
        build(&b, &z);
        const tz *zone = NULL;
        if (write_zone(zname, b.data, b.len) != 0)
            snprintf(why, sizeof why, "cannot write %s", zname);
        else if (!(zone = load(zname, err, sizeof err)))
            snprintf(why, sizeof why, "load: %s", err);
        if (zone) {
            const char *abbr = NULL;
            int off = tz_offset_at(zone, utc(r->at), &abbr);
            if (off != r->offset || !abbr || strcmp(abbr, r->abbr) != 0)
                snprintf(why, sizeof why, "got %d %s, want %d %s", off, abbr ? abbr : "(null)",
                         r->offset, r->abbr);
        }
        check_row(name, why[0] == '\0', why);
    }
}

static void footer_walls(void)
{
    char err[512];
    bytes b;
    zone_spec z = footer_zone("AAA5BBB,M3.2.0/26,M11.1.0/-3");
    build(&b, &z);
    CHECK_INT(write_zone("Late", b.data, b.len), 0);
    const tz *late = load("Late", err, sizeof err);
    CHECK(late != NULL);
    z = footer_zone("EST5EDT,0/0,J365/25");
    build(&b, &z);
    CHECK_INT(write_zone("AlwaysDst", b.data, b.len), 0);
    const tz *always = load("AlwaysDst", err, sizeof err);
    CHECK(always != NULL);
    if (!late || !always)
        return;
    int64_t at;
    /* The gap is Monday 02:00-03:00 local, the repeat Saturday 20:00-21:00. */
    CHECK_INT(tz_wall_to_instant(late, wall("2021-03-15 02:30:00"), &at), TZ_WALL_GAP);
    CHECK_INT(at, utc("2021-03-15T07:00:00Z"));
    CHECK_INT(tz_wall_to_instant(late, wall("2021-11-06 20:30:00"), &at), TZ_WALL_AMBIGUOUS);
    CHECK_INT(at, utc("2021-11-07T00:30:00Z"));
    CHECK_INT(tz_wall_to_instant(late, wall("2021-11-06 21:00:00"), &at), TZ_WALL_EXACT);
    CHECK_INT(at, utc("2021-11-07T02:00:00Z"));
    /* Rule changes that keep the offset leave no gap and no repeat. */
    CHECK_INT(tz_wall_to_instant(always, wall("2022-01-01 00:30:00"), &at), TZ_WALL_EXACT);
    CHECK_INT(at, utc("2022-01-01T04:30:00Z"));
}

static void explicit_transitions(void)
{
    char err[512];
    bytes b;
    zone_spec v1 = ny_zone('\0', NULL);
    build(&b, &v1);
    CHECK_INT(write_zone("Version1", b.data, b.len), 0);
    zone_spec v2 = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    build(&b, &v2);
    CHECK_INT(write_zone("Version2", b.data, b.len), 0);
    zone_spec v3 = ny_zone('3', "");
    build(&b, &v3);
    CHECK_INT(write_zone("Version3", b.data, b.len), 0);
    const tz *z1 = load("Version1", err, sizeof err);
    CHECK(z1 != NULL);
    const tz *z2 = load("Version2", err, sizeof err);
    CHECK(z2 != NULL);
    const tz *z3 = load("Version3", err, sizeof err);
    CHECK(z3 != NULL);
    if (!z1 || !z2 || !z3)
        return;
    const char *abbr;
    CHECK_INT(tz_offset_at(z1, utc("2000-01-01T00:00:00Z"), &abbr), -18000);
    CHECK_INT(tz_offset_at(z1, utc("2021-06-01T00:00:00Z"), &abbr), -14400);
    CHECK_STR(abbr, "EDT");
    CHECK_INT(tz_offset_at(z1, utc("2021-12-01T00:00:00Z"), &abbr), -18000);
    CHECK_STR(abbr, "EST");
    /* No footer: the last type goes on for ever. */
    CHECK_INT(tz_offset_at(z1, utc("2030-07-01T00:00:00Z"), NULL), -18000);
    CHECK_INT(tz_offset_at(z3, utc("2030-07-01T00:00:00Z"), NULL), -18000);
    /* With one, the rule takes over after the last transition. */
    CHECK_INT(tz_offset_at(z2, utc("2030-07-01T00:00:00Z"), &abbr), -14400);
    CHECK_STR(abbr, "EDT");
    int64_t at;
    CHECK_INT(tz_wall_to_instant(z1, wall("2021-03-14 02:30:00"), &at), TZ_WALL_GAP);
    CHECK_INT(at, utc("2021-03-14T07:00:00Z"));
    CHECK_INT(tz_wall_to_instant(z2, wall("2030-11-03 01:30:00"), &at), TZ_WALL_AMBIGUOUS);
    CHECK_INT(at, utc("2030-11-03T05:30:00Z"));
}

static int refused_with(const char *name, const void *data, size_t len, const char *reason)
{
    char err[512];
    if (write_zone(name, data, len) != 0)
        return 0;
    const tz *z = load(name, err, sizeof err);
    if (z) {
        check_fail(__FILE__, __LINE__, "%s was accepted", name);
        return 0;
    }
    if (!strstr(err, reason) || strchr(err, '\n') || strncmp(err, "time zone \"", 11) != 0) {
        check_fail(__FILE__, __LINE__, "%s: error \"%s\" lacks \"%s\"", name, err, reason);
        return 0;
    }
    return 1;
}

struct bad_spec {
    const char *name, *reason;
};

/* Each hand-made defect, one at a time, in an otherwise good file. */
static void corrupt_specs(void)
{
    bytes b;
    zone_spec z;
    static const int64_t down[] = {1636264800, 1615705200};
    static const uint8_t bad_idx[] = {1, 5};
    static const int32_t big_off[] = {-18000, 100000};
    static const uint8_t two[] = {0, 2};
    static const uint8_t far_abbr[] = {0, 200};
    static const uint8_t mid_abbr[] = {0, 3};

    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.ntypes = 0;
    build(&b, &z);
    CHECK(refused_with("ZeroTypes", b.data, b.len, "count of local time types is not 1-256"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.times = down;
    build(&b, &z);
    CHECK(refused_with("Descending", b.data, b.len, "transition times are not ascending"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.idx = bad_idx;
    build(&b, &z);
    CHECK(refused_with("BadIndex", b.data, b.len, "local time type that does not exist"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.utoff = big_off;
    build(&b, &z);
    CHECK(refused_with("BigOffset", b.data, b.len, "beyond 26 hours"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.isdst = two;
    build(&b, &z);
    CHECK(refused_with("DstTwo", b.data, b.len, "DST indicator is not 0 or 1"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.abbr = far_abbr;
    build(&b, &z);
    CHECK(refused_with("FarAbbr", b.data, b.len, "abbreviation index is out of range"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.abbr = mid_abbr;
    z.chars = "ESTEDT";
    z.nchars = 6;
    build(&b, &z);
    CHECK(refused_with("NoNul", b.data, b.len, "not NUL-terminated"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.nchars = 0;
    build(&b, &z);
    CHECK(refused_with("NoChars", b.data, b.len, "no abbreviation characters"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.isstdcnt = 3;
    build(&b, &z);
    CHECK(refused_with("StdCount", b.data, b.len, "indicator counts do not match"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    z.leapcnt = 1;
    build(&b, &z);
    CHECK(refused_with("Leap", b.data, b.len, "leap seconds"));
    z = ny_zone('2', NULL);
    build(&b, &z);
    CHECK(refused_with("NoFooter", b.data, b.len, "footer is missing"));
    z = ny_zone('2', "EST5EDT,M3.2.0,M11.1.0");
    build(&b, &z);
    b.len--; /* drop the closing newline */
    CHECK(refused_with("Unterminated", b.data, b.len, "footer is not terminated"));
    char longfooter[300];
    memset(longfooter, 'A', sizeof longfooter - 1);
    longfooter[sizeof longfooter - 1] = '\0';
    z = ny_zone('2', longfooter);
    build(&b, &z);
    CHECK(refused_with("LongFooter", b.data, b.len, "footer is too long"));
}

static void bad_footers(void)
{
    static const char *const bad[] = {
        "EST5EDT",
        "ES5",
        "EST25",
        "EST",
        "<EST5",
        "<E>5",
        "EST5:60",
        "EST5EDT,M13.1.0,M11.1.0",
        "EST5EDT,M3.6.0,M11.1.0",
        "EST5EDT,M3.2.7,M11.1.0",
        "EST5EDT,J0,J365",
        "EST5EDT,366,J1",
        "EST5EDT,M3.2.0/168,M11.1.0",
        "EST5EDT,M3.2.0/2:60,M11.1.0",
        "EST5EDT,M3.2.0",
        "EST5EDT,M3.2.0,M11.1.0,",
        "EST5EDT,M3.2.0,M11.1.0 ",
        "EST5EDT4,M3.2.0,M11.1.0x",
        "EST 5",
        "EST5EDT,M3..0,M11.1.0",
        "EST-5\x01",
        "AVERYLONGABBREVIATION5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char zname[32];
        bytes b;
        snprintf(zname, sizeof zname, "BadFooter%zu", i);
        zone_spec z = footer_zone(bad[i]);
        build(&b, &z);
        if (!refused_with(zname, b.data, b.len, "footer is not a valid POSIX TZ string"))
            check_fail(__FILE__, __LINE__, "footer \"%s\" was not refused", bad[i]);
    }
}

static size_t read_real(const char *name, unsigned char *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", real_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void corrupt_real_files(void)
{
    static unsigned char real[16384], copy[16384];
    size_t len = read_real("America/New_York", real, sizeof real);
    CHECK(len > 1000);
    if (len <= 1000)
        return;
    /* The untouched copy loads. */
    char err[512];
    CHECK_INT(write_zone("Copy", real, len), 0);
    CHECK(load("Copy", err, sizeof err) != NULL);
    CHECK(refused_with("Empty", real, 0, "shorter than a TZif header"));
    memcpy(copy, real, len);
    copy[0] = 'X';
    CHECK(refused_with("BadMagic", copy, len, "does not start with the TZif magic"));
    memcpy(copy, real, len);
    copy[4] = '9';
    CHECK(refused_with("BadVersion", copy, len, "TZif version is unknown"));
    memcpy(copy, real, len);
    memset(copy + 32, 0xff, 4); /* version 1 timecnt */
    CHECK(refused_with("Absurd", copy, len, "describe more data than the file holds"));
    /* The same in the 64-bit header, which sits after the 32-bit block. */
    memcpy(copy, real, len);
    size_t v1 = 44;
    {
        uint32_t c[6];
        for (int i = 0; i < 6; i++)
            c[i] = (uint32_t)real[20 + 4 * i] << 24 | (uint32_t)real[21 + 4 * i] << 16 |
                   (uint32_t)real[22 + 4 * i] << 8 | real[23 + 4 * i];
        v1 += (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
    }
    CHECK(v1 + 44 < len);
    CHECK(memcmp(copy + v1, "TZif", 4) == 0);
    memset(copy + v1 + 32, 0x7f, 4);
    CHECK(refused_with("AbsurdV2", copy, len, "describe more data than the file holds"));
    memcpy(copy, real, len);
    memset(copy + v1 + 36, 0, 4); /* typecnt 0 */
    CHECK(refused_with("NoTypesV2", copy, len, "count of local time types is not 1-256"));
}

/* Every proper prefix of a real file must be refused, cleanly. */
static void truncated_everywhere(void)
{
    static unsigned char real[16384];
    size_t len = read_real("America/New_York", real, sizeof real);
    CHECK(len > 1000);
    char err[512];
    size_t refused = 0;
    for (size_t n = 0; n < len; n++) {
        if (write_zone("Cut", real, n) != 0)
            break;
        if (!load("Cut", err, sizeof err) && strstr(err, "is not usable: "))
            refused++;
    }
    CHECK_INT(refused, len);
}

/* Random damage must never crash or over-read, loaded or not. */
static void fuzzed_files(void)
{
    static unsigned char real[16384], copy[16384];
    size_t len = read_real("Europe/Berlin", real, sizeof real);
    CHECK(len > 1000);
    if (len <= 1000)
        return;
    uint32_t seed = 12345;
    int loaded = 0;
    for (int round = 0; round < 600; round++) {
        memcpy(copy, real, len);
        int flips = 1 + round % 4;
        for (int i = 0; i < flips; i++) {
            seed = seed * 1103515245u + 12345u;
            /* Aim at the headers and counts half the time. */
            size_t at = (seed >> 8) % (round % 2 ? len : 120);
            copy[at] ^= (unsigned char)(1u << ((seed >> 4) % 8));
        }
        char zname[32], err[512];
        snprintf(zname, sizeof zname, "Fuzz%d", round);
        if (write_zone("Fuzz", copy, len) != 0)
            break;
        /* A fresh name each round, as loaded zones are cached by name. */
        char from[512], to[512];
        snprintf(from, sizeof from, "%s/Fuzz", tmpdir);
        snprintf(to, sizeof to, "%s/%s", tmpdir, zname);
        if (rename(from, to) != 0)
            break;
        const tz *z = load(zname, err, sizeof err);
        unlink(to);
        if (!z)
            continue;
        loaded++;
        for (int64_t t = -3000000000LL; t < 5000000000LL; t += 123456789) {
            tz_civil c;
            int64_t at;
            tz_to_civil(z, t, &c);
            tz_wall_to_instant(z, t, &at);
        }
    }
    CHECK(loaded > 0);
}

static void special_files(void)
{
    char err[512], path[512], want[700];
    snprintf(path, sizeof path, "%s/Sub", tmpdir);
    CHECK_INT(mkdir(path, 0700), 0);
    remember("Sub");
    CHECK(load("Sub", err, sizeof err) == NULL);
    snprintf(want, sizeof want,
             "unknown time zone \"Sub\" (a directory of zones in %s, not a zone)", tmpdir);
    CHECK_STR(err, want);
    /* A FIFO would block a plain open; it must be refused at once. */
    snprintf(path, sizeof path, "%s/Fifo", tmpdir);
    if (mkfifo(path, 0600) == 0) {
        remember("Fifo");
        CHECK(load("Fifo", err, sizeof err) == NULL);
        CHECK(strstr(err, "is not a regular file") != NULL);
    }
    CHECK(load("UTC", err, sizeof err) == NULL);
    snprintf(want, sizeof want, "unknown time zone \"UTC\" (no such zone in %s)", tmpdir);
    CHECK_STR(err, want);
}

int main(void)
{
    snprintf(real_dir, sizeof real_dir, "%s", zoneinfo_dir());
    offset_table();
    wall_table();
    name_table();
    RUN(civil_times);
    RUN(calendar);
    RUN(names_misc);
    if (make_tmpdir() != 0) {
        check_row("temporary TZDIR", 0, "cannot make a temporary directory");
        return check_exit_status();
    }
    footer_table();
    RUN(footer_walls);
    RUN(explicit_transitions);
    RUN(corrupt_specs);
    RUN(bad_footers);
    RUN(corrupt_real_files);
    RUN(truncated_everywhere);
    RUN(fuzzed_files);
    RUN(special_files);
    remove_made();
    unsetenv("TZDIR");
    return check_exit_status();
}
