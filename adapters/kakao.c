/*
 * kakao.c - KakaoTalk to an audience list through a BizMessage dealer
 * (kakao.h; the protocol and its sources are in docs/adapters.md, "kakao").
 *
 * plan() reads the list's version in force and cuts it into targets
 * "vV:FIRST", one per 1,000 positions. A send of one target is a chain on
 * post.h: the night block (an ad FriendTalk waits until 08:00 KST), the
 * batch's record of earlier answers (Redis), the batch's members still to send to
 * (audience_read_batch: the release's bitmaps and the status overlay
 * already applied), one POST of at most 1,000 recipients, and the marks of
 * what the dealer said per recipient (audience_mark). A retried batch reads
 * the bitmaps again, so it never sends to a member accepted before.
 *
 * Redis replies can come back after the send has ended (a cancel, a
 * destroy): each chain step's state lives in a kakao_call of its own,
 * freed by whichever of the two (the end, the reply) comes last.
 */
#include "kakao.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audience.h"
#include "clock.h"
#include "config.h"
#include "kakao_text.h"
#include "post.h"

#define SERVICE "kakao"
#define DEFAULT_URL "https://api-alimtalk.cloud.toast.com"
#define DEFAULT_NIGHT "20:50-08:00"
#define SEOUL "Asia/Seoul"
#define BATCH AUDIENCE_CHUNK

/* ---- config -------------------------------------------------------------------- */

static int check_night(jcheck_ctx *cx, json_t *v, const char *path)
{
    quiet_hours q;
    char why[128];
    if (kakao_night_parse(json_string_value(v), &q, why, sizeof why) == 0)
        return 0;
    jcheck_error(cx, path, "format", "%s", why);
    return -1;
}

static int check_digits(jcheck_ctx *cx, json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    if (s && strspn(s, "0123456789") == strlen(s))
        return 0;
    jcheck_error(cx, path, "format", "digits only, without '-' or spaces (e.g. \"0212345678\")");
    return -1;
}

static int check_optout(jcheck_ctx *cx, json_t *v, const char *path)
{
    const char *s = json_string_value(v);
    if (check_digits(cx, v, path) != 0)
        return -1;
    if (strncmp(s, "080", 3) == 0)
        return 0;
    jcheck_error(cx, path, "format",
                 "must be a free 080 number: the law's opt-out line is free to call");
    return -1;
}

static const char *const onoff[] = {"on", "off", NULL};
static const char *const resend_types[] = {"SMS", "LMS", NULL};
static const char *const actions[] = {"accepted", "retry", "permanent", "hold", NULL};

static const jfield resend_fields[] = {{.name = "type",
                                        .kind = JK_STRING,
                                        .required = 1,
                                        .choices = resend_types,
                                        .max = 3,
                                        JF_STORE(kakao_resend_conf, type)},
                                       {.name = "send_no",
                                        .kind = JK_STRING,
                                        .required = 1,
                                        .min = 8,
                                        .max = 15,
                                        .check = check_digits,
                                        JF_STORE(kakao_resend_conf, send_no)},
                                       {.name = "unsubscribe_no",
                                        .kind = JK_STRING,
                                        .min = 8,
                                        .max = 15,
                                        .check = check_optout,
                                        JF_STORE(kakao_resend_conf, unsubscribe_no)},
                                       {0}};
static const jobject resend_shape = {.fields = resend_fields};

#define CODE_FIELD(i, text)                                                                        \
    {                                                                                              \
        .name = text, .kind = JK_STRING, .choices = actions, .max = 11,                            \
        JF_STORE(kakao_overrides, code[i])                                                         \
    }

/* The names must follow kakao_override_codes[]: test_kakao checks it. */
static const jfield code_fields[] = {CODE_FIELD(0, "2003"),
                                     CODE_FIELD(1, "3018"),
                                     CODE_FIELD(2, "3019"),
                                     CODE_FIELD(3, "3008"),
                                     CODE_FIELD(4, "3022"),
                                     CODE_FIELD(5, "3005"),
                                     CODE_FIELD(6, "3000"),
                                     CODE_FIELD(7, "9999"),
                                     {.name = "other",
                                      .kind = JK_STRING,
                                      .choices = actions,
                                      .max = 11,
                                      JF_STORE(kakao_overrides, other)},
                                     {0}};
static const jobject code_shape = {.fields = code_fields};

