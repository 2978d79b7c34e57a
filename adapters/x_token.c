/*
 * x_token.c - X's OAuth 2.0 user token, refreshed once at a time across
 * processes, the rotated pair kept in Redis (x_token.h).
 */
#include "x_token.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* The lock outlives the token request (TOKEN_TIMEOUT_MS), so that no
 * other process can spend the same refresh token while ours may still be
 * acted on; a refresher that dies holding it delays the others this long. */
#define LOCK_PX "20000"
#define TOKEN_TIMEOUT_MS 15000
/* After an early refresh failed for a passing reason, the next try. */
#define RETRY_EARLY_MS 30000
#define PEEK_MS 250
#define PEEK_TRIES 80 /* 20 s of waiting for another process's refresh */
/* Token requests per renewal: the first, and one more with a pair another
 * process stored while ours was being refused. */
#define POSTS_MAX 2

struct x_token {
    adapter_env env;
    char *token_url, *client_id, *client_secret, *seed, *seed_field;
    char seed_sha[65];
    long long margin_ms;

    char *access, *refresh;
    long long expires_at_ms; /* 0: unknown (the config's access token): used until a 401 */
    long long refresh_at_ms;
    unsigned long gen;     /* counts access tokens: a 401 names the one it refused */
    unsigned long refused; /* the generation a 401 came back for, during a renewal; 0: none */

    int loaded; /* the Redis copy has been read once */
    int busy;   /* a renewal is under way */
    int locked; /* this process holds the refresh lock */
    int peeks, posts;
    char nonce[64];
    char key[256], lock_key[272];

    struct event *answer_ev, *peek_ev;
    int ok, transient;
    char why[256];
    char refusal[256]; /* why X refused the refresh token, while Redis is read */

    outbound_req *req;
    int pending; /* Redis replies and the token request still owed to this struct */
    int dead;
    x_token_ready_fn *ready;
    void *owner;
};

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void set_str(char **to, const char *from)
{
    wipe_free(*to);
    *to = dup_or_null(from);
}

static void destroy(x_token *t)
{
    if (t->answer_ev)
        event_free(t->answer_ev);
    if (t->peek_ev)
        event_free(t->peek_ev);
    free(t->token_url);
    free(t->client_id);
    free(t->seed_field);
    wipe_free(t->client_secret);
    wipe_free(t->seed);
    wipe_free(t->access);
    wipe_free(t->refresh);
    free(t);
}

/* A reply owed to T came back: 1 when T is gone and the caller must stop. */
static int returned(x_token *t)
{
    t->pending--;
    if (!t->dead)
        return 0;
    if (t->pending == 0)
        destroy(t);
    return 1;
}

void x_token_free(x_token *t)
{
    if (!t)
        return;
    t->dead = 1;
    event_del(t->answer_ev);
    event_del(t->peek_ev);
    if (t->req) {
        /* No late callback: only Redis replies may still come back. */
        outbound_abandon(t->req);
        t->req = NULL;
        t->pending--;
    }
    if (t->pending == 0)
        destroy(t);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int len = sizeof md;
    out[0] = '\0';
    if (!s || EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1)
        return;
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void answer_fired(evutil_socket_t fd, short what, void *arg);
static void peek_fired(evutil_socket_t fd, short what, void *arg);

x_token *x_token_new(const adapter_env *env, const x_token_conf *c, x_token_ready_fn *ready,
                     void *owner)
{
    static unsigned counter;
    x_token *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->env = *env;
    t->ready = ready;
    t->owner = owner;
    t->margin_ms = c->margin_ms;
    t->token_url = dup_or_null(c->token_url);
    t->client_id = dup_or_null(c->client_id);
    t->seed_field = dup_or_null(c->seed_field ? c->seed_field : "refresh_token_env");
    t->client_secret = dup_or_null(c->client_secret);
    t->seed = dup_or_null(c->seed);
    t->access = dup_or_null(c->access_token);
    t->refresh = dup_or_null(c->seed);
    t->gen = 1;
    sha256_hex(t->seed, t->seed_sha);
    snprintf(t->key, sizeof t->key, "%scred:x:%s", env->engine_prefix ? env->engine_prefix : "",
             c->client_id ? c->client_id : "");
    snprintf(t->lock_key, sizeof t->lock_key, "%s:lock", t->key);
    snprintf(t->nonce, sizeof t->nonce, "%ld-%lld-%u", (long)getpid(), (long long)clock_mono_ms(),
             ++counter);
    if (env->base) {
        t->answer_ev = evtimer_new(env->base, answer_fired, t);
        t->peek_ev = evtimer_new(env->base, peek_fired, t);
    }
    if (!t->token_url || !t->client_id || !t->seed_field || !t->answer_ev || !t->peek_ev ||
        (c->seed && *c->seed && !t->seed) || (c->access_token && *c->access_token && !t->access)) {
        destroy(t);
        return NULL;
    }
    /* Without Redis (a test, a one-off tool) the pair lives in memory only. */
    t->loaded = env->redis == NULL;
    return t;
}

const char *x_token_key(const x_token *t)
{
    return t->key;
}

const char *x_token_current(x_token *t, long long now_ms, unsigned long *gen)
{
    if (t->dead || !t->loaded || !t->access)
        return NULL;
    if (t->expires_at_ms > 0 && now_ms >= t->refresh_at_ms)
        return NULL;
    if (gen)
        *gen = t->gen;
    return t->access;
}

/* A new access token: every change counts, so that a 401 for an older
 * one is not taken for a refusal of this one. */
static void set_access(x_token *t, const char *access)
{
    set_str(&t->access, access);
    t->gen++;
}

/* ---- ending a renewal ------------------------------------------------------- */

static void answer_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    x_token *t = arg;
    char why[sizeof t->why];
    int ok = t->ok, transient = t->transient;
    memcpy(why, t->why, sizeof why);
    t->ready(t->owner, ok, transient, why);
}

