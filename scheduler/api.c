/*
 * api.c - HTTP routes, authentication and the life of one API call.
 *
 * A call may outlive its HTTP request (the client hangs up while Redis is
 * answering) and the request may outlive Redis's answer (a deadline fires
 * first). So a call is reference-counted: one reference for the HTTP side,
 * one per store operation in flight; whichever finishes last frees it.
 */
#include "api.h"

#include <arpa/inet.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "auth.h"
#include "campaign.h"
#include "clock.h"
#include "isotime.h"
#include "log.h"
#include "releases.h"

#define NEXT_RELEASES 10
#define HEADERS_MAX (16 * 1024)
#define CLIENT_TIMEOUT_S 30

struct api {
    struct event_base *base;
    const config *cfg;
    rconn *redis;
    store *st;
    engine *e;
    struct evhttp *http;
};

typedef struct call call;

typedef struct route {
    enum evhttp_cmd_type method;
    const char *pattern; /* '*' stands for one path segment: a campaign id */
    unsigned perm;       /* 0: no token needed */
    const char *action;  /* audit name; NULL: not a mutating call */
    void (*handle)(call *c);
} route;

struct call {
    api *api;
    struct evhttp_request *req; /* NULL once answered or the client left */
    const route *route;
    const config_token *who;
    char client[64];
    char id[65];
    char sub[65];       /* a second path segment: a release id */
    int refs;
    struct event *deadline;
    campaign *campaign; /* submit: kept to describe the next releases */
    json_t *warnings;   /* submit: what is odd but allowed */
    json_t *answer;     /* an answer waiting for the engine's step */
    int answer_code;
    int catch_up;       /* resume --catch-up */
    long long version_asked;
};

/* ---- replies ------------------------------------------------------------- */

static void call_unref(call *c)
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

static void send_json(call *c, int code, json_t *body)
{
    if (!c->req) {
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
    if (out && text) {
        evbuffer_add(out, text, strlen(text));
        evbuffer_add(out, "\n", 1);
    }
    /* After this the connection may be freed: forget it first. */
    evhttp_connection_set_closecb(evhttp_request_get_connection(c->req), NULL, NULL);
    evhttp_send_reply(c->req, code, NULL, out);
    if (c->route && c->route->action)
        store_audit(c->api->st, c->who ? c->who->name : "-", c->who ? c->who->role : "-",
                    c->route->action, c->id[0] ? c->id : "-", code, c->client,
                    clock_wall_ms());
    c->req = NULL;
    if (c->deadline)
        event_del(c->deadline);
    if (out)
        evbuffer_free(out);
    free(text);
    json_decref(body);
    call_unref(c);
}

static void send_error(call *c, int code, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void send_error(call *c, int code, const char *error, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    send_json(c, code, json_pack("{s:s, s:s}", "error", error, "message", msg));
}

static void send_unavailable(call *c, const char *why)
{
    send_error(c, 503, "redis-unavailable", "the store is unavailable (%s); try again shortly",
               why ? why : rconn_state(c->api->redis));
}

/* Answers a store failure that every route shares; 1 when it did. */
static int answered_store_failure(call *c, const store_result *res)
{
    if (res->code == STORE_UNAVAILABLE) {
        send_unavailable(c, res->error);
        return 1;
    }
    if (res->code == STORE_ERROR) {
        send_error(c, 500, "internal", "the store answered unexpectedly: %s",
                   res->error ? res->error : "?");
        return 1;
    }
    return 0;
}

/* ---- the store's answers come back here --------------------------------------- */

/* Takes a reference for a store operation; drops it if the call never left. */
static int start_store(call *c, int rc)
{
    if (rc != 0) {
        send_unavailable(c, NULL);
        return -1;
    }
    c->refs++;
    return 0;
}

static json_t *next_releases(const campaign *cp, int64_t after)
{
    campaign_firing f[NEXT_RELEASES];
    size_t n = campaign_next_firings(cp, after, f, NEXT_RELEASES);
    json_t *list = json_array();
    for (size_t i = 0; i < n && list; i++) {
        const release *r = &cp->releases[f[i].release];
        char at[64];
        json_t *channels = json_array();
        isotime_format_rfc3339(f[i].at, cp->zone, at, sizeof at);
        for (int ch = 0; ch < CHANNEL_COUNT; ch++)
            if (r->channels & (1u << ch))
                json_array_append_new(channels, json_string(channel_names[ch]));
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "at", at, "release", r->id,
                                              "channels", channels));
    }
    return list;
}

