/*
 * worker.c - reading the channel streams and running adapters.
 *
 * A job is one work item's trip: (quiet-hours check) -> haechi_begin ->
 * fetch the campaign document -> adapter send -> haechi_complete. Each
 * step's callback moves the job on; the job is freed at the end of its
 * last step, whatever happened.
 */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "campaign.h"
#include "clock.h"
#include "isotime.h"
#include "log.h"
#include "quiet.h"

#define GROUP "workers"
#define DOC_CACHE 16
#define RECLAIM_COUNT "100"

typedef struct cached_doc {
    char id[65];
    long long version;
    campaign *c;
    long long used;
} cached_doc;

typedef struct channel_slot {
    const adapter_desc *desc;
    void *state;
    char stream[160];
} channel_slot;

struct worker {
    struct event_base *base;
    engine *e;
    rconn *queue;
    store *st;
    const config *cfg;
    char consumer[96];
    channel_slot channels[CHANNEL_COUNT];
    int groups_ready;
    int reading;
    int stopped;
    int in_flight;
    struct event *tick; /* starts reads after an outage; reclaims */
    int64_t last_reclaim_ms;
    cached_doc docs[DOC_CACHE];
    long long doc_clock;
    worker_stats stats;
};

typedef struct job {
    worker *w;
    int ch;
    char entry[64];
    char item[300];
    char campaign_id[65];
    char release_id[65];
    char target[64];
    char tzname[64];
    char quiet[32];
    long long version;
    int64_t due_ms, fired_ms;
    int attempt;
    int planned;          /* the adapter's plan said: no fan-out */
    const campaign *camp; /* borrowed from the cache */
} job;

static void read_more(worker *w);
static void send_item(job *j);

/* ---- small helpers ----------------------------------------------------------- */

int64_t worker_backoff_ms(const engine_conf *conf, int attempt, int64_t retry_after_ms)
{
    int shift = attempt - 1 < 30 ? attempt - 1 : 30;
    int64_t delay = conf->backoff_ms << (shift > 0 ? shift : 0);
    if (delay > conf->backoff_max_ms || delay <= 0)
        delay = conf->backoff_max_ms;
    /* Equal jitter: half fixed, half random, so retries of a burst spread out. */
    delay = delay / 2 + (int64_t)(random() % (delay / 2 + 1));
    return retry_after_ms > delay ? retry_after_ms : delay;
}

static void job_done(job *j)
{
    worker *w = j->w;
    w->in_flight--;
    free(j);
    if (!w->stopped)
        read_more(w);
}

static void fmt_ms(int64_t v, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", (long long)v);
}

/* ---- the last step: record and acknowledge ------------------------------------ */

static void completed(redisReply *reply, const char *error, void *arg)
{
    job *j = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        /* Not acknowledged: the item stays pending and is reclaimed later. */
        log_warn("worker: outcome of %s not stored (%s); it will be retried", j->item,
                 reply ? reply->str : error);
    job_done(j);
}

static void complete(job *j, const char *outcome, const adapter_outcome *o, int64_t next_at)
{
    worker *w = j->w;
    char attempt[16], now[24], hour[16], reach[24], next[24], fired[24], accepted[24], rejected[24];
    int64_t ms = clock_wall_ms();
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    fmt_ms(ms, now, sizeof now);
    engine_hour(ms, hour, sizeof hour);
    snprintf(reach, sizeof reach, "%lld", o ? o->reach : 0);
    fmt_ms(next_at, next, sizeof next);
    fmt_ms(j->fired_ms, fired, sizeof fired);
    fmt_ms(o ? o->accepted : 0, accepted, sizeof accepted);
    fmt_ms(o ? o->rejected : 0, rejected, sizeof rejected);
    const char *argv[] = {w->channels[j->ch].stream,
                          engine_prefix(w->e),
                          j->entry,
                          j->item,
                          attempt,
                          outcome,
                          now,
                          hour,
                          GROUP,
                          o ? o->external_id : "",
                          reach,
                          o ? o->reason : "",
                          next,
                          fired,
                          accepted,
                          rejected};
    if (engine_fcall(w->e, "haechi_complete", 1, 16, argv, NULL, completed, j) != 0) {
        log_warn("worker: redis unavailable; %s stays pending and will be retried", j->item);
        job_done(j);
    }
}

