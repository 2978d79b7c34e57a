/*
 * fake.c - the stand-in core (fake.h): evhttp on loopback, routes, bearer
 * tokens, injected faults, the stand-in clock and the request log.
 *
 * A request is handled synchronously inside the evhttp callback, except for
 * the answers a fault holds back ("slow", "timeout") or throws away ("drop",
 * "drop-after-store"): those become a `held` record, with a timer when
 * something is still to be done. A held request's connection may close
 * under it; the connection's close callback then forgets the record, and
 * frees the request itself when evhttp has already let go of it.
 */
#include "fake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_FAULTS 32
/* A dealer request: 1,000 recipients of 1,000 characters, \u-escaped. */
#define MAX_BODY (16 << 20)
#define MAX_TOKENS 16

typedef struct fault {
    char kind[48];
    char route[160]; /* "" matches every route */
    long count;      /* hits left; -1: no limit (a share without a count) */
    double share;    /* 0: every matching request */
    uint64_t rng;    /* per fault, so that its hits do not depend on other traffic */
    int ms, status;
} fault;

typedef struct held {
    fake *f;
    struct evhttp_request *ev;
    struct event *timer; /* NULL: nothing to do but wait for the client to go */
    struct event *watch; /* whether the client went: evhttp stops reading meanwhile */
    int status;          /* >0: answer then; 0: drop the connection then */
    struct evbuffer *body;
    struct held *next;
} held;

struct fake {
    const fake_service *svc;
    struct event_base *base;
    struct evhttp *http;
    struct event *sig[2];
    FILE *log;
    char *log_path;
    long log_body_max; /* --log-body-max: longer bodies are logged cut; 0: whole */
    json_t *tokens;    /* token -> expiry in stand-in ms; 0: none; -1: expired */
    const char *start_tokens[MAX_TOKENS];
    int nstart_tokens;
    int64_t token_ttl_ms;
    int64_t offset_ms;
    /* --demo-clock: the daemon's demo clock (make run), START + (real -
     * EPOCH) x SPEED, so that windows and lifetimes match its releases. */
    int64_t demo_start_ms, demo_epoch_ms, demo_speed;
    uint64_t last_id;
    fault faults[MAX_FAULTS];
    int nfaults;
    held *held;
};

/* What the core keeps beside the request a handler sees. */
typedef struct call {
    fake_req rq; /* first: handlers get &call->rq */
    fault fault; /* the fault this request drew; kind "" for none */
    int replied;
    json_t *entry; /* its log line, written once the outcome is known */
} call;

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fake_now_ms(const fake *f)
{
    if (f->demo_speed > 0)
        return f->demo_start_ms + (real_ms() - f->demo_epoch_ms) * f->demo_speed + f->offset_ms;
    return real_ms() + f->offset_ms;
}

/* "START_MS:EPOCH_MS:SPEED". */
static int parse_demo_clock(const char *v, fake *f)
{
    long long start, epoch, speed;
    char tail;
    if (sscanf(v, "%lld:%lld:%lld%c", &start, &epoch, &speed, &tail) != 3 || speed < 1 ||
        speed > 100000)
        return -1;
    f->demo_start_ms = start;
    f->demo_epoch_ms = epoch;
    f->demo_speed = speed;
    return 0;
}

/* ---- tokens ----------------------------------------------------------- */

void fake_token_ttl(fake *f, int64_t ttl_ms)
{
    f->token_ttl_ms = ttl_ms;
}

void fake_token_add(fake *f, const char *token)
{
    int64_t until = f->token_ttl_ms > 0 ? fake_now_ms(f) + f->token_ttl_ms : 0;
    json_object_set_new(f->tokens, token, json_integer(until));
}

void fake_token_expire(fake *f, const char *token)
{
    json_object_set_new(f->tokens, token, json_integer(-1));
}

