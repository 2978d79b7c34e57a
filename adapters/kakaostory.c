/*
 * kakaostory.c - posts to the account's Kakao Story through Kakao's Story
 * REST API (kakaostory.h; the facts and their sources are in
 * docs/adapters.md, "kakaostory"):
 *
 *   GET    /v1/api/story/isstoryuser   the account has a Kakao Story
 *   GET    /v1/api/story/mystories     its recent stories (the look-up)
 *   GET    /v1/api/story/linkinfo?url= the scrap of a link, for a link post
 *   POST   /v1/api/story/post/note     content, permission, enable_share
 *   POST   /v1/api/story/post/link     link_info (the scrap, as JSON), content, ...
 *
 * Bodies are form-encoded and the token goes as "Authorization: Bearer",
 * as Kakao's SDKs send them. Errors are {"msg": "...", "code": -N}, read
 * through one table (rules[] below), never by HTTP status alone.
 *
 * The Story API reports no friend or follower count and no impressions:
 * reach is the operator's configured `followers` figure (0 without one),
 * and poll_insights() answers that there are no figures.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "kakaostory.h"
#include "post.h"
#include "sns_text.h"

#define SERVICE "kakaostory"
#define DEFAULT_URL "https://kapi.kakao.com"
/* Kakao's JavaScript SDK refuses story content outside 1..2,048 characters
 * (sns_text.h holds the limit validate checks; this one sizes buffers). */
#define CONTENT_MAX 2048
#define CONTENT_BYTES (CONTENT_MAX * 4 + 2048)
#define LINK_INFO_BYTES 16384
#define PATH_NOTE "/v1/api/story/post/note"
#define PATH_LINK "/v1/api/story/post/link"
#define PATH_LINKINFO "/v1/api/story/linkinfo"
#define PATH_MYSTORIES "/v1/api/story/mystories"
#define PATH_ISSTORYUSER "/v1/api/story/isstoryuser"
#define WHAT_TO_DO "post by hand or remove kakaostory from sns.networks"

/* For tests/unit/test_kakaostory.c: what an answer of Kakao means. */
void kakaostory_classify(int http_status, const char *body, size_t len, const char *token_source,
                         long long retry_after_ms, adapter_outcome *o);

/* ---- config ------------------------------------------------------------------ */

static const char *const onoff[] = {"on", "off", NULL};
static const char *const permissions[] = {"A", "F", "M", NULL};

static const jfield fields[] = {
    {.name = "url", .kind = JK_STRING, .min = 1, .max = 511, JF_STORE(kakaostory_conf, url)},
    {.name = "token_env",
     .kind = JK_STRING,
     .min = 1,
     .max = 127,
     JF_STORE(kakaostory_conf, token_env)},
    {.name = "token_file",
     .kind = JK_STRING,
     .min = 1,
     .max = 1023,
     JF_STORE(kakaostory_conf, token_file)},
    {.name = "lookup_minutes",
     .kind = JK_INT,
     .min = 1,
     .max = 1440,
     JF_STORE(kakaostory_conf, lookup_minutes)},
    {.name = "reach_cache_s",
     .kind = JK_INT,
     .max = 86400,
     JF_STORE(kakaostory_conf, reach_cache_s)},
    {.name = "api_posting",
     .kind = JK_STRING,
     .choices = onoff,
     .max = 3,
     JF_STORE(kakaostory_conf, api_posting)},
    {.name = "permission",
     .kind = JK_STRING,
     .choices = permissions,
     .max = 1,
     JF_STORE(kakaostory_conf, permission)},
    {.name = "enable_share", .kind = JK_BOOL, JF_STORE(kakaostory_conf, enable_share)},
    {.name = "followers", .kind = JK_INT, .max = 1000000000, JF_STORE(kakaostory_conf, followers)},
    {.name = "quota_wait_s",
     .kind = JK_INT,
     .min = 1,
     .max = 86400,
     JF_STORE(kakaostory_conf, quota_wait_s)},
    {.name = "min_gap_ms", .kind = JK_INT, .max = 3600000, JF_STORE(kakaostory_conf, min_gap_ms)},
    {0}};
const jobject kakaostory_conf_shape = {.fields = fields};

