/*
 * fake_kakao.c - a stand-in for a Kakao BizMessage dealer API in the shape
 * of NHN Cloud's (AlimTalk v2.2, FriendTalk v2.3), as shared/CHANNELS.md
 * §4.1-4.2 has it (from NHN's guides mirrored at github.com/ohata-toast/
 * Alimtalk: alimtalk-api-guide.md, friendtalk-api-guide.md, error-code.md)
 * and as the dealer protocol of the issue-8 brief fixes what they leave open.
 *
 *   POST /alimtalk/v2.2/appkeys/:appkey/messages       template + templateParameter
 *   POST /alimtalk/v2.2/appkeys/:appkey/raw-messages   template + rendered content
 *   POST /friendtalk/v2.3/appkeys/:appkey/messages     content, imageUrl, isAd
 *
 * Facts from NHN [C]: the routes, the appkey in the path and the
 * X-Secret-Key header; HTTP 200 for every logical answer, {"header":
 * {resultCode, resultMessage, isSuccessful}, "message": {requestId,
 * senderGroupingKey, sendResults: [{recipientSeq, recipientNo, resultCode,
 * resultMessage, recipientGroupingKey}]}}; header codes -1000 bad appkey,
 * -1001 bad secret, -1005 duplicate X-NC-API-IDEMPOTENCY-KEY within 10
 * minutes, -1006 no senderKey, -1027 sender profile blocked, -2000..-2005
 * field errors, -2017 unknown sender profile, -2018 bad button, -3000 WL
 * button without linkMo; ≤1,000 recipients, recipientNo ≤15, content
 * ≤1,000 characters (≤400 with an image), ≤5 buttons with names ≤14; isAd
 * defaults to true; FriendTalk ads are not delivered 20:50-08:00.
 *
 * Our assumptions [U] (configurable in the adapter, fixed here):
 * - Which -2000..-2005 code is which: -2000 a field of the wrong JSON type
 *   (or a body that is not a JSON object), -2001 a required field missing
 *   or blank (an empty recipientList too), -2002 recipientNo over 15
 *   characters, -2003 content over its limit, -2004 recipientList over
 *   1,000, -2005 resendType not SMS or LMS. A field error refuses the whole
 *   request (header error, "message": null); its resultMessage names the
 *   field as recipientList[I].name (I from 0) and the rule.
 * - -1020 "template not found: CODE"; -1021 "template parameter missing:
 *   #{name} in recipientList[I]" (a placeholder of the template without a
 *   string or number in that recipient's templateParameter); the rendered
 *   AlimTalk content counts against the 1,000 characters too.
 * - HTTP 429 (injected "rate-limit", or over --rate) answers {"header":
 *   {-9999, "rate limit", false}, "message": null} with Retry-After in whole
 *   seconds (the fault's ms rounded up, 1 when none); a 5xx answers
 *   {"header": {-9000, "internal server error", false}, "message": null}.
 * - Characters are Unicode code points. A button is {type, name, linkMo?,
 *   ...}: type one of WL AL DS BK MD BC BT AC BF, name 1..14 characters.
 * - The idempotency key is kept only when the request was accepted (header
 *   0), for 10 minutes on the stand-in clock: a header error or an injected
 *   fault before the handler leaves the key unused, so the retry goes
 *   through; "drop-after-store" keeps it, so the retry gets -1005.
 * - Night: the stand-in clock in KST (UTC+9, Korea has no DST), from 20:50
 *   (inclusive) to 08:00 (exclusive). A FriendTalk with isAd true (or
 *   absent) then gets header 0 and 3022 for every recipient; AlimTalk is
 *   never held.
 * - A recipientNo of 1..15 characters that is not all digits is a
 *   per-recipient 3008, not a field error (E.164 "+8210..." included: the
 *   dealer wants the domestic form).
 *
 * Per-recipient results: the first rule that applies, in this order:
 *   1. FriendTalk ad at night (--night-block on)        3022 not a sendable time
 *   2. not all digits, or named by --invalid            3008 invalid phone number
 *   3. named by --not-talk-user, or L % M == 0 for --not-talk-user-mod M
 *                                                       3019 not a KakaoTalk user
 *   4. named by --blocked, or L % M == 0 for --blocked-mod M
 *                                                       3018 blocked the channel
 *   5. FriendTalk only: named by --not-friend, or L % M == 0 for
 *      --not-friend-mod M                               2003 not a channel friend
 *   6. named by --dealer-error, or L % M == 0 for --dealer-error-mod M
 *                                                       3000 dealer side error (retry)
 *   7. otherwise                                        0 accepted
 * where L is the integer value of the number's last 7 digits (all of them
 * when it has fewer): "01000000021" → 21, so "01000000000" (L = 0) matches
 * every mod rule. Only 0 is accepted, that is recorded and logged.
 *
 * Options: --appkey K ("haechi-appkey"), --secret S ("haechi-secret"),
 * --sender-key KEY (repeatable; none: any non-blank key is known; a key not
 * among them is -2017), --blocked-sender-key KEY (repeatable; -1027),
 * --template CODE=TEXT (repeatable; #{name} placeholders), --not-friend N,
 * --blocked N, --not-talk-user N, --invalid N, --dealer-error N (each
 * repeatable), --not-friend-mod M, --blocked-mod M, --not-talk-user-mod M,
 * --dealer-error-mod M, --night-block on|off (on), --rate N (requests per
 * second of the stand-in clock, whole seconds; 0: no limit), and
 * --recipients-log FILE: one JSON line per accepted recipient, {"at_ms",
 * "group", "no", "type": "alimtalk"|"alimtalk-raw"|"friendtalk",
 * "request": requestId}, written and flushed once per request.
 *
 * Named errors (error:NAME), each the header error it says, HTTP 200:
 * bad-appkey, bad-secret, duplicate, no-sender-key, sender-blocked,
 * unknown-sender, bad-button, template-not-found.
 *
 * GET /_fake/state: {"requests": handled by a dealer route, "accepted":
 * recipients, "groups": {senderGroupingKey ("" when absent): {"recipients":
 * distinct numbers, "accepted", "duplicates": accepted - recipients}},
 * "refused": {per-recipient code: count}, "rejected": {header code: count},
 * "rate_limited": N}. /_fake/reset forgets all of it, the idempotency keys
 * and the recipients log.
 *
 * Not modelled: requestDate (a scheduled send is answered as sent now), wide
 * images (76 characters), item lists, carousels and coupons, AL buttons'
 * scheme fields, templates' own buttons, the query APIs (GET .../messages),
 * delivery reports. The recipient tables cost 40 to 80 bytes per distinct
 * number (20-byte slots, at most half full); a 1,000-recipient request costs ~10 ms, most of it jansson
 * reading the body (a third of a megabyte with 100 Korean characters each).
 */