int fake_token_state(const fake *f, const char *token)
{
    json_t *v = token ? json_object_get(f->tokens, token) : NULL;
    if (!v)
        return 0;
    json_int_t until = json_integer_value(v);
    return until == -1 || (until > 0 && fake_now_ms(f) >= until) ? -1 : 1;
}

static void tokens_restart(fake *f)
{
    json_object_clear(f->tokens);
    for (int i = 0; i < f->nstart_tokens; i++)
        fake_token_add(f, f->start_tokens[i]);
}

/* Snowflake-shaped (ms since X's epoch, then a sequence), never repeated
 * even when the stand-in clock is set back. */
void fake_new_id(fake *f, char *buf, size_t len)
{
    uint64_t id = (uint64_t)(fake_now_ms(f) - 1288834974657LL) << 22;
    if (id <= f->last_id)
        id = f->last_id + 1;
    f->last_id = id;
    snprintf(buf, len, "%llu", (unsigned long long)id);
}

/* ---- paths and parameters ------------------------------------------------ */

/* Whether PATH matches PATTERN; ":x" segments land in PARAMS (slices of PATH
 * copied into BUF). */
static int route_match(const char *pattern, const char *path, const char **params, char *buf,
                       size_t buflen)
{
    int n = 0;
    size_t used = 0;
    while (*pattern && *path) {
        if (*pattern == ':') {
            size_t seg = strcspn(path, "/");
            if (seg == 0 || n == 4 || used + seg + 1 > buflen)
                return 0;
            memcpy(buf + used, path, seg);
            buf[used + seg] = '\0';
            if (params)
                params[n] = buf + used;
            n++;
            used += seg + 1;
            path += seg;
            pattern += strcspn(pattern, "/");
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

const char *fake_param(const fake_req *rq, const char *name)
{
    const char *v = evhttp_find_header(&rq->query, name);
    if (v)
        return v;
    return rq->json ? json_string_value(json_object_get(rq->json, name)) : NULL;
}

static json_t *kv_object(const struct evkeyvalq *q)
{
    json_t *o = json_object();
    for (const struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
        json_t *v = json_string(kv->value);
        json_object_set_new(o, kv->key, v ? v : json_string("(not UTF-8)"));
    }
    return o;
}

static const char *content_type(const fake_req *rq)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(rq->ev), "Content-Type");
    return ct ? ct : "";
}

static const char *bearer(struct evhttp_request *ev)
{
    const char *a = evhttp_find_header(evhttp_request_get_input_headers(ev), "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0)
        return a + 7 + strspn(a + 7, " ");
    return NULL;
}

/* ---- the log ------------------------------------------------------------- */

static void log_finish(call *c, int status, int dropped)
{
    if (!c->entry)
        return;
    json_object_set_new(c->entry, "status", dropped ? json_null() : json_integer(status));
    json_object_set_new(c->entry, "fault",
                        c->fault.kind[0] ? json_string(c->fault.kind) : json_null());
    if (c->rq.f->log) {
        char *line = json_dumps(c->entry, JSON_COMPACT);
        if (line) {
            fprintf(c->rq.f->log, "%s\n", line);
            fflush(c->rq.f->log);
            free(line);
        }
    }
    json_decref(c->entry);
    c->entry = NULL;
}

/* The first MAX bytes of a long body, cut on a UTF-8 character boundary,
 * so that a log of many large requests stays cheap to write and read. */
static json_t *log_body_cut(const call *c, long max)
{
    size_t n = (size_t)max;
    while (n > 0 && ((unsigned char)c->rq.body[n] & 0xC0) == 0x80)
        n--;
    json_t *head = json_stringn(c->rq.body, n);
    return json_pack("{s:b,s:I,s:o}", "truncated", 1, "bytes", (json_int_t)c->rq.body_len, "head",
                     head ? head : json_null());
}

static json_t *log_body(const call *c, const struct evkeyvalq *form)
{
    long max = c->rq.f->log_body_max;
    if (max > 0 && c->rq.body_len > (size_t)max)
        return log_body_cut(c, max);
    if (c->rq.json)
        return json_deep_copy(c->rq.json);
    if (form)
        return kv_object(form);
    if (c->rq.body_len == 0)
        return json_null();
    json_t *s = json_stringn(c->rq.body, c->rq.body_len);
    return s ? s : json_sprintf("(%zu bytes, not UTF-8)", c->rq.body_len);
}

/* ---- held answers -------------------------------------------------------- */

static void held_unlink(held *h)
{
    for (held **p = &h->f->held; *p; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            break;
        }
    }
    if (h->timer)
        event_free(h->timer);
    if (h->watch)
        event_free(h->watch);
    if (h->body)
        evbuffer_free(h->body);
    free(h);
}

/* The connection goes (the client left, or the server stops). When evhttp
 * has already detached the request, nobody else will free it. */
static void held_closed(struct evhttp_connection *evcon, void *arg)
{
    held *h = arg;
    (void)evcon;
    if (!evhttp_request_get_connection(h->ev))
        evhttp_request_free(h->ev);
    held_unlink(h);
}

/* libevent's phrase, but for the one it lacks (it says "Client Error"). */
static const char *reason(int status)
{
    return status == 429 ? "Too Many Requests" : NULL;
}

static void held_fire(evutil_socket_t fd, short what, void *arg)
{
    held *h = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(h->ev);
    (void)fd, (void)what;
    if (evcon)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    if (h->status > 0)
        evhttp_send_reply(h->ev, h->status, reason(h->status), h->body);
    else if (evcon)
        evhttp_connection_free(evcon); /* frees the request with it */
    else
        evhttp_request_free(h->ev);
    held_unlink(h);
}

/* The connection of a held request became readable: the client closed it
 * (the request goes, with its connection), or it sent more, which evhttp
 * will read once it answered (the watch ends: it cannot tell any more). */
static void held_peek(evutil_socket_t fd, short what, void *arg)
{
    held *h = arg;
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK);
    (void)what;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        event_del(h->watch);
        return;
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(h->ev);
    if (evcon) {
        evhttp_connection_set_closecb(evcon, NULL, NULL);
        evhttp_connection_free(evcon);
    } else {
        evhttp_request_free(h->ev);
    }
    held_unlink(h);
}

