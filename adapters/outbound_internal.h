/*
 * outbound_internal.h - how a protocol front (outbound_http.c, later the
 * newsletter's SMTP front) hands a transfer to the core in outbound.c.
 *
 * Not for adapters: they call a front (outbound_http()).
 */
#ifndef HAECHI_OUTBOUND_INTERNAL_H
#define HAECHI_OUTBOUND_INTERNAL_H

#include <curl/curl.h>

#include "outbound.h"

typedef struct outbound_transfer {
    /* Set up by the front with what its protocol needs: URL, method, body,
     * protocol headers. */
    CURL *easy;
    struct curl_slist *keep; /* a list EASY reads during the transfer; may be NULL */
    const char *url;         /* for messages: its host names the service */
    const char *protocols;   /* what EASY may speak: "http,https", "smtp,smtps" */
    long timeout_ms;         /* 0: the client's */
    /* Bytes the front uploads after its request head (a body, a message):
     * the request counts as sent once all of them went out. */
    long long upload_len;
} outbound_transfer;

/*
 * Starts T. The core sets its own options after the front's, so that a
 * front cannot loosen them: the body and header sinks, the size cap, the
 * timeouts, TLS verification, the protocols, no signals, no redirects.
 * T->easy and T->keep are the core's from this call on, whatever it
 * returns. Returns the request, or NULL with a reason in ERR (DONE is then
 * never called).
 */
outbound_req *outbound_start(outbound *ob, const outbound_transfer *t, outbound_done_fn *done,
                             void *arg, char *err, size_t errlen);

/* Whether OB still takes requests (not being freed). */
int outbound_open(const outbound *ob);

#endif
