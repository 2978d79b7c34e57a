/*
 * node.h - one haechi process: its Redis connections, the store, the
 * engine, and the roles it runs (api, scheduler, worker). `serve` runs a
 * node until a signal; `rehearse` runs one on a virtual clock.
 */
#ifndef HAECHI_NODE_H
#define HAECHI_NODE_H

#include <event2/event.h>
#include <stddef.h>

#include "api.h"
#include "config.h"
#include "engine.h"
#include "rconn.h"
#include "reconcile.h"
#include "scheduler.h"
#include "store.h"
#include "worker.h"

enum {
    ROLE_API = 1u << 0,
    ROLE_SCHEDULER = 1u << 1,
    ROLE_WORKER = 1u << 2,
    ROLE_ALL = ROLE_API | ROLE_SCHEDULER | ROLE_WORKER,
};

typedef struct node {
    struct event_base *base;
    const config *cfg;
    unsigned roles;
    rconn *redis; /* commands */
    rconn *sub;   /* PREFIX:{e}:events: wake-ups, and the virtual clock */
    rconn *queue; /* the worker's blocking reads */
    store *st;
    engine *e;
    sched *sched;
    reconciler *reconcile;
    worker *worker;
    api *api;
} node;

/* "api,scheduler,worker" (any subset, any order) into role bits. */
int node_parse_roles(const char *text, unsigned *roles, char *err, size_t errlen);

/* Sets up the roles; on failure returns -1 with a reason and nothing left
 * to free. Connections are made in the background: Redis may be down. */
int node_start(node *n, struct event_base *base, const config *cfg, unsigned roles, char *err,
               size_t errlen);

/* Stops taking work and calls DONE(ARG) once what is in flight has ended
 * (worker_drain, with engine.drain_timeout_ms); at once without a worker. */
void node_drain(node *n, void (*done)(void *arg), void *arg);

/* Frees everything, in the order that lets callbacks in flight end. */
void node_stop(node *n);

#endif
