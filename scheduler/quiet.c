/*
 * quiet.c - quiet-hours windows in local time.
 */
#include "quiet.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int clock_minutes(const char *s)
{
    if (!s || strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

static int check_clock(jcheck_ctx *cx, json_t *v, const char *path)
{
    if (clock_minutes(json_string_value(v)) >= 0)
        return 0;
    jcheck_error(cx, path, "clock", "\"%s\" is not a time of day HH:MM between 00:00 and 23:59",
                 json_string_value(v));
    return -1;
}

static int check_window(jcheck_ctx *cx, json_t *obj, const char *path)
{
    if (strcmp(json_string_value(json_object_get(obj, "start")),
               json_string_value(json_object_get(obj, "end"))) == 0) {
        jcheck_error(cx, path, "range",
                     "start and end are the same time; to switch quiet "
                     "hours off write \"quiet_hours\": false");
        return -1;
    }
    return 0;
}

static const jfield window_fields[] = {
    {.name = "start", .kind = JK_STRING, .required = 1, .check = check_clock},
    {.name = "end", .kind = JK_STRING, .required = 1, .check = check_clock},
    {0}};
static const jobject window_shape = {.fields = window_fields, .check = check_window};
static const jfield window_object = {.kind = JK_OBJECT, .object = &window_shape};

int quiet_check(jcheck_ctx *cx, json_t *v, const char *path)
{
    if (json_is_false(v))
        return 0;
    if (json_is_object(v))
        return jcheck_value(cx, v, &window_object);
    jcheck_error(cx, path, "type",
                 "must be an object {\"start\": \"HH:MM\", \"end\": \"HH:MM\"} or false, not %s",
                 jcheck_type_name(v));
    return -1;
}

int quiet_refuse_check(jcheck_ctx *cx, json_t *v, const char *path)
{
    (void)v;
    jcheck_error(cx, path, "not-allowed",
                 "alert messages are never held by quiet hours; remove this field");
    return -1;
}

void quiet_parse(const json_t *value, quiet_hours *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(value))
        return;
    out->start_min = clock_minutes(json_string_value(json_object_get(value, "start")));
    out->end_min = clock_minutes(json_string_value(json_object_get(value, "end")));
    out->on = out->start_min >= 0 && out->end_min >= 0 && out->start_min != out->end_min;
}

void quiet_format(const quiet_hours *q, char *buf, size_t len)
{
    if (!q->on)
        snprintf(buf, len, "off");
    else
        snprintf(buf, len, "%02d:%02d-%02d:%02d", q->start_min / 60, q->start_min % 60,
                 q->end_min / 60, q->end_min % 60);
}

int quiet_hold(const quiet_hours *q, const tz *zone, int64_t t, int64_t *until)
{
    tz_civil c;
    if (!q->on)
        return 0;
    tz_to_civil(zone, t, &c);
    int m = c.hour * 60 + c.minute;
    int inside, ends_tomorrow;
    if (q->start_min < q->end_min) {
        inside = m >= q->start_min && m < q->end_min;
        ends_tomorrow = 0;
    } else {
        /* Spans midnight: before midnight the window ends tomorrow. */
        inside = m >= q->start_min || m < q->end_min;
        ends_tomorrow = m >= q->start_min;
    }
    if (!inside)
        return 0;
    int64_t day = tz_days_from_civil(c.year, c.month, c.mday) + ends_tomorrow;
    int64_t wall = day * 86400 + (int64_t)q->end_min * 60;
    tz_wall_to_instant(zone, wall, until);
    return 1;
}
