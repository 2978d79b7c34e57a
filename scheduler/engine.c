/*
 * engine.c - FCALLs into the engine's Redis functions, and arming.
 */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "duration.h"
#include "fcall.h"
#include "log.h"

/* The library's source, generated from scheduler/engine.lua by the Makefile. */
static const char engine_lua[] =
#include "engine_lua.h"
    ;

struct engine {
    rconn *redis;
    const config *cfg;
    char prefix[96];
};

/* Every (re)connect loads this binary's library, so that the functions
 * Redis runs are the ones this code was written against. */
static void load_on_ready(void *arg)
{
    engine_load_library(arg, NULL, NULL);
}

engine *engine_new(rconn *redis, const config *cfg)
{
    engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->redis = redis;
    e->cfg = cfg;
    snprintf(e->prefix, sizeof e->prefix, "%s:{e}:", cfg->redis_prefix);
    rconn_on_ready(redis, load_on_ready, e);
    return e;
}

/* The connection is freed before the engine (node_stop), so this does not
 * touch it. */
void engine_free(engine *e)
{
    free(e);
}

const char *engine_prefix(const engine *e)
{
    return e->prefix;
}

const config *engine_config(const engine *e)
{
    return e->cfg;
}

rconn *engine_redis(const engine *e)
{
    return e->redis;
}

void engine_key(const engine *e, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", e->prefix, name);
}

void engine_camp_key(const engine *e, const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%scamp:%s", e->prefix, id);
}

void engine_events_key(const engine *e, char *buf, size_t len)
{
    engine_key(e, "events", buf, len);
}

void engine_hour(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y%m%d%H", &tm);
}

/* ---- FCALL with one reload ------------------------------------------------ */

static const fcall_library engine_library = {.what = "engine", .source = engine_lua};

int engine_fcall(engine *e, const char *name, int nkeys, int argc, const char **argv,
                 const size_t *lens, rconn_fn *fn, void *arg)
{
    return fcall_call(e->redis, &engine_library, name, nkeys, argc, argv, lens, fn, arg);
}

int engine_load_library(engine *e, rconn_fn *fn, void *arg)
{
    return fcall_load(e->redis, &engine_library, fn, arg);
}

/* ---- what a campaign's releases need ------------------------------------- */

static int64_t section_expiry(const campaign *c, int ch)
{
    json_t *v = json_object_get(json_object_get(c->doc, channel_names[ch]), "expires_after");
    int64_t secs = 0;
    char why[128];
    if (json_is_string(v) && duration_parse(json_string_value(v), &secs, why, sizeof why) == 0)
        return secs;
    return 0;
}

int64_t engine_expiry_ms(const engine *e, const campaign *c, const release *r, int ch)
{
    /* The most specific wins: release, campaign channel, config channel, engine. */
    int64_t secs = r && r->expires_after ? r->expires_after : section_expiry(c, ch);
    if (!secs)
        secs = e->cfg->channels[ch].expires_after_s;
    if (!secs)
        secs = e->cfg->engine.expires_after_s;
    return secs * 1000;
}

void engine_quiet(const engine *e, const campaign *c, int ch, quiet_hours *out)
{
    json_t *v = json_object_get(json_object_get(c->doc, channel_names[ch]), "quiet_hours");
    if (channel_has(ch, CHANNEL_NEVER_QUIET)) {
        memset(out, 0, sizeof *out);
        return;
    }
    if (v)
        quiet_parse(v, out);
    else
        *out = e->cfg->channels[ch].quiet;
}

/* ---- arming -------------------------------------------------------------- */

/* A growable argv of owned strings. */
typedef struct args {
    char **v;
    size_t n, cap;
    int oom;
} args;

static void args_add(args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void args_add(args *a, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (a->oom)
        return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        char **v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->oom = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!(a->v[a->n] = strdup(buf))) {
        a->oom = 1;
        return;
    }
    a->n++;
}