static const jfield fields[] = {
    {.name = "url", .kind = JK_STRING, .min = 1, .max = 511, JF_STORE(kakao_conf, url)},
    {.name = "appkey", .kind = JK_STRING, .min = 1, .max = 127, JF_STORE(kakao_conf, appkey)},
    {.name = "secret_env",
     .kind = JK_STRING,
     .min = 1,
     .max = 127,
     JF_STORE(kakao_conf, secret_env)},
    {.name = "secret_file",
     .kind = JK_STRING,
     .min = 1,
     .max = 1023,
     JF_STORE(kakao_conf, secret_file)},
    {.name = "sender_key",
     .kind = JK_STRING,
     .min = 1,
     .max = 63,
     JF_STORE(kakao_conf, sender_key)},
    {.name = "night_block",
     .kind = JK_STRING,
     .min = 11,
     .max = 11,
     .check = check_night,
     JF_STORE(kakao_conf, night_block)},
    {.name = "resend", .kind = JK_OBJECT, .object = &resend_shape, JF_STORE(kakao_conf, resend)},
    {.name = "result_codes",
     .kind = JK_OBJECT,
     .object = &code_shape,
     JF_STORE(kakao_conf, result_codes)},
    {.name = "bitmap_days",
     .kind = JK_INT,
     .min = 1,
     .max = 366,
     JF_STORE(kakao_conf, bitmap_days)},
    {.name = "idempotency",
     .kind = JK_STRING,
     .choices = onoff,
     .max = 3,
     JF_STORE(kakao_conf, idempotency)},
    {.name = "recipient_attempts",
     .kind = JK_INT,
     .min = 1,
     .max = 100,
     JF_STORE(kakao_conf, recipient_attempts)},
    {0}};
const jobject kakao_conf_shape = {.fields = fields};

/* ---- state ------------------------------------------------------------------------- */

typedef struct kakao_state {
    kakao_conf conf;
    post_set set;
    rconn *redis;
    char key_prefix[128];
    char batch_prefix[192]; /* PREFIX:{e}:kakao:batch: + item id (after_marks) */
    quiet_hours night;
    const tz *seoul;
    char *secret;
    char secret_header[600];
    char secret_field[1200]; /* "secret_env NAME" for reasons: never the secret */
    kakao_resend resend;
} kakao_state;

/*
 * One plan or send. Its life ends when both the post has answered
 * (answered) and no Redis reply is due (redis_pending): a reply that comes
 * back to an ended call only frees it.
 */
typedef struct kakao_call {
    kakao_state *s;
    post *p;
    adapter_done_fn *done;
    adapter_plan_fn *plan_done;
    void *arg;
    int answered, redis_pending;
    json_t *targets; /* a plan's answer */
    /* a send */
    kakao_message msg;
    long long version, first;
    /* The batch's record of earlier answers: how many left recipients open
     * (the idempotency key's generation) and what they refused, by reason. */
    long long generation;
    int nearlier;
    adapter_reason_count earlier[ADAPTER_REASONS_MAX];
    char release[200];
    long long sent_before, failed_before, skipped;
    long long *positions; /* the request's recipients: tally.positions */
    char (*masked)[64];   /* what messages show of each: tally.masked */
    kakao_tally tally;    /* its accepted and failed arrays are the call's too */
    adapter_outcome outcome;
} kakao_call;

static void call_free(kakao_call *c)
{
    json_decref(c->targets);
    free(c->positions);
    free(c->masked);
    free(c->tally.accepted);
    free(c->tally.failed);
    free(c->tally.retry_idx);
    free(c);
}

/* The post has ended: answer the caller, then free unless Redis still owes a reply. */
static void call_answered(const adapter_outcome *o, void *arg)
{
    kakao_call *c = arg;
    c->answered = 1;
    c->p = NULL;
    if (c->plan_done) {
        json_t *targets = o->status == ADAPTER_OK ? c->targets : NULL;
        c->targets = NULL;
        c->plan_done(targets, o, c->arg);
    } else {
        c->done(o, c->arg);
    }
    if (!c->redis_pending)
        call_free(c);
}

/* A Redis reply came back: 0 to carry on, -1 when the call has ended (and is freed). */
static int call_back(kakao_call *c)
{
    c->redis_pending = 0;
    if (!c->answered)
        return 0;
    call_free(c);
    return -1;
}