#include "fake.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECIPIENTS_MAX 1000
#define CONTENT_MAX 1000
#define CONTENT_MAX_IMAGE 400
#define BUTTONS_MAX 5
#define BUTTON_NAME_MAX 14
#define NUMBER_MAX 15
#define IDEMPOTENCY_MS (10 * 60 * 1000)
#define KST_OFFSET_MIN (9 * 60)
#define NIGHT_FROM_MIN (20 * 60 + 50)
#define NIGHT_UNTIL_MIN (8 * 60)

typedef enum msg_type { ALIMTALK, ALIMTALK_RAW, FRIENDTALK } msg_type;
static const char *const type_names[] = {"alimtalk", "alimtalk-raw", "friendtalk"};

/* The per-recipient rules a number can be named in, by --NAME N. */
enum { F_INVALID = 1, F_NOT_TALK = 2, F_BLOCKED = 4, F_NOT_FRIEND = 8, F_DEALER = 16 };

/* One number in a group's table; no[0] == '\0' marks a free slot. */
typedef struct slot {
    char no[NUMBER_MAX + 1];
    uint32_t times;
} slot;

/* The recipients accepted under one senderGroupingKey: open addressing,
 * linear probing, a power-of-two table kept at most half full. */
typedef struct group {
    char *key;
    slot *slots;
    size_t cap, used;
    uint64_t accepted;
} group;

typedef struct counter {
    int code;
    uint64_t n;
} counter;

static struct {
    const char *appkey, *secret, *recipients_log_path;
    json_t *sender_keys; /* key -> true (known) | false (blocked) */
    json_t *templates;   /* code -> text */
    json_t *numbers;     /* recipientNo -> F_* flags */
    long mod_not_talk, mod_blocked, mod_not_friend, mod_dealer;
    int night_block, any_sender;
    long rate;
    FILE *recipients_log;
    group **groups;
    size_t ngroups, groups_cap;
    uint64_t requests, accepted, rate_limited, serial;
    counter refused[16], rejected[32];
    json_t *idempotency; /* key -> at_ms */
    int64_t rate_second;
    long rate_used;
    char *lines; /* one request's recipients log lines */
    size_t lines_len, lines_cap;
} kk = {.appkey = "haechi-appkey", .secret = "haechi-secret", .night_block = 1};

/* ---- counting ---------------------------------------------------------------- */

static void count(counter *c, size_t n, int code)
{
    for (size_t i = 0; i < n; i++) {
        if (c[i].n == 0 || c[i].code == code) {
            c[i].code = code;
            c[i].n++;
            return;
        }
    }
}