static void sent(const adapter_outcome *o, void *arg)
{
    job *j = arg;
    worker *w = j->w;
    const engine_conf *conf = &w->cfg->engine;

    if (o->status == ADAPTER_OK) {
        w->stats.sent++;
        complete(j, "ok", o, 0);
    } else if (o->status == ADAPTER_DECLINED) {
        w->stats.declined++;
        complete(j, "declined", o, 0);
    } else if ((o->status == ADAPTER_AGAIN || o->status == ADAPTER_CANCELLED) &&
               j->attempt < conf->max_attempts) {
        w->stats.retried++;
        int64_t next = clock_wall_ms() + worker_backoff_ms(conf, j->attempt, o->retry_after_ms);
        complete(j, "retry", o, next);
    } else {
        adapter_outcome last = *o;
        if (o->status != ADAPTER_FAILED) {
            char reason[sizeof last.reason];
            snprintf(reason, sizeof reason, "gave up after %d attempts; last: %.200s", j->attempt,
                     o->reason);
            snprintf(last.reason, sizeof last.reason, "%s", reason);
        }
        w->stats.dead++;
        complete(j, "dead", &last, 0);
    }
}

/* ---- fan-out ------------------------------------------------------------------------ */

static void fanned_out(redisReply *reply, const char *error, void *arg)
{
    job *j = arg;
    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        /* Not acknowledged: the parent stays pending and is planned again. */
        log_warn("worker: targets of %s not queued (%s); it will be planned again", j->item,
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : error);
    else if (reply->integer < 0)
        log_debug("worker: %s was planned by another worker", j->item);
    else
        j->w->stats.fanned_out += reply->integer;
    job_done(j);
}

/* Queues one item per target in place of the parent, in one Redis step. */
static void fan_out(job *j, json_t *targets)
{
    worker *w = j->w;
    size_t n = json_array_size(targets);
    const char **argv = calloc(10 + n, sizeof *argv);
    char now[24], version[24], fired[24];
    if (!argv) {
        log_warn("worker: out of memory planning %s; it stays pending", j->item);
        job_done(j);
        return;
    }
    fmt_ms(clock_wall_ms(), now, sizeof now);
    fmt_ms(j->version, version, sizeof version);
    fmt_ms(j->fired_ms, fired, sizeof fired);
    const char *head[] = {w->channels[j->ch].stream,
                          engine_prefix(w->e),
                          j->entry,
                          j->item,
                          GROUP,
                          now,
                          version,
                          fired,
                          j->tzname,
                          j->quiet};
    memcpy(argv, head, sizeof head);
    for (size_t i = 0; i < n; i++)
        argv[10 + i] = json_string_value(json_array_get(targets, i));
    if (engine_fcall(w->e, "haechi_fanout", 1, (int)(10 + n), argv, NULL, fanned_out, j) != 0) {
        log_warn("worker: redis unavailable; %s stays pending and will be planned again", j->item);
        job_done(j);
    }
    free(argv);
}

/* A target is a stream field and an item id segment: printable, no '|'. */
static int targets_usable(const json_t *targets)
{
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        const char *s = json_string_value(t);
        if (!s || !*s || strlen(s) > 63 || strchr(s, '|') || strcmp(s, "all") == 0)
            return 0;
        for (; *s; s++)
            if ((unsigned char)*s < 0x21)
                return 0;
    }
    return 1;
}

static void planned(json_t *targets, const adapter_outcome *o, void *arg)
{
    job *j = arg;
    if (!targets && o->status == ADAPTER_OK) {
        j->planned = 1; /* no fan-out needed: the item goes as it is */
        send_item(j);
        return;
    }
    if (!targets) {
        sent(o, j);
        return;
    }
    if (json_array_size(targets) == 0 || !targets_usable(targets)) {
        adapter_outcome bad = {.status =
                                   json_array_size(targets) ? ADAPTER_FAILED : ADAPTER_DECLINED,
                               .error = ADAPTER_ERR_INTERNAL};
        snprintf(bad.reason, sizeof bad.reason, "the %s adapter's plan %s",
                 j->w->channels[j->ch].desc->name,
                 json_array_size(targets) ? "named an unusable target (empty, over 63 bytes, "
                                            "\"all\", or with '|' or spaces)"
                                          : "found no targets");
        json_decref(targets);
        sent(&bad, j);
        return;
    }
    fan_out(j, targets);
    json_decref(targets);
}