/* ---- state --------------------------------------------------------------------- */

typedef struct ks_state {
    kakaostory_conf conf;
    post_set set;
    char *token;             /* NULL offline or with api_posting off */
    char auth[2200];         /* "Authorization: Bearer ..." */
    char token_source[1100]; /* "token_env HAECHI_..." for reasons: never the token */
    long long account_until_ms;
    long long next_slot_ms;
    int posting_off;
} ks_state;

/* One send: what it posts, copied, since the item is borrowed. */
typedef struct ks_send {
    ks_state *s;
    char content[CONTENT_BYTES];
    char link[2048];
    char link_info[LINK_INFO_BYTES];
} ks_send;

static void *ks_create(const adapter_env *env, const void *conf, char *err, size_t errlen)
{
    ks_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (conf)
        s->conf = *(const kakaostory_conf *)conf;
    kakaostory_conf *c = &s->conf;
    if (!c->url[0])
        snprintf(c->url, sizeof c->url, "%s", DEFAULT_URL);
    if (!c->lookup_minutes)
        c->lookup_minutes = 10;
    if (!c->reach_cache_s)
        c->reach_cache_s = 300;
    if (!c->quota_wait_s)
        c->quota_wait_s = 60;
    if (!c->permission[0])
        snprintf(c->permission, sizeof c->permission, "A");
    s->posting_off = strcmp(c->api_posting, "off") == 0;
    snprintf(s->token_source, sizeof s->token_source, "%s%s",
             c->token_env[0] ? "token_env " : "token_file ",
             c->token_env[0] ? c->token_env : c->token_file);
    post_set_init(&s->set, env);
    if (env->offline || s->posting_off)
        return s;
    if (!c->token_env[0] && !c->token_file[0]) {
        snprintf(err, errlen,
                 "token_env or token_file: a Kakao user access token is required "
                 "(or api_posting: \"off\")");
        free(s);
        return NULL;
    }
    char why[256];
    s->token = config_secret(c->token_env[0] ? c->token_env : NULL,
                             c->token_file[0] ? c->token_file : NULL, why, sizeof why);
    if (!s->token) {
        snprintf(err, errlen, "%s: %s", c->token_env[0] ? "token_env" : "token_file", why);
        free(s);
        return NULL;
    }
    snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s", s->token);
    return s;
}

static void ks_destroy(void *state)
{
    ks_state *s = state;
    if (!s)
        return;
    post_set_close(&s->set);
    if (s->token) {
        memset(s->token, 0, strlen(s->token));
        free(s->token);
    }
    memset(s->auth, 0, sizeof s->auth);
    free(s);
}

/* ---- the post's text -------------------------------------------------------------- */

/*
 * The post's content and link, as adapters/sns_text.h composes them for
 * Kakao Story (the text, the link unless the text holds it, the hashtags)
 * in the first language it posts in (Korean first). Returns the content's
 * bytes, or -1 when there is no text or it does not fit OUTLEN.
 */
static long compose(const json_t *doc, const char *release_id, char *out, size_t outlen, char *link,
                    size_t linklen)
{
    const char *langs[SNS_LANGS_MAX];
    sns_post sp;
    if (sns_post_languages(doc, SERVICE, langs) == 0 ||
        sns_post_compose(doc, release_id, SERVICE, langs[0], &sp) != 0)
        return -1;
    long len = sp.len < outlen ? (long)sp.len : -1;
    if (len >= 0)
        memcpy(out, sp.text, sp.len + 1);
    snprintf(link, linklen, "%s", sp.link ? sp.link : "");
    sns_post_release(&sp);
    return len;
}

/* ---- the wire -------------------------------------------------------------------- */

/* Appends S percent-encoded (a form value) to BUF; -1 when it does not fit. */
static int form_append(char *buf, size_t len, size_t *used, const char *name, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int n = snprintf(buf + *used, len - *used, "%s%s=", *used ? "&" : "", name);
    if (n < 0 || (size_t)n >= len - *used)
        return -1;
    *used += (size_t)n;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*used + 4 > len)
            return -1;
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            buf[(*used)++] = (char)*c;
        } else {
            buf[(*used)++] = '%';
            buf[(*used)++] = hex[*c >> 4];
            buf[(*used)++] = hex[*c & 15];
        }
    }
    buf[*used] = '\0';
    return 0;
}

