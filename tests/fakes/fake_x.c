/*
 * fake_x.c - a stand-in for the X API v2, as shared/CHANNELS.md §1 has it:
 *
 *   POST /2/tweets                  create a post (OAuth 2.0 user token)
 *   POST /2/oauth2/token            refresh_token grant; rotates both tokens
 *   GET  /2/users/me                the account, with public_metrics
 *   GET  /2/users/:id/tweets        the account's recent posts (start_time, max_results)
 *   GET  /2/tweets/:id              one post, with impressions and engagement
 *
 * One account (every user token is its token). Access tokens live 7,200 s
 * on the stand-in clock. Every answer of POST /2/tweets carries the
 * x-rate-limit-* (15-minute window) and x-user-limit-24hour-* headers, reset
 * in epoch seconds, and a 429 has no Retry-After, as X does.
 *
 * The figures of a post are a function of its age A (whole minutes, at most
 * 1,440) and the follower count F, so that tests can compute them:
 *   impressions = F * A / 4800; likes = impressions / 100;
 *   retweets = impressions / 500; replies = bookmarks = impressions / 1000;
 *   quotes = impressions / 2000; user_profile_clicks = impressions / 200.
 *
 * Options: --followers N (230000), --limit-15min N (100), --limit-24h N
 * (10000), --limit-read N (900 per 15 minutes, all GETs together),
 * --window-15min-s S (900), --overlength-status C (403, [U]),
 * --refresh-token R, --client-id C (any when unset), --app-token T,
 * --duplicate-window-s S (86400), --tco 0|1 (1: links come back as t.co),
 * --access-ttl-s S (7200; 0: access tokens never expire).
 */
#include "fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USER_ID "1233000000000000001"
#define MAX_TEXT 280

typedef struct window {
    int64_t start_ms, len_ms;
    long used, limit;
} window;

static struct {
    long followers, limit_15, limit_24, limit_read, overlength_status;
    int64_t window_15_ms, dup_window_ms, access_ttl_ms;
    int tco;
    const char *first_refresh, *client_id, *app_token;
    char refresh[64];
    json_t *posts;   /* oldest first: {id, text, raw_text, author_id, created_ms} */
    json_t *by_id;   /* id -> the post, so that a benchmark's reads stay O(1) */
    json_t *by_text; /* raw_text -> the latest post of that text */
    window w15, w24, reads;
    unsigned long serial;
} x = {
    .followers = 230000,
    .limit_15 = 100,
    .limit_24 = 10000,
    .limit_read = 900,
    .overlength_status = 403,
    .window_15_ms = 900000,
    .dup_window_ms = 86400000,
    .access_ttl_ms = 7200000,
    .tco = 1,
};

/* ---- weighted length (a small approximation of twitter-text v3) ---------- */

static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* The length of a URL (https?://\S+) at S, or 0. */
static size_t url_at(const char *s)
{
    size_t n = strncasecmp(s, "http://", 7) == 0 ? 7 : strncasecmp(s, "https://", 8) == 0 ? 8 : 0;
    if (!n || !s[n] || is_space((unsigned char)s[n]))
        return 0;
    while (s[n] && !is_space((unsigned char)s[n]))
        n++;
    return n;
}

/* One code point at S into CP; returns its byte length (1 for a stray byte). */
static size_t utf8_next(const unsigned char *s, unsigned long *cp)
{
    size_t n = s[0] < 0x80         ? 1
               : (s[0] >> 5) == 6  ? 2
               : (s[0] >> 4) == 14 ? 3
               : (s[0] >> 3) == 30 ? 4
                                   : 0;
    if (n == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = n == 1 ? s[0] : s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return i;
        }
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    return n;
}

static int weight(unsigned long cp)
{
    return cp <= 0x10FF || (cp >= 0x2000 && cp <= 0x200D) || (cp >= 0x2010 && cp <= 0x201F) ||
                   (cp >= 0x2032 && cp <= 0x2037)
               ? 1
               : 2;
}

static long weighted_length(const char *s)
{
    long total = 0;
    while (*s) {
        size_t u = url_at(s);
        unsigned long cp;
        if (u) {
            total += 23;
            s += u;
        } else {
            s += utf8_next((const unsigned char *)s, &cp);
            total += weight(cp);
        }
    }
    return total;
}

/* TEXT with every link as a t.co link (a hash of the link, so stable). */
static json_t *shown_text(const char *s)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char *out = malloc(strlen(s) * 2 + 32);
    size_t o = 0;
    while (*s) {
        size_t u = x.tco ? url_at(s) : 0;
        if (!u) {
            out[o++] = *s++;
            continue;
        }
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < u; i++)
            h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
        memcpy(out + o, "https://t.co/", 13);
        o += 13;
        for (int i = 0; i < 10; i++, h /= 62)
            out[o++] = digits[h % 62];
        s += u;
    }
    out[o] = '\0';
    json_t *t = json_string(out);
    free(out);
    return t;
}

