/*
 * post.c - sends made of HTTP steps (post.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "post.h"

struct post {
    TAILQ_ENTRY(post) link;
    post_set *set;
    adapter_item item; /* its strings point into the copies below */
    char item_id[300], campaign_id[65], release_id[65], channel[32], target[64];
    adapter_done_fn *done;
    void *arg;
    outbound_req *req;   /* the request in flight, if any */
    post_step_fn *next;  /* where its answer goes */
    post_timer_fn *tick; /* a timer step, if one is armed */
    struct event *timer; /* timer steps and the deferred answer */
    int finished;        /* the outcome is set; the timer delivers it */
    adapter_outcome outcome;
    void *data;
};

void post_set_init(post_set *set, const adapter_env *env)
{
    set->base = env->base;
    set->http = env->http;
    set->redis = env->redis;
    snprintf(set->reach_key, sizeof set->reach_key, "%sreach",
             env->engine_prefix ? env->engine_prefix : "");
    TAILQ_INIT(&set->live);
}

long long post_now_ms(void)
{
    return clock_wall_ms();
}

static void copy(char *to, size_t len, const char *from)
{
    snprintf(to, len, "%s", from ? from : "");
}

post *post_new(post_set *set, const adapter_item *item, adapter_done_fn *done, void *arg,
               size_t data_size)
{
    post *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->data = data_size ? calloc(1, data_size) : NULL;
    if (data_size && !p->data) {
        free(p);
        return NULL;
    }
    p->set = set;
    p->done = done;
    p->arg = arg;
    p->item = *item;
    copy(p->item_id, sizeof p->item_id, item->item_id);
    copy(p->campaign_id, sizeof p->campaign_id, item->campaign_id);
    copy(p->release_id, sizeof p->release_id, item->release_id);
    copy(p->channel, sizeof p->channel, item->channel);
    copy(p->target, sizeof p->target, item->target);
    p->item.item_id = p->item_id;
    p->item.campaign_id = p->campaign_id;
    p->item.release_id = p->release_id;
    p->item.channel = p->channel;
    p->item.target = p->target;
    p->item.campaign = json_incref(item->campaign);
    TAILQ_INSERT_TAIL(&set->live, p, link);
    return p;
}

void *post_data(post *p)
{
    return p->data;
}

const adapter_item *post_item(const post *p)
{
    return &p->item;
}

static void post_free(post *p)
{
    TAILQ_REMOVE(&p->set->live, p, link);
    if (p->timer)
        event_free(p->timer);
    json_decref(p->item.campaign);
    free(p->data);
    free(p);
}

/* The one place done() is called. */
static void deliver(post *p)
{
    adapter_done_fn *done = p->done;
    void *arg = p->arg;
    adapter_outcome o = p->outcome;
    post_free(p);
    done(&o, arg);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    post *p = arg;
    if (p->finished) {
        deliver(p);
        return;
    }
    post_timer_fn *tick = p->tick;
    p->tick = NULL;
    if (tick)
        tick(p);
}

static int arm(post *p, long long delay_ms)
{
    if (!p->timer)
        p->timer = evtimer_new(p->set->base, timer_fired, p);
    if (!p->timer)
        return -1;
    if (delay_ms < 0)
        delay_ms = 0;
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
    return evtimer_add(p->timer, &tv);
}

void post_finish(post *p, const adapter_outcome *o)
{
    if (p->finished)
        return;
    p->finished = 1;
    p->outcome = *o;
    if (p->req) {
        /* Its answer must not come back to a send that has ended. */
        outbound_req *req = p->req;
        p->req = NULL;
        p->next = NULL;
        outbound_cancel(req);
        return; /* answered when the cancellation comes back */
    }
    if (arm(p, 0) != 0)
        deliver(p); /* no timer to be had: better late inside a call than never */
}

static void reach_stored(redisReply *reply, const char *error, void *arg)
{
    (void)reply;
    (void)error;
    (void)arg; /* a lost figure only makes the next preview's estimate older */
}

/* The audience at the last post, per channel and network, for `haechi
 * preview`'s expected reach: PREFIX:{e}:reach "CH|TARGET" = {reach, at}. */
static void remember_reach(post *p, long long reach)
{
    if (!p->set->redis || reach <= 0)
        return;
    char field[100], value[80];
    snprintf(field, sizeof field, "%s|%s", p->channel, p->target);
    snprintf(value, sizeof value, "{\"reach\":%lld,\"at\":%lld}", reach, post_now_ms());
    const char *argv[] = {"HSET", p->set->reach_key, field, value};
    rconn_command(p->set->redis, reach_stored, NULL, 4, argv, NULL);
}