static json_t *counters_json(const counter *c, size_t n)
{
    json_t *o = json_object();
    char key[16];
    for (size_t i = 0; i < n && c[i].n; i++) {
        snprintf(key, sizeof key, "%d", c[i].code);
        json_object_set_new(o, key, json_integer((json_int_t)c[i].n));
    }
    return o;
}

/* Unicode code points of valid UTF-8 (jansson only hands out valid UTF-8). */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        n += (*c & 0xC0) != 0x80;
    return n;
}

/* ---- the recipient tables -------------------------------------------------------- */

static uint64_t hash_no(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static slot *probe(slot *slots, size_t cap, const char *no)
{
    size_t i = (size_t)hash_no(no) & (cap - 1);
    while (slots[i].no[0] && strcmp(slots[i].no, no) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void group_grow(group *g)
{
    size_t cap = g->cap ? g->cap * 2 : 1024;
    slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        abort();
    for (size_t i = 0; i < g->cap; i++)
        if (g->slots[i].no[0])
            *probe(slots, cap, g->slots[i].no) = g->slots[i];
    free(g->slots);
    g->slots = slots;
    g->cap = cap;
}

/* NO (digits, at most NUMBER_MAX) was accepted once more in G. */
static void group_add(group *g, const char *no)
{
    if ((g->used + 1) * 2 > g->cap)
        group_grow(g);
    slot *s = probe(g->slots, g->cap, no);
    if (!s->no[0]) {
        snprintf(s->no, sizeof s->no, "%s", no);
        g->used++;
    }
    s->times++;
    g->accepted++;
}

static group *group_get(const char *key)
{
    for (size_t i = 0; i < kk.ngroups; i++)
        if (strcmp(kk.groups[i]->key, key) == 0)
            return kk.groups[i];
    if (kk.ngroups == kk.groups_cap) {
        size_t cap = kk.groups_cap ? kk.groups_cap * 2 : 16;
        group **more = realloc(kk.groups, cap * sizeof *more);
        if (!more)
            abort();
        kk.groups = more;
        kk.groups_cap = cap;
    }
    group *g = calloc(1, sizeof *g);
    if (!g || !(g->key = strdup(key)))
        abort();
    kk.groups[kk.ngroups++] = g;
    return g;
}

static void groups_clear(void)
{
    for (size_t i = 0; i < kk.ngroups; i++) {
        free(kk.groups[i]->slots);
        free(kk.groups[i]->key);
        free(kk.groups[i]);
    }
    kk.ngroups = 0;
}

/* ---- the recipients log -------------------------------------------------------- */

static void lines_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void lines_add(const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = kk.lines_cap - kk.lines_len;
        int n = vsnprintf(kk.lines ? kk.lines + kk.lines_len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            kk.lines_len += (size_t)n;
            return;
        }
        size_t cap = kk.lines_cap ? kk.lines_cap * 2 : 64 * 1024;
        while (cap - kk.lines_len <= (size_t)n)
            cap *= 2;
        char *more = realloc(kk.lines, cap);
        if (!more)
            abort();
        kk.lines = more;
        kk.lines_cap = cap;
    }
}

static void lines_flush(void)
{
    if (kk.recipients_log && kk.lines_len) {
        fwrite(kk.lines, 1, kk.lines_len, kk.recipients_log);
        fflush(kk.recipients_log);
    }
    kk.lines_len = 0;
}

/* ---- answers ------------------------------------------------------------------- */

static json_t *header(int code, const char *message)
{
    return json_pack("{s:i,s:s,s:b}", "resultCode", code, "resultMessage", message, "isSuccessful",
                     code == 0);
}

static void header_error(fake_req *rq, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A refused request: HTTP 200, the header saying why, no message. */
static void header_error(fake_req *rq, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    count(kk.rejected, sizeof kk.rejected / sizeof *kk.rejected, code);
    fake_reply_json(rq, 200, json_pack("{s:o,s:n}", "header", header(code, msg), "message"), NULL);
}

static void answer_status(fake_req *rq, int status, int code, const char *msg, int retry_s)
{
    json_t *body = json_pack("{s:o,s:n}", "header", header(code, msg), "message");
    if (retry_s > 0)
        fake_header(rq, "Retry-After", "%d", retry_s);
    fake_reply_json(rq, status, body, NULL);
}

static int kakao_error(fake_req *rq, const char *kind, int status)
{
    static const struct {
        const char *kind;
        int code;
        const char *msg;
    } named[] = {
        {"bad-appkey", -1000, "invalid appkey"},
        {"unauthorized", -1001, "invalid secret key"},
        {"expired-token", -1001, "invalid secret key"},
        {"bad-secret", -1001, "invalid secret key"},
        {"duplicate", -1005, "duplicate idempotency key"},
        {"no-sender-key", -1006, "the profile has no senderKey"},
        {"sender-blocked", -1027, "the sender profile is blocked"},
        {"unknown-sender", -2017, "unknown sender profile"},
        {"bad-button", -2018, "invalid button"},
        {"template-not-found", -1020, "template not found"},
    };
    if (strcmp(kind, "rate-limit") == 0) {
        kk.rate_limited++;
        answer_status(rq, status ? status : 429, -9999, "rate limit",
                      rq->fault_ms > 0 ? (rq->fault_ms + 999) / 1000 : 1);
        return 0;
    }
    if (strcmp(kind, "server-error") == 0) {
        answer_status(rq, status ? status : 503, -9000, "internal server error", 0);
        return 0;
    }
    for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
        if (strcmp(kind, named[i].kind) == 0) {
            count(kk.rejected, sizeof kk.rejected / sizeof *kk.rejected, named[i].code);
            fake_reply_json(
                rq, status ? status : 200,
                json_pack("{s:o,s:n}", "header", header(named[i].code, named[i].msg), "message"),
                NULL);
            return 0;
        }
    }
    return -1;
}

/* ---- checks ------------------------------------------------------------------- */

/* A request's fields, once checked. */
typedef struct sending {
    msg_type type;
    const char *sender_group, *template_text;
    json_t *list;
    int ad;
} sending;

/* The value of optional field NAME of O when it has JSON type TYPE (or is
 * absent or null: *V NULL); 0 after answering -2000 otherwise. */
static int field(fake_req *rq, json_t *o, const char *name, json_type type, json_t **v,
                 const char *where)
{
    json_t *x = json_object_get(o, name);
    *v = NULL;
    if (!x || json_is_null(x))
        return 1;
    if (json_typeof(x) != type && !(type == JSON_TRUE && json_is_boolean(x))) {
        static const char *const names[] = {"an object", "an array",  "a string",  "an integer",
                                            "a number",  "a boolean", "a boolean", "null"};
        header_error(rq, -2000, "%s%s must be %s", where, name, names[type]);
        return 0;
    }
    *v = x;
    return 1;
}

/* A required non-blank string field; 0 after answering otherwise. */
static int required_string(fake_req *rq, json_t *o, const char *name, const char **out,
                           const char *where)
{
    json_t *v;
    if (!field(rq, o, name, JSON_STRING, &v, where))
        return 0;
    *out = json_string_value(v);
    if (!*out || !**out) {
        header_error(rq, -2001, "%s%s is required", where, name);
        return 0;
    }
    return 1;
}

static int button_type_known(const char *t)
{
    static const char *const types[] = {"WL", "AL", "DS", "BK", "MD", "BC", "BT", "AC", "BF"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(t, types[i]) == 0)
            return 1;
    return 0;
}

static int buttons_ok(fake_req *rq, json_t *r, const char *where)
{
    json_t *list, *b;
    size_t i;
    if (!field(rq, r, "buttons", JSON_ARRAY, &list, where))
        return 0;
    if (json_array_size(list) > BUTTONS_MAX) {
        header_error(rq, -2018, "%sbuttons has %zu buttons, at most %d", where,
                     json_array_size(list), BUTTONS_MAX);
        return 0;
    }
    json_array_foreach(list, i, b)
    {
        char at[96];
        const char *type, *name;
        json_t *link;
        snprintf(at, sizeof at, "%sbuttons[%zu].", where, i);
        if (!json_is_object(b)) {
            header_error(rq, -2018, "%sbuttons[%zu] must be an object", where, i);
            return 0;
        }
        type = json_string_value(json_object_get(b, "type"));
        name = json_string_value(json_object_get(b, "name"));
        if (!type || !button_type_known(type)) {
            header_error(rq, -2018, "%stype must be one of WL AL DS BK MD BC BT AC BF", at);
            return 0;
        }
        if (!name || !*name || chars(name) > BUTTON_NAME_MAX) {
            header_error(rq, -2018, "%sname must be 1..%d characters, not %zu", at, BUTTON_NAME_MAX,
                         name ? chars(name) : 0);
            return 0;
        }
        if (!field(rq, b, "linkMo", JSON_STRING, &link, at))
            return 0;
        if (strcmp(type, "WL") == 0 && (!link || !*json_string_value(link))) {
            header_error(rq, -3000, "%slinkMo is required for a WL button", at);
            return 0;
        }
    }
    return 1;
}

static int resend_ok(fake_req *rq, json_t *r, const char *where)
{
    json_t *p, *type = NULL;
    char at[64];
    snprintf(at, sizeof at, "%sresendParameter.", where);
    if (!field(rq, r, "resendParameter", JSON_OBJECT, &p, where) ||
        (p && !field(rq, p, "resendType", JSON_STRING, &type, at)))
        return 0;
    if (p && type && strcmp(json_string_value(type), "SMS") != 0 &&
        strcmp(json_string_value(type), "LMS") != 0) {
        header_error(rq, -2005, "%sresendType must be SMS or LMS", at);
        return 0;
    }
    return 1;
}

/* The characters of TEXT with its #{name} placeholders filled from PARAMS;
 * -1 after answering -1021 for one without a value. */
static long rendered_chars(fake_req *rq, const char *text, json_t *params, size_t seq)
{
    long n = 0;
    for (const char *p = text; *p;) {
        const char *end = strncmp(p, "#{", 2) == 0 ? strchr(p + 2, '}') : NULL;
        if (!end) {
            n += (*p & 0xC0) != 0x80;
            p++;
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 2), p + 2);
        json_t *v = json_object_get(params, name);
        if (json_is_string(v)) {
            n += (long)chars(json_string_value(v));
        } else if (json_is_integer(v)) {
            char num[32];
            n += snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        } else if (json_is_real(v)) {
            char num[64];
            n += snprintf(num, sizeof num, "%.17g", json_real_value(v));
        } else {
            header_error(rq, -1021, "template parameter missing: #{%s} in recipientList[%zu]", name,
                         seq);
            return -1;
        }
        p = end + 1;
    }
    return n;
}

static int content_ok(fake_req *rq, const sending *s, json_t *r, size_t seq, const char *where)
{
    long n;
    long max = CONTENT_MAX;
    const char *what = "content";
    if (s->type == ALIMTALK) {
        json_t *params;
        if (!field(rq, r, "templateParameter", JSON_OBJECT, &params, where))
            return 0;
        if ((n = rendered_chars(rq, s->template_text, params, seq)) < 0)
            return 0;
        what = "content (the rendered template)";
    } else {
        const char *content;
        json_t *image = NULL;
        if (!required_string(rq, r, "content", &content, where))
            return 0;
        if (s->type == FRIENDTALK && !field(rq, r, "imageUrl", JSON_STRING, &image, where))
            return 0;
        if (image)
            max = CONTENT_MAX_IMAGE, what = "content (with imageUrl)";
        n = (long)chars(content);
    }
    if (n > max) {
        header_error(rq, -2003, "%s%s is %ld characters, over %ld", where, what, n, max);
        return 0;
    }
    return 1;
}

static int recipient_ok(fake_req *rq, const sending *s, json_t *r, size_t seq)
{
    char where[40];
    const char *no;
    json_t *grouping;
    snprintf(where, sizeof where, "recipientList[%zu].", seq);
    if (!json_is_object(r)) {
        header_error(rq, -2000, "recipientList[%zu] must be an object", seq);
        return 0;
    }
    if (!required_string(rq, r, "recipientNo", &no, where))
        return 0;
    if (strlen(no) > NUMBER_MAX) {
        header_error(rq, -2002, "%srecipientNo is over %d characters", where, NUMBER_MAX);
        return 0;
    }
    return content_ok(rq, s, r, seq, where) && buttons_ok(rq, r, where) &&
           resend_ok(rq, r, where) &&
           field(rq, r, "recipientGroupingKey", JSON_STRING, &grouping, where);
}

/* The request's own fields; 0 after answering. */
static int request_ok(fake_req *rq, sending *s)
{
    json_t *b = rq->json, *v;
    const char *sender, *code;
    size_t i;
    if (!required_string(rq, b, "senderKey", &sender, ""))
        return 0;
    v = json_object_get(kk.sender_keys, sender);
    if (v && json_is_false(v)) {
        header_error(rq, -1027, "the sender profile %s is blocked", sender);
        return 0;
    }
    if (!v && !kk.any_sender) {
        header_error(rq, -2017, "unknown sender profile: senderKey %s", sender);
        return 0;
    }
    if (!field(rq, b, "senderGroupingKey", JSON_STRING, &v, ""))
        return 0;
    s->sender_group = v ? json_string_value(v) : NULL;
    if (s->type != FRIENDTALK) {
        if (!required_string(rq, b, "templateCode", &code, ""))
            return 0;
        s->template_text = json_string_value(json_object_get(kk.templates, code));
        if (!s->template_text) {
            header_error(rq, -1020, "template not found: %s", code);
            return 0;
        }
    } else {
        if (!field(rq, b, "isAd", JSON_TRUE, &v, ""))
            return 0;
        s->ad = !v || json_is_true(v);
    }
    if (!field(rq, b, "recipientList", JSON_ARRAY, &s->list, ""))
        return 0;
    if (json_array_size(s->list) == 0) {
        header_error(rq, -2001, "recipientList is required (1..%d recipients)", RECIPIENTS_MAX);
        return 0;
    }
    if (json_array_size(s->list) > RECIPIENTS_MAX) {
        header_error(rq, -2004, "recipientList over %d (%zu)", RECIPIENTS_MAX,
                     json_array_size(s->list));
        return 0;
    }
    json_array_foreach(s->list, i, v)
    {
        if (!recipient_ok(rq, s, v, i))
            return 0;
    }
    return 1;
}

/* ---- results --------------------------------------------------------------------- */

static int night(int64_t now_ms)
{
    int64_t minute = (now_ms / 60000 + KST_OFFSET_MIN) % (24 * 60);
    return minute >= NIGHT_FROM_MIN || minute < NIGHT_UNTIL_MIN;
}

static int hits(long mod, long last7)
{
    return mod > 0 && last7 % mod == 0;
}

static int result_for(const char *no, msg_type type)
{
    size_t len = strlen(no);
    if (strspn(no, "0123456789") != len)
        return 3008;
    long flags = (long)json_integer_value(json_object_get(kk.numbers, no));
    long last7 = strtol(no + (len > 7 ? len - 7 : 0), NULL, 10);
    if (flags & F_INVALID)
        return 3008;
    if ((flags & F_NOT_TALK) || hits(kk.mod_not_talk, last7))
        return 3019;
    if ((flags & F_BLOCKED) || hits(kk.mod_blocked, last7))
        return 3018;
    if (type == FRIENDTALK && ((flags & F_NOT_FRIEND) || hits(kk.mod_not_friend, last7)))
        return 2003;
    if ((flags & F_DEALER) || hits(kk.mod_dealer, last7))
        return 3000;
    return 0;
}

static const char *result_message(int code)
{
    switch (code) {
    case 0: return "SUCCESS";
    case 2003: return "not a channel friend";
    case 3008: return "invalid phone number";
    case 3018: return "cannot be sent: the user blocked the channel";
    case 3019: return "not a KakaoTalk user";
    case 3022: return "not a sendable time (ad message at night)";
    default: return "dealer side error";
    }
}

/* One entry of sendResults. json_pack() would parse its format 1,000 times
 * a request; the keys are constant and the strings already checked. */
static json_t *send_result(size_t seq, const char *no, int code, json_t *grouping)
{
    json_t *r = json_object();
    json_object_set_new_nocheck(r, "recipientSeq", json_integer((json_int_t)seq));
    json_object_set_new_nocheck(r, "recipientNo", json_string_nocheck(no));
    json_object_set_new_nocheck(r, "resultCode", json_integer(code));
    json_object_set_new_nocheck(r, "resultMessage", json_string_nocheck(result_message(code)));
    json_object_set_nocheck(r, "recipientGroupingKey", grouping ? grouping : json_null());
    return r;
}

/* "20200302110000" (KST on the stand-in clock) and 8 letters from a serial. */
static void request_id(int64_t now_ms, char *buf, size_t len)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    time_t t = (time_t)(now_ms / 1000 + KST_OFFSET_MIN * 60);
    struct tm tm;
    char tail[9];
    uint64_t n = ++kk.serial;
    gmtime_r(&t, &tm);
    for (int i = 7; i >= 0; i--, n /= 52)
        tail[i] = letters[n % 52];
    tail[8] = '\0';
    strftime(buf, len, "%Y%m%d%H%M%S", &tm);
    snprintf(buf + strlen(buf), len - strlen(buf), "%s", tail);
}

