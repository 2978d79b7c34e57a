/*
 * x_rules.c - what X's answers mean (x_rules.h).
 */
#include "x_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"

/* ---- rate-limit headers --------------------------------------------------- */

static long long header_number(x_header_fn *get, const void *ctx, const char *name)
{
    long long v;
    const char *s = get(ctx, name);
    if (!s)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    char digits[24];
    size_t n = 0;
    while (n + 1 < sizeof digits && s[n] >= '0' && s[n] <= '9') {
        digits[n] = s[n];
        n++;
    }
    digits[n] = '\0';
    /* "0" is a number here (a remaining of zero is the one that matters). */
    if (n == 1 && digits[0] == '0')
        return 0;
    return numparse_whole(digits, 0, 1LL << 53, &v) == NUM_OK ? v : -1;
}

void x_limits_read(x_limits *l, x_header_fn *get, const void *ctx)
{
    l->limit = header_number(get, ctx, "x-rate-limit-limit");
    l->remaining = header_number(get, ctx, "x-rate-limit-remaining");
    l->reset_s = header_number(get, ctx, "x-rate-limit-reset");
    l->day_limit = header_number(get, ctx, "x-user-limit-24hour-limit");
    l->day_remaining = header_number(get, ctx, "x-user-limit-24hour-remaining");
    l->day_reset_s = header_number(get, ctx, "x-user-limit-24hour-reset");
}

static long long until(long long reset_s, long long now_ms)
{
    long long d = reset_s * 1000 - now_ms;
    return d > 0 ? d : 0;
}

long long x_limits_wait_ms(const x_limits *l, long long now_ms)
{
    long long d;
    if (l->day_remaining == 0 && l->day_reset_s >= 0)
        d = until(l->day_reset_s, now_ms);
    else if (l->reset_s >= 0)
        d = until(l->reset_s, now_ms);
    else if (l->day_reset_s >= 0)
        d = until(l->day_reset_s, now_ms);
    else
        d = X_WINDOW_MS;
    if (d < 1000)
        d = 1000;
    /* A reset further than a day away is a broken header, not a plan. */
    return d > X_DAY_MS ? X_DAY_MS : d;
}

long long x_limits_hold_ms(const x_limits *l, long long now_ms)
{
    long long d = 0;
    if (l->remaining == 0 && l->reset_s >= 0)
        d = until(l->reset_s, now_ms);
    if (l->day_remaining == 0 && l->day_reset_s >= 0 && until(l->day_reset_s, now_ms) > d)
        d = until(l->day_reset_s, now_ms);
    return d > X_DAY_MS ? X_DAY_MS : d;
}

/* ---- answers ---------------------------------------------------------------- */

static const char *field(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static int type_is(const json_t *body, const char *problem)
{
    const char *type = field(body, "type");
    const char *tail = type ? strrchr(type, '/') : NULL;
    return tail && strcmp(tail + 1, problem) == 0;
}

/* The legacy v1.1 shape: {"errors":[{"code":88,"message":"..."}]}. */
static int has_code(const json_t *body, long long code)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(body, "errors"), i, e)
    {
        if (json_integer_value(json_object_get(e, "code")) == code)
            return 1;
    }
    return 0;
}

static void service_words(int status, const json_t *body, char *msg, size_t msglen)
{
    size_t used = 0, i;
    json_t *e;
    msg[0] = '\0';
    json_array_foreach(json_object_get(body, "errors"), i, e)
    {
        const char *m = field(e, "message");
        if (!m || used >= msglen)
            continue;
        int n = snprintf(msg + used, msglen - used, "%s%s", used ? "; " : "", m);
        if (n < 0)
            break;
        used += (size_t)n < msglen - used ? (size_t)n : msglen - used;
    }
    if (used)
        return;
    const char *d = field(body, "detail") ? field(body, "detail") : field(body, "title");
    if (d)
        snprintf(msg, msglen, "%s", d);
    else
        snprintf(msg, msglen, "HTTP %d", status);
}