void post_ok(post *p, const char *external_id, long long reach, const char *note)
{
    remember_reach(p, reach);
    adapter_outcome o = {.status = ADAPTER_OK, .reach = reach, .accepted = 1};
    copy(o.external_id, sizeof o.external_id, external_id);
    copy(o.reason, sizeof o.reason, note);
    post_finish(p, &o);
}

void post_fail(post *p, adapter_status st, adapter_error e, int remote_code, const char *fmt, ...)
{
    adapter_outcome o = {.status = st, .error = e, .remote_code = remote_code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o.reason, sizeof o.reason, fmt, ap);
    va_end(ap);
    post_finish(p, &o);
}

void post_transport_outcome(const outbound_response *r, const char *service, adapter_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->status = ADAPTER_AGAIN;
    o->scope = ADAPTER_SCOPE_ITEM;
    switch (r->result) {
    case OUTBOUND_CONNECT:
    case OUTBOUND_TLS: o->error = ADAPTER_ERR_NETWORK; break;
    case OUTBOUND_TIMEOUT:
    case OUTBOUND_DROPPED:
        o->error = r->request_sent ? ADAPTER_ERR_TIMEOUT : ADAPTER_ERR_NETWORK;
        break;
    case OUTBOUND_CANCELLED:
        o->status = ADAPTER_CANCELLED;
        o->error = r->request_sent ? ADAPTER_ERR_TIMEOUT : ADAPTER_ERR_NONE;
        break;
    default: o->error = ADAPTER_ERR_INTERNAL; break;
    }
    snprintf(o->reason, sizeof o->reason, "%.24s: %.170s%s", service,
             r->error[0] ? r->error : "no answer",
             o->error == ADAPTER_ERR_TIMEOUT ? " (the request went out: it may have been posted)"
                                             : "");
}

static void answered(const outbound_response *r, void *arg)
{
    post *p = arg;
    p->req = NULL;
    if (p->finished) {
        /* The send ended while this request was in flight (post_finish or a cancel). */
        deliver(p);
        return;
    }
    post_step_fn *next = p->next;
    p->next = NULL;
    if (r->result != OUTBOUND_OK || !next) {
        /* The network, when a composite routed this send: "x: ...", not "sns: ...". */
        post_transport_outcome(r, strcmp(p->target, "all") ? p->target : p->channel, &p->outcome);
        p->finished = 1;
        deliver(p);
        return;
    }
    next(p, r);
}

int post_request(post *p, const outbound_request *rq, post_step_fn *next)
{
    char why[256];
    if (!p->set->http) {
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, 0, "%s: no outbound client", p->channel);
        return -1;
    }
    p->next = next;
    p->req = outbound_http(p->set->http, rq, answered, p, why, sizeof why);
    if (!p->req) {
        p->next = NULL;
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, 0, "%s: %s", p->channel, why);
        return -1;
    }
    return 0;
}

int post_after(post *p, long long delay_ms, post_timer_fn *next)
{
    p->tick = next;
    if (arm(p, delay_ms) != 0) {
        p->tick = NULL;
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, 0, "%s: no timer", p->channel);
        return -1;
    }
    return 0;
}

static void cancel_one(post *p, int now)
{
    if (p->finished && !p->req) {
        if (now) {
            event_del(p->timer);
            deliver(p);
        }
        return;
    }
    adapter_outcome o = {.status = ADAPTER_CANCELLED,
                         .error = p->req ? ADAPTER_ERR_TIMEOUT : ADAPTER_ERR_NONE};
    snprintf(o.reason, sizeof o.reason, "%s: cancelled%s", p->channel,
             p->req ? " with a request in flight (it may have been posted)" : "");
    if (!now) {
        post_finish(p, &o);
        return;
    }
    p->finished = 1;
    p->outcome = o;
    if (p->req) {
        /* The adapter is going away: its state must never hear of this
         * request again. */
        outbound_abandon(p->req);
        p->req = NULL;
    }
    deliver(p);
}

void post_set_cancel(post_set *set, const char *item_id)
{
    post *p, *next;
    for (p = TAILQ_FIRST(&set->live); p; p = next) {
        next = TAILQ_NEXT(p, link);
        if (!item_id || strcmp(p->item_id, item_id) == 0)
            cancel_one(p, 0);
    }
}

void post_set_close(post_set *set)
{
    post *p;
    while ((p = TAILQ_FIRST(&set->live)))
        cancel_one(p, 1);
}
