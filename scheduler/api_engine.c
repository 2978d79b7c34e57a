/*
 * api_engine.c - the release engine's routes: a campaign's releases,
 * sending an expired release by hand, dead letters, and the test clock.
 */
#include "api_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "isotime.h"
#include "log.h"
#include "releases.h"

static void got_releases(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_engine_failed(c, reply, error)) {
        json_t *body = releases_to_json(reply);
        if (!body)
            api_send_error(c, 500, "internal", "the engine's answer had an unexpected shape");
        else if (!json_string_length(json_object_get(body, "status"))) {
            json_decref(body);
            api_send_error(c, 404, "not-found", "no releases armed for campaign \"%s\"", c->id);
        } else {
            json_object_set_new(body, "id", json_string(c->id));
            api_send_json(c, 200, body);
        }
    }
    api_call_unref(c);
}

void api_handle_releases(call *c)
{
    char camp[192], max[16] = "5";
    char limit[16];
    if (api_query_param(c, "upcoming", limit, sizeof limit)) {
        long n = strtol(limit, NULL, 10);
        if (n < 1 || n > 1000) {
            api_send_error(c, 400, "bad-request", "upcoming must be 1-1000, not \"%s\"", limit);
            return;
        }
        snprintf(max, sizeof max, "%ld", n);
    }
    snprintf(camp, sizeof camp, "%scamp:%s", engine_prefix(c->api->e), c->id);
    const char *argv[] = {camp, engine_prefix(c->api->e), max};
    api_start_fcall(c,
                    engine_fcall(c->api->e, "haechi_releases", 1, 3, argv, NULL, got_releases, c));
}

static void sent_now(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_engine_failed(c, reply, error)) {
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
            api_send_error(c, 404, "not-found",
                           "release \"%s\" of campaign \"%s\" has no expired firing to send",
                           c->sub, c->id);
        } else {
            json_t *chans = json_array();
            for (size_t i = 1; i < reply->elements; i++)
                json_array_append_new(chans, json_string(reply->element[i]->str));
            api_send_json(c, 200,
                          json_pack("{s:s, s:s, s:I, s:o}", "id", c->id, "release", c->sub,
                                    "due_ms", (json_int_t)strtoll(reply->element[0]->str, NULL, 10),
                                    "queued", chans));
        }
    }
    api_call_unref(c);
}

void api_handle_send_now(call *c)
{
    char camp[192], now[24], hour[16];
    int64_t ms = clock_wall_ms();
    snprintf(camp, sizeof camp, "%scamp:%s", engine_prefix(c->api->e), c->id);
    snprintf(now, sizeof now, "%lld", (long long)ms);
    engine_hour(ms, hour, sizeof hour);
    const char *argv[] = {camp, engine_prefix(c->api->e), c->sub, now, hour};
    api_start_fcall(c, engine_fcall(c->api->e, "haechi_send_now", 1, 5, argv, NULL, sent_now, c));
}

static void got_dead(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_engine_failed(c, reply, error)) {
        json_t *list = json_array();
        for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
            redisReply *e = reply->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            json_t *entry = json_pack("{s:s}", "id", e->element[0]->str);
            redisReply *f = e->element[1];
            for (size_t k = 0; k + 1 < f->elements; k += 2)
                json_object_set_new(entry, f->element[k]->str, json_string(f->element[k + 1]->str));
            if (c->sub[0] &&
                strcmp(json_string_value(json_object_get(entry, "channel")), c->sub) != 0) {
                json_decref(entry);
                continue;
            }
            json_array_append_new(list, entry);
        }
        api_send_json(c, 200, json_pack("{s:o}", "dead", list));
    }
    api_call_unref(c);
}

static int channel_param(call *c)
{
    char ch[32];
    if (!api_query_param(c, "channel", ch, sizeof ch))
        return 0;
    if (channel_from_name(ch) < 0) {
        char known[128];
        campaign_channel_list((1u << CHANNEL_COUNT) - 1, known, sizeof known);
        api_send_error(c, 400, "bad-request", "channel must be one of %s; not \"%s\"", known, ch);
        return -1;
    }
    snprintf(c->sub, sizeof c->sub, "%s", ch);
    return 0;
}

void api_handle_dead_list(call *c)
{
    char key[160];
    if (channel_param(c) != 0)
        return;
    engine_key(c->api->e, "dead", key, sizeof key);
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1000"};
    if (rconn_command(c->api->redis, got_dead, c, 6, argv, NULL) != 0)
        api_send_unavailable(c, NULL);
    else
        c->refs++;
}

static void dead_retried(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_engine_failed(c, reply, error)) {
        if (reply->integer == 0 && strcmp(c->id, "*") != 0)
            api_send_error(c, 404, "not-found", "no dead letter \"%s\"", c->id);
        else
            api_send_json(c, 200, json_pack("{s:I}", "requeued", (json_int_t)reply->integer));
    }
    api_call_unref(c);
}

/* Reads a small JSON object body; answers 400/415 itself and returns NULL. */
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

void api_handle_dead_retry(call *c)
{
    json_t *body = api_small_body(c);
    if (!body)
        return;
    const char *id = json_string_value(json_object_get(body, "id"));
    int all = json_is_true(json_object_get(body, "all"));
    const char *only = json_string_value(json_object_get(body, "channel"));
    if (id && !is_stream_id(id)) {
        char shown[64];
        snprintf(shown, sizeof shown, "%s", id);
        json_decref(body);
        api_send_error(c, 404, "not-found", "no dead letter \"%s\" (ids look like 1795774711961-0)",
                       shown);
        return;
    }
    if (!id == !all || (only && channel_from_name(only) < 0)) {
        json_decref(body);
        api_send_error(c, 400, "bad-request",
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
    api_start_fcall(
        c, engine_fcall(c->api->e, "haechi_dead_retry", 1, 6, argv, NULL, dead_retried, c));
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
    if (!api_engine_failed(c, reply, error)) {
        char now[64];
        isotime_format_utc(clock_wall_s(), now, sizeof now);
        api_send_json(c, 200,
                      json_pack("{s:s, s:I}", "now", now, "now_ms", (json_int_t)clock_wall_ms()));
    }
    api_call_unref(c);
}

/* Test environments only: moves the virtual clock of every process. */
void api_handle_clock(call *c)
{
    if (!c->api->cfg->virtual_clock) {
        api_send_error(c, 404, "not-found", "no virtual clock here (a test-only switch)");
        return;
    }
    json_t *body = api_small_body(c);
    if (!body)
        return;
    json_t *now = json_object_get(body, "now_ms"), *adv = json_object_get(body, "advance_ms");
    int64_t target = json_is_integer(now)   ? json_integer_value(now)
                     : json_is_integer(adv) ? clock_wall_ms() + json_integer_value(adv)
                                            : -1;
    json_decref(body);
    if (target < clock_wall_ms()) {
        api_send_error(c, 400, "bad-request",
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
        api_send_unavailable(c, NULL);
        return;
    }
    c->refs++;
    /* The reply above comes after SET; the PUBLISH follows it on the link. */
    rconn_command(c->api->redis, finish_publish, NULL, 3, pub, NULL);
}
