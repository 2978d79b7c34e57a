/*
 * httpc.c - blocking libcurl requests for the CLI verbs.
 */
#include "httpc.h"

#include <curl/curl.h>
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

int httpc_request(const char *method, const char *url, const char *token, const char *body,
                  size_t len, httpc_answer *out)
{
    struct curl_slist *headers = NULL;
    char auth[600];
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

void httpc_answer_release(httpc_answer *a)
{
    free(a->body);
    memset(a, 0, sizeof *a);
}
