/*
 * node.c - wiring one process's roles together.
 */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

int node_parse_roles(const char *text, unsigned *roles, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"api", ROLE_API}, {"scheduler", ROLE_SCHEDULER}, {"worker", ROLE_WORKER}};
    char buf[128];
    *roles = 0;
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < sizeof names / sizeof names[0] && strcmp(tok, names[i].name) != 0)
            i++;
        if (i == sizeof names / sizeof names[0]) {
            snprintf(err, errlen, "unknown role \"%s\": use api, scheduler, worker", tok);
            return -1;
        }
        *roles |= names[i].bit;
    }
    if (!*roles) {
        snprintf(err, errlen, "no roles given: use api, scheduler, worker");
        return -1;
    }
    return 0;
}

static rconn *connect_redis(node *n, const char *name)
{
    rconn_options ro;
    config_rconn_options(n->cfg, name, &ro);
    return rconn_new(n->base, &ro);
}

static void vclock_read(redisReply *reply, const char *error, void *arg)
{
    node *n = arg;
    (void)error;
    if (reply && reply->type == REDIS_REPLY_STRING)
        clock_set_virtual(strtoll(reply->str, NULL, 10));
    if (n->sched)
        sched_kick(n->sched);
}

/*
 * Every message on PREFIX:{e}:events, and each (re)subscription, means
 * "look again": the scheduler claims; with a virtual clock every role first
 * learns what time it is now.
 */
static void events_cb(redisReply *reply, const char *error, void *arg)
{
    node *n = arg;
    (void)reply;
    (void)error;
    if (clock_is_virtual()) {
        if (engine_read_clock(n->e, vclock_read, n) == 0)
            return;
    }
    if (n->sched)
        sched_kick(n->sched);
}

int node_start(node *n, struct event_base *base, const config *cfg, unsigned roles, char *err,
               size_t errlen)
{
    memset(n, 0, sizeof *n);
    n->base = base;
    n->cfg = cfg;
    n->roles = roles;
    snprintf(err, errlen, "out of memory");

    if (!(n->redis = connect_redis(n, "redis")) ||
        !(n->st = store_new(n->redis, cfg->redis_prefix)) || !(n->e = engine_new(n->redis, cfg)))
        goto fail;
    if (roles & ROLE_SCHEDULER) {
        if (!(n->sched = sched_new(base, n->e, n->st)) ||
            !(n->reconcile = reconcile_new(base, n->e, n->st)))
            goto fail;
    }
    if ((roles & ROLE_SCHEDULER) || clock_is_virtual()) {
        char events[128];
        engine_events_key(n->e, events, sizeof events);
        if (!(n->sub = connect_redis(n, "redis-events")) ||
            rconn_subscribe(n->sub, events, events_cb, n) != 0)
            goto fail;
    }
    if (roles & ROLE_WORKER) {
        if (!(n->queue = connect_redis(n, "redis-queue")))
            goto fail;
        if (!(n->worker = worker_new(base, n->e, n->queue, n->st, err, errlen)))
            goto fail;
    }
    if (roles & ROLE_API) {
        if (!(n->api = api_new(base, cfg, n->redis, n->st, n->e)))
            goto fail;
    }
    err[0] = '\0';
    return 0;
fail:
    node_stop(n);
    return -1;
}

void node_drain(node *n, void (*done)(void *arg), void *arg)
{
    if (n->worker)
        worker_drain(n->worker, n->cfg->engine.drain_timeout_ms, done, arg);
    else
        done(arg);
}

void node_stop(node *n)
{
    /* No new work first; then the links, whose pending callbacks still
     * find the worker, scheduler and api alive (answers still reach their
     * clients); then those. */
    worker_stop(n->worker);
    rconn_free(n->queue);
    rconn_free(n->sub);
    rconn_free(n->redis);
    api_free(n->api);
    worker_free(n->worker);
    sched_free(n->sched);
    reconcile_free(n->reconcile);
    engine_free(n->e);
    store_free(n->st);
    memset(n, 0, sizeof *n);
}
