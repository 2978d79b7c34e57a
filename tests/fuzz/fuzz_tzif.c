/*
 * fuzz_tzif.c - the TZif reader (RFC 8536) on any bytes, through
 * tz_from_tzif(); a zone that loads is then asked for offsets, civil times
 * and wall-to-instant conversions around its transitions and far out.
 */
#include "fuzz.h"

#include <stdlib.h>

#include "tz.h"

static void probe(const tz *z, int64_t t)
{
    tz_civil c;
    int64_t back;
    const char *abbr = NULL;
    tz_offset_at(z, t, &abbr);
    if (!abbr)
        abort(); /* every offset has an abbreviation */
    tz_to_civil(z, t, &c);
    tz_wall_to_instant(z, t, &back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    tz *z = tz_from_tzif(data, size, "fuzz", err, sizeof err);
    if (!z)
        return 0;
    static const int64_t at[] = {INT64_MIN,  -(1LL << 40), -1,         0,
                                 1584835200, 1711846800,   4102444800, INT64_MAX};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        probe(z, at[i]);
    /* Instants taken from the input itself land near its own transitions. */
    for (size_t i = 0; i + 8 <= size && i < 256; i += 8) {
        int64_t t = 0;
        for (int b = 0; b < 8; b++)
            t = (int64_t)((uint64_t)t << 8 | data[i + b]);
        probe(z, t);
    }
    tz_free(z);
    return 0;
}