/* ---- answers ------------------------------------------------------------- */

static json_t *problem(const char *title, const char *detail, const char *type, int status)
{
    return json_pack("{s:s,s:s,s:s,s:i}", "title", title, "detail", detail, "type", type, "status",
                     status);
}

static void invalid_request(fake_req *rq, const char *param, const char *message)
{
    json_t *body = json_pack("{s:[{s:s,s:{s:[s]}}],s:s,s:s,s:s}", "errors", "message", message,
                             "parameters", param, message, "title", "Invalid Request", "detail",
                             "One or more parameters to your request was invalid.", "type",
                             "https://api.twitter.com/2/problems/invalid-request");
    fake_reply_json(rq, 400, body, NULL);
}

static void window_roll(window *w, int64_t now)
{
    if (w->start_ms == 0 || now >= w->start_ms + w->len_ms) {
        w->start_ms = now;
        w->used = 0;
    }
}

static long window_reset_s(const window *w)
{
    return (long)((w->start_ms + w->len_ms + 999) / 1000);
}

/* The rate headers of a posting answer; RESET15/RESET24 override the resets
 * (and zero the remaining) for an injected 429. */
static void rate_headers(fake_req *rq, const window *w15, const window *w24, long reset15,
                         long reset24)
{
    fake_header(rq, "x-rate-limit-limit", "%ld", w15->limit);
    fake_header(rq, "x-rate-limit-remaining", "%ld",
                reset15                  ? 0
                : w15->limit > w15->used ? w15->limit - w15->used
                                         : 0);
    fake_header(rq, "x-rate-limit-reset", "%ld", reset15 ? reset15 : window_reset_s(w15));
    if (!w24)
        return;
    fake_header(rq, "x-user-limit-24hour-limit", "%ld", w24->limit);
    fake_header(rq, "x-user-limit-24hour-remaining", "%ld",
                reset24                  ? 0
                : w24->limit > w24->used ? w24->limit - w24->used
                                         : 0);
    fake_header(rq, "x-user-limit-24hour-reset", "%ld", reset24 ? reset24 : window_reset_s(w24));
}

static int posting(const fake_req *rq)
{
    return strcmp(rq->path, "/2/tweets") == 0 && strcmp(rq->method, "POST") == 0;
}

static void too_many(fake_req *rq)
{
    fake_reply_json(rq, 429, problem("Too Many Requests", "Too Many Requests", "about:blank", 429),
                    NULL);
}

/* An injected 429: the exhausted window (the 15-minute one, or DAILY the
 * 24-hour one) says remaining 0 and resets after the fault's ms, or at its
 * own end without them. */
static void injected_429(fake_req *rq, int daily)
{
    long at = rq->fault_ms > 0 ? (long)((rq->now_ms + rq->fault_ms + 999) / 1000) : 0;
    window *w = posting(rq) ? (daily ? &x.w24 : &x.w15) : &x.reads;
    window_roll(&x.w15, rq->now_ms);
    window_roll(&x.w24, rq->now_ms);
    window_roll(&x.reads, rq->now_ms);
    long reset = at ? at : window_reset_s(w);
    if (!posting(rq))
        rate_headers(rq, &x.reads, NULL, reset, 0);
    else
        rate_headers(rq, &x.w15, &x.w24, daily ? 0 : reset, daily ? reset : 0);
    too_many(rq);
}

