/*
 * kakao_audience_stub.c - TEMPORARY: stand-ins for the audience store's
 * functions (scheduler/audience.h) until the store's branch lands, so that
 * the kakao adapter links. Delete this file when the store's audience.c
 * is merged: it defines the same three functions.
 */
#include "audience.h"

int audience_get_info(rconn *r, const char *prefix, const char *list, audience_info_fn *fn,
                      void *arg)
{
    (void)r;
    (void)prefix;
    (void)list;
    (void)fn;
    (void)arg;
    return RCONN_DOWN;
}

int audience_read_batch(rconn *r, const char *prefix, const char *list, long long version,
                        long long first, long long count, const char *release,
                        audience_batch_fn *fn, void *arg)
{
    (void)r;
    (void)prefix;
    (void)list;
    (void)version;
    (void)first;
    (void)count;
    (void)release;
    (void)fn;
    (void)arg;
    return RCONN_DOWN;
}

int audience_mark(rconn *r, const char *prefix, const char *list, const char *release,
                  const long long *accepted, int na, const long long *failed, int nf,
                  long long ttl_s, audience_done_fn *fn, void *arg)
{
    (void)r;
    (void)prefix;
    (void)list;
    (void)release;
    (void)accepted;
    (void)na;
    (void)failed;
    (void)nf;
    (void)ttl_s;
    (void)fn;
    (void)arg;
    return RCONN_DOWN;
}