/* Holds EV: answers STATUS with BODY (taken) after MS, drops the
 * connection (STATUS 0) after MS, or (MS < 0) waits for the client to go. */
static void hold(fake *f, struct evhttp_request *ev, int status, struct evbuffer *body, int ms)
{
    held *h = calloc(1, sizeof *h);
    if (!h)
        abort();
    *h = (held){.f = f, .ev = ev, .status = status, .body = body, .next = f->held};
    f->held = h;
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    evhttp_connection_set_closecb(evcon, held_closed, h);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        h->watch = event_new(f->base, fd, EV_READ | EV_PERSIST, held_peek, h);
        event_add(h->watch, NULL);
    }
    if (ms >= 0) {
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        h->timer = evtimer_new(f->base, held_fire, h);
        evtimer_add(h->timer, &tv);
    }
}

/* ---- answers ----------------------------------------------------------- */

void fake_header(fake_req *rq, const char *name, const char *fmt, ...)
{
    char value[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    evhttp_add_header(evhttp_request_get_output_headers(rq->ev), name, value);
}

void fake_reply_json(fake_req *rq, int status, json_t *body, const char *const *headers)
{
    call *c = (call *)rq;
    struct evkeyvalq *out = evhttp_request_get_output_headers(rq->ev);
    if (c->replied) {
        json_decref(body);
        return;
    }
    c->replied = 1;
    for (int i = 0; headers && headers[i]; i++) {
        char name[128];
        const char *colon = strchr(headers[i], ':');
        if (!colon || (size_t)(colon - headers[i]) >= sizeof name)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(colon - headers[i]), headers[i]);
        evhttp_add_header(out, name, colon + 1 + strspn(colon + 1, " "));
    }
    evhttp_add_header(out, "Content-Type", "application/json; charset=utf-8");
    struct evbuffer *buf = evbuffer_new();
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text)
        evbuffer_add(buf, text, strlen(text));
    free(text);
    if (rq->store_only) {
        log_finish(c, status, 1);
        evbuffer_free(buf);
        hold(rq->f, rq->ev, 0, NULL, 0);
    } else if (strcmp(c->fault.kind, "slow") == 0) {
        log_finish(c, status, 0);
        hold(rq->f, rq->ev, status, buf, c->fault.ms);
    } else {
        log_finish(c, status, 0);
        evhttp_send_reply(rq->ev, status, reason(status), buf);
        evbuffer_free(buf);
    }
}

