/*
 * outbound.c - the core of the outbound client: one libcurl multi handle
 * per client, driven by the libevent loop (outbound.h says what it
 * promises; outbound_internal.h how a protocol front hands it a transfer).
 *
 * libcurl tells us which sockets to watch (on_socket) and when to wake it
 * (on_timer_set); we tell it what happened with curl_multi_socket_action().
 * Finished transfers are only collected while libcurl runs; their callbacks
 * run after it has returned, from the ready queue, so that a callback may
 * start, cancel or free anything without libcurl on the stack.
 */
#include "outbound.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <unistd.h>

#include "clock.h"
#include "outbound_internal.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RESPONSE (1024 * 1024)
#define DEFAULT_MAX_HOST_CONNECTIONS 8
/* Headers are not counted in max_response; this bounds them on their own. */
#define MAX_HEADER_BYTES (64 * 1024)

/* The answer's headers as "name\0value\0" pairs, in arrival order. */
struct outbound_headers {
    char *buf;
    size_t len, cap;
};

enum { TOOBIG_BODY = 1, TOOBIG_HEADERS };

typedef enum req_state {
    REQ_ACTIVE,   /* in the multi handle */
    REQ_READY,    /* ended; its callback is due */
    REQ_ANSWERING /* its callback is running */
} req_state;

struct outbound_req {
    TAILQ_ENTRY(outbound_req) link; /* in ob->active or ob->ready */
    outbound *ob;
    CURL *easy;
    struct curl_slist *keep;
    outbound_done_fn *done;
    void *arg;
    req_state state;
    long long upload_len;
    int64_t started_ms;
    int toobig; /* TOOBIG_BODY or TOOBIG_HEADERS: why a sink stopped the transfer */
    outbound_result result;
    int status, request_sent;
    long long elapsed_ms;
    char *body;
    size_t body_len, body_cap;
    struct outbound_headers headers;
    char host[128];
    char errbuf[CURL_ERROR_SIZE];
    char error[256];
};

typedef struct ob_sock {
    LIST_ENTRY(ob_sock) link;
    outbound *ob;
    struct event *ev;
} ob_sock;

struct outbound {
    struct event_base *base;
    CURLM *multi;
    outbound_conf conf;
    char ca_file[1024];
    struct event *timer; /* libcurl's one timeout */
    struct event *later; /* delivers the ready queue from the loop */
    TAILQ_HEAD(, outbound_req) active, ready;
    LIST_HEAD(, ob_sock) socks;
    size_t inflight;
    int depth;   /* our event callbacks on the stack */
    int closing; /* outbound_free() was called */
};

static void destroy(outbound *ob);

/* ---- names ---------------------------------------------------------------- */

const char *outbound_result_name(outbound_result r)
{
    switch (r) {
    case OUTBOUND_OK: return "ok";
    case OUTBOUND_CONNECT: return "connect";
    case OUTBOUND_TIMEOUT: return "timeout";
    case OUTBOUND_DROPPED: return "dropped";
    case OUTBOUND_TOOBIG: return "toobig";
    case OUTBOUND_TLS: return "tls";
    case OUTBOUND_CANCELLED: return "cancelled";
    case OUTBOUND_ERROR: return "error";
    }
    return "error";
}

size_t outbound_inflight(const outbound *ob)
{
    return ob ? ob->inflight : 0;
}

int outbound_open(const outbound *ob)
{
    return ob && !ob->closing;
}

/* ---- the answer's body and headers ------------------------------------------ */

/* Grows geometrically so that a large answer costs few copies, but never
 * past what the cap allows (plus the NUL). */
