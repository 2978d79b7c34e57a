/*
 * post.h - the shape of every send an HTTP adapter makes: one send is a
 * short chain of requests on the outbound client (read the follower count,
 * look for an earlier post, create, poll, publish), each answer handed to
 * the service's next step, and one outcome at the end.
 *
 * What every such adapter would otherwise write again lives here: the list
 * of sends in flight (so that cancel() and destroy() can answer them), the
 * rule that done() is called exactly once and never inside send(), the
 * mapping of a transport failure to an outcome, and timers between steps.
 * A service file (facebook.c, x.c, ...) keeps only what is its own: which
 * requests, and what its answers mean.
 */
#ifndef HAECHI_POST_H
#define HAECHI_POST_H

#include <sys/queue.h>

#include "adapter.h"
#include "outbound.h"

typedef struct post post;

/* An adapter's sends in flight. */
typedef struct post_set {
    struct event_base *base;
    outbound *http;
    rconn *redis;        /* NULL offline */
    char reach_key[160]; /* where post_ok() notes each network's audience */
    TAILQ_HEAD(, post) live;
} post_set;

void post_set_init(post_set *set, const adapter_env *env);

/* Answers every send still in flight with ADAPTER_CANCELLED, now (destroy). */
void post_set_close(post_set *set);

/* Cancels the send of ITEM_ID (every send when NULL): answered later. */
void post_set_cancel(post_set *set, const char *item_id);

/* The next step of a send: R is the answer to the request it made. */
typedef void post_step_fn(post *p, const outbound_response *r);
typedef void post_timer_fn(post *p);

/*
 * A new send of ITEM that answers DONE(ARG) once. DATA_SIZE bytes of zeroed
 * service state come with it (post_data). The item's ids and the campaign
 * (a reference) are kept for the send's life. NULL when out of memory.
 */
post *post_new(post_set *set, const adapter_item *item, adapter_done_fn *done, void *arg,
               size_t data_size);

void *post_data(post *p);
const adapter_item *post_item(const post *p); /* valid until the send ends */

/*
 * Makes a request whose answer goes to NEXT. On a transport failure
 * (anything but OUTBOUND_OK) NEXT is not called: the send ends with the
 * outcome post_transport_outcome() gives. Returns 0, or -1 when it could not start (the
 * send has then ended with AGAIN).
 */
int post_request(post *p, const outbound_request *rq, post_step_fn *next);

/* A step that runs after DELAY_MS (Instagram's status poll). */
int post_after(post *p, long long delay_ms, post_timer_fn *next);

/* Ends the send with O: done() runs from the loop, never inside send(). */
void post_finish(post *p, const adapter_outcome *o);

/* Shorthands for post_finish. post_ok() also notes REACH as the channel
 * and target's audience at its last post (PREFIX:{e}:reach), which `haechi
 * preview` shows as the expected reach of the next release. */
void post_ok(post *p, const char *external_id, long long reach, const char *note);
void post_fail(post *p, adapter_status st, adapter_error e, int remote_code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * What a transport failure means for a post: CONNECT and TLS are surely
 * unsent (AGAIN, network); TIMEOUT and DROPPED after the request went out
 * may have been acted on (AGAIN, timeout: the next attempt is maybe_sent
 * and looks before it posts again); TOOBIG is the service misbehaving.
 */
void post_transport_outcome(const outbound_response *r, const char *service, adapter_outcome *o);

/* The epoch milliseconds of the process's clock (virtual in tests). */
long long post_now_ms(void);

#endif