static void reply_plain(fake_req *rq, int status, const char *fmt, const char *arg)
{
    fake_reply_json(rq, status, json_pack("{s:s++}", "fake", fmt, arg ? arg : ""), NULL);
}

/* ---- faults -------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The fault this request draws, if any, into OUT. */
static int fault_draw(fake *f, const char *path, fault *out)
{
    char scratch[512];
    for (int i = 0; i < f->nfaults; i++) {
        fault *ft = &f->faults[i];
        if (ft->route[0] && !route_match(ft->route, path, NULL, scratch, sizeof scratch))
            continue;
        if (ft->share > 0 && (double)(splitmix(&ft->rng) >> 11) / 9007199254740992.0 >= ft->share)
            continue;
        *out = *ft;
        if (ft->count > 0 && --ft->count == 0) {
            memmove(ft, ft + 1, (size_t)(f->nfaults - i - 1) * sizeof *ft);
            f->nfaults--;
        }
        return 1;
    }
    return 0;
}

static int known_fault(const char *k)
{
    static const char *const kinds[] = {"rate-limit", "server-error",     "slow",        "timeout",
                                        "drop",       "drop-after-store", "expire-token"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(k, kinds[i]) == 0)
            return 1;
    return strncmp(k, "error:", 6) == 0 && k[6];
}

/* POST /_fake/faults: one fault object, or an array of them. */
static const char *fault_add(fake *f, json_t *spec)
{
    fault ft = {.count = 1};
    const char *kind = json_string_value(json_object_get(spec, "fault"));
    const char *route = json_string_value(json_object_get(spec, "route"));
    json_t *count = json_object_get(spec, "count"), *share = json_object_get(spec, "share");
    if (!kind || !known_fault(kind) || strlen(kind) >= sizeof ft.kind)
        return "\"fault\" must name a known fault";
    if (route && strlen(route) >= sizeof ft.route)
        return "\"route\" is too long";
    if (share &&
        (!json_is_number(share) || json_number_value(share) <= 0 || json_number_value(share) > 1))
        return "\"share\" must be a number, 0 < share <= 1";
    if (count && (!json_is_integer(count) || json_integer_value(count) < 0))
        return "\"count\" must be a whole number from 0 (0: no limit)";
    if (f->nfaults == MAX_FAULTS)
        return "too many faults";
    snprintf(ft.kind, sizeof ft.kind, "%s", kind);
    snprintf(ft.route, sizeof ft.route, "%s", route ? route : "");
    ft.share = share ? json_number_value(share) : 0;
    ft.count = count ? (long)json_integer_value(count) : share ? 0 : 1;
    ft.count = ft.count ? ft.count : -1;
    ft.rng = (uint64_t)json_integer_value(json_object_get(spec, "seed")) + 1;
    ft.ms = (int)json_integer_value(json_object_get(spec, "ms"));
    ft.status = (int)json_integer_value(json_object_get(spec, "status"));
    f->faults[f->nfaults++] = ft;
    return NULL;
}

/* ---- the control API ------------------------------------------------------- */

