/*
 * numparse.c - strict whole numbers (numparse.h).
 */
#include "numparse.h"

#include <limits.h>
#include <stdio.h>

num_status numparse_whole(const char *text, long long min, long long max, long long *out)
{
    long long x = 0;
    int range = 0;
    if (!text || !*text || (text[0] == '0' && text[1]))
        return NUM_SYNTAX;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return NUM_SYNTAX;
        if (x > (LLONG_MAX - (*p - '0')) / 10)
            range = 1; /* keep checking the syntax: "9999x" is a syntax error */
        else
            x = x * 10 + (*p - '0');
    }
    if (range || x < min || x > max)
        return NUM_RANGE;
    *out = x;
    return NUM_OK;
}

void numparse_rule(long long min, long long max, char *buf, size_t len)
{
    snprintf(buf, len, "a whole number %lld-%lld in digits only (no sign, spaces or leading zeros)",
             min, max);
}
