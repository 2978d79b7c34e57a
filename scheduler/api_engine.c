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
    if (!api_check_engine_or_reply(c, reply, error)) {
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

#define RELEASES_PAGE 1000
#define RELEASES_PAGE_MAX 10000

/* ?cursor=&limit=: a page of the deliveries (next_cursor of the page
 * before; limit, a hint, 1-10000, default 1000). */
void api_handle_releases(call *c)
{
    char cursor[32] = "0";
    long long upcoming = 5, limit = RELEASES_PAGE;
    if (api_query_whole_or_reply(c, "upcoming", 1, 1000, &upcoming) < 0 ||
        api_query_whole_or_reply(c, "limit", 1, RELEASES_PAGE_MAX, &limit) < 0)
        return;
    if (api_query_param(c, "cursor", cursor, sizeof cursor) &&
        (!cursor[0] || strspn(cursor, "0123456789") != strlen(cursor))) {
        api_send_error(c, 400, "bad-request",
                       "cursor must be the next_cursor of an earlier page, not \"%s\"", cursor);
        return;
    }
    api_start_fcall(
        c, engine_releases(c->api->e, c->id, (int)upcoming, cursor, (int)limit, got_releases, c));
}

static void sent_now(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_check_engine_or_reply(c, reply, error)) {
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
    api_start_fcall(c, engine_send_now(c->api->e, c->id, c->sub, sent_now, c));
}

static void got_dead(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_check_engine_or_reply(c, reply, error)) {
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

/* {"reach": [{"channel", "target", "reach", "at"}]}: whom each network
 * reached at its last post, the expected reach of the next. */
static void got_reach(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_check_engine_or_reply(c, reply, error)) {
        json_t *list = json_array();
        for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2) {
            const char *field = reply->element[i]->str, *bar = field ? strchr(field, '|') : NULL;
            json_t *fig = json_loads(reply->element[i + 1]->str, 0, NULL);
            json_t *reach = json_object_get(fig, "reach"), *at = json_object_get(fig, "at");
            if (bar && json_is_integer(reach) && json_is_integer(at))
                json_array_append_new(list, json_pack("{s:s%, s:s, s:O, s:O}", "channel", field,
                                                      (size_t)(bar - field), "target", bar + 1,
                                                      "reach", reach, "at_ms", at));
            json_decref(fig);
        }
        api_send_json(c, 200, json_pack("{s:o}", "reach", list));
    }
    api_call_unref(c);
}

void api_handle_reach(call *c)
{
    api_start_fcall(c, engine_reach(c->api->e, got_reach, c));
}

static int channel_param_or_reply(call *c)
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
    if (channel_param_or_reply(c) != 0)
        return;
    api_start_fcall(c, engine_dead_list(c->api->e, 1000, got_dead, c));
}

static void dead_retried(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_check_engine_or_reply(c, reply, error)) {
        if (reply->integer == 0 && strcmp(c->id, "*") != 0)
            api_send_error(c, 404, "not-found", "no dead letter \"%s\"", c->id);
        else
            api_send_json(c, 200, json_pack("{s:I}", "requeued", (json_int_t)reply->integer));
    }
    api_call_unref(c);
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

static int check_dead_id(jcheck_ctx *cx, json_t *value, const char *path)
{
    if (is_stream_id(json_string_value(value)))
        return 0;
    jcheck_error(cx, path, "format", "a dead letter id looks like 1795774711961-0");
    return -1;
}

static int check_dead_retry(jcheck_ctx *cx, json_t *obj, const char *path)
{
    json_t *id = json_object_get(obj, "id"), *all = json_object_get(obj, "all");
    if (!id == !all) {
        jcheck_error(cx, path, "one-of",
                     "send {\"id\": \"<dead letter id>\"} or {\"all\": true}, not %s",
                     id ? "both" : "neither");
        return -1;
    }
    if (all && !json_is_true(all)) {
        jcheck_error(cx, "/all", "value", "all must be true when given");
        return -1;
    }
    if (id && json_object_get(obj, "channel")) {
        jcheck_error(cx, "/channel", "one-of", "channel filters {\"all\": true} only");
        return -1;
    }
    return 0;
}

static const jfield dead_retry_fields[] = {
    {.name = "id", .kind = JK_STRING, .min = 1, .max = 47, .check = check_dead_id},
    {.name = "all", .kind = JK_BOOL},
    {.name = "channel", .kind = JK_STRING, .choices = channel_names},
    {0}};
static const jobject dead_retry_shape = {.fields = dead_retry_fields, .check = check_dead_retry};

void api_handle_dead_retry(call *c)
{
    json_t *body = api_checked_body_or_reply(c, &dead_retry_shape);
    if (!body)
        return;
    const char *id = json_string_value(json_object_get(body, "id"));
    const char *only = json_string_value(json_object_get(body, "channel"));
    snprintf(c->id, sizeof c->id, "%s", id ? id : "*");
    /* engine_fcall copies its arguments; ONLY points into the body. */
    api_start_fcall(c, engine_dead_retry(c->api->e, c->id, only, dead_retried, c));
    json_decref(body);
}

static void clock_published(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!api_check_engine_or_reply(c, reply, error)) {
        char now[64];
        isotime_format_utc(clock_wall_s(), now, sizeof now);
        api_send_json(c, 200,
                      json_pack("{s:s, s:I}", "now", now, "now_ms", (json_int_t)clock_wall_ms()));
    }
    api_call_unref(c);
}

static int check_clock(jcheck_ctx *cx, json_t *obj, const char *path)
{
    if (!json_object_get(obj, "now_ms") == !json_object_get(obj, "advance_ms")) {
        jcheck_error(cx, path, "one-of", "send {\"now_ms\": N} or {\"advance_ms\": N}");
        return -1;
    }
    return 0;
}

/* Up to the year 9999, in milliseconds. */
static const jfield clock_fields[] = {
    {.name = "now_ms", .kind = JK_INT, .min = 0, .max = 253402300799999LL},
    {.name = "advance_ms", .kind = JK_INT, .min = 0, .max = 253402300799999LL},
    {0}};
static const jobject clock_shape = {.fields = clock_fields, .check = check_clock};

/* Test environments only: moves the virtual clock of every process. */
void api_handle_clock(call *c)
{
    if (!c->api->cfg->virtual_clock) {
        api_send_error(c, 404, "not-found", "no virtual clock here (a test-only switch)");
        return;
    }
    json_t *body = api_checked_body_or_reply(c, &clock_shape);
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
    api_start_fcall(c, engine_publish_clock(c->api->e, target, clock_published, c));
}
