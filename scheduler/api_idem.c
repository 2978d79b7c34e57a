/*
 * api_idem.c - Idempotency-Key on mutating calls: the first outcome of a
 * key (status and body) is kept for a day in PREFIX:idem:HASH, the hash
 * scoping the key by token name, method and path; a retry with the same
 * key gets that outcome again instead of running the call twice.
 *
 * A call that answered 503 (Redis unavailable or late) may still be carried
 * out when Redis answers; its key then stays "pending" until the late
 * answer records the real outcome, or for PENDING_TTL_S when none comes.
 */
#include "api_call.h"

#include <event2/http.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define KEY_MAX 128
#define PENDING_TTL_S "60"
#define OUTCOME_TTL_S "86400"

static int key_is_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > KEY_MAX)
        return 0;
    for (const char *p = k; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return 0;
    return 1;
}

/* PREFIX:idem:<sha256 of token name, method, path and key>. */
static int scoped_key(call *c, const char *key, char *out, size_t len)
{
    unsigned char digest[32];
    unsigned int dlen = sizeof digest;
    char scope[1024], hex[65];
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(c->req));
    int n = snprintf(scope, sizeof scope, "%s\n%d\n%s\n%s", c->who->name,
                     (int)evhttp_request_get_command(c->req), path ? path : "/", key);
    if (n < 0 || (size_t)n >= sizeof scope ||
        !EVP_Digest(scope, (size_t)n, digest, &dlen, EVP_sha256(), NULL))
        return -1;
    for (size_t i = 0; i < sizeof digest; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    snprintf(out, len, "%s:idem:%s", c->api->cfg->redis_prefix, hex);
    return 0;
}

static void replay(call *c, const char *stored)
{
    char *end;
    long code = strtol(stored, &end, 10);
    json_t *body = *end == ' ' ? json_loads(end + 1, 0, NULL) : NULL;
    if (code < 100 || code > 599 || !body) {
        json_decref(body);
        api_send_error(c, 500, "internal",
                       "the stored outcome of this Idempotency-Key is unreadable");
        return;
    }
    c->idem = IDEM_REPLAYED;
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "Idempotent-Replayed", "true");
    api_send_json(c, (int)code, body);
}

static void reserved(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!c->req) {
        /* The client left before anything ran: nothing to keep. */
    } else if (api_check_engine_or_reply(c, reply, error)) {
    } else if (reply->type == REDIS_REPLY_NIL) {
        c->idem = IDEM_RESERVED;
        api_run_handler(c);
    } else if (reply->type == REDIS_REPLY_STRING && strcmp(reply->str, "pending") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
        api_send_error(c, 503, "outcome-pending",
                       "a call with this Idempotency-Key is still in progress; retry shortly");
    } else if (reply->type == REDIS_REPLY_STRING) {
        replay(c, reply->str);
    } else {
        api_send_error(c, 500, "internal", "Redis answered SET with an unexpected type");
    }
    api_call_unref(c);
}

int api_idem_begin_or_reply(call *c)
{
    const char *key =
        evhttp_find_header(evhttp_request_get_input_headers(c->req), "Idempotency-Key");
    if (!key || !c->route->action || !c->who)
        return 0;
    if (!key_is_valid(key) || scoped_key(c, key, c->idem_key, sizeof c->idem_key) != 0) {
        api_send_error(c, 400, "bad-request",
                       "Idempotency-Key must be 1-%d visible ASCII characters", KEY_MAX);
        return 1;
    }
    const char *argv[] = {"SET", c->idem_key, "pending", "NX", "GET", "EX", PENDING_TTL_S};
    if (rconn_command(c->api->redis, reserved, c, 7, argv, NULL) != 0)
        api_send_unavailable(c, NULL);
    else
        c->refs++;
    return 1;
}

static void recorded(redisReply *reply, const char *error, void *arg)
{
    (void)arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_warn("api: an Idempotency-Key outcome was not kept: %s", reply ? reply->str : error);
}

void api_idem_record(call *c, int code, const char *text)
{
    if (c->idem != IDEM_RESERVED || !text)
        return;
    if (code == 503 && strstr(text, "\"error\": \"redis-busy\"")) {
        /* Nothing was sent: the key is free for the retry at once. */
        const char *del[] = {"DEL", c->idem_key};
        rconn_command(c->api->redis, recorded, NULL, 2, del, NULL);
        c->idem = IDEM_DONE;
        return;
    }
    if (code == 503)
        return;
    size_t len = strlen(text) + 16;
    char *value = malloc(len);
    if (!value)
        return;
    snprintf(value, len, "%d %s", code, text);
    const char *argv[] = {"SET", c->idem_key, value, "XX", "EX", OUTCOME_TTL_S};
    rconn_command(c->api->redis, recorded, NULL, 6, argv, NULL);
    c->idem = IDEM_DONE;
    free(value);
}
