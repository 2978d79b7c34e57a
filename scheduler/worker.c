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
#include <sys/queue.h>
#include <unistd.h>

#include "adapter.h"
#include "campaign.h"
#include "clock.h"
#include "isotime.h"
#include "log.h"
#include "quiet.h"

#define GROUP "workers"
#define DOC_CACHE 16
#define RECLAIM_MAX 100

typedef struct cached_doc {
    char id[65];
    long long version;
    campaign *c;
    long long used;
} cached_doc;

typedef struct job job;

typedef struct channel_slot {
    const adapter_desc *desc;
    void *state;
    char stream[160];
    int priority;              /* CHANNEL_PRIORITY: read first, from reserved slots */
    int cap;                   /* its own in-flight cap */
    int in_flight;             /* jobs of this channel */
    int reserved;              /* slots held for reads on their way */
    int more;                  /* its stream may hold items this worker has not read */
    int64_t paused_until;      /* monotonic ms: a channel-wide pause (PREFIX:{e}:pause:CH) */
    int rate, burst;           /* the token bucket shared by every worker; rate 0: none */
    job *probe;                /* the one job asking for a token */
    TAILQ_HEAD(, job) waiters; /* in line behind it */
    struct event *token_timer; /* when the probe asks again */
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
    int order[CHANNEL_COUNT]; /* priority channels first */
    int npriority;            /* of them */
    unsigned rr;              /* where the next round of bulk reads starts */
    int reserve;              /* slots of worker_concurrency only priority channels take */
    int reading;              /* a haechi_read on its way (one at a time) */
    int read_ch, read_count;
    int waiting;        /* the blocking XREADGROUP on the queue link */
    unsigned wait_mask; /* the channels it holds a slot for */
    int unblocking;     /* a CLIENT UNBLOCK of that read is on its way */
    int stopped;
    int freeing; /* adapters are being destroyed: outcomes are only counted */
    int in_flight;
    int reclaiming;         /* XAUTOCLAIM replies still due */
    TAILQ_HEAD(, job) jobs; /* every job in flight, whatever step it is at */
    struct event *tick;     /* starts reads after an outage; reclaims; touches */
    int64_t last_reclaim_ms, last_touch_ms, last_sweep_ms, last_poll_ms;
    int polling; /* a haechi_polls call on its way */
    /* Draining (worker_drain): the deadline, then the call that says done. */
    struct event *drain_timer, *drain_done;
    void (*drained)(void *arg);
    void *drained_arg;
    int drain_cancelled, drain_over;
    cached_doc docs[DOC_CACHE];
    long long doc_clock;
    worker_stats stats;
    outbound *http; /* the adapters' one client; outlives them */
};

struct job {
    TAILQ_ENTRY(job) link;
    TAILQ_ENTRY(job) wait_link; /* in line for a token */
    int in_line;
    worker *w;
    int ch;
    int sending; /* in the adapter's hands */
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
    int maybe_sent;       /* haechi_begin: an earlier attempt may have reached the channel */
    const campaign *camp; /* borrowed from the cache */
};

static void read_more(worker *w);
static void send_item(job *j);
static void check_drained(worker *w);
static void park(job *j, int64_t until_ms, const char *reason);

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

/*
 * Free slots for channel CH: under its own cap, under the process's
 * (worker_concurrency), and, for a bulk channel, outside the part of the
 * process's cap reserved for priority channels. Slots of reads still on
 * their way count as taken.
 */
static int room(const worker *w, int ch)
{
    const channel_slot *s = &w->channels[ch];
    int total = 0, bulk = 0;
    for (int i = 0; i < CHANNEL_COUNT; i++) {
        int n = w->channels[i].in_flight + w->channels[i].reserved;
        total += n;
        if (!w->channels[i].priority)
            bulk += n;
    }
    int wc = w->cfg->engine.worker_concurrency;
    int r = s->cap - s->in_flight - s->reserved;
    if (wc - total < r)
        r = wc - total;
    if (!s->priority && wc - w->reserve - bulk < r)
        r = wc - w->reserve - bulk;
    return r > 0 ? r : 0;
}

/* The I-th channel to read: priority channels first, then the bulk ones
 * round-robin, so that one with a backlog does not starve the others. */
static int nth_channel(const worker *w, int i)
{
    if (i < w->npriority)
        return w->order[i];
    int nbulk = CHANNEL_COUNT - w->npriority;
    return w->order[w->npriority + (int)((unsigned)(i - w->npriority + w->rr) % (unsigned)nbulk)];
}

static int paused(const channel_slot *s, int64_t now)
{
    return s->paused_until > now;
}

/* Every worker learns of a channel pause from Redis (PREFIX:{e}:pause:CH)
 * when it reads or begins an item there; it reads nothing of the channel
 * until the pause ends. */
static void note_pause(worker *w, int ch, long long ms, const char *reason)
{
    channel_slot *s = &w->channels[ch];
    int64_t now = clock_mono_ms();
    if (ms <= 0)
        return;
    if (!paused(s, now))
        log_warn("worker: channel %s paused for %lld ms: %s", channel_names[ch], ms,
                 reason ? reason : "");
    if (now + ms > s->paused_until)
        s->paused_until = now + ms;
    s->more = 1; /* read it again once the pause is over */
}

