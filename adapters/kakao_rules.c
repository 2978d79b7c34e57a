/*
 * kakao_rules.c - the dealer's codes, the night block, batch keys
 * (kakao_rules.h). The codes follow NHN Cloud's AlimTalk/FriendTalk error
 * code list (github.com/ohata-toast/Alimtalk, en/error-code.md); every
 * per-recipient code and the header codes marked [U] are assumptions the
 * config can remap (docs/adapters.md, "kakao").
 */
#include "kakao_rules.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- per-recipient codes ---------------------------------------------------- */

static const char *const action_names[KAKAO_ACTION_COUNT] = {"accepted", "retry", "permanent",
                                                             "hold"};

const char *kakao_action_name(kakao_action a)
{
    return a < KAKAO_ACTION_COUNT ? action_names[a] : "?";
}

int kakao_action_parse(const char *name)
{
    for (int i = 0; name && i < KAKAO_ACTION_COUNT; i++)
        if (strcmp(name, action_names[i]) == 0)
            return i;
    return -1;
}

typedef struct recipient_rule {
    int code;
    kakao_action action;
    const char *reason;
    const char *meaning;
} recipient_rule;

/* Kakao's delivery codes as dealers pass them on [U]; 0 is not in the
 * table: it is the one code that always means accepted. */
static const recipient_rule recipient_rules[KAKAO_CODES_N] = {
    {2003, KAKAO_PERMANENT, "not-friend", "not a friend of the channel (FriendTalk)"},
    {3018, KAKAO_PERMANENT, "blocked", "cannot be sent: the user blocked the channel or messages"},
    {3019, KAKAO_PERMANENT, "not-talk-user", "not a KakaoTalk user"},
    {3008, KAKAO_PERMANENT, "invalid-number", "invalid phone number"},
    {3022, KAKAO_HOLD, "night-block", "not a sendable time (an ad message at night)"},
    {3005, KAKAO_RETRY, "dealer-error", "delivery not acknowledged"},
    {3000, KAKAO_RETRY, "dealer-error", "error on the dealer's side"},
    {9999, KAKAO_RETRY, "dealer-error", "error on the dealer's side"},
};

const int kakao_override_codes[KAKAO_CODES_N] = {2003, 3018, 3019, 3008, 3022, 3005, 3000, 9999};

static void set_reason_code(kakao_verdict *out, const char *reason)
{
    snprintf(out->reason, sizeof out->reason, "%s", reason);
}

void kakao_recipient_verdict(const kakao_overrides *ov, int code, kakao_verdict *out)
{
    memset(out, 0, sizeof *out);
    if (code == 0) {
        out->action = KAKAO_ACCEPTED;
        out->meaning = "accepted";
        return;
    }
    for (int i = 0; i < KAKAO_CODES_N; i++) {
        const recipient_rule *r = &recipient_rules[i];
        if (r->code != code)
            continue;
        int over = ov && ov->present ? kakao_action_parse(ov->code[i]) : -1;
        out->action = over >= 0 ? (kakao_action)over : r->action;
        out->meaning = r->meaning;
        set_reason_code(out, r->reason);
        return;
    }
    /* A code nobody listed: refused for good unless the config says
     * otherwise, so that an unknown answer never sends twice. */
    int over = ov && ov->present ? kakao_action_parse(ov->other) : -1;
    out->action = over >= 0 ? (kakao_action)over : KAKAO_PERMANENT;
    out->meaning = "a result code the adapter does not know";
    snprintf(out->reason, sizeof out->reason, "code-%d", code);
}

/* ---- header codes ------------------------------------------------------------ */

typedef struct header_rule {
    int code;
    adapter_error error;
    const char *meaning;
    const char *fix; /* what the operator does; NULL: nothing to add */
} header_rule;