static kakao_call *call_new(kakao_state *s, const adapter_item *item, adapter_done_fn *done,
                            adapter_plan_fn *plan_done, void *arg)
{
    kakao_call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->s = s;
    c->done = done;
    c->plan_done = plan_done;
    c->arg = arg;
    c->p = post_new(&s->set, item, call_answered, c, sizeof c);
    if (!c->p) {
        free(c);
        return NULL;
    }
    *(kakao_call **)post_data(c->p) = c;
    return c;
}

static kakao_call *call_of(post *p)
{
    return *(kakao_call **)post_data(p);
}

static void finish(kakao_call *c, adapter_status st, adapter_error e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish(kakao_call *c, adapter_status st, adapter_error e, const char *fmt, ...)
{
    adapter_outcome o = {.status = st, .error = e, .scope = ADAPTER_SCOPE_ITEM};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o.reason, sizeof o.reason, fmt, ap);
    va_end(ap);
    post_finish(c->p, &o);
}

static const json_t *section_of(const adapter_item *item)
{
    return json_object_get(item->campaign, item->channel);
}

static void *kk_create(const adapter_env *env, const void *conf, char *err, size_t errlen)
{
    kakao_state *s = calloc(1, sizeof *s);
    char why[256];
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (conf)
        s->conf = *(const kakao_conf *)conf;
    kakao_conf *c = &s->conf;
    if (!c->url[0])
        snprintf(c->url, sizeof c->url, "%s", DEFAULT_URL);
    if (!c->night_block[0])
        snprintf(c->night_block, sizeof c->night_block, "%s", DEFAULT_NIGHT);
    if (!c->bitmap_days)
        c->bitmap_days = 14;
    if (!c->idempotency[0])
        snprintf(c->idempotency, sizeof c->idempotency, "on");
    if (!c->recipient_attempts)
        /* Below the engine's 5 attempts: the batch ends with its counts,
         * rather than as a dead letter that counts nothing. */
        c->recipient_attempts = 4;
    if (kakao_night_parse(c->night_block, &s->night, why, sizeof why) != 0 ||
        !(s->seoul = tz_get(SEOUL, why, sizeof why))) {
        snprintf(err, errlen, "night_block: %s", why);
        free(s);
        return NULL;
    }
    if (c->resend.present)
        s->resend = (kakao_resend){.type = c->resend.type,
                                   .send_no = c->resend.send_no,
                                   .unsubscribe_no = c->resend.unsubscribe_no};
    s->redis = env->redis;
    snprintf(s->key_prefix, sizeof s->key_prefix, "%s", env->key_prefix ? env->key_prefix : "");
    snprintf(s->batch_prefix, sizeof s->batch_prefix,
             "%skakao:batch:", env->engine_prefix ? env->engine_prefix : "");
    snprintf(s->secret_field, sizeof s->secret_field, "%s %s",
             c->secret_env[0] ? "secret_env" : "secret_file",
             c->secret_env[0] ? c->secret_env : c->secret_file);
    post_set_init(&s->set, env);
    if (env->offline)
        return s;
    const char *missing = !c->appkey[0]                             ? "appkey"
                          : !c->sender_key[0]                       ? "sender_key"
                          : !c->secret_env[0] && !c->secret_file[0] ? "secret_env or secret_file"
                                                                    : NULL;
    if (missing) {
        snprintf(err, errlen, "%s: required to send through the dealer", missing);
        free(s);
        return NULL;
    }
    s->secret = config_secret(c->secret_env[0] ? c->secret_env : NULL,
                              c->secret_file[0] ? c->secret_file : NULL, why, sizeof why);
    if (!s->secret) {
        snprintf(err, errlen, "%s: %s", c->secret_env[0] ? "secret_env" : "secret_file", why);
        free(s);
        return NULL;
    }
    snprintf(s->secret_header, sizeof s->secret_header, "X-Secret-Key: %s", s->secret);
    return s;
}

static void kk_destroy(void *state)
{
    kakao_state *s = state;
    if (!s)
        return;
    post_set_close(&s->set);
    if (s->secret) {
        memset(s->secret, 0, strlen(s->secret));
        free(s->secret);
    }
    memset(s->secret_header, 0, sizeof s->secret_header);
    free(s);
}

static void kk_cancel(void *state, const char *item_id)
{
    post_set_cancel(&((kakao_state *)state)->set, item_id);
}

