/*
 * api.c - the HTTP API's core: routes, authentication, the life of one API
 * call, and answering. The handlers live in api_campaigns.c (campaigns,
 * audit, health), api_engine.c (releases, dead letters, the test clock) and
 * api_audiences.c (audience lists and their members).
 *
 * A call may outlive its HTTP request (the client hangs up while Redis is
 * answering) and the request may outlive Redis's answer (a deadline fires
 * first). So a call is reference-counted: one reference for the HTTP side,
 * one per store or engine operation in flight; the last one frees it.
 */
#include "api_call.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "auth.h"
#include "clock.h"
#include "log.h"
#include "numparse.h"

#define HEADERS_MAX (16 * 1024)
#define CLIENT_TIMEOUT_S 30

/* ---- replies ------------------------------------------------------------- */

static void client_gone(call *c)
{
    /* libevent frees the request with its connection: never touch it again. */
    c->req = NULL;
    c->conn = NULL;
    api_call_unref(c);
}

static void client_gone_cb(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    client_gone(arg);
}

static void watch_client(call *c)
{
    if (c->conn)
        api_conn_set_call(c->conn, c, client_gone);
    else
        evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), client_gone_cb, c);
}

/* Once answered, the connection may be freed at any time: forget it first. */
static void forget_client(call *c)
{
    if (c->conn)
        api_conn_set_call(c->conn, NULL, NULL);
    else
        evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL, NULL);
    c->conn = NULL;
}

void api_call_unref(call *c)
{
    if (--c->refs > 0)
        return;
    if (c->deadline)
        event_free(c->deadline);
    campaign_free(c->campaign);
    json_decref(c->warnings);
    json_decref(c->answer);
    free(c);
}

static void audit(call *c, int code)
{
    audit_entry e = {.status = code, .at_ms = clock_wall_ms()};
    snprintf(e.who, sizeof e.who, "%s", c->who ? c->who->name : "-");
    snprintf(e.role, sizeof e.role, "%s", c->who ? c->who->role : "-");
    snprintf(e.action, sizeof e.action, "%s", c->route->action);
    snprintf(e.target, sizeof e.target, "%s", c->id[0] ? c->id : "-");
    snprintf(e.client, sizeof e.client, "%s", c->client);
    api_audit_add(c->api->audit, &e);
}

void api_send_json(call *c, int code, json_t *body)
{
    if (!c->req) {
        /* Answered already (a 503 at the deadline) or the client left: the
         * real outcome still belongs to its Idempotency-Key. */
        if (c->idem == IDEM_RESERVED && body) {
            char *late = json_dumps(body, JSON_INDENT(2));
            api_idem_record(c, code, late);
            free(late);
        }
        json_decref(body);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
    struct evbuffer *out = evbuffer_new();
    char *text = body ? json_dumps(body, JSON_INDENT(2)) : NULL;

    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (code == 401)
        evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"haechi\"");
    if (out && text && evhttp_request_get_command(c->req) == EVHTTP_REQ_HEAD) {
        /* libevent 2.1 would send the body of a HEAD answer: only its size. */
        char len[24];
        snprintf(len, sizeof len, "%zu", strlen(text) + 1);
        evhttp_add_header(h, "Content-Length", len);
    } else if (out && text) {
        evbuffer_add(out, text, strlen(text));
        evbuffer_add(out, "\n", 1);
    }
    api_idem_record(c, code, text);
    forget_client(c);
    evhttp_send_reply(c->req, code, NULL, out);
    if (c->route && c->route->action)
        audit(c, code);
    c->req = NULL;
    if (c->deadline)
        event_del(c->deadline);
    if (out)
        evbuffer_free(out);
    free(text);
    json_decref(body);
    api_call_unref(c);
}

void api_send_error(call *c, int code, const char *error, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    api_send_json(c, code, json_pack("{s:s, s:s}", "error", error, "message", msg));
}

void api_send_unavailable(call *c, const char *why)
{
    api_send_error(c, 503, "redis-unavailable", "the store is unavailable (%s); try again shortly",
                   why ? why : rconn_state(c->api->redis));
}

/* Too many commands wait on Redis already: nothing was sent, so a retry a
 * moment later is safe. */
