/*
 * x.c - the "x" adapter: posts to X (API v2, POST /2/tweets) with an
 * OAuth 2.0 user token (shared/CHANNELS.md 1).
 *
 * A send is four steps on the outbound client (post.h): the follower
 * count (cached), the look-up of an earlier post when the last attempt's
 * outcome is unknown, the create, and its answer. Every step first needs
 * an access token: x_token.h keeps it, refreshing it across processes and
 * keeping the rotated pair in Redis; sends that need one while a refresh
 * runs wait in a queue and go on when it ends. What X's answers mean
 * (status and problem-details body, the rate-limit headers) is in
 * x_rules.h, as pure functions.
 */
#include "x.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "config.h"
#include "isotime.h"
#include "post.h"
#include "sns_text.h"
#include "x_rules.h"
#include "x_token.h"

#define X_URL_DEFAULT "https://api.x.com"
#define X_TOKEN_URL_DEFAULT "https://api.x.com/2/oauth2/token"
#define X_TEXT_MAX 4096 /* bytes: 280 weighted characters and long links fit */

/* ---- config -------------------------------------------------------------------- */

static const jfield x_fields[] = {
    {.name = "url", .kind = JK_STRING, .min = 1, .max = 511, JF_STORE(x_conf, url)},
    {.name = "token_url", .kind = JK_STRING, .min = 1, .max = 511, JF_STORE(x_conf, token_url)},
    {.name = "client_id",
     .kind = JK_STRING,
     .required = 1,
     .min = 1,
     .max = 127,
     JF_STORE(x_conf, client_id)},
    {.name = "client_secret_env",
     .kind = JK_STRING,
     .min = 1,
     .max = 127,
     JF_STORE(x_conf, client_secret_env)},
    {.name = "client_secret_file",
     .kind = JK_STRING,
     .min = 1,
     .max = 1023,
     JF_STORE(x_conf, client_secret_file)},
    {.name = "token_env", .kind = JK_STRING, .min = 1, .max = 127, JF_STORE(x_conf, token_env)},
    {.name = "token_file", .kind = JK_STRING, .min = 1, .max = 1023, JF_STORE(x_conf, token_file)},
    {.name = "refresh_token_env",
     .kind = JK_STRING,
     .min = 1,
     .max = 127,
     JF_STORE(x_conf, refresh_token_env)},
    {.name = "refresh_token_file",
     .kind = JK_STRING,
     .min = 1,
     .max = 1023,
     JF_STORE(x_conf, refresh_token_file)},
    {.name = "user_id", .kind = JK_STRING, .min = 1, .max = 31, JF_STORE(x_conf, user_id)},
    {.name = "lookup_minutes",
     .kind = JK_INT,
     .min = 1,
     .max = 1440,
     JF_STORE(x_conf, lookup_minutes)},
    {.name = "reach_cache_s",
     .kind = JK_INT,
     .min = 1,
     .max = 86400,
     JF_STORE(x_conf, reach_cache_s)},
    {.name = "refresh_margin_s",
     .kind = JK_INT,
     .min = 1,
     .max = 7000,
     JF_STORE(x_conf, refresh_margin_s)},
    {0}};
const jobject x_conf_shape = {.fields = x_fields};

/* ---- state ------------------------------------------------------------------------ */

typedef struct x_send x_send;

typedef struct x_state {
    adapter_env env;
    x_conf conf;
    post_set posts;
    x_token *token;
    TAILQ_HEAD(, x_send) waiting; /* sends and polls waiting for a token */
    char user_id[32];             /* configured, or read from /2/users/me */
    long long reach;              /* followers at the last read */
    long long reach_at_ms;        /* when; 0: never read */
    long long hold_until_ms;      /* a window is used up: no call before this */
    long long reads_until_ms;     /* the reads' own window is used up (a 429 on a read) */
    char hold_why[96];
} x_state;

/* What an insights poll answers to, kept apart from the post's data
 * (which is freed before the post's done runs). */