static void args_free(args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

/* Appends release R's firings after NOW_S (seconds) inside the window. */
static void add_firings(args *a, const campaign *c, const release *r, int64_t now_s)
{
    size_t count_at = a->n;
    args_add(a, "0"); /* patched below with the count */
    size_t k = 0;
    if (r->kind == RELEASE_AT) {
        if (r->at > now_s && r->at >= c->start && r->at <= c->end) {
            args_add(a, "%lld", (long long)r->at * 1000);
            k = 1;
        }
    } else {
        int64_t t = now_s >= c->start ? now_s : c->start - 1, next;
        while (cron_next(&r->cron, c->zone, t, c->end, &next) == 0) {
            args_add(a, "%lld", (long long)next * 1000);
            t = next;
            k++;
        }
    }
    if (!a->oom) {
        free(a->v[count_at]);
        char n[24];
        snprintf(n, sizeof n, "%zu", k);
        a->v[count_at] = strdup(n);
        if (!a->v[count_at])
            a->oom = 1;
    }
}

int engine_arm(engine *e, const campaign *c, long long version, const char *status, int64_t now_ms,
               rconn_fn *fn, void *arg)
{
    char camp_key[192], due_key[128], armed_key[128];
    args a = {0};
    int rc = -1;

    engine_camp_key(e, c->id, camp_key, sizeof camp_key);
    engine_key(e, "due", due_key, sizeof due_key);
    engine_key(e, "armed", armed_key, sizeof armed_key);
    args_add(&a, "%s", camp_key);
    args_add(&a, "%s", due_key);
    args_add(&a, "%s", armed_key);
    args_add(&a, "%s", c->id);
    args_add(&a, "%lld", version);
    args_add(&a, "%s", status);
    args_add(&a, "%s", tz_name(c->zone));
    args_add(&a, "%s", e->prefix);

    /* Quiet hours travel as one setting, "ch=start-end,ch=,...", so that the
     * Lua side needs no list of channels of its own. */
    char quiet[512];
    size_t qused = 0;
    quiet[0] = '\0';
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        if (!(c->channels & (1u << ch)))
            continue;
        quiet_hours q;
        engine_quiet(e, c, ch, &q);
        int n = q.on ? snprintf(quiet + qused, sizeof quiet - qused, "%s%s=%d-%d", qused ? "," : "",
                                channel_names[ch], q.start_min, q.end_min)
                     : snprintf(quiet + qused, sizeof quiet - qused, "%s%s=", qused ? "," : "",
                                channel_names[ch]);
        if (n > 0 && (size_t)n < sizeof quiet - qused)
            qused += (size_t)n;
    }
    args_add(&a, "%d", 2);
    args_add(&a, "%s", "quiet");
    args_add(&a, "%s", quiet);
    /* How long a finished or cancelled campaign's engine keys are kept. */
    args_add(&a, "%s", "retention");
    args_add(&a, "%lld", (long long)e->cfg->engine.retention_s);

    args_add(&a, "%zu", c->nreleases);
    for (size_t i = 0; i < c->nreleases; i++) {
        const release *r = &c->releases[i];
        char chans[256];
        size_t used = 0;
        chans[0] = '\0';
        for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
            if (!(r->channels & (1u << ch)))
                continue;
            int n = snprintf(chans + used, sizeof chans - used, "%s%s:%lld", used ? "," : "",
                             channel_names[ch], (long long)engine_expiry_ms(e, c, r, ch));
            if (n > 0)
                used += (size_t)n;
        }
        args_add(&a, "%s", r->id);
        args_add(&a, "%s", chans);
        add_firings(&a, c, r, now_ms / 1000);
    }
    if (!a.oom)
        rc = engine_fcall(e, "haechi_arm", 3, (int)a.n, (const char **)a.v, NULL, fn, arg);
    args_free(&a);
    return rc;
}

int engine_set_status(engine *e, const char *id, const char *action, int catch_up, rconn_fn *fn,
                      void *arg)
{
    char camp_key[192], now[24], hour[16];
    int64_t ms = clock_wall_ms();
    engine_camp_key(e, id, camp_key, sizeof camp_key);
    snprintf(now, sizeof now, "%lld", (long long)ms);
    engine_hour(ms, hour, sizeof hour);
    const char *argv[] = {camp_key, action, e->prefix, now, hour, catch_up ? "1" : "0"};
    return engine_fcall(e, "haechi_status", 1, 6, argv, NULL, fn, arg);
}

