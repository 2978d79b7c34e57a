/*
 * log.c - the "log" adapter, and the reference adapter of docs/adapters.md:
 * it sends nothing anywhere; it appends each rendered payload to a file
 * (JSON Lines) and to the Redis stream PREFIX:{e}:log, so that the whole
 * release path runs end to end in tests, rehearsals and `make run`.
 *
 * Its fault switches exist to exercise retries, dead letters, channel-wide
 * pauses and shutdown; they are its config fields (log_shape below).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "adapter.h"
#include "clock.h"
#include "render.h"
#include "sns_text.h"
#include "utf8.h"

#define LOG_STREAM_MAXLEN "100000"

/* ---- config ------------------------------------------------------------------ */

typedef struct log_conf {
    char file[1024];          /* also append to this file */
    long long fail_attempts;  /* answer AGAIN to the first n attempts of each item */
    long long retry_after_ms; /* the delay those AGAINs ask for (0: backoff) */
    int fail_timeout;         /* those AGAINs are timeouts: the send may have happened */
    long long hold_ms;        /* hold each item until this long after its due time */
    int fail_permanently;     /* answer FAILED to everything */
    int throttle_channel;     /* the AGAINs hold the whole channel (a 429) */
    long long delay_ms;       /* take this long over each send (a slow channel) */
    int faults_from_redis;    /* read PREFIX:{e}:log:faults before each send */
    long long fanout;         /* plan each release into this many batches b0001... */
    int fanout_networks;      /* plan one target per network of the section */
    char fail_target[64];     /* answer FAILED to every send to this target */
} log_conf;

static const jfield log_fields[] = {
    {.name = "file", .kind = JK_STRING, .min = 1, .max = 1023, JF_STORE(log_conf, file)},
    {.name = "fail_attempts", .kind = JK_INT, .max = 1000, JF_STORE(log_conf, fail_attempts)},
    {.name = "retry_after_ms", .kind = JK_INT, .max = 86400000, JF_STORE(log_conf, retry_after_ms)},
    {.name = "fail_timeout", .kind = JK_BOOL, JF_STORE(log_conf, fail_timeout)},
    {.name = "hold_ms", .kind = JK_INT, .max = 86400000, JF_STORE(log_conf, hold_ms)},
    {.name = "fail_permanently", .kind = JK_BOOL, JF_STORE(log_conf, fail_permanently)},
    {.name = "throttle_channel", .kind = JK_BOOL, JF_STORE(log_conf, throttle_channel)},
    {.name = "delay_ms", .kind = JK_INT, .max = 3600000, JF_STORE(log_conf, delay_ms)},
    {.name = "faults_from_redis", .kind = JK_BOOL, JF_STORE(log_conf, faults_from_redis)},
    {.name = "fanout", .kind = JK_INT, .max = 100000, JF_STORE(log_conf, fanout)},
    {.name = "fanout_networks", .kind = JK_BOOL, JF_STORE(log_conf, fanout_networks)},
    {.name = "fail_target",
     .kind = JK_STRING,
     .min = 1,
     .max = 63,
     JF_STORE(log_conf, fail_target)},
    {0}};
static const jobject log_shape = {.fields = log_fields};

/* ---- state --------------------------------------------------------------------- */

typedef struct log_send log_send;
typedef struct log_poll log_poll;

typedef struct log_state {
    adapter_env env;
    log_conf conf;
    char stream[160];
    char faults_key[160];
    FILE *file;
    TAILQ_HEAD(, log_send) sends; /* in flight, so cancel and destroy can answer them */
    TAILQ_HEAD(, log_poll) polls; /* the same for poll_insights */
} log_state;

