/*
 * worker.h - the worker role: takes work items from the channel streams
 * (one consumer group, "workers", shared by every worker process), holds
 * them through quiet hours, runs the channel's adapter, and records each
 * outcome in the same atomic step that acknowledges the item. Items left
 * pending by a worker that died are taken over (XAUTOCLAIM) after
 * engine.reclaim_idle_ms; a live worker keeps its own fresh (XCLAIM JUSTID
 * by their holder), so a slow send is never taken over and sent twice.
 * Each channel is read on its own within its in-flight cap and the
 * process's (engine.worker_concurrency, of which priority channels have
 * their caps reserved); rate limits (a token bucket) and channel-wide
 * pauses (an adapter's AGAIN for the whole channel) live in Redis and hold
 * for every worker. Failed sends are retried with capped, jittered
 * exponential backoff (or the channel's own Retry-After); after
 * engine.max_attempts, or on a permanent failure, the item becomes a dead
 * letter with its last reason.
 */
#ifndef HAECHI_WORKER_H
#define HAECHI_WORKER_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "rconn.h"
#include "store.h"

typedef struct worker worker;

typedef struct worker_stats {
    long long taken; /* items read or reclaimed */
    long long reclaimed;
    long long sent;
    long long retried;
    long long dead;
    long long held; /* quiet hours, or a paused campaign */
    long long cancelled;
    long long declined;   /* the adapter said the item is not for it */
    long long fanned_out; /* target items queued in place of parents */
    long long put_back;   /* back to the due set unsent, no attempt used (a drain) */
} worker_stats;

/*
 * QUEUE is a connection of the worker's own: it blocks in XREADGROUP.
 * Creates each channel's adapter from the config; on failure returns NULL
 * with "PATH: reason" in err.
 */
worker *worker_new(struct event_base *base, engine *e, rconn *queue, store *st, char *err,
                   size_t errlen);

/* Stops taking new items (worker_drain without waiting for anything). */
void worker_stop(worker *w);

/*
 * Stops taking items and lets the sends in flight finish. After TIMEOUT_MS
 * those left are cancelled: one that surely was not sent goes back to the
 * due set without using an attempt; one that may have been is recorded as
 * a failed attempt. DRAINED(ARG) is called once, from the loop, when
 * nothing is left in flight (or, with Redis away, once the outcomes could
 * not be stored either: those items stay pending and are reclaimed).
 */
void worker_drain(worker *w, int64_t timeout_ms, void (*drained)(void *arg), void *arg);
void worker_free(worker *w);

int worker_in_flight(const worker *w);
const worker_stats *worker_get_stats(const worker *w);

/* The delay before attempt ATTEMPT+1 after attempt ATTEMPT failed: base *
 * 2^(attempt-1), capped, with equal jitter, and never shorter than what the
 * channel asked for (RETRY_AFTER_MS). */
int64_t worker_backoff_ms(const engine_conf *conf, int attempt, int64_t retry_after_ms);

#endif