static void job_done(job *j)
{
    worker *w = j->w;
    /* A full channel was not read: whatever came meanwhile is unread. */
    if (room(w, j->ch) == 0)
        for (int ch = 0; ch < CHANNEL_COUNT; ch++)
            w->channels[ch].more = 1;
    TAILQ_REMOVE(&w->jobs, j, link);
    if (j->in_line)
        TAILQ_REMOVE(&w->channels[j->ch].waiters, j, wait_link);
    if (w->channels[j->ch].probe == j)
        w->channels[j->ch].probe = NULL;
    w->channels[j->ch].in_flight--;
    w->in_flight--;
    free(j);
    if (!w->stopped)
        read_more(w);
    check_drained(w);
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

/* {"not-friend":3,...}: a batch's refusals by reason, for haechi_complete;
 * "" when none. Codes are the adapter's short names, escaped all the same. */
static void reasons_json(const adapter_outcome *o, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!o || o->nreasons <= 0)
        return;
    json_t *by = json_object();
    for (int i = 0; i < o->nreasons && i < ADAPTER_REASONS_MAX; i++)
        if (o->reasons[i].n > 0)
            json_object_set_new(by, o->reasons[i].code, json_integer(o->reasons[i].n));
    char *text = json_dumps(by, JSON_COMPACT);
    if (text && strlen(text) < len)
        snprintf(buf, len, "%s", text);
    free(text);
    json_decref(by);
}

static void complete(job *j, const char *outcome, const adapter_outcome *o, int64_t next_at,
                     int64_t pause_ms)
{
    worker *w = j->w;
    char attempt[16], now[24], hour[16], reach[24], next[24], fired[24], accepted[24], rejected[24],
        pause[24], skipped[24], by_reason[ADAPTER_REASONS_MAX * 48 + 8] = "";
    int64_t ms = clock_wall_ms();
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    fmt_ms(ms, now, sizeof now);
    engine_hour(ms, hour, sizeof hour);
    snprintf(reach, sizeof reach, "%lld", o ? o->reach : 0);
    fmt_ms(next_at, next, sizeof next);
    fmt_ms(j->fired_ms, fired, sizeof fired);
    fmt_ms(o ? o->accepted : 0, accepted, sizeof accepted);
    fmt_ms(o ? o->rejected : 0, rejected, sizeof rejected);
    fmt_ms(pause_ms, pause, sizeof pause);
    fmt_ms(o ? o->skipped : 0, skipped, sizeof skipped);
    reasons_json(o, by_reason, sizeof by_reason);
    /* A timeout's class is kept with a failed attempt: the next one may
     * then be told that this one may have been sent (maybe_sent). */
    const char *error = o ? adapter_error_name(o->error) : "";
    /* The worker, not the engine, knows which adapters report insights:
     * it names the poll delays for those, and only for a post with an id. */
    char polls[ENGINE_INSIGHTS_MAX * 24] = "";
    const channel_slot *slot = &w->channels[j->ch];
    if (strcmp(outcome, "ok") == 0 && o && o->external_id[0] && slot->desc &&
        (slot->desc->flags & ADAPTER_INSIGHTS) && slot->desc->ops->poll_insights) {
        size_t used = 0;
        for (int i = 0; i < w->cfg->engine.insights_n && used < sizeof polls; i++) {
            int n = snprintf(polls + used, sizeof polls - used, "%s%lld", i ? "," : "",
                             (long long)w->cfg->engine.insights_after_ms[i]);
            if (n < 0)
                break;
            used += (size_t)n;
        }
    }
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
                          rejected,
                          pause,
                          error,
                          polls,
                          skipped,
                          by_reason};
    if (engine_fcall(w->e, "haechi_complete", 1, 21, argv, NULL, completed, j) != 0) {
        log_warn("worker: redis unavailable; %s stays pending and will be retried", j->item);
        job_done(j);
    }
}