static void finish_recorded(const store_result *res, void *arg)
{
    (void)res;
    (void)arg;
}

/* Sends the answer prepared before an engine step; WARNING, when not NULL,
 * is added to its warnings. */
static void send_answer(call *c, const char *warning)
{
    json_t *answer = c->answer;
    c->answer = NULL;
    if (warning) {
        json_t *w = json_object_get(answer, "warnings");
        if (!json_is_array(w)) {
            w = json_array();
            json_object_set_new(answer, "warnings", w);
        }
        json_array_append_new(w, json_pack("{s:s, s:s, s:s}", "path", "", "rule", "engine",
                                           "message", warning));
    }
    send_json(c, c->answer_code, answer);
}

static void armed(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        char why[256];
        snprintf(why, sizeof why, "the releases are not armed yet (%s); the scheduler arms "
                 "them when it reconciles", reply ? reply->str : error);
        log_error("api: arming %s failed: %s", c->id, reply ? reply->str : error);
        send_answer(c, why);
    } else {
        /* Nothing of it lies ahead (a past window): finished at once. */
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            reply->element[1]->type == REDIS_REPLY_STRING &&
            strcmp(reply->element[1]->str, "finished") == 0) {
            json_object_set_new(c->answer, "status", json_string("finished"));
            store_set_status(c->api->st, c->id, "finish", c->who->name, clock_wall_ms(),
                             finish_recorded, NULL);
        }
        send_answer(c, NULL);
    }
    call_unref(c);
}

static void submitted(const store_result *res, void *arg)
{
    call *c = arg;
    if (!answered_store_failure(c, res)) {
        if (res->code == STORE_CONFLICT && strcmp(res->status, "exists") == 0) {
            send_error(c, 409, "conflict",
                       "campaign \"%s\" already exists (version %lld); submit with --replace "
                       "(or PUT /api/v1/campaigns/%s) to make a new version",
                       c->id, res->version, c->id);
        } else if (res->code == STORE_CONFLICT) {
            send_error(c, 409, "cancelled",
                       "campaign \"%s\" is %s and cannot be replaced; submit it under a new id",
                       c->id, res->status);
        } else {
            int64_t now = clock_wall_s();
            c->answer = json_pack("{s:s, s:I, s:s, s:o, s:O}", "id", c->id, "version",
                                  (json_int_t)res->version, "status", res->status,
                                  "next_releases", next_releases(c->campaign, now),
                                  "warnings", c->warnings);
            c->answer_code = res->version == 1 ? 201 : 200;
            /* Stored; now hand its releases to the engine. */
            if (engine_arm(c->api->e, c->campaign, res->version, res->status,
                           clock_wall_ms(), armed, c) == 0)
                c->refs++;
            else
                send_answer(c, "the releases are not armed yet (Redis went away); the "
                               "scheduler arms them when it reconciles");
        }
    }
    call_unref(c);
}

/* "pause" -> "paused", for messages. */
static const char *done_word(const char *action)
{
    if (strcmp(action, "pause") == 0)
        return "paused";
    if (strcmp(action, "resume") == 0)
        return "resumed";
    if (strcmp(action, "cancel") == 0)
        return "cancelled";
    return action;
}