/* The form fields every post carries besides its content. */
static int post_options(const kakaostory_conf *c, char *buf, size_t len, size_t *used)
{
    if (form_append(buf, len, used, "permission", c->permission) != 0)
        return -1;
    return c->enable_share ? form_append(buf, len, used, "enable_share", "true") : 0;
}

static int request(post *p, const char *method, const char *path, const char *query,
                   const char *form, post_step_fn *next)
{
    ks_send *ks = post_data(p);
    ks_state *s = ks->s;
    char url[4096];
    snprintf(url, sizeof url, "%s%s%s%s", s->conf.url, path, query ? "?" : "", query ? query : "");
    /* Connection: close on every request, so that a post never rides a
     * reused connection: libcurl sends a request again by itself when a
     * reused connection dies before the answer, and a post whose answer
     * was lost would then be posted twice (seen against the stand-in's
     * drop-after-store). A few requests a day need no keep-alive. */
    const char *headers[] = {
        s->auth, "Connection: close",
        form ? "Content-Type: application/x-www-form-urlencoded;charset=utf-8" : NULL, NULL};
    outbound_request rq = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = form,
                           .body_len = form ? strlen(form) : 0};
    return post_request(p, &rq, next);
}

/* ---- what Kakao's answers mean ---------------------------------------------------- */

typedef enum ks_action {
    KS_FAIL,     /* FAILED with the row's class */
    KS_RETRY,    /* AGAIN, this item */
    KS_THROTTLE, /* AGAIN rate-limit, the whole channel, with a wait */
    KS_MAYBE,    /* AGAIN timeout: it may have been posted; the next attempt looks first */
    KS_ENDED,    /* DECLINED: Kakao says the API has ended */
} ks_action;

typedef struct ks_rule {
    int code;
    ks_action action;
    adapter_error error;
    const char *meaning;
    const char *hint; /* what an operator does about it; NULL: nothing to add */
} ks_rule;

/* Kakao's REST API error codes (developers.kakao.com/docs/latest/en/rest-api/error-code,
 * and the Kakao SDKs' ApiErrorCause for the Story ones). */
static const ks_rule rules[] = {
    {-1, KS_RETRY, ADAPTER_ERR_NETWORK, "internal error at Kakao", NULL},
    {-2, KS_FAIL, ADAPTER_ERR_INVALID, "bad parameter", NULL},
    {-3, KS_FAIL, ADAPTER_ERR_INVALID, "the API is not enabled for the app",
     "enable Kakao Login and the Kakao Story consent items of the app"},
    {-4, KS_FAIL, ADAPTER_ERR_REJECTED, "the account is blocked or restricted", NULL},
    {-5, KS_FAIL, ADAPTER_ERR_REJECTED, "the app has no permission for this API",
     "request Kakao's review of the app"},
    {-6, KS_FAIL, ADAPTER_ERR_REJECTED, "Kakao does not allow this action", NULL},
    {-7, KS_RETRY, ADAPTER_ERR_NETWORK, "Kakao service maintenance or internal problem", NULL},
    {-9, KS_ENDED, ADAPTER_ERR_NONE, "Kakao answered that the Kakao Story API has ended", NULL},
    {-10, KS_THROTTLE, ADAPTER_ERR_RATE_LIMIT, "rate limit: quota exceeded", NULL},
    {-12, KS_FAIL, ADAPTER_ERR_REJECTED, "the app or the developer account is suspended", NULL},
    {-401, KS_FAIL, ADAPTER_ERR_AUTH, "access token invalid or expired", ""},
    {-402, KS_FAIL, ADAPTER_ERR_AUTH, "the user has not consented to the scope the API needs",
     "log in again with the Kakao Story consent and put the new token in"},
    {-601, KS_FAIL, ADAPTER_ERR_REJECTED, "the account has no Kakao Story",
     "sign the account up to Kakao Story, or remove kakaostory from sns.networks"},
    {-602, KS_FAIL, ADAPTER_ERR_INVALID, "an image is over Kakao's upload size", NULL},
    {-603, KS_MAYBE, ADAPTER_ERR_TIMEOUT, "timeout inside Kakao (the story may exist)", NULL},
    {-606, KS_FAIL, ADAPTER_ERR_INVALID, "too many images", NULL},
    {-9798, KS_RETRY, ADAPTER_ERR_NETWORK, "Kakao service maintenance", NULL},
    {-9799, KS_RETRY, ADAPTER_ERR_NETWORK, "Kakao service maintenance", NULL},
    {0, KS_FAIL, ADAPTER_ERR_NONE, NULL, NULL},
};

