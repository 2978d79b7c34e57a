/*
 * The outbound client (adapters/outbound.h) against servers on loopback
 * that run on the client's own event_base: an evhttp server for ordinary
 * answers, and a raw one for what evhttp will not do (a 100 Continue
 * before the answer, a connection closed after the request was read).
 * Nothing sleeps: the loop runs until a condition holds or a deadline
 * passes.
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "outbound.h"

static struct event_base *base;

/* ---- the evhttp server -------------------------------------------------------- */

static struct evhttp *srv;
static int srv_port;

static struct {
    int requests;
    char method[16], body[256], ua[128], xtest[64], ctype[64], expect[64], clen[16];
} seen;

#define MAX_CONNS 1024
static struct evhttp_connection *conns[MAX_CONNS];
static int conn_gen[MAX_CONNS]; /* the count a connection was first seen in */
static int nconns, max_open, new_conns, generation;

/* Connections of the current count still open (a server keeps a hung
 * request's connection past the client's going, so older ones linger). */
static int open_now(void)
{
    int n = 0;
    for (int i = 0; i < nconns; i++)
        n += conn_gen[i] == generation;
    return n;
}

static void on_conn_close(struct evhttp_connection *c, void *arg)
{
    (void)arg;
    for (int i = 0; i < nconns; i++) {
        if (conns[i] == c) {
            nconns--;
            conns[i] = conns[nconns];
            conn_gen[i] = conn_gen[nconns];
            return;
        }
    }
}

/* Counts connections as the server sees them: new ones, and how many at once. */
static void note_connection(struct evhttp_request *req)
{
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    for (int i = 0; i < nconns; i++)
        if (conns[i] == c)
            return;
    if (nconns == MAX_CONNS)
        return;
    conn_gen[nconns] = generation;
    conns[nconns++] = c;
    new_conns++;
    if (open_now() > max_open)
        max_open = open_now();
    evhttp_connection_set_closecb(c, on_conn_close, NULL);
}

static void copy_header(struct evhttp_request *req, const char *name, char *to, size_t len)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
    snprintf(to, len, "%s", v ? v : "");
}

static const char *method_name(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    default: return "?";
    }
}

static void record(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n >= sizeof seen.body)
        n = sizeof seen.body - 1;
    evbuffer_copyout(in, seen.body, n);
    seen.body[n] = '\0';
    snprintf(seen.method, sizeof seen.method, "%s", method_name(req));
    copy_header(req, "User-Agent", seen.ua, sizeof seen.ua);
    copy_header(req, "X-Test", seen.xtest, sizeof seen.xtest);
    copy_header(req, "Content-Type", seen.ctype, sizeof seen.ctype);
    copy_header(req, "Expect", seen.expect, sizeof seen.expect);
    copy_header(req, "Content-Length", seen.clen, sizeof seen.clen);
}

static void reply(struct evhttp_request *req, int code, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, "Answer", b);
    evbuffer_free(b);
}

/* /status/NNN: that status, with a few headers to read back. */
static void route_status(struct evhttp_request *req, const char *path)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Retry-After", "7");
    evhttp_add_header(out, "X-Mixed-Case", "v1");
    evhttp_add_header(out, "X-Dup", "a");
    evhttp_add_header(out, "X-Dup", "b");
    reply(req, (int)strtol(path + 8, NULL, 10), "{\"status\":\"said\"}");
}

/* /headers?NAME=VALUE...: those headers, from the decoded query. */
static void route_headers(struct evhttp_request *req)
{
    struct evkeyvalq q;
    struct evkeyval *kv;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    evhttp_parse_query_str(query ? query : "", &q);
    for (kv = TAILQ_FIRST(&q); kv; kv = TAILQ_NEXT(kv, next))
        evhttp_add_header(evhttp_request_get_output_headers(req), kv->key, kv->value);
    evhttp_clear_headers(&q);
    reply(req, 200, "");
}