static int body_reserve(outbound_req *r, size_t need)
{
    size_t limit = r->ob->conf.max_response + 1;
    if (need <= r->body_cap)
        return 0;
    size_t cap = r->body_cap ? r->body_cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    char *p = realloc(r->body, cap);
    if (!p)
        return -1;
    r->body = p;
    r->body_cap = cap;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    outbound_req *r = arg;
    size_t len = size * n;
    if (len > r->ob->conf.max_response - r->body_len) {
        r->toobig = TOOBIG_BODY;
        return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
    }
    if (body_reserve(r, r->body_len + len + 1) != 0)
        return 0;
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

static int headers_add(struct outbound_headers *h, const char *name, size_t nlen, const char *value,
                       size_t vlen)
{
    size_t need = h->len + nlen + vlen + 2;
    if (need > MAX_HEADER_BYTES)
        return -1;
    if (need > h->cap) {
        size_t cap = h->cap ? h->cap : 1024;
        while (cap < need)
            cap *= 2;
        char *p = realloc(h->buf, cap);
        if (!p)
            return -1;
        h->buf = p;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, name, nlen);
    h->buf[h->len + nlen] = '\0';
    memcpy(h->buf + h->len + nlen + 1, value, vlen);
    h->buf[h->len + nlen + 1 + vlen] = '\0';
    h->len = need;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One header line as libcurl hands it over, CRLF included. A status line
 * starts a new answer (after a 100 Continue, or a retry on a fresh
 * connection): only the last answer's headers are kept. */
static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    outbound_req *r = arg;
    size_t len = size * n;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        r->headers.len = 0;
        return len;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return len; /* the blank line, a folded continuation */
    const char *v = colon + 1, *end = line + len;
    while (v < end && is_space(*v))
        v++;
    while (end > v && is_space(end[-1]))
        end--;
    if (headers_add(&r->headers, line, (size_t)(colon - line), v, (size_t)(end - v)) != 0) {
        r->toobig = TOOBIG_HEADERS;
        return 0;
    }
    return len;
}

const char *outbound_header(const outbound_response *r, const char *name)
{
    const struct outbound_headers *h = r ? r->headers : NULL;
    const char *found = NULL;
    if (!h || !name)
        return NULL;
    for (size_t at = 0; at < h->len;) {
        const char *n = h->buf + at, *v = n + strlen(n) + 1;
        if (strcasecmp(n, name) == 0)
            found = v;
        at = (size_t)(v - h->buf) + strlen(v) + 1;
    }
    return found;
}

/* ---- the end of a transfer ------------------------------------------------------ */

static outbound_result classify(const outbound_req *r, CURLcode code)
{
    switch (code) {
    case CURLE_OK: return OUTBOUND_OK;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return OUTBOUND_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return OUTBOUND_TIMEOUT;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE: return OUTBOUND_DROPPED;
    case CURLE_FILESIZE_EXCEEDED: return OUTBOUND_TOOBIG;
    case CURLE_WRITE_ERROR: return r->toobig ? OUTBOUND_TOOBIG : OUTBOUND_ERROR;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED: return OUTBOUND_TLS;
    default: return OUTBOUND_ERROR;
    }
}

/*
 * Whether the service may have acted on the request: its head went out
 * (REQUEST_SIZE counts the bytes of it that were sent) and so did every
 * byte of its body. A transfer still waiting for a connection, or refused
 * one, has sent nothing; a timeout while the answer is awaited has sent
 * it all.
 */
static int whole_request_sent(const outbound_req *r)
{
    long head = 0;
    curl_off_t up = 0;
    curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &head);
    curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    if (r->upload_len > 0)
        return up >= r->upload_len;
    return head > 0;
}