static void unlock(x_token *t);

/* Ends the renewal; ready() runs from the loop, never inside a call. */
static void finish(x_token *t, int ok, int transient, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finish(x_token *t, int ok, int transient, const char *fmt, ...)
{
    va_list ap;
    long long now = clock_wall_ms();
    unlock(t);
    va_start(ap, fmt);
    vsnprintf(t->why, sizeof t->why, fmt, ap);
    va_end(ap);
    if (!ok && transient && t->access && t->gen != t->refused && t->expires_at_ms > now + 1000) {
        /* An early refresh that could not be made: the token still works
         * until it expires, so use it and try again a little later. */
        log_warn("x: %s; the access token is used until it expires, in %lld s", t->why,
                 (t->expires_at_ms - now) / 1000);
        t->refresh_at_ms = now + RETRY_EARLY_MS < t->expires_at_ms ? now + RETRY_EARLY_MS
                                                                   : t->expires_at_ms - 1000;
        ok = 1;
    }
    t->busy = 0;
    t->refused = 0;
    t->ok = ok;
    t->transient = transient;
    struct timeval at_once = {0, 0};
    if (evtimer_add(t->answer_ev, &at_once) != 0)
        answer_fired(-1, 0, t);
}

/* A usable token, not the one X just refused. */
static int usable(x_token *t)
{
    return x_token_current(t, clock_wall_ms(), NULL) && t->gen != t->refused;
}

static void redis_down(x_token *t, int rc, const char *what)
{
    finish(t, 0, 1, "x: Redis unavailable (%s) while %s %s",
           t->env.redis ? rconn_refusal(t->env.redis, rc) : "none", what, t->key);
}

/* ---- the Redis copy ------------------------------------------------------------ */

static const char *hash_field(const redisReply *r, const char *name)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0 &&
            v->type == REDIS_REPLY_STRING)
            return v->str;
    }
    return NULL;
}

static void set_expiry(x_token *t, long long expires_at_ms, long long lifetime_ms)
{
    long long margin = t->margin_ms;
    /* A short-lived token (a stand-in's) is refreshed half-way, not at once. */
    if (lifetime_ms > 0 && margin > lifetime_ms / 2)
        margin = lifetime_ms / 2;
    t->expires_at_ms = expires_at_ms;
    t->refresh_at_ms = expires_at_ms - margin;
}

/*
 * Takes the pair Redis holds when it is not ours: another process (or an
 * earlier run) rotated it. The first read ignores a pair grown from an
 * older seed: the operator has since put a new refresh token in the config.
 * Returns 1 when the pair changed.
 */