static int mentions_duplicate(const char *msg)
{
    return strstr(msg, "duplicate") != NULL;
}

x_class x_classify(int status, const json_t *body, char *msg, size_t msglen)
{
    service_words(status, body, msg, msglen);
    if (status >= 200 && status < 300)
        return X_CREATED;
    if (status == 429)
        return type_is(body, "usage-capped") ? X_USAGE_CAPPED : X_RATE_LIMITED;
    if (status == 401)
        return X_UNAUTHORIZED;
    if (status == 403) {
        if (type_is(body, "unsupported-authentication"))
            return X_APP_ONLY;
        if (has_code(body, 187) || mentions_duplicate(msg))
            return X_DUPLICATE;
        return X_FORBIDDEN;
    }
    if (status == 400)
        return X_INVALID;
    if (status >= 500 && status < 600)
        return X_SERVER;
    if (has_code(body, 88))
        return X_RATE_LIMITED; /* the legacy body, whatever its status */
    return X_OTHER;
}

const char *x_class_name(x_class c)
{
    static const char *const names[] = {
        [X_CREATED] = "created",           [X_RATE_LIMITED] = "rate-limited",
        [X_USAGE_CAPPED] = "usage-capped", [X_UNAUTHORIZED] = "unauthorized",
        [X_APP_ONLY] = "app-only",         [X_DUPLICATE] = "duplicate",
        [X_FORBIDDEN] = "forbidden",       [X_INVALID] = "invalid",
        [X_SERVER] = "server-error",       [X_OTHER] = "other",
    };
    return (size_t)c < sizeof names / sizeof names[0] ? names[c] : "other";
}

/* ---- the look-up's comparison ------------------------------------------------ */

static const struct {
    const char *entity;
    char c;
} entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};

/* Copies TEXT with X's entities decoded. */
static char *decode(const char *text)
{
    size_t len = strlen(text);
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *s = text; *s;) {
        size_t i, n = sizeof entities / sizeof entities[0];
        for (i = 0; i < n; i++) {
            size_t el = strlen(entities[i].entity);
            if (strncmp(s, entities[i].entity, el) == 0) {
                *o++ = entities[i].c;
                s += el;
                break;
            }
        }
        if (i == n)
            *o++ = *s++;
    }
    *o = '\0';
    return out;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A word X turns into a link: anything with a scheme, or a bare domain
 * (labels of letters, digits and '-', a dot, a last label of two or more
 * ASCII letters), with or without a path. */
static int is_link(const char *w, size_t n)
{
    if (memmem(w, n, "://", 3))
        return 1;
    size_t end = 0;
    while (end < n && w[end] != '/')
        end++;
    if (end == n) /* no path: the sentence's own punctuation is not part of it */
        while (end > 0 && strchr(".,;:!?)\"'", w[end - 1]))
            end--;
    size_t dots = 0, last = 0;
    int last_letters = 1;
    for (size_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == '.') {
            if (last == 0)
                return 0;
            dots++;
            last = 0;
            last_letters = 1;
            continue;
        }
        if (!(isalnum(c) || c == '-'))
            return 0;
        last++;
        last_letters = last_letters && isalpha(c);
    }
    return dots > 0 && last >= 2 && last_letters;
}

char *x_text_normalise(const char *text)
{
    char *d = decode(text ? text : "");
    if (!d)
        return NULL;
    char *out = malloc(strlen(d) + 1), *o = out;
    if (!out) {
        free(d);
        return NULL;
    }
    const char *s = d;
    while (*s) {
        while (is_space(*s))
            s++;
        size_t n = 0;
        while (s[n] && !is_space(s[n]))
            n++;
        if (n && !is_link(s, n)) {
            if (o != out)
                *o++ = ' ';
            memcpy(o, s, n);
            o += n;
        }
        s += n;
    }
    *o = '\0';
    free(d);
    return out;
}

int x_text_matches(const char *ours, const char *seen)
{
    char *a = x_text_normalise(ours), *b = x_text_normalise(seen);
    int same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}
