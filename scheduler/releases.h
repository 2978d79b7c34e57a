/*
 * releases.h - a campaign's releases as people read them: each firing
 * (past or upcoming) with its due and fire times and the state of each of
 * its channels, plus counts by state. Built from haechi_releases's reply.
 */
#ifndef HAECHI_RELEASES_H
#define HAECHI_RELEASES_H

#include <hiredis/hiredis.h>
#include <jansson.h>

/*
 * {"status", "timezone", "releases": [{"release", "due", "fired", "late_ms",
 *  "channels": {CH: {"state", "reason", "attempts", ...}}}], "counts": {state: n}}
 * in due order. New reference, or NULL for a reply of the wrong shape.
 */
json_t *releases_to_json(redisReply *reply);

#endif
