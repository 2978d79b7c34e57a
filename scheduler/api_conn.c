/*
 * api_conn.c - the API's connections before evhttp parses them (see
 * api_conn.h). Framing follows RFC 9112: a request line, header fields of
 * token ":" value, a blank line; then Content-Length bytes or chunks.
 */
#include "api_conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <time.h>

#include "log.h"

#define FD_RESERVE 64
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_LOG_INTERVAL_S 10

enum conn_state { K_HEAD, K_BODY, K_CHUNKED, K_DEAD };
enum chunk_state { C_SIZE, C_DATA, C_DATA_END, C_TRAILER };

struct api_conn {
    api_conns *cs;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until adopted */
    struct evbuffer_cb_entry *watch;
    struct evbuffer *held; /* bytes of the current request evhttp has not seen */
    struct event *adopt, *deadline;
    enum conn_state state;
    enum chunk_state chunk;
    size_t body_left, scanned, chunk_total;
    int screening; /* our own changes to the input come back through the watch */
    int over_cap;  /* counted at accept: more than max_connections were open */
    int refusal;
    const char *refusal_error;
    char refusal_message[200];
    call *call;
    void (*gone)(call *c);
    LIST_ENTRY(api_conn) link;
};

struct api_conns {
    struct event_base *base;
    struct evhttp *http;
    api_conn_limits lim;
    LIST_HEAD(, api_conn) all;
    int open;
    unsigned long refused;
    struct evconnlistener *listener;
    struct event *resume;
    unsigned long accept_failures;
    time_t accept_logged;
    LIST_ENTRY(api_conns) link;
};

/* A listener's error callback gets the evhttp as its argument (evhttp set
 * it); this finds the state that goes with it. */
static LIST_HEAD(, api_conns) servers = LIST_HEAD_INITIALIZER(servers);

static const char *const methods[] = {"GET",     "POST",  "PUT",     "DELETE", "HEAD",
                                      "OPTIONS", "TRACE", "CONNECT", "PATCH",  NULL};

/* ---- handing bytes to evhttp ---------------------------------------------- */

/* Appends N bytes of SRC (all when N is -1) to what evhttp reads. The
 * socket bufferevent keeps its input's end frozen outside its own reads. */
static void give(api_conn *k, struct evbuffer *src, ssize_t n)
{
    struct evbuffer *in = bufferevent_get_input(k->bev);
    evbuffer_unfreeze(in, 0);
    if (n < 0)
        evbuffer_add_buffer(in, src);
    else
        evbuffer_remove_buffer(src, in, (size_t)n);
    evbuffer_freeze(in, 0);
}

/* Moves the N bytes just read (the input's tail) into held. */
static void take_tail(api_conn *k, struct evbuffer *in, size_t n)
{
    size_t len = evbuffer_get_length(in);
    if (n > len)
        n = len;
    struct evbuffer *front = evbuffer_new();
    if (!front)
        return;
    evbuffer_remove_buffer(in, front, len - n);
    evbuffer_add_buffer(k->held, in);
    evbuffer_prepend_buffer(in, front);
    evbuffer_free(front);
}

/* evhttp reads what it was given when it next reads; wake it when it is
 * waiting for a request now (it never reads while it answers). */