/* ---- sending ---------------------------------------------------------------------- */

static void send_item(job *j)
{
    worker *w = j->w;
    channel_slot *slot = &w->channels[j->ch];
    int is_parent = strcmp(j->target, "all") == 0;
    adapter_item item = {
        .item_id = j->item,
        .campaign_id = j->campaign_id,
        .version = j->version,
        .release_id = j->release_id,
        .channel = channel_names[j->ch],
        .target = j->target,
        .due_ms = j->due_ms,
        .attempt = j->attempt,
        .campaign = j->camp->doc,
        .zone = j->camp->zone,
    };
    if (is_parent && !j->planned && slot->desc->ops->plan) {
        haechi_status rc = slot->desc->ops->plan(slot->state, &item, planned, j);
        if (rc == HAECHI_OK)
            return;
        j->planned = rc == HAECHI_DECLINED;
    }
    if (is_parent && !j->planned && slot->desc->ops->plan) {
        adapter_outcome o = {.status = ADAPTER_AGAIN, .error = ADAPTER_ERR_INTERNAL};
        snprintf(o.reason, sizeof o.reason, "the %s adapter could not start its plan",
                 slot->desc->name);
        sent(&o, j);
        return;
    }
    if (slot->desc->ops->send(slot->state, &item, sent, j) != HAECHI_OK) {
        adapter_outcome o = {.status = ADAPTER_AGAIN, .error = ADAPTER_ERR_INTERNAL};
        snprintf(o.reason, sizeof o.reason, "the %s adapter could not start the send",
                 slot->desc->name);
        sent(&o, j);
    }
}

static cached_doc *cache_find(worker *w, const char *id, long long version)
{
    for (int i = 0; i < DOC_CACHE; i++)
        if (w->docs[i].c && w->docs[i].version == version && strcmp(w->docs[i].id, id) == 0) {
            w->docs[i].used = ++w->doc_clock;
            return &w->docs[i];
        }
    return NULL;
}

static void cache_put(worker *w, const char *id, long long version, campaign *c)
{
    cached_doc *victim = &w->docs[0];
    for (int i = 0; i < DOC_CACHE; i++) {
        if (!w->docs[i].c) {
            victim = &w->docs[i];
            break;
        }
        if (w->docs[i].used < victim->used)
            victim = &w->docs[i];
    }
    /* Only evict between jobs' uses: a job holds its pointer only until
     * send_item() returns, and adapters copy what they keep. */
    campaign_free(victim->c);
    snprintf(victim->id, sizeof victim->id, "%s", id);
    victim->version = version;
    victim->c = c;
    victim->used = ++w->doc_clock;
}

static void got_document(const store_result *res, void *arg)
{
    job *j = arg;
    worker *w = j->w;
    if (res->code != STORE_OK) {
        adapter_outcome o = {.status =
                                 res->code == STORE_NOT_FOUND ? ADAPTER_FAILED : ADAPTER_AGAIN};
        snprintf(o.reason, sizeof o.reason, "campaign %s version %lld %s", j->campaign_id,
                 j->version, res->code == STORE_NOT_FOUND ? "is not stored" : "could not be read");
        sent(&o, j);
        return;
    }
    diag_list errs;
    diag_list_init(&errs);
    campaign *c = campaign_from_json(res->data, &errs);
    diag_list_release(&errs);
    if (!c) {
        adapter_outcome o = {.status = ADAPTER_FAILED};
        snprintf(o.reason, sizeof o.reason, "stored campaign %s version %lld no longer parses",
                 j->campaign_id, j->version);
        sent(&o, j);
        return;
    }
    cache_put(w, j->campaign_id, j->version, c);
    j->camp = c;
    send_item(j);
}