static void deliver(fake_req *rq, const sending *s)
{
    char id[40];
    int held = s->type == FRIENDTALK && s->ad && kk.night_block && night(rq->now_ms);
    json_t *results = json_array(), *r;
    group *g = NULL;
    char *group_json = NULL;
    size_t i;
    request_id(rq->now_ms, id, sizeof id);
    json_array_foreach(s->list, i, r)
    {
        const char *no = json_string_value(json_object_get(r, "recipientNo"));
        json_t *grouping = json_object_get(r, "recipientGroupingKey");
        int code = held ? 3022 : result_for(no, s->type);
        json_array_append_new(results, send_result(i + 1, no, code, grouping));
        if (code != 0) {
            count(kk.refused, sizeof kk.refused / sizeof *kk.refused, code);
            continue;
        }
        if (!g) {
            json_t *key = json_string(s->sender_group ? s->sender_group : "");
            g = group_get(s->sender_group ? s->sender_group : "");
            group_json = json_dumps(key, JSON_ENCODE_ANY);
            json_decref(key);
        }
        group_add(g, no);
        kk.accepted++;
        if (kk.recipients_log)
            lines_add("{\"at_ms\":%lld,\"group\":%s,\"no\":\"%s\",\"type\":\"%s\","
                      "\"request\":\"%s\"}\n",
                      (long long)rq->now_ms, group_json, no, type_names[s->type], id);
    }
    free(group_json);
    lines_flush();
    const char *key =
        evhttp_find_header(evhttp_request_get_input_headers(rq->ev), "X-NC-API-IDEMPOTENCY-KEY");
    if (key)
        json_object_set_new(kk.idempotency, key, json_integer(rq->now_ms));
    fake_reply_json(rq, 200,
                    json_pack("{s:o,s:{s:s,s:s?,s:o}}", "header", header(0, "SUCCESS"), "message",
                              "requestId", id, "senderGroupingKey", s->sender_group, "sendResults",
                              results),
                    NULL);
}