static void sent(const adapter_outcome *o, void *arg)
{
    job *j = arg;
    worker *w = j->w;
    const engine_conf *conf = &w->cfg->engine;

    j->sending = 0;
    if (w->freeing) {
        /* Redis is gone by now: the item stays pending and is reclaimed. */
        job_done(j);
        return;
    }
    if (o->status == ADAPTER_CANCELLED && o->error == ADAPTER_ERR_NONE) {
        /* Surely not sent (a drain cancelled it): back in line, no attempt used. */
        w->stats.put_back++;
        park(j, clock_wall_ms(), o->reason);
        return;
    }
    /* Nothing failed, the channel is only not ready for it yet (a quota that
     * frees later): parked like quiet hours, so that waiting for a quota
     * never uses up max_attempts. */
    if (o->status == ADAPTER_AGAIN && o->hold) {
        w->stats.held++;
        park(j,
             clock_wall_ms() +
                 (o->retry_after_ms > 0 ? o->retry_after_ms : worker_backoff_ms(conf, 1, 0)),
             o->reason);
        return;
    }
    /* A 429 for the whole channel: one failed attempt here, and a pause every
     * worker honours, instead of one failure per item in flight or queued. */
    int64_t pause = 0;
    if (o->status == ADAPTER_AGAIN && o->scope == ADAPTER_SCOPE_CHANNEL) {
        pause = o->retry_after_ms > 0 ? o->retry_after_ms : worker_backoff_ms(conf, j->attempt, 0);
        note_pause(w, j->ch, pause, o->reason);
    }
    if (o->status == ADAPTER_OK) {
        w->stats.sent++;
        complete(j, "ok", o, 0, 0);
    } else if (o->status == ADAPTER_DECLINED) {
        w->stats.declined++;
        complete(j, "declined", o, 0, 0);
    } else if ((o->status == ADAPTER_AGAIN || o->status == ADAPTER_CANCELLED) &&
               j->attempt < conf->max_attempts) {
        w->stats.retried++;
        int64_t next = clock_wall_ms() + worker_backoff_ms(conf, j->attempt, o->retry_after_ms);
        complete(j, "retry", o, next, pause);
    } else {
        adapter_outcome last = *o;
        if (o->status != ADAPTER_FAILED) {
            char reason[sizeof last.reason];
            snprintf(reason, sizeof reason, "gave up after %d attempts; last: %.200s", j->attempt,
                     o->reason);
            snprintf(last.reason, sizeof last.reason, "%s", reason);
        }
        w->stats.dead++;
        complete(j, "dead", &last, 0, pause);
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

/* Queues one item per target in place of the parent, in one Redis step.
 * RECIPIENTS: whom the plan expects the release to reach (0: unknown). */
static void fan_out(job *j, json_t *targets, long long recipients)
{
    worker *w = j->w;
    size_t n = json_array_size(targets);
    const char **argv = calloc(11 + n, sizeof *argv);
    char now[24], version[24], fired[24], expected[24];
    if (!argv) {
        log_warn("worker: out of memory planning %s; it stays pending", j->item);
        job_done(j);
        return;
    }
    fmt_ms(clock_wall_ms(), now, sizeof now);
    fmt_ms(j->version, version, sizeof version);
    fmt_ms(j->fired_ms, fired, sizeof fired);
    fmt_ms(recipients, expected, sizeof expected);
    const char *head[] = {w->channels[j->ch].stream,
                          engine_prefix(w->e),
                          j->entry,
                          j->item,
                          GROUP,
                          now,
                          version,
                          fired,
                          j->tzname,
                          j->quiet,
                          expected};
    memcpy(argv, head, sizeof head);
    for (size_t i = 0; i < n; i++)
        argv[11 + i] = json_string_value(json_array_get(targets, i));
    if (engine_fcall(w->e, "haechi_fanout", 1, (int)(11 + n), argv, NULL, fanned_out, j) != 0) {
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
    j->sending = 0;
    if (j->w->freeing) {
        json_decref(targets);
        job_done(j);
        return;
    }
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
    fan_out(j, targets, o && o->reach > 0 ? o->reach : 0);
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
        .maybe_sent = j->maybe_sent,
        .campaign = j->camp->doc,
        .zone = j->camp->zone,
    };
    if (w->freeing) {
        job_done(j); /* the adapters are going: the item stays pending */
        return;
    }
    j->sending = 1;
    if (slot->state && is_parent && !j->planned && slot->desc->ops->plan) {
        haechi_status rc = slot->desc->ops->plan(slot->state, &item, planned, j);
        if (rc == HAECHI_OK)
            return; /* planned() carries on */
        if (rc != HAECHI_DECLINED) {
            adapter_outcome o = {.status = ADAPTER_AGAIN, .error = ADAPTER_ERR_INTERNAL};
            snprintf(o.reason, sizeof o.reason, "the %s adapter could not start its plan",
                     slot->desc->name);
            sent(&o, j);
            return;
        }
        j->planned = 1; /* no fan-out: sent as it is */
    }
    if (!slot->state || slot->desc->ops->send(slot->state, &item, sent, j) != HAECHI_OK) {
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

static void begin(job *j);

/*
 * On a rate-limited channel one job at a time asks Redis for a token (the
 * probe); the others wait in line here, so that a slow bucket costs one
 * call per token, not one per waiting job.
 */
static void next_probe(channel_slot *s)
{
    job *j = TAILQ_FIRST(&s->waiters);
    s->probe = j;
    if (j) {
        TAILQ_REMOVE(&s->waiters, j, wait_link);
        j->in_line = 0;
        begin(j);
    }
}

static void token_due(evutil_socket_t fd, short what, void *arg)
{
    channel_slot *s = arg;
    (void)fd;
    (void)what;
    job *j = s->probe;
    if (!j)
        return;
    if (j->w->stopped) {
        next_probe(s);
        park(j, clock_wall_ms(), "the worker stopped before sending it");
        return;
    }
    begin(j);
}

/* After a quiet-hours check: in line for a token, or straight to begin. */
static void start(job *j)
{
    channel_slot *s = &j->w->channels[j->ch];
    if (s->rate > 0 && s->probe) {
        TAILQ_INSERT_TAIL(&s->waiters, j, wait_link);
        j->in_line = 1;
        return;
    }
    if (s->rate > 0)
        s->probe = j;
    begin(j);
}

static void begun(redisReply *reply, const char *error, void *arg)
{
    job *j = arg;
    worker *w = j->w;
    channel_slot *s = &w->channels[j->ch];
    const char *verdict = "";
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
        reply->element[0]->type == REDIS_REPLY_STRING)
        verdict = reply->element[0]->str;
    if (strcmp(verdict, "wait") == 0 && !w->freeing && reply->elements >= 2 &&
        reply->element[1]->type == REDIS_REPLY_INTEGER) {
        if (w->stopped) {
            next_probe(s);
            park(j, clock_wall_ms(), "the worker stopped before sending it");
            return;
        }
        long long ms = reply->element[1]->integer;
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        if (s->probe == j && evtimer_add(s->token_timer, &tv) == 0)
            return;
        job_done(j); /* stays pending; reclaimed later */
        return;
    }
    if (s->probe == j)
        next_probe(s);
    if (w->freeing || !verdict[0]) {
        log_warn("worker: could not start %s (%s); it stays pending", j->item,
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : error);
        job_done(j);
        return;
    }
    if (strcmp(verdict, "go") != 0) {
        if (strcmp(verdict, "paused") == 0) {
            w->stats.put_back++;
            note_pause(w, j->ch,
                       reply->elements > 1 && reply->element[1]->type == REDIS_REPLY_INTEGER
                           ? reply->element[1]->integer
                           : 1000,
                       reply->elements > 2 ? reply->element[2]->str : NULL);
        } else if (strcmp(verdict, "held") == 0) {
            w->stats.held++;
        } else {
            w->stats.cancelled++;
        }
        job_done(j);
        return;
    }
    /* {'go', prior state, 1 when the last attempt timed out}: a record
     * still "sending" is an attempt whose worker died in flight. */
    j->maybe_sent = (reply->elements > 1 && reply->element[1]->type == REDIS_REPLY_STRING &&
                     strcmp(reply->element[1]->str, "sending") == 0) ||
                    (reply->elements > 2 && reply->element[2]->type == REDIS_REPLY_INTEGER &&
                     reply->element[2]->integer == 1);
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
    channel_slot *s = &w->channels[j->ch];
    char attempt[16], now[24], fired[24], rate[16], burst[16];
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    fmt_ms(clock_wall_ms(), now, sizeof now);
    fmt_ms(j->fired_ms, fired, sizeof fired);
    snprintf(rate, sizeof rate, "%d", s->rate);
    snprintf(burst, sizeof burst, "%d", s->burst);
    const char *argv[] = {
        s->stream, engine_prefix(w->e), j->entry, j->item, attempt, now, GROUP, fired, rate, burst};
    if (engine_fcall(w->e, "haechi_begin", 1, 10, argv, NULL, begun, j) != 0) {
        log_warn("worker: redis unavailable; %s stays pending", j->item);
        if (s->probe == j)
            next_probe(s);
        job_done(j);
    }
}

/* ---- parking: quiet hours, a drain ------------------------------------------------ */

static void parked(redisReply *reply, const char *error, void *arg)
{
    job *j = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("worker: could not park %s (%s); it stays pending", j->item,
                 reply ? reply->str : error);
    job_done(j);
}

/* Puts the item back in the due set until UNTIL_MS with REASON, without
 * counting an attempt (haechi_hold), and ends the job. */
static void park(job *j, int64_t until_ms, const char *reason)
{
    worker *w = j->w;
    char attempt[16], fired[24], until_s[24], now_s[24];
    snprintf(attempt, sizeof attempt, "%d", j->attempt);
    fmt_ms(j->fired_ms, fired, sizeof fired);
    fmt_ms(until_ms, until_s, sizeof until_s);
    fmt_ms(clock_wall_ms(), now_s, sizeof now_s);
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
    if (w->freeing || engine_fcall(w->e, "haechi_hold", 1, 10, argv, NULL, parked, j) != 0)
        job_done(j);
}

/* Returns 1 when the item was parked until the quiet hours end. */
static int hold_if_quiet(job *j)
{
    quiet_hours q = {0};
    char why[128];
    if (sscanf(j->quiet, "%d-%d", &q.start_min, &q.end_min) != 2)
        return 0;
    q.on = q.start_min != q.end_min;
    const tz *zone = tz_get(j->tzname, why, sizeof why);
    int64_t now = clock_wall_ms(), until;
    if (!zone || !quiet_hold(&q, zone, now / 1000, &until))
        return 0;

    char window[32], end[64], reason[160];
    quiet_format(&q, window, sizeof window);
    isotime_format_human(until, zone, end, sizeof end);
    snprintf(reason, sizeof reason, "quiet hours %s: waits until %s", window, end);
    j->w->stats.held++;
    park(j, until * 1000, reason);
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

/* Whether a job of this process holds entry ID of channel CH. */
static int holds(const worker *w, int ch, const char *id)
{
    const job *j;
    TAILQ_FOREACH(j, &w->jobs, link)
    {
        if (j->ch == ch && strcmp(j->entry, id) == 0)
            return 1;
    }
    return 0;
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
    const char *id = entry->element[0]->str;
    if (holds(w, ch, id))
        return; /* reclaimed while this process still sends it: never twice */
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
    TAILQ_INSERT_TAIL(&w->jobs, j, link);
    w->channels[ch].in_flight++;
    w->in_flight++;
    w->stats.taken++;
    if (w->stopped) {
        /* Read as the drain began: back in line for another worker. */
        w->stats.put_back++;
        park(j, clock_wall_ms(), "the worker stopped before sending it");
    } else if (!hold_if_quiet(j)) {
        start(j);
    }
}

/* ---- capacity and reads -------------------------------------------------------------- */

static int channel_of_stream(worker *w, const char *name)
{
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (strcmp(w->channels[ch].stream, name) == 0)
            return ch;
    return -1;
}

static int read_failed(worker *w, redisReply *reply, const char *what)
{
    if (!reply)
        return 1; /* the link was lost: the tick retries once it is back */
    if (reply->type != REDIS_REPLY_ERROR)
        return 0;
    log_error("worker: %s failed: %s", what, reply->str);
    if (strstr(reply->str, "NOGROUP"))
        w->groups_ready = 0;
    return 1;
}

/* FCALL haechi_read's answer: {"ok", entries} or {"paused", ms, reason}. */
static void channel_read(redisReply *reply, const char *error, void *arg)
{
    worker *w = arg;
    int ch = w->read_ch;
    channel_slot *s = &w->channels[ch];
    (void)error;
    w->reading = 0;
    s->reserved -= w->read_count;
    if (read_failed(w, reply, "haechi_read")) {
        s->more = 0; /* not again before the tick says so */
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
               reply->element[0]->type == REDIS_REPLY_STRING) {
        redisReply *r1 = reply->element[1];
        if (strcmp(reply->element[0]->str, "paused") == 0) {
            note_pause(w, ch, r1->type == REDIS_REPLY_INTEGER ? r1->integer : 1000,
                       reply->elements > 2 ? reply->element[2]->str : NULL);
        } else if (r1->type == REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i < r1->elements; i++)
                take(w, ch, r1->element[i]);
            s->more = (int)r1->elements >= w->read_count;
        } else {
            s->more = 0;
        }
        read_more(w);
    }
    check_drained(w);
}

/* Reads channel CH for up to N items, without blocking, on the command link. */
static void read_channel(worker *w, int ch, int n)
{
    channel_slot *s = &w->channels[ch];
    char count[16];
    snprintf(count, sizeof count, "%d", n);
    const char *argv[] = {s->stream, engine_prefix(w->e), channel_names[ch],
                          GROUP,     w->consumer,         count};
    if (engine_fcall(w->e, "haechi_read", 1, 6, argv, NULL, channel_read, w) != 0)
        return;
    w->reading = 1;
    w->read_ch = ch;
    w->read_count = n;
    s->reserved += n;
}

/* The blocking read's answer: at most one entry from each stream. */
static void got_items(redisReply *reply, const char *error, void *arg)
{
    worker *w = arg;
    (void)error;
    w->waiting = 0;
    w->unblocking = 0;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (w->wait_mask & (1u << ch))
            w->channels[ch].reserved--;
    w->wait_mask = 0;
    if (read_failed(w, reply, "XREADGROUP")) {
        check_drained(w);
        return;
    }
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        redisReply *pair = reply->element[i];
        if (pair->type != REDIS_REPLY_ARRAY || pair->elements != 2 ||
            pair->element[0]->type != REDIS_REPLY_STRING)
            continue;
        int ch = channel_of_stream(w, pair->element[0]->str);
        redisReply *entries = pair->element[1];
        if (ch < 0 || entries->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t k = 0; k < entries->elements; k++)
            take(w, ch, entries->element[k]);
        w->channels[ch].more = 1; /* woken by it: there may be more behind */
    }
    read_more(w);
    check_drained(w);
}

static void unblocked(redisReply *reply, const char *error, void *arg)
{
    (void)arg;
    /* Not unblocked (the link was lost, or the read had already ended):
     * the read ends by itself within its BLOCK time in any case. */
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_debug("worker: CLIENT UNBLOCK failed: %s", reply ? reply->str : error);
}

/* Ends the blocking read early (answered as a timeout); once per read. */
static void unblock_read(worker *w)
{
    long long id = rconn_client_id(w->queue);
    if (!w->waiting || w->unblocking || id <= 0)
        return;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *argv[] = {"CLIENT", "UNBLOCK", ids};
    if (rconn_command(engine_redis(w->e), unblocked, NULL, 3, argv, NULL) == 0)
        w->unblocking = 1;
}

/*
 * The blocking read names only the streams that had room when it was sent.
 * A stream that was full then and has room now is watched by nobody: its
 * next items would wait for the read's BLOCK time (up to a second) or the
 * tick's sweep, and a busy worker keeps meeting that moment (the
 * exactly-once test went from 1.2 s to 21 s). So the read is ended early,
 * from the command link, and got_items() sends a new one over every stream
 * with room. One unblock per read: a burst of finished jobs costs one
 * round trip, not one each. An unblock that lands on the next read instead
 * only makes that one start over. Shorter BLOCK times were no answer: each
 * empty read is a round trip, for every idle worker.
 */
static void rewait_if_stale(worker *w, int64_t now)
{
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (!(w->wait_mask & (1u << ch)) && !paused(&w->channels[ch], now) && room(w, ch) > 0) {
            unblock_read(w);
            return;
        }
}

/*
 * Every stream with room came back empty: wait on the worker's own link
 * for the next entry of any of them, one entry per stream, each one's slot
 * reserved until the answer comes. Priority channels are named first, so
 * Redis serves them first.
 */
static void wait_for_items(worker *w, int64_t now)
{
    if (w->waiting) {
        rewait_if_stale(w, now);
        return;
    }
    if (!rconn_ready(w->queue))
        return;
    char block[16];
    /* Short enough for the link's watchdog PING to get through between reads. */
    int block_ms = w->cfg->redis_command_timeout_ms / 3;
    snprintf(block, sizeof block, "%d", block_ms < 1000 ? block_ms : 1000);
    const char *argv[9 + 2 * CHANNEL_COUNT];
    int n = 0, k = 0;
    argv[n++] = "XREADGROUP";
    argv[n++] = "GROUP";
    argv[n++] = GROUP;
    argv[n++] = w->consumer;
    argv[n++] = "COUNT";
    argv[n++] = "1";
    argv[n++] = "BLOCK";
    argv[n++] = block;
    argv[n++] = "STREAMS";
    unsigned mask = 0;
    for (int i = 0; i < CHANNEL_COUNT; i++) {
        int ch = nth_channel(w, i);
        if (paused(&w->channels[ch], now) || room(w, ch) < 1)
            continue;
        w->channels[ch].reserved++;
        mask |= 1u << ch;
        argv[n++] = w->channels[ch].stream;
        k++;
    }
    for (int i = 0; i < k; i++)
        argv[n++] = ">";
    if (k > 0 && rconn_command(w->queue, got_items, w, n, argv, NULL) == 0) {
        w->waiting = 1;
        w->wait_mask = mask;
        return;
    }
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (mask & (1u << ch))
            w->channels[ch].reserved--;
}

/* Reads the first channel, in priority order, that may have items and has
 * room for them; when none may, waits for the next item of any. */
static void read_more(worker *w)
{
    if (w->reading || w->stopped || w->groups_ready != CHANNEL_COUNT)
        return;
    int64_t now = clock_mono_ms();
    for (int i = 0; i < CHANNEL_COUNT; i++) {
        int ch = nth_channel(w, i), n;
        if (w->channels[ch].more && !paused(&w->channels[ch], now) && (n = room(w, ch)) > 0) {
            if (!w->channels[ch].priority)
                w->rr++; /* the next read starts at the next bulk channel */
            read_channel(w, ch, n);
            return;
        }
    }
    wait_for_items(w, now);
}

/* ---- groups, reclaiming and the tick -------------------------------------------------- */

static void group_created(redisReply *reply, const char *error, void *arg)
{
    worker *w = arg;
    (void)error;
    if (reply && (reply->type == REDIS_REPLY_STATUS ||
                  (reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "BUSYGROUP")))) {
        if (++w->groups_ready == CHANNEL_COUNT) {
            for (int ch = 0; ch < CHANNEL_COUNT; ch++)
                w->channels[ch].more = 1;
            read_more(w);
        }
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
    int ch, count;
} reclaim_call;

static void reclaim_reply(redisReply *reply, const char *error, void *arg)
{
    reclaim_call *rc = arg;
    worker *w = rc->w;
    (void)error;
    w->reclaiming--;
    w->channels[rc->ch].reserved -= rc->count;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[1]->type == REDIS_REPLY_ARRAY) {
        redisReply *entries = reply->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            if (entries->element[i]->type == REDIS_REPLY_ARRAY) {
                w->stats.reclaimed++;
                take(w, rc->ch, entries->element[i]);
            }
        }
    }
    free(rc);
    check_drained(w);
}

