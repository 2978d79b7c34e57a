/*
 * rconn.c - a self-healing hiredis async connection on libevent.
 *
 * States: DOWN -> CONNECTING -> READY -> DOWN ... Only set_state() writes
 * the state, and it logs each change once.
 */
#include "rconn.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

typedef enum { RC_DOWN, RC_CONNECTING, RC_READY } rc_state;

struct rconn {
    struct event_base *base;
    char host[256];
    int port;
    char unix_path[256];
    char *password;
    int timeout_ms;
    char name[32];
    int max_pending;
    int pending; /* commands sent whose callbacks have not run yet */
    char refusal[96];

    redisAsyncContext *ac;
    rc_state state;
    int attempts;
    int64_t connect_started_ms;
    int64_t ping_sent_ms; /* 0: no watchdog PING outstanding */
    struct event *retry_timer;
    struct event *watchdog;
    char why[160];
    char state_text[192];
    int closing;
    long long client_id; /* CLIENT ID of the current link; 0: not known */

    void (*ready_fn)(void *);
    void *ready_arg;

    char *sub_channel; /* set once subscribed: the link is for messages only */
    rconn_fn *sub_fn;
    void *sub_arg;
};

typedef struct pending {
    rconn *r;
    rconn_fn *fn;
    void *arg;
} pending;

static void start_connect(rconn *r);

static void set_state(rconn *r, rc_state next, const char *why)
{
    static const char *const names[] = {"down", "connecting", "ready"};
    if (why)
        snprintf(r->why, sizeof r->why, "%s", why);
    if (r->state == next)
        return;
    if (next == RC_READY)
        log_info("%s: redis ready", r->name);
    else if (r->state == RC_READY)
        log_warn("%s: redis %s: %s", r->name, names[next], r->why);
    r->state = next;
}

static void schedule_retry(rconn *r)
{
    if (r->closing || evtimer_pending(r->retry_timer, NULL))
        return;
    int shift = r->attempts < 6 ? r->attempts : 6;
    long delay = (long)BACKOFF_FIRST_MS << shift;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    /* Jitter keeps many daemons from hammering a restarting Redis together. */
    delay = delay / 2 + random() % (delay / 2 + 1);
    r->attempts++;
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(r->retry_timer, &tv);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_connect(arg);
}

/* The link is gone: forget the context (hiredis frees it) and try again. */
static void lost(rconn *r, const char *why)
{
    r->ac = NULL;
    r->ping_sent_ms = 0;
    r->client_id = 0;
    set_state(r, RC_DOWN, why);
    schedule_retry(r);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rconn *r = ac->data;
    if (!r || status == REDIS_OK)
        return;
    lost(r, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn *r = ac->data;
    if (!r || r->ac != ac)
        return;
    lost(r, status == REDIS_OK ? "disconnected" : ac->errstr);
}

static void trampoline(redisAsyncContext *ac, void *reply, void *privdata)
{
    pending *p = privdata;
    const char *err = NULL;
    if (!reply)
        err = ac->err && ac->errstr[0] ? ac->errstr : "connection to redis lost";
    /* hiredis runs every callback before the rconn is freed, also from
     * rconn_free, so p->r is still there. */
    p->r->pending--;
    p->fn(reply, err, p->arg);
    free(p);
}

/* Subscription callbacks stay registered in hiredis for every message, so
 * they carry the rconn itself rather than a one-shot pending record. */
static void sub_trampoline(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn *r = privdata;
    (void)ac;
    if (reply && !r->closing)
        r->sub_fn(reply, NULL, r->sub_arg);
}

static void send_subscribe(rconn *r)
{
    const char *argv[] = {"SUBSCRIBE", r->sub_channel};
    if (redisAsyncCommandArgv(r->ac, sub_trampoline, r, 2, argv, NULL) != REDIS_OK)
        log_warn("%s: could not subscribe to %s", r->name, r->sub_channel);
}

static void handshake_done(redisReply *reply, const char *error, void *arg)
{
    rconn *r = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        char why[160];
        snprintf(why, sizeof why, "handshake failed: %s", reply ? reply->str : error);
        if (r->ac) {
            redisAsyncContext *ac = r->ac;
            ac->data = NULL;
            lost(r, why);
            redisAsyncFree(ac);
        }
        return;
    }
    if (r->state == RC_READY)
        return; /* AUTH's answer came first; this is the PING's */
    r->attempts = 0;
    set_state(r, RC_READY, "");
    if (r->ready_fn)
        r->ready_fn(r->ready_arg);
    if (r->sub_channel)
        send_subscribe(r);
}