static void duplicate(fake_req *rq)
{
    fake_reply_json(rq, 403,
                    problem("Forbidden",
                            "You are not allowed to create a Tweet with duplicate content.",
                            "about:blank", 403),
                    NULL);
}

static void overlength(fake_req *rq, long len)
{
    char detail[128];
    int st = (int)x.overlength_status;
    snprintf(detail, sizeof detail,
             "Your Tweet text is too long: %ld weighted characters, the limit is %d.", len,
             MAX_TEXT);
    fake_reply_json(
        rq, st,
        problem(st == 400 ? "Invalid Request" : "Forbidden", detail,
                st == 400 ? "https://api.twitter.com/2/problems/invalid-request" : "about:blank",
                st),
        NULL);
}

static void app_only(fake_req *rq)
{
    fake_reply_json(rq, 403,
                    problem("Unsupported Authentication",
                            "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                            "endpoint.  Supported authentication types are [OAuth 1.0a User "
                            "Context, OAuth 2.0 User Context].",
                            "https://api.twitter.com/2/problems/unsupported-authentication", 403),
                    NULL);
}

static int x_error(fake_req *rq, const char *kind, int status)
{
    if (strcmp(kind, "rate-limit") == 0 || strcmp(kind, "rate-limit-24h") == 0) {
        injected_429(rq, kind[10] != '\0');
    } else if (strcmp(kind, "server-error") == 0) {
        status = status ? status : 503;
        fake_reply_json(rq, status,
                        problem(status == 503 ? "Service Unavailable" : "Internal Error",
                                "Service Unavailable", "about:blank", status),
                        NULL);
    } else if (strcmp(kind, "unauthorized") == 0 || strcmp(kind, "expired-token") == 0) {
        fake_reply_json(rq, 401, problem("Unauthorized", "Unauthorized", "about:blank", 401), NULL);
    } else if (strcmp(kind, "duplicate") == 0) {
        duplicate(rq);
    } else if (strcmp(kind, "overlength") == 0) {
        overlength(rq, MAX_TEXT + 1);
    } else if (strcmp(kind, "unsupported-auth") == 0) {
        app_only(rq);
    } else if (strcmp(kind, "invalid") == 0) {
        invalid_request(rq, "text", "The `text` field is invalid.");
    } else if (strcmp(kind, "usage-capped") == 0) {
        json_t *b = problem("UsageCapExceeded", "Usage cap exceeded: Monthly product cap",
                            "https://api.twitter.com/2/problems/usage-capped", 429);
        json_object_set_new(b, "period", json_string("Monthly"));
        json_object_set_new(b, "scope", json_string("Product"));
        fake_reply_json(rq, 429, b, NULL);
    } else {
        return -1;
    }
    return 0;
}

/* ---- posts --------------------------------------------------------------- */

static int is_duplicate(const char *text, int64_t now)
{
    json_t *p = json_object_get(x.by_text, text);
    return p && now - json_integer_value(json_object_get(p, "created_ms")) < x.dup_window_ms;
}

static void post_tweet(fake_req *rq)
{
    if (x.app_token && rq->token && strcmp(rq->token, x.app_token) == 0) {
        app_only(rq);
        return;
    }
    window_roll(&x.w15, rq->now_ms);
    window_roll(&x.w24, rq->now_ms);
    if (x.w15.used >= x.w15.limit || x.w24.used >= x.w24.limit) {
        rate_headers(rq, &x.w15, &x.w24, 0, 0);
        too_many(rq);
        return;
    }
    x.w15.used++;
    x.w24.used++;
    rate_headers(rq, &x.w15, &x.w24, 0, 0);
    json_t *text = rq->json ? json_object_get(rq->json, "text") : NULL;
    if (!json_is_object(rq->json)) {
        invalid_request(rq, "body", "The request body is not valid JSON.");
        return;
    }
    if (!json_is_string(text) || json_string_length(text) == 0) {
        invalid_request(rq, "text", "The `text` field is required and must be a non-empty string.");
        return;
    }
    long len = weighted_length(json_string_value(text));
    if (len > MAX_TEXT) {
        overlength(rq, len);
        return;
    }
    if (is_duplicate(json_string_value(text), rq->now_ms)) {
        duplicate(rq);
        return;
    }
    char id[32];
    fake_new_id(rq->f, id, sizeof id);
    json_t *shown = shown_text(json_string_value(text));
    json_t *p = json_pack("{s:s,s:O,s:O,s:s,s:I}", "id", id, "text", shown, "raw_text", text,
                          "author_id", USER_ID, "created_ms", (json_int_t)rq->now_ms);
    json_object_set(x.by_id, id, p);
    json_object_set(x.by_text, json_string_value(text), p);
    json_array_append_new(x.posts, p);
    fake_reply_json(rq, 201, json_pack("{s:{s:s,s:o}}", "data", "id", id, "text", shown), NULL);
}

/* ---- OAuth 2.0 refresh ----------------------------------------------------- */

static void oauth_invalid(fake_req *rq, const char *why)
{
    fake_reply_json(rq, 400,
                    json_pack("{s:s,s:s}", "error", "invalid_request", "error_description", why),
                    NULL);
}

static void new_token(fake *f, const char *kind, char *buf, size_t len)
{
    char id[32];
    fake_new_id(f, id, sizeof id);
    snprintf(buf, len, "%s-%s-%lu", kind, id, ++x.serial);
}

static void refresh(fake_req *rq)
{
    const char *grant = fake_param(rq, "grant_type");
    const char *given = fake_param(rq, "refresh_token");
    const char *client = fake_param(rq, "client_id");
    if (!grant || strcmp(grant, "refresh_token") != 0) {
        oauth_invalid(rq, "Missing required parameter [grant_type].");
        return;
    }
    if (x.client_id && (!client || strcmp(client, x.client_id) != 0)) {
        oauth_invalid(rq, "Missing required parameter [client_id].");
        return;
    }
    if (!given || !x.refresh[0] || strcmp(given, x.refresh) != 0) {
        oauth_invalid(rq, "Value passed for the token was invalid.");
        return;
    }
    char access[64];
    new_token(rq->f, "xat", access, sizeof access);
    new_token(rq->f, "xrt", x.refresh, sizeof x.refresh);
    fake_token_add(rq->f, access);
    fake_reply_json(rq, 200,
                    json_pack("{s:s,s:i,s:s,s:s,s:s}", "token_type", "bearer", "expires_in",
                              (int)(x.access_ttl_ms ? x.access_ttl_ms / 1000 : 7200),
                              "access_token", access, "scope",
                              "tweet.read tweet.write users.read offline.access", "refresh_token",
                              x.refresh),
                    NULL);
}

/* ---- reads --------------------------------------------------------------- */

static int wants(const fake_req *rq, const char *param, const char *field)
{
    const char *v = fake_param(rq, param);
    size_t n = strlen(field);
    for (const char *p = v; p && (p = strstr(p, field)); p += n)
        if ((p == v || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Reads have their own window: X limits each endpoint apart. */
static int read_allowed(fake_req *rq)
{
    window_roll(&x.reads, rq->now_ms);
    int over = x.reads.used >= x.reads.limit;
    x.reads.used += !over;
    rate_headers(rq, &x.reads, NULL, 0, 0);
    if (over)
        too_many(rq);
    return !over;
}

static void users_me(fake_req *rq)
{
    if (!read_allowed(rq))
        return;
    json_t *user =
        json_pack("{s:s,s:s,s:s}", "id", USER_ID, "name", "서울특별시", "username", "seoulcity");
    if (wants(rq, "user.fields", "public_metrics"))
        json_object_set_new(user, "public_metrics",
                            json_pack("{s:i,s:i,s:i,s:i}", "followers_count", (int)x.followers,
                                      "following_count", 120, "tweet_count",
                                      (int)json_array_size(x.posts), "listed_count", 900));
    fake_reply_json(rq, 200, json_pack("{s:o}", "data", user), NULL);
}

static void not_found(fake_req *rq, const char *what, const char *id)
{
    char detail[160];
    snprintf(detail, sizeof detail, "Could not find %s with id: [%s].", what, id);
    fake_reply_json(rq, 200,
                    json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:s,s:s}]}", "errors", "value", id,
                              "detail", detail, "title", "Not Found Error", "resource_type",
                              strcmp(what, "user") == 0 ? "user" : "tweet", "parameter", "id",
                              "resource_id", id, "type",
                              "https://api.twitter.com/2/problems/resource-not-found"),
                    NULL);
}