/* One send in flight: what it will write, and where the answer goes. */
struct log_send {
    TAILQ_ENTRY(log_send) link;
    log_state *s;
    adapter_done_fn *done;
    adapter_plan_fn *plan_done; /* a plan rather than a send */
    json_t *targets;            /* the plan's answer, handed over by answer() */
    void *arg;
    struct event *timer; /* the pending step: a delay or a deferred answer */
    int waiting_redis;   /* a Redis reply will come back to this send */
    int cancelled;       /* answered already; the Redis reply only frees it */
    adapter_outcome outcome;
    char *line;
    char item_id[300], channel[32], campaign[65], release[65], target[64];
    int attempt;
    int maybe_sent;
};

static void *log_create(const adapter_env *env, const void *conf, char *err, size_t errlen)
{
    log_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->env = *env;
    if (conf)
        s->conf = *(const log_conf *)conf;
    TAILQ_INIT(&s->sends);
    TAILQ_INIT(&s->polls);
    snprintf(s->stream, sizeof s->stream, "%slog", env->engine_prefix ? env->engine_prefix : "");
    snprintf(s->faults_key, sizeof s->faults_key, "%slog:faults",
             env->engine_prefix ? env->engine_prefix : "");
    if (s->conf.file[0] && !env->offline) {
        s->file = fopen(s->conf.file, "a");
        if (!s->file) {
            snprintf(err, errlen, "file: cannot open \"%s\": %s", s->conf.file, strerror(errno));
            free(s);
            return NULL;
        }
    }
    return s;
}

static void polls_cancel(log_state *s);

/* ---- answering ------------------------------------------------------------------ */

static void log_send_free(log_send *ls)
{
    if (ls->timer)
        event_free(ls->timer);
    json_decref(ls->targets);
    free(ls->line);
    free(ls);
}

/* Calls done() once and forgets the send, unless a Redis reply is still
 * due to come back to it: then that reply frees it. */
static void answer(log_send *ls)
{
    TAILQ_REMOVE(&ls->s->sends, ls, link);
    if (ls->plan_done) {
        /* The targets are handed over; a cancelled plan has none. */
        json_t *targets = ls->outcome.status == ADAPTER_OK ? ls->targets : NULL;
        if (targets)
            ls->targets = NULL;
        ls->plan_done(targets, &ls->outcome, ls->arg);
    } else {
        ls->done(&ls->outcome, ls->arg);
    }
    if (ls->waiting_redis) {
        ls->cancelled = 1;
        return;
    }
    log_send_free(ls);
}

static void set_outcome(log_send *ls, adapter_status st, adapter_error e, const char *what,
                        const char *detail)
{
    ls->outcome.status = st;
    ls->outcome.error = e;
    snprintf(ls->outcome.reason, sizeof ls->outcome.reason, "%s: %s", what, detail);
}

static void timer_fired(evutil_socket_t fd, short what, void *arg);

/* Runs the send's next step after DELAY_MS, through the loop: done() never
 * runs inside send(). */
static int later(log_send *ls, long long delay_ms)
{
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
    if (!ls->timer)
        ls->timer = evtimer_new(ls->s->env.base, timer_fired, ls);
    return ls->timer ? evtimer_add(ls->timer, &tv) : -1;
}

static void stream_added(redisReply *reply, const char *error, void *arg)
{
    log_send *ls = arg;
    ls->waiting_redis = 0;
    if (ls->cancelled) {
        log_send_free(ls);
        return;
    }
    if (reply && reply->type == REDIS_REPLY_STRING) {
        ls->outcome.status = ADAPTER_OK;
        ls->outcome.accepted = 1;
        /* With the (possibly virtual) time of the send, from which
         * poll_insights derives its figures. */
        snprintf(ls->outcome.external_id, sizeof ls->outcome.external_id, "log:%s:%lld", reply->str,
                 (long long)clock_wall_ms());
    } else {
        set_outcome(ls, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "log stream",
                    reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                    : error                                   ? error
                                                              : "unexpected reply");
    }
    answer(ls);
}