/* vsnprintf: one line, cut at the outcome's size. */
static void set_reason(adapter_outcome *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(adapter_outcome *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof o->reason, fmt, ap);
    va_end(ap);
}

static const ks_rule *rule_for(int code)
{
    for (const ks_rule *r = rules; r->meaning; r++)
        if (r->code == code)
            return r;
    return NULL;
}

void kakaostory_classify(int http_status, const char *body, size_t len, const char *token_source,
                         long long retry_after_ms, adapter_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->remote_code = http_status;
    o->scope = ADAPTER_SCOPE_ITEM;
    json_t *doc = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *code = json_object_get(doc, "code");
    const char *msg = json_string_value(json_object_get(doc, "msg"));
    const ks_rule *r = json_is_integer(code) ? rule_for((int)json_integer_value(code)) : NULL;
    char kakao[120];
    if (json_is_integer(code))
        snprintf(kakao, sizeof kakao, "Kakao %lld: %.80s", (long long)json_integer_value(code),
                 msg ? msg : "");
    else
        snprintf(kakao, sizeof kakao, "HTTP %d", http_status);
    ks_action action = r                    ? r->action
                       : http_status == 429 ? KS_THROTTLE
                       : http_status >= 500 ? KS_RETRY
                                            : KS_FAIL;
    const char *meaning = r                    ? r->meaning
                          : http_status == 429 ? "too many requests"
                          : http_status >= 500 ? "Kakao server error"
                                               : "refused";
    o->error = r                    ? r->error
               : http_status == 429 ? ADAPTER_ERR_RATE_LIMIT
               : http_status >= 500 ? ADAPTER_ERR_NETWORK
                                    : ADAPTER_ERR_REJECTED;
    switch (action) {
    case KS_ENDED: o->status = ADAPTER_DECLINED; break;
    case KS_FAIL: o->status = ADAPTER_FAILED; break;
    case KS_THROTTLE:
        o->status = ADAPTER_AGAIN;
        o->scope = ADAPTER_SCOPE_CHANNEL;
        o->retry_after_ms = retry_after_ms;
        break;
    case KS_RETRY:
    case KS_MAYBE: o->status = ADAPTER_AGAIN; break;
    }
    if (action == KS_ENDED)
        set_reason(o, "%s: %s (%s); %s", SERVICE, meaning, kakao, WHAT_TO_DO);
    else if (r && r->hint && !r->hint[0])
        set_reason(o, "%s: %s (%s): issue a new user access token and put it in %s", SERVICE,
                   meaning, kakao, token_source);
    else if (r && r->hint && r->error == ADAPTER_ERR_AUTH)
        set_reason(o, "%s: %s (%s): %s %s", SERVICE, meaning, kakao, r->hint, token_source);
    else if (r && r->hint)
        set_reason(o, "%s: %s (%s): %s", SERVICE, meaning, kakao, r->hint);
    else
        set_reason(o, "%s: %s (%s)", SERVICE, meaning, kakao);
    json_decref(doc);
}

static void fail_answer(post *p, const outbound_response *r)
{
    ks_state *s = ((ks_send *)post_data(p))->s;
    long long wait = outbound_delay_ms(r, NULL, post_now_ms());
    adapter_outcome o;
    kakaostory_classify(r->status, r->body, r->body_len, s->token_source,
                        wait >= 0 ? wait : s->conf.quota_wait_s * 1000, &o);
    post_finish(p, &o);
}

/* ---- the send's steps ------------------------------------------------------------------ */

