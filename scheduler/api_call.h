/*
 * api_call.h - what the API's files share: the server, one call's state,
 * the route table's shape, and the helpers every handler answers with.
 * Internal to api*.c.
 */
#ifndef HAECHI_API_CALL_H
#define HAECHI_API_CALL_H

#include <event2/http.h>
#include <jansson.h>

#include "api.h"
#include "api_audit.h"
#include "api_conn.h"
#include "campaign.h"
#include "config.h"
#include "engine.h"
#include "jcheck.h"
#include "store.h"

struct api {
    struct event_base *base;
    const config *cfg;
    rconn *redis;
    store *st;
    engine *e;
    struct evhttp *http;
    api_conns *conns;
    api_audit *audit;
};

typedef struct call call;

typedef struct route {
    enum evhttp_cmd_type method;
    const char *pattern; /* '*' stands for one path segment: a campaign id, then a release id */
    unsigned perm;       /* 0: no token needed */
    const char *action;  /* audit name; NULL: not a mutating call */
    void (*handle)(call *c);
} route;

struct call {
    api *api;
    struct evhttp_request *req; /* NULL once answered or the client left */
    const route *route;
    const config_token *who;
    api_conn *conn; /* NULL once the client left */
    char client[64];
    char id[65];
    char sub[800]; /* a second path segment: a release id, a member id (URL-encoded) */
    int refs;
    struct event *deadline;
    campaign *campaign; /* submit: kept to describe the next releases */
    json_t *warnings;   /* submit: what is odd but allowed */
    json_t *answer;     /* an answer waiting for the engine's step */
    int answer_code;
    int catch_up; /* resume --catch-up */
    long long version_asked;
    enum { IDEM_NONE, IDEM_RESERVED, IDEM_REPLAYED, IDEM_DONE } idem;
    char idem_key[160]; /* PREFIX:idem:HASH while idem is not IDEM_NONE */
};

/* Drops a reference; the last one frees the call. */
void api_call_unref(call *c);

/* Answers (once: later answers to a call already answered are dropped),
 * audits a mutating route, and drops the HTTP side's reference. BODY is
 * consumed. */
void api_send_json(call *c, int code, json_t *body);
void api_send_error(call *c, int code, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void api_send_unavailable(call *c, const char *why);
/* 503 for a command rconn refused with RC: redis-busy (with Retry-After)
 * or redis-unavailable. */
void api_send_refused(call *c, int rc);

/* Answers a store failure every route shares; 1 when it did. */
int api_check_store_or_reply(call *c, const store_result *res);

/* Takes a reference for a store or engine call just started (RC 0), or
 * answers 503 (RC -1). */
int api_start_store(call *c, int rc);
void api_start_fcall(call *c, int rc);

/* Answers a failed engine call (503 or 500); 1 when it did. */
int api_check_engine_or_reply(call *c, redisReply *reply, const char *error);

/* Query parameter KEY copied into buf; 1 when present. */
int api_query_param(call *c, const char *key, char *buf, size_t len);
int api_flag_value(const char *v);

/* Query parameter KEY as a strict whole number in [MIN, MAX] (numparse.h):
 * 1 when given (*out set), 0 when absent, -1 after answering 400. */
int api_query_whole_or_reply(call *c, const char *key, long long min, long long max,
                             long long *out);
int api_is_json_type(const char *type);

/* A small JSON object body, or NULL after answering 400/413/415. */
json_t *api_small_body_or_reply(call *c);

/* A small body checked against SHAPE (jcheck.h): new reference, or NULL
 * after answering; a 400 "invalid-body" lists every error with its path. */
json_t *api_checked_body_or_reply(call *c, const jobject *shape);

/* {"audit": {...}, "connections": {...}} for /healthz; new reference. */
json_t *api_health_stats(call *c);

/* Arms the call's Redis deadline and runs its route's handler. */
void api_run_handler(call *c);

/* Idempotency-Key (api_idem.c): 0 when the call has none (go on); 1 when
 * it took the call over (it runs the handler itself, replays the first
 * outcome, or has answered). */
int api_idem_begin_or_reply(call *c);
/* Keeps the outcome of a call that reserved a key; TEXT is its body. */
void api_idem_record(call *c, int code, const char *text);

/* The handlers of the route table. */
void api_handle_health(call *c);
void api_handle_list(call *c);
void api_handle_submit(call *c);
void api_handle_get(call *c);
void api_handle_status(call *c);
void api_handle_audit(call *c);
void api_handle_releases(call *c);
void api_handle_send_now(call *c);
void api_handle_dead_list(call *c);
void api_handle_dead_retry(call *c);
void api_handle_clock(call *c);
void api_handle_reach(call *c);
void api_handle_audience_list(call *c);
void api_handle_audience_get(call *c);
void api_handle_audience_members(call *c);
void api_handle_audience_member(call *c);
void api_handle_audience_status(call *c);
void api_handle_audience_remove(call *c);

#endif