/* /big/N: N bytes with a Content-Length; /chunked/N: N bytes in chunks. */
static void route_big(struct evhttp_request *req, const char *path, int chunked)
{
    size_t n = (size_t)strtol(strrchr(path, '/') + 1, NULL, 10);
    char *fill = malloc(n + 1);
    memset(fill, 'x', n);
    fill[n] = '\0';
    if (!chunked) {
        reply(req, 200, fill);
    } else {
        evhttp_send_reply_start(req, 200, "OK");
        for (size_t at = 0; at < n; at += 512) {
            struct evbuffer *b = evbuffer_new();
            evbuffer_add(b, fill + at, n - at < 512 ? n - at : 512);
            evhttp_send_reply_chunk(req, b);
            evbuffer_free(b);
        }
        evhttp_send_reply_end(req);
    }
    free(fill);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    (void)arg;
    seen.requests++;
    note_connection(req);
    if (!path)
        reply(req, 404, "");
    else if (strcmp(path, "/echo") == 0) {
        record(req);
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Echo", "1");
        reply(req, 200, "hello");
    } else if (strncmp(path, "/status/", 8) == 0)
        route_status(req, path);
    else if (strcmp(path, "/headers") == 0)
        route_headers(req);
    else if (strncmp(path, "/big/", 5) == 0)
        route_big(req, path, 0);
    else if (strncmp(path, "/chunked/", 9) == 0)
        route_big(req, path, 1);
    else if (strcmp(path, "/hang") == 0)
        ; /* never answered: freed when the client goes */
    else
        reply(req, 200, "ok");
}

static int bound_port(evutil_socket_t fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        return -1;
    return ntohs(sin.sin_port);
}