static json_t *read_log(fake *f)
{
    json_t *all = json_array();
    FILE *in = f->log_path ? fopen(f->log_path, "r") : NULL;
    char *line = NULL;
    size_t cap = 0;
    while (in && getline(&line, &cap, in) > 0) {
        json_t *v = json_loads(line, 0, NULL);
        if (v)
            json_array_append_new(all, v);
    }
    free(line);
    if (in)
        fclose(in);
    return all;
}

static void reset_all(fake *f)
{
    f->nfaults = 0;
    tokens_restart(f);
    if (f->log && f->log_path) {
        FILE *again = freopen(f->log_path, "w", f->log);
        f->log = again;
    }
    if (f->svc->reset)
        f->svc->reset(f);
}

static json_t *control_tokens(fake *f, json_t *body)
{
    const char *add = json_string_value(json_object_get(body, "add"));
    const char *expire = json_string_value(json_object_get(body, "expire"));
    if (!add && !expire)
        return NULL;
    if (add)
        fake_token_add(f, add);
    if (expire)
        fake_token_expire(f, expire);
    return json_pack("{s:O}", "tokens", f->tokens);
}

static json_t *control_clock(fake *f, json_t *body)
{
    json_t *now = json_object_get(body, "now_ms"), *adv = json_object_get(body, "advance_ms");
    if (json_is_integer(now))
        f->offset_ms = json_integer_value(now) - real_ms();
    else if (json_is_integer(adv))
        f->offset_ms += json_integer_value(adv);
    else if (body)
        return NULL;
    return json_pack("{s:I}", "now_ms", (json_int_t)fake_now_ms(f));
}

static void control(fake_req *rq)
{
    fake *f = rq->f;
    const char *what = rq->path + strlen("/_fake/");
    int post = strcmp(rq->method, "POST") == 0, get = strcmp(rq->method, "GET") == 0;
    json_t *ans = NULL;
    if (!rq->json && rq->body_len) /* curl -d sends JSON as a form */
        rq->json = json_loadb(rq->body, rq->body_len, 0, NULL);
    if (strcmp(what, "faults") == 0 && post && rq->json) {
        json_t *one;
        size_t i;
        const char *err = NULL;
        if (json_is_array(rq->json)) {
            json_array_foreach(rq->json, i, one)
            {
                if (!err)
                    err = fault_add(f, one);
            }
        } else {
            err = fault_add(f, rq->json);
        }
        if (err) {
            reply_plain(rq, 400, "bad fault: ", err);
            return;
        }
        ans = json_pack("{s:i}", "faults", f->nfaults);
    } else if (strcmp(what, "faults") == 0 && strcmp(rq->method, "DELETE") == 0) {
        f->nfaults = 0;
        ans = json_pack("{s:i}", "faults", 0);
    } else if (strcmp(what, "clock") == 0 && (get || post)) {
        ans = control_clock(f, get ? NULL : rq->json);
    } else if (strcmp(what, "tokens") == 0 && post) {
        ans = control_tokens(f, rq->json);
    } else if (strcmp(what, "requests") == 0 && get) {
        ans = read_log(f);
    } else if (strcmp(what, "state") == 0 && get) {
        ans = f->svc->state ? f->svc->state(f) : json_object();
    } else if (strcmp(what, "reset") == 0 && post) {
        reset_all(f);
        ans = json_pack("{s:b}", "reset", 1);
    } else {
        reply_plain(rq, 404, "no such control route: ", rq->path);
        return;
    }
    if (!ans)
        reply_plain(rq, 400, "bad control request: ", rq->body);
    else
        fake_reply_json(rq, 200, ans, NULL);
}

/* ---- one request ----------------------------------------------------------- */

static const fake_route *find_route(fake *f, fake_req *rq, char *buf, size_t buflen)
{
    for (const fake_route *r = f->svc->routes; r->method; r++)
        if (strcmp(r->method, rq->method) == 0 &&
            route_match(r->pattern, rq->path, rq->params, buf, buflen))
            return r;
    return NULL;
}

