/*
 * duration.c - "1h30m"-style spans.
 */
#include "duration.h"

#include <stdio.h>
#include <string.h>

#include "jcheck.h"

#define EXPIRY_MIN (60)
#define EXPIRY_MAX (30 * 86400)

static const struct {
    char unit;
    int64_t seconds;
} units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
#define NUNITS (sizeof units / sizeof units[0])

int duration_parse(const char *text, int64_t *seconds, char *err, size_t errlen)
{
    const char *p = text;
    size_t next_unit = 0;
    int64_t total = 0;

    if (!*p) {
        snprintf(err, errlen, "is empty: write a span such as \"30m\", \"1h\" or \"1h30m\"");
        return -1;
    }
    while (*p) {
        int64_t n = 0;
        const char *digits = p;
        while (*p >= '0' && *p <= '9') {
            if (n > 1000000) {
                snprintf(err, errlen, "\"%s\" is too long a span", text);
                return -1;
            }
            n = n * 10 + (*p++ - '0');
        }
        if (p == digits) {
            snprintf(err, errlen,
                     "\"%s\" is not a span: expected numbers with units d, h, m or s, "
                     "e.g. \"30m\" or \"1h30m\"",
                     text);
            return -1;
        }
        size_t u = 0;
        while (u < NUNITS && units[u].unit != *p)
            u++;
        if (*p == '\0') {
            snprintf(err, errlen, "\"%s\" has a number without a unit (d, h, m or s)", text);
            return -1;
        }
        if (u == NUNITS) {
            snprintf(err, errlen,
                     "\"%s\" is not a span: units are d (days), h (hours), m (minutes) and s "
                     "(seconds), written without spaces, e.g. \"6h\" or \"1h30m\"",
                     text);
            return -1;
        }
        if (u < next_unit) {
            snprintf(err, errlen,
                     "\"%s\" has unit '%c' out of place: use d, h, m, s in that order, "
                     "each once",
                     text, *p);
            return -1;
        }
        total += n * units[u].seconds;
        next_unit = u + 1;
        p++;
    }
    *seconds = total;
    return 0;
}

void duration_format(int64_t seconds, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (seconds <= 0) {
        snprintf(buf, len, "0s");
        return;
    }
    for (size_t i = 0; i < NUNITS && used < len; i++) {
        int64_t n = seconds / units[i].seconds;
        if (n == 0)
            continue;
        seconds -= n * units[i].seconds;
        int w = snprintf(buf + used, len - used, "%lld%c", (long long)n, units[i].unit);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

int duration_check_expiry(jcheck_ctx *cx, json_t *v, const char *path)
{
    int64_t secs;
    char why[256];
    if (duration_parse(json_string_value(v), &secs, why, sizeof why) != 0) {
        jcheck_error(cx, path, "duration", "%s", why);
        return -1;
    }
    if (secs < EXPIRY_MIN || secs > EXPIRY_MAX) {
        jcheck_error(cx, path, "range", "\"%s\" is out of range 1m-30d", json_string_value(v));
        return -1;
    }
    return 0;
}
