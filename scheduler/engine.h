/*
 * engine.h - the release engine's side of Redis: the function library
 * (scheduler/engine.lua), arming a campaign's releases, status changes,
 * and the reads behind `status`, `dead list` and friends.
 *
 * Every call goes through FCALL; when Redis answers that the library is
 * missing (a fresh or restarted Redis without persistence) the engine loads
 * it and tries once more.
 */
#ifndef HAECHI_ENGINE_H
#define HAECHI_ENGINE_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdint.h>

#include "campaign.h"
#include "config.h"
#include "rconn.h"

typedef struct engine engine;

engine *engine_new(rconn *redis, const config *cfg);
void engine_free(engine *e);

/* "PREFIX:{e}:" */
const char *engine_prefix(const engine *e);
const config *engine_config(const engine *e);
rconn *engine_redis(const engine *e);

/* The engine's keys are named here and in engine.lua only: PREFIX:{e}:NAME,
 * a campaign's engine view PREFIX:{e}:camp:ID, the pub/sub channel. */
void engine_key(const engine *e, const char *name, char *buf, size_t len);
void engine_camp_key(const engine *e, const char *id, char *buf, size_t len);
void engine_events_key(const engine *e, char *buf, size_t len);

/*
 * Calls the library function NAME (e.g. "haechi_claim") with NKEYS keys
 * then the rest of ARGV. FN is called once with the reply or an error.
 * Returns -1 (FN not called) when Redis is not ready.
 */
int engine_fcall(engine *e, const char *name, int nkeys, int argc, const char **argv,
                 const size_t *lens, rconn_fn *fn, void *arg);

/* Loads the function library (FUNCTION LOAD REPLACE); FN may be NULL. */
int engine_load_library(engine *e, rconn_fn *fn, void *arg);

/*
 * Arms campaign C (version VERSION, status STATUS) from NOW_MS on: every
 * firing after now, each release's channels with their expiry, and each
 * channel's quiet hours. Replaces what an earlier version armed.
 */
int engine_arm(engine *e, const campaign *c, long long version, const char *status, int64_t now_ms,
               rconn_fn *fn, void *arg);

/* ACTION pause|resume|cancel on the engine's copy of a campaign's status.
 * The reply is {status, affected}. */
int engine_set_status(engine *e, const char *id, const char *action, int catch_up, rconn_fn *fn,
                      void *arg);

/*
 * The calls below return 0 and call FN once, or rconn's refusal
 * (RCONN_DOWN, RCONN_BUSY) without calling it.
 */

/* Reply [version, status] of the engine's view of campaign ID (nils when
 * it was never armed). */
int engine_campaign_view(engine *e, const char *id, rconn_fn *fn, void *arg);

/* One page of campaign ID's deliveries (haechi_releases; releases.h shapes
 * it): CURSOR NULL or "0" for the first, which also carries up to UPCOMING
 * firings ahead per release; COUNT is a hint of deliveries per page. */
int engine_releases(engine *e, const char *id, int upcoming, const char *cursor, int count,
                    rconn_fn *fn, void *arg);

/* Sends the latest expired firing of release RID of campaign ID now. */
int engine_send_now(engine *e, const char *id, const char *rid, rconn_fn *fn, void *arg);

/* The newest COUNT dead letters (XREVRANGE reply). */
int engine_dead_list(engine *e, int count, rconn_fn *fn, void *arg);

/* Each channel and target's audience at its last post (HGETALL of
 * PREFIX:{e}:reach, written by adapters/post.c): "CH|TARGET" -> {reach, at}. */
int engine_reach(engine *e, rconn_fn *fn, void *arg);

/* Requeues dead letter WHICH, or all ("*") of CHANNEL (NULL: every one). */
int engine_dead_retry(engine *e, const char *which, const char *channel, rconn_fn *fn, void *arg);

/* Test clocks: stores NOW_MS for every process and announces it; FN gets
 * the store's answer. engine_read_clock's reply is the stored value. */
int engine_publish_clock(engine *e, int64_t now_ms, rconn_fn *fn, void *arg);
int engine_read_clock(engine *e, rconn_fn *fn, void *arg);

/* "2026112709": the hour bucket of metrics, in UTC. */
void engine_hour(int64_t ms, char *buf, size_t len);

/* The expiry (ms) and quiet hours that apply to channel CH of campaign C. */
int64_t engine_expiry_ms(const engine *e, const campaign *c, const release *r, int ch);
void engine_quiet(const engine *e, const campaign *c, int ch, quiet_hours *out);

#endif