static void start_server(void)
{
    srv = evhttp_new(base);
    evhttp_set_allowed_methods(srv, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(srv, on_request, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(srv, "127.0.0.1", 0);
    srv_port = bs ? bound_port(evhttp_bound_socket_get_fd(bs)) : -1;
}

/* ---- the raw server ------------------------------------------------------------ */

/* RAW_KEEP_ONCE answers a connection's first request and keeps it open,
 * then drops it at its second: a kept-alive connection that died. */
typedef enum raw_mode { RAW_DROP, RAW_CONTINUE, RAW_KEEP_ONCE } raw_mode;
static int raw_closed; /* raw connections the server has let go */

static void raw_free(struct bufferevent *bev, void *served)
{
    free(served);
    bufferevent_free(bev);
    raw_closed++;
}

static struct evconnlistener *raw;
static int raw_port;
static raw_mode raw_as;

/* The request is in once its head and its Content-Length of body are. */
static int request_complete(struct evbuffer *in)
{
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return 0;
    size_t head = (size_t)end.pos + 4, body = 0;
    char *text = malloc(head + 1);
    evbuffer_copyout(in, text, head);
    text[head] = '\0';
    const char *cl = strcasestr(text, "\r\nContent-Length:");
    if (cl)
        body = (size_t)strtol(cl + 17, NULL, 10);
    free(text);
    return evbuffer_get_length(in) >= head + body;
}

static void raw_done(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        raw_free(bev, arg);
}

static void raw_read(struct bufferevent *bev, void *arg)
{
    if (!request_complete(bufferevent_get_input(bev)))
        return;
    seen.requests++;
    int *served = arg;
    if (raw_as == RAW_DROP || (raw_as == RAW_KEEP_ONCE && (*served)++ > 0)) {
        raw_free(bev, served);
        return;
    }
    if (raw_as == RAW_KEEP_ONCE) {
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        bufferevent_write(bev, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
        return;
    }
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
    bufferevent_setcb(bev, NULL, raw_done, NULL, NULL);
    bufferevent_write(bev, "HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n", 37);
    const char *answer = "HTTP/1.1 200 OK\r\nX-Final: 2\r\nContent-Length: 2\r\n"
                         "Connection: close\r\n\r\nok";
    bufferevent_write(bev, answer, strlen(answer));
}

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    raw_free(bev, arg);
}

static void raw_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                       void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    new_conns++;
    /* Only RAW_KEEP_ONCE counts what a connection served. */
    int *served = raw_as == RAW_KEEP_ONCE ? calloc(1, sizeof *served) : NULL;
    bufferevent_setcb(bev, raw_read, NULL, raw_event, served);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void start_raw(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    raw = evconnlistener_new_bind(base, raw_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                  16, (struct sockaddr *)&sin, sizeof sin);
    raw_port = raw ? bound_port(evconnlistener_get_fd(raw)) : -1;
}

/* A loopback port nobody listens on: bound, then closed. */
static int closed_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
        port = bound_port(fd);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- the client's side ------------------------------------------------------------ */

static int deadline_hit;

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    deadline_hit = 1;
}

/* Runs the loop until *COUNTER reaches WANT or MS pass; 1 when reached. */
static int run_until(const int *counter, int want, int ms)
{
    struct event *t = evtimer_new(base, on_deadline, NULL);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    deadline_hit = 0;
    evtimer_add(t, &tv);
    while ((!counter || *counter < want) && !deadline_hit)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return !counter || *counter >= want;
}

/* What one request's callback saw. */
typedef struct answer {
    int calls;
    int inside; /* called while outbound_http() or outbound_cancel() ran */
    outbound_result result;
    int status, request_sent;
    char body[64];
    size_t body_len;
    char error[256];
    char retry_after[32], mixed[32], dup[32], echo[8], early[8], final[8];
    long long delay_retry, delay_reset;
    long long now_ms; /* the clock outbound_delay_ms() is asked with */
} answer;

static int in_call;      /* set around calls that must not answer inside */
static int answers_seen; /* every callback, for run_until() */

static void keep(char *to, size_t len, const outbound_response *r, const char *name)
{
    const char *v = outbound_header(r, name);
    snprintf(to, len, "%s", v ? v : "");
}

static void on_done(const outbound_response *r, void *arg)
{
    answer *a = arg;
    a->calls++;
    answers_seen++;
    a->inside |= in_call;
    a->result = r->result;
    a->status = r->status;
    a->request_sent = r->request_sent;
    snprintf(a->body, sizeof a->body, "%s", r->body);
    a->body_len = r->body_len;
    snprintf(a->error, sizeof a->error, "%s", r->error);
    keep(a->retry_after, sizeof a->retry_after, r, "retry-after");
    keep(a->mixed, sizeof a->mixed, r, "x-MIXED-case");
    keep(a->dup, sizeof a->dup, r, "X-DUP");
    keep(a->echo, sizeof a->echo, r, "x-echo");
    keep(a->early, sizeof a->early, r, "X-Early");
    keep(a->final, sizeof a->final, r, "X-Final");
    a->delay_retry = outbound_delay_ms(r, NULL, a->now_ms);
    a->delay_reset = outbound_delay_ms(r, "x-rate-limit-reset", a->now_ms);
}

static outbound *client(long max_host, size_t max_response)
{
    char err[256] = "";
    outbound_conf conf = {.max_host_connections = max_host, .max_response = max_response};
    outbound *ob = outbound_new(base, &conf, err, sizeof err);
    if (!ob)
        fprintf(stderr, "outbound_new: %s\n", err);
    return ob;
}

static outbound_req *start(outbound *ob, const char *method, int port, const char *path,
                           const char *body, const char *const *headers, long timeout_ms, answer *a)
{
    char url[512], err[256] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    outbound_request rq = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = body,
                           .body_len = body ? strlen(body) : 0,
                           .timeout_ms = timeout_ms};
    in_call = 1;
    outbound_req *r = outbound_http(ob, &rq, on_done, a, err, sizeof err);
    in_call = 0;
    if (!r)
        fprintf(stderr, "outbound_http %s: %s\n", url, err);
    return r;
}

/* One request, run to its end. */
static void one(outbound *ob, const char *method, int port, const char *path, const char *body,
                const char *const *headers, long timeout_ms, answer *a)
{
    CHECK(start(ob, method, port, path, body, headers, timeout_ms, a) != NULL);
    CHECK_INT(a->calls, 0);
    CHECK(run_until(&a->calls, 1, 5000));
    CHECK_INT(a->calls, 1);
    CHECK_INT(a->inside, 0);
}