/* Sends for real: the file line, then the stream entry. */
static void write_entry(log_send *ls)
{
    log_state *s = ls->s;
    char attempt[16], maybe[4];
    if (s->file) {
        fprintf(s->file, "%s\n", ls->line);
        fflush(s->file);
    }
    snprintf(attempt, sizeof attempt, "%d", ls->attempt);
    snprintf(maybe, sizeof maybe, "%d", ls->maybe_sent);
    const char *argv[] = {"XADD",     s->stream,    "MAXLEN",    "~",          LOG_STREAM_MAXLEN,
                          "*",        "item",       ls->item_id, "channel",    ls->channel,
                          "campaign", ls->campaign, "release",   ls->release,  "target",
                          ls->target, "attempt",    attempt,     "maybe_sent", maybe,
                          "payload",  ls->line};
    if (s->env.redis && rconn_command(s->env.redis, stream_added, ls,
                                      (int)(sizeof argv / sizeof argv[0]), argv, NULL) == 0) {
        ls->waiting_redis = 1;
        return;
    }
    set_outcome(ls, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "log stream", "redis unavailable");
    if (later(ls, 0) != 0)
        answer(ls);
}

/* A timer is either the configured delay (status still OK: go on and
 * write) or a deferred answer already decided. */
static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
    log_send *ls = arg;
    (void)fd;
    (void)what;
    if (ls->outcome.status == ADAPTER_OK && ls->line && !ls->plan_done)
        write_entry(ls);
    else
        answer(ls);
}

static void go(log_send *ls)
{
    if (ls->s->conf.delay_ms <= 0 || later(ls, ls->s->conf.delay_ms) != 0)
        write_entry(ls);
}

static void fault_injected(log_send *ls, int permanent, const char *what)
{
    const log_conf *c = &ls->s->conf;
    ls->outcome.retry_after_ms = c->retry_after_ms;
    ls->outcome.scope = c->throttle_channel ? ADAPTER_SCOPE_CHANNEL : ADAPTER_SCOPE_ITEM;
    ls->outcome.remote_code = permanent             ? 400
                              : c->throttle_channel ? 429
                              : c->fail_timeout     ? 0
                                                    : 503;
    set_outcome(ls, permanent ? ADAPTER_FAILED : ADAPTER_AGAIN,
                permanent             ? ADAPTER_ERR_REJECTED
                : c->throttle_channel ? ADAPTER_ERR_RATE_LIMIT
                : c->fail_timeout     ? ADAPTER_ERR_TIMEOUT
                                      : ADAPTER_ERR_NETWORK,
                "log adapter", what);
}

static void faults_read(redisReply *reply, const char *error, void *arg)
{
    log_send *ls = arg;
    (void)error;
    ls->waiting_redis = 0;
    if (ls->cancelled) {
        log_send_free(ls);
        return;
    }
    const char *fault = reply && reply->type == REDIS_REPLY_STRING ? reply->str : "";
    if (strcmp(fault, "retry") == 0 || strcmp(fault, "fail") == 0) {
        char what[96];
        snprintf(what, sizeof what, "%s switched on for %s",
                 fault[0] == 'r' ? "retries" : "failures", ls->channel);
        fault_injected(ls, fault[0] == 'f', what);
        answer(ls);
        return;
    }
    go(ls);
}

/* ---- the operations --------------------------------------------------------------- */

static json_t *log_render(void *state, const adapter_item *item, char *err, size_t errlen)
{
    (void)state;
    json_t *m = render_message(item);
    if (!m)
        snprintf(err, errlen, "out of memory");
    return m;
}

/* The log adapter has no limits of its own; it notes each language's
 * length so that `haechi validate` shows what a channel will carry.
 *
 * A section that names social networks is held to those networks' text
 * rules instead, for now: the channel's own adapter ("sns", which
 * channel_check runs beside whichever adapter the config routes the
 * channel to) is to call the same sns_text_check() from its validate.
 * Until it is registered the log adapter stands in for it, so that
 * `haechi validate` counts the posts today; once it is, the log adapter
 * steps aside and no error is reported twice. */
