/*
 * api_campaigns.c - the campaign routes (submit, replace, read, list,
 * pause/resume/cancel), the audit log and /healthz.
 */
#include "api_call.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_check.h"
#include "clock.h"
#include "isotime.h"
#include "log.h"

#define NEXT_RELEASES 10

/* ---- the store's and the engine's answers come back here ------------------- */

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
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:o}", "at", at, "release", r->id, "channels", channels));
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
        json_array_append_new(
            w, json_pack("{s:s, s:s, s:s}", "path", "", "rule", "engine", "message", warning));
    }
    api_send_json(c, c->answer_code, answer);
}

static void armed(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        char why[256];
        snprintf(why, sizeof why,
                 "the releases are not armed yet (%s); the scheduler arms "
                 "them when it reconciles",
                 reply ? reply->str : error);
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
    api_call_unref(c);
}

static void submitted(const store_result *res, void *arg)
{
    call *c = arg;
    if (!api_check_store_or_reply(c, res)) {
        if (res->code == STORE_CONFLICT && strcmp(res->status, "exists") == 0) {
            api_send_error(c, 409, "conflict",
                           "campaign \"%s\" already exists (version %lld); submit with --replace "
                           "(or PUT /api/v1/campaigns/%s) to make a new version",
                           c->id, res->version, c->id);
        } else if (res->code == STORE_CONFLICT) {
            api_send_error(c, 409, "cancelled",
                           "campaign \"%s\" is %s and cannot be replaced; submit it under a new id",
                           c->id, res->status);
        } else {
            int64_t now = clock_wall_s();
            c->answer = json_pack("{s:s, s:I, s:s, s:o, s:O}", "id", c->id, "version",
                                  (json_int_t)res->version, "status", res->status, "next_releases",
                                  next_releases(c->campaign, now), "warnings", c->warnings);
            c->answer_code = res->version == 1 ? 201 : 200;
            /* Stored; now hand its releases to the engine. */
            if (engine_arm(c->api->e, c->campaign, res->version, res->status, clock_wall_ms(),
                           armed, c) == 0)
                c->refs++;
            else
                send_answer(c, "the releases are not armed yet (Redis went away); the "
                               "scheduler arms them when it reconciles");
        }
    }
    api_call_unref(c);
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
        snprintf(why, sizeof why,
                 "the engine has not applied this yet (%s); the scheduler "
                 "applies it when it reconciles",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : error);
        send_answer(c, why);
    } else {
        const char *status = reply->element[0]->str;
        if (reply->element[1]->type == REDIS_REPLY_INTEGER)
            json_object_set_new(c->answer,
                                strcmp(c->route->action, "cancel") == 0 ? "dropped"
                                : c->catch_up                           ? "caught_up"
                                                                        : "skipped",
                                json_integer(reply->element[1]->integer));
        if (status && strcmp(status, "finished") == 0) {
            json_object_set_new(c->answer, "status", json_string("finished"));
            store_set_status(c->api->st, c->id, "finish", c->who->name, clock_wall_ms(),
                             finish_recorded, NULL);
        }
        send_answer(c, NULL);
    }
    api_call_unref(c);
}

static void status_changed(const store_result *res, void *arg)
{
    call *c = arg;
    if (!api_check_store_or_reply(c, res)) {
        if (res->code == STORE_NOT_FOUND)
            api_send_error(c, 404, "not-found", "no campaign \"%s\"", c->id);
        else if (res->code == STORE_CONFLICT)
            api_send_error(c, 409, "conflict", "campaign \"%s\" is %s; it cannot be %s", c->id,
                           res->status, done_word(c->route->action));
        else {
            c->answer = json_pack("{s:s, s:s, s:b}", "id", c->id, "status", res->status, "changed",
                                  res->changed);
            c->answer_code = 200;
            if (engine_set_status(c->api->e, c->id, c->route->action, c->catch_up,
                                  engine_status_changed, c) == 0)
                c->refs++;
            else
                send_answer(c, "the engine has not applied this yet (Redis went away); the "
                               "scheduler applies it when it reconciles");
        }
    }
    api_call_unref(c);
}

static void got_campaign(const store_result *res, void *arg)
{
    call *c = arg;
    if (!api_check_store_or_reply(c, res)) {
        if (res->code == STORE_NOT_FOUND) {
            if (c->version_asked)
                api_send_error(c, 404, "not-found", "campaign \"%s\" has no version %lld", c->id,
                               c->version_asked);
            else
                api_send_error(c, 404, "not-found", "no campaign \"%s\"", c->id);
        } else {
            /* The store's answer becomes ours (it is dropped after this call). */
            json_t *body = json_incref(res->data);
            diag_list errs;
            diag_list_init(&errs);
            campaign *cp = campaign_from_json(json_object_get(body, "campaign"), &errs);
            diag_list_release(&errs);
            if (cp)
                json_object_set_new(body, "next_releases", next_releases(cp, clock_wall_s()));
            campaign_free(cp);
            api_send_json(c, 200, body);
        }
    }
    api_call_unref(c);
}