/* One line for people: the host, then what went wrong. */
static void describe(outbound_req *r, CURLcode code)
{
    const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
    if (r->result == OUTBOUND_OK)
        r->error[0] = '\0';
    else if (r->result == OUTBOUND_TOOBIG && r->toobig == TOOBIG_HEADERS)
        snprintf(r->error, sizeof r->error, "%s: the answer's headers are over %d bytes", r->host,
                 MAX_HEADER_BYTES);
    else if (r->result == OUTBOUND_TOOBIG)
        snprintf(r->error, sizeof r->error, "%s: the answer is over %zu bytes", r->host,
                 r->ob->conf.max_response);
    else if (r->result == OUTBOUND_CANCELLED)
        snprintf(r->error, sizeof r->error, "%s: cancelled", r->host);
    else
        snprintf(r->error, sizeof r->error, "%.100s: %.150s", r->host, why);
    for (char *p = r->error; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
}

/* Takes R out of libcurl and queues its answer. */
static void end_transfer(outbound_req *r, outbound_result result, CURLcode code)
{
    outbound *ob = r->ob;
    r->result = result;
    r->request_sent = whole_request_sent(r);
    curl_off_t us = 0;
    if (result != OUTBOUND_CANCELLED &&
        curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
        r->elapsed_ms = (long long)(us / 1000);
    else
        r->elapsed_ms = clock_mono_ms() - r->started_ms;
    long status = 0;
    if (result == OUTBOUND_OK)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->status = (int)status;
    describe(r, code);
    curl_multi_remove_handle(ob->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    curl_slist_free_all(r->keep);
    r->keep = NULL;
    TAILQ_REMOVE(&ob->active, r, link);
    TAILQ_INSERT_TAIL(&ob->ready, r, link);
    r->state = REQ_READY;
}

/* Takes what libcurl finished; answers nothing yet. */
static void collect(outbound *ob)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(ob->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode code = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        outbound_req *r = (outbound_req *)priv;
        if (r)
            end_transfer(r, classify(r, code), code);
    }
}

static void req_free(outbound_req *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->keep);
    free(r->body);
    free(r->headers.buf);
    free(r);
}

static void answer(outbound_req *r)
{
    outbound *ob = r->ob;
    int ok = r->result == OUTBOUND_OK;
    outbound_response resp = {
        .result = r->result,
        .status = ok ? r->status : 0,
        .request_sent = r->request_sent,
        .body = ok && r->body ? r->body : "",
        .body_len = ok ? r->body_len : 0,
        .elapsed_ms = r->elapsed_ms,
        .headers = ok ? &r->headers : NULL,
    };
    snprintf(resp.error, sizeof resp.error, "%s", r->error);
    TAILQ_REMOVE(&ob->ready, r, link);
    r->state = REQ_ANSWERING;
    ob->inflight--;
    r->done(&resp, r->arg);
    req_free(r);
}

/* Callbacks may start, cancel or free: the queue is read afresh each time. */
static void answer_ready(outbound *ob)
{
    outbound_req *r;
    while ((r = TAILQ_FIRST(&ob->ready)))
        answer(r);
}

/* ---- libevent <-> libcurl ---------------------------------------------------------- */

static void enter(outbound *ob)
{
    ob->depth++;
}

/* Answers what ended while we were inside, then frees a client whose
 * outbound_free() ran in one of those callbacks. */
static void leave(outbound *ob)
{
    answer_ready(ob);
    if (--ob->depth == 0 && ob->closing)
        destroy(ob);
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    outbound *ob = ((ob_sock *)arg)->ob; /* the socket may be gone after the call */
    int running,
        flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    enter(ob);
    curl_multi_socket_action(ob->multi, fd, flags, &running);
    collect(ob);
    leave(ob);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    outbound *ob = arg;
    int running;
    (void)fd;
    (void)what;
    enter(ob);
    curl_multi_socket_action(ob->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(ob);
    leave(ob);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    enter(arg);
    leave(arg);
}

static void sock_free(ob_sock *s)
{
    LIST_REMOVE(s, link);
    if (s->ev)
        event_free(s->ev);
    free(s);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    outbound *ob = userp;
    ob_sock *s = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_free(s);
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return -1;
        s->ob = ob;
        LIST_INSERT_HEAD(&ob->socks, s, link);
        curl_multi_assign(ob->multi, fd, s);
    }
    if (s->ev)
        event_free(s->ev);
    short ev =
        EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    s->ev = event_new(ob->base, fd, ev, on_sock_event, s);
    if (!s->ev || event_add(s->ev, NULL) != 0)
        return -1;
    return 0;
}

/* libcurl must not be re-entered from here: a zero timeout only arms the timer. */
static int on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
    outbound *ob = userp;
    (void)multi;
    if (timeout_ms < 0)
        return evtimer_del(ob->timer);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(ob->timer, &tv);
}