/* The engine's copy follows the store's; a resume may find nothing left. */
static void engine_status_changed(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        char why[256];
        snprintf(why, sizeof why, "the engine has not applied this yet (%s); the scheduler "
                 "applies it when it reconciles",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : error);
        send_answer(c, why);
    } else {
        const char *status = reply->element[0]->str;
        if (reply->element[1]->type == REDIS_REPLY_INTEGER)
            json_object_set_new(c->answer, strcmp(c->route->action, "cancel") == 0
                                               ? "dropped"
                                               : c->catch_up ? "caught_up" : "skipped",
                                json_integer(reply->element[1]->integer));
        if (status && strcmp(status, "finished") == 0) {
            json_object_set_new(c->answer, "status", json_string("finished"));
            store_set_status(c->api->st, c->id, "finish", c->who->name, clock_wall_ms(),
                             finish_recorded, NULL);
        }
        send_answer(c, NULL);
    }
    call_unref(c);
}

static void status_changed(const store_result *res, void *arg)
{
    call *c = arg;
    if (!answered_store_failure(c, res)) {
        if (res->code == STORE_NOT_FOUND)
            send_error(c, 404, "not-found", "no campaign \"%s\"", c->id);
        else if (res->code == STORE_CONFLICT)
            send_error(c, 409, "conflict", "campaign \"%s\" is %s; it cannot be %s", c->id,
                       res->status, done_word(c->route->action));
        else {
            c->answer = json_pack("{s:s, s:s, s:b}", "id", c->id, "status", res->status,
                                  "changed", res->changed);
            c->answer_code = 200;
            if (engine_set_status(c->api->e, c->id, c->route->action, c->catch_up,
                                  engine_status_changed, c) == 0)
                c->refs++;
            else
                send_answer(c, "the engine has not applied this yet (Redis went away); the "
                               "scheduler applies it when it reconciles");
        }
    }
    call_unref(c);
}

static void got_campaign(const store_result *res, void *arg)
{
    call *c = arg;
    if (!answered_store_failure(c, res)) {
        if (res->code == STORE_NOT_FOUND) {
            if (c->version_asked)
                send_error(c, 404, "not-found", "campaign \"%s\" has no version %lld", c->id,
                           c->version_asked);
            else
                send_error(c, 404, "not-found", "no campaign \"%s\"", c->id);
        } else {
            json_t *body = json_deep_copy(res->data);
            char *doc = json_dumps(json_object_get(body, "campaign"), JSON_COMPACT);
            diag_list errs;
            diag_list_init(&errs);
            /* A version stored under other limits may not parse: then the
             * answer just has no next releases. */
            campaign *cp = doc ? campaign_parse(doc, strlen(doc), &c->api->cfg->limits, &errs,
                                                NULL)
                               : NULL;
            diag_list_release(&errs);
            if (cp)
                json_object_set_new(body, "next_releases", next_releases(cp, clock_wall_s()));
            campaign_free(cp);
            free(doc);
            send_json(c, 200, body);
        }
    }
    call_unref(c);
}

static void got_list(const store_result *res, void *arg)
{
    call *c = arg;
    if (!answered_store_failure(c, res))
        send_json(c, 200, json_pack("{s:O}", "campaigns", res->data));
    call_unref(c);
}

static void got_audit(const store_result *res, void *arg)
{
    call *c = arg;
    if (!answered_store_failure(c, res))
        send_json(c, 200, json_pack("{s:O}", "entries", res->data));
    call_unref(c);
}

static void health_pong(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (reply && reply->type != REDIS_REPLY_ERROR)
        send_json(c, 200, json_pack("{s:s, s:s}", "status", "ok", "redis", "ready"));
    else
        send_json(c, 503, json_pack("{s:s, s:s}", "status", "unavailable", "redis",
                                    reply ? reply->str : error));
    call_unref(c);
}

/* ---- handlers ------------------------------------------------------------ */

