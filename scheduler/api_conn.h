/*
 * api_conn.h - the API's connections before libevent's HTTP parser reads
 * them: a connection cap, a header deadline, accept back-off, and a strict
 * screen of each request's framing. Internal to api*.c.
 *
 * libevent 2.1 answers what it refuses itself (a malformed chunk size, an
 * unknown method, a body over its cap) with HTML pages, cuts header values
 * at a NUL, takes the first of two Content-Length headers, and has neither a
 * connection cap nor a header deadline. So every byte a client sends is held
 * here until its request's head (and a chunked body) is complete and
 * unambiguous; only then does evhttp see it. What is refused never reaches
 * evhttp: a short request for a reserved path does instead, and the router
 * answers it as JSON (api_conn_refusal) before the connection closes.
 */
#ifndef HAECHI_API_CONN_H
#define HAECHI_API_CONN_H

#include <event2/http.h>

typedef struct api api;
typedef struct call call;
typedef struct api_conn api_conn;
typedef struct api_conns api_conns;

/* The path evhttp is handed in place of a refused request. */
#define API_CONN_REFUSED_PATH "/-/refused"

typedef struct api_conn_limits {
    int max_connections;   /* over it a connection is answered 503 and closed */
    int header_timeout_ms; /* from a request's first byte to the end of its head */
    size_t max_head;       /* request line and headers */
    size_t max_body;       /* Content-Length or the sum of chunks */
} api_conn_limits;

/* Installs itself on HTTP and on each of its listeners (api_conns_listen).
 * The limits are copied; max_connections is lowered below the process's
 * fd limit (a warning says so). */
api_conns *api_conns_new(struct event_base *base, struct evhttp *http, const api_conn_limits *lim);
/* After evhttp_free: frees what remains. */
void api_conns_free(api_conns *cs);

/* Backs off accept() on EMFILE/ENFILE for LISTENER (logged once per
 * interval, with a count). */
void api_conns_listen(api_conns *cs, struct evconnlistener *listener);

/* The connection a request came on; NULL if not known. */
api_conn *api_conns_find(api_conns *cs, struct evhttp_connection *evcon);

/* The call answering on K (NULL: none). When the client leaves first, the
 * call's gone() runs with it. */
void api_conn_set_call(api_conn *k, call *c, void (*gone)(call *c));

/* What K's refusal says; 0 when K was not refused (then the reserved path
 * is an ordinary unknown route). */
int api_conn_refusal(const api_conn *k, const char **error, const char **message);

/* The number of connections open now, and counters for /healthz. */
int api_conns_open(const api_conns *cs);
int api_conns_max(const api_conns *cs);
unsigned long api_conns_refused(const api_conns *cs);

#endif
