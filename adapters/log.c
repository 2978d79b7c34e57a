/*
 * log.c - the "log" adapter: sends nothing anywhere; appends each rendered
 * payload to a file (JSON Lines) and to the Redis stream PREFIX:{e}:log, so
 * that the whole release path runs end to end in tests and rehearsals.
 *
 * Config (the channel's section in "channels"):
 *   "file": path        also append to this file (optional)
 *   "fail_attempts": n  answer RETRY to the first n attempts of each item
 *   "retry_after_ms": n the delay those RETRYs ask for (default 0: backoff)
 *   "fail_permanently": true  answer FAILED to everything
 *   "delay_ms": n       take this long over each send (a slow channel)
 *   "faults_from_redis": true  before each send read PREFIX:{e}:log:faults,
 *                       a hash of channel -> "retry" | "fail", so that a
 *                       test can switch a channel's failures on and off
 * The fault switches exist to exercise retries and dead letters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "render.h"

#define LOG_STREAM_MAXLEN "100000"

typedef struct log_state {
    adapter_env env;
    char stream[160];
    FILE *file;
    long long fail_attempts;
    long long retry_after_ms;
    int fail_permanently;
    long long delay_ms;
    int faults_from_redis;
    char faults_key[160];
} log_state;

/* One send in flight: what it will write, and where the answer goes. */
typedef struct log_send {
    log_state *s;
    adapter_done_fn *done;
    void *arg;
    adapter_outcome outcome;
    char *line;
    char item_id[300], channel[32], campaign[65], release[65];
    int attempt;
} log_send;

static void *log_create(const adapter_env *env, const json_t *config, char *err, size_t errlen)
{
    log_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->env = *env;
    snprintf(s->stream, sizeof s->stream, "%slog", env->engine_prefix);
    const char *file = json_string_value(json_object_get(config, "file"));
    if (file) {
        s->file = fopen(file, "a");
        if (!s->file) {
            snprintf(err, errlen, "cannot open \"%s\": %s", file, strerror(errno));
            free(s);
            return NULL;
        }
    }
    s->fail_attempts = json_integer_value(json_object_get(config, "fail_attempts"));
    s->retry_after_ms = json_integer_value(json_object_get(config, "retry_after_ms"));
    s->fail_permanently = json_is_true(json_object_get(config, "fail_permanently"));
    s->delay_ms = json_integer_value(json_object_get(config, "delay_ms"));
    s->faults_from_redis = json_is_true(json_object_get(config, "faults_from_redis"));
    snprintf(s->faults_key, sizeof s->faults_key, "%slog:faults", env->engine_prefix);
    return s;
}

static void log_destroy(void *state)
{
    log_state *s = state;
    if (s && s->file)
        fclose(s->file);
    free(s);
}

static json_t *log_render(void *state, const adapter_item *item, char *err, size_t errlen)
{
    (void)state;
    json_t *m = render_message(item);
    if (!m)
        snprintf(err, errlen, "out of memory");
    return m;
}

static void log_send_free(log_send *ls)
{
    free(ls->line);
    free(ls);
}

static void finish(log_send *ls)
{
    ls->done(&ls->outcome, ls->arg);
    log_send_free(ls);
}

static void finish_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg);
}

/* done() must never run inside send(): answers go through the loop. */
static int answer_later(log_send *ls, long long delay_ms)
{
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
    return event_base_once(ls->s->env.base, -1, EV_TIMEOUT, finish_later, ls,
                           delay_ms > 0 ? &tv : NULL);
}

static void stream_added(redisReply *reply, const char *error, void *arg)
{
    log_send *ls = arg;
    if (reply && reply->type == REDIS_REPLY_STRING) {
        ls->outcome.status = ADAPTER_OK;
        snprintf(ls->outcome.external_id, sizeof ls->outcome.external_id, "log:%s", reply->str);
    } else {
        ls->outcome.status = ADAPTER_RETRY;
        snprintf(ls->outcome.reason, sizeof ls->outcome.reason, "log stream: %s",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                 : error                                   ? error
                                                           : "unexpected reply");
    }
    finish(ls);
}

