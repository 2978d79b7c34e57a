/*
 * fuzz_cron.c - cron_parse() on any text, and cron_next() on what parses:
 * the next firings in UTC and in a zone with DST, from instants before the
 * epoch to the clamp, must come out strictly later each time.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "cron.h"

static void walk(const cron_expr *e, const tz *zone, int64_t from)
{
    int64_t at = from;
    for (int i = 0; i < 8; i++) {
        int64_t next;
        if (cron_next(e, zone, at, at + 400LL * 86400, &next) != 0)
            return;
        if (next <= at)
            abort(); /* cron_next promises strictly after */
        at = next;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cron_expr e;
    char err[256];
    if (cron_parse(text, &e, err, sizeof err) == 0) {
        walk(&e, tz_get("UTC", NULL, 0), 1584835200);
        walk(&e, tz_get("America/New_York", NULL, 0), 1583020800);
        walk(&e, tz_get("Asia/Seoul", NULL, 0), -86400);
    } else if (err[0] == '\0') {
        abort(); /* every refusal says why */
    }
    free(text);
    return 0;
}