/* Takes over what silent workers left pending, no more than there is room
 * for: XAUTOCLAIM hands each entry it claims to this consumer at once. */
static void reclaim(worker *w)
{
    char idle[24], count[16];
    int64_t now = clock_mono_ms();
    snprintf(idle, sizeof idle, "%lld", (long long)w->cfg->engine.reclaim_idle_ms);
    /* A fair share each, so that one channel's claim cannot starve the rest. */
    int share = w->cfg->engine.worker_concurrency / CHANNEL_COUNT;
    for (int i = 0; i < CHANNEL_COUNT; i++) {
        int ch = nth_channel(w, i), n = room(w, ch);
        if (n > RECLAIM_MAX)
            n = RECLAIM_MAX;
        if (n > share && share > 0)
            n = share;
        if (n <= 0 || paused(&w->channels[ch], now))
            continue;
        reclaim_call *rc = malloc(sizeof *rc);
        if (!rc)
            return;
        rc->w = w;
        rc->ch = ch;
        rc->count = n;
        snprintf(count, sizeof count, "%d", n);
        const char *argv[] = {
            "XAUTOCLAIM", w->channels[ch].stream, GROUP, w->consumer, idle, "0-0", "COUNT", count};
        if (rconn_command(engine_redis(w->e), reclaim_reply, rc, 8, argv, NULL) != 0) {
            free(rc);
            continue;
        }
        w->reclaiming++;
        w->channels[ch].reserved += n;
    }
}

