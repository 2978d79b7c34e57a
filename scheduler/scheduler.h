/*
 * scheduler.h - the scheduler role: claims due releases from Redis and puts
 * their work items on the channel streams.
 *
 * It sleeps until the earliest due time with one libevent timer (no polling
 * interval); a release armed earlier than that, or a retry, wakes it
 * through pub/sub (the node subscribes and calls sched_kick). Any number of schedulers may share one Redis: the claim
 * is one atomic function (haechi_claim), so each release fires once.
 */
#ifndef HAECHI_SCHEDULER_H
#define HAECHI_SCHEDULER_H

#include <event2/event.h>
#include <stdint.h>

#include "engine.h"
#include "rconn.h"
#include "store.h"

typedef struct sched sched;

/* Numbers for tests and benchmarks. */
typedef struct sched_stats {
    long long claims;   /* haechi_claim calls */
    long long released; /* release firings */
    long long items;    /* work items put on streams */
    long long expired;
    long long held;
    int64_t next_due_ms; /* -1: nothing armed */
} sched_stats;

sched *sched_new(struct event_base *base, engine *e, store *st);
void sched_free(sched *s);

/* Claims now (after the clock moved, say); harmless when nothing is due. */
void sched_kick(sched *s);

/* True while a claim is in flight or another is queued. */
int sched_busy(const sched *s);

const sched_stats *sched_get_stats(const sched *s);

#endif
