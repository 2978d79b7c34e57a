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
 * {"status", "timezone", "releases": [{"release", "due", "due_ms", "fired",
 *  "late_ms", "channels": {CH: {"state", "reason", "attempts", ...}}}],
 *  "counts": {state: n}, "next_cursor": text or null} in due order: one
 * page of haechi_releases (the first also carries the upcoming firings).
 * New reference, or NULL for a reply of the wrong shape.
 */
json_t *releases_to_json(redisReply *reply);

/* Adds PAGE (a later page of the same campaign) to INTO: firings merged by
 * release and due time, counts summed, next_cursor taken from PAGE. A
 * firing's deliveries (one per channel) may be split across pages. */
void releases_merge(json_t *into, json_t *page);

#endif