static void touched(redisReply *reply, const char *error, void *arg)
{
    const char *stream = arg;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
        log_warn("worker: %zu items of %s were taken over while this worker still held "
                 "them (was it stalled longer than engine.reclaim_idle_ms?)",
                 reply->elements, stream);
    else if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("worker: could not keep the items of %s fresh: %s", stream,
                 reply ? reply->str : error);
}

/*
 * Resets the idle time of every entry this process holds, so that
 * XAUTOCLAIM (here or in another worker) takes over only the items of a
 * worker that went silent, never those of a slow send.
 */
static void touch(worker *w)
{
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        channel_slot *slot = &w->channels[ch];
        if (slot->in_flight == 0)
            continue;
        const char **argv = malloc((size_t)(3 + slot->in_flight) * sizeof *argv);
        if (!argv)
            return;
        int n = 0;
        argv[n++] = slot->stream;
        argv[n++] = GROUP;
        argv[n++] = w->consumer;
        const job *j;
        TAILQ_FOREACH(j, &w->jobs, link)
        {
            if (j->ch == ch && n < 3 + slot->in_flight)
                argv[n++] = j->entry;
        }
        /* The stream name outlives the reply: it is the worker's. */
        engine_fcall(w->e, "haechi_touch", 1, n, argv, NULL, touched, slot->stream);
        free(argv);
    }
}