static void ok(post *p, const char *id, const char *note)
{
    ks_state *s = ((ks_send *)post_data(p))->s;
    char line[200];
    if (!note)
        snprintf(line, sizeof line, "%s",
                 s->conf.followers ? "reach: the configured followers figure (Kakao Story "
                                     "reports no friend or follower count)"
                                   : "reach 0: Kakao Story reports no friend or follower count");
    post_ok(p, id, s->conf.followers, note ? note : line);
}

static void answered(post *p, const outbound_response *r)
{
    if (r->status != 200) {
        fail_answer(p, r);
        return;
    }
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id && *id)
        ok(p, id, NULL);
    else
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_TIMEOUT, r->status,
                  "%s: a 200 answer without the story's id (it may have been posted)", SERVICE);
    json_decref(doc);
}

static void post_note(post *p)
{
    ks_send *ks = post_data(p);
    size_t len = strlen(ks->content) * 3 + 256, used = 0;
    char *form = malloc(len);
    if (!form || form_append(form, len, &used, "content", ks->content) != 0 ||
        post_options(&ks->s->conf, form, len, &used) != 0) {
        free(form);
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, 0, "%s: out of memory", SERVICE);
        return;
    }
    request(p, "POST", PATH_NOTE, NULL, form, answered); /* the client copies the body */
    free(form);
}

/* Kakao's error code in an answer's body, or 0. */
static int kakao_code(const outbound_response *r)
{
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *code = json_object_get(doc, "code");
    int c = json_is_integer(code) ? (int)json_integer_value(code) : 0;
    json_decref(doc);
    return c;
}

static void link_read(post *p, const outbound_response *r)
{
    ks_send *ks = post_data(p);
    if (r->status == 400 && kakao_code(r) == -2) {
        /* Kakao could not scrape the link: the text carries it anyway. */
        post_note(p);
        return;
    }
    if (r->status != 200) {
        fail_answer(p, r);
        return;
    }
    if (r->body_len >= sizeof ks->link_info) {
        post_note(p);
        return;
    }
    memcpy(ks->link_info, r->body, r->body_len + 1);
    size_t len = (strlen(ks->content) + r->body_len) * 3 + 256, used = 0;
    char *form = malloc(len);
    if (!form || form_append(form, len, &used, "link_info", ks->link_info) != 0 ||
        form_append(form, len, &used, "content", ks->content) != 0 ||
        post_options(&ks->s->conf, form, len, &used) != 0) {
        free(form);
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, 0, "%s: out of memory", SERVICE);
        return;
    }
    request(p, "POST", PATH_LINK, NULL, form, answered);
    free(form);
}

static void create(post *p)
{
    ks_send *ks = post_data(p);
    if (!ks->link[0]) {
        post_note(p);
        return;
    }
    char query[4096];
    size_t used = 0;
    if (form_append(query, sizeof query, &used, "url", ks->link) != 0) {
        post_note(p);
        return;
    }
    request(p, "GET", PATH_LINKINFO, query, NULL, link_read);
}

/* "2020-03-22T00:00:05Z" (a fraction and an offset optional) into epoch ms; -1. */
static long long story_time_ms(const char *s)
{
    struct tm tm = {0};
    int off_h = 0, off_m = 0;
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return -1;
    if (*rest == '.')
        rest += 1 + strspn(rest + 1, "0123456789");
    if ((*rest == '+' || *rest == '-') && sscanf(rest + 1, "%2d:%2d", &off_h, &off_m) >= 1) {
        int sign = *rest == '-' ? -1 : 1;
        return ((long long)timegm(&tm) - sign * (off_h * 3600LL + off_m * 60LL)) * 1000;
    }
    return (long long)timegm(&tm) * 1000;
}

/* The id of a story of CONTENT created at or after SINCE_MS in the
 * mystories answer DOC, or NULL. */
static const char *find_story(const json_t *doc, const char *content, long long since_ms)
{
    size_t i;
    json_t *st;
    json_array_foreach((json_t *)doc, i, st)
    {
        const char *c = json_string_value(json_object_get(st, "content"));
        const char *id = json_string_value(json_object_get(st, "id"));
        long long at = story_time_ms(json_string_value(json_object_get(st, "created_at")));
        if (c && id && strcmp(c, content) == 0 && at >= since_ms)
            return id;
    }
    return NULL;
}