static void got_list(const store_result *res, void *arg)
{
    call *c = arg;
    if (!api_check_store_or_reply(c, res)) {
        if (res->code == STORE_NOT_FOUND)
            api_send_error(c, 400, "bad-request",
                           "the cursor names no campaign; start again without one");
        else
            api_send_json(c, 200, json_incref(res->data));
    }
    api_call_unref(c);
}

static void got_audit(const store_result *res, void *arg)
{
    call *c = arg;
    if (!api_check_store_or_reply(c, res))
        api_send_json(c, 200, json_pack("{s:O}", "entries", res->data));
    api_call_unref(c);
}

static json_t *health(call *c, const char *status, const char *redis)
{
    json_t *body = api_health_stats(c);
    json_object_set_new(body, "status", json_string(status));
    json_object_set_new(body, "redis", json_string(redis));
    return body;
}

static void health_pong(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (reply && reply->type != REDIS_REPLY_ERROR)
        api_send_json(c, 200, health(c, "ok", "ready"));
    else
        api_send_json(c, 503, health(c, "unavailable", reply ? reply->str : error));
    api_call_unref(c);
}

void api_handle_submit(call *c)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(c->req), "Content-Type");
    size_t len = evbuffer_get_length(in);
    size_t limit = c->api->cfg->limits.max_bytes;
    int replace = evhttp_request_get_command(c->req) == EVHTTP_REQ_PUT;

    if (!api_is_json_type(type)) {
        api_send_error(c, 415, "unsupported-media-type",
                       "send the campaign as Content-Type: application/json (got %s)",
                       type ? type : "none");
        return;
    }
    if (len > limit) {
        api_send_error(c, 413, "payload-too-large",
                       "the campaign is %zu bytes, over the limit of %zu bytes "
                       "(limits.max_campaign_bytes)",
                       len, limit);
        return;
    }
    char flag[16];
    if (!replace && api_query_param(c, "replace", flag, sizeof flag))
        replace = api_flag_value(flag);

    diag_list errs, warns;
    diag_list_init(&errs);
    diag_list_init(&warns);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    char url_id[65];
    snprintf(url_id, sizeof url_id, "%s", c->id);
    c->campaign = campaign_parse(body, len, &c->api->cfg->limits, &errs, &warns);
    if (c->campaign) {
        /* Only the adapters' errors matter here; their notes are for
         * `haechi validate`. */
        diag_list notes;
        diag_list_init(&notes);
        channel_check_adapters(c->api->cfg, c->campaign, &errs, &notes);
        diag_list_release(&notes);
    }
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
        api_send_json(c, 400,
                      json_pack("{s:s, s:s, s:o}", "error", "invalid-campaign", "message",
                                "the campaign is invalid; see errors", "errors", list));
        diag_list_release(&errs);
        return;
    }
    diag_list_release(&errs);
    snprintf(c->id, sizeof c->id, "%s", c->campaign->id);

    char *doc = json_dumps(c->campaign->doc, JSON_COMPACT);
    if (!doc) {
        api_send_error(c, 500, "internal", "out of memory");
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
    api_start_store(c, rc);
}

void api_handle_status(call *c)
{
    char flag[16];
    c->catch_up = api_query_param(c, "catch_up", flag, sizeof flag) && api_flag_value(flag);
    int rc = store_set_status(c->api->st, c->id, c->route->action, c->who->name, clock_wall_ms(),
                              status_changed, c);
    api_start_store(c, rc);
}

void api_handle_get(call *c)
{
    long long version = 0;
    if (api_query_whole_or_reply(c, "version", 1, LLONG_MAX, &version) < 0)
        return;
    c->version_asked = version;
    api_start_store(c, store_get(c->api->st, c->id, version, got_campaign, c));
}

/* ?cursor=ID&limit=N: a page after campaign ID (next_cursor of the page
 * before), of up to N (1..1000, default 1000) campaigns. */
void api_handle_list(call *c)
{
    char cursor[80] = "";
    long long limit = STORE_LIST_MAX;
    if (api_query_whole_or_reply(c, "limit", 1, STORE_LIST_MAX, &limit) < 0)
        return;
    /* Any text is safe to pass: the store answers an unknown one NOT_FOUND. */
    api_query_param(c, "cursor", cursor, sizeof cursor);
    api_start_store(c, store_list(c->api->st, cursor, (int)limit, got_list, c));
}

void api_handle_audit(call *c)
{
    long long count = 100;
    if (api_query_whole_or_reply(c, "count", 1, 1000, &count) < 0)
        return;
    api_start_store(c, store_audit_read(c->api->st, (long)count, got_audit, c));
}

void api_handle_health(call *c)
{
    const char *ping[] = {"PING"};
    if (rconn_command(c->api->redis, health_pong, c, 1, ping, NULL) != 0) {
        api_send_json(c, 503, health(c, "unavailable", rconn_state(c->api->redis)));
        return;
    }
    c->refs++;
}