static int is_json_type(const char *type)
{
    if (!type)
        return 0;
    size_t n = strlen("application/json");
    return strncasecmp(type, "application/json", n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

/* Copies query parameter KEY into buf; 1 when present. The parsed list
 * is freed here, so no pointer into it outlives this call. */
static int query_param(call *c, const char *key, char *buf, size_t len)
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

static int flag_value(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
                 strcasecmp(v, "yes") == 0);
}

static void handle_submit(call *c)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(c->req),
                                          "Content-Type");
    size_t len = evbuffer_get_length(in);
    size_t limit = c->api->cfg->limits.max_bytes;
    int replace = evhttp_request_get_command(c->req) == EVHTTP_REQ_PUT;

    if (!is_json_type(type)) {
        send_error(c, 415, "unsupported-media-type",
                   "send the campaign as Content-Type: application/json (got %s)",
                   type ? type : "none");
        return;
    }
    if (len > limit) {
        send_error(c, 413, "payload-too-large",
                   "the campaign is %zu bytes, over the limit of %zu bytes "
                   "(limits.max_campaign_bytes)",
                   len, limit);
        return;
    }
    char flag[16];
    if (!replace && query_param(c, "replace", flag, sizeof flag))
        replace = flag_value(flag);

    diag_list errs, warns;
    diag_list_init(&errs);
    diag_list_init(&warns);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    char url_id[65];
    snprintf(url_id, sizeof url_id, "%s", c->id);
    c->campaign = campaign_parse(body, len, &c->api->cfg->limits, &errs, &warns);
    if (c->campaign && c->campaign->end < clock_wall_s()) {
        char end[64];
        isotime_format_human(c->campaign->end, c->campaign->zone, end, sizeof end);
        diag_add(&warns, "/schedule/end", "past-window",
                 "the window ended %s; nothing of it will be released", end);
    }
    c->warnings = diag_to_json(&warns);
    diag_list_release(&warns);
    if (c->campaign && url_id[0] && strcmp(url_id, c->campaign->id) != 0)
        diag_add(&errs, "/id", "id-mismatch",
                 "\"%s\" does not match the campaign id in the URL, \"%s\"", c->campaign->id,
                 url_id);
    if (diag_any(&errs)) {
        json_t *list = diag_to_json(&errs);
        send_json(c, 400, json_pack("{s:s, s:s, s:o}", "error", "invalid-campaign", "message",
                                    "the campaign is invalid; see errors", "errors", list));
        diag_list_release(&errs);
        return;
    }
    diag_list_release(&errs);
    snprintf(c->id, sizeof c->id, "%s", c->campaign->id);

    char *doc = json_dumps(c->campaign->doc, JSON_COMPACT);
    if (!doc) {
        send_error(c, 500, "internal", "out of memory");
        return;
    }
    store_submission sub = {
        .id = c->id,
        .doc = doc,
        .title = json_string_value(json_object_get(c->campaign->doc, "title")),
        .owner = json_string_value(json_object_get(c->campaign->doc, "owner")),
        .replace = replace,
        .by = c->who->name,
        .client = c->client,
        .at_ms = clock_wall_ms(),
    };
    int rc = rconn_ready(c->api->redis) ? store_submit(c->api->st, &sub, submitted, c) : -1;
    free(doc);
    start_store(c, rc);
}

static void handle_status(call *c)
{
    char flag[16];
    c->catch_up = query_param(c, "catch_up", flag, sizeof flag) && flag_value(flag);
    int rc = store_set_status(c->api->st, c->id, c->route->action, c->who->name,
                              clock_wall_ms(), status_changed, c);
    start_store(c, rc);
}

static void handle_get(call *c)
{
    char v[64];
    long long version = 0;
    if (query_param(c, "version", v, sizeof v)) {
        char *end;
        version = strtoll(v, &end, 10);
        if (*end || end == v || version < 1) {
            send_error(c, 400, "bad-request", "version must be a whole number from 1, not \"%s\"",
                       v);
            return;
        }
    }
    c->version_asked = version;
    start_store(c, store_get(c->api->st, c->id, version, got_campaign, c));
}

static void handle_list(call *c)
{
    start_store(c, store_list(c->api->st, got_list, c));
}