static int adopt(x_token *t, const redisReply *r, int first)
{
    const char *refresh = hash_field(r, "refresh_token");
    const char *access = hash_field(r, "access_token");
    const char *expires = hash_field(r, "expires_at_ms");
    const char *seed_sha = hash_field(r, "seed_sha256");
    if (!refresh || !*refresh)
        return 0;
    if (first && t->seed && seed_sha && strcmp(seed_sha, t->seed_sha) != 0) {
        log_info("x: the configured refresh token is new: it replaces the pair kept in %s", t->key);
        return 0;
    }
    int same = t->refresh && strcmp(refresh, t->refresh) == 0 && access && t->access &&
               strcmp(access, t->access) == 0;
    if (same)
        return 0;
    set_str(&t->refresh, refresh);
    set_access(t, access);
    set_expiry(t, expires ? strtoll(expires, NULL, 10) : 0, 0);
    if (t->expires_at_ms == 0 && t->access)
        t->refresh_at_ms = 0;
    return 1;
}

static int hgetall(x_token *t, rconn_fn *fn)
{
    const char *argv[] = {"HGETALL", t->key};
    int rc = rconn_command(t->env.redis, fn, t, 2, argv, NULL);
    if (rc == 0)
        t->pending++;
    return rc;
}

static void lock(x_token *t);
static void post_token(x_token *t);

/* The answer to a read of the stored pair: 0 when there is nothing to do
 * with it (this waiter is gone, or Redis said no: the waiters are told). */
static int pair_read(x_token *t, redisReply *reply, const char *error)
{
    if (returned(t))
        return 0;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        finish(t, 0, 1, "x: could not read the token pair from %s: %s", t->key,
               reply ? reply->str : error);
        return 0;
    }
    return 1;
}

static void loaded(redisReply *reply, const char *error, void *arg)
{
    x_token *t = arg;
    if (!pair_read(t, reply, error))
        return;
    adopt(t, reply, 1);
    t->loaded = 1;
    if (usable(t))
        finish(t, 1, 0, "token from Redis");
    else
        lock(t);
}

static void unlocked(redisReply *reply, const char *error, void *arg)
{
    (void)reply;
    (void)error;
    returned(arg);
}

/* Compare and delete: a lock that expired and was taken by another
 * process is not ours to release. */
static const char UNLOCK_LUA[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                 "redis.call('DEL', KEYS[1]) end return 1";

static void unlock(x_token *t)
{
    if (!t->locked)
        return;
    t->locked = 0;
    const char *argv[] = {"EVAL", UNLOCK_LUA, "1", t->lock_key, t->nonce};
    if (rconn_command(t->env.redis, unlocked, t, 5, argv, NULL) == 0)
        t->pending++;
}

static void rechecked(redisReply *reply, const char *error, void *arg)
{
    x_token *t = arg;
    if (!pair_read(t, reply, error))
        return;
    adopt(t, reply, 0);
    if (usable(t))
        finish(t, 1, 0, "token refreshed by another process");
    else
        post_token(t);
}

static void peeked(redisReply *reply, const char *error, void *arg)
{
    x_token *t = arg;
    (void)error;
    if (returned(t))
        return;
    if (reply && reply->type != REDIS_REPLY_ERROR)
        adopt(t, reply, 0);
    if (usable(t))
        finish(t, 1, 0, "token refreshed by another process");
    else
        lock(t);
}

static void peek_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    x_token *t = arg;
    int rc = hgetall(t, peeked);
    if (rc != 0)
        redis_down(t, rc, "reading");
}

static void lock_answered(redisReply *reply, const char *error, void *arg)
{
    x_token *t = arg;
    if (returned(t))
        return;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        finish(t, 0, 1, "x: could not take the refresh lock %s: %s", t->lock_key,
               reply ? reply->str : error);
        return;
    }
    if (reply->type == REDIS_REPLY_STATUS) {
        t->locked = 1;
        /* Someone may have refreshed between our last read and the lock. */
        int rc = hgetall(t, rechecked);
        if (rc != 0)
            redis_down(t, rc, "reading");
        return;
    }
    /* Another process is refreshing: wait for its pair rather than spend ours. */
    if (++t->peeks > PEEK_TRIES) {
        finish(t, 0, 1, "x: another process has held the token refresh lock %s for %d s",
               t->lock_key, PEEK_TRIES * PEEK_MS / 1000);
        return;
    }
    struct timeval tv = {0, PEEK_MS * 1000};
    if (evtimer_add(t->peek_ev, &tv) != 0)
        finish(t, 0, 1, "x: no timer for the token refresh");
}