/* ---- reads and small writes for the API, reconcile and rehearse ----------- */

int engine_campaign_view(engine *e, const char *id, rconn_fn *fn, void *arg)
{
    char camp_key[192];
    engine_camp_key(e, id, camp_key, sizeof camp_key);
    const char *argv[] = {"HMGET", camp_key, "version", "status"};
    return rconn_command(e->redis, fn, arg, 4, argv, NULL);
}

int engine_releases(engine *e, const char *id, int upcoming, const char *cursor, int count,
                    rconn_fn *fn, void *arg)
{
    char camp_key[192], max[16], n[16];
    engine_camp_key(e, id, camp_key, sizeof camp_key);
    snprintf(max, sizeof max, "%d", upcoming);
    snprintf(n, sizeof n, "%d", count);
    const char *argv[] = {camp_key, e->prefix, max, cursor && *cursor ? cursor : "0", n};
    return engine_fcall(e, "haechi_releases", 1, 5, argv, NULL, fn, arg);
}

int engine_send_now(engine *e, const char *id, const char *rid, rconn_fn *fn, void *arg)
{
    char camp_key[192], now[24], hour[16];
    int64_t ms = clock_wall_ms();
    engine_camp_key(e, id, camp_key, sizeof camp_key);
    snprintf(now, sizeof now, "%lld", (long long)ms);
    engine_hour(ms, hour, sizeof hour);
    const char *argv[] = {camp_key, e->prefix, rid, now, hour};
    return engine_fcall(e, "haechi_send_now", 1, 5, argv, NULL, fn, arg);
}

int engine_dead_list(engine *e, int count, rconn_fn *fn, void *arg)
{
    char key[160], n[16];
    engine_key(e, "dead", key, sizeof key);
    snprintf(n, sizeof n, "%d", count);
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", n};
    return rconn_command(e->redis, fn, arg, 6, argv, NULL);
}

int engine_reach(engine *e, rconn_fn *fn, void *arg)
{
    char key[160];
    engine_key(e, "reach", key, sizeof key);
    const char *argv[] = {"HGETALL", key};
    return rconn_command(e->redis, fn, arg, 2, argv, NULL);
}

int engine_dead_retry(engine *e, const char *which, const char *channel, rconn_fn *fn, void *arg)
{
    char key[160], now[24], hour[16];
    int64_t ms = clock_wall_ms();
    engine_key(e, "dead", key, sizeof key);
    snprintf(now, sizeof now, "%lld", (long long)ms);
    engine_hour(ms, hour, sizeof hour);
    const char *argv[] = {key, e->prefix, now, hour, which, channel ? channel : ""};
    return engine_fcall(e, "haechi_dead_retry", 1, 6, argv, NULL, fn, arg);
}

static void clock_announced(redisReply *reply, const char *error, void *arg)
{
    (void)arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("engine: clock change not published: %s", reply ? reply->str : error);
}

int engine_publish_clock(engine *e, int64_t now_ms, rconn_fn *fn, void *arg)
{
    char key[160], events[160], value[24];
    engine_key(e, "vclock", key, sizeof key);
    engine_events_key(e, events, sizeof events);
    snprintf(value, sizeof value, "%lld", (long long)now_ms);
    const char *set[] = {"SET", key, value};
    const char *pub[] = {"PUBLISH", events, "clock"};
    int rc = rconn_command(e->redis, fn, arg, 3, set, NULL);
    if (rc != 0)
        return rc;
    /* FN has SET's answer; the PUBLISH follows it on the link. */
    if (rconn_command(e->redis, clock_announced, NULL, 3, pub, NULL) != 0)
        log_warn("engine: clock change not published: %s", rconn_state(e->redis));
    return 0;
}

int engine_read_clock(engine *e, rconn_fn *fn, void *arg)
{
    char key[160];
    engine_key(e, "vclock", key, sizeof key);
    const char *argv[] = {"GET", key};
    return rconn_command(e->redis, fn, arg, 2, argv, NULL);
}
