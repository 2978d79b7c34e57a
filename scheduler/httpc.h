/*
 * httpc.h - the CLI's HTTP client (libcurl, blocking: one call per verb).
 */
#ifndef HAECHI_HTTPC_H
#define HAECHI_HTTPC_H

#include <stddef.h>

typedef struct httpc_answer {
    long status; /* 0 when no answer came */
    char *body;  /* NUL-terminated, may be NULL */
    size_t len;
    char error[256]; /* why there was no answer */
} httpc_answer;

/* Sends METHOD URL with a bearer TOKEN (may be NULL) and an optional JSON
 * body. Returns 0 when an answer came (any status), -1 otherwise. A
 * mutating METHOD carries a fresh Idempotency-Key and is sent once more,
 * with the same key, after a 503 or no answer. */
int httpc_request(const char *method, const char *url, const char *token, const char *body,
                  size_t len, httpc_answer *out);

void httpc_answer_release(httpc_answer *a);

#endif