static void answer_error(call *c, const char *kind, int status)
{
    if (c->rq.f->svc->error && c->rq.f->svc->error(&c->rq, kind, status) == 0 && c->replied)
        return;
    if (!c->replied)
        reply_plain(&c->rq, status ? status : 500, "no error answer for ", kind);
}

/* The fault drawn, before the handler: 1 when the request is dealt with. */
static int fault_before(call *c)
{
    const char *k = c->fault.kind;
    int st = c->fault.status;
    if (strcmp(k, "drop") == 0 || strcmp(k, "timeout") == 0) {
        log_finish(c, 0, 1);
        hold(c->rq.f, c->rq.ev, 0, NULL, k[0] == 'd' ? 0 : -1);
        return 1;
    }
    if (strcmp(k, "rate-limit") == 0 || strcmp(k, "server-error") == 0) {
        answer_error(c, k, st ? st : k[0] == 'r' ? 429 : 503);
        return 1;
    }
    if (strncmp(k, "error:", 6) == 0) {
        answer_error(c, k + 6, st);
        return 1;
    }
    if (strcmp(k, "expire-token") == 0 && c->rq.token)
        fake_token_expire(c->rq.f, c->rq.token);
    c->rq.store_only = strcmp(k, "drop-after-store") == 0;
    return 0;
}

static void serve(call *c, const fake_route *r)
{
    if (c->fault.kind[0] && fault_before(c))
        return;
    if (!r->no_auth) {
        int st = fake_token_state(c->rq.f, c->rq.token);
        if (st <= 0) {
            answer_error(c, st == 0 ? "unauthorized" : "expired-token", 401);
            return;
        }
    }
    r->handle(&c->rq);
    if (!c->replied)
        reply_plain(&c->rq, 500, "the handler did not answer ", r->pattern);
}

/*
 * A form body's fields into Q. Not through evhttp_parse_query_str(): it
 * goes through evhttp_add_header(), which refuses a value holding a
 * newline, and a post's text holds newlines.
 */
static int parse_form(const char *body, struct evkeyvalq *q)
{
    char *copy = strdup(body), *save = NULL;
    if (!copy)
        return -1;
    for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (eq)
            *eq = '\0';
        struct evkeyval *kv = calloc(1, sizeof *kv);
        char *key = evhttp_uridecode(pair, 1, NULL);
        char *value = evhttp_uridecode(eq ? eq + 1 : "", 1, NULL);
        if (!kv || !key || !value) {
            free(kv), free(key), free(value), free(copy);
            return -1;
        }
        kv->key = key;
        kv->value = value;
        TAILQ_INSERT_TAIL(q, kv, next);
    }
    free(copy);
    return 0;
}