static void iso_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* "2020-03-02T09:00:00Z" (seconds and a fraction optional) into epoch ms. */
static int parse_iso(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &n) != 5)
        return -1;
    s += n;
    if (*s == ':' && sscanf(s, ":%2d%n", &sec, &n) == 1)
        s += n;
    if (*s == '.')
        s += 1 + strspn(s + 1, "0123456789");
    if (strcmp(s, "Z") != 0)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

static json_t *metrics(const json_t *p, int64_t now)
{
    int64_t age = (now - json_integer_value(json_object_get(p, "created_ms"))) / 60000;
    age = age < 0 ? 0 : age > 1440 ? 1440 : age;
    json_int_t imp = (json_int_t)(x.followers * age / 4800);
    return json_pack("{s:{s:I,s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I}}",
                     "public_metrics", "retweet_count", imp / 500, "reply_count", imp / 1000,
                     "like_count", imp / 100, "quote_count", imp / 2000, "bookmark_count",
                     imp / 1000, "impression_count", imp, "non_public_metrics", "impression_count",
                     imp, "user_profile_clicks", imp / 200, "organic_metrics", "impression_count",
                     imp, "like_count", imp / 100, "reply_count", imp / 1000, "retweet_count",
                     imp / 500, "user_profile_clicks", imp / 200);
}