static void hold_until(kakao_call *c, int64_t until_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hold_until(kakao_call *c, int64_t until_ms, const char *fmt, ...)
{
    adapter_outcome *o = &c->outcome;
    va_list ap;
    int64_t wait = until_ms - clock_wall_ms();
    o->status = ADAPTER_AGAIN;
    o->error = ADAPTER_ERR_NONE;
    o->scope = ADAPTER_SCOPE_ITEM;
    o->hold = 1;
    o->retry_after_ms = wait > 1000 ? wait : 1000;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof o->reason, fmt, ap);
    va_end(ap);
    post_finish(c->p, o);
}

/* "08:00": the block's end, for reasons. */
static void night_end_text(const quiet_hours *q, char *out, size_t len)
{
    snprintf(out, len, "%02d:%02d", q->end_min / 60, q->end_min % 60);
}

/*
 * Kakao refuses an advertising FriendTalk from 20:50 to 08:00 KST: one due
 * then is held until the block ends, with the reason, before anything is
 * read or sent. Checked at the plan (the release is held as a whole) and
 * again at each batch (a batch that comes due inside the block). Returns 1
 * when C was answered so.
 */
static int held_for_night(kakao_call *c)
{
    kakao_state *s = c->s;
    int64_t until;
    if (c->msg.alimtalk || !c->msg.ad ||
        !kakao_night_hold(&s->night, s->seoul, clock_wall_ms(), &until))
        return 0;
    char end[16];
    night_end_text(&s->night, end, sizeof end);
    hold_until(c, until, "Kakao blocks advertising messages %s KST; waits until %s",
               s->conf.night_block, end);
    return 1;
}

/* ---- plan ------------------------------------------------------------------------------ */

static const char *IMPORT_HINT = "haechi audience import";

/* The member_fields the list lacks, ", "-joined into OUT; 0 when none. */
static int missing_columns(const json_t *member_fields, const json_t *columns, char *out,
                           size_t len)
{
    size_t i, k, used = 0;
    json_t *f, *col;
    int missing = 0;
    out[0] = '\0';
    json_array_foreach((json_t *)member_fields, i, f)
    {
        const char *name = json_string_value(f);
        int found = name && strcmp(name, "name") == 0; /* every list has a name column */
        json_array_foreach((json_t *)columns, k, col) found |=
            name && json_is_string(col) && strcmp(json_string_value(col), name) == 0;
        if (found)
            continue;
        int n =
            snprintf(out + used, len - used, "%s\"%s\"", missing ? ", " : "", name ? name : "?");
        if (n > 0 && (size_t)n < len - used)
            used += (size_t)n;
        missing++;
    }
    return missing;
}

static void info_read(const audience_info *info, const char *error, void *arg)
{
    kakao_call *c = arg;
    if (call_back(c) != 0)
        return;
    const char *list = c->msg.list;
    char cols[300];
    if (error || !info) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "kakao: could not read list \"%s\": %s", list,
               error ? error : "no answer");
        return;
    }
    if (!info->found || info->version <= 0) {
        finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID,
               "kakao: list \"%s\" has no members yet: import it with `%s %s FILE.csv`", list,
               IMPORT_HINT, list);
        return;
    }
    if (info->kind != AUDIENCE_PHONE) {
        finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID,
               "kakao: list \"%s\" holds e-mail addresses; KakaoTalk sends to phone numbers "
               "(import a list with a phone column)",
               list);
        return;
    }
    int nmiss = missing_columns(c->msg.member_fields, info->fields, cols, sizeof cols);
    if (nmiss) {
        finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID,
               "kakao: member_fields %s %s not %s of list \"%s\"", cols, nmiss > 1 ? "are" : "is",
               nmiss > 1 ? "columns" : "a column", list);
        return;
    }
    long long active = info->counts[AUDIENCE_ACTIVE];
    json_t *targets = json_array();
    for (long long first = 0; targets && active > 0 && first < info->members; first += BATCH) {
        char t[64];
        kakao_target_format(info->version, first, t, sizeof t);
        json_array_append_new(targets, json_string(t));
    }
    if (!targets) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, "kakao: out of memory");
        return;
    }
    c->targets = targets;
    adapter_outcome o = {.status = ADAPTER_OK, .reach = active};
    snprintf(o.reason, sizeof o.reason, "list %s v%lld: %lld active of %lld members, %zu batches",
             list, info->version, active, info->members, json_array_size(targets));
    post_finish(c->p, &o);
}