/* An error (a Redis without CLIENT ID, or one that refuses it) leaves the
 * id unknown: the link works as before, only CLIENT UNBLOCK is off. */
static void client_id_known(redisReply *reply, const char *error, void *arg)
{
    rconn *r = arg;
    (void)error;
    if (reply && reply->type == REDIS_REPLY_INTEGER)
        r->client_id = reply->integer;
}

static int send_raw(rconn *r, rconn_fn *fn, void *arg, int argc, const char **argv,
                    const size_t *argvlen)
{
    pending *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->r = r;
    p->fn = fn;
    p->arg = arg;
    if (redisAsyncCommandArgv(r->ac, trampoline, p, argc, argv, argvlen) != REDIS_OK) {
        free(p);
        return -1;
    }
    r->pending++;
    return 0;
}

static void start_connect(rconn *r)
{
    redisAsyncContext *ac =
        r->unix_path[0] ? redisAsyncConnectUnix(r->unix_path) : redisAsyncConnect(r->host, r->port);
    if (!ac) {
        lost(r, "out of memory");
        return;
    }
    if (ac->err) {
        char why[160];
        snprintf(why, sizeof why, "%s", ac->errstr);
        redisAsyncFree(ac);
        lost(r, why);
        return;
    }
    ac->data = r;
    r->ac = ac;
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->connect_started_ms = clock_mono_ms();
    set_state(r, RC_CONNECTING, "connecting");

    /* AUTH and PING queue in order; READY comes with the PING's answer. */
    if (r->password) {
        const char *argv[] = {"AUTH", r->password};
        send_raw(r, handshake_done, r, 2, argv, NULL);
        /* Only the PING's reply matters: an AUTH failure makes it fail too. */
    }
    /* Asked before the PING, so that a ready link's id is already known to
     * whoever wants to CLIENT UNBLOCK a read blocked on it. */
    const char *id[] = {"CLIENT", "ID"};
    send_raw(r, client_id_known, r, 2, id, NULL);
    const char *ping[] = {"PING"};
    if (send_raw(r, handshake_done, r, 1, ping, NULL) != 0) {
        r->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
        lost(r, "could not queue the handshake");
    }
}

static void watchdog_pong(redisReply *reply, const char *error, void *arg)
{
    rconn *r = arg;
    (void)reply;
    (void)error;
    r->ping_sent_ms = 0;
}

/* Kills a link that stopped answering; hiredis has no timeouts of its own. */
static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    rconn *r = arg;
    int64_t now = clock_mono_ms();
    int stuck = 0;
    (void)fd;
    (void)what;

    if (r->state == RC_CONNECTING && now - r->connect_started_ms > r->timeout_ms)
        stuck = 1;
    else if (r->state == RC_READY && r->ping_sent_ms && now - r->ping_sent_ms > r->timeout_ms)
        stuck = 1;
    if (stuck && r->ac) {
        char why[160];
        redisAsyncContext *ac = r->ac;
        snprintf(why, sizeof why, "redis did not answer within %d ms", r->timeout_ms);
        ac->data = NULL;
        lost(r, why);
        redisAsyncFree(ac);
        return;
    }
    /* A subscribed link cannot PING through hiredis 0.14; a dead one is
     * noticed by its socket closing. */
    if (r->state == RC_READY && !r->ping_sent_ms && !r->sub_channel) {
        const char *ping[] = {"PING"};
        if (send_raw(r, watchdog_pong, r, 1, ping, NULL) == 0)
            r->ping_sent_ms = now;
    }
}