static const header_rule header_rules[] = {
    {-1006, ADAPTER_ERR_REJECTED, "the sender profile has no sender key",
     "check sender_key in the config"},
    {-1027, ADAPTER_ERR_REJECTED, "the sender profile is blocked",
     "ask the dealer why the channel's profile is blocked"},
    {-1020, ADAPTER_ERR_INVALID, "template not found", "check the campaign's kakao.template_code"},
    {-1021, ADAPTER_ERR_INVALID, "template parameter missing",
     "add the placeholder to kakao.variables or kakao.member_fields"},
    {-2000, ADAPTER_ERR_INVALID, "a field is too long or too short", NULL},
    {-2001, ADAPTER_ERR_INVALID, "a field is blank", NULL},
    {-2002, ADAPTER_ERR_INVALID, "a field is null", NULL},
    {-2003, ADAPTER_ERR_INVALID, "a field is out of range", NULL},
    {-2004, ADAPTER_ERR_INVALID, "a field is out of range (e.g. over 1,000 recipients)", NULL},
    {-2005, ADAPTER_ERR_INVALID, "a field is invalid", NULL},
    {-2017, ADAPTER_ERR_REJECTED, "unknown sender profile", "check sender_key in the config"},
    {-2018, ADAPTER_ERR_INVALID, "a button is invalid", "check the campaign's kakao.buttons"},
    {-3000, ADAPTER_ERR_INVALID, "a WL button has no mobile link (linkMo)",
     "check the campaign's kakao.buttons"},
    {0, ADAPTER_ERR_NONE, NULL, NULL},
};

static void failed(adapter_outcome *o, adapter_error e, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void failed(adapter_outcome *o, adapter_error e, int code, const char *fmt, ...)
{
    va_list ap;
    memset(o, 0, sizeof *o);
    o->status = ADAPTER_FAILED;
    o->error = e;
    o->remote_code = code;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof o->reason, fmt, ap);
    va_end(ap);
}

kakao_header_kind kakao_header_verdict(int code, const char *msg, const char *secret_field,
                                       adapter_outcome *o)
{
    const char *m = msg ? msg : "";
    if (code == 0)
        return KAKAO_HEADER_OK;
    if (code == -1005)
        return KAKAO_HEADER_DUPLICATE;
    if (code == -1000) {
        failed(o, ADAPTER_ERR_AUTH, code,
               "kakao: the dealer refused the app key (%d %.80s): check appkey in the config", code,
               m);
        return KAKAO_HEADER_FAILED;
    }
    if (code == -1001) {
        failed(o, ADAPTER_ERR_AUTH, code,
               "kakao: the dealer refused the secret key (%d %.80s): check %.100s", code, m,
               secret_field && *secret_field ? secret_field : "secret_env or secret_file");
        return KAKAO_HEADER_FAILED;
    }
    for (const header_rule *r = header_rules; r->meaning; r++) {
        if (r->code != code)
            continue;
        if (r->fix)
            failed(o, r->error, code, "kakao: %s (dealer %d %.80s): %s", r->meaning, code, m,
                   r->fix);
        else
            failed(o, r->error, code, "kakao: %s (dealer %d %.80s)", r->meaning, code, m);
        return KAKAO_HEADER_FAILED;
    }
    failed(o, ADAPTER_ERR_REJECTED, code, "kakao: the dealer refused the request (dealer %d %.80s)",
           code, m);
    return KAKAO_HEADER_FAILED;
}

/* ---- an answer ---------------------------------------------------------------- */

#define RATE_WAIT_MS 1000 /* a 429 without Retry-After */

static void again(adapter_outcome *o, adapter_error e, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void again(adapter_outcome *o, adapter_error e, int code, const char *fmt, ...)
{
    va_list ap;
    memset(o, 0, sizeof *o);
    o->status = ADAPTER_AGAIN;
    o->error = e;
    o->scope = ADAPTER_SCOPE_ITEM;
    o->remote_code = code;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof o->reason, fmt, ap);
    va_end(ap);
}

/* The index in the request of a sendResults entry, or -1: by its
 * recipientGroupingKey (the position we sent), else its recipientSeq. */
