/*
 * errmsg.h - the one-line reasons that parsers write into a caller's
 * (char *err, size_t errlen) buffer.
 */
#ifndef HAECHI_ERRMSG_H
#define HAECHI_ERRMSG_H

#include <stddef.h>

/* Formats into ERR; a NULL or empty buffer means the caller does not want
 * the reason, so nothing is written. */
void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Copies at most MAX bytes of the NUL-terminated S into OUT so that it can
 * be quoted in a one-line message: bytes outside printable ASCII and '"'
 * become '?', and a cut is marked with "...". OUT is always terminated.
 */
void errmsg_quote(const char *s, size_t max, char *out, size_t outlen);

#endif