static void handle_audit(call *c)
{
    char v[64];
    long count = 100;
    if (query_param(c, "count", v, sizeof v)) {
        char *end;
        count = strtol(v, &end, 10);
        if (*end || end == v || count < 1 || count > 1000) {
            send_error(c, 400, "bad-request", "count must be 1-1000, not \"%s\"", v);
            return;
        }
    }
    start_store(c, store_audit_read(c->api->st, count, got_audit, c));
}

static void handle_health(call *c)
{
    const char *ping[] = {"PING"};
    if (rconn_command(c->api->redis, health_pong, c, 1, ping, NULL) != 0) {
        send_json(c, 503, json_pack("{s:s, s:s}", "status", "unavailable", "redis",
                                    rconn_state(c->api->redis)));
        return;
    }
    c->refs++;
}

/* ---- the release engine's routes ----------------------------------------- */

/* Takes a reference for an engine call in flight, or answers 503. */
static void start_fcall(call *c, int rc)
{
    if (rc != 0)
        send_unavailable(c, NULL);
    else
        c->refs++;
}

static int engine_failed(call *c, redisReply *reply, const char *error)
{
    if (!reply) {
        send_unavailable(c, error);
        return 1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        log_error("api: engine call failed: %s", reply->str);
        send_error(c, 500, "internal", "the engine answered: %s", reply->str);
        return 1;
    }
    return 0;
}

static void got_releases(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!engine_failed(c, reply, error)) {
        json_t *body = releases_to_json(reply);
        if (!body)
            send_error(c, 500, "internal", "the engine's answer had an unexpected shape");
        else if (!json_string_length(json_object_get(body, "status"))) {
            json_decref(body);
            send_error(c, 404, "not-found", "no releases armed for campaign \"%s\"", c->id);
        } else {
            json_object_set_new(body, "id", json_string(c->id));
            send_json(c, 200, body);
        }
    }
    call_unref(c);
}

static void handle_releases(call *c)
{
    char camp[192], max[16] = "5";
    char limit[16];
    if (query_param(c, "upcoming", limit, sizeof limit)) {
        long n = strtol(limit, NULL, 10);
        if (n < 1 || n > 1000) {
            send_error(c, 400, "bad-request", "upcoming must be 1-1000, not \"%s\"", limit);
            return;
        }
        snprintf(max, sizeof max, "%ld", n);
    }
    snprintf(camp, sizeof camp, "%scamp:%s", engine_prefix(c->api->e), c->id);
    const char *argv[] = {camp, engine_prefix(c->api->e), max};
    start_fcall(c, engine_fcall(c->api->e, "haechi_releases", 1, 3, argv, NULL, got_releases,
                                c));
}

static void sent_now(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!engine_failed(c, reply, error)) {
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
            send_error(c, 404, "not-found",
                       "release \"%s\" of campaign \"%s\" has no expired firing to send",
                       c->sub, c->id);
        } else {
            json_t *chans = json_array();
            for (size_t i = 1; i < reply->elements; i++)
                json_array_append_new(chans, json_string(reply->element[i]->str));
            send_json(c, 200, json_pack("{s:s, s:s, s:I, s:o}", "id", c->id, "release",
                                        c->sub, "due_ms",
                                        (json_int_t)strtoll(reply->element[0]->str, NULL, 10),
                                        "queued", chans));
        }
    }
    call_unref(c);
}

static void handle_send_now(call *c)
{
    char camp[192], now[24], hour[16];
    int64_t ms = clock_wall_ms();
    snprintf(camp, sizeof camp, "%scamp:%s", engine_prefix(c->api->e), c->id);
    snprintf(now, sizeof now, "%lld", (long long)ms);
    engine_hour(ms, hour, sizeof hour);
    const char *argv[] = {camp, engine_prefix(c->api->e), c->sub, now, hour};
    start_fcall(c, engine_fcall(c->api->e, "haechi_send_now", 1, 5, argv, NULL, sent_now, c));
}