static void send_busy(call *c, const char *why)
{
    if (c->req)
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
    api_send_error(c, 503, "redis-busy", "the store is busy (%s); nothing was done, try again",
                   why);
}

void api_send_refused(call *c, int rc)
{
    if (rc == RCONN_BUSY)
        send_busy(c, rconn_refusal(c->api->redis, rc));
    else
        api_send_unavailable(c, NULL);
}

/* Answers a store failure that every route shares; 1 when it did. */
int api_check_store_or_reply(call *c, const store_result *res)
{
    if (res->code == STORE_BUSY) {
        send_busy(c, res->error ? res->error : "too many commands waiting on redis");
        return 1;
    }
    if (res->code == STORE_UNAVAILABLE) {
        api_send_unavailable(c, res->error);
        return 1;
    }
    if (res->code == STORE_ERROR) {
        api_send_error(c, 500, "internal", "the store answered unexpectedly: %s", res->error);
        return 1;
    }
    return 0;
}

/* ---- the store's answers come back here --------------------------------------- */

/* Takes a reference for a store operation; drops it if the call never left. */
int api_start_store(call *c, int rc)
{
    if (rc != 0) {
        api_send_refused(c, rc);
        return -1;
    }
    c->refs++;
    return 0;
}
/* ---- request helpers ------------------------------------------------------- */

int api_is_json_type(const char *type)
{
    if (!type)
        return 0;
    size_t n = strlen("application/json");
    return strncasecmp(type, "application/json", n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

/* Copies query parameter KEY into buf; 1 when present. The parsed list
 * is freed here, so no pointer into it outlives this call. */
int api_query_param(call *c, const char *key, char *buf, size_t len)
{
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(c->req));
    struct evkeyvalq q;
    int found = 0;
    TAILQ_INIT(&q);
    if (query && evhttp_parse_query_str(query, &q) == 0) {
        const char *v = evhttp_find_header(&q, key);
        if (v) {
            snprintf(buf, len, "%s", v);
            found = 1;
        }
    }
    evhttp_clear_headers(&q);
    return found;
}

int api_query_whole_or_reply(call *c, const char *key, long long min, long long max, long long *out)
{
    char v[64], rule[128];
    if (!api_query_param(c, key, v, sizeof v))
        return 0;
    if (numparse_whole(v, min, max, out) == NUM_OK)
        return 1;
    numparse_rule(min, max, rule, sizeof rule);
    api_send_error(c, 400, "bad-request", "query parameter %s must be %s; not \"%s\"", key, rule,
                   v);
    return -1;
}

int api_flag_value(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0);
}

/* ---- engine call helpers --------------------------------------------------- */

/* Takes a reference for an engine call in flight, or answers 503. */
void api_start_fcall(call *c, int rc)
{
    if (rc != 0)
        api_send_refused(c, rc);
    else
        c->refs++;
}

int api_check_engine_or_reply(call *c, redisReply *reply, const char *error)
{
    if (!reply) {
        api_send_unavailable(c, error);
        return 1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        log_error("api: engine call failed: %s", reply->str);
        api_send_error(c, 500, "internal", "the engine answered: %s", reply->str);
        return 1;
    }
    return 0;
}