/* ---- routes ------------------------------------------------------------------------ */

/* Over --rate in this second of the stand-in clock: answered 429. */
static int over_rate(fake_req *rq)
{
    if (kk.rate <= 0)
        return 0;
    int64_t second = rq->now_ms / 1000;
    if (second != kk.rate_second) {
        kk.rate_second = second;
        kk.rate_used = 0;
    }
    if (kk.rate_used < kk.rate) {
        kk.rate_used++;
        return 0;
    }
    kk.rate_limited++;
    answer_status(rq, 429, -9999, "rate limit", 1);
    return 1;
}

static int authorised(fake_req *rq)
{
    const char *secret =
        evhttp_find_header(evhttp_request_get_input_headers(rq->ev), "X-Secret-Key");
    if (strcmp(rq->params[0], kk.appkey) != 0) {
        header_error(rq, -1000, "invalid appkey: %s", rq->params[0]);
        return 0;
    }
    if (!secret || strcmp(secret, kk.secret) != 0) {
        header_error(rq, -1001,
                     secret ? "invalid secret key (X-Secret-Key)" : "X-Secret-Key is required");
        return 0;
    }
    return 1;
}

static int fresh_key(fake_req *rq)
{
    const char *key =
        evhttp_find_header(evhttp_request_get_input_headers(rq->ev), "X-NC-API-IDEMPOTENCY-KEY");
    json_t *at = key ? json_object_get(kk.idempotency, key) : NULL;
    if (at && rq->now_ms - json_integer_value(at) < IDEMPOTENCY_MS) {
        header_error(rq, -1005, "duplicate idempotency key: %s", key);
        return 0;
    }
    return 1;
}