static void begun(redisReply *reply, const char *error, void *arg)
{
    job *j = arg;
    worker *w = j->w;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        log_warn("worker: could not start %s (%s); it stays pending", j->item,
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : error);
        job_done(j);
        return;
    }
    const char *verdict = reply->element[0]->str;
    if (strcmp(verdict, "go") != 0) {
        if (strcmp(verdict, "held") == 0)
            w->stats.held++;
        else
            w->stats.cancelled++;
        job_done(j);
        return;
    }
    cached_doc *d = cache_find(w, j->campaign_id, j->version);
    if (d) {
        j->camp = d->c;
        send_item(j);
        return;
    }
    if (store_document(w->st, j->campaign_id, j->version, got_document, j) != 0) {
        log_warn("worker: redis unavailable; %s stays pending", j->item);
        job_done(j);
    }
}

static void begin(job *j)
{
    worker *w = j->w;
    char attempt[16], now[24], fired[24];
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    fmt_ms(clock_wall_ms(), now, sizeof now);
    fmt_ms(j->fired_ms, fired, sizeof fired);
    const char *argv[] = {w->channels[j->ch].stream,
                          engine_prefix(w->e),
                          j->entry,
                          j->item,
                          attempt,
                          now,
                          GROUP,
                          fired};
    if (engine_fcall(w->e, "haechi_begin", 1, 8, argv, NULL, begun, j) != 0) {
        log_warn("worker: redis unavailable; %s stays pending", j->item);
        job_done(j);
    }
}

/* ---- quiet hours ----------------------------------------------------------------- */

static void held(redisReply *reply, const char *error, void *arg)
{
    job *j = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("worker: could not hold %s (%s); it stays pending", j->item,
                 reply ? reply->str : error);
    else
        j->w->stats.held++;
    job_done(j);
}

/* Returns 1 when the item was parked until the quiet hours end. */
static int hold_if_quiet(job *j)
{
    worker *w = j->w;
    quiet_hours q = {0};
    char why[128];
    if (sscanf(j->quiet, "%d-%d", &q.start_min, &q.end_min) != 2)
        return 0;
    q.on = q.start_min != q.end_min;
    const tz *zone = tz_get(j->tzname, why, sizeof why);
    int64_t now = clock_wall_ms(), until;
    if (!zone || !quiet_hold(&q, zone, now / 1000, &until))
        return 0;

    char window[32], end[64], reason[160], attempt[16], fired[24], until_s[24], now_s[24];
    quiet_format(&q, window, sizeof window);
    isotime_format_human(until, zone, end, sizeof end);
    snprintf(reason, sizeof reason, "quiet hours %s: waits until %s", window, end);
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    fmt_ms(j->fired_ms, fired, sizeof fired);
    fmt_ms(until * 1000, until_s, sizeof until_s);
    fmt_ms(now, now_s, sizeof now_s);
    const char *argv[] = {w->channels[j->ch].stream,
                          engine_prefix(w->e),
                          j->entry,
                          j->item,
                          attempt,
                          fired,
                          until_s,
                          now_s,
                          reason,
                          GROUP};
    if (engine_fcall(w->e, "haechi_hold", 1, 10, argv, NULL, held, j) != 0)
        job_done(j);
    return 1;
}

/* ---- taking items ------------------------------------------------------------------ */

static const char *field(redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1]->str;
    return NULL;
}

static void acked(redisReply *reply, const char *error, void *arg)
{
    (void)arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("worker: XACK failed: %s", reply ? reply->str : error);
}

static void ack_malformed(worker *w, int ch, const char *entry)
{
    const char *argv[] = {"XACK", w->channels[ch].stream, GROUP, entry};
    log_error("worker: item %s on %s is malformed; acknowledged and dropped", entry,
              w->channels[ch].stream);
    rconn_command(engine_redis(w->e), acked, NULL, 4, argv, NULL);
}