json_t *api_small_body_or_reply(call *c)
{
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(c->req), "Content-Type");
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t len = evbuffer_get_length(in);
    json_error_t jerr;
    if (!api_is_json_type(type)) {
        api_send_error(c, 415, "unsupported-media-type", "send Content-Type: application/json");
        return NULL;
    }
    if (len > 65536) {
        api_send_error(c, 413, "payload-too-large", "this body is limited to 64 KiB");
        return NULL;
    }
    json_t *body = json_loadb(len ? (const char *)evbuffer_pullup(in, -1) : "{}", len ? len : 2,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        json_decref(body);
        api_send_error(c, 400, "bad-request", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

json_t *api_health_stats(call *c)
{
    const api_conns *cs = c->api->conns;
    return json_pack("{s:o, s:{s:i, s:i, s:I}}", "audit", api_audit_stats(c->api->audit),
                     "connections", "open", api_conns_open(cs), "max", api_conns_max(cs), "refused",
                     (json_int_t)api_conns_refused(cs));
}

json_t *api_checked_body_or_reply(call *c, const jobject *shape)
{
    json_t *body = api_small_body_or_reply(c);
    if (!body)
        return NULL;
    diag_list errs;
    jcheck_ctx cx;
    diag_list_init(&errs);
    jcheck_init(&cx, &errs, NULL);
    jcheck_object(&cx, body, shape);
    jcheck_release(&cx);
    if (diag_any(&errs)) {
        json_decref(body);
        body = NULL;
        const diag *first = errs.len ? &errs.items[0] : NULL;
        api_send_json(c, 400,
                      json_pack("{s:s, s:s++, s:o}", "error", "invalid-body", "message",
                                first ? first->path[0] ? first->path : "/" : "",
                                first ? ": " : "the body is invalid", first ? first->message : "",
                                "errors", diag_to_json(&errs)));
    }
    diag_list_release(&errs);
    return body;
}

static void handle_routes(call *c);

static const route routes[] = {
    {EVHTTP_REQ_GET, "/healthz", 0, NULL, api_handle_health},
    {EVHTTP_REQ_GET, "/api/v1/campaigns", PERM_READ, NULL, api_handle_list},
    {EVHTTP_REQ_POST, "/api/v1/campaigns", PERM_WRITE, "submit", api_handle_submit},
    {EVHTTP_REQ_GET, "/api/v1/campaigns/*", PERM_READ, NULL, api_handle_get},
    {EVHTTP_REQ_PUT, "/api/v1/campaigns/*", PERM_WRITE, "replace", api_handle_submit},
    {EVHTTP_REQ_POST, "/api/v1/campaigns/*/pause", PERM_WRITE, "pause", api_handle_status},
    {EVHTTP_REQ_POST, "/api/v1/campaigns/*/resume", PERM_WRITE, "resume", api_handle_status},
    {EVHTTP_REQ_POST, "/api/v1/campaigns/*/cancel", PERM_WRITE, "cancel", api_handle_status},
    {EVHTTP_REQ_GET, "/api/v1/campaigns/*/releases", PERM_READ, NULL, api_handle_releases},
    {EVHTTP_REQ_POST, "/api/v1/campaigns/*/releases/*/send", PERM_WRITE, "send-now",
     api_handle_send_now},
    {EVHTTP_REQ_GET, "/api/v1/audiences", PERM_READ, NULL, api_handle_audience_list},
    {EVHTTP_REQ_GET, "/api/v1/audiences/*", PERM_READ, NULL, api_handle_audience_get},
    {EVHTTP_REQ_GET, "/api/v1/audiences/*/members", PERM_READ, NULL, api_handle_audience_members},
    {EVHTTP_REQ_GET, "/api/v1/audiences/*/members/*", PERM_READ, NULL, api_handle_audience_member},
    {EVHTTP_REQ_DELETE, "/api/v1/audiences/*/members/*", PERM_WRITE, "audience-remove",
     api_handle_audience_remove},
    {EVHTTP_REQ_PUT, "/api/v1/audiences/*/members/*/status", PERM_WRITE, "audience-status",
     api_handle_audience_status},
    {EVHTTP_REQ_GET, "/api/v1/dead", PERM_READ, NULL, api_handle_dead_list},
    {EVHTTP_REQ_GET, "/api/v1/reach", PERM_READ, NULL, api_handle_reach},
    {EVHTTP_REQ_POST, "/api/v1/dead/retry", PERM_WRITE, "dead-retry", api_handle_dead_retry},
    {EVHTTP_REQ_GET, "/api/v1/audit", PERM_ADMIN, NULL, api_handle_audit},
    {EVHTTP_REQ_POST, "/api/v1/test/clock", PERM_ADMIN, "clock", api_handle_clock},
    {EVHTTP_REQ_GET, "/api/v1/debug/routes", PERM_ADMIN, NULL, handle_routes},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static const char *method_name(enum evhttp_cmd_type m);

/* The table itself, in docs/openapi.yaml's path notation, so that a test
 * can hold the published description against what this build routes. */
static void handle_routes(call *c)
{
    json_t *list = json_array();
    for (size_t i = 0; i < NROUTES && list; i++) {
        char path[128];
        size_t n = 0;
        int nth = 0;
        for (const char *p = routes[i].pattern; *p && n + 12 < sizeof path; p++) {
            if (*p == '*')
                n += (size_t)snprintf(path + n, sizeof path - n, "%s",
                                      nth++ == 0                               ? "{id}"
                                      : strstr(routes[i].pattern, "/members/") ? "{member}"
                                                                               : "{release}");
            else
                path[n++] = *p;
        }
        path[n] = '\0';
        json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:s?}", "method",
                                              method_name(routes[i].method), "path", path, "role",
                                              routes[i].perm ? auth_role_for(routes[i].perm) : NULL,
                                              "action", routes[i].action));
    }
    api_send_json(c, 200, json_pack("{s:o}", "routes", list));
}