static void send_messages(fake_req *rq, msg_type type)
{
    sending s = {.type = type};
    kk.requests++;
    if (over_rate(rq) || !authorised(rq))
        return;
    if (!rq->json && rq->body_len) /* a Content-Type the core does not read as JSON */
        rq->json = json_loadb(rq->body, rq->body_len, 0, NULL);
    if (!json_is_object(rq->json)) {
        header_error(rq, -2000, "the body must be a JSON object");
        return;
    }
    if (fresh_key(rq) && request_ok(rq, &s))
        deliver(rq, &s);
}

static void alimtalk(fake_req *rq)
{
    send_messages(rq, ALIMTALK);
}

static void alimtalk_raw(fake_req *rq)
{
    send_messages(rq, ALIMTALK_RAW);
}

static void friendtalk(fake_req *rq)
{
    send_messages(rq, FRIENDTALK);
}

/* ---- the service ------------------------------------------------------------------- */

static int positive(const char *v, long *out, long max)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || end == v || n < 0 || n > max)
        return 0;
    *out = n;
    return 2;
}

static int name_number(const char *v, long flag)
{
    if (!v || !*v || strlen(v) > NUMBER_MAX || strspn(v, "0123456789") != strlen(v))
        return 0;
    if (!kk.numbers)
        kk.numbers = json_object();
    long old = (long)json_integer_value(json_object_get(kk.numbers, v));
    json_object_set_new(kk.numbers, v, json_integer(old | flag));
    return 2;
}