/* ---- insights ------------------------------------------------------------------ */

typedef struct poll_call {
    worker *w;
    char item[300];
} poll_call;

static void insights_stored(redisReply *reply, const char *error, void *arg)
{
    (void)arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("worker: insights not stored: %s", reply ? reply->str : error);
}

static void polled(const adapter_insights *fig, const adapter_outcome *o, void *arg)
{
    poll_call *pc = arg;
    worker *w = pc->w;
    if (!fig) {
        log_warn("worker: insights of %s: %s", pc->item, o ? o->reason : "no answer");
    } else if (!w->freeing) {
        char now[24], hour[16], v[4][24];
        int64_t ms = clock_wall_ms();
        char key[200];
        fmt_ms(ms, now, sizeof now);
        engine_hour(ms, hour, sizeof hour);
        fmt_ms(fig->impressions, v[0], sizeof v[0]);
        fmt_ms(fig->reach, v[1], sizeof v[1]);
        fmt_ms(fig->clicks, v[2], sizeof v[2]);
        fmt_ms(fig->opens, v[3], sizeof v[3]);
        snprintf(key, sizeof key, "%sinsights", engine_prefix(w->e));
        const char *argv[] = {key, engine_prefix(w->e), pc->item, now, hour, v[0], v[1], v[2],
                              v[3]};
        if (engine_fcall(w->e, "haechi_insights", 1, 9, argv, NULL, insights_stored, NULL) != 0)
            log_warn("worker: redis unavailable; insights of %s not stored", pc->item);
    }
    free(pc);
}