static haechi_status kk_plan(void *state, const adapter_item *item, adapter_plan_fn *done,
                             void *arg)
{
    kakao_state *s = state;
    if (!s->redis)
        return HAECHI_ERR; /* nothing to read the list from: the caller retries */
    kakao_call *c = call_new(s, item, NULL, done, arg);
    if (!c)
        return HAECHI_ERR;
    kakao_message_read(item->campaign, section_of(item), &c->msg);
    if (!c->msg.list) {
        finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID,
               "kakao: the campaign's kakao section names no list: set kakao.list to a list made "
               "with `%s LIST FILE.csv`",
               IMPORT_HINT);
        return HAECHI_OK;
    }
    if (held_for_night(c))
        return HAECHI_OK;
    int rc = audience_get_info(s->redis, s->key_prefix, c->msg.list, info_read, c);
    if (rc != 0) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "kakao: Redis: %s",
               rconn_refusal(s->redis, rc));
        return HAECHI_OK;
    }
    c->redis_pending = 1;
    return HAECHI_OK;
}

/* ---- send: the batch's steps ---------------------------------------------------------- */

/* The batch's outcome, once what the dealer said is marked. */
static void settle(kakao_call *c)
{
    kakao_state *s = c->s;
    char end[16];
    if (!kakao_tally_settle(&c->tally, c->sent_before, c->failed_before, c->skipped, c->earlier,
                            c->nearlier, &c->outcome)) {
        post_finish(c->p, &c->outcome);
        return;
    }
    night_end_text(&s->night, end, sizeof end);
    hold_until(c, kakao_night_end_after(&s->night, s->seoul, clock_wall_ms()),
               "kakao: %d of %d recipients held: Kakao blocks advertising messages %s KST "
               "(night-block); waits until %s",
               c->tally.nhold, c->tally.n, s->conf.night_block, end);
}

static void record_written(redisReply *reply, const char *error, void *arg)
{
    kakao_call *c = arg;
    (void)reply;
    (void)error; /* a lost record only risks -1005 on a quick retry and "refused-earlier" */
    if (call_back(c) != 0)
        return;
    settle(c);
}

static void ignore_reply(redisReply *reply, const char *error, void *arg)
{
    (void)reply;
    (void)error;
    (void)arg; /* the EXPIRE after it answers for both */
}

/* The earlier refusals plus this attempt's (the outcome's reasons), by code. */
static int merged_reasons(const kakao_call *c, adapter_reason_count *out)
{
    adapter_outcome sum = {0};
    for (int i = 0; i < c->nearlier; i++)
        adapter_outcome_count_reason(&sum, c->earlier[i].code, c->earlier[i].n);
    for (int i = 0; i < c->outcome.nreasons; i++)
        adapter_outcome_count_reason(&sum, c->outcome.reasons[i].code, c->outcome.reasons[i].n);
    memcpy(out, sum.reasons, sizeof sum.reasons);
    return sum.nreasons;
}

/*
 * Recipients left open get a new idempotency key next time (the dealer
 * took this request, and would answer the same key with -1005), and the
 * refusals of this attempt are kept for the batch's final counts: the
 * fail bitmap says who, not why. PREFIX:{e}:kakao:batch:ITEM is a hash
 * {gen, r:REASON: n} with the bitmaps' TTL.
 */
static void after_marks(kakao_call *c)
{
    kakao_state *s = c->s;
    if (!c->tally.nretry && !c->tally.nhold) {
        settle(c);
        return;
    }
    adapter_reason_count all[ADAPTER_REASONS_MAX];
    int n = merged_reasons(c, all);
    char key[600], gen[32], ttl[32];
    char names[ADAPTER_REASONS_MAX][48], counts[ADAPTER_REASONS_MAX][24];
    const char *argv[4 + 2 * ADAPTER_REASONS_MAX] = {"HSET", key, "gen", gen};
    int argc = 4;
    snprintf(key, sizeof key, "%s%s", s->batch_prefix, post_item(c->p)->item_id);
    snprintf(gen, sizeof gen, "%lld", c->generation + 1);
    snprintf(ttl, sizeof ttl, "%lld", s->conf.bitmap_days * 86400);
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "r:%.31s", all[i].code);
        snprintf(counts[i], sizeof counts[i], "%lld", all[i].n);
        argv[argc++] = names[i];
        argv[argc++] = counts[i];
    }
    const char *expire[] = {"EXPIRE", key, ttl};
    if (rconn_command(s->redis, ignore_reply, NULL, argc, argv, NULL) != 0 ||
        rconn_command(s->redis, record_written, c, 3, expire, NULL) != 0) {
        settle(c);
        return;
    }
    c->redis_pending = 1;
}