static void wake(api_conn *k)
{
    if (bufferevent_get_enabled(k->bev) & EV_READ)
        bufferevent_trigger(k->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

static void refuse(api_conn *k, int code, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void refuse(api_conn *k, int code, const char *error, const char *fmt, ...)
{
    static const char request[] = "GET " API_CONN_REFUSED_PATH " HTTP/1.1\r\n"
                                  "Host: -\r\nConnection: close\r\n\r\n";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->refusal_message, sizeof k->refusal_message, fmt, ap);
    va_end(ap);
    k->refusal = code;
    k->refusal_error = error;
    k->state = K_DEAD;
    k->cs->refused++;
    if (k->deadline)
        evtimer_del(k->deadline);
    evbuffer_drain(k->held, evbuffer_get_length(k->held));
    evbuffer_add(k->held, request, sizeof request - 1);
    give(k, k->held, -1);
}

/* ---- the request head ------------------------------------------------------- */

typedef struct head {
    int chunked;
    int has_length;
    unsigned long long length;
} head;

static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The length of the line at P (without its CRLF or LF); *next after it. */
static size_t line_at(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)(nl - p);
    *next = nl + 1;
    return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

static int check_request_line(api_conn *k, const char *p, size_t n)
{
    const char *sp = memchr(p, ' ', n);
    size_t mlen = sp ? (size_t)(sp - p) : n;
    const char *target = sp ? sp + 1 : NULL;
    const char *sp2 = target ? memchr(target, ' ', n - mlen - 1) : NULL;
    size_t vlen = sp2 ? n - (size_t)(sp2 + 1 - p) : 0;

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x21 && p[i] != ' ')
            return refuse(k, 400, "bad-request", "the request line holds a control character"), -1;
    if (!sp2 || sp2 == target || vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1') || memchr(target, ' ', (size_t)(sp2 - target))) {
        refuse(k, 400, "bad-request", "the request line must be METHOD TARGET HTTP/1.1");
        return -1;
    }
    for (size_t i = 0; methods[i]; i++)
        if (strlen(methods[i]) == mlen && memcmp(methods[i], p, mlen) == 0)
            return 0;
    refuse(k, 501, "not-implemented", "method %.*s is not implemented here",
           (int)(mlen > 32 ? 32 : mlen), p);
    return -1;
}

static int value_is(const char *v, size_t n, const char *want)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return n == strlen(want) && strncasecmp(v, want, n) == 0;
}

static int parse_length(const char *v, size_t n, unsigned long long *out)
{
    unsigned long long x = 0;
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 15)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (unsigned long long)(v[i] - '0');
    }
    *out = x;
    return 0;
}

/* One header field; counts what may appear once. */
static int check_field(api_conn *k, const char *p, size_t n, head *h, int seen[3])
{
    static const char *const once[] = {"Authorization", "Content-Length", "Transfer-Encoding"};
    const char *colon = memchr(p, ':', n);
    size_t nlen = colon ? (size_t)(colon - p) : 0;
    const char *v = colon ? colon + 1 : NULL;
    size_t vlen = colon ? n - nlen - 1 : 0;

    if (n && (p[0] == ' ' || p[0] == '\t'))
        return refuse(k, 400, "bad-request", "a header line folded onto the next is refused"), -1;
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)p[i]))
            nlen = 0;
    if (!nlen)
        return refuse(k, 400, "bad-request", "a header line must be NAME: VALUE with a token name"),
               -1;
    for (size_t i = 0; i < vlen; i++) {
        unsigned char ch = (unsigned char)v[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return refuse(k, 400, "bad-request",
                          "header %.*s holds a control character (0x%02x): refused", (int)nlen, p,
                          ch),
                   -1;
    }
    for (int i = 0; i < 3; i++) {
        if (strlen(once[i]) != nlen || strncasecmp(p, once[i], nlen) != 0)
            continue;
        if (seen[i]++)
            return refuse(k, 400, "bad-request", "header %s may appear only once", once[i]), -1;
        if (i == 1 && parse_length(v, vlen, &h->length) != 0)
            return refuse(k, 400, "bad-request", "Content-Length must be a decimal byte count"), -1;
        h->has_length |= i == 1;
        if (i == 2 && !value_is(v, vlen, "chunked"))
            return refuse(k, 501, "not-implemented", "only Transfer-Encoding: chunked is taken"),
                   -1;
        h->chunked |= i == 2;
    }
    if (nlen == 6 && strncasecmp(p, "Expect", 6) == 0 && !value_is(v, vlen, "100-continue"))
        return refuse(k, 417, "expectation-failed", "only Expect: 100-continue is understood"), -1;
    return 0;
}

/* Checks the head in P (N bytes, ending with its blank line). */
static int check_head(api_conn *k, const char *p, size_t n, head *h)
{
    const char *end = p + n, *next;
    int seen[3] = {0, 0, 0};
    size_t len = line_at(p, end, &next);
    memset(h, 0, sizeof *h);
    if (check_request_line(k, p, len) != 0)
        return -1;
    for (p = next; p < end; p = next) {
        len = line_at(p, end, &next);
        if (len == 0)
            break;
        if (check_field(k, p, len, h, seen) != 0)
            return -1;
    }
    if (h->chunked && h->has_length) {
        refuse(k, 400, "bad-request", "send Content-Length or Transfer-Encoding, not both");
        return -1;
    }
    if (h->has_length && h->length > k->cs->lim.max_body) {
        refuse(k, 413, "payload-too-large", "the body is over %zu bytes", k->cs->lim.max_body);
        return -1;
    }
    return 0;
}