static int set_in(json_t **o, const char *key, json_t *value)
{
    if (!key || !*key) {
        json_decref(value);
        return 0;
    }
    if (!*o)
        *o = json_object();
    json_object_set_new(*o, key, value);
    return 2;
}

static int kakao_option(const char *name, const char *v)
{
    static const struct {
        const char *name;
        long flag;
    } lists[] = {{"--invalid", F_INVALID},
                 {"--not-talk-user", F_NOT_TALK},
                 {"--blocked", F_BLOCKED},
                 {"--not-friend", F_NOT_FRIEND},
                 {"--dealer-error", F_DEALER}};
    static const struct {
        const char *name;
        long *mod;
    } mods[] = {{"--not-talk-user-mod", &kk.mod_not_talk},
                {"--blocked-mod", &kk.mod_blocked},
                {"--not-friend-mod", &kk.mod_not_friend},
                {"--dealer-error-mod", &kk.mod_dealer}};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        if (strcmp(name, lists[i].name) == 0)
            return name_number(v, lists[i].flag);
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++)
        if (strcmp(name, mods[i].name) == 0)
            return positive(v, mods[i].mod, 10000000);
    if (!v)
        return 0;
    if (strcmp(name, "--appkey") == 0 || strcmp(name, "--secret") == 0 ||
        strcmp(name, "--recipients-log") == 0) {
        if (!*v)
            return 0;
        *(name[2] == 'a' ? &kk.appkey : name[2] == 's' ? &kk.secret : &kk.recipients_log_path) = v;
        return 2;
    }
    if (strcmp(name, "--sender-key") == 0)
        return set_in(&kk.sender_keys, v, json_true());
    if (strcmp(name, "--blocked-sender-key") == 0)
        return set_in(&kk.sender_keys, v, json_false());
    if (strcmp(name, "--template") == 0) {
        const char *eq = strchr(v, '=');
        char code[64];
        if (!eq || eq == v || (size_t)(eq - v) >= sizeof code)
            return 0;
        snprintf(code, sizeof code, "%.*s", (int)(eq - v), v);
        json_t *text = json_string(eq + 1);
        return text ? set_in(&kk.templates, code, text) : 0;
    }
    if (strcmp(name, "--night-block") == 0) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
            return 0;
        kk.night_block = strcmp(v, "on") == 0;
        return 2;
    }
    if (strcmp(name, "--rate") == 0)
        return positive(v, &kk.rate, 1000000);
    return 0;
}