static void reset_server_counts(void)
{
    memset(&seen, 0, sizeof seen);
    generation++;
    new_conns = max_open = 0;
}

/* ---- cases ------------------------------------------------------------------------- */

static void test_get(void)
{
    outbound *ob = client(0, 0);
    answer a = {0};
    const char *const headers[] = {"X-Test: one", NULL};
    reset_server_counts();
    one(ob, "GET", srv_port, "/echo", NULL, headers, 0, &a);
    CHECK_INT(a.result, OUTBOUND_OK);
    CHECK_INT(a.status, 200);
    CHECK_STR(a.body, "hello");
    CHECK_INT(a.body_len, 5);
    CHECK_STR(a.error, "");
    CHECK_STR(a.echo, "1");
    CHECK_INT(a.request_sent, 1);
    CHECK_STR(seen.method, "GET");
    CHECK_STR(seen.xtest, "one");
    CHECK(strncmp(seen.ua, "haechi/", 7) == 0);
    CHECK_INT(outbound_inflight(ob), 0);
    outbound_free(ob);
}

static void test_post_json(void)
{
    outbound *ob = client(0, 0);
    answer a = {0};
    const char *const headers[] = {"Content-Type: application/json", "X-Test: two", NULL};
    reset_server_counts();
    one(ob, "POST", srv_port, "/echo", "{\"message\":\"잠시멈춤\",\"n\":1}", headers, 0, &a);
    CHECK_INT(a.result, OUTBOUND_OK);
    CHECK_INT(a.status, 200);
    CHECK_STR(seen.method, "POST");
    CHECK_STR(seen.body, "{\"message\":\"잠시멈춤\",\"n\":1}");
    CHECK_STR(seen.ctype, "application/json");
    CHECK_STR(seen.xtest, "two");
    CHECK_STR(seen.expect, ""); /* no 100-continue round trip */
    CHECK(strncmp(seen.ua, "haechi/", 7) == 0);

    answer d = {0};
    one(ob, "DELETE", srv_port, "/echo", NULL, NULL, 0, &d);
    CHECK_INT(d.status, 200);
    CHECK_STR(seen.method, "DELETE");
    answer put = {0};
    one(ob, "PUT", srv_port, "/echo", NULL, NULL, 0, &put);
    CHECK_INT(put.status, 200);
    CHECK_STR(seen.method, "PUT");
    CHECK_STR(seen.clen, "0");
    outbound_free(ob);
}

static void test_statuses(void)
{
    outbound *ob = client(0, 0);
    static const int codes[] = {201, 429, 500};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        answer a = {0};
        char path[32];
        snprintf(path, sizeof path, "/status/%d", codes[i]);
        one(ob, "GET", srv_port, path, NULL, NULL, 0, &a);
        CHECK_INT(a.result, OUTBOUND_OK);
        CHECK_INT(a.status, codes[i]);
        CHECK_STR(a.body, "{\"status\":\"said\"}");
        CHECK_STR(a.retry_after, "7");
        CHECK_STR(a.mixed, "v1");
        CHECK_STR(a.dup, "b"); /* the last of two */
        CHECK_INT(a.delay_retry, 7000);
        CHECK_INT(a.delay_reset, -1);
    }
    outbound_free(ob);
}