static void lock(x_token *t)
{
    if (!t->env.redis) {
        post_token(t);
        return;
    }
    const char *argv[] = {"SET", t->lock_key, t->nonce, "NX", "PX", LOCK_PX};
    int rc = rconn_command(t->env.redis, lock_answered, t, 6, argv, NULL);
    if (rc == 0)
        t->pending++;
    else
        redis_down(t, rc, "locking");
}

/* ---- the token request ------------------------------------------------------------ */

/* Percent-encodes S for a form body or HTTP Basic (RFC 6749 2.3.1). */
static void form_escape(char *out, size_t len, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* Stores the new pair and releases the lock in one step, so that no
 * process can take the lock and read the old pair in between. */
static const char STORE_LUA[] =
    "redis.call('HSET', KEYS[1], 'access_token', ARGV[2], 'refresh_token', ARGV[3], "
    "'expires_at_ms', ARGV[4], 'seed_sha256', ARGV[5]) "
    "if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end return 1";

static void stored(redisReply *reply, const char *error, void *arg)
{
    x_token *t = arg;
    if (returned(t))
        return;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("x: the rotated token pair could not be stored in %s (%s): other processes "
                 "and restarts will find the old, dead one",
                 t->key, reply ? reply->str : error);
    finish(t, 1, 0, "token refreshed");
}

static void store(x_token *t)
{
    char expires[24];
    if (!t->env.redis) {
        finish(t, 1, 0, "token refreshed");
        return;
    }
    snprintf(expires, sizeof expires, "%lld", t->expires_at_ms);
    const char *argv[] = {"EVAL",   STORE_LUA, "2",        t->key,  t->lock_key,
                          t->nonce, t->access, t->refresh, expires, t->seed_sha};
    t->locked = 0; /* the script releases it */
    int rc = rconn_command(t->env.redis, stored, t, 10, argv, NULL);
    if (rc == 0) {
        t->pending++;
        return;
    }
    log_warn("x: the rotated token pair could not be stored in %s (%s): other processes and "
             "restarts will find the old, dead one",
             t->key, rconn_refusal(t->env.redis, rc));
    finish(t, 1, 0, "token refreshed (not stored)");
}

static void took_answer(x_token *t, const json_t *body)
{
    const char *access = json_string_value(json_object_get(body, "access_token"));
    const char *refresh = json_string_value(json_object_get(body, "refresh_token"));
    json_int_t expires_in = json_integer_value(json_object_get(body, "expires_in"));
    if (!access || !*access) {
        finish(t, 0, 1, "x: the token endpoint answered without an access_token");
        return;
    }
    set_access(t, access);
    if (refresh && *refresh) /* rotated: the one we sent is dead now */
        set_str(&t->refresh, refresh);
    long long now = clock_wall_ms();
    if (expires_in > 0)
        set_expiry(t, now + (long long)expires_in * 1000, (long long)expires_in * 1000);
    else
        set_expiry(t, now + 7200000LL, 7200000LL); /* X's documented two hours */
    store(t);
}

/* The operator's words for a refused refresh, kept until Redis has been read. */
static void refusal_reason(x_token *t, int status, const json_t *body)
{
    const char *error = json_string_value(json_object_get(body, "error"));
    const char *desc = json_string_value(json_object_get(body, "error_description"));
    if (error && strcmp(error, "invalid_client") == 0)
        snprintf(t->refusal, sizeof t->refusal,
                 "x: the token endpoint refused the client (HTTP %d invalid_client%s%.60s): "
                 "check client_id and client_secret_env/client_secret_file",
                 status, desc ? ": " : "", desc ? desc : "");
    else
        snprintf(t->refusal, sizeof t->refusal,
                 "x: the refresh token was refused (HTTP %d %.24s%s%.48s): authorise the app "
                 "again and put the new refresh token in %.60s",
                 status, error ? error : "", desc ? ": " : "", desc ? desc : "", t->seed_field);
}

static void after_refusal(redisReply *reply, const char *error, void *arg);

static void token_answered(const outbound_response *r, void *arg)
{
    x_token *t = arg;
    t->req = NULL;
    if (returned(t))
        return;
    if (r->result != OUTBOUND_OK) {
        finish(t, 0, 1, "x: token request: %.200s", r->error[0] ? r->error : "no answer");
        return;
    }
    json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
    if (r->status == 200) {
        took_answer(t, body);
    } else if (r->status == 400 || r->status == 401) {
        /* Refused: perhaps another process spent this refresh token first
         * and kept its pair in Redis; look before asking an operator. */
        refusal_reason(t, r->status, body);
        if (!t->env.redis || t->posts >= POSTS_MAX || hgetall(t, after_refusal) != 0)
            finish(t, 0, 0, "%s", t->refusal);
    } else {
        finish(t, 0, 1, "x: the token endpoint answered HTTP %d", r->status);
    }
    json_decref(body);
}

static void after_refusal(redisReply *reply, const char *error, void *arg)
{
    x_token *t = arg;
    (void)error;
    if (returned(t))
        return;
    if (reply && reply->type != REDIS_REPLY_ERROR && adopt(t, reply, 0)) {
        if (usable(t))
            finish(t, 1, 0, "token refreshed by another process");
        else
            post_token(t); /* a newer refresh token: ours was the dead one */
        return;
    }
    finish(t, 0, 0, "%s", t->refusal);
}

static void post_token(x_token *t)
{
    if (!t->refresh) {
        finish(t, 0, 0,
               "x: no refresh token: none in %s and none configured; authorise the app with "
               "offline.access and put its refresh token in %.60s",
               t->key, t->seed_field);
        return;
    }
    if (!t->env.http) {
        finish(t, 0, 1, "x: no outbound client for the token request");
        return;
    }
    size_t cap = strlen(t->refresh) * 3 + strlen(t->client_id) * 3 + 96;
    char *form = malloc(cap), *rt = malloc(strlen(t->refresh) * 3 + 1),
         *cid = malloc(strlen(t->client_id) * 3 + 1);
    char auth[1200] = "", err[256];
    if (!form || !rt || !cid) {
        free(form);
        free(rt);
        free(cid);
        finish(t, 0, 1, "x: out of memory");
        return;
    }
    form_escape(rt, strlen(t->refresh) * 3 + 1, t->refresh);
    form_escape(cid, strlen(t->client_id) * 3 + 1, t->client_id);
    snprintf(form, cap, "grant_type=refresh_token&refresh_token=%s&client_id=%s", rt, cid);
    if (t->client_secret) {
        /* Confidential clients authenticate with HTTP Basic (RFC 6749 2.3.1). */
        char user[400], pass[400], pair[810];
        unsigned char b64[1100];
        form_escape(user, sizeof user, t->client_id);
        form_escape(pass, sizeof pass, t->client_secret);
        int n = snprintf(pair, sizeof pair, "%s:%s", user, pass);
        if (n > 0 && (size_t)n < sizeof pair) {
            EVP_EncodeBlock(b64, (const unsigned char *)pair, n);
            snprintf(auth, sizeof auth, "Authorization: Basic %s", (const char *)b64);
        }
        explicit_bzero(pass, sizeof pass);
        explicit_bzero(pair, sizeof pair);
        explicit_bzero(b64, sizeof b64);
    }
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "Accept: application/json", auth[0] ? auth : NULL, NULL};
    outbound_request rq = {.method = "POST",
                           .url = t->token_url,
                           .headers = headers,
                           .body = form,
                           .body_len = strlen(form),
                           .timeout_ms = TOKEN_TIMEOUT_MS};
    t->posts++;
    t->req = outbound_http(t->env.http, &rq, token_answered, t, err, sizeof err);
    explicit_bzero(form, strlen(form));
    explicit_bzero(rt, strlen(rt));
    explicit_bzero(auth, sizeof auth);
    free(form);
    free(rt);
    free(cid);
    if (!t->req) {
        finish(t, 0, 1, "x: token request: %.200s", err);
        return;
    }
    t->pending++;
}

void x_token_renew(x_token *t, unsigned long refused)
{
    if (t->dead)
        return;
    if (refused && refused == t->gen) {
        t->refused = refused;
    } else if (refused && !t->busy && usable(t)) {
        /* Already replaced since that request went out. */
        finish(t, 1, 0, "token already refreshed");
        return;
    }
    if (t->busy)
        return;
    t->busy = 1;
    t->posts = 0;
    t->peeks = 0;
    if (!t->loaded) {
        int rc = hgetall(t, loaded);
        if (rc != 0)
            redis_down(t, rc, "reading");
        return;
    }
    if (usable(t)) {
        finish(t, 1, 0, "token still valid");
        return;
    }
    lock(t);
}