/* Starts one job from a stream entry [id, [field, value, ...]]. */
static void take(worker *w, int ch, redisReply *entry)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
        return;
    redisReply *fields = entry->element[1];
    if (fields->type != REDIS_REPLY_ARRAY)
        return; /* deleted meanwhile (XAUTOCLAIM reports those as nil) */
    const char *item = field(fields, "item"), *version = field(fields, "version");
    const char *fired = field(fields, "fired"), *attempt = field(fields, "attempt");
    const char *target = field(fields, "target"), *tzname = field(fields, "tz");
    const char *quiet = field(fields, "quiet");
    /* The item id is "campaign|release|due_ms|channel[|target]". */
    char camp[65], rel[65], chan[32];
    long long due;
    if (!item || !version || !attempt ||
        sscanf(item, "%64[^|]|%64[^|]|%lld|%31[^|]", camp, rel, &due, chan) != 4) {
        ack_malformed(w, ch, entry->element[0]->str);
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j)
        return; /* stays pending; reclaimed later */
    j->w = w;
    j->ch = ch;
    snprintf(j->entry, sizeof j->entry, "%s", entry->element[0]->str);
    snprintf(j->item, sizeof j->item, "%s", item);
    snprintf(j->campaign_id, sizeof j->campaign_id, "%s", camp);
    snprintf(j->release_id, sizeof j->release_id, "%s", rel);
    snprintf(j->target, sizeof j->target, "%s", target ? target : "all");
    snprintf(j->tzname, sizeof j->tzname, "%s", tzname ? tzname : "UTC");
    snprintf(j->quiet, sizeof j->quiet, "%s", quiet ? quiet : "");
    j->version = strtoll(version, NULL, 10);
    j->due_ms = due;
    j->fired_ms = fired ? strtoll(fired, NULL, 10) : j->due_ms;
    j->attempt = (int)strtol(attempt, NULL, 10);
    if (j->attempt < 1)
        j->attempt = 1;
    w->in_flight++;
    w->stats.taken++;
    if (!hold_if_quiet(j))
        begin(j);
}

static int channel_of_stream(worker *w, const char *name)
{
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (strcmp(w->channels[ch].stream, name) == 0)
            return ch;
    return -1;
}

static void got_items(redisReply *reply, const char *error, void *arg)
{
    worker *w = arg;
    w->reading = 0;
    (void)error;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t s = 0; s < reply->elements; s++) {
            redisReply *pair = reply->element[s];
            if (pair->type != REDIS_REPLY_ARRAY || pair->elements != 2 ||
                pair->element[0]->type != REDIS_REPLY_STRING)
                continue;
            int ch = channel_of_stream(w, pair->element[0]->str);
            if (ch < 0)
                continue;
            redisReply *entries = pair->element[1];
            for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++)
                take(w, ch, entries->element[i]);
        }
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_error("worker: XREADGROUP failed: %s", reply->str);
        if (strstr(reply->str, "NOGROUP"))
            w->groups_ready = 0;
        return; /* the tick retries */
    } else if (!reply) {
        return; /* link lost: the tick retries once it is back */
    }
    if (!w->stopped)
        read_more(w);
}

static void read_more(worker *w)
{
    int want = w->cfg->engine.worker_concurrency - w->in_flight;
    if (w->reading || w->stopped || !w->groups_ready || want <= 0 || !rconn_ready(w->queue))
        return;
    char count[16], block[16];
    snprintf(count, sizeof count, "%d", want);
    /* Short enough for the link's watchdog PING to get through between reads. */
    int block_ms = w->cfg->redis_command_timeout_ms / 3;
    snprintf(block, sizeof block, "%d", block_ms < 1000 ? block_ms : 1000);
    const char *argv[9 + 2 * CHANNEL_COUNT];
    int n = 0;
    argv[n++] = "XREADGROUP";
    argv[n++] = "GROUP";
    argv[n++] = GROUP;
    argv[n++] = w->consumer;
    argv[n++] = "COUNT";
    argv[n++] = count;
    argv[n++] = "BLOCK";
    argv[n++] = block;
    argv[n++] = "STREAMS";
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        argv[n++] = w->channels[ch].stream;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        argv[n++] = ">";
    if (rconn_command(w->queue, got_items, w, n, argv, NULL) == 0)
        w->reading = 1;
}

/* ---- groups, reclaiming and the tick -------------------------------------------------- */

static void group_created(redisReply *reply, const char *error, void *arg)
{
    worker *w = arg;
    (void)error;
    if (reply && (reply->type == REDIS_REPLY_STATUS ||
                  (reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "BUSYGROUP")))) {
        if (++w->groups_ready == CHANNEL_COUNT)
            read_more(w);
    } else {
        w->groups_ready = 0;
    }
}