static int stands_in_for_sns(const json_t *section)
{
    return json_object_get(section, "networks") && !adapter_find("sns");
}

static void log_validate(const json_t *section, const json_t *campaign, const char *path,
                         diag_list *errs, diag_list *notes)
{
    if (stands_in_for_sns(section)) {
        sns_text_check(section, campaign, NULL, path, errs, notes);
        return;
    }
    const json_t *body = json_object_get(json_object_get(campaign, "message"), "body");
    const json_t *over = json_object_get(section, "text");
    char line[256] = "";
    size_t used = 0;
    const char *lang;
    json_t *v;
    json_object_foreach((json_t *)body, lang, v)
    {
        const json_t *t = json_object_get(over, lang) ? json_object_get(over, lang) : v;
        int n = snprintf(line + used, sizeof line - used, "%s%s %zu", used ? ", " : "", lang,
                         utf8_length(json_string_value(t) ? json_string_value(t) : ""));
        if (n < 0 || (size_t)n >= sizeof line - used)
            break;
        used += (size_t)n;
    }
    if (used)
        diag_add(notes, path, "length", "%s characters (log adapter: no limit)", line);
}

/* Batches b0001..bNNNN, or the section's networks; NULL: no fan-out. */
static json_t *plan_targets(const log_conf *c, const adapter_item *item)
{
    if (c->fanout_networks) {
        json_t *nets = json_object_get(json_object_get(item->campaign, item->channel), "networks");
        return json_is_array(nets) ? json_deep_copy(nets) : NULL;
    }
    if (c->fanout <= 0)
        return NULL;
    json_t *list = json_array();
    for (long long i = 1; list && i <= c->fanout; i++) {
        char name[24];
        snprintf(name, sizeof name, "b%04lld", i);
        json_array_append_new(list, json_string(name));
    }
    return list;
}

static haechi_status log_plan(void *state, const adapter_item *item, adapter_plan_fn *done,
                              void *arg)
{
    log_state *s = state;
    if (!s->conf.fanout_networks && s->conf.fanout <= 0)
        return HAECHI_DECLINED; /* no fan-out configured: sent as it is */
    log_send *ls = calloc(1, sizeof *ls);
    if (!ls)
        return HAECHI_ERR;
    ls->s = s;
    ls->plan_done = done;
    ls->arg = arg;
    ls->outcome.status = ADAPTER_OK;
    ls->targets = plan_targets(&s->conf, item);
    /* One recipient per batch: what a release's progress counts down from. */
    if (!s->conf.fanout_networks)
        ls->outcome.reach = s->conf.fanout;
    snprintf(ls->item_id, sizeof ls->item_id, "%s", item->item_id);
    if (later(ls, 0) != 0) {
        log_send_free(ls);
        return HAECHI_ERR;
    }
    TAILQ_INSERT_TAIL(&s->sends, ls, link);
    return HAECHI_OK;
}