typedef struct x_poll {
    adapter_insights fig;
    adapter_insights_fn *done;
    void *arg;
} x_poll;

/* The service's part of one send or poll (post_data()). */
struct x_send {
    TAILQ_ENTRY(x_send) link;
    post *p;
    x_state *s;
    void (*resume)(x_send *xs); /* the step to run once a token is at hand */
    unsigned long gen;          /* the token generation its last request carried */
    int reauthed;               /* a 401 was answered with a refresh once */
    int refused_duplicate;      /* X called the post a duplicate: the look-up decides */
    char refusal[200];          /* X's words for it */
    x_poll *poll;               /* an insights poll, not a send */
    char tweet_id[64];          /* the poll's post */
    char text[X_TEXT_MAX];
};

static void token_ready(void *owner, int ok, int transient, const char *why);

/* Reads one optional secret (FIELD_env, else FIELD_file); a field that is
 * set must be readable, and the reason names it. */
static int secret(const char *env, const char *file, const char *field, char **out, char *err,
                  size_t errlen)
{
    char why[256];
    *out = NULL;
    if (!*env && !*file)
        return 0;
    *out = config_secret(env, file, why, sizeof why);
    if (*out)
        return 0;
    snprintf(err, errlen, "%s_%s: %s", field, *env ? "env" : "file", why);
    return -1;
}