/* The length of the head at the start of held, blank line included; 0
 * while it is incomplete. */
static size_t head_length(api_conn *k, const char **data)
{
    size_t len = evbuffer_get_length(k->held);
    size_t n = len < k->cs->lim.max_head + 4 ? len : k->cs->lim.max_head + 4;
    const char *p = (const char *)evbuffer_pullup(k->held, (ev_ssize_t)n);
    *data = p;
    for (size_t i = 0; p && i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static void arm_deadline(api_conn *k)
{
    int ms = k->cs->lim.header_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (k->deadline && !evtimer_pending(k->deadline, NULL))
        evtimer_add(k->deadline, &tv);
}

/* Returns 1 when it may go on with what is held. */
static int screen_head(api_conn *k)
{
    const char *p;
    head h;
    /* Blank lines between requests are allowed and ignored. */
    while ((p = (const char *)evbuffer_pullup(k->held, 1)) && (*p == '\r' || *p == '\n'))
        evbuffer_drain(k->held, 1);
    if (!evbuffer_get_length(k->held))
        return 0;
    arm_deadline(k);
    size_t n = head_length(k, &p);
    if (!n) {
        if (evbuffer_get_length(k->held) > k->cs->lim.max_head)
            refuse(k, 431, "headers-too-large", "the request head is over %zu bytes",
                   k->cs->lim.max_head);
        return 0;
    }
    if (n > k->cs->lim.max_head + 2) {
        refuse(k, 431, "headers-too-large", "the request head is over %zu bytes",
               k->cs->lim.max_head);
        return 0;
    }
    if (check_head(k, p, n, &h) != 0)
        return 0;
    if (h.chunked) {
        k->state = K_CHUNKED;
        k->chunk = C_SIZE;
        k->scanned = n;
        k->chunk_total = 0;
        return 1;
    }
    evtimer_del(k->deadline);
    give(k, k->held, (ssize_t)n);
    k->state = h.length ? K_BODY : K_HEAD;
    k->body_left = (size_t)h.length;
    return 1;
}

static int screen_body(api_conn *k)
{
    size_t len = evbuffer_get_length(k->held);
    size_t n = len < k->body_left ? len : k->body_left;
    give(k, k->held, (ssize_t)n);
    k->body_left -= n;
    if (!k->body_left)
        k->state = K_HEAD;
    return k->state == K_HEAD && evbuffer_get_length(k->held);
}

/* The line at held[scanned..] without its CRLF, copied into buf; its
 * length, or -1 while incomplete. */
static ssize_t chunk_line(api_conn *k, char *buf, size_t len, size_t *eaten)
{
    struct evbuffer_ptr at;
    size_t eol = 0;
    if (evbuffer_ptr_set(k->held, &at, k->scanned, EVBUFFER_PTR_SET) != 0)
        return -1;
    struct evbuffer_ptr found = evbuffer_search_eol(k->held, &at, &eol, EVBUFFER_EOL_CRLF);
    if (found.pos < 0) {
        if (evbuffer_get_length(k->held) - k->scanned > len)
            return -2;
        return -1;
    }
    size_t n = (size_t)found.pos - k->scanned;
    if (n >= len)
        return -2;
    evbuffer_copyout_from(k->held, &at, buf, n);
    buf[n] = '\0';
    *eaten = n + eol;
    return (ssize_t)n;
}

/* A chunk-size line: hex digits, optionally ";" extensions. */
static int parse_chunk_size(const char *s, size_t *out)
{
    size_t x = 0;
    const char *p = s;
    for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'); p++) {
        if (p - s >= 12)
            return -1;
        x = x * 16 + (size_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (p == s || (*p && *p != ';'))
        return -1;
    *out = x;
    return 0;
}

/* Walks the chunks held so far; the whole body is held until its last
 * chunk, so that a malformed one never reaches evhttp. */
static int screen_chunks(api_conn *k)
{
    char line[256];
    size_t eaten = 0, size = 0;
    for (;;) {
        size_t have = evbuffer_get_length(k->held) - k->scanned;
        if (k->chunk == C_DATA) {
            size_t n = have < k->body_left ? have : k->body_left;
            k->scanned += n;
            if ((k->body_left -= n) > 0)
                return 0;
            k->chunk = C_DATA_END;
            continue;
        }
        ssize_t got = chunk_line(k, line, sizeof line, &eaten);
        if (got == -1)
            return 0;
        if (got == -2 || (k->chunk == C_DATA_END && got != 0) ||
            (k->chunk == C_SIZE && parse_chunk_size(line, &size) != 0)) {
            refuse(k, 400, "bad-request", "the chunked body is malformed (RFC 9112 section 7.1)");
            return 0;
        }
        k->scanned += eaten;
        if (k->chunk == C_DATA_END) {
            k->chunk = C_SIZE;
        } else if (k->chunk == C_TRAILER) {
            if (got != 0)
                continue;
            evtimer_del(k->deadline);
            give(k, k->held, (ssize_t)k->scanned);
            k->state = K_HEAD;
            return evbuffer_get_length(k->held) > 0;
        } else if (size == 0) {
            k->chunk = C_TRAILER;
        } else if ((k->chunk_total += size) > k->cs->lim.max_body) {
            refuse(k, 413, "payload-too-large", "the body is over %zu bytes", k->cs->lim.max_body);
            return 0;
        } else {
            k->chunk = C_DATA;
            k->body_left = size;
        }
    }
}

static void screen(api_conn *k)
{
    int more = 1;
    while (more) {
        switch (k->state) {
        case K_HEAD: more = screen_head(k); break;
        case K_BODY: more = screen_body(k); break;
        case K_CHUNKED: more = screen_chunks(k); break;
        case K_DEAD: evbuffer_drain(k->held, evbuffer_get_length(k->held)); more = 0;
        }
    }
}

/* Every read lands in the socket bufferevent's input; this runs inside
 * that read, before evhttp's read callback looks at it. */
static void input_changed(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    api_conn *k = arg;
    if (k->screening || info->n_added == 0)
        return;
    k->screening = 1;
    take_tail(k, in, info->n_added);
    screen(k);
    k->screening = 0;
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    api_conn *k = arg;
    (void)fd;
    (void)what;
    if (k->state != K_HEAD && k->state != K_CHUNKED)
        return;
    k->screening = 1;
    refuse(k, 408, "request-timeout", "the request did not arrive within %d ms",
           k->cs->lim.header_timeout_ms);
    k->screening = 0;
    wake(k);
}

/* ---- a connection's life ----------------------------------------------------- */

static void conn_free(api_conn *k)
{
    if (k->watch)
        evbuffer_remove_cb_entry(bufferevent_get_input(k->bev), k->watch);
    if (k->adopt)
        event_free(k->adopt);
    if (k->deadline)
        event_free(k->deadline);
    evbuffer_free(k->held);
    LIST_REMOVE(k, link);
    k->cs->open--;
    free(k);
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    api_conn *k = arg;
    (void)evcon;
    if (k->call && k->gone)
        k->gone(k->call);
    conn_free(k);
}

/* evhttp sets the connection up after our bufferevent_cb returns; by the
 * time this runs its callbacks point at the connection, unless it was
 * freed (its callbacks are then cleared). Nothing of the socket has been
 * read yet. */
static void adopt_cb(evutil_socket_t fd, short what, void *arg)
{
    api_conn *k = arg;
    struct bufferevent *bev = k->bev;
    void *evcon = NULL;
    (void)fd;
    (void)what;
    bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
    event_free(k->adopt);
    k->adopt = NULL;
    if (!evcon) {
        k->watch = NULL;
        conn_free(k);
        bufferevent_decref(bev);
        return;
    }
    k->evcon = evcon;
    evhttp_connection_set_closecb(k->evcon, conn_closed, k);
    if (k->over_cap) {
        k->screening = 1;
        refuse(k, 503, "too-many-connections", "this server takes at most %d connections",
               k->cs->lim.max_connections);
        k->screening = 0;
        wake(k);
    } else {
        arm_deadline(k);
    }
    bufferevent_decref(bev);
}

static struct bufferevent *new_bufferevent(struct event_base *base, void *arg)
{
    api_conns *cs = arg;
    api_conn *k = calloc(1, sizeof *k);
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!k || !bev || !(k->held = evbuffer_new()) ||
        !(k->adopt = event_new(base, -1, 0, adopt_cb, k)) ||
        !(k->deadline = evtimer_new(base, deadline_cb, k)) ||
        !(k->watch = evbuffer_add_cb(bufferevent_get_input(bev), input_changed, k))) {
        if (k) {
            if (k->adopt)
                event_free(k->adopt);
            if (k->held)
                evbuffer_free(k->held);
            free(k);
        }
        return bev; /* evhttp serves it unscreened rather than not at all */
    }
    k->cs = cs;
    k->bev = bev;
    LIST_INSERT_HEAD(&cs->all, k, link);
    k->over_cap = ++cs->open > cs->lim.max_connections;
    /* Keeps BEV's memory until adopt_cb, even if evhttp frees it first. */
    bufferevent_incref(bev);
    event_active(k->adopt, EV_TIMEOUT, 1);
    return bev;
}

/* ---- accept back-off --------------------------------------------------------- */

static void resume_accept(evutil_socket_t fd, short what, void *arg)
{
    api_conns *cs = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(cs->listener);
}

static void accept_failed(struct evconnlistener *listener, void *arg)
{
    api_conns *cs;
    LIST_FOREACH(cs, &servers, link)
    if (cs->http == arg)
        break;
    if (!cs)
        return;
    int err = EVUTIL_SOCKET_ERROR();
    time_t now = time(NULL);
    cs->accept_failures++;
    if (now - cs->accept_logged >= ACCEPT_LOG_INTERVAL_S) {
        log_warn("api: accept failed %lu time(s) in the last %d s (%s); pausing accept for %d ms "
                 "each time",
                 cs->accept_failures, ACCEPT_LOG_INTERVAL_S, evutil_socket_error_to_string(err),
                 ACCEPT_PAUSE_MS);
        cs->accept_logged = now;
        cs->accept_failures = 0;
    }
    /* The listening socket stays readable while no descriptor is free:
     * without a pause, the loop would spin on it. */
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    evconnlistener_disable(listener);
    cs->listener = listener;
    evtimer_add(cs->resume, &tv);
}

void api_conns_listen(api_conns *cs, struct evconnlistener *listener)
{
    evconnlistener_set_error_cb(listener, accept_failed);
    cs->listener = listener;
}

/* ---- set-up ----------------------------------------------------------------- */

static int fd_ceiling(int wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return wanted;
    long room = (long)rl.rlim_cur - FD_RESERVE;
    if (room < 1)
        room = 1;
    if (wanted > room) {
        log_warn("api: limits.max_connections %d is over what the fd limit allows (%ld open "
                 "files, %d kept for Redis and logs): taking at most %ld connections",
                 wanted, (long)rl.rlim_cur, FD_RESERVE, room);
        return (int)room;
    }
    return wanted;
}

api_conns *api_conns_new(struct event_base *base, struct evhttp *http, const api_conn_limits *lim)
{
    api_conns *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->base = base;
    cs->http = http;
    cs->lim = *lim;
    cs->lim.max_connections = fd_ceiling(lim->max_connections);
    LIST_INIT(&cs->all);
    if (!(cs->resume = evtimer_new(base, resume_accept, cs))) {
        free(cs);
        return NULL;
    }
    evhttp_set_bevcb(http, new_bufferevent, cs);
    LIST_INSERT_HEAD(&servers, cs, link);
    return cs;
}

void api_conns_free(api_conns *cs)
{
    if (!cs)
        return;
    api_conn *k;
    /* evhttp_free closed every adopted connection; what is left was never
     * adopted, and only those still hold a reference on their bufferevent
     * (an adopted one left here is forgotten, its bufferevent already gone). */
    while ((k = LIST_FIRST(&cs->all))) {
        struct bufferevent *bev = k->evcon ? NULL : k->bev;
        k->watch = NULL;
        conn_free(k);
        if (bev)
            bufferevent_decref(bev);
    }
    event_free(cs->resume);
    LIST_REMOVE(cs, link);
    free(cs);
}

api_conn *api_conns_find(api_conns *cs, struct evhttp_connection *evcon)
{
    api_conn *k;
    LIST_FOREACH(k, &cs->all, link)
    if (k->evcon == evcon)
        return k;
    return NULL;
}

void api_conn_set_call(api_conn *k, call *c, void (*gone)(call *c))
{
    k->call = c;
    k->gone = gone;
}

int api_conn_refusal(const api_conn *k, const char **error, const char **message)
{
    if (!k || !k->refusal)
        return 0;
    *error = k->refusal_error;
    *message = k->refusal_message;
    return k->refusal;
}

int api_conns_open(const api_conns *cs)
{
    return cs->open;
}
int api_conns_max(const api_conns *cs)
{
    return cs->lim.max_connections;
}
unsigned long api_conns_refused(const api_conns *cs)
{
    return cs->refused;
}