/* A post as the API shows it, with the tweet.fields asked for. */
static json_t *post_view(const fake_req *rq, const json_t *p)
{
    json_t *v =
        json_pack("{s:O,s:O,s:[O]}", "id", json_object_get(p, "id"), "text",
                  json_object_get(p, "text"), "edit_history_tweet_ids", json_object_get(p, "id"));
    json_t *m = metrics(p, rq->now_ms);
    static const char *const fields[] = {"public_metrics", "non_public_metrics", "organic_metrics"};
    if (wants(rq, "tweet.fields", "created_at")) {
        char at[80];
        iso_time(json_integer_value(json_object_get(p, "created_ms")), at, sizeof at);
        json_object_set_new(v, "created_at", json_string(at));
    }
    if (wants(rq, "tweet.fields", "author_id"))
        json_object_set(v, "author_id", json_object_get(p, "author_id"));
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (wants(rq, "tweet.fields", fields[i]))
            json_object_set(v, fields[i], json_object_get(m, fields[i]));
    json_decref(m);
    return v;
}

static void user_tweets(fake_req *rq)
{
    const char *max = fake_param(rq, "max_results"), *since = fake_param(rq, "start_time");
    long n = 10;
    int64_t from = 0;
    char *end = NULL;
    if (!read_allowed(rq))
        return;
    if (strcmp(rq->params[0], USER_ID) != 0) {
        not_found(rq, "user", rq->params[0]);
        return;
    }
    if (max && ((n = strtol(max, &end, 10)) < 5 || n > 100 || *end)) {
        invalid_request(rq, "max_results",
                        "The `max_results` query parameter value is not between 5 and 100");
        return;
    }
    if (since && parse_iso(since, &from) != 0) {
        invalid_request(rq, "start_time", "Invalid 'start_time': not an ISO 8601 time.");
        return;
    }
    json_t *data = json_array();
    for (size_t i = json_array_size(x.posts); i-- > 0 && (long)json_array_size(data) < n;) {
        json_t *p = json_array_get(x.posts, i);
        if (json_integer_value(json_object_get(p, "created_ms")) >= from)
            json_array_append_new(data, post_view(rq, p));
    }
    json_t *meta = json_pack("{s:i}", "result_count", (int)json_array_size(data));
    if (json_array_size(data)) {
        json_object_set(meta, "newest_id", json_object_get(json_array_get(data, 0), "id"));
        json_object_set(meta, "oldest_id",
                        json_object_get(json_array_get(data, json_array_size(data) - 1), "id"));
    }
    json_t *body = json_pack("{s:o}", "meta", meta);
    if (json_array_size(data))
        json_object_set(body, "data", data);
    json_decref(data);
    fake_reply_json(rq, 200, body, NULL);
}