static void write_entry(log_send *ls)
{
    log_state *s = ls->s;
    char attempt[16];
    if (s->file) {
        fprintf(s->file, "%s\n", ls->line);
        fflush(s->file);
    }
    snprintf(attempt, sizeof attempt, "%d", ls->attempt);
    const char *argv[] = {"XADD",     s->stream,    "MAXLEN",    "~",         LOG_STREAM_MAXLEN,
                          "*",        "item",       ls->item_id, "channel",   ls->channel,
                          "campaign", ls->campaign, "release",   ls->release, "attempt",
                          attempt,    "payload",    ls->line};
    if (rconn_command(s->env.redis, stream_added, ls, (int)(sizeof argv / sizeof argv[0]), argv,
                      NULL) != 0) {
        ls->outcome.status = ADAPTER_RETRY;
        snprintf(ls->outcome.reason, sizeof ls->outcome.reason, "log stream: redis unavailable");
        if (answer_later(ls, 0) != 0)
            finish(ls);
    }
}

static void delay_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    write_entry(arg);
}

/* Sends for real (writes the entry), after the configured delay. */
static void go(log_send *ls)
{
    long long d = ls->s->delay_ms;
    struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000};
    if (d <= 0 || event_base_once(ls->s->env.base, -1, EV_TIMEOUT, delay_done, ls, &tv) != 0)
        write_entry(ls);
}

static void faults_read(redisReply *reply, const char *error, void *arg)
{
    log_send *ls = arg;
    (void)error;
    const char *fault = reply && reply->type == REDIS_REPLY_STRING ? reply->str : "";
    if (strcmp(fault, "retry") == 0 || strcmp(fault, "fail") == 0) {
        ls->outcome.status = fault[0] == 'r' ? ADAPTER_RETRY : ADAPTER_FAILED;
        ls->outcome.retry_after_ms = ls->s->retry_after_ms;
        snprintf(ls->outcome.reason, sizeof ls->outcome.reason,
                 "log adapter: %s switched on for %s", fault[0] == 'r' ? "retries" : "failures",
                 ls->channel);
        finish(ls);
        return;
    }
    go(ls);
}

static int log_send_item(void *state, const adapter_item *item, adapter_done_fn *done, void *arg)
{
    log_state *s = state;
    log_send *ls = calloc(1, sizeof *ls);
    if (!ls)
        return -1;
    ls->s = s;
    ls->done = done;
    ls->arg = arg;
    ls->attempt = item->attempt;
    snprintf(ls->item_id, sizeof ls->item_id, "%s", item->item_id);
    snprintf(ls->channel, sizeof ls->channel, "%s", item->channel);
    snprintf(ls->campaign, sizeof ls->campaign, "%s", item->campaign_id);
    snprintf(ls->release, sizeof ls->release, "%s", item->release_id);

    if (s->fail_permanently || item->attempt <= s->fail_attempts) {
        ls->outcome.status = s->fail_permanently ? ADAPTER_FAILED : ADAPTER_RETRY;
        ls->outcome.retry_after_ms = s->retry_after_ms;
        snprintf(ls->outcome.reason, sizeof ls->outcome.reason,
                 s->fail_permanently ? "log adapter: injected permanent failure"
                                     : "log adapter: injected failure of attempt %d",
                 item->attempt);
        if (answer_later(ls, 0) != 0) {
            log_send_free(ls);
            return -1;
        }
        return 0;
    }
    /* Rendered now: the item is only valid during this call. */
    json_t *m = render_message(item);
    ls->line = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!ls->line) {
        log_send_free(ls);
        return -1;
    }
    if (s->faults_from_redis) {
        const char *argv[] = {"HGET", s->faults_key, ls->channel};
        if (rconn_command(s->env.redis, faults_read, ls, 3, argv, NULL) == 0)
            return 0;
    }
    go(ls);
    return 0;
}

const adapter_ops adapter_log = {
    .name = "log",
    .create = log_create,
    .destroy = log_destroy,
    .validate = NULL,
    .render = log_render,
    .send = log_send_item,
};