static haechi_status log_send_item(void *state, const adapter_item *item, adapter_done_fn *done,
                                   void *arg)
{
    log_state *s = state;
    log_send *ls = calloc(1, sizeof *ls);
    if (!ls)
        return HAECHI_ERR;
    ls->s = s;
    ls->done = done;
    ls->arg = arg;
    ls->attempt = item->attempt;
    ls->maybe_sent = item->maybe_sent;
    snprintf(ls->item_id, sizeof ls->item_id, "%s", item->item_id);
    snprintf(ls->channel, sizeof ls->channel, "%s", item->channel);
    snprintf(ls->campaign, sizeof ls->campaign, "%s", item->campaign_id);
    snprintf(ls->release, sizeof ls->release, "%s", item->release_id);
    snprintf(ls->target, sizeof ls->target, "%s", item->target);

    /* A quota that frees hold_ms after the due time: measured from the due
     * time, not counted in attempts, since a hold uses none. */
    int64_t hold_left = s->conf.hold_ms > 0 ? item->due_ms + s->conf.hold_ms - clock_wall_ms() : 0;
    if (hold_left > 0) {
        ls->outcome.status = ADAPTER_AGAIN;
        ls->outcome.hold = 1;
        ls->outcome.retry_after_ms = hold_left;
        snprintf(ls->outcome.reason, sizeof ls->outcome.reason,
                 "log adapter: injected quota, frees in %lld ms", (long long)hold_left);
        if (later(ls, 0) != 0) {
            log_send_free(ls);
            return HAECHI_ERR;
        }
        TAILQ_INSERT_TAIL(&s->sends, ls, link);
        return HAECHI_OK;
    }
    int target_fails = s->conf.fail_target[0] && strcmp(s->conf.fail_target, item->target) == 0;
    if (s->conf.fail_permanently || target_fails || item->attempt <= s->conf.fail_attempts) {
        int permanent = s->conf.fail_permanently || target_fails;
        char what[96];
        if (target_fails)
            snprintf(what, sizeof what, "injected failure of target %s", item->target);
        else if (permanent)
            snprintf(what, sizeof what, "injected permanent failure");
        else
            snprintf(what, sizeof what, "injected failure of attempt %d", item->attempt);
        fault_injected(ls, permanent, what);
        if (later(ls, 0) != 0) {
            log_send_free(ls);
            return HAECHI_ERR;
        }
        TAILQ_INSERT_TAIL(&s->sends, ls, link);
        return HAECHI_OK;
    }
    /* Rendered now: the item is borrowed for this call only. */
    json_t *m = render_message(item);
    ls->line = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!ls->line) {
        log_send_free(ls);
        return HAECHI_ERR;
    }
    TAILQ_INSERT_TAIL(&s->sends, ls, link);
    if (s->conf.faults_from_redis && s->env.redis) {
        const char *argv[] = {"HGET", s->faults_key, ls->channel};
        if (rconn_command(s->env.redis, faults_read, ls, 3, argv, NULL) == 0) {
            ls->waiting_redis = 1;
            return HAECHI_OK;
        }
    }
    go(ls);
    return HAECHI_OK;
}

/* A send still waiting on its delay surely did not happen; one whose
 * stream entry is on its way may have. */
static void cancel_one(log_send *ls)
{
    if (ls->timer)
        evtimer_del(ls->timer);
    ls->outcome.status = ADAPTER_CANCELLED;
    ls->outcome.error = ls->waiting_redis ? ADAPTER_ERR_TIMEOUT : ADAPTER_ERR_NONE;
    snprintf(ls->outcome.reason, sizeof ls->outcome.reason, "log adapter: send cancelled%s",
             ls->waiting_redis ? " while it was being written" : " before it was written");
}

static void log_cancel(void *state, const char *item_id)
{
    log_state *s = state;
    log_send *ls;
    TAILQ_FOREACH(ls, &s->sends, link)
    {
        if (item_id && strcmp(ls->item_id, item_id) != 0)
            continue;
        cancel_one(ls);
        /* The answer goes through the loop, like every other. */
        if (later(ls, 0) != 0)
            ls->outcome.status = ADAPTER_CANCELLED;
    }
}

static void log_destroy(void *state)
{
    log_state *s = state;
    log_send *ls;
    if (!s)
        return;
    while ((ls = TAILQ_FIRST(&s->sends))) {
        cancel_one(ls);
        answer(ls);
    }
    polls_cancel(s);
    if (s->file)
        fclose(s->file);
    free(s);
}

/* ---- insights ------------------------------------------------------------------ */

struct log_poll {
    TAILQ_ENTRY(log_poll) link;
    log_state *s;
    struct event *timer;
    adapter_insights_fn *done;
    void *arg;
    adapter_insights fig;
    adapter_outcome outcome;
    int ok;
};