/* ---- routing -------------------------------------------------------------- */

/* Matches PATH against PATTERN. The first '*' segment is copied to id, a
 * second to sub; *ok is cleared when one does not fit. */
static int path_matches(const char *pattern, const char *path, char *id, size_t idlen, char *sub,
                        size_t sublen, int *ok)
{
    int nth = 0;
    while (*pattern && *path) {
        if (*pattern == '*') {
            const char *end = strchr(path, '/');
            size_t n = end ? (size_t)(end - path) : strlen(path);
            char *dst = nth == 0 ? id : sub;
            size_t len = nth++ == 0 ? idlen : sublen;
            if (n == 0)
                return 0;
            if (n < len) {
                memcpy(dst, path, n);
                dst[n] = '\0';
            } else {
                *ok = 0;
            }
            pattern++;
            path += n;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    /* A trailing slash is the same resource. */
    if (*path == '/' && path[1] == '\0')
        path++;
    return *pattern == '\0' && *path == '\0';
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "?";
    }
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    call *c = arg;
    (void)fd;
    (void)what;
    api_send_error(c, 503, "redis-timeout", "the store did not answer within %d ms",
                   c->api->cfg->redis_command_timeout_ms);
}

static void peer_name(struct evhttp_request *req, char *buf, size_t len)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(conn, &addr, &port);
    snprintf(buf, len, "%s:%u", addr ? addr : "?", port);
}

static int authorize(call *c, const route *r)
{
    if (!r->perm)
        return 0;
    const char *header =
        evhttp_find_header(evhttp_request_get_input_headers(c->req), "Authorization");
    c->who = auth_find(c->api->cfg, header);
    if (!c->who) {
        api_send_error(c, 401, "unauthorized",
                       header ? "the bearer token is not known here"
                              : "send a token: Authorization: Bearer <token>");
        return -1;
    }
    if ((c->who->perms & r->perm) != r->perm) {
        const char *needed = auth_role_for(r->perm);
        if (strcmp(needed, "admin") == 0)
            api_send_error(c, 403, "forbidden", "role %s may not do this (needs admin)",
                           c->who->role);
        else
            api_send_error(c, 403, "forbidden", "role %s may not do this (needs %s or admin)",
                           c->who->role, needed);
        return -1;
    }
    return 0;
}

void api_run_handler(call *c)
{
    if (c->deadline) {
        int ms = c->api->cfg->redis_command_timeout_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(c->deadline, &tv);
    }
    c->route->handle(c);
}

/* What api_conn.c refused before evhttp saw it, answered as JSON and
 * audited like any anonymous refusal; 1 when it was one. */
