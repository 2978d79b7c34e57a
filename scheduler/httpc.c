/*
 * httpc.c - blocking libcurl requests for the CLI verbs.
 */
#include "httpc.h"

#include <curl/curl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (64u * 1024 * 1024)
#define TIMEOUT_S 60L

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    httpc_answer *a = arg;
    size_t add = size * n;
    if (a->len + add > ANSWER_MAX)
        return 0; /* makes curl fail with a write error */
    char *nb = realloc(a->body, a->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + a->len, data, add);
    a->body = nb;
    a->len += add;
    a->body[a->len] = '\0';
    return add;
}

static int attempt(const char *method, const char *url, const char *token, const char *idem,
                   const char *body, size_t len, httpc_answer *out)
{
    struct curl_slist *headers = NULL;
    char auth[600], key[96];
    int rc = -1;

    memset(out, 0, sizeof *out);
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(out->error, sizeof out->error, "cannot start libcurl");
        return -1;
    }
    headers = curl_slist_append(headers, "Accept: application/json");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
    }
    if (idem) {
        snprintf(key, sizeof key, "Idempotency-Key: %s", idem);
        headers = curl_slist_append(headers, key);
    }
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        /* Large bodies: no "100-continue" round trip. */
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "haechi-cli");

    CURLcode res = curl_easy_perform(curl);
    if (res != CURLE_OK) {
        snprintf(out->error, sizeof out->error, "%s: %s", url, curl_easy_strerror(res));
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
        rc = 0;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

/* A fresh key per CLI call: 128 random bits in hex. */
static int new_key(char *buf, size_t len)
{
    unsigned char raw[16];
    if (len < 2 * sizeof raw + 1 || RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

int httpc_request(const char *method, const char *url, const char *token, const char *body,
                  size_t len, httpc_answer *out)
{
    char key[40];
    int mutating = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
    if (!mutating || new_key(key, sizeof key) != 0)
        return attempt(method, url, token, NULL, body, len, out);
    int rc = attempt(method, url, token, key, body, len, out);
    /* A 503 or a lost answer may hide a call that was carried out: the
     * retry carries the same key, so the server answers its first outcome
     * instead of running it twice. */
    if (rc == 0 && out->status != 503)
        return rc;
    httpc_answer_release(out);
    return attempt(method, url, token, key, body, len, out);
}

void httpc_answer_release(httpc_answer *a)
{
    free(a->body);
    memset(a, 0, sizeof *a);
}