static void test_too_big(void)
{
    outbound *ob = client(0, 1000);
    answer exact = {0}, over = {0}, chunked = {0}, chunked_exact = {0};
    one(ob, "GET", srv_port, "/big/1000", NULL, NULL, 0, &exact);
    CHECK_INT(exact.result, OUTBOUND_OK);
    CHECK_INT(exact.body_len, 1000);
    one(ob, "GET", srv_port, "/big/5000", NULL, NULL, 0, &over);
    CHECK_INT(over.result, OUTBOUND_TOOBIG);
    CHECK_INT(over.status, 0);
    CHECK_INT(over.body_len, 0);
    CHECK(strstr(over.error, "127.0.0.1") != NULL);
    CHECK(strstr(over.error, "over 1000 bytes") != NULL);
    /* Without a Content-Length the cap is met while the body comes in. */
    one(ob, "GET", srv_port, "/chunked/3000", NULL, NULL, 0, &chunked);
    CHECK_INT(chunked.result, OUTBOUND_TOOBIG);
    one(ob, "GET", srv_port, "/chunked/1000", NULL, NULL, 0, &chunked_exact);
    CHECK_INT(chunked_exact.result, OUTBOUND_OK);
    CHECK_INT(chunked_exact.body_len, 1000);
    outbound_free(ob);
}

static void test_timeout_after_send(void)
{
    outbound *ob = client(0, 0);
    answer get = {0}, post = {0};
    const char *const json[] = {"Content-Type: application/json", NULL};
    one(ob, "GET", srv_port, "/hang", NULL, NULL, 300, &get);
    CHECK_INT(get.result, OUTBOUND_TIMEOUT);
    CHECK_INT(get.request_sent, 1);
    CHECK_INT(get.status, 0);
    CHECK(strstr(get.error, "127.0.0.1: ") == get.error);
    one(ob, "POST", srv_port, "/hang", "{\"text\":\"posted\"}", json, 300, &post);
    CHECK_INT(post.result, OUTBOUND_TIMEOUT);
    CHECK_INT(post.request_sent, 1);
    outbound_free(ob);
}

static void test_connect_refused(void)
{
    outbound *ob = client(0, 0);
    answer a = {0};
    int port = closed_port();
    CHECK(port > 0);
    one(ob, "POST", port, "/x", "{}", NULL, 0, &a);
    CHECK_INT(a.result, OUTBOUND_CONNECT);
    CHECK_INT(a.request_sent, 0);
    CHECK(strstr(a.error, "127.0.0.1") != NULL);
    CHECK_STR(outbound_result_name(a.result), "connect");
    outbound_free(ob);
}

static void test_dropped_after_request(void)
{
    outbound *ob = client(0, 0);
    answer get = {0}, post = {0};
    raw_as = RAW_DROP;
    one(ob, "GET", raw_port, "/drop", NULL, NULL, 0, &get);
    CHECK_INT(get.result, OUTBOUND_DROPPED);
    CHECK_INT(get.request_sent, 1);
    one(ob, "POST", raw_port, "/drop", "{\"text\":\"maybe posted\"}", NULL, 0, &post);
    CHECK_INT(post.result, OUTBOUND_DROPPED);
    CHECK_INT(post.request_sent, 1);
    outbound_free(ob);
}

/*
 * A POST never rides a kept-alive connection: libcurl sends a request
 * again when the reused connection it picked is dead, and a service that
 * stored the first copy would post twice. The GET's connection stays open
 * and dies at its next request; the POST must not be that request.
 */
static void test_post_not_resent(void)
{
    outbound *ob = client(0, 0);
    answer get = {0}, post = {0}, again = {0};
    raw_as = RAW_KEEP_ONCE;
    reset_server_counts();
    raw_closed = 0;
    one(ob, "GET", raw_port, "/first", NULL, NULL, 0, &get);
    CHECK_INT(get.status, 200);
    one(ob, "POST", raw_port, "/post", "{\"text\":\"once\"}", NULL, 0, &post);
    CHECK_INT(post.result, OUTBOUND_OK);
    CHECK_INT(seen.requests, 2); /* 3 had libcurl sent it again */
    CHECK_INT(new_conns, 2);
    /* A GET may reuse the first connection and be sent again: it reads only. */
    one(ob, "GET", raw_port, "/first", NULL, NULL, 0, &again);
    CHECK_INT(again.status, 200);
    outbound_free(ob);
    CHECK(run_until(&raw_closed, new_conns, 5000)); /* the server sees every connection end */
}