static void wipe(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void x_destroy(void *state);

static void *x_create(const adapter_env *env, const void *conf, char *err, size_t errlen)
{
    x_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->env = *env;
    if (conf)
        s->conf = *(const x_conf *)conf;
    x_conf *c = &s->conf;
    if (!c->url[0])
        snprintf(c->url, sizeof c->url, "%s", X_URL_DEFAULT);
    if (!c->token_url[0])
        snprintf(c->token_url, sizeof c->token_url, "%s", X_TOKEN_URL_DEFAULT);
    c->lookup_minutes = c->lookup_minutes ? c->lookup_minutes : 10;
    c->reach_cache_s = c->reach_cache_s ? c->reach_cache_s : 300;
    c->refresh_margin_s = c->refresh_margin_s ? c->refresh_margin_s : 300;
    snprintf(s->user_id, sizeof s->user_id, "%s", c->user_id);
    post_set_init(&s->posts, env);
    TAILQ_INIT(&s->waiting);
    if (env->offline)
        return s; /* render only: no secret is read */

    char *access = NULL, *seed = NULL, *client_secret = NULL, field[1200];
    int bad =
        secret(c->refresh_token_env, c->refresh_token_file, "refresh_token", &seed, err, errlen) ||
        secret(c->token_env, c->token_file, "token", &access, err, errlen) ||
        secret(c->client_secret_env, c->client_secret_file, "client_secret", &client_secret, err,
               errlen);
    if (c->refresh_token_env[0])
        snprintf(field, sizeof field, "refresh_token_env (%s)", c->refresh_token_env);
    else if (c->refresh_token_file[0])
        snprintf(field, sizeof field, "refresh_token_file (%s)", c->refresh_token_file);
    else
        snprintf(field, sizeof field, "refresh_token_env or refresh_token_file");
    x_token_conf tc = {.token_url = c->token_url,
                       .client_id = c->client_id,
                       .client_secret = client_secret,
                       .access_token = access,
                       .seed = seed,
                       .seed_field = field,
                       .margin_ms = c->refresh_margin_s * 1000};
    if (!bad && !(s->token = x_token_new(env, &tc, token_ready, s)))
        snprintf(err, errlen, "out of memory");
    wipe(access);
    wipe(seed);
    wipe(client_secret);
    if (!s->token) {
        x_destroy(s);
        return NULL;
    }
    return s;
}

static void x_destroy(void *state)
{
    x_state *s = state;
    if (!s)
        return;
    /* Forget the queue first: post_set_close frees the sends it holds. */
    TAILQ_INIT(&s->waiting);
    post_set_close(&s->posts);
    x_token_free(s->token);
    free(s);
}

/* ---- validate and render -------------------------------------------------------- */

static void x_validate(const json_t *section, const json_t *doc, const char *path, diag_list *errs,
                       diag_list *notes)
{
    /* Only an sns section carries a post for X (the contract suite hands
     * every channel's section to every adapter). */
    if (json_object_get(section, "networks"))
        sns_text_check(section, doc, "x", path, errs, notes);
}

/*
 * The text X gets: the network's composed post (sns_text.h) in the first
 * language that has one (ko before en: X takes one post, the city's
 * language first), with ITEM's release's own words when it has them. 0,
 * or -1 with a reason in ERR.
 */
static int compose(const adapter_item *item, char *buf, size_t len, char *err, size_t errlen)
{
    const char *langs[SNS_LANGS_MAX];
    sns_post sp;
    if (sns_post_languages(item->campaign, "x", langs) == 0 ||
        sns_post_compose(item->campaign, item->release_id, "x", langs[0], &sp) != 0) {
        snprintf(err, errlen, "x: the campaign has no text for X");
        return -1;
    }
    int fits = sp.len < len;
    if (fits)
        memcpy(buf, sp.text, sp.len + 1);
    sns_post_release(&sp);
    if (!fits)
        snprintf(err, errlen, "x: the post text is over %zu bytes", len - 1);
    return fits ? 0 : -1;
}

static json_t *counts(const char *text)
{
    sns_counts n;
    const sns_rules *rules = sns_rules_for("x");
    sns_text_count(rules, text, strlen(text), &n);
    return json_pack("{s:I, s:I, s:s}", "weighted", (json_int_t)n.length, "limit",
                     (json_int_t)rules->max_length, "unit", "weighted characters");
}

static json_t *x_render(void *state, const adapter_item *item, char *err, size_t errlen)
{
    (void)state;
    char text[X_TEXT_MAX];
    if (compose(item, text, sizeof text, err, errlen) != 0)
        return NULL;
    json_t *r = json_pack("{s:s, s:s, s:s, s:{s:s}, s:o}", "network", "x", "method", "POST", "path",
                          "/2/tweets", "body", "text", text, "counts", counts(text));
    if (!r)
        snprintf(err, errlen, "out of memory");
    return r;
}

/* ---- outcomes --------------------------------------------------------------------- */

/* What each class of answer to the create means (x_rules.h). */
static const struct {
    x_class c;
    adapter_status st;
    adapter_error e;
    const char *what; /* before the service's own words */
} answers[] = {
    {X_RATE_LIMITED, ADAPTER_AGAIN, ADAPTER_ERR_RATE_LIMIT, "rate limited"},
    {X_USAGE_CAPPED, ADAPTER_AGAIN, ADAPTER_ERR_RATE_LIMIT,
     "the app's monthly post cap is used up (usage-capped): posts wait for it to reset; a higher "
     "access tier raises it"},
    {X_UNAUTHORIZED, ADAPTER_FAILED, ADAPTER_ERR_AUTH,
     "the access token was refused again right after a refresh: check the app's scopes "
     "(tweet.read tweet.write users.read offline.access)"},
    {X_APP_ONLY, ADAPTER_FAILED, ADAPTER_ERR_AUTH,
     "an app-only token was configured; X needs a user token (OAuth 2.0 user context) in "
     "token_env/token_file and refresh_token_env/refresh_token_file"},
    {X_DUPLICATE, ADAPTER_FAILED, ADAPTER_ERR_REJECTED, "refused as a duplicate"},
    {X_FORBIDDEN, ADAPTER_FAILED, ADAPTER_ERR_REJECTED, "refused"},
    {X_INVALID, ADAPTER_FAILED, ADAPTER_ERR_INVALID, "invalid request"},
    {X_SERVER, ADAPTER_AGAIN, ADAPTER_ERR_NETWORK, "server error"},
    {X_OTHER, ADAPTER_FAILED, ADAPTER_ERR_REJECTED, "unexpected answer"},
};

static void finish_class(x_send *xs, x_class c, int status, const char *msg, long long delay_ms)
{
    size_t i = 0;
    while (i + 1 < sizeof answers / sizeof answers[0] && answers[i].c != c)
        i++;
    adapter_outcome o = {.status = answers[i].st, .error = answers[i].e, .remote_code = status};
    if (c == X_RATE_LIMITED || c == X_USAGE_CAPPED) {
        o.scope = ADAPTER_SCOPE_CHANNEL;
        o.retry_after_ms = delay_ms;
        o.hold = c == X_USAGE_CAPPED; /* a quota, not a failure: no attempt used */
    }
    snprintf(o.reason, sizeof o.reason, "x: %s (HTTP %d: %.120s)", answers[i].what, status, msg);
    post_finish(xs->p, &o);
}

static void finish_held(x_send *xs, long long delay_ms)
{
    adapter_outcome o = {.status = ADAPTER_AGAIN,
                         .error = ADAPTER_ERR_RATE_LIMIT,
                         .scope = ADAPTER_SCOPE_CHANNEL,
                         .retry_after_ms = delay_ms,
                         .hold = 1};
    snprintf(o.reason, sizeof o.reason, "x: %s; not called until it resets in %lld s",
             xs->s->hold_why, (delay_ms + 999) / 1000);
    post_finish(xs->p, &o);
}

/* ---- requests ------------------------------------------------------------------------ */

static const char *header_of(const void *r, const char *name)
{
    return outbound_header(r, name);
}

/* Makes a request with the current token; the answer goes to NEXT. */
static void request(x_send *xs, const char *method, const char *path, const char *body,
                    post_step_fn *next)
{
    x_state *s = xs->s;
    const char *token = x_token_current(s->token, post_now_ms(), &xs->gen);
    char url[1024], auth[2200];
    if (!token ||
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token) >= (int)sizeof auth) {
        post_fail(xs->p, ADAPTER_AGAIN, ADAPTER_ERR_AUTH, 0, "x: no usable access token");
        return;
    }
    snprintf(url, sizeof url, "%s%s", s->conf.url, path);
    const char *headers[] = {auth, "Accept: application/json",
                             body ? "Content-Type: application/json" : NULL, NULL};
    outbound_request rq = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = body,
                           .body_len = body ? strlen(body) : 0};
    post_request(xs->p, &rq, next);
    explicit_bzero(auth, sizeof auth);
}