rconn *rconn_new(struct event_base *base, const rconn_options *opt)
{
    rconn *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->base = base;
    snprintf(r->host, sizeof r->host, "%s", opt->host ? opt->host : "127.0.0.1");
    r->port = opt->port;
    snprintf(r->unix_path, sizeof r->unix_path, "%s", opt->unix_path ? opt->unix_path : "");
    r->password = opt->password ? strdup(opt->password) : NULL;
    r->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 5000;
    snprintf(r->name, sizeof r->name, "%s", opt->name ? opt->name : "redis");
    r->max_pending = opt->max_pending > 0 ? opt->max_pending : RCONN_MAX_PENDING_DEFAULT;
    r->retry_timer = evtimer_new(base, retry_cb, r);
    r->watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, r);
    if (!r->retry_timer || !r->watchdog) {
        rconn_free(r);
        return NULL;
    }
    int tick = r->timeout_ms / 4 < 1000 ? r->timeout_ms / 4 : 1000;
    struct timeval tv = {tick / 1000, (tick % 1000) * 1000};
    evtimer_add(r->watchdog, &tv);
    start_connect(r);
    return r;
}

void rconn_free(rconn *r)
{
    if (!r)
        return;
    r->closing = 1;
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        r->state = RC_DOWN;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    if (r->retry_timer)
        event_free(r->retry_timer);
    if (r->watchdog)
        event_free(r->watchdog);
    free(r->password);
    free(r->sub_channel);
    free(r);
}

void rconn_on_ready(rconn *r, void (*fn)(void *arg), void *arg)
{
    r->ready_fn = fn;
    r->ready_arg = arg;
    if (r->state == RC_READY && fn)
        fn(arg);
}

int rconn_subscribe(rconn *r, const char *channel, rconn_fn *fn, void *arg)
{
    if (r->sub_channel)
        return -1;
    r->sub_channel = strdup(channel);
    if (!r->sub_channel)
        return -1;
    r->sub_fn = fn;
    r->sub_arg = arg;
    if (r->state == RC_READY && r->ac)
        send_subscribe(r);
    return 0;
}

int rconn_ready(const rconn *r)
{
    return r->state == RC_READY;
}

const char *rconn_state(const rconn *r)
{
    rconn *m = (rconn *)r;
    switch (r->state) {
    case RC_READY: return "ready";
    case RC_CONNECTING: return "connecting";
    case RC_DOWN: break;
    }
    snprintf(m->state_text, sizeof m->state_text, "down: %s", r->why);
    return m->state_text;
}

long long rconn_client_id(const rconn *r)
{
    return r->state == RC_READY ? r->client_id : 0;
}

int rconn_pending(const rconn *r)
{
    return r->pending;
}

const char *rconn_refusal(const rconn *r, int rc)
{
    rconn *m = (rconn *)r;
    if (rc != RCONN_BUSY)
        return rconn_state(r);
    snprintf(m->refusal, sizeof m->refusal,
             "too many commands waiting on redis (%d, the limit "
             "of redis.max_pending)",
             r->pending);
    return m->refusal;
}

/* The handshake and the watchdog's PING bypass the cap (send_raw): a link
 * full of commands to a stalled Redis must still be found dead. */
int rconn_command(rconn *r, rconn_fn *fn, void *arg, int argc, const char **argv,
                  const size_t *argvlen)
{
    if (r->state != RC_READY || !r->ac)
        return RCONN_DOWN;
    if (r->pending >= r->max_pending)
        return RCONN_BUSY;
    return send_raw(r, fn, arg, argc, argv, argvlen) == 0 ? 0 : RCONN_DOWN;
}