static void poll_done(log_poll *lp)
{
    TAILQ_REMOVE(&lp->s->polls, lp, link);
    lp->done(lp->ok ? &lp->fig : NULL, &lp->outcome, lp->arg);
    event_free(lp->timer);
    free(lp);
}

/* destroy(): every poll still in flight is answered first. */
static void polls_cancel(log_state *s)
{
    log_poll *lp;
    while ((lp = TAILQ_FIRST(&s->polls))) {
        lp->ok = 0;
        lp->outcome.status = ADAPTER_CANCELLED;
        snprintf(lp->outcome.reason, sizeof lp->outcome.reason, "log adapter: poll cancelled");
        poll_done(lp);
    }
}

static void poll_answer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    poll_done(arg);
}

/*
 * Figures that grow with the hours since the send, rounded, so that a test
 * on the virtual clock knows what each poll reports: per hour 100
 * impressions, 60 reached, 5 clicks; opens are not reported (-1), as on a
 * social network. The answer comes through the loop, like a send's.
 */
static haechi_status log_poll_insights(void *state, const char *target, const char *external_id,
                                       adapter_insights_fn *done, void *arg)
{
    log_state *s = state;
    const char *at = strrchr(external_id, ':');
    (void)target;
    log_poll *lp = calloc(1, sizeof *lp);
    if (!lp)
        return HAECHI_ERR;
    lp->s = s;
    lp->done = done;
    lp->arg = arg;
    char *end = NULL;
    long long sent = at ? strtoll(at + 1, &end, 10) : 0;
    if (strncmp(external_id, "log:", 4) != 0 || !at || !end || *end) {
        lp->outcome.status = ADAPTER_FAILED;
        lp->outcome.error = ADAPTER_ERR_INVALID;
        snprintf(lp->outcome.reason, sizeof lp->outcome.reason,
                 "log adapter: \"%.100s\" is not one of its ids", external_id);
    } else {
        long long hours = (clock_wall_ms() - sent + 1800000) / 3600000;
        lp->ok = 1;
        lp->outcome.status = ADAPTER_OK;
        lp->fig = (adapter_insights){
            .impressions = 100 * hours, .reach = 60 * hours, .clicks = 5 * hours, .opens = -1};
    }
    struct timeval tv = {0, 0};
    lp->timer = evtimer_new(s->env.base, poll_answer, lp);
    if (!lp->timer || evtimer_add(lp->timer, &tv) != 0) {
        if (lp->timer)
            event_free(lp->timer);
        free(lp);
        return HAECHI_ERR;
    }
    TAILQ_INSERT_TAIL(&s->polls, lp, link);
    return HAECHI_OK;
}

static const adapter_ops log_ops = {
    .create = log_create,
    .destroy = log_destroy,
    .validate = log_validate,
    .render = log_render,
    .plan = log_plan,
    .send = log_send_item,
    .cancel = log_cancel,
    .poll_insights = log_poll_insights,
};

const adapter_desc adapter_log = {
    .name = "log",
    .summary = "writes each payload to the stream PREFIX:{e}:log and a file; sends nothing",
    .flags = ADAPTER_FANOUT,
    .limits = {.max_inflight = 0},
    .config_shape = &log_shape,
    .config_size = sizeof(log_conf),
    .ops = &log_ops,
};

/* The same adapter with ADAPTER_INSIGHTS, so that a test can have its sends
 * polled without every channel on the log adapter queueing polls. */
const adapter_desc adapter_log_insights = {
    .name = "log-insights",
    .summary = "the log adapter, whose sent posts are polled for insights (deterministic "
               "figures)",
    .flags = ADAPTER_FANOUT | ADAPTER_INSIGHTS,
    .limits = {.max_inflight = 0},
    .config_shape = &log_shape,
    .config_size = sizeof(log_conf),
    .ops = &log_ops,
};