/* Runs STEP now when a token is at hand, else once the renewal ends. */
static void with_token(x_send *xs, void (*step)(x_send *xs), unsigned long refused)
{
    x_state *s = xs->s;
    if (!refused && x_token_current(s->token, post_now_ms(), NULL)) {
        step(xs);
        return;
    }
    xs->resume = step;
    TAILQ_INSERT_TAIL(&s->waiting, xs, link);
    x_token_renew(s->token, refused);
}

static void token_ready(void *owner, int ok, int transient, const char *why)
{
    x_state *s = owner;
    TAILQ_HEAD(, x_send) ready = TAILQ_HEAD_INITIALIZER(ready);
    TAILQ_CONCAT(&ready, &s->waiting, link);
    x_send *xs;
    while ((xs = TAILQ_FIRST(&ready))) {
        TAILQ_REMOVE(&ready, xs, link);
        if (ok)
            xs->resume(xs);
        else
            post_fail(xs->p, transient ? ADAPTER_AGAIN : ADAPTER_FAILED,
                      transient ? ADAPTER_ERR_NETWORK : ADAPTER_ERR_AUTH, 0, "%s", why);
    }
}

/* A 401: refresh once and run STEP again; a second one is final. */
static int unauthorized(x_send *xs, const outbound_response *r, void (*step)(x_send *xs))
{
    if (r->status != 401)
        return 0;
    if (xs->reauthed) {
        finish_class(xs, X_UNAUTHORIZED, 401, "Unauthorized", 0);
        return 1;
    }
    xs->reauthed = 1;
    with_token(xs, step, xs->gen);
    return 1;
}

