/*
 * scheduler.c - the claim loop.
 *
 * One claim in flight at a time. A claim that took a full batch runs again
 * at once; otherwise the timer is set for the earliest due entry the claim
 * reported. With a virtual clock the timer is not used: the clock's owner
 * kicks the scheduler whenever time moves.
 */
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define WAIT_CAP_US (60LL * 1000 * 1000)

struct sched {
    struct event_base *base;
    engine *e;
    store *st;
    struct event *timer;
    struct event *ready_poll;
    int in_flight;
    int again;
    int failed; /* the last claim never ran: retry once Redis is back */
    sched_stats stats;
};

static void claim(sched *s);

static void finished_recorded(const store_result *res, void *arg)
{
    (void)arg;
    /* The store's reason names the campaign ("no campaign \"x\" in the
     * store": one armed in the engine alone, as the bench does). */
    if (res->code != STORE_OK && res->code != STORE_CONFLICT)
        log_warn("scheduler: could not mark a campaign finished in the store: %s", res->error);
}

static void arm_timer(sched *s, int64_t next_due)
{
    evtimer_del(s->timer);
    if (next_due < 0 || clock_is_virtual())
        return;
    /* In microseconds: a due time in whole ms must not be rounded late.
     * Capped, so that a wall clock stepped by NTP (the timer runs on the
     * monotonic clock) is noticed within a minute. The timer waits real
     * time: a demo clock's wall delta is shorter in it. */
    int64_t wait = clock_real_delay_us(next_due * 1000 - clock_wall_us());
    if (wait < 0)
        wait = 0;
    if (wait > WAIT_CAP_US)
        wait = WAIT_CAP_US;
    struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
    evtimer_add(s->timer, &tv);
}

static long long int_at(redisReply *r, size_t i)
{
    if (i >= r->elements)
        return 0;
    redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

static void claimed(redisReply *reply, const char *error, void *arg)
{
    sched *s = arg;
    s->in_flight = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 6) {
        s->failed = 1;
        /* The link is down or Redis refused: try again when it is back
         * (the ready poll) rather than spin. */
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_error("scheduler: claim failed: %s", reply->str);
        else if (!reply)
            log_debug("scheduler: claim lost: %s", error);
        return;
    }
    long long taken = int_at(reply, 0);
    s->failed = 0;
    s->stats.claims++;
    s->stats.released += int_at(reply, 1);
    s->stats.items += int_at(reply, 2);
    s->stats.expired += int_at(reply, 3);
    s->stats.held += int_at(reply, 4);
    s->stats.next_due_ms = int_at(reply, 5);
    for (size_t i = 6; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING)
            continue;
        log_info("scheduler: campaign %s has nothing left to release: finished",
                 reply->element[i]->str);
        store_set_status(s->st, reply->element[i]->str, "finish", "scheduler", clock_wall_ms(),
                         finished_recorded, NULL);
    }
    /* More may be due already: a full batch, a kick meanwhile, or (a clock
     * that jumped) the next firing of a release just claimed. */
    if (taken >= engine_config(s->e)->engine.claim_batch || s->again ||
        (s->stats.next_due_ms >= 0 && s->stats.next_due_ms <= clock_wall_ms())) {
        s->again = 0;
        claim(s);
        return;
    }
    arm_timer(s, s->stats.next_due_ms);
}

static void claim(sched *s)
{
    if (s->in_flight) {
        s->again = 1;
        return;
    }
    const config *cfg = engine_config(s->e);
    char due[128], now[24], batch[16], hour[16], expiry[24];
    int64_t ms = clock_wall_ms();
    engine_key(s->e, "due", due, sizeof due);
    snprintf(now, sizeof now, "%lld", (long long)ms);
    snprintf(batch, sizeof batch, "%d", cfg->engine.claim_batch);
    engine_hour(ms, hour, sizeof hour);
    snprintf(expiry, sizeof expiry, "%lld", (long long)cfg->engine.expires_after_s * 1000);
    const char *argv[] = {due, now, batch, engine_prefix(s->e), hour, expiry};
    if (engine_fcall(s->e, "haechi_claim", 1, 6, argv, NULL, claimed, s) == 0)
        s->in_flight = 1;
    else
        s->failed = 1;
}

void sched_kick(sched *s)
{
    claim(s);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    claim(arg);
}

/*
 * A claim that could not run (Redis away) is retried by this slow tick once
 * the link is back; it does nothing while claims succeed, so an idle
 * scheduler sleeps on its timer alone.
 */
static void ready_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    sched *s = arg;
    (void)fd;
    (void)what;
    if (s->failed && !s->in_flight && rconn_ready(engine_redis(s->e)))
        claim(s);
}

sched *sched_new(struct event_base *base, engine *e, store *st)
{
    sched *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base = base;
    s->e = e;
    s->st = st;
    s->stats.next_due_ms = -1;
    s->failed = 1; /* nothing claimed yet */
    s->timer = evtimer_new(base, timer_cb, s);
    s->ready_poll = event_new(base, -1, EV_PERSIST, ready_poll_cb, s);
    if (!s->timer || !s->ready_poll) {
        sched_free(s);
        return NULL;
    }
    struct timeval second = {1, 0};
    evtimer_add(s->ready_poll, &second);
    return s;
}

void sched_free(sched *s)
{
    if (!s)
        return;
    if (s->timer)
        event_free(s->timer);
    if (s->ready_poll)
        event_free(s->ready_poll);
    free(s);
}

int sched_busy(const sched *s)
{
    return s->in_flight || s->again;
}

const sched_stats *sched_get_stats(const sched *s)
{
    return &s->stats;
}