static int answered_refusal(call *c)
{
    static const route refused = {EVHTTP_REQ_GET, API_CONN_REFUSED_PATH, 0, "refused", NULL};
    const char *error = NULL, *message = NULL;
    int code = api_conn_refusal(c->conn, &error, &message);
    if (!code)
        return 0;
    c->route = &refused;
    api_send_error(c, code, error, "%s", message);
    return 1;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    api *a = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    /* HEAD is GET without the body (libevent leaves the body out). */
    enum evhttp_cmd_type as = method == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : method;
    call *c = calloc(1, sizeof *c);
    char allow[64] = "";

    if (!c) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    c->api = a;
    c->req = req;
    /* One reference for the HTTP side, one guarding this function: a
     * handler may answer (and drop the first) before it returns. */
    c->refs = 2;
    peer_name(req, c->client, sizeof c->client);
    c->conn = api_conns_find(a->conns, evhttp_request_get_connection(req));
    if (!path)
        path = "/";
    if (strcmp(path, API_CONN_REFUSED_PATH) == 0 && answered_refusal(c)) {
        api_call_unref(c);
        return;
    }

    const route *match = NULL;
    int id_ok = 1;
    for (size_t i = 0; i < NROUTES; i++) {
        char id[65] = "", sub[800] = "";
        int ok = 1;
        if (!path_matches(routes[i].pattern, path, id, sizeof id, sub, sizeof sub, &ok))
            continue;
        if (routes[i].method != as) {
            size_t used = strlen(allow);
            snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "",
                     method_name(routes[i].method));
            continue;
        }
        match = &routes[i];
        id_ok = ok;
        snprintf(c->id, sizeof c->id, "%s", id);
        snprintf(c->sub, sizeof c->sub, "%s", sub);
        break;
    }
    if (!match) {
        if (allow[0]) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
            api_send_error(c, 405, "method-not-allowed", "%s is not allowed here; allowed: %s",
                           method_name(method), allow);
        } else {
            api_send_error(c, 404, "not-found", "no such route: %s %s", method_name(method), path);
        }
        api_call_unref(c);
        return;
    }
    c->route = match;
    watch_client(c);
    c->deadline = evtimer_new(a->base, deadline_cb, c);

    if (authorize(c, match) != 0)
        goto out;
    if (strchr(match->pattern, '*') &&
        (!id_ok || !campaign_is_slug(c->id) ||
         (strstr(match->pattern, "*/releases/*") && !campaign_is_slug(c->sub)))) {
        char shown[65];
        snprintf(shown, sizeof shown, "%s", id_ok ? c->id : "(too long)");
        c->id[0] = '\0';
        api_send_error(c, 400, "invalid-id",
                       "\"%s\" is not a %s id: ids are slugs of a-z, 0-9 and single hyphens", shown,
                       strncmp(match->pattern, "/api/v1/audiences", 17) ? "campaign" : "list");
        goto out;
    }
    if (!api_idem_begin_or_reply(c))
        api_run_handler(c);
out:
    api_call_unref(c); /* the guard reference */
}

/* ---- set-up ---------------------------------------------------------------- */

api *api_new(struct event_base *base, const config *cfg, rconn *redis, store *st, engine *e)
{
    api *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->base = base;
    a->cfg = cfg;
    a->redis = redis;
    a->st = st;
    a->e = e;
    a->http = evhttp_new(base);
    if (!a->http) {
        free(a);
        return NULL;
    }
    /* Every buffer fed by the network has a ceiling. Bodies up to twice the
     * campaign limit reach us so that the answer is our JSON 413; beyond
     * that libevent refuses them itself. */
    api_conn_limits lim = {.max_connections = cfg->max_connections,
                           .header_timeout_ms = cfg->header_timeout_ms,
                           .max_head = HEADERS_MAX,
                           .max_body = cfg->limits.max_bytes * 2 + 65536};
    if (!(a->conns = api_conns_new(base, a->http, &lim)) ||
        !(a->audit = api_audit_new(base, st, redis))) {
        api_conns_free(a->conns);
        evhttp_free(a->http);
        free(a);
        return NULL;
    }
    /* api_conn.c refuses first, as JSON; libevent's own caps stay behind it. */
    evhttp_set_max_body_size(a->http, (ev_ssize_t)(lim.max_body + 1));
    evhttp_set_max_headers_size(a->http, HEADERS_MAX * 2);
    evhttp_set_timeout(a->http, CLIENT_TIMEOUT_S);
    /* Every method reaches the router, so that even PATCH gets a JSON 405. */
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(a->http, dispatch, a);
    return a;
}

int api_listen(api *a, const char *host, int port, int *bound)
{
    struct evhttp_bound_socket *sock =
        evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)port);
    if (!sock)
        return -1;
    api_conns_listen(a->conns, evhttp_bound_socket_get_listener(sock));
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    *bound = port;
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            *bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

void api_free(api *a)
{
    if (!a)
        return;
    evhttp_free(a->http);
    api_conns_free(a->conns);
    api_audit_free(a->audit);
    free(a);
}
