/*
 * fuzz_answers.c - what the SNS adapters read from outside services, on
 * any bytes: Graph's error object and usage headers, X's rate-limit
 * headers, answer classification and look-up comparison, and Kakao's
 * answers. The input is a status line's worth of bytes, then the body:
 * byte 0 picks the HTTP status, the rest is the body and, split at its
 * first NUL, a second text (a header value, a post seen on the account).
 * What holds for any answer: the classification is one of its kinds, the
 * strings it writes end inside their buffers, and waits are never negative.
 */
#include "fuzz.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "graph.h"
#include "kakao_rules.h"
#include "x_rules.h"

void kakaostory_classify(int http_status, const char *body, size_t len, const char *token_source,
                         long long retry_after_ms, adapter_outcome *o);

static const int statuses[] = {200, 201, 400, 401, 403, 404, 429, 500, 503};

static void must_end(const char *s, size_t size)
{
    if (!memchr(s, '\0', size))
        abort();
}

static void graph_answers(const char *body, size_t len, const char *second)
{
    graph_error e;
    graph_error_parse(body, len, &e);
    must_end(e.message, sizeof e.message);
    if (!graph_classify(NULL, &e) || !graph_classify(graph_instagram_rules, &e))
        abort();
    graph_usage u;
    graph_usage_parse(body, second, body, &u);
    if (u.max_percent < 0 || u.regain_minutes < -1)
        abort();
}

/* Every x-rate-limit header reads SECOND: whatever it says, no wait is negative. */
static const char *same_header(const void *ctx, const char *name)
{
    (void)name;
    return ctx;
}

static void x_answers(int status, const char *body, size_t len, const char *second)
{
    x_limits l;
    x_limits_read(&l, same_header, second);
    if (x_limits_wait_ms(&l, 1584835200000LL) < 0 || x_limits_hold_ms(&l, 1584835200000LL) < 0)
        abort();
    char msg[160];
    json_t *doc = json_loadb(body, len, 0, NULL);
    msg[0] = '\0';
    x_class c = x_classify(status, doc, msg, sizeof msg);
    must_end(msg, sizeof msg);
    if ((unsigned)c > X_OTHER)
        abort();
    json_decref(doc);
    int m = x_text_matches(body, second);
    if (m != 0 && m != 1)
        abort();
}

/* A dealer's answer to a request of KAKAO_N recipients: whatever it says,
 * the counts stay within the request and every reason ends. */
#define KAKAO_N 8
static void kakao_answers(int status, const char *body, size_t len)
{
    long long positions[KAKAO_N], accepted[KAKAO_N], failed[KAKAO_N];
    char masked[KAKAO_N][64];
    int retry[KAKAO_N];
    for (int i = 0; i < KAKAO_N; i++) {
        positions[i] = 1000 + i;
        snprintf(masked[i], sizeof masked[i], "+8210****%04d", i);
    }
    kakao_tally t = {.n = KAKAO_N,
                     .positions = positions,
                     .masked = (const char(*)[64])masked,
                     .accepted = accepted,
                     .failed = failed,
                     .retry_idx = retry};
    adapter_outcome o;
    memset(&o, 0, sizeof o);
    kakao_answer_read(status, body, len, 3000, NULL, "secret_env HAECHI_FUZZ", &t, &o);
    must_end(o.reason, sizeof o.reason);
    if (t.na < 0 || t.nf < 0 || t.nretry < 0 || t.na + t.nf + t.nretry > KAKAO_N ||
        o.nreasons > ADAPTER_REASONS_MAX || (unsigned)o.status > ADAPTER_CANCELLED)
        abort();
    for (int i = 0; i < o.nreasons; i++)
        must_end(o.reasons[i].code, sizeof o.reasons[i].code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int status = statuses[data[0] % (sizeof statuses / sizeof statuses[0])];
    /* NUL-terminated copies: the adapters get answers as outbound gives them. */
    char *body = malloc(size);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    size_t len = strlen(body);
    const char *second = len < size - 1 ? body + len + 1 : "";
    graph_answers(body, len, second);
    x_answers(status, body, len, second);
    adapter_outcome o;
    memset(&o, 0, sizeof o);
    kakaostory_classify(status, body, len, "token_env HAECHI_FUZZ", 60000, &o);
    kakao_answers(status, body, len);
    must_end(o.reason, sizeof o.reason);
    if ((unsigned)o.status > ADAPTER_CANCELLED)
        abort();
    free(body);
    return 0;
}