/* ---- the send's steps: reach_read -> lookup -> create -> answered --------------------- */

static void lookup(x_send *xs);
static void create(x_send *xs);
static void reach_read(x_send *xs);

/* X limits each endpoint on its own: a 429 on a read (the follower
 * count, the look-up) holds back the reads, never the posts. */
static void reads_limited(x_state *s, const outbound_response *r)
{
    if (r->status != 429)
        return;
    x_limits lim;
    x_limits_read(&lim, header_of, r);
    s->reads_until_ms = post_now_ms() + x_limits_wait_ms(&lim, post_now_ms());
}

static void after_reach(x_send *xs)
{
    /* Without the account's id there is no timeline to look in; X's own
     * duplicate refusal still keeps a second post out (answered()). */
    if (post_item(xs->p)->maybe_sent && xs->s->user_id[0] && post_now_ms() >= xs->s->reads_until_ms)
        lookup(xs);
    else
        create(xs);
}

static void reach_answered(post *p, const outbound_response *r)
{
    x_send *xs = post_data(p);
    x_state *s = xs->s;
    if (unauthorized(xs, r, reach_read))
        return;
    reads_limited(s, r);
    json_t *body = r->status == 200 ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    json_t *data = json_object_get(body, "data");
    json_t *followers = json_object_get(json_object_get(data, "public_metrics"), "followers_count");
    const char *id = json_string_value(json_object_get(data, "id"));
    if (json_is_integer(followers)) {
        s->reach = json_integer_value(followers);
        s->reach_at_ms = post_now_ms();
    }
    if (id && !s->user_id[0])
        snprintf(s->user_id, sizeof s->user_id, "%s", id);
    json_decref(body);
    after_reach(xs); /* a failed read never blocks the post */
}

static void reach_read(x_send *xs)
{
    x_state *s = xs->s;
    int fresh = s->reach_at_ms && post_now_ms() - s->reach_at_ms < s->conf.reach_cache_s * 1000;
    int limited = post_now_ms() < s->reads_until_ms;
    if (limited || (fresh && (s->user_id[0] || !post_item(xs->p)->maybe_sent))) {
        after_reach(xs);
        return;
    }
    request(xs, "GET", "/2/users/me?user.fields=public_metrics", NULL, reach_answered);
}

/* X refused the post as a duplicate and the account shows no copy since
 * lookup_minutes before the due time: an earlier release's text. (Two
 * releases with the same text inside that window count as one post: X
 * refuses the second anyway.) */
static void duplicate_not_found(x_send *xs)
{
    if (post_item(xs->p)->maybe_sent)
        /* The earlier attempt's copy is older than the window can show. */
        post_ok(xs->p, "", xs->s->reach,
                "refused as a duplicate after an unknown outcome: the earlier attempt was "
                "posted; not posted again");
    else
        finish_class(xs, X_DUPLICATE, 403, xs->refusal, 0);
}

static void lookup_answered(post *p, const outbound_response *r)
{
    x_send *xs = post_data(p);
    if (unauthorized(xs, r, lookup))
        return;
    reads_limited(xs->s, r);
    json_t *body = r->status == 200 ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(body, "data"), i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        if (id && x_text_matches(xs->text, json_string_value(json_object_get(t, "text")))) {
            post_ok(p, id, xs->s->reach,
                    xs->refused_duplicate
                        ? "refused as a duplicate, and found on the account since the due time: "
                          "this send's own post (an earlier try reached X); not posted again"
                        : "found on the account after an unknown outcome; not posted again");
            json_decref(body);
            return;
        }
    }
    json_decref(body);
    if (xs->refused_duplicate)
        duplicate_not_found(xs);
    else
        /* Not there, or the read failed: post. A post that did go through
         * is then refused by X as a duplicate, and looked for again. */
        create(xs);
}

