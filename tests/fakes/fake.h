/*
 * fake.h - the small core every local stand-in of an outside service is
 * built on (tests/fakes/fake_NAME.c): a libevent HTTP server on loopback
 * that routes requests to the service's handlers, checks bearer tokens,
 * injects faults on demand, keeps its own clock, and records every request
 * it accepted as one JSON line.
 *
 * A stand-in is one service table and a main() that calls fake_main():
 *
 *     static const fake_route routes[] = {{"POST", "/2/tweets", post_tweet}, ...};
 *     static const fake_service x = {.name = "x", .routes = routes, ...};
 *     int main(int argc, char **argv) { return fake_main(argc, argv, &x); }
 *
 * Common options (every stand-in):
 *   --listen 127.0.0.1:PORT   (PORT 0 picks one; only loopback is accepted)
 *   --port-file FILE          the port, written once the server listens
 *   --log FILE                JSON lines, one per request accepted
 *   --log-body-max BYTES      a body longer than that is logged as {"truncated":
 *                             true, "bytes": its length, "head": its first BYTES
 *                             (cut on a character boundary)}; 0 (default): whole
 *   --token T                 a valid bearer token (repeatable)
 *   --demo-clock START_MS:EPOCH_MS:SPEED   the stand-in's clock runs as the
 *                             daemon's demo clock does (make run): START_MS
 *                             at the real EPOCH_MS, SPEED times real time
 *   plus the service's own options, passed to its init().
 *
 * The control API, under /_fake/ (no auth; loopback only):
 *   POST /_fake/faults   {"fault": F, "count": N, "share": S, "route": "/2/tweets",
 *                         "ms": D, "status": C}
 *        F is one of: "rate-limit", "server-error", "slow", "timeout", "drop",
 *        "drop-after-store", "expire-token", or "error:NAME" (a service's own
 *        named error, e.g. "error:duplicate", "error:policy"). The next N
 *        matching requests (or that share of them, 0 < S <= 1, seeded so runs
 *        repeat) get it. "slow" and "timeout" hold the answer D ms (timeout:
 *        forever, until the client gives up); "drop" closes the connection
 *        without acting; "drop-after-store" acts (stores the post) and then
 *        closes without answering.
 *        As implemented (fake.c): N defaults to 1, or to no limit when S is
 *        given (N 0 is no limit too); "seed" (default 0) picks another
 *        repeatable draw of a share; "route" is a route pattern (":x"
 *        segments) or a path, none for every route. "rate-limit",
 *        "server-error" and "error:NAME" are answered by the service's
 *        error() with C (defaults 429, 503, and 0 = the service's own), the
 *        handler does not run; "timeout" and "drop" do not run it either;
 *        "expire-token" expires the request's token, then handles it (so it
 *        gets the expired-token answer). The request's fault_ms is D. An
 *        array of fault objects adds them all; the first that matches wins.
 *   DELETE /_fake/faults                 clears them
 *   POST /_fake/clock    {"now_ms": T} | {"advance_ms": D}   the stand-in's clock
 *   GET  /_fake/clock                    {"now_ms": T}
 *   POST /_fake/tokens   {"expire": "T"} | {"add": "T"}     token states
 *   GET  /_fake/requests                 the log so far, as a JSON array
 *   GET  /_fake/state                    the service's own state (posts...), JSON
 *   POST /_fake/reset                    forget posts, faults, log and tokens added
 *                                        (the --token ones are fresh again); the
 *                                        clock stays
 *
 * The log: one line per request on a service route (unknown paths too, as
 * 404s; never /_fake/ ones): {"at_ms","method","path","query":{...},
 * "body": JSON, form fields as an object, a string, or null, "status": N,
 * or null when no answer went out, "fault": F or null}, flushed per line.
 */
#ifndef HAECHI_FAKE_H
#define HAECHI_FAKE_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fake fake;

/* One request, as a handler sees it. Everything is borrowed. */
typedef struct fake_req {
    fake *f;
    struct evhttp_request *ev;
    const char *method;
    const char *path;       /* decoded, without the query */
    const char *params[4];  /* the ":name" segments of the route, in order */
    struct evkeyvalq query; /* query string, then a form body, merged */
    json_t *json;           /* the body when it is JSON, else NULL */
    const char *body;       /* raw body, NUL-terminated */
    size_t body_len;
    const char *token; /* bearer token or access_token parameter, NULL if none */
    int64_t now_ms;    /* the stand-in's clock */
    int store_only;    /* drop-after-store: act, the answer will be discarded */
    int fault_ms;      /* the drawn fault's "ms" (e.g. a rate limit's reset), 0 if none */
} fake_req;

typedef void fake_handler(fake_req *rq);

/* "POST", "/v24.0/:page/feed": a ":x" segment matches one path segment. */
typedef struct fake_route {
    const char *method;
    const char *pattern;
    fake_handler *handle;
    int no_auth; /* the route needs no token (token endpoints) */
} fake_route;

typedef struct fake_service {
    const char *name;
    const fake_route *routes; /* terminated by {0} */
    /* The service's real error answers for injected and detected faults.
     * KIND is "rate-limit", "server-error", "unauthorized", "expired-token",
     * or NAME of "error:NAME"; returns 0, or -1 for a name it does not know. */
    int (*error)(fake_req *rq, const char *kind, int status);
    /* Options beyond the common ones: returns the number of argv entries
     * used (1 or 2), 0 for an unknown option. */
    int (*option)(const char *name, const char *value);
    int (*init)(fake *f);
    json_t *(*state)(fake *f); /* GET /_fake/state */
    void (*reset)(fake *f);    /* back to the start state; also runs once after init() */
    void (*release)(fake *f);  /* at exit, even when init() did not run: free what it made */
} fake_service;

/* Answers RQ with BODY (stolen) and HEADERS ("Name: value", NULL-terminated). */
void fake_reply_json(fake_req *rq, int status, json_t *body, const char *const *headers);

/* Adds one header to the coming answer. */
void fake_header(fake_req *rq, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A parameter from the query, a form body or a JSON body's top level. */
const char *fake_param(const fake_req *rq, const char *name);

/* Whether TOKEN is valid now; 0 for unknown, -1 for expired. */
int fake_token_state(const fake *f, const char *token);
void fake_token_add(fake *f, const char *token);
void fake_token_expire(fake *f, const char *token);
/* Tokens added from now on (--token ones included, and again at reset)
 * expire TTL_MS after they were added, on the stand-in clock; 0: never.
 * Call it from init(). */
void fake_token_ttl(fake *f, int64_t ttl_ms);

/* A fresh id: a decimal string unique within this stand-in's run. */
void fake_new_id(fake *f, char *buf, size_t len);

int64_t fake_now_ms(const fake *f);

/* Runs the stand-in until SIGTERM or SIGINT. */
int fake_main(int argc, char **argv, const fake_service *svc);

#endif