static void read_body(call *c, struct evhttp_request *ev, struct evkeyvalq *form, int *has_form)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t n = evbuffer_get_length(in);
    char *body = malloc(n + 1);
    if (!body)
        abort();
    evbuffer_remove(in, body, n);
    body[n] = '\0';
    c->rq.body = body;
    c->rq.body_len = n;
    const char *ct = content_type(&c->rq);
    if (n && strncasecmp(ct, "application/json", 16) == 0) {
        c->rq.json = json_loadb(body, n, 0, NULL);
    } else if (n && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        /* The log keeps the form as it came; handlers see it merged with the query. */
        *has_form = parse_form(body, form) == 0 && parse_form(body, &c->rq.query) == 0;
    }
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    fake *f = arg;
    call c = {.rq = {.f = f, .ev = ev}};
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    struct evkeyvalq form;
    int has_form = 0;
    char *path =
        evhttp_uridecode(evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "/", 0, NULL);
    char segs[512];
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH"};
    static const enum evhttp_cmd_type codes[] = {EVHTTP_REQ_GET,    EVHTTP_REQ_POST,
                                                 EVHTTP_REQ_HEAD,   EVHTTP_REQ_PUT,
                                                 EVHTTP_REQ_DELETE, EVHTTP_REQ_PATCH};
    c.rq.method = "OTHER";
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (evhttp_request_get_command(ev) == codes[i])
            c.rq.method = methods[i];
    c.rq.path = path;
    c.rq.now_ms = fake_now_ms(f);
    TAILQ_INIT(&c.rq.query);
    TAILQ_INIT(&form);
    if (evhttp_uri_get_query(uri))
        evhttp_parse_query_str(evhttp_uri_get_query(uri), &c.rq.query);
    int control_route = strncmp(path, "/_fake/", 7) == 0;
    if (!control_route)
        c.entry = json_pack("{s:I,s:s,s:s,s:o}", "at_ms", (json_int_t)c.rq.now_ms, "method",
                            c.rq.method, "path", path, "query", kv_object(&c.rq.query));
    read_body(&c, ev, &form, &has_form);
    if (c.entry)
        json_object_set_new(c.entry, "body", log_body(&c, has_form ? &form : NULL));
    c.rq.token = bearer(ev);
    if (!c.rq.token)
        c.rq.token = evhttp_find_header(&c.rq.query, "access_token");
    const fake_route *r = control_route ? NULL : find_route(f, &c.rq, segs, sizeof segs);
    if (control_route) {
        control(&c.rq);
    } else if (!r) {
        reply_plain(&c.rq, 404, "no route for ", path);
    } else {
        if (fault_draw(f, path, &c.fault))
            c.rq.fault_ms = c.fault.ms;
        serve(&c, r);
    }
    log_finish(&c, 0, 1);
    json_decref(c.rq.json);
    evhttp_clear_headers(&c.rq.query);
    evhttp_clear_headers(&form);
    free((char *)c.rq.body);
    free(path);
}

/* ---- start-up ------------------------------------------------------------ */

static int usage(const char *name, const char *why, const char *arg)
{
    fprintf(
        stderr,
        "fake-%s: %s%s\nusage: fake-%s [--listen 127.0.0.1:PORT] [--port-file FILE] "
        "[--log FILE] [--log-body-max BYTES] [--token T]... [--demo-clock START_MS:EPOCH_MS:SPEED] "
        "[service options]\n",
        name, why, arg ? arg : "", name);
    return 2;
}

/* "127.0.0.1:8080" or "[::1]:0" into HOST and PORT; only loopback. */
static int parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    struct in_addr a4;
    struct in6_addr a6;
    if (!colon || (size_t)(colon - s) >= hostlen)
        return -1;
    if (s[0] == '[' && colon > s + 1 && colon[-1] == ']')
        snprintf(host, hostlen, "%.*s", (int)(colon - s - 2), s + 1);
    else
        snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127 ? 0 : -1;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6) ? 0 : -1;
}

typedef struct options {
    const char *listen, *port_file, *log;
} options;

static int parse_options(int argc, char **argv, const fake_service *svc, options *o, fake *f)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = strcmp(a, "--listen") == 0      ? &o->listen
                            : strcmp(a, "--port-file") == 0 ? &o->port_file
                            : strcmp(a, "--log") == 0       ? &o->log
                                                            : NULL;
        if (slot || strcmp(a, "--token") == 0) {
            if (!v)
                return usage(svc->name, "a value is missing after ", a);
            if (slot)
                *slot = v;
            else if (f->nstart_tokens == MAX_TOKENS)
                return usage(svc->name, "too many --token options", NULL);
            else
                f->start_tokens[f->nstart_tokens++] = v;
            i++;
            continue;
        }
        if (strcmp(a, "--log-body-max") == 0) {
            char *end;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || end == v || n < 0)
                return usage(svc->name, "--log-body-max wants a number of bytes, not ",
                             v ? v : "nothing");
            f->log_body_max = n;
            i++;
            continue;
        }
        if (strcmp(a, "--demo-clock") == 0) {
            if (!v || parse_demo_clock(v, f) != 0)
                return usage(svc->name, "--demo-clock wants START_MS:EPOCH_MS:SPEED, not ",
                             v ? v : "nothing");
            i++;
            continue;
        }
        int used = svc->option ? svc->option(a, v) : 0;
        if (used <= 0)
            return usage(svc->name, "unknown or invalid option ", a);
        i += used - 1;
    }
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return -1;
    fprintf(out, "%d\n", port);
    if (fclose(out) != 0)
        return -1;
    return rename(tmp, path);
}

