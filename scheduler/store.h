/*
 * store.h - campaigns in Redis.
 *
 * Keys (PREFIX from config, ID a campaign slug):
 *   PREFIX:campaigns             ZSET  every campaign id, scored by first submission (ms)
 *   PREFIX:{c:ID}:meta           HASH  id, version, status, title, owner,
 *                                      created_at/_by, updated_at/_by
 *   PREFIX:{c:ID}:versions       HASH  N -> the campaign document of version N
 *   PREFIX:{c:ID}:history        HASH  N -> {"version","by","at","client"}
 *   PREFIX:audit                 STREAM who did what, when, from where
 * All of a campaign's definition keys share the hash tag {c:ID} (its engine
 * keys live under {e}: engine.lua), so each Lua script touches one slot.
 * The index is written before the campaign itself, and
 * readers skip ids without a meta hash, so a crash between the two leaves
 * nothing half-visible.
 */
#ifndef HAECHI_STORE_H
#define HAECHI_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "rconn.h"

typedef struct store store;

typedef enum store_code {
    STORE_OK,
    STORE_NOT_FOUND,
    STORE_CONFLICT,    /* exists / wrong state; status says which */
    STORE_UNAVAILABLE, /* Redis is down or did not answer */
    STORE_BUSY,        /* too many commands wait on Redis: nothing (more) was sent */
    STORE_ERROR        /* an answer we did not expect */
} store_code;

typedef struct store_result {
    store_code code;
    long long version;
    const char *status; /* the campaign's status after the call, when known */
    int changed;        /* status calls: 0 when it already was so */
    json_t *data;       /* borrowed: get/list/audit answers */
    const char *error;  /* what went wrong, for every code but OK */
} store_result;

typedef void store_fn(const store_result *res, void *arg);

store *store_new(rconn *redis, const char *prefix);
void store_free(store *s);

typedef struct store_submission {
    const char *id;
    const char *doc; /* the validated document, compact JSON */
    const char *title, *owner;
    int replace;    /* 0: an existing id is a conflict */
    const char *by; /* token name */
    const char *client;
    int64_t at_ms;
} store_submission;

/* A new version. CONFLICT with status "exists" without replace, or
 * "cancelled" when replacing a cancelled campaign. */
int store_submit(store *s, const store_submission *sub, store_fn *fn, void *arg);

/* ACTION is "pause", "resume", "cancel", or "finish" (the scheduler's:
 * nothing is left to fire). CONFLICT when the campaign's status does not
 * allow it (status tells which it is). */
int store_set_status(store *s, const char *id, const char *action, const char *by, int64_t at_ms,
                     store_fn *fn, void *arg);

/* data: {"id","version","status",...,"campaign": document} of VERSION
 * (0 = current). NOT_FOUND for an unknown id or version. */
int store_get(store *s, const char *id, long long version, store_fn *fn, void *arg);

/* data: the campaign document of VERSION alone (for workers). */
int store_document(store *s, const char *id, long long version, store_fn *fn, void *arg);

/*
 * One page of campaigns in the order they were first submitted: up to
 * LIMIT (1..STORE_LIST_MAX; other values mean the maximum) after the id
 * AFTER (NULL or "" for the first page). data: {"campaigns":
 * [{"id","version","status","title","owner","updated_at"}...],
 * "total": ids in the index, "next_cursor": the id to pass as AFTER for
 * the next page, or null after the last}. NOT_FOUND when AFTER is not a
 * campaign id. A page may hold fewer than LIMIT while more follow: ids
 * whose submission never completed are skipped.
 */
#define STORE_LIST_MAX 1000
int store_list(store *s, const char *after, int limit, store_fn *fn, void *arg);

/* Appends one entry to the audit stream and calls DONE(stored, ARG) once
 * (stored 0: Redis went away or refused); -1 (DONE never called) when the
 * link is not ready. The API keeps what could not be stored (api_audit.c). */
int store_audit_send(store *s, const char *who, const char *role, const char *action,
                     const char *target, int http_status, const char *client, int64_t at_ms,
                     void (*done)(int stored, void *arg), void *arg);

/* Appends to the audit stream; fire and forget (failures are logged). */
void store_audit(store *s, const char *who, const char *role, const char *action,
                 const char *target, int http_status, const char *client, int64_t at_ms);

/* data: the newest COUNT entries, newest first. */
int store_audit_read(store *s, long count, store_fn *fn, void *arg);

#endif