static void test_last_answer_headers(void)
{
    outbound *ob = client(0, 0);
    answer a = {0};
    raw_as = RAW_CONTINUE;
    one(ob, "GET", raw_port, "/continue", NULL, NULL, 0, &a);
    CHECK_INT(a.result, OUTBOUND_OK);
    CHECK_INT(a.status, 200);
    CHECK_STR(a.body, "ok");
    CHECK_STR(a.final, "2");
    CHECK_STR(a.early, ""); /* the 100's headers are not the answer's */
    outbound_free(ob);
}

static void test_tls_refused(void)
{
    outbound *ob = client(0, 0);
    answer a = {0};
    char url[128], err[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/echo", srv_port);
    outbound_request rq = {.method = "GET", .url = url};
    in_call = 1;
    CHECK(outbound_http(ob, &rq, on_done, &a, err, sizeof err) != NULL);
    in_call = 0;
    CHECK(run_until(&a.calls, 1, 5000));
    CHECK_INT(a.result, OUTBOUND_TLS); /* a plain HTTP server met with a handshake */
    CHECK_INT(a.request_sent, 0);
    CHECK_INT(a.inside, 0);
    outbound_free(ob);
}

static void test_refused_at_start(void)
{
    outbound *ob = client(0, 0);
    answer a = {0};
    char err[256] = "";
    outbound_request ftp = {.method = "GET", .url = "ftp://127.0.0.1/file"};
    CHECK(outbound_http(ob, &ftp, on_done, &a, err, sizeof err) == NULL);
    CHECK(strstr(err, "not an http:// or https:// URL") != NULL);
    const char *const smuggled[] = {"X-A: 1\r\nX-B: 2", NULL};
    outbound_request bad = {.method = "GET", .url = "http://127.0.0.1:1/", .headers = smuggled};
    CHECK(outbound_http(ob, &bad, on_done, &a, err, sizeof err) == NULL);
    outbound_request lower = {.method = "get", .url = "http://127.0.0.1:1/"};
    CHECK(outbound_http(ob, &lower, on_done, &a, err, sizeof err) == NULL);
    run_until(NULL, 0, 50);
    CHECK_INT(a.calls, 0);
    CHECK_INT(outbound_inflight(ob), 0);
    outbound_free(ob);

    outbound_conf conf = {.ca_file = "/nonexistent/ca.pem"};
    CHECK(outbound_new(base, &conf, err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent/ca.pem") != NULL);
}

static void test_cancel(void)
{
    outbound *ob = client(0, 0);
    answer early = {0}, late = {0};
    reset_server_counts();
    /* Cancelled before the loop ran: nothing left the process. */
    outbound_req *r = start(ob, "GET", srv_port, "/hang", NULL, NULL, 0, &early);
    in_call = 1;
    outbound_cancel(r);
    in_call = 0;
    CHECK_INT(early.calls, 0);
    CHECK(run_until(&early.calls, 1, 2000));
    CHECK_INT(early.result, OUTBOUND_CANCELLED);
    CHECK_INT(early.request_sent, 0);
    CHECK_INT(early.inside, 0);

    /* Cancelled once the server has it. */
    r = start(ob, "GET", srv_port, "/hang", NULL, NULL, 0, &late);
    CHECK(run_until(&seen.requests, 1, 2000));
    in_call = 1;
    outbound_cancel(r);
    in_call = 0;
    CHECK_INT(late.calls, 0);
    CHECK(run_until(&late.calls, 1, 2000));
    CHECK_INT(late.result, OUTBOUND_CANCELLED);
    CHECK_INT(late.request_sent, 1);
    CHECK(strstr(late.error, "cancelled") != NULL);
    run_until(NULL, 0, 100); /* and never a second time */
    CHECK_INT(early.calls, 1);
    CHECK_INT(late.calls, 1);
    CHECK_INT(outbound_inflight(ob), 0);
    outbound_free(ob);
}

static void test_abandon(void)
{
    outbound *ob = client(0, 0);
    answer early = {0}, late = {0}, kept = {0};
    reset_server_counts();
    outbound_abandon(start(ob, "GET", srv_port, "/hang", NULL, NULL, 0, &early));
    outbound_req *r = start(ob, "GET", srv_port, "/hang", NULL, NULL, 0, &late);
    CHECK(start(ob, "GET", srv_port, "/echo", NULL, NULL, 0, &kept) != NULL);
    CHECK(run_until(&seen.requests, 2, 2000));
    outbound_abandon(r);
    CHECK(run_until(&kept.calls, 1, 2000));
    CHECK_INT(kept.result, OUTBOUND_OK);
    run_until(NULL, 0, 100);
    CHECK_INT(early.calls, 0);
    CHECK_INT(late.calls, 0);
    CHECK_INT(outbound_inflight(ob), 0);
    outbound_free(ob);
    CHECK_INT(early.calls + late.calls, 0);
}

static void test_free_in_flight(void)
{
    outbound *ob = client(0, 0);
    answer a[5] = {{0}};
    reset_server_counts();
    for (int i = 0; i < 5; i++)
        CHECK(start(ob, "GET", srv_port, "/hang", NULL, NULL, 0, &a[i]) != NULL);
    CHECK(run_until(&seen.requests, 5, 3000));
    CHECK_INT(outbound_inflight(ob), 5);
    outbound_free(ob);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(a[i].calls, 1);
        CHECK_INT(a[i].result, OUTBOUND_CANCELLED);
        CHECK_INT(a[i].request_sent, 1);
    }
    run_until(NULL, 0, 50);
    for (int i = 0; i < 5; i++)
        CHECK_INT(a[i].calls, 1);
}

/* A callback that frees the client while others are still due. */
static outbound *freed_from_callback;

static void free_in_callback(const outbound_response *r, void *arg)
{
    on_done(r, arg);
    outbound_free(freed_from_callback);
}

static void test_free_from_callback(void)
{
    outbound *ob = client(0, 0);
    answer first = {0}, rest[3] = {{0}};
    char url[128], err[256];
    freed_from_callback = ob;
    for (int i = 0; i < 3; i++)
        CHECK(start(ob, "GET", srv_port, "/hang", NULL, NULL, 0, &rest[i]) != NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", srv_port);
    outbound_request rq = {.method = "GET", .url = url};
    CHECK(outbound_http(ob, &rq, free_in_callback, &first, err, sizeof err) != NULL);
    CHECK(run_until(&first.calls, 1, 3000));
    CHECK_INT(first.result, OUTBOUND_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(rest[i].calls, 1);
        CHECK_INT(rest[i].result, OUTBOUND_CANCELLED);
    }
}

static void test_concurrency_cap(void)
{
    enum { N = 200 };
    outbound *ob = client(4, 0);
    static answer a[N];
    int before = answers_seen;
    memset(a, 0, sizeof a);
    reset_server_counts();
    for (int i = 0; i < N; i++)
        CHECK(start(ob, "GET", srv_port, "/ok", NULL, NULL, 0, &a[i]) != NULL);
    CHECK_INT(outbound_inflight(ob), N);
    CHECK(run_until(&answers_seen, before + N, 10000));
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += a[i].calls == 1 && a[i].result == OUTBOUND_OK && a[i].status == 200;
    CHECK_INT(ok, N);
    CHECK_INT(seen.requests, N);
    CHECK(new_conns >= 1);
    CHECK(new_conns <= 4);
    CHECK(max_open <= 4);
    fprintf(stderr, "200 requests over %d connections (%d at once)\n", new_conns, max_open);
    outbound_free(ob);
}

/* Each answer starts the next request, so that one connection can serve all. */
static struct {
    outbound *ob;
    int done, ok;
} chain;

static void chain_next(const outbound_response *r, void *arg)
{
    char url[128], err[256];
    (void)arg;
    chain.ok += r->result == OUTBOUND_OK && r->status == 200;
    if (++chain.done >= 20)
        return;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", srv_port);
    outbound_request rq = {.method = "GET", .url = url};
    if (!outbound_http(chain.ob, &rq, chain_next, NULL, err, sizeof err))
        chain.done = 20;
}

static void test_keep_alive(void)
{
    char url[128], err[256];
    chain.ob = client(0, 0);
    chain.done = chain.ok = 0;
    reset_server_counts();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", srv_port);
    outbound_request rq = {.method = "GET", .url = url};
    CHECK(outbound_http(chain.ob, &rq, chain_next, NULL, err, sizeof err) != NULL);
    CHECK(run_until(&chain.done, 20, 5000));
    CHECK_INT(chain.ok, 20);
    CHECK_INT(seen.requests, 20);
    CHECK(new_conns <= 2);
    fprintf(stderr, "20 requests in turn over %d connection(s)\n", new_conns);
    outbound_free(chain.ob);
}

static void test_delay_ms(void)
{
    outbound *ob = client(0, 0);
    answer secs = {.now_ms = 1000}, date = {.now_ms = 784111777000LL - 5000},
           past = {.now_ms = 784111777000LL + 60000}, reset = {.now_ms = 1799999990000LL},
           reset_past = {.now_ms = 1800000001000LL}, junk = {.now_ms = 1000}, none = {0};
    one(ob, "GET", srv_port, "/headers?Retry-After=120", NULL, NULL, 0, &secs);
    CHECK_INT(secs.delay_retry, 120000);
    one(ob, "GET", srv_port, "/headers?Retry-After=Sun,%2006%20Nov%201994%2008:49:37%20GMT", NULL,
        NULL, 0, &date);
    CHECK_INT(date.delay_retry, 5000);
    one(ob, "GET", srv_port, "/headers?Retry-After=Sun,%2006%20Nov%201994%2008:49:37%20GMT", NULL,
        NULL, 0, &past);
    CHECK_INT(past.delay_retry, 0);
    one(ob, "GET", srv_port, "/headers?x-rate-limit-reset=1800000000", NULL, NULL, 0, &reset);
    CHECK_INT(reset.delay_reset, 10000);
    CHECK_INT(reset.delay_retry, -1);
    one(ob, "GET", srv_port, "/headers?x-rate-limit-reset=1800000000", NULL, NULL, 0, &reset_past);
    CHECK_INT(reset_past.delay_reset, 0);
    one(ob, "GET", srv_port, "/headers?Retry-After=soon&x-rate-limit-reset=-5", NULL, NULL, 0,
        &junk);
    CHECK_INT(junk.delay_retry, -1);
    CHECK_INT(junk.delay_reset, -1);
    one(ob, "GET", srv_port, "/headers", NULL, NULL, 0, &none);
    CHECK_INT(none.delay_retry, -1);
    CHECK_INT(none.delay_reset, -1);
    outbound_response no_answer = {.result = OUTBOUND_TIMEOUT};
    CHECK_INT(outbound_delay_ms(&no_answer, NULL, 0), -1);
    CHECK(outbound_header(&no_answer, "Retry-After") == NULL);
    outbound_free(ob);
}

int main(void)
{
    base = event_base_new();
    start_server();
    start_raw();
    if (srv_port <= 0 || raw_port <= 0) {
        printf("not ok servers: could not listen on 127.0.0.1\n");
        return 1;
    }
    RUN(test_get);
    RUN(test_post_json);
    RUN(test_statuses);
    RUN(test_too_big);
    RUN(test_timeout_after_send);
    RUN(test_connect_refused);
    RUN(test_dropped_after_request);
    RUN(test_last_answer_headers);
    RUN(test_tls_refused);
    RUN(test_refused_at_start);
    RUN(test_cancel);
    RUN(test_abandon);
    RUN(test_free_in_flight);
    RUN(test_free_from_callback);
    RUN(test_concurrency_cap);
    RUN(test_keep_alive);
    RUN(test_post_not_resent);
    RUN(test_delay_ms);
    run_until(NULL, 0, 50); /* let the servers see the clients go */
    evconnlistener_free(raw);
    evhttp_free(srv);
    event_base_free(base);
    return check_exit_status();
}