static int bound_port(struct evhttp_bound_socket *bs)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    event_base_loopbreak(arg);
}

static int start(fake *f, const options *o)
{
    char host[64];
    int port;
    if (parse_listen(o->listen, host, sizeof host, &port) != 0)
        return usage(f->svc->name, "--listen takes a loopback address and port, not ", o->listen);
    if (o->log && !(f->log = fopen(o->log, "w")))
        return usage(f->svc->name, "cannot open the log ", o->log);
    f->log_path = o->log ? strdup(o->log) : NULL;
    f->http = evhttp_new(f->base);
    evhttp_set_max_body_size(f->http, MAX_BODY);
    evhttp_set_max_headers_size(f->http, 64 * 1024);
    evhttp_set_timeout(f->http, 600);
    evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(f->http, on_request, f);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(f->http, host, (ev_uint16_t)port);
    if (!bs || (port = bound_port(bs)) < 0) {
        fprintf(stderr, "fake-%s: cannot listen on %s: %s\n", f->svc->name, o->listen,
                strerror(errno));
        return 1;
    }
    if (o->port_file && write_port_file(o->port_file, port) != 0) {
        fprintf(stderr, "fake-%s: cannot write %s: %s\n", f->svc->name, o->port_file,
                strerror(errno));
        return 1;
    }
    fprintf(stderr, "fake-%s: listening on %s port %d\n", f->svc->name, host, port);
    return 0;
}

static void stop(fake *f)
{
    /* A held request still on its connection goes with it in evhttp_free;
     * one whose client left was detached and is ours to free. */
    while (f->held) {
        struct evhttp_connection *evcon = evhttp_request_get_connection(f->held->ev);
        if (evcon)
            evhttp_connection_set_closecb(evcon, NULL, NULL);
        else
            evhttp_request_free(f->held->ev);
        held_unlink(f->held);
    }
    if (f->http)
        evhttp_free(f->http);
    for (int i = 0; i < 2; i++)
        if (f->sig[i])
            event_free(f->sig[i]);
    if (f->svc->release)
        f->svc->release(f);
    if (f->log)
        fclose(f->log);
    free(f->log_path);
    json_decref(f->tokens);
    event_base_free(f->base);
}

int fake_main(int argc, char **argv, const fake_service *svc)
{
    fake f = {.svc = svc, .tokens = json_object()};
    options o = {.listen = "127.0.0.1:0"};
    int rc = parse_options(argc, argv, svc, &o, &f);
    signal(SIGPIPE, SIG_IGN);
    f.base = event_base_new();
    if (rc == 0 && svc->init && svc->init(&f) != 0) {
        fprintf(stderr, "fake-%s: the service did not start\n", svc->name);
        rc = 1;
    }
    if (rc == 0) {
        tokens_restart(&f);
        if (svc->reset)
            svc->reset(&f);
        rc = start(&f, &o);
    }
    if (rc == 0) {
        f.sig[0] = evsignal_new(f.base, SIGTERM, on_signal, f.base);
        f.sig[1] = evsignal_new(f.base, SIGINT, on_signal, f.base);
        event_add(f.sig[0], NULL);
        event_add(f.sig[1], NULL);
        event_base_dispatch(f.base);
    }
    stop(&f);
    return rc;
}
