/*
 * api_audit.h - the API's side of the audit trail: entries wait in a
 * bounded local buffer until Redis has stored them, so that an outage
 * leaves no gap (what the buffer could not keep is counted and logged once
 * per interval); and refusals of anonymous clients are rate-limited, so
 * that a flood of them cannot trim the real trail out of the capped stream.
 * Internal to api*.c.
 */
#ifndef HAECHI_API_AUDIT_H
#define HAECHI_API_AUDIT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

#include "rconn.h"
#include "store.h"

typedef struct api_audit api_audit;

typedef struct audit_entry {
    char who[96], role[24], action[24], target[80], client[64];
    int status;
    int64_t at_ms;
} audit_entry;

api_audit *api_audit_new(struct event_base *base, store *st, rconn *redis);
/* Logs how many entries were never stored. */
void api_audit_free(api_audit *au);

/* Keeps E until it is stored. An entry without a known caller (who "-")
 * counts against the anonymous limits and may be suppressed (counted). */
void api_audit_add(api_audit *au, const audit_entry *e);

/* {"buffered", "lost", "suppressed"} for /healthz; new reference. */
json_t *api_audit_stats(const api_audit *au);

#endif