/* Starts the poll MEMBER ({item, ext, after}) names, on the item's channel. */
static void start_poll(worker *w, const char *member)
{
    json_t *m = json_loads(member, 0, NULL);
    const char *item = json_string_value(json_object_get(m, "item"));
    const char *ext = json_string_value(json_object_get(m, "ext"));
    char chan[32] = "", target[64] = "all";
    int ch = -1;
    if (item && ext && sscanf(item, "%*[^|]|%*[^|]|%*[^|]|%31[^|]|%63[^|]", chan, target) >= 1)
        ch = channel_from_name(chan);
    channel_slot *s = ch >= 0 ? &w->channels[ch] : NULL;
    if (!s || !s->state || !s->desc->ops->poll_insights) {
        log_warn("worker: a poll of %s has no adapter to ask; dropped", item ? item : member);
        json_decref(m);
        return;
    }
    poll_call *pc = calloc(1, sizeof *pc);
    if (pc) {
        pc->w = w;
        snprintf(pc->item, sizeof pc->item, "%s", item);
        if (s->desc->ops->poll_insights(s->state, target, ext, polled, pc) != HAECHI_OK) {
            log_warn("worker: the %s adapter could not poll %s", s->desc->name, item);
            free(pc);
        }
    }
    json_decref(m);
}

static void polls_taken(redisReply *reply, const char *error, void *arg)
{
    worker *w = arg;
    w->polling = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        log_warn("worker: could not take due polls: %s",
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : error);
        return;
    }
    for (size_t i = 0; !w->freeing && i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            start_poll(w, reply->element[i]->str);
}

/* Only a worker with an adapter that reports insights takes polls, so that
 * one without it never drops another's. */
static void take_polls(worker *w, int64_t now)
{
    int any = 0;
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        any |= w->channels[ch].desc && (w->channels[ch].desc->flags & ADAPTER_INSIGHTS) &&
               w->channels[ch].desc->ops->poll_insights;
    if (!any || w->polling || now - w->last_poll_ms < 1000)
        return;
    w->last_poll_ms = now;
    char key[200], wall[24];
    snprintf(key, sizeof key, "%sinsights", engine_prefix(w->e));
    fmt_ms(clock_wall_ms(), wall, sizeof wall);
    const char *argv[] = {key, wall, "16"};
    if (engine_fcall(w->e, "haechi_polls", 1, 3, argv, NULL, polls_taken, w) == 0)
        w->polling = 1;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    worker *w = arg;
    (void)fd;
    (void)what;
    int64_t now = clock_mono_ms();
    /* Well within reclaim_idle_ms, also while draining: sends in flight stay ours. */
    if (now - w->last_touch_ms >= w->cfg->engine.reclaim_idle_ms / 4) {
        w->last_touch_ms = now;
        touch(w);
    }
    if (w->stopped)
        return;
    /* Each second, every stream is read again whatever the last read said:
     * a lost wake-up costs a second, not a stall. */
    if (now - w->last_sweep_ms >= 1000) {
        w->last_sweep_ms = now;
        for (int ch = 0; ch < CHANNEL_COUNT; ch++)
            w->channels[ch].more = 1;
    }
    if (!w->groups_ready && rconn_ready(engine_redis(w->e)))
        create_groups(w);
    read_more(w);
    take_polls(w, now);
    if (w->groups_ready == CHANNEL_COUNT &&
        now - w->last_reclaim_ms >= w->cfg->engine.reclaim_idle_ms / 2) {
        w->last_reclaim_ms = now;
        reclaim(w);
    }
}

/* ---- draining ------------------------------------------------------------------------ */

static void check_drained(worker *w)
{
    if (w->drained && !w->drain_over && !w->freeing && w->in_flight == 0 && !w->reading &&
        !w->waiting && !w->reclaiming)
        event_active(w->drain_done, EV_TIMEOUT, 1);
}

static void drain_done_cb(evutil_socket_t fd, short what, void *arg)
{
    worker *w = arg;
    (void)fd;
    (void)what;
    if (w->drain_over)
        return;
    w->drain_over = 1;
    evtimer_del(w->drain_timer);
    w->drained(w->drained_arg);
}

/* Ends every send still in flight: cancel() where the adapter has it (the
 * outcomes come back through the loop), else destroy(), which answers them
 * at once; this worker sends nothing more either way. */
static void cancel_sends(worker *w)
{
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        channel_slot *slot = &w->channels[ch];
        if (!slot->state)
            continue;
        if (slot->desc->ops->cancel) {
            slot->desc->ops->cancel(slot->state, NULL);
        } else {
            void *state = slot->state;
            slot->state = NULL;
            slot->desc->ops->destroy(state);
        }
    }
}