static void got_dead(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!engine_failed(c, reply, error)) {
        json_t *list = json_array();
        for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
            redisReply *e = reply->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            json_t *entry = json_pack("{s:s}", "id", e->element[0]->str);
            redisReply *f = e->element[1];
            for (size_t k = 0; k + 1 < f->elements; k += 2)
                json_object_set_new(entry, f->element[k]->str,
                                    json_string(f->element[k + 1]->str));
            if (c->sub[0] &&
                strcmp(json_string_value(json_object_get(entry, "channel")), c->sub) != 0) {
                json_decref(entry);
                continue;
            }
            json_array_append_new(list, entry);
        }
        send_json(c, 200, json_pack("{s:o}", "dead", list));
    }
    call_unref(c);
}

static int channel_param(call *c)
{
    char ch[32];
    if (!query_param(c, "channel", ch, sizeof ch))
        return 0;
    if (channel_from_name(ch) < 0) {
        send_error(c, 400, "bad-request",
                   "channel must be one of sns, kakao, banner, newsletter, alert; not \"%s\"",
                   ch);
        return -1;
    }
    snprintf(c->sub, sizeof c->sub, "%s", ch);
    return 0;
}

static void handle_dead_list(call *c)
{
    char key[160];
    if (channel_param(c) != 0)
        return;
    engine_key(c->api->e, "dead", key, sizeof key);
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1000"};
    if (rconn_command(c->api->redis, got_dead, c, 6, argv, NULL) != 0)
        send_unavailable(c, NULL);
    else
        c->refs++;
}

static void dead_retried(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!engine_failed(c, reply, error)) {
        if (reply->integer == 0 && strcmp(c->id, "*") != 0)
            send_error(c, 404, "not-found", "no dead letter \"%s\"", c->id);
        else
            send_json(c, 200, json_pack("{s:I}", "requeued", (json_int_t)reply->integer));
    }
    call_unref(c);
}

/* Reads a small JSON object body; answers 400/415 itself and returns NULL. */
static json_t *small_body(call *c)
{
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(c->req),
                                          "Content-Type");
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t len = evbuffer_get_length(in);
    json_error_t jerr;
    if (!is_json_type(type)) {
        send_error(c, 415, "unsupported-media-type", "send Content-Type: application/json");
        return NULL;
    }
    if (len > 65536) {
        send_error(c, 413, "payload-too-large", "this body is limited to 64 KiB");
        return NULL;
    }
    json_t *body = json_loadb(len ? (const char *)evbuffer_pullup(in, -1) : "{}", len ? len : 2,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        json_decref(body);
        send_error(c, 400, "bad-request", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

/* A Redis stream entry id: MS-SEQ. */
static int is_stream_id(const char *s)
{
    const char *p = s;
    if (!*p)
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s || *p++ != '-' || !*p)
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '\0' && strlen(s) < 48;
}

static void handle_dead_retry(call *c)
{
    json_t *body = small_body(c);
    if (!body)
        return;
    const char *id = json_string_value(json_object_get(body, "id"));
    int all = json_is_true(json_object_get(body, "all"));
    const char *only = json_string_value(json_object_get(body, "channel"));
    if (id && !is_stream_id(id)) {
        char shown[64];
        snprintf(shown, sizeof shown, "%s", id);
        json_decref(body);
        send_error(c, 404, "not-found", "no dead letter \"%s\" (ids look like 1795774711961-0)",
                   shown);
        return;
    }
    if (!id == !all || (only && channel_from_name(only) < 0)) {
        json_decref(body);
        send_error(c, 400, "bad-request",
                   "send {\"id\": \"<dead letter id>\"} or {\"all\": true} (optionally "
                   "with \"channel\")");
        return;
    }
    char key[160], now[24], hour[16];
    int64_t ms = clock_wall_ms();
    engine_key(c->api->e, "dead", key, sizeof key);
    snprintf(now, sizeof now, "%lld", (long long)ms);
    engine_hour(ms, hour, sizeof hour);
    snprintf(c->id, sizeof c->id, "%s", all ? "*" : id);
    const char *argv[] = {key, engine_prefix(c->api->e), now, hour, c->id, only ? only : ""};
    /* engine_fcall copies its arguments; ONLY points into the body. */
    start_fcall(c, engine_fcall(c->api->e, "haechi_dead_retry", 1, 6, argv, NULL, dead_retried,
                                c));
    json_decref(body);
}

static void finish_publish(redisReply *reply, const char *error, void *arg)
{
    (void)arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("api: clock change not published: %s", reply ? reply->str : error);
}

static void clock_published(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!engine_failed(c, reply, error)) {
        char now[64];
        isotime_format_utc(clock_wall_s(), now, sizeof now);
        send_json(c, 200, json_pack("{s:s, s:I}", "now", now, "now_ms",
                                    (json_int_t)clock_wall_ms()));
    }
    call_unref(c);
}

