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
} log_state;

typedef struct log_send {
    adapter_done_fn *done;
    void *arg;
    adapter_outcome outcome;
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

static void finish_later(evutil_socket_t fd, short what, void *arg)
{
    log_send *ls = arg;
    (void)fd;
    (void)what;
    ls->done(&ls->outcome, ls->arg);
    free(ls);
}

static void stream_added(redisReply *reply, const char *error, void *arg)
{
    log_send *ls = arg;
    if (reply && reply->type == REDIS_REPLY_STRING) {
        ls->outcome.status = ADAPTER_OK;
        snprintf(ls->outcome.external_id, sizeof ls->outcome.external_id, "log:%s",
                 reply->str);
    } else {
        ls->outcome.status = ADAPTER_RETRY;
        snprintf(ls->outcome.reason, sizeof ls->outcome.reason, "log stream: %s",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                 : error                                  ? error
                                                          : "unexpected reply");
    }
    ls->done(&ls->outcome, ls->arg);
    free(ls);
}

static int log_send_item(void *state, const adapter_item *item, adapter_done_fn *done,
                         void *arg)
{
    log_state *s = state;
    log_send *ls = calloc(1, sizeof *ls);
    if (!ls)
        return -1;
    ls->done = done;
    ls->arg = arg;

    if (s->fail_permanently || item->attempt <= s->fail_attempts) {
        ls->outcome.status = s->fail_permanently ? ADAPTER_FAILED : ADAPTER_RETRY;
        ls->outcome.retry_after_ms = s->retry_after_ms;
        snprintf(ls->outcome.reason, sizeof ls->outcome.reason,
                 s->fail_permanently ? "log adapter: injected permanent failure"
                                     : "log adapter: injected failure of attempt %d",
                 item->attempt);
        /* done() must not run inside send(). */
        if (event_base_once(s->env.base, -1, EV_TIMEOUT, finish_later, ls, NULL) != 0) {
            free(ls);
            return -1;
        }
        return 0;
    }

    json_t *m = render_message(item);
    char *line = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!line) {
        free(ls);
        return -1;
    }
    if (s->file) {
        fprintf(s->file, "%s\n", line);
        fflush(s->file);
    }
    char attempt[16];
    snprintf(attempt, sizeof attempt, "%d", item->attempt);
    const char *argv[] = {"XADD",    s->stream,         "MAXLEN",        "~",
                          LOG_STREAM_MAXLEN, "*",        "item",          item->item_id,
                          "channel", item->channel,     "campaign",      item->campaign_id,
                          "release", item->release_id,  "attempt",       attempt,
                          "payload", line};
    int rc = rconn_command(s->env.redis, stream_added, ls, (int)(sizeof argv / sizeof argv[0]),
                           argv, NULL);
    free(line);
    if (rc != 0) {
        free(ls);
        return -1;
    }
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
