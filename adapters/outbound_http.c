/*
 * outbound_http.c - the HTTP front of the outbound client: turns an
 * outbound_request into a libcurl easy handle and hands it to the core.
 * Everything HTTP-specific (method, headers, body, User-Agent) is here;
 * timeouts, caps, TLS and completion are the core's (outbound.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "outbound_internal.h"
#include "version.h"

#define USER_AGENT "haechi/" HAECHI_VERSION

/* Methods go on the request line as they are: letters only. */
static int good_method(const char *m)
{
    if (!m || !*m || strlen(m) > 16)
        return 0;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return 0;
    return 1;
}

/* A header line with CR or LF would smuggle a header (or a request) in. */
static int good_header(const char *h)
{
    const char *colon = strchr(h, ':');
    return colon && colon != h && !strpbrk(h, "\r\n");
}

static int good_url(const char *url)
{
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

static int check_request(const outbound_request *rq, char *err, size_t errlen)
{
    if (!good_url(rq->url)) {
        snprintf(err, errlen, "\"%.200s\" is not an http:// or https:// URL",
                 rq->url ? rq->url : "");
        return -1;
    }
    if (!good_method(rq->method)) {
        snprintf(err, errlen, "\"%.32s\" is not an HTTP method", rq->method ? rq->method : "");
        return -1;
    }
    if (!rq->body && rq->body_len) {
        snprintf(err, errlen, "a body length without a body");
        return -1;
    }
    for (const char *const *h = rq->headers; h && *h; h++) {
        if (!good_header(*h)) {
            snprintf(err, errlen, "header \"%.64s\" is not one \"Name: value\" line", *h);
            return -1;
        }
    }
    return 0;
}

/* The caller's lines, and an empty Expect: a body never waits for a
 * 100 Continue, which would cost a round trip (or a second, with servers
 * that never send it). */
static struct curl_slist *header_list(const outbound_request *rq, int *bad)
{
    struct curl_slist *list = NULL, *next;
    for (const char *const *h = rq->headers; h && *h; h++) {
        if (!(next = curl_slist_append(list, *h)))
            goto fail;
        list = next;
    }
    if (!(next = curl_slist_append(list, "Expect:")))
        goto fail;
    return next;
fail:
    curl_slist_free_all(list);
    *bad = 1;
    return NULL;
}

/* POST, PUT and PATCH say "Content-Length: 0" when they carry nothing:
 * some servers refuse them (411) without it. */
static int takes_body(const char *m)
{
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "DELETE") != 0;
}

/* GET, HEAD, PUT and DELETE may be sent twice to the same effect (RFC 9110 9.2.2). */
static int idempotent(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "PUT") == 0 ||
           strcmp(m, "DELETE") == 0;
}

static int set_method(CURL *e, const outbound_request *rq)
{
    int bad = 0;
    if (rq->body || takes_body(rq->method)) {
        /* The size first, so that COPYPOSTFIELDS copies exactly that many bytes. */
        bad |=
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, rq->body ? rq->body : "") != CURLE_OK;
        if (strcmp(rq->method, "POST") != 0)
            bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method) != CURLE_OK;
    } else if (strcmp(rq->method, "GET") == 0) {
        bad |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK;
    } else if (strcmp(rq->method, "HEAD") == 0) {
        bad |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) != CURLE_OK;
    } else {
        bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method) != CURLE_OK;
    }
    if (!idempotent(rq->method)) {
        /*
         * libcurl sends a request again, unasked, when the kept-alive
         * connection it picked turns out dead before any answer came: for
         * a post whose first copy the service did store (and then lost the
         * answer to), that is a second post. On a connection of its own,
         * never reused after, a request goes out once; the adapter then
         * decides, knowing the outcome is unknown (post.h).
         */
        bad |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
    }
    return bad ? -1 : 0;
}

outbound_req *outbound_http(outbound *ob, const outbound_request *rq, outbound_done_fn *done,
                            void *arg, char *err, size_t errlen)
{
    if (!outbound_open(ob)) {
        snprintf(err, errlen, "the outbound client is closing");
        return NULL;
    }
    if (!rq || check_request(rq, err, errlen) != 0)
        return NULL;
    int bad = 0;
    CURL *e = curl_easy_init();
    struct curl_slist *headers = header_list(rq, &bad);
    if (!e || bad) {
        curl_easy_cleanup(e);
        curl_slist_free_all(headers);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bad |= curl_easy_setopt(e, CURLOPT_URL, rq->url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers) != CURLE_OK;
    bad |= set_method(e, rq) != 0;
    if (bad) {
        curl_easy_cleanup(e);
        curl_slist_free_all(headers);
        snprintf(err, errlen, "libcurl refused the request \"%.200s\"", rq->url);
        return NULL;
    }
    outbound_transfer t = {
        .easy = e,
        .keep = headers,
        .url = rq->url,
        .protocols = "http,https",
        .timeout_ms = rq->timeout_ms,
        .upload_len = rq->body ? (long long)rq->body_len : 0,
    };
    return outbound_start(ob, &t, done, arg, err, errlen);
}
