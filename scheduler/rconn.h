/*
 * rconn.h - one asynchronous Redis connection (hiredis on the libevent
 * loop) that looks after itself: it reconnects with capped, jittered
 * backoff when Redis goes away, and a watchdog PING declares the link dead
 * when Redis stops answering, so that no caller waits forever.
 *
 * Commands are refused (RCONN_DOWN) while the link is not ready, and
 * (RCONN_BUSY) while max_pending commands already wait for their answers:
 * callers answer "unavailable" or "busy" rather than queue work that may
 * never run, or let a stalled Redis grow the daemon's memory without bound.
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
    int max_pending;       /* commands waiting for an answer; 0: RCONN_MAX_PENDING_DEFAULT */
} rconn_options;

#define RCONN_MAX_PENDING_DEFAULT 10000

/* rconn_command's refusals (0 is sent). */
enum { RCONN_DOWN = -1, RCONN_BUSY = -2 };

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
 * Sends a command. Returns 0 and calls FN exactly once later, or (FN never
 * called) RCONN_DOWN when the link is not ready, RCONN_BUSY when
 * max_pending commands are already waiting.
 */
int rconn_command(rconn *r, rconn_fn *fn, void *arg, int argc, const char **argv,
                  const size_t *argvlen);

/* The link's CLIENT ID while it is ready (learnt in the handshake), so
 * that another link can CLIENT UNBLOCK a command blocked on this one; 0
 * when not ready or not known. */
long long rconn_client_id(const rconn *r);

/* Commands sent and not yet answered. */
int rconn_pending(const rconn *r);

/* Why RC (a refusal of rconn_command) happened, for messages. */
const char *rconn_refusal(const rconn *r, int rc);

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