static int result_index(const kakao_tally *t, const json_t *res)
{
    const char *gk = json_string_value(json_object_get(res, "recipientGroupingKey"));
    json_t *seq = json_object_get(res, "recipientSeq");
    long long s = json_is_integer(seq) ? (long long)json_integer_value(seq) : 0;
    char *end = NULL;
    long long pos = gk && *gk ? strtoll(gk, &end, 10) : -1;
    if (gk && *gk && end && !*end) {
        if (s >= 1 && s <= t->n && t->positions[s - 1] == pos)
            return (int)(s - 1);
        for (int i = 0; i < t->n; i++)
            if (t->positions[i] == pos)
                return i;
        return -1;
    }
    return s >= 1 && s <= t->n ? (int)(s - 1) : -1;
}

static void tally_one(kakao_tally *t, int idx, const json_t *res, const kakao_overrides *ov,
                      adapter_outcome *o)
{
    kakao_verdict v;
    int code = (int)json_integer_value(json_object_get(res, "resultCode"));
    kakao_recipient_verdict(ov, code, &v);
    switch (v.action) {
    case KAKAO_ACCEPTED: t->accepted[t->na++] = t->positions[idx]; break;
    case KAKAO_PERMANENT: {
        char why[128];
        const char *m = json_string_value(json_object_get(res, "resultMessage"));
        t->failed[t->nf++] = t->positions[idx];
        adapter_outcome_count_reason(o, v.reason, 1);
        snprintf(why, sizeof why, "%s: %s (%d %.40s)", v.reason, v.meaning, code, m ? m : "");
        adapter_outcome_fail_recipient(o, t->masked[idx], why);
        break;
    }
    case KAKAO_RETRY:
        if (t->retry_idx)
            t->retry_idx[t->nretry] = idx;
        t->nretry++;
        snprintf(t->retry_reason, sizeof t->retry_reason, "%s", v.reason);
        break;
    case KAKAO_HOLD:
    default: t->nhold++; break;
    }
}

static int read_results(kakao_tally *t, const json_t *results, const kakao_overrides *ov,
                        adapter_outcome *o)
{
    char *seen = calloc((size_t)t->n + 1, 1);
    size_t i;
    json_t *res;
    if (!seen)
        return -1;
    json_array_foreach((json_t *)results, i, res)
    {
        int idx = result_index(t, res);
        if (idx < 0 || seen[idx] || !json_is_integer(json_object_get(res, "resultCode")))
            continue;
        seen[idx] = 1;
        tally_one(t, idx, res, ov, o);
    }
    for (int k = 0; k < t->n; k++) {
        if (!seen[k]) {
            /* The answer did not say: try again (the dealer took the
             * request, so the next one carries a new key). */
            if (t->retry_idx)
                t->retry_idx[t->nretry] = k;
            t->nretry++;
            snprintf(t->retry_reason, sizeof t->retry_reason, "no-result");
        }
    }
    free(seen);
    return 0;
}