/* ---- the client ------------------------------------------------------------------ */

static void apply_defaults(outbound_conf *c)
{
    if (c->connect_timeout_ms <= 0)
        c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (c->timeout_ms <= 0)
        c->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (c->max_response == 0)
        c->max_response = DEFAULT_MAX_RESPONSE;
    if (c->max_host_connections <= 0)
        c->max_host_connections = DEFAULT_MAX_HOST_CONNECTIONS;
    if (c->max_total_connections < 0)
        c->max_total_connections = 0;
}

static int setup_multi(outbound *ob)
{
    CURLM *m = ob->multi;
    if (curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_SOCKETDATA, ob) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer_set) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_TIMERDATA, ob) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, ob->conf.max_host_connections) !=
            CURLM_OK)
        return -1;
    if (ob->conf.max_total_connections > 0 &&
        curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, ob->conf.max_total_connections) !=
            CURLM_OK)
        return -1;
    return 0;
}

outbound *outbound_new(struct event_base *base, const outbound_conf *conf, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl could not start");
        return NULL;
    }
    outbound *ob = calloc(1, sizeof *ob);
    if (!ob) {
        curl_global_cleanup();
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ob->base = base;
    TAILQ_INIT(&ob->active);
    TAILQ_INIT(&ob->ready);
    LIST_INIT(&ob->socks);
    if (conf)
        ob->conf = *conf;
    apply_defaults(&ob->conf);
    /* A CA file that cannot be read would fail every https call later, one by one. */
    if (conf && conf->ca_file && conf->ca_file[0]) {
        int e = strlen(conf->ca_file) >= sizeof ob->ca_file ? ENAMETOOLONG
                : access(conf->ca_file, R_OK) != 0          ? errno
                                                            : 0;
        if (e) {
            snprintf(err, errlen, "ca_file \"%s\": %s", conf->ca_file, strerror(e));
            destroy(ob);
            return NULL;
        }
        snprintf(ob->ca_file, sizeof ob->ca_file, "%s", conf->ca_file);
    }
    ob->conf.ca_file = ob->ca_file[0] ? ob->ca_file : NULL;
    ob->multi = curl_multi_init();
    ob->timer = evtimer_new(base, on_timer, ob);
    ob->later = event_new(base, -1, 0, on_later, ob);
    if (!ob->multi || !ob->timer || !ob->later || setup_multi(ob) != 0) {
        snprintf(err, errlen, "out of memory");
        destroy(ob);
        return NULL;
    }
    return ob;
}

static void destroy(outbound *ob)
{
    ob_sock *s;
    if (ob->multi)
        curl_multi_cleanup(ob->multi);
    while ((s = LIST_FIRST(&ob->socks)))
        sock_free(s);
    if (ob->timer)
        event_free(ob->timer);
    if (ob->later)
        event_free(ob->later);
    free(ob);
    curl_global_cleanup();
}

/* Takes R out of libcurl now; its CANCELLED answer is queued. */
static void cancel_now(outbound_req *r)
{
    if (r->state == REQ_ACTIVE)
        end_transfer(r, OUTBOUND_CANCELLED, CURLE_OK);
    else if (r->state == REQ_READY && r->result != OUTBOUND_CANCELLED) {
        r->result = OUTBOUND_CANCELLED;
        describe(r, CURLE_OK);
    }
}

void outbound_cancel(outbound_req *r)
{
    if (!r || r->state == REQ_ANSWERING)
        return;
    cancel_now(r);
    event_active(r->ob->later, EV_TIMEOUT, 1);
}

