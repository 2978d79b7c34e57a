/*
 * quiet.h - quiet hours: a daily local-time window in which a promotional
 * channel sends nothing (Korean law restricts advertising messages between
 * 21:00 and 08:00 without separate consent). A delivery that falls inside
 * waits for the window's end.
 */
#ifndef HAECHI_QUIET_H
#define HAECHI_QUIET_H

#include <jansson.h>
#include <stdint.h>

#include "jcheck.h"
#include "tz.h"

typedef struct quiet_hours {
    int on;
    int start_min, end_min; /* minutes after local midnight; start > end spans midnight */
} quiet_hours;

/* jcheck check functions for a "quiet_hours" field (JK_ANY): the value is
 * false, or {"start": "HH:MM", "end": "HH:MM"} with start != end; or, for
 * the alert channel, refused altogether. */
int quiet_check(jcheck_ctx *cx, json_t *value, const char *path);
int quiet_refuse_check(jcheck_ctx *cx, json_t *value, const char *path);

/* Reads a value that passed quiet_hours_field. */
void quiet_parse(const json_t *value, quiet_hours *out);

/* "21:00-08:00", or "off". */
void quiet_format(const quiet_hours *q, char *buf, size_t len);

/*
 * When instant T (seconds) falls inside Q in ZONE: returns 1 and sets
 * *until to the instant the window ends (in ZONE's local time, so a DST
 * change inside the window is honoured). Otherwise returns 0.
 */
int quiet_hold(const quiet_hours *q, const tz *zone, int64_t t, int64_t *until);

#endif
