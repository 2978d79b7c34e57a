/*
 * rconn.h - one asynchronous Redis connection (hiredis on the libevent
 * loop) that looks after itself: it reconnects with capped, jittered
 * backoff when Redis goes away, and a watchdog PING declares the link dead
 * when Redis stops answering, so that no caller waits forever.
 *
 * Commands are refused (-1) while the link is not ready; callers answer
 * "unavailable" rather than queue work that may never run.
 */
#ifndef HAECHI_RCONN_H
#define HAECHI_RCONN_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct rconn rconn;

typedef struct rconn_options {
    const char *host; /* TCP, when unix_path is empty */
    int port;
    const char *unix_path; /* a unix socket, preferred when set */
    const char *password;  /* AUTH on every connect; may be NULL */
    int timeout_ms;        /* a command or connect slower than this kills the link */
    const char *name;      /* for log lines */
} rconn_options;

/*
 * Called with the reply, or with reply NULL and a reason when the command
 * never got one (link lost, timed out). The reply belongs to hiredis and is
 * freed when the callback returns.
 */
typedef void rconn_fn(redisReply *reply, const char *error, void *arg);

/* Starts connecting at once; never fails for an unreachable Redis. */
rconn *rconn_new(struct event_base *base, const rconn_options *opt);

/* Drops the link; pending callbacks run with reply NULL first. */
void rconn_free(rconn *r);

int rconn_ready(const rconn *r);

/* "ready", or why not ("connecting", "down: Connection refused"). */
const char *rconn_state(const rconn *r);

/*
 * Sends a command. Returns 0 and calls FN exactly once later, or -1
 * (FN never called) when the link is not ready.
 */
int rconn_command(rconn *r, rconn_fn *fn, void *arg, int argc, const char **argv,
                  const size_t *argvlen);

/* Calls FN(arg) each time the link becomes ready, before anything else is
 * sent on it: the place to (re)load server-side state such as functions. */
void rconn_on_ready(rconn *r, void (*fn)(void *arg), void *arg);

/*
 * Subscribes to CHANNEL, now and again after every reconnect. FN gets each
 * message (["message", channel, payload]) and each (re)subscription's
 * confirmation (["subscribe", channel, n]): a subscriber treats the latter
 * as "you may have missed messages, look again". A connection that
 * subscribes does nothing else. Returns 0, or -1 if already subscribed.
 */
int rconn_subscribe(rconn *r, const char *channel, rconn_fn *fn, void *arg);

#endif