void outbound_abandon(outbound_req *r)
{
    if (!r || r->state == REQ_ANSWERING)
        return;
    outbound *ob = r->ob;
    if (r->state == REQ_ACTIVE) {
        curl_multi_remove_handle(ob->multi, r->easy);
        TAILQ_REMOVE(&ob->active, r, link);
    } else {
        TAILQ_REMOVE(&ob->ready, r, link);
    }
    ob->inflight--;
    req_free(r);
}

void outbound_free(outbound *ob)
{
    outbound_req *r;
    if (!ob || ob->closing)
        return;
    ob->closing = 1;
    /* Answers that came in full are given as they are; the rest are cancelled. */
    answer_ready(ob);
    while ((r = TAILQ_FIRST(&ob->active))) {
        cancel_now(r);
        answer_ready(ob);
    }
    if (ob->depth == 0)
        destroy(ob);
}

/* ---- starting a transfer ------------------------------------------------------------ */

static void host_of(const char *url, char *host, size_t len)
{
    CURLU *u = curl_url();
    char *h = NULL;
    snprintf(host, len, "?");
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
        snprintf(host, len, "%s", h);
    curl_free(h);
    curl_url_cleanup(u);
}

/* The core's own options, set after the front's so that they win. */
static int core_options(outbound_req *r, const outbound_transfer *t)
{
    const outbound_conf *c = &r->ob->conf;
    CURL *e = r->easy;
    long timeout = t->timeout_ms > 0 ? t->timeout_ms : c->timeout_ms;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, t->protocols) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, t->protocols) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    if (c->ca_file)
        bad |= curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file) != CURLE_OK;
    return bad ? -1 : 0;
}

outbound_req *outbound_start(outbound *ob, const outbound_transfer *t, outbound_done_fn *done,
                             void *arg, char *err, size_t errlen)
{
    outbound_req *r = NULL;
    if (!outbound_open(ob) || !t->easy || !t->url || !t->protocols || !done) {
        snprintf(err, errlen,
                 !outbound_open(ob) ? "the outbound client is closing"
                                    : "a request needs a URL and a callback");
        goto fail;
    }
    if (!(r = calloc(1, sizeof *r))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    r->ob = ob;
    r->easy = t->easy;
    r->keep = t->keep;
    r->done = done;
    r->arg = arg;
    r->upload_len = t->upload_len;
    r->started_ms = clock_mono_ms();
    host_of(t->url, r->host, sizeof r->host);
    if (core_options(r, t) != 0) {
        snprintf(err, errlen, "%s: libcurl refused the request's options", r->host);
        req_free(r);
        return NULL;
    }
    TAILQ_INSERT_TAIL(&ob->active, r, link);
    if (curl_multi_add_handle(ob->multi, r->easy) != CURLM_OK) {
        TAILQ_REMOVE(&ob->active, r, link);
        snprintf(err, errlen, "%s: libcurl could not take the request", r->host);
        req_free(r);
        return NULL;
    }
    ob->inflight++;
    return r;
fail:
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->keep);
    return NULL;
}

/* ---- waiting times from headers ------------------------------------------------------ */

/* Whole seconds, digits only; -1 otherwise. */
static long long parse_seconds(const char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || *end || v > 1000000000000LL) /* far past any date: the ms would overflow */
        return -1;
    return v;
}

static long long until(long long at_ms, long long now_ms)
{
    return at_ms > now_ms ? at_ms - now_ms : 0;
}

long long outbound_delay_ms(const outbound_response *r, const char *name, long long now_ms)
{
    const char *v = outbound_header(r, name ? name : "Retry-After");
    if (!v)
        return -1;
    long long secs = parse_seconds(v);
    if (name)
        return secs < 0 ? -1 : until(secs * 1000, now_ms); /* an epoch time */
    if (secs >= 0)
        return secs * 1000; /* a delay */
    time_t at = curl_getdate(v, NULL);
    return at < 0 ? -1 : until((long long)at * 1000, now_ms);
}