static void get_tweet(fake_req *rq)
{
    if (!read_allowed(rq))
        return;
    json_t *p = json_object_get(x.by_id, rq->params[0]);
    if (p)
        fake_reply_json(rq, 200, json_pack("{s:o}", "data", post_view(rq, p)), NULL);
    else
        not_found(rq, "tweet", rq->params[0]);
}

/* ---- the service ----------------------------------------------------------- */

static int number_option(const char *v, long min, long *out)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : -1;
    if (!v || *end || end == v || n < min)
        return 0;
    *out = n;
    return 2;
}

static int x_option(const char *name, const char *v)
{
    long n = 0;
    int used;
    static const struct {
        const char *name;
        long *slot;
        long min;
    } numbers[] = {{"--followers", &x.followers, 0},
                   {"--limit-15min", &x.limit_15, 0},
                   {"--limit-24h", &x.limit_24, 0},
                   {"--limit-read", &x.limit_read, 0},
                   {"--overlength-status", &x.overlength_status, 400}};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        if (strcmp(name, numbers[i].name) == 0)
            return number_option(v, numbers[i].min, numbers[i].slot);
    const char **strs[] = {&x.first_refresh, &x.client_id, &x.app_token};
    static const char *const str_names[] = {"--refresh-token", "--client-id", "--app-token"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(name, str_names[i]) == 0 && v) {
            *strs[i] = v;
            return 2;
        }
    }
    int64_t *ms = strcmp(name, "--window-15min-s") == 0       ? &x.window_15_ms
                  : strcmp(name, "--duplicate-window-s") == 0 ? &x.dup_window_ms
                  : strcmp(name, "--access-ttl-s") == 0       ? &x.access_ttl_ms
                                                              : NULL;
    if (ms && (used = number_option(v, ms == &x.window_15_ms, &n)))
        *ms = n * 1000;
    else if (strcmp(name, "--tco") == 0 && (used = number_option(v, 0, &n)))
        x.tco = n != 0;
    else
        used = 0;
    return used;
}

static void x_reset(fake *f)
{
    json_array_clear(x.posts);
    json_object_clear(x.by_id);
    json_object_clear(x.by_text);
    snprintf(x.refresh, sizeof x.refresh, "%s", x.first_refresh ? x.first_refresh : "");
    x.w15 = (window){.len_ms = x.window_15_ms, .limit = x.limit_15};
    x.w24 = (window){.len_ms = 86400000, .limit = x.limit_24};
    x.reads = (window){.len_ms = 900000, .limit = x.limit_read};
    if (x.app_token)
        fake_token_add(f, x.app_token);
}

static int x_init(fake *f)
{
    x.posts = json_array();
    x.by_id = json_object();
    x.by_text = json_object();
    fake_token_ttl(f, x.access_ttl_ms);
    return 0;
}

static json_t *x_state(fake *f)
{
    (void)f;
    return json_pack("{s:O,s:s,s:{s:s,s:i},s:{s:i,s:i}}", "posts", x.posts, "refresh_token",
                     x.refresh, "user", "id", USER_ID, "followers", (int)x.followers, "used",
                     "15min", (int)x.w15.used, "24h", (int)x.w24.used);
}

static void x_release(fake *f)
{
    (void)f;
    json_decref(x.posts);
    json_decref(x.by_id);
    json_decref(x.by_text);
}

static const fake_route routes[] = {
    {"POST", "/2/tweets", post_tweet, 0},   {"POST", "/2/oauth2/token", refresh, 1},
    {"GET", "/2/users/me", users_me, 0},    {"GET", "/2/users/:id/tweets", user_tweets, 0},
    {"GET", "/2/tweets/:id", get_tweet, 0}, {0},
};

static const fake_service service = {
    .name = "x",
    .routes = routes,
    .error = x_error,
    .option = x_option,
    .init = x_init,
    .state = x_state,
    .reset = x_reset,
    .release = x_release,
};

int main(int argc, char **argv)
{
    return fake_main(argc, argv, &service);
}