static void drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    worker *w = arg;
    (void)fd;
    (void)what;
    if (!w->drain_cancelled) {
        int sending = 0;
        const job *j;
        TAILQ_FOREACH(j, &w->jobs, link)
        sending += j->sending;
        log_warn("worker: drain deadline passed; cancelling %d sends in flight", sending);
        w->drain_cancelled = 1;
        /* Time for the cancelled outcomes to be stored, then give up. */
        int64_t grace = 2 * (int64_t)w->cfg->redis_command_timeout_ms + 1000;
        struct timeval tv = {(time_t)(grace / 1000), (suseconds_t)(grace % 1000) * 1000};
        evtimer_add(w->drain_timer, &tv);
        cancel_sends(w);
        return;
    }
    log_warn("worker: %d items still unsettled after the drain; they stay pending and "
             "another worker takes them over",
             w->in_flight);
    event_active(w->drain_done, EV_TIMEOUT, 1);
}

void worker_drain(worker *w, int64_t timeout_ms, void (*drained)(void *arg), void *arg)
{
    if (w->drained)
        return;
    w->stopped = 1;
    w->drained = drained;
    w->drained_arg = arg;
    log_info("worker: draining: %d items in flight, up to %lld ms", w->in_flight,
             (long long)timeout_ms);
    /* Nothing more is read: the drain need not wait out the read's BLOCK. */
    unblock_read(w);
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    evtimer_add(w->drain_timer, &tv);
    /* Those in line for a token have not begun: back to the due set. */
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        channel_slot *s = &w->channels[ch];
        job *j;
        while ((j = TAILQ_FIRST(&s->waiters))) {
            TAILQ_REMOVE(&s->waiters, j, wait_link);
            j->in_line = 0;
            park(j, clock_wall_ms(), "the worker stopped before sending it");
        }
        if (s->probe && evtimer_pending(s->token_timer, NULL)) {
            evtimer_del(s->token_timer);
            j = s->probe;
            s->probe = NULL;
            park(j, clock_wall_ms(), "the worker stopped before sending it");
        }
    }
    check_drained(w);
}

/* ---- life ------------------------------------------------------------------------- */

/*
 * Each channel's cap: its config's max_inflight, else its adapter's, else
 * the whole worker_concurrency (a priority channel: a quarter of it). What
 * priority channels may hold together is kept out of the bulk channels'
 * reach, short of one slot; they may also use free bulk slots.
 */
static void set_caps(worker *w)
{
    int wc = w->cfg->engine.worker_concurrency, n = 0, reserve = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int ch = 0; ch < CHANNEL_COUNT; ch++)
            if (channel_has(ch, CHANNEL_PRIORITY) == (pass == 0))
                w->order[n++] = ch;
        if (pass == 0)
            w->npriority = n;
    }
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        channel_slot *s = &w->channels[ch];
        const channel_conf *cc = &w->cfg->channels[ch];
        s->priority = channel_has(ch, CHANNEL_PRIORITY);
        s->cap = cc->max_inflight                          ? cc->max_inflight
                 : s->desc && s->desc->limits.max_inflight ? s->desc->limits.max_inflight
                 : s->priority                             ? (wc / 4 > 0 ? wc / 4 : 1)
                                                           : wc;
        s->rate = cc->rate_per_s ? cc->rate_per_s : s->desc ? s->desc->limits.rate_per_s : 0;
        s->burst = cc->burst ? cc->burst : s->desc ? s->desc->limits.burst : 0;
        if (s->priority)
            reserve += s->cap;
    }
    w->reserve = reserve < wc - 1 ? reserve : (wc > 1 ? wc - 1 : 0);
}

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
    w->last_reclaim_ms = w->last_touch_ms = w->last_sweep_ms = clock_mono_ms();
    TAILQ_INIT(&w->jobs);
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(w->consumer, sizeof w->consumer, "%s:%d", host, (int)getpid());

    outbound_conf oc;
    config_outbound_conf(w->cfg, &oc);
    if (!(w->http = outbound_new(base, &oc, err, errlen))) {
        worker_free(w);
        return NULL;
    }
    adapter_env env = {.base = base,
                       .redis = engine_redis(e),
                       .engine_prefix = engine_prefix(e),
                       .key_prefix = w->cfg->redis_prefix,
                       .http = w->http};
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
    set_caps(w);
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        TAILQ_INIT(&w->channels[ch].waiters);
        if (!(w->channels[ch].token_timer = evtimer_new(base, token_due, &w->channels[ch]))) {
            snprintf(err, errlen, "out of memory");
            worker_free(w);
            return NULL;
        }
    }
    w->tick = event_new(base, -1, EV_PERSIST, tick_cb, w);
    w->drain_timer = evtimer_new(base, drain_timer_cb, w);
    w->drain_done = event_new(base, -1, 0, drain_done_cb, w);
    if (!w->tick || !w->drain_timer || !w->drain_done) {
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
    /* Outcomes the adapters still owe come back inside destroy(); with
     * Redis gone they are only counted (the items stay pending). */
    w->freeing = 1;
    w->stopped = 1;
    if (w->tick)
        event_free(w->tick);
    if (w->drain_timer)
        event_free(w->drain_timer);
    if (w->drain_done)
        event_free(w->drain_done);
    for (int ch = 0; ch < CHANNEL_COUNT; ch++) {
        if (w->channels[ch].token_timer)
            event_free(w->channels[ch].token_timer);
        w->channels[ch].token_timer = NULL;
        w->channels[ch].probe = NULL;
    }
    for (int ch = 0; ch < CHANNEL_COUNT; ch++)
        if (w->channels[ch].desc && w->channels[ch].state)
            w->channels[ch].desc->ops->destroy(w->channels[ch].state);
    outbound_free(w->http); /* after the adapters, which answered their sends */
    job *j;
    while ((j = TAILQ_FIRST(&w->jobs))) {
        TAILQ_REMOVE(&w->jobs, j, link);
        free(j);
    }
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