/* Test environments only: moves the virtual clock of every process. */
static void handle_clock(call *c)
{
    if (!c->api->cfg->virtual_clock) {
        send_error(c, 404, "not-found", "no virtual clock here (a test-only switch)");
        return;
    }
    json_t *body = small_body(c);
    if (!body)
        return;
    json_t *now = json_object_get(body, "now_ms"), *adv = json_object_get(body, "advance_ms");
    int64_t target = json_is_integer(now)   ? json_integer_value(now)
                     : json_is_integer(adv) ? clock_wall_ms() + json_integer_value(adv)
                                            : -1;
    json_decref(body);
    if (target < clock_wall_ms()) {
        send_error(c, 400, "bad-request",
                   "send {\"now_ms\": N} or {\"advance_ms\": N}; the clock never goes back");
        return;
    }
    clock_set_virtual(target);
    char key[160], events[160], value[24];
    engine_key(c->api->e, "vclock", key, sizeof key);
    engine_key(c->api->e, "events", events, sizeof events);
    snprintf(value, sizeof value, "%lld", (long long)target);
    const char *set[] = {"SET", key, value};
    const char *pub[] = {"PUBLISH", events, "clock"};
    if (rconn_command(c->api->redis, clock_published, c, 3, set, NULL) != 0) {
        send_unavailable(c, NULL);
        return;
    }
    c->refs++;
    /* The reply above comes after SET; the PUBLISH follows it on the link. */
    rconn_command(c->api->redis, finish_publish, NULL, 3, pub, NULL);
}