kakao_answer kakao_answer_read(int status, const char *body, size_t len, long long retry_after_ms,
                               const kakao_overrides *ov, const char *secret_field, kakao_tally *t,
                               adapter_outcome *o)
{
    if (status == 429) {
        long long wait = retry_after_ms >= 0 ? retry_after_ms : RATE_WAIT_MS;
        again(o, ADAPTER_ERR_RATE_LIMIT, status,
              "kakao: the dealer's rate limit (HTTP 429): the channel waits %lld ms", wait);
        o->scope = ADAPTER_SCOPE_CHANNEL;
        o->retry_after_ms = wait;
        return KAKAO_ANSWER_FINAL;
    }
    if (status >= 500) {
        again(o, ADAPTER_ERR_NETWORK, status, "kakao: HTTP %d from the dealer", status);
        return KAKAO_ANSWER_FINAL;
    }
    if (status != 200) {
        failed(o, ADAPTER_ERR_REJECTED, status, "kakao: HTTP %d from the dealer: %.120s", status,
               body ? body : "");
        return KAKAO_ANSWER_FINAL;
    }
    json_t *doc = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *header = json_object_get(doc, "header");
    json_t *code = json_object_get(header, "resultCode");
    kakao_answer answer = KAKAO_ANSWER_RESULTS;
    if (!json_is_integer(code)) {
        again(o, ADAPTER_ERR_TIMEOUT, status,
              "kakao: an answer without header.resultCode (the batch may have been taken: the "
              "retry's idempotency key tells the dealer)");
        answer = KAKAO_ANSWER_FINAL;
        goto done;
    }
    const char *msg = json_string_value(json_object_get(header, "resultMessage"));
    adapter_outcome header_outcome;
    switch (
        kakao_header_verdict((int)json_integer_value(code), msg, secret_field, &header_outcome)) {
    case KAKAO_HEADER_FAILED:
        *o = header_outcome;
        answer = KAKAO_ANSWER_FINAL;
        goto done;
    case KAKAO_HEADER_DUPLICATE:
        for (int i = 0; i < t->n; i++)
            t->accepted[t->na++] = t->positions[i];
        answer = KAKAO_ANSWER_DUPLICATE;
        goto done;
    case KAKAO_HEADER_OK: break;
    }
    json_t *message = json_object_get(doc, "message");
    const char *rid = json_string_value(json_object_get(message, "requestId"));
    snprintf(t->request_id, sizeof t->request_id, "%s", rid ? rid : "");
    if (read_results(t, json_object_get(message, "sendResults"), ov, o) != 0) {
        again(o, ADAPTER_ERR_INTERNAL, status, "kakao: out of memory reading the answer");
        answer = KAKAO_ANSWER_FINAL;
    }
done:
    json_decref(doc);
    return answer;
}

void kakao_tally_give_up(kakao_tally *t, int attempts, adapter_outcome *o)
{
    char why[128];
    if (!t->retry_idx || !t->nretry)
        return;
    const char *reason = t->retry_reason[0] ? t->retry_reason : "dealer-error";
    snprintf(why, sizeof why, "%s: still to retry after %d attempts of its batch", reason,
             attempts);
    for (int i = 0; i < t->nretry; i++) {
        int idx = t->retry_idx[i];
        t->failed[t->nf++] = t->positions[idx];
        adapter_outcome_fail_recipient(o, t->masked[idx], why);
    }
    adapter_outcome_count_reason(o, reason, t->nretry);
    t->nretry = 0;
}

int kakao_tally_settle(const kakao_tally *t, long long sent_before, long long failed_before,
                       long long skipped, const adapter_reason_count *earlier, int nearlier,
                       adapter_outcome *o)
{
    if (t->nhold)
        return 1;
    if (t->nretry) {
        o->status = ADAPTER_AGAIN;
        o->error = ADAPTER_ERR_NETWORK;
        o->scope = ADAPTER_SCOPE_ITEM;
        snprintf(o->reason, sizeof o->reason, "kakao: %d of %d recipients to retry (%s)", t->nretry,
                 t->n, t->retry_reason[0] ? t->retry_reason : "dealer-error");
        return 0;
    }
    o->status = ADAPTER_OK;
    o->error = ADAPTER_ERR_NONE;
    o->accepted = sent_before + t->na;
    o->rejected = failed_before + t->nf;
    o->skipped = skipped;
    o->reach = o->accepted;
    long long left = failed_before;
    for (int i = 0; i < nearlier && left > 0; i++) {
        long long n = earlier[i].n < left ? earlier[i].n : left;
        if (n > 0)
            adapter_outcome_count_reason(o, earlier[i].code, n);
        left -= n > 0 ? n : 0;
    }
    if (left > 0)
        /* Refused by an attempt whose reasons were not kept (its record expired). */
        adapter_outcome_count_reason(o, "refused-earlier", left);
    if (!o->reason[0])
        snprintf(o->reason, sizeof o->reason,
                 "kakao: %lld accepted, %lld refused, %lld skipped (%lld and %lld before)",
                 o->accepted, o->rejected, o->skipped, sent_before, failed_before);
    return 0;
}

/* ---- the night block ---------------------------------------------------------- */