static void lookup_read(post *p, const outbound_response *r)
{
    ks_send *ks = post_data(p);
    if (r->status != 200) {
        /* Posting without knowing could post twice: the look-up's failure ends the attempt. */
        fail_answer(p, r);
        return;
    }
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    long long since = post_item(p)->due_ms - ks->s->conf.lookup_minutes * 60000;
    const char *id = find_story(doc, ks->content, since);
    if (id)
        ok(p, id, "found on the account after an unknown outcome; not posted again");
    else
        create(p);
    json_decref(doc);
}

static void after_account(post *p)
{
    if (post_item(p)->maybe_sent)
        request(p, "GET", PATH_MYSTORIES, NULL, NULL, lookup_read);
    else
        create(p);
}

/* The account check never blocks a post, except its clear "no". */
static void account_read(post *p, const outbound_response *r)
{
    ks_state *s = ((ks_send *)post_data(p))->s;
    json_t *doc = r->status == 200 ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    json_t *is = json_object_get(doc, "isStoryUser");
    int no = json_is_false(is);
    if (json_is_true(is))
        s->account_until_ms = post_now_ms() + s->conf.reach_cache_s * 1000;
    json_decref(doc);
    if (no) {
        post_fail(p, ADAPTER_FAILED, ADAPTER_ERR_REJECTED, r->status,
                  "%s: the account has no Kakao Story (isStoryUser false): sign it up to Kakao "
                  "Story, or remove kakaostory from sns.networks",
                  SERVICE);
        return;
    }
    after_account(p);
}

static void go(post *p)
{
    ks_state *s = ((ks_send *)post_data(p))->s;
    if (s->posting_off) {
        post_fail(p, ADAPTER_DECLINED, ADAPTER_ERR_NONE, 0,
                  "%s: api_posting is \"off\" in the config: nothing was sent; %s", SERVICE,
                  WHAT_TO_DO);
        return;
    }
    if (s->account_until_ms > post_now_ms())
        after_account(p);
    else
        request(p, "GET", PATH_ISSTORYUSER, NULL, NULL, account_read);
}

/* ---- the operations --------------------------------------------------------------------- */

static haechi_status ks_send_item(void *state, const adapter_item *item, adapter_done_fn *done,
                                  void *arg)
{
    ks_state *s = state;
    post *p = post_new(&s->set, item, done, arg, sizeof(ks_send));
    if (!p)
        return HAECHI_ERR;
    ks_send *ks = post_data(p);
    ks->s = s;
    if (compose(item->campaign, item->release_id, ks->content, sizeof ks->content, ks->link,
                sizeof ks->link) < 0) {
        post_fail(p, ADAPTER_FAILED, ADAPTER_ERR_INVALID, 0,
                  "%s: the campaign has no text for Kakao Story, or it is too long", SERVICE);
        return HAECHI_OK;
    }
    long long now = post_now_ms(), wait = 0;
    if (s->conf.min_gap_ms > 0) {
        wait = s->next_slot_ms > now ? s->next_slot_ms - now : 0;
        s->next_slot_ms = now + wait + s->conf.min_gap_ms;
        post_after(p, wait, go); /* a failure to arm has answered already */
        return HAECHI_OK;
    }
    go(p);
    return HAECHI_OK;
}

static void ks_cancel(void *state, const char *item_id)
{
    post_set_cancel(&((ks_state *)state)->set, item_id);
}

static json_t *form_fields(const kakaostory_conf *c, const char *content)
{
    json_t *body = json_pack("{s:s,s:s}", "content", content, "permission", c->permission);
    if (body && c->enable_share)
        json_object_set_new(body, "enable_share", json_string("true"));
    return body;
}