static const route routes[] = {
    {EVHTTP_REQ_GET, "/healthz", 0, NULL, handle_health},
    {EVHTTP_REQ_GET, "/api/v1/campaigns", PERM_READ, NULL, handle_list},
    {EVHTTP_REQ_POST, "/api/v1/campaigns", PERM_WRITE, "submit", handle_submit},
    {EVHTTP_REQ_GET, "/api/v1/campaigns/*", PERM_READ, NULL, handle_get},
    {EVHTTP_REQ_PUT, "/api/v1/campaigns/*", PERM_WRITE, "replace", handle_submit},
    {EVHTTP_REQ_POST, "/api/v1/campaigns/*/pause", PERM_WRITE, "pause", handle_status},
    {EVHTTP_REQ_POST, "/api/v1/campaigns/*/resume", PERM_WRITE, "resume", handle_status},
    {EVHTTP_REQ_POST, "/api/v1/campaigns/*/cancel", PERM_WRITE, "cancel", handle_status},
    {EVHTTP_REQ_GET, "/api/v1/campaigns/*/releases", PERM_READ, NULL, handle_releases},
    {EVHTTP_REQ_POST, "/api/v1/campaigns/*/releases/*/send", PERM_WRITE, "send-now",
     handle_send_now},
    {EVHTTP_REQ_GET, "/api/v1/dead", PERM_READ, NULL, handle_dead_list},
    {EVHTTP_REQ_POST, "/api/v1/dead/retry", PERM_WRITE, "dead-retry", handle_dead_retry},
    {EVHTTP_REQ_GET, "/api/v1/audit", PERM_ADMIN, NULL, handle_audit},
    {EVHTTP_REQ_POST, "/api/v1/test/clock", PERM_ADMIN, "clock", handle_clock},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* ---- routing -------------------------------------------------------------- */

/* Matches PATH against PATTERN. The first '*' segment is copied to id, a
 * second to sub; *ok is cleared when one does not fit. */
static int path_matches(const char *pattern, const char *path, char *id, char *sub,
                        size_t len, int *ok)
{
    int nth = 0;
    while (*pattern && *path) {
        if (*pattern == '*') {
            const char *end = strchr(path, '/');
            size_t n = end ? (size_t)(end - path) : strlen(path);
            char *dst = nth++ == 0 ? id : sub;
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
    case EVHTTP_REQ_GET:    return "GET";
    case EVHTTP_REQ_POST:   return "POST";
    case EVHTTP_REQ_PUT:    return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    default:                return "?";
    }
}

static int is_slug(const char *s)
{
    if (!*s || *s == '-')
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p == '-' ? (p[1] == '-' || p[1] == '\0')
                      : !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return 0;
    }
    return 1;
}

static void client_gone(struct evhttp_connection *conn, void *arg)
{
    call *c = arg;
    (void)conn;
    /* libevent frees the request with its connection: never touch it again. */
    c->req = NULL;
    call_unref(c);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    call *c = arg;
    (void)fd;
    (void)what;
    send_error(c, 503, "redis-timeout", "the store did not answer within %d ms",
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
        send_error(c, 401, "unauthorized",
                   header ? "the bearer token is not known here"
                          : "send a token: Authorization: Bearer <token>");
        return -1;
    }
    if ((c->who->perms & r->perm) != r->perm) {
        const char *needed = auth_role_for(r->perm);
        if (strcmp(needed, "admin") == 0)
            send_error(c, 403, "forbidden", "role %s may not do this (needs admin)",
                       c->who->role);
        else
            send_error(c, 403, "forbidden", "role %s may not do this (needs %s or admin)",
                       c->who->role, needed);
        return -1;
    }
    return 0;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    api *a = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
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
    if (!path)
        path = "/";

    const route *match = NULL;
    int id_ok = 1;
    for (size_t i = 0; i < NROUTES; i++) {
        char id[65] = "", sub[65] = "";
        int ok = 1;
        if (!path_matches(routes[i].pattern, path, id, sub, sizeof id, &ok))
            continue;
        if (routes[i].method != method) {
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
            send_error(c, 405, "method-not-allowed", "%s is not allowed here; allowed: %s",
                       method_name(method), allow);
        } else {
            send_error(c, 404, "not-found", "no such route: %s %s", method_name(method), path);
        }
        call_unref(c);
        return;
    }
    c->route = match;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), client_gone, c);
    c->deadline = evtimer_new(a->base, deadline_cb, c);

    if (authorize(c, match) != 0)
        goto out;
    if (strchr(match->pattern, '*') &&
        (!id_ok || !is_slug(c->id) || (strstr(match->pattern, "*/releases/*") && !is_slug(c->sub)))) {
        char shown[65];
        snprintf(shown, sizeof shown, "%s", id_ok ? c->id : "(too long)");
        c->id[0] = '\0';
        send_error(c, 400, "invalid-id",
                   "\"%s\" is not a campaign id: ids are slugs of a-z, 0-9 and single hyphens",
                   shown);
        goto out;
    }
    if (c->deadline) {
        int ms = a->cfg->redis_command_timeout_ms;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(c->deadline, &tv);
    }
    match->handle(c);
out:
    call_unref(c); /* the guard reference */
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
    evhttp_set_max_body_size(a->http, (ev_ssize_t)(cfg->limits.max_bytes * 2 + 65536));
    evhttp_set_max_headers_size(a->http, HEADERS_MAX);
    evhttp_set_timeout(a->http, CLIENT_TIMEOUT_S);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(a->http, dispatch, a);
    return a;
}

int api_listen(api *a, const char *host, int port, int *bound)
{
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(a->http, host,
                                                                      (ev_uint16_t)port);
    if (!sock)
        return -1;
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
    free(a);
}