static int clock_minutes(const char *s, int *out)
{
    if (strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59)
        return -1;
    *out = h * 60 + m;
    return 0;
}

int kakao_night_parse(const char *text, quiet_hours *q, char *why, size_t whylen)
{
    char a[8], b[8];
    const char *dash = text ? strchr(text, '-') : NULL;
    memset(q, 0, sizeof *q);
    if (!dash || (size_t)(dash - text) >= sizeof a || strlen(dash + 1) >= sizeof b) {
        snprintf(why, whylen, "must be \"HH:MM-HH:MM\", e.g. \"20:50-08:00\"");
        return -1;
    }
    memcpy(a, text, (size_t)(dash - text));
    a[dash - text] = '\0';
    snprintf(b, sizeof b, "%s", dash + 1);
    if (clock_minutes(a, &q->start_min) != 0 || clock_minutes(b, &q->end_min) != 0) {
        snprintf(why, whylen, "must be \"HH:MM-HH:MM\" with 00:00-23:59, e.g. \"20:50-08:00\"");
        return -1;
    }
    if (q->start_min == q->end_min) {
        snprintf(why, whylen, "start and end are the same minute: the block would be all day");
        return -1;
    }
    q->on = 1;
    return 0;
}

int kakao_night_hold(const quiet_hours *q, const tz *seoul, int64_t now_ms, int64_t *until_ms)
{
    int64_t until = 0;
    if (!q->on || !quiet_hold(q, seoul, tz_floor_div(now_ms, 1000), &until))
        return 0;
    *until_ms = until * 1000;
    return 1;
}

int64_t kakao_night_end_after(const quiet_hours *q, const tz *seoul, int64_t now_ms)
{
    int64_t until;
    if (kakao_night_hold(q, seoul, now_ms, &until))
        return until;
    int64_t now_s = tz_floor_div(now_ms, 1000);
    int64_t wall = now_s + tz_offset_at(seoul, now_s, NULL);
    int64_t into_day = wall - tz_floor_div(wall, 86400) * 86400;
    int64_t wait = ((int64_t)q->end_min * 60 - into_day + 86400) % 86400;
    return (now_s + wait) * 1000;
}

/* ---- batches ------------------------------------------------------------------ */

int kakao_target_format(long long version, long long first, char *out, size_t len)
{
    int n = snprintf(out, len, "v%lld:%lld", version, first);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static int whole_number(const char *s, const char *end, long long *out)
{
    if (s == end || end - s > 18)
        return -1;
    long long v = 0;
    for (const char *c = s; c < end; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        v = v * 10 + (*c - '0');
    }
    *out = v;
    return 0;
}

int kakao_target_parse(const char *target, long long *version, long long *first)
{
    const char *colon = target ? strchr(target, ':') : NULL;
    if (!colon || target[0] != 'v')
        return -1;
    if (whole_number(target + 1, colon, version) != 0 ||
        whole_number(colon + 1, colon + 1 + strlen(colon + 1), first) != 0 || *version < 1)
        return -1;
    return 0;
}

void kakao_release_key(const char *campaign_id, const char *release_id, int64_t due_ms, char *out,
                       size_t len)
{
    snprintf(out, len, "%s:%s:%" PRId64, campaign_id ? campaign_id : "",
             release_id ? release_id : "", due_ms);
}

void kakao_idempotency_key(const char *item_id, long long generation, const long long *positions,
                           int n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char num[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    out[0] = '\0';
    if (!ctx)
        return;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    /* NUL-separated, so that no two inputs run together into the same bytes. */
    ok = ok && EVP_DigestUpdate(ctx, item_id ? item_id : "", strlen(item_id ? item_id : "") + 1);
    int k = snprintf(num, sizeof num, "g%lld", generation);
    ok = ok && EVP_DigestUpdate(ctx, num, (size_t)k + 1);
    for (int i = 0; ok && i < n; i++) {
        k = snprintf(num, sizeof num, "%lld", positions[i]);
        ok = EVP_DigestUpdate(ctx, num, (size_t)k + 1) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok || len != 32)
        return;
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}