static void marked(const char *error, void *arg)
{
    kakao_call *c = arg;
    if (call_back(c) != 0)
        return;
    if (error) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK,
               "kakao: the dealer answered, but the marks were not written (%.120s): the retry "
               "sends the same idempotency key",
               error);
        return;
    }
    after_marks(c);
}

static void write_marks(kakao_call *c)
{
    kakao_state *s = c->s;
    if (c->tally.na + c->tally.nf == 0) {
        after_marks(c);
        return;
    }
    int rc = audience_mark(s->redis, s->key_prefix, c->msg.list, c->release, c->tally.accepted,
                           c->tally.na, c->tally.failed, c->tally.nf, s->conf.bitmap_days * 86400,
                           marked, c);
    if (rc != 0) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK,
               "kakao: the dealer answered, but Redis refused the marks (%s): the retry sends the "
               "same idempotency key",
               rconn_refusal(s->redis, rc));
        return;
    }
    c->redis_pending = 1;
}

static void answered(post *p, const outbound_response *r)
{
    kakao_call *c = call_of(p);
    kakao_state *s = c->s;
    long long wait = r->status == 429 ? outbound_delay_ms(r, NULL, post_now_ms()) : -1;
    kakao_answer a = kakao_answer_read(r->status, r->body, r->body_len, wait, &s->conf.result_codes,
                                       s->secret_field, &c->tally, &c->outcome);
    if (a == KAKAO_ANSWER_FINAL) {
        post_finish(p, &c->outcome);
        return;
    }
    int attempt = post_item(p)->attempt;
    if (a == KAKAO_ANSWER_RESULTS && c->tally.nretry && attempt >= s->conf.recipient_attempts)
        kakao_tally_give_up(&c->tally, attempt, &c->outcome);
    if (a == KAKAO_ANSWER_DUPLICATE)
        snprintf(c->outcome.reason, sizeof c->outcome.reason,
                 "kakao: the dealer had taken this batch already (-1005, same idempotency key): "
                 "its %d recipients are marked sent",
                 c->tally.n);
    snprintf(c->outcome.external_id, sizeof c->outcome.external_id, "%s", c->tally.request_id);
    write_marks(c);
}

static int post_batch(kakao_call *c, json_t *recipients)
{
    kakao_state *s = c->s;
    char idem[65], idem_header[100], url[1200], group[KAKAO_GROUPING_KEY_MAX + 1];
    /* Cut to what the dealer takes: the release key's head names the campaign. */
    size_t glen =
        strlen(c->release) < KAKAO_GROUPING_KEY_MAX ? strlen(c->release) : KAKAO_GROUPING_KEY_MAX;
    memcpy(group, c->release, glen);
    group[glen] = '\0';
    json_t *body = kakao_request(&c->msg, s->conf.sender_key, group, recipients);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return -1;
    kakao_idempotency_key(post_item(c->p)->item_id, c->generation, c->positions, c->tally.n, idem);
    snprintf(idem_header, sizeof idem_header, "X-NC-API-IDEMPOTENCY-KEY: %s", idem);
    snprintf(url, sizeof url, "%s%s%s/messages", s->conf.url, kakao_route(&c->msg), s->conf.appkey);
    const char *headers[] = {"Content-Type: application/json;charset=UTF-8", s->secret_header,
                             strcmp(s->conf.idempotency, "off") && idem[0] ? idem_header : NULL,
                             NULL};
    outbound_request rq = {
        .method = "POST", .url = url, .headers = headers, .body = text, .body_len = strlen(text)};
    post_request(c->p, &rq, answered); /* a failure to start has answered already */
    free(text);
    return 0;
}

static int batch_arrays(kakao_call *c, int n)
{
    size_t k = (size_t)(n > 0 ? n : 1);
    c->positions = calloc(k, sizeof *c->positions);
    c->masked = calloc(k, sizeof *c->masked);
    c->tally.accepted = calloc(k, sizeof *c->tally.accepted);
    c->tally.failed = calloc(k, sizeof *c->tally.failed);
    c->tally.retry_idx = calloc(k, sizeof *c->tally.retry_idx);
    c->tally.positions = c->positions;
    c->tally.masked = (const char(*)[64])c->masked;
    return c->positions && c->masked && c->tally.accepted && c->tally.failed && c->tally.retry_idx
               ? 0
               : -1;
}

