/*
 * numparse.h - the one strict reader of whole numbers that come as text
 * (query parameters): ASCII digits only, no sign, no spaces, no leading
 * zeros, no overflow. strtoll() takes "+1", " 1" and "1x" and clamps
 * "99999999999999999999"; none of those is a number here.
 */
#ifndef HAECHI_NUMPARSE_H
#define HAECHI_NUMPARSE_H

#include <stddef.h>

typedef enum num_status {
    NUM_OK,
    NUM_SYNTAX, /* empty, or not digits only, or a leading zero */
    NUM_RANGE   /* digits, but outside [min, max] */
} num_status;

/* Reads TEXT into *out when it is a whole number in [MIN, MAX] (MIN >= 0). */
num_status numparse_whole(const char *text, long long min, long long max, long long *out);

/* "version must be a whole number 1-1000 ..." for the caller's message. */
void numparse_rule(long long min, long long max, char *buf, size_t len);

#endif
