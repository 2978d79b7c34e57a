/*
 * duration.h - spans written like "90s", "30m", "1h30m", "2d": one or more
 * number+unit pairs (d, h, m, s), largest unit first, each unit once.
 */
#ifndef HAECHI_DURATION_H
#define HAECHI_DURATION_H

#include <stddef.h>
#include <jansson.h>
#include <stdint.h>

/* Returns 0 and *seconds, or -1 with a reason in err. */
int duration_parse(const char *text, int64_t *seconds, char *err, size_t errlen);

/* A jcheck check for "expires_after" fields: a span of 1m to 30d. */
struct jcheck_ctx;
int duration_check_expiry(struct jcheck_ctx *cx, json_t *value, const char *path);

/* "1h30m" for 5400; "0s" for 0. */
void duration_format(int64_t seconds, char *buf, size_t len);

#endif