static void batch_read(const audience_batch *b, const char *error, void *arg)
{
    kakao_call *c = arg;
    kakao_state *s = c->s;
    if (call_back(c) != 0)
        return;
    if (error || !b) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "kakao: list \"%s\": %s", c->msg.list,
               error ? error : "no answer");
        return;
    }
    if (b->version_gone) {
        finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID,
               "kakao: version %lld of list \"%s\" is gone (a newer import replaced it and the "
               "old one expired): this batch cannot be read",
               c->version, c->msg.list);
        return;
    }
    c->sent_before = b->sent_before;
    c->failed_before = b->failed_before;
    c->skipped = b->skipped;
    if (batch_arrays(c, b->n) != 0) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, "kakao: out of memory");
        return;
    }
    json_t *recipients = json_array();
    for (int i = 0; recipients && i < b->n; i++) {
        const json_t *member = json_array_get(b->members, (size_t)i);
        const char *id = json_string_value(json_array_get(member, 0));
        char number[32], err[256], masked[64];
        audience_mask(id ? id : "", masked, sizeof masked);
        if (!id || audience_phone_domestic(id, number, sizeof number) != 0) {
            c->tally.failed[c->tally.nf++] = b->position[i];
            adapter_outcome_count_reason(&c->outcome, "invalid-number", 1);
            adapter_outcome_fail_recipient(&c->outcome, masked,
                                           "invalid-number: not a Korean mobile number");
            continue;
        }
        json_t *one = kakao_recipient(&c->msg, &s->resend, number, member, b->fields,
                                      b->position[i], err, sizeof err);
        if (!one) {
            json_decref(recipients);
            finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID, "kakao: %s", err);
            return;
        }
        json_array_append_new(recipients, one);
        c->positions[c->tally.n] = b->position[i];
        snprintf(c->masked[c->tally.n], sizeof c->masked[c->tally.n], "%s", masked);
        c->tally.n++;
    }
    if (!recipients) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, "kakao: out of memory");
        return;
    }
    if (c->tally.n == 0) {
        json_decref(recipients);
        if (b->n == 0)
            snprintf(c->outcome.reason, sizeof c->outcome.reason,
                     "kakao: nothing left to send in this batch (%lld sent, %lld refused, %lld "
                     "skipped)",
                     c->sent_before, c->failed_before, c->skipped);
        write_marks(c);
        return;
    }
    if (post_batch(c, recipients) != 0)
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, "kakao: out of memory");
}

/* The batch's record (HGETALL): its generation and earlier refusals. */
static void read_record(kakao_call *c, const redisReply *reply)
{
    c->generation = 0;
    c->nearlier = 0;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2) {
        const redisReply *f = reply->element[i], *v = reply->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        long long n = strtoll(v->str, NULL, 10);
        if (strcmp(f->str, "gen") == 0) {
            c->generation = n;
        } else if (strncmp(f->str, "r:", 2) == 0 && c->nearlier < ADAPTER_REASONS_MAX && n > 0) {
            adapter_reason_count *e = &c->earlier[c->nearlier++];
            snprintf(e->code, sizeof e->code, "%s", f->str + 2);
            e->n = n;
        }
    }
}

static void record_read(redisReply *reply, const char *error, void *arg)
{
    kakao_call *c = arg;
    kakao_state *s = c->s;
    if (call_back(c) != 0)
        return;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "kakao: Redis: %s",
               reply   ? reply->str
               : error ? error
                       : "no answer");
        return;
    }
    read_record(c, reply);
    int rc = audience_read_batch(s->redis, s->key_prefix, c->msg.list, c->version, c->first, BATCH,
                                 c->release, batch_read, c);
    if (rc != 0) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "kakao: Redis: %s",
               rconn_refusal(s->redis, rc));
        return;
    }
    c->redis_pending = 1;
}