static json_t *ks_render(void *state, const adapter_item *item, char *err, size_t errlen)
{
    ks_state *s = state;
    char *content = malloc(CONTENT_BYTES);
    char link[2048];
    if (!content) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (compose(item->campaign, item->release_id, content, CONTENT_BYTES, link, sizeof link) < 0) {
        snprintf(err, errlen, "%s: the campaign has no text for Kakao Story", SERVICE);
        free(content);
        return NULL;
    }
    json_t *body = form_fields(&s->conf, content);
    json_t *step = json_pack("{s:s,s:s,s:s,s:o,s:{s:I,s:i}}", "network", SERVICE, "method", "POST",
                             "path", link[0] ? PATH_LINK : PATH_NOTE, "body", body, "counts",
                             "characters", (json_int_t)sns_text_length(content, strlen(content)),
                             "limit", (int)sns_rules_for(SERVICE)->max_length);
    free(content);
    if (step && s->posting_off)
        json_object_set_new(step, "declined",
                            json_string("api_posting is \"off\": this is not sent; " WHAT_TO_DO));
    if (!step || !link[0])
        return step;
    json_object_set_new(json_object_get(step, "body"), "link_info",
                        json_string("(the answer of GET " PATH_LINKINFO ")"));
    json_t *scrap = json_pack("{s:s,s:s,s:s,s:{s:s}}", "network", SERVICE, "method", "GET", "path",
                              PATH_LINKINFO, "query", "url", link);
    return json_pack("[o,o]", scrap, step);
}

/* Whether the section sends to Kakao Story: it names it, or names no networks. */
static int sends_here(const json_t *section)
{
    const json_t *nets = json_object_get(section, "networks");
    size_t i;
    json_t *n;
    if (!json_is_array(nets))
        return 1;
    json_array_foreach((json_t *)nets, i, n)
    {
        if (json_is_string(n) && strcmp(json_string_value(n), SERVICE) == 0)
            return 1;
    }
    return 0;
}

/* The counts against Kakao Story's limit are sns_text.h's, like every
 * network's; the note on the API's state is this adapter's own. */
static void ks_validate(const json_t *section, const json_t *doc, const char *path, diag_list *errs,
                        diag_list *notes)
{
    if (!sends_here(section))
        return;
    sns_text_check(section, doc, SERVICE, path, errs, notes);
    diag_add(notes, path, "kakaostory-api",
             "%s: Kakao ended the Kakao Story modules of its Android and iOS SDKs on 2023-11-15; "
             "its REST API still documents posting. If Kakao answers that the API has ended "
             "(code -9), the post is declined, not retried: then %s",
             SERVICE, WHAT_TO_DO);
}

typedef struct insights_call {
    adapter_insights_fn *done;
    void *arg;
} insights_call;

static void insights_answered(const adapter_outcome *o, void *arg)
{
    insights_call *c = arg;
    c->done(NULL, o, c->arg);
    free(c);
}

/* The Story API reports no impressions or reach of a story: answered from
 * the loop, without a request. */
static haechi_status ks_poll_insights(void *state, const char *target, const char *external_id,
                                      adapter_insights_fn *done, void *arg)
{
    ks_state *s = state;
    insights_call *c = calloc(1, sizeof *c);
    char id[200];
    (void)target;
    if (!c)
        return HAECHI_ERR;
    c->done = done;
    c->arg = arg;
    snprintf(id, sizeof id, "insights|%s", external_id);
    adapter_item item = {.item_id = id, .channel = SERVICE, .target = SERVICE, .attempt = 1};
    post *p = post_new(&s->set, &item, insights_answered, c, 0);
    if (!p) {
        free(c);
        return HAECHI_ERR;
    }
    post_fail(p, ADAPTER_DECLINED, ADAPTER_ERR_NONE, 0,
              "%s: the Kakao Story API reports no impressions or reach of a story", SERVICE);
    return HAECHI_OK;
}

static const adapter_ops ops = {
    .create = ks_create,
    .destroy = ks_destroy,
    .validate = ks_validate,
    .render = ks_render,
    .send = ks_send_item,
    .cancel = ks_cancel,
    .poll_insights = ks_poll_insights,
};

const adapter_desc adapter_kakaostory = {
    .name = SERVICE,
    .summary = "note and link posts to the account's Kakao Story (Kakao Story REST API)",
    .limits = {.max_inflight = 4},
    .config_shape = &kakaostory_conf_shape,
    .config_size = sizeof(kakaostory_conf),
    .ops = &ops,
};