static void lookup(x_send *xs)
{
    const adapter_item *it = post_item(xs->p);
    char since[40], path[256];
    isotime_format_utc(it->due_ms / 1000 - xs->s->conf.lookup_minutes * 60, since, sizeof since);
    snprintf(path, sizeof path,
             "/2/users/%s/tweets?start_time=%s&max_results=100&tweet.fields=created_at",
             xs->s->user_id, since);
    request(xs, "GET", path, NULL, lookup_answered);
}

static void answered(post *p, const outbound_response *r)
{
    x_send *xs = post_data(p);
    x_state *s = xs->s;
    if (unauthorized(xs, r, create))
        return;
    x_limits lim;
    char msg[200];
    long long now = post_now_ms();
    x_limits_read(&lim, header_of, r);
    json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
    x_class c = x_classify(r->status, body, msg, sizeof msg);
    const char *id = json_string_value(json_object_get(json_object_get(body, "data"), "id"));
    long long hold =
        c == X_RATE_LIMITED ? x_limits_wait_ms(&lim, now) : x_limits_hold_ms(&lim, now);
    if (hold > 0) {
        /* Later sends of this process wait without calling; the others
         * learn it from the channel's pause or their own answers. */
        s->hold_until_ms = now + hold;
        snprintf(s->hold_why, sizeof s->hold_why, "the %s rate window is used up",
                 lim.day_remaining == 0 ? "24-hour" : "15-minute");
    }
    if (c == X_CREATED && id)
        post_ok(p, id, s->reach, NULL);
    else if (c == X_CREATED)
        post_fail(p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, r->status,
                  "x: created, but the answer has no data.id");
    else if (c == X_DUPLICATE && !xs->refused_duplicate && s->user_id[0] &&
             now >= s->reads_until_ms) {
        /*
         * X keeps the id of the copy it means to itself. The copy may be
         * this send's own: an earlier attempt whose answer was lost, or a
         * request re-sent on a new connection after the first one died
         * without an answer (libcurl does that for a reused connection).
         * A copy on the account since the due time is that post.
         */
        xs->refused_duplicate = 1;
        snprintf(xs->refusal, sizeof xs->refusal, "%s", msg);
        lookup(xs);
    } else if (c == X_DUPLICATE) {
        snprintf(xs->refusal, sizeof xs->refusal, "%s", msg);
        duplicate_not_found(xs);
    } else if (c == X_USAGE_CAPPED)
        finish_class(xs, c, r->status, msg,
                     lim.day_reset_s > 0 ? x_limits_wait_ms(&lim, now) : X_DAY_MS);
    else
        finish_class(xs, c, r->status, msg, hold);
    json_decref(body);
}

static void create(x_send *xs)
{
    json_t *b = json_pack("{s:s}", "text", xs->text);
    char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body) {
        post_fail(xs->p, ADAPTER_AGAIN, ADAPTER_ERR_INTERNAL, 0, "x: out of memory");
        return;
    }
    request(xs, "POST", "/2/tweets", body, answered);
    free(body);
}

static haechi_status x_send_item(void *state, const adapter_item *item, adapter_done_fn *done,
                                 void *arg)
{
    x_state *s = state;
    post *p = post_new(&s->posts, item, done, arg, sizeof(x_send));
    if (!p)
        return HAECHI_ERR;
    x_send *xs = post_data(p);
    xs->p = p;
    xs->s = s;
    char err[256];
    long long now = post_now_ms();
    if (s->hold_until_ms > now)
        finish_held(xs, s->hold_until_ms - now);
    else if (compose(item, xs->text, sizeof xs->text, err, sizeof err) != 0)
        post_fail(p, ADAPTER_FAILED, ADAPTER_ERR_INVALID, 0, "%s", err);
    else
        with_token(xs, reach_read, 0);
    return HAECHI_OK;
}