static void send_start(post *p)
{
    kakao_call *c = call_of(p);
    kakao_state *s = c->s;
    const adapter_item *item = post_item(p);
    kakao_message_read(item->campaign, section_of(item), &c->msg);
    if (!c->msg.list) {
        finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID,
               "kakao: the campaign's kakao section names no list: set kakao.list to a list made "
               "with `%s LIST FILE.csv`",
               IMPORT_HINT);
        return;
    }
    if (kakao_target_parse(item->target, &c->version, &c->first) != 0) {
        finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID,
               "kakao: target \"%.64s\" is not a batch of a list (vVERSION:FIRST, made by plan)",
               item->target);
        return;
    }
    if (held_for_night(c))
        return;
    if (c->msg.fallback && c->msg.ad && s->resend.type && !s->resend.unsubscribe_no[0]) {
        finish(c, ADAPTER_FAILED, ADAPTER_ERR_INVALID,
               "kakao: resend.unsubscribe_no: an ad's SMS/LMS fallback must carry the 080 "
               "opt-out number; set it in the config or set fallback false");
        return;
    }
    if (!s->redis) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK,
               "kakao: no Redis connection to read the list from");
        return;
    }
    kakao_release_key(item->campaign_id, item->release_id, item->due_ms, c->release,
                      sizeof c->release);
    char key[600];
    snprintf(key, sizeof key, "%s%s", s->batch_prefix, item->item_id);
    const char *argv[] = {"HGETALL", key};
    int rc = rconn_command(s->redis, record_read, c, 2, argv, NULL);
    if (rc != 0) {
        finish(c, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "kakao: Redis: %s",
               rconn_refusal(s->redis, rc));
        return;
    }
    c->redis_pending = 1;
}

static haechi_status kk_send(void *state, const adapter_item *item, adapter_done_fn *done,
                             void *arg)
{
    kakao_call *c = call_new(state, item, done, NULL, arg);
    if (!c)
        return HAECHI_ERR;
    /* From the loop: a send cancelled before its turn surely sent nothing. */
    post_after(c->p, 0, send_start); /* a failure to arm has answered already */
    return HAECHI_OK;
}

/* ---- render, validate --------------------------------------------------------------------- */

static json_t *kk_render(void *state, const adapter_item *item, char *err, size_t errlen)
{
    kakao_state *s = state;
    kakao_message m;
    char rkey[200], path[700];
    kakao_message_read(item->campaign, section_of(item), &m);
    json_t *one = kakao_recipient(&m, &s->resend, "01000000000", NULL, NULL, 0, err, errlen);
    if (!one)
        return NULL;
    kakao_release_key(item->campaign_id, item->release_id, item->due_ms, rkey, sizeof rkey);
    rkey[KAKAO_GROUPING_KEY_MAX] = '\0';
    json_t *body = kakao_request(&m, s->conf.sender_key[0] ? s->conf.sender_key : "(sender_key)",
                                 rkey, json_pack("[o]", one));
    snprintf(path, sizeof path, "%s%s/messages", kakao_route(&m),
             s->conf.appkey[0] ? s->conf.appkey : "{appkey}");
    json_t *out = body ? json_pack("{s:s,s:s,s:s,s:s,s:o,s:{s:o,s:i}}", "channel", SERVICE,
                                   "method", "POST", "path", path, "idempotency_key",
                                   strcmp(s->conf.idempotency, "off") ? "per batch" : "off", "body",
                                   body, "counts", "list",
                                   m.list ? json_string(m.list) : json_null(), "batch_max", BATCH)
                       : NULL;
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
}

/* Only the kakao section of a campaign has a list and a type: another
 * channel's section has nothing of this adapter's to check (the contract
 * suite runs every adapter over every section of the example), and its
 * sends fail for want of a list. */
static void kk_validate(const json_t *section, const json_t *doc, const char *path, diag_list *errs,
                        diag_list *notes)
{
    const char *slash = strrchr(path, '/');
    if (strcmp(slash ? slash + 1 : path, SERVICE) != 0)
        return;
    kakao_validate(section, doc, path, errs, notes);
}

static const adapter_ops ops = {
    .create = kk_create,
    .destroy = kk_destroy,
    .validate = kk_validate,
    .render = kk_render,
    .plan = kk_plan,
    .send = kk_send,
    .cancel = kk_cancel,
};

const adapter_desc adapter_kakao = {
    .name = SERVICE,
    .summary = "KakaoTalk AlimTalk and FriendTalk to an audience list, through a BizMessage "
               "dealer (NHN Cloud v2.2-style API)",
    .flags = ADAPTER_FANOUT,
    /* Eight requests at a time: as many as the outbound client opens to
     * one host by default, so that a release's bodies (up to some MB each:
     * the text goes once per recipient) are built only as fast as they can
     * go out, and memory stays bounded whatever worker_concurrency is. */
    .limits = {.batch_max = BATCH, .max_inflight = 8},
    .config_shape = &kakao_conf_shape,
    .config_size = sizeof(kakao_conf),
    .ops = &ops,
};
