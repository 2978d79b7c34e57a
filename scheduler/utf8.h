/*
 * utf8.h - UTF-8 checks (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF) and character counts for length rules.
 */
#ifndef HAECHI_UTF8_H
#define HAECHI_UTF8_H

#include <stddef.h>

/* 1 when s[0..len) is valid UTF-8; else 0 and *bad_offset gets the offset
 * of the first byte of the first invalid sequence. */
int utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Code points in a valid UTF-8 string. */
size_t utf8_length(const char *s);

/* 1-based line and column (in code points) of byte OFFSET in s. */
void utf8_position(const char *s, size_t offset, int *line, int *column);

#endif
