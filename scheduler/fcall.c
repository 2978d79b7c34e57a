/*
 * fcall.c - FCALL with one load of the library and one retry (fcall.h).
 */
#include "fcall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct call {
    rconn *r;
    const fcall_library *lib;
    rconn_fn *fn;
    void *arg;
    int argc;
    char **argv; /* a private copy, for the second try */
    size_t *lens;
    int retried;
} call;

static void call_free(call *c)
{
    for (int i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    free(c->lens);
    free(c);
}

static void answered(redisReply *reply, const char *error, void *arg);

static int send_call(call *c)
{
    return rconn_command(c->r, answered, c, c->argc, (const char **)c->argv, c->lens);
}

static void loaded_then_retry(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        log_error("%s: cannot load the function library: %s", c->lib->what,
                  reply ? reply->str : error);
        c->fn(reply, error ? error : "the function library could not be loaded", c->arg);
        call_free(c);
        return;
    }
    if (send_call(c) != 0) {
        c->fn(NULL, "connection to redis lost", c->arg);
        call_free(c);
    }
}

static void answered(redisReply *reply, const char *error, void *arg)
{
    call *c = arg;
    if (reply && reply->type == REDIS_REPLY_ERROR && !c->retried &&
        strstr(reply->str, "Function not found")) {
        c->retried = 1;
        if (fcall_load(c->r, c->lib, loaded_then_retry, c) == 0)
            return;
    }
    c->fn(reply, error, c->arg);
    call_free(c);
}

static void load_logged(redisReply *reply, const char *error, void *arg)
{
    const fcall_library *lib = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        log_error("%s: FUNCTION LOAD failed: %s", lib->what, reply ? reply->str : error);
}

int fcall_load(rconn *r, const fcall_library *lib, rconn_fn *fn, void *arg)
{
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", lib->source};
    return rconn_command(r, fn ? fn : load_logged, fn ? arg : (void *)lib, 4, argv, NULL);
}

int fcall_call(rconn *r, const fcall_library *lib, const char *name, int nkeys, int argc,
               const char *const *argv, const size_t *lens, rconn_fn *fn, void *arg)
{
    if (!rconn_ready(r))
        return RCONN_DOWN;
    call *c = calloc(1, sizeof *c);
    if (!c)
        return RCONN_DOWN;
    c->r = r;
    c->lib = lib;
    c->fn = fn;
    c->arg = arg;
    c->argc = argc + 3;
    c->argv = calloc((size_t)c->argc, sizeof *c->argv);
    c->lens = calloc((size_t)c->argc, sizeof *c->lens);
    if (!c->argv || !c->lens) {
        c->argc = 0;
        call_free(c);
        return RCONN_DOWN;
    }
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    const char *head[] = {"FCALL", name, nk};
    for (int i = 0; i < c->argc; i++) {
        const char *src = i < 3 ? head[i] : argv[i - 3];
        size_t len = i < 3 ? strlen(src) : (lens ? lens[i - 3] : strlen(src));
        if (!(c->argv[i] = malloc(len + 1))) {
            c->argc = i;
            call_free(c);
            return RCONN_DOWN;
        }
        memcpy(c->argv[i], src, len);
        c->argv[i][len] = '\0';
        c->lens[i] = len;
    }
    int rc = send_call(c);
    if (rc != 0)
        call_free(c);
    return rc;
}