static void x_cancel(void *state, const char *item_id)
{
    x_state *s = state;
    x_send *xs, *next;
    for (xs = TAILQ_FIRST(&s->waiting); xs; xs = next) {
        next = TAILQ_NEXT(xs, link);
        if (!item_id || strcmp(post_item(xs->p)->item_id, item_id) == 0)
            TAILQ_REMOVE(&s->waiting, xs, link);
    }
    post_set_cancel(&s->posts, item_id);
}

/* ---- insights ------------------------------------------------------------------------- */

static long long metric(const json_t *t, const char *group, const char *name)
{
    json_t *v = json_object_get(json_object_get(t, group), name);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void insights_answered(post *p, const outbound_response *r);

static void insights_read(x_send *xs)
{
    char path[256];
    snprintf(path, sizeof path,
             "/2/tweets/%s?tweet.fields=public_metrics,non_public_metrics,organic_metrics",
             xs->tweet_id);
    request(xs, "GET", path, NULL, insights_answered);
}

static void insights_answered(post *p, const outbound_response *r)
{
    x_send *xs = post_data(p);
    if (unauthorized(xs, r, insights_read))
        return;
    char msg[200];
    json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *t = json_object_get(body, "data");
    x_class c = x_classify(r->status, body, msg, sizeof msg);
    if (c == X_CREATED && t) {
        adapter_insights *f = &xs->poll->fig;
        /* The author's own figures when X gives them (posts under 30 days
         * old), else the public count. */
        f->impressions = metric(t, "non_public_metrics", "impression_count");
        if (f->impressions < 0)
            f->impressions = metric(t, "public_metrics", "impression_count");
        f->clicks = metric(t, "non_public_metrics", "url_link_clicks");
        post_ok(p, xs->tweet_id, 0, NULL);
    } else {
        x_limits lim;
        x_limits_read(&lim, header_of, r);
        finish_class(xs, c == X_CREATED ? X_OTHER : c, r->status, msg,
                     x_limits_wait_ms(&lim, post_now_ms()));
    }
    json_decref(body);
}

static void insights_done(const adapter_outcome *o, void *arg)
{
    x_poll *xp = arg;
    xp->done(o->status == ADAPTER_OK ? &xp->fig : NULL, o, xp->arg);
    free(xp);
}

static haechi_status x_poll_insights(void *state, const char *target, const char *external_id,
                                     adapter_insights_fn *done, void *arg)
{
    x_state *s = state;
    char id[300];
    if (!external_id || !*external_id || strlen(external_id) >= sizeof((x_send *)0)->tweet_id)
        return HAECHI_ERR;
    x_poll *xp = calloc(1, sizeof *xp);
    if (!xp)
        return HAECHI_ERR;
    *xp = (x_poll){.fig = {-1, -1, -1, -1}, .done = done, .arg = arg};
    snprintf(id, sizeof id, "insights|%s", external_id);
    adapter_item item = {.item_id = id, .channel = "x", .target = target ? target : "all"};
    post *p = post_new(&s->posts, &item, insights_done, xp, sizeof(x_send));
    if (!p) {
        free(xp);
        return HAECHI_ERR;
    }
    x_send *xs = post_data(p);
    xs->p = p;
    xs->s = s;
    xs->poll = xp;
    snprintf(xs->tweet_id, sizeof xs->tweet_id, "%s", external_id);
    with_token(xs, insights_read, 0);
    return HAECHI_OK;
}

static const adapter_ops x_ops = {
    .create = x_create,
    .destroy = x_destroy,
    .validate = x_validate,
    .render = x_render,
    .send = x_send_item,
    .cancel = x_cancel,
    .poll_insights = x_poll_insights,
};

const adapter_desc adapter_x = {
    .name = "x",
    .summary = "posts to X (API v2 POST /2/tweets) with a refreshed OAuth 2.0 user token",
    .flags = ADAPTER_INSIGHTS,
    .limits = {.max_inflight = 8},
    .config_shape = &x_conf_shape,
    .config_size = sizeof(x_conf),
    .ops = &x_ops,
};