static void create_groups(worker *w)
{
    w->groups_ready = 0;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        /* From "0": items queued before any worker existed are not skipped. */
        const char *argv[] = {"XGROUP", "CREATE", w->channels[ch].stream, GROUP, "0", "MKSTREAM"};
        rconn_command(engine_redis(w->e), group_created, w, 6, argv, NULL);
    }
}

typedef struct reclaim_call {
    worker *w;
    int ch;
} reclaim_call;

static void reclaim_reply(redisReply *reply, const char *error, void *arg)
{
    reclaim_call *rc = arg;
    worker *w = rc->w;
    (void)error;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[1]->type == REDIS_REPLY_ARRAY && !w->stopped) {
        redisReply *entries = reply->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            if (entries->element[i]->type == REDIS_REPLY_ARRAY) {
                w->stats.reclaimed++;
                take(w, rc->ch, entries->element[i]);
            }
        }
    }
    free(rc);
}

static void reclaim(worker *w)
{
    char idle[24];
    snprintf(idle, sizeof idle, "%lld", (long long)w->cfg->engine.reclaim_idle_ms);
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        reclaim_call *rc = malloc(sizeof *rc);
        if (!rc)
            return;
        rc->w = w;
        rc->ch = ch;
        const char *argv[] = {"XAUTOCLAIM", w->channels[ch].stream, GROUP, w->consumer, idle, "0-0",
                              "COUNT",      RECLAIM_COUNT};
        if (rconn_command(engine_redis(w->e), reclaim_reply, rc, 8, argv, NULL) != 0)
            free(rc);
    }
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    worker *w = arg;
    (void)fd;
    (void)what;
    if (w->stopped)
        return;
    if (!w->groups_ready && rconn_ready(engine_redis(w->e)))
        create_groups(w);
    read_more(w);
    int64_t now = clock_mono_ms();
    if (w->groups_ready == CHANNEL_COUNT &&
        now - w->last_reclaim_ms >= w->cfg->engine.reclaim_idle_ms / 2 &&
        w->in_flight < w->cfg->engine.worker_concurrency) {
        w->last_reclaim_ms = now;
        reclaim(w);
    }
}

/* ---- life ------------------------------------------------------------------------- */

worker *worker_new(struct event_base *base, engine *e, rconn *queue, store *st, char *err,
                   size_t errlen)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->base = base;
    w->e = e;
    w->queue = queue;
    w->st = st;
    w->cfg = engine_config(e);
    w->last_reclaim_ms = clock_mono_ms();
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(w->consumer, sizeof w->consumer, "%s:%d", host, (int)getpid());

    adapter_env env = {.base = base, .redis = engine_redis(e), .engine_prefix = engine_prefix(e)};
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        channel_slot *slot = &w->channels[ch];
        char why[256] = "";
        snprintf(slot->stream, sizeof slot->stream, "%sq:%s", engine_prefix(e), channel_names[ch]);
        slot->desc = w->cfg->channels[ch].desc;
        if (slot->desc)
            slot->state =
                slot->desc->ops->create(&env, w->cfg->channels[ch].adapter_conf, why, sizeof why);
        if (!slot->desc || !slot->state) {
            snprintf(err, errlen, "/channels/%s: %s", channel_names[ch],
                     slot->desc ? why : "unknown adapter");
            worker_free(w);
            return NULL;
        }
    }
    w->tick = event_new(base, -1, EV_PERSIST, tick_cb, w);
    if (!w->tick) {
        snprintf(err, errlen, "out of memory");
        worker_free(w);
        return NULL;
    }
    struct timeval tv = {0, 100 * 1000};
    evtimer_add(w->tick, &tv);
    return w;
}

void worker_stop(worker *w)
{
    if (w)
        w->stopped = 1;
}

void worker_free(worker *w)
{
    if (!w)
        return;
    if (w->tick)
        event_free(w->tick);
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (w->channels[ch].desc && w->channels[ch].state)
            w->channels[ch].desc->ops->destroy(w->channels[ch].state);
    for (int i = 0; i < DOC_CACHE; i++)
        campaign_free(w->docs[i].c);
    free(w);
}

int worker_in_flight(const worker *w)
{
    return w->in_flight;
}

const worker_stats *worker_get_stats(const worker *w)
{
    return &w->stats;
}