static int kakao_init(fake *f)
{
    (void)f;
    size_t known = 0;
    const char *k;
    json_t *v;
    if (!kk.sender_keys)
        kk.sender_keys = json_object();
    if (!kk.templates)
        kk.templates = json_object();
    if (!kk.numbers)
        kk.numbers = json_object();
    json_object_foreach(kk.sender_keys, k, v)
    {
        known += json_is_true(v);
    }
    kk.any_sender = known == 0;
    kk.idempotency = json_object();
    if (kk.recipients_log_path && !(kk.recipients_log = fopen(kk.recipients_log_path, "w"))) {
        fprintf(stderr, "fake-kakao: cannot open %s\n", kk.recipients_log_path);
        return -1;
    }
    return 0;
}

static void kakao_reset(fake *f)
{
    (void)f;
    groups_clear();
    kk.requests = kk.accepted = kk.rate_limited = 0;
    memset(kk.refused, 0, sizeof kk.refused);
    memset(kk.rejected, 0, sizeof kk.rejected);
    kk.rate_used = 0;
    json_object_clear(kk.idempotency);
    if (kk.recipients_log)
        kk.recipients_log = freopen(kk.recipients_log_path, "w", kk.recipients_log);
}

static json_t *kakao_state(fake *f)
{
    (void)f;
    json_t *groups = json_object();
    for (size_t i = 0; i < kk.ngroups; i++) {
        const group *g = kk.groups[i];
        json_object_set_new(groups, g->key,
                            json_pack("{s:I,s:I,s:I}", "recipients", (json_int_t)g->used,
                                      "accepted", (json_int_t)g->accepted, "duplicates",
                                      (json_int_t)(g->accepted - g->used)));
    }
    return json_pack("{s:I,s:I,s:o,s:o,s:o,s:I}", "requests", (json_int_t)kk.requests, "accepted",
                     (json_int_t)kk.accepted, "groups", groups, "refused",
                     counters_json(kk.refused, sizeof kk.refused / sizeof *kk.refused), "rejected",
                     counters_json(kk.rejected, sizeof kk.rejected / sizeof *kk.rejected),
                     "rate_limited", (json_int_t)kk.rate_limited);
}

static void kakao_release(fake *f)
{
    (void)f;
    groups_clear();
    free(kk.groups);
    free(kk.lines);
    json_decref(kk.sender_keys);
    json_decref(kk.templates);
    json_decref(kk.numbers);
    json_decref(kk.idempotency);
    if (kk.recipients_log)
        fclose(kk.recipients_log);
}

static const fake_route routes[] = {
    {"POST", "/alimtalk/v2.2/appkeys/:appkey/messages", alimtalk, 1},
    {"POST", "/alimtalk/v2.2/appkeys/:appkey/raw-messages", alimtalk_raw, 1},
    {"POST", "/friendtalk/v2.3/appkeys/:appkey/messages", friendtalk, 1},
    {0},
};

static const fake_service service = {
    .name = "kakao",
    .routes = routes,
    .error = kakao_error,
    .option = kakao_option,
    .init = kakao_init,
    .state = kakao_state,
    .reset = kakao_reset,
    .release = kakao_release,
};

int main(int argc, char **argv)
{
    return fake_main(argc, argv, &service);
}
