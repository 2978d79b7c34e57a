/*
 * outbound.h - the process's one non-blocking client for outside services.
 *
 * libcurl's multi interface, driven by the process's libevent loop through
 * CURLMOPT_SOCKETFUNCTION and CURLMOPT_TIMERFUNCTION: many requests in
 * flight at once, connections kept alive and reused, a cap on connections
 * per host, and nothing that ever blocks the loop. Every adapter that talks
 * to the network goes through it.
 *
 * The core (outbound.c) knows nothing of HTTP beyond what libcurl does for
 * it: it drives transfers, caps what an answer may hold, applies timeouts
 * and TLS rules, and calls each request's callback exactly once, always
 * from the loop, never from inside the call that started it (as hiredis
 * defers its callbacks out of its own reader). outbound_http() below is the
 * HTTP front; the newsletter's SMTP front will sit beside it on the same core.
 *
 * TLS verification is always on for https. A CA file may be configured;
 * there is no switch that turns verification off.
 */
#ifndef HAECHI_OUTBOUND_H
#define HAECHI_OUTBOUND_H

#include <event2/event.h>
#include <stddef.h>

typedef struct outbound outbound;
typedef struct outbound_req outbound_req;

typedef struct outbound_conf {
    long connect_timeout_ms;    /* per request; 0: 5,000 */
    long timeout_ms;            /* the whole request; 0: 30,000 */
    size_t max_response;        /* an answer's body; 0: 1 MiB; more: TOOBIG (headers: 64 KiB) */
    long max_host_connections;  /* open connections per host; 0: 8 */
    long max_total_connections; /* 0: no cap beyond the per-host one */
    const char *ca_file;        /* NULL: the system's CA store */
} outbound_conf;

/* A client on BASE, or NULL with a reason in ERR. CONF may be NULL. */
outbound *outbound_new(struct event_base *base, const outbound_conf *conf, char *err,
                       size_t errlen);

/*
 * Frees the client. Every request still in flight is answered first with
 * OUTBOUND_CANCELLED (the one case where a callback runs inside a call);
 * one whose whole answer had already come in gets that answer. May be
 * called from a callback: the client goes once the loop is out of it.
 */
void outbound_free(outbound *ob);

/* How a request ended. Only OUTBOUND_OK carries an HTTP answer. */
typedef enum outbound_result {
    OUTBOUND_OK,        /* a complete answer arrived, whatever its status */
    OUTBOUND_CONNECT,   /* no connection (refused, unresolvable): surely not sent */
    OUTBOUND_TIMEOUT,   /* no complete answer in time */
    OUTBOUND_DROPPED,   /* the connection closed before a complete answer */
    OUTBOUND_TOOBIG,    /* the answer was over max_response */
    OUTBOUND_TLS,       /* the certificate or handshake was refused */
    OUTBOUND_CANCELLED, /* outbound_cancel() or outbound_free() */
    OUTBOUND_ERROR      /* anything else: error says what */
} outbound_result;

/* "ok", "connect", "timeout", ... */
const char *outbound_result_name(outbound_result r);

typedef struct outbound_response {
    outbound_result result;
    int status;       /* the HTTP status; 0 without an answer */
    int request_sent; /* the whole request went out: a TIMEOUT or DROPPED may have been acted on */
    const char *body; /* NUL-terminated (the NUL is not counted); "" without an answer */
    size_t body_len;
    long long elapsed_ms;
    char error[256]; /* "" for OUTBOUND_OK: otherwise one line, with the host */
    const struct outbound_headers *headers; /* read with outbound_header() */
} outbound_response;

/* The value of the answer's last header NAME (case-insensitive), or NULL. */
const char *outbound_header(const outbound_response *r, const char *name);

/* Called exactly once per request, from the loop. R is borrowed. */
typedef void outbound_done_fn(const outbound_response *r, void *arg);

typedef struct outbound_request {
    const char *method;         /* "GET", "POST", "DELETE" */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; NULL for none */
    const char *body;           /* copied; NULL for none */
    size_t body_len;
    long timeout_ms; /* 0: the client's */
} outbound_request;

/*
 * Starts an HTTP request. Returns a handle that stays valid until DONE is
 * called, or NULL with a reason in ERR when it could not start (DONE is
 * then never called). A User-Agent naming haechi and its version is sent.
 */
outbound_req *outbound_http(outbound *ob, const outbound_request *rq, outbound_done_fn *done,
                            void *arg, char *err, size_t errlen);

/* Ends R: its DONE is called later, from the loop, with OUTBOUND_CANCELLED
 * (request_sent says whether it may have reached the service). */
void outbound_cancel(outbound_req *r);

/*
 * Ends R without ever calling its DONE: for an owner about to free what
 * DONE's ARG points to (an adapter's destroy(), which answers its own sends
 * at once). R is invalid after the call; a no-op from inside R's own DONE.
 */
void outbound_abandon(outbound_req *r);

/* Requests in flight, for tests and /metrics. */
size_t outbound_inflight(const outbound *ob);

/* Milliseconds until the epoch-seconds time in header NAME of R (X's
 * x-rate-limit-reset), or the seconds/HTTP-date of Retry-After when NAME is
 * NULL; NOW_MS is the caller's clock. -1 when absent or unreadable; 0 when
 * already past. */
long long outbound_delay_ms(const outbound_response *r, const char *name, long long now_ms);

#endif
