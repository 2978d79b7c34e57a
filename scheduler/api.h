/*
 * api.h - the HTTP API (docs/api.md) on libevent's evhttp: JSON in and out,
 * bearer tokens with roles, an audit entry for every mutating call.
 */
#ifndef HAECHI_API_H
#define HAECHI_API_H

#include <event2/event.h>

#include "config.h"
#include "engine.h"
#include "rconn.h"
#include "store.h"

typedef struct api api;

/* CFG, REDIS, STORE and ENGINE are borrowed and must outlive the api. */
api *api_new(struct event_base *base, const config *cfg, rconn *redis, store *st, engine *e);

/* Binds HOST:PORT (port 0 picks one); *bound gets the port. 0 or -1. */
int api_listen(api *a, const char *host, int port, int *bound);

void api_free(api *a);

#endif
